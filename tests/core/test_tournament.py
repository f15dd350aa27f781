"""The estimator tournament: drifting betas, no look-ahead, hourly closes, real prices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from betaneutral.core.backtest import backtest_hedge, trailing_betas
from betaneutral.core.contracts import get_contract
from betaneutral.core.estimators import diebold_mariano
from betaneutral.core.intraday import daily_closes, intraday_prices
from betaneutral.core.tournament import TOURNAMENT_COLUMNS, estimator_tournament

SPEC = "BINANCE:BTCUSDT"
DECISIONS = ["hedge_contracts", "rebalanced", "trade_contracts", "check", "breach",
             "beta_before", "portfolio_beta_est"]


def _drifting_book(seed: int = 0, t_len: int = 1100, n: int = 4):
    """Coins whose true beta to BTC follows a known path: 1.2 + 0.8 sin(2 pi t / 365 + j)."""
    rng = np.random.default_rng(seed)
    t = np.arange(t_len - 1)
    rb = rng.normal(0.0, 0.035, t_len - 1)
    true_beta = 1.2 + 0.8 * np.sin(2 * np.pi * t[:, None] / 365.0 + np.arange(n))
    ra = rb[:, None] * true_beta + rng.normal(0.0, 0.02, (t_len - 1, n))
    dates = pd.date_range("2021-01-01", periods=t_len, freq="D")
    prices = pd.DataFrame(5.0 * np.vstack([np.ones(n), np.cumprod(1.0 + ra, axis=0)]),
                          index=dates, columns=[f"C{j}" for j in range(n)])
    btc = 30_000.0 * np.cumprod(np.r_[1.0, 1.0 + rb])
    return prices, btc, np.full(n, 1_000.0), true_beta, ra, rb


def test_decayed_estimators_track_a_drifting_beta_better_than_180_day_ols():
    """On a known drifting path, EWLS and decayed Welch (half-life 30 days, 180-day window)
    miss the true beta by less than 180-day OLS does, and the tournament ranks them so."""
    prices, btc, qty, true_beta, ra, rb = _drifting_book()
    x = np.r_[np.nan, rb]
    y = np.vstack([np.full(ra.shape[1], np.nan), ra])
    truth = np.vstack([np.full(ra.shape[1], np.nan), true_beta])
    rmse = {}
    for method in ("ols", "ewls", "welch-decay"):
        est = trailing_betas(y, x, window=180, min_obs=60, method=method, half_life=30.0)
        err = (est - truth)[200:]
        rmse[method] = float(np.sqrt(np.nanmean(err**2)))
    assert rmse["ewls"] < 0.8 * rmse["ols"]
    assert rmse["welch-decay"] < 0.8 * rmse["ols"]

    tour = estimator_tournament(prices, btc, qty, get_contract(SPEC),
                                estimators=["ols", "ewls", "welch-decay"], windows=[180],
                                default=("ols", 180), half_life=30.0)
    ranks = dict(zip(tour.table["candidate"], tour.table["rank"], strict=True))
    assert ranks["ewls 180d"] < ranks["ols 180d"]
    assert ranks["welch-decay 180d"] < ranks["ols 180d"]
    assert tour.best != tour.default
    assert tour.test is not None
    assert tour.test.p_value < 0.05
    assert tour.recommendation.startswith(f"Use {tour.best}")


def test_tournament_table_and_the_test_it_reports():
    """Columns as documented; each row's figures are recomputable from its own replay, and
    the p-value is the Diebold-Mariano test of the best against the default."""
    prices, btc, qty, *_ = _drifting_book(1, t_len=500)
    tour = estimator_tournament(prices, btc, qty, get_contract(SPEC),
                                estimators=["ols", "ewls", "welch", "vasicek"],
                                windows=[30, 90], half_life=40.0, fee_bps=5.0)
    assert tuple(tour.table.columns) == TOURNAMENT_COLUMNS
    assert len(tour.table) == 8
    assert tour.table["rank"].tolist() == list(range(1, 9))
    assert tour.table["default"].sum() == 1
    assert tour.default == "ols 90d"
    # the same days for everyone: returns after the latest first check
    first = max(r.summary.start for r in tour.results.values())
    assert tour.start == first
    assert tour.days == (prices.index[-1] - first).days

    def hedged(label):
        d = tour.results[label].daily.set_index("date")
        v = d["spot_value_usd"].shift(1)
        return (d["hedged_pnl_usd"] / v).loc[tour.start:].iloc[1:].to_numpy(), \
            (d["unhedged_pnl_usd"] / v).loc[tour.start:].iloc[1:].to_numpy()

    for row in tour.table.to_dict("records"):
        r_h, r_u = hedged(row["candidate"])
        assert row["variance_ratio"] == pytest.approx(np.var(r_h, ddof=1) / np.var(r_u, ddof=1),
                                                      rel=1e-12)
        assert row["mean_squared_return"] == pytest.approx(np.mean(r_h**2), rel=1e-12)
    best, default = hedged(tour.best)[0], hedged(tour.default)[0]
    ref = diebold_mariano(best**2, default**2)
    assert tour.test is not None
    assert tour.test.p_value == pytest.approx(ref.p_value, rel=1e-12)
    # the candidate's replay is the single backtest with that estimator and window
    single = backtest_hedge(prices, btc, qty, get_contract(SPEC), method="ewls", window=30,
                            min_obs=30, half_life=40.0)
    pd.testing.assert_frame_equal(single.daily, tour.results["ewls 30d"].daily)


def test_tournament_keeps_the_default_when_it_wins_and_notes_failed_candidates():
    prices, btc, qty, *_ = _drifting_book(2, t_len=400, n=2)
    tour = estimator_tournament(prices, btc, qty, get_contract(SPEC),
                                estimators=["ols", "vasicek"], windows=[60],
                                default=("ols", 60))
    row = tour.table.set_index("candidate").loc["vasicek 60d"]
    assert "at least 3 assets" in row["note"]
    assert pd.isna(row["rank"])
    assert tour.best == tour.default == "ols 60d"
    assert tour.test is None
    assert tour.recommendation.startswith("Keep ols 60d")


def test_tournament_has_no_look_ahead():
    """Truncating the history after day t changes no decision of any candidate up to t."""
    prices, btc, qty, *_ = _drifting_book(3, t_len=420)
    kw = dict(estimators=["ols", "ewls", "welch", "welch-decay", "vasicek"], windows=[30, 90],
              half_life=30.0)
    full = estimator_tournament(prices, btc, qty, get_contract(SPEC), **kw)
    cut = 250
    short = estimator_tournament(prices.iloc[:cut + 1], btc[:cut + 1], qty, get_contract(SPEC),
                                 **kw)
    for label, res in full.results.items():
        pd.testing.assert_frame_equal(res.daily.loc[:cut, DECISIONS],
                                      short.results[label].daily[DECISIONS])


# ----------------------------------------------------------------- hourly closes


def _hourly_book(seed: int = 4, days: int = 120, n: int = 3):
    rng = np.random.default_rng(seed)
    hours = days * 24
    rb = rng.normal(0.0, 0.007, hours - 1)
    ra = rb[:, None] * [0.7, 1.3, 1.9] + rng.normal(0.0, 0.004, (hours - 1, n))
    times = pd.date_range("2024-01-01 00:00", periods=hours, freq="h")
    assets = pd.DataFrame(10.0 * np.vstack([np.ones(n), np.cumprod(1 + ra, axis=0)]),
                          index=times, columns=["A", "B", "C"])
    btc = pd.Series(40_000.0 * np.cumprod(np.r_[1.0, 1.0 + rb]), index=times)
    return assets, btc


def test_hourly_closes_value_the_book_daily_and_feed_the_betas():
    """The book is valued at each UTC day's last hourly close; the beta at that close is the
    realised beta of the hourly returns up to it, never a later one."""
    assets, btc = _hourly_book()
    daily = daily_closes(assets.assign(BTC=btc))
    assert len(daily) == 120
    assert (daily.index == daily.index.normalize()).all()
    assert daily["A"].iloc[0] == assets["A"].iloc[23]
    intraday = intraday_prices(assets, btc)
    assert intraday.per_day == 24
    res = backtest_hedge(daily[["A", "B", "C"]], daily["BTC"].to_numpy(), [100.0] * 3,
                         get_contract(SPEC), method="realised", window=30, min_obs=20,
                         intraday=intraday, band=0.0)
    # day 40's beta: sum of hourly cross-products over the 720 hours ending at its 23:00 close
    t = 40
    end = (t + 1) * 24  # hourly rows 0..end-1 are on or before day t
    rb = btc.pct_change().to_numpy()[end - 720:end]
    ra = assets.pct_change().to_numpy()[end - 720:end]
    beta = (ra * rb[:, None]).sum(axis=0) / (rb * rb).sum()
    v = daily[["A", "B", "C"]].iloc[t].to_numpy() * 100.0
    row = res.daily.iloc[t]
    assert row["dollar_beta_usd"] == pytest.approx(float(v @ beta), rel=1e-10)
    # and later hours change nothing up to day t
    shocked = assets.copy()
    shocked.iloc[end:] *= 1.5
    other = backtest_hedge(daily_closes(shocked), daily["BTC"].to_numpy(), [100.0] * 3,
                           get_contract(SPEC), method="realised", window=30, min_obs=20,
                           intraday=intraday_prices(shocked, btc), band=0.0)
    pd.testing.assert_frame_equal(res.daily.loc[:t, DECISIONS], other.daily.loc[:t, DECISIONS])


# ----------------------------------------------------------------- real prices

REAL_COINS = ["ETH", "XRP", "LTC", "BNB", "LINK"]


def test_real_five_coin_tournament(coinmetrics_prices):
    """Five coins, 2018-07 to 2020-07 (the README's table): every candidate runs, the hedged
    variance falls for all of them, and the test's p-value is a probability."""
    p = coinmetrics_prices.loc["2018-07-01":"2020-07-31", ["BTC", *REAL_COINS]]
    qty = 100_000.0 / p[REAL_COINS].iloc[0].to_numpy()
    tour = estimator_tournament(p[REAL_COINS], p["BTC"].to_numpy(), qty, get_contract(SPEC),
                                estimators=["ols", "ewls", "welch", "welch-decay", "vasicek"],
                                windows=[30, 90, 180])
    table = tour.table
    assert len(table) == 15
    assert (table["note"] == "").all()
    assert (table["variance_ratio"] < 0.75).all()
    assert (table["realised_beta_hedged"].abs() < 0.2).all()
    assert tour.default == "ols 90d"
    if tour.test is not None:
        assert 0.0 <= tour.test.p_value <= 1.0
