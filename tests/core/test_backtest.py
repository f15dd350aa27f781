"""Walk-forward hedge backtest: hand-checked days, no look-ahead, known-beta and real data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from betaneutral.core.backtest import (
    DAILY_COLUMNS,
    POLICY_COLUMNS,
    backtest_hedge,
    compare_policies,
    trailing_betas,
)
from betaneutral.core.contracts import custom_contract, get_contract
from betaneutral.errors import DomainError, InsufficientDataError, UnknownNameError

DECISIONS = ["hedge_contracts", "rebalanced", "trade_contracts", "check", "breach",
             "beta_before", "portfolio_beta_est"]


def _path(start: float, returns: list[float]) -> np.ndarray:
    return start * np.cumprod([1.0, *(1.0 + np.asarray(returns))])


# ----------------------------------------------------------------- a hand-checked book

# BTC daily returns; asset A moves exactly 2x BTC, asset B exactly 0.5x, so their
# betas to BTC are 2 and 0.5 in every window.
BTC_RETURNS = [0.10, -0.10, 0.10, 0.10, 0.12, -0.05, 0.02, -0.20, 0.10, 0.12, -0.10]
BTC = _path(10_000.0, BTC_RETURNS)
A = _path(100.0, [2.0 * r for r in BTC_RETURNS])
B = _path(100.0, [0.5 * r for r in BTC_RETURNS])
QA, QB = 1_000.0, 2_000.0
SIZE_BTC = 0.01  # linear contract: 0.01 BTC per contract, step 1, minimum 1
MMR, FEE, FUND_8H, STRESS, SAFETY, TOP_UP = 0.005, 0.0005, 0.0001, 0.30, 1.2, 0.15


def _hand_book():
    spec = custom_contract("linear", SIZE_BTC, 1.0, 1.0, maintenance_rate=MMR)
    dates = pd.date_range("2024-03-01", periods=len(BTC), freq="D")
    prices = pd.DataFrame({"A": A, "B": B}, index=dates)
    return backtest_hedge(prices, BTC, [QA, QB], spec, window=3, min_obs=3, band=0.05,
                          fee_bps=5.0, funding_rate_8h=FUND_8H, stress_move=STRESS,
                          safety_multiplier=SAFETY)


def _hand_reference() -> list[dict[str, float]]:
    """The policy as the README states it, day by day, with the betas known (2 and 0.5)."""
    out, held, equity = [], 0, 0.0
    for t in range(len(BTC)):
        f = BTC[t]
        fut = fund = fee = 0.0
        if held and t > 0:
            fut = -held * SIZE_BTC * (f - BTC[t - 1])
            fund = held * SIZE_BTC * f * FUND_8H * 3  # three 8-hour fundings a day
            equity += fut + fund
        rebalanced = False
        if t >= 3:  # three returns in the window from row 3
            v = QA * A[t] + QB * B[t]
            d = 2.0 * QA * A[t] + 0.5 * QB * B[t]
            if abs((d - held * SIZE_BTC * f) / v) > 0.05:
                target = math.floor(d / (SIZE_BTC * f) + 0.5)
                if target != held:
                    fee = abs(target - held) * SIZE_BTC * f * FEE
                    equity -= fee
                    held, rebalanced = target, True
                    q = held * SIZE_BTC
                    ps = f * (1 + STRESS)
                    need = SAFETY * (q * (ps - f) + MMR * q * ps)
                    equity = max(equity, need)
        if held:
            q = held * SIZE_BTC
            liq = (equity + q * f) / (q * (1 + MMR))  # flat-rate linear liquidation price
            if liq / f - 1 < TOP_UP:
                ps = f * (1 + STRESS)
                equity = max(equity, SAFETY * (q * (ps - f) + MMR * q * ps))
        spot = 0.0 if t <= 3 else QA * (A[t] - A[t - 1]) + QB * (B[t] - B[t - 1])
        out.append({"hedge_contracts": held, "rebalanced": rebalanced, "fees_usd": fee,
                    "funding_usd": fund, "futures_pnl_usd": fut, "margin_equity": equity,
                    "hedged_pnl_usd": spot + fut + fund - fee})
    return out


def test_hand_checked_book_first_hedge():
    """The first hedge matches the arithmetic written out: 3,077 contracts, fee and collateral."""
    day = _hand_book().daily.iloc[3]
    # Row 3: BTC 10,890; A 115.2; B 104.7375. V_S = 115,200 + 209,475 = 324,675.
    # Dollar beta D = 2 x 115,200 + 0.5 x 209,475 = 335,137.5 USD.
    assert day["spot_value_usd"] == pytest.approx(324_675.0, abs=1e-6)
    assert day["beta_before"] == pytest.approx(335_137.5 / 324_675.0, abs=1e-12)
    # D / (0.01 x 10,890) = 3,077.48 contracts, nearest lot 3,077.
    assert day["hedge_contracts"] == 3_077
    # Fee: 3,077 x 108.9 USD x 5 bp = 167.54 USD.
    assert day["fees_usd"] == pytest.approx(3_077 * 108.9 * 0.0005, abs=0.005)
    assert day["fees_usd"] == pytest.approx(167.54, abs=0.005)
    # Buffer: Q = 30.77 BTC, stress price 14,157: loss 30.77 x 3,267 = 100,525.59,
    # maintenance 0.5 % x 435,610.89 = 2,178.05; x 1.2 = 123,244.37 USD posted
    # after the fee took the account to -167.54: 123,411.92 added.
    assert day["margin_equity"] == pytest.approx(123_244.37, abs=0.005)
    assert day["collateral_added_usd"] == pytest.approx(123_411.92, abs=0.005)


def test_hand_checked_book_every_day_to_the_cent():
    """Positions, fees, funding, margin and hedged P&L match the written-out policy."""
    daily = _hand_book().daily
    expected = _hand_reference()
    assert daily["rebalanced"].sum() >= 2  # the path makes the book drift out of the band
    for t, exp in enumerate(expected):
        row = daily.iloc[t]
        assert row["hedge_contracts"] == exp["hedge_contracts"], t
        assert bool(row["rebalanced"]) == exp["rebalanced"], t
        for col in ("fees_usd", "funding_usd", "futures_pnl_usd", "margin_equity",
                    "hedged_pnl_usd"):
            assert row[col] == pytest.approx(exp[col], abs=0.005), (t, col)


def test_daily_columns_and_cumulative_pnl():
    """The daily frame has the documented columns and the running sums of the P&Ls."""
    daily = _hand_book().daily
    assert tuple(daily.columns) == DAILY_COLUMNS
    np.testing.assert_allclose(daily["cum_hedged_pnl_usd"], daily["hedged_pnl_usd"].cumsum())
    parts = (daily["unhedged_pnl_usd"] + daily["futures_pnl_usd"] + daily["funding_usd"]
             - daily["fees_usd"] - daily["slippage_usd"] - daily["liquidation_loss_usd"])
    np.testing.assert_allclose(daily["hedged_pnl_usd"], parts)


# ----------------------------------------------------------------- no look-ahead


def _random_book(seed: int, t_len: int = 400, n: int = 4):
    rng = np.random.default_rng(seed)
    rb = rng.normal(0.0, 0.035, t_len - 1)
    betas = rng.uniform(0.4, 2.0, n)
    ra = rb[:, None] * betas + rng.normal(0.0, 0.03, (t_len - 1, n))
    btc = _path(30_000.0, list(rb))
    prices = 5.0 * np.vstack([np.ones(n), np.cumprod(1.0 + ra, axis=0)])
    dates = pd.date_range("2022-01-01", periods=t_len, freq="D")
    return pd.DataFrame(prices, index=dates, columns=[f"C{j}" for j in range(n)]), btc, \
        rng.uniform(1e3, 1e5, n)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("method", ["ols", "ewma", "ewls", "welch", "welch-decay", "realised",
                                    "vasicek", "vasicek-welch-decay"])
@pytest.mark.parametrize("check", ["daily", "weekly"])
def test_no_look_ahead_changing_the_future(seed, method, check):
    """Changing every price after day t changes no decision on or before t (every estimator
    the tournament can field)."""
    prices, btc, qty = _random_book(seed)
    spec = get_contract("BINANCE:BTCUSDT")
    kw = dict(window=60, min_obs=40, method=method, check=check, band=0.02, half_life=20.0)
    base = backtest_hedge(prices, btc, qty, spec, **kw).daily
    rng = np.random.default_rng(100 + seed)
    for cut in (150, 260, 399):
        shocked_p, shocked_b = prices.copy(), btc.copy()
        factor = np.exp(rng.normal(0.0, 0.2, (len(btc) - cut - 1, prices.shape[1] + 1)))
        shocked_p.iloc[cut + 1:] *= factor[:, 1:]
        shocked_b[cut + 1:] *= factor[:, 0]
        other = backtest_hedge(shocked_p, shocked_b, qty, spec, **kw).daily
        pd.testing.assert_frame_equal(base.loc[:cut, DECISIONS], other.loc[:cut, DECISIONS])
        truncated = backtest_hedge(prices.iloc[:cut + 1], btc[:cut + 1], qty, spec, **kw).daily
        pd.testing.assert_frame_equal(base.loc[:cut, DECISIONS], truncated[DECISIONS])
        if cut < 399:
            assert not base.loc[cut + 1:, DECISIONS].equals(other.loc[cut + 1:, DECISIONS])


def test_trailing_betas_match_statsmodels_on_each_window():
    """Each row's beta is the statsmodels OLS slope on the window ending at that row."""
    rng = np.random.default_rng(5)
    x = rng.normal(0, 0.03, 120)
    y = np.column_stack([1.4 * x + rng.normal(0, 0.02, 120), -0.3 * x + rng.normal(0, 0.02, 120)])
    y[17, 0] = np.nan
    x[40] = np.nan
    b = trailing_betas(y, x, window=30, min_obs=25)
    for t in (29, 45, 70, 119):
        for j in range(2):
            ys, xs = y[t - 29:t + 1, j], x[t - 29:t + 1]
            ok = ~np.isnan(ys) & ~np.isnan(xs)
            fit = sm.OLS(ys[ok], sm.add_constant(xs[ok])).fit()
            assert b[t, j] == pytest.approx(fit.params[1], rel=1e-9)
    assert np.isnan(b[:24]).all()
    expanding = trailing_betas(y, x, window=None, min_obs=25)
    ok = ~np.isnan(y[:, 1]) & ~np.isnan(x)
    fit = sm.OLS(y[ok, 1], sm.add_constant(x[ok])).fit()
    assert expanding[-1, 1] == pytest.approx(fit.params[1], rel=1e-9)


@pytest.mark.parametrize("method", ["ols", "blume", "ewma"])
def test_trailing_betas_of_many_holdings_are_each_holdings_own(method):
    """A book wider than the block of columns whose sums are formed together (300 holdings,
    gaps in some): every column is what the holding alone gives, bit for bit, and a few
    are the statsmodels slope on their window."""
    rng = np.random.default_rng(11)
    x = rng.normal(0, 0.03, 200)
    y = 0.8 * x[:, None] + rng.normal(0, 0.02, (200, 300))
    y[rng.random(y.shape) < 0.02] = np.nan
    y[:60, 150] = np.nan  # a late listing
    x[90] = np.nan
    b = trailing_betas(y, x, window=40, min_obs=30, method=method)
    for j in range(300):
        alone = trailing_betas(y[:, [j]], x, window=40, min_obs=30, method=method)[:, 0]
        np.testing.assert_array_equal(b[:, j], alone)
    if method == "ols":
        for t, j in ((120, 0), (150, 129), (199, 299), (110, 150)):
            ys, xs = y[t - 39:t + 1, j], x[t - 39:t + 1]
            ok = ~np.isnan(ys) & ~np.isnan(xs)
            fit = sm.OLS(ys[ok], sm.add_constant(xs[ok])).fit()
            assert b[t, j] == pytest.approx(fit.params[1], rel=1e-9)


# ----------------------------------------------------------------- synthetic known beta


def test_known_beta_hedged_book_is_neutral_and_variance_falls_by_rho_squared():
    """With a constant beta of 1.3 the hedged beta is ~0 and variance falls by about rho^2."""
    rng = np.random.default_rng(11)
    t_len, beta = 1_500, 1.3
    rb = rng.normal(0.0, 0.03, t_len - 1)
    ra = beta * rb + rng.normal(0.0, 0.02, t_len - 1)
    btc = _path(20_000.0, list(rb))
    alt = _path(50.0, list(ra))
    res = backtest_hedge(alt[:, None], btc, [2_000.0], get_contract("BINANCE:BTCUSDT"),
                         window=90, min_obs=90, band=0.05)
    s = res.summary
    assert abs(s.realised_beta_hedged) <= 0.05 + 3.0 * s.realised_beta_hedged_se
    assert s.realised_beta_unhedged == pytest.approx(beta, abs=3.0 * s.realised_beta_unhedged_se)
    # Theory: a perfect beta hedge leaves the residual variance, 1 - rho^2 of the total.
    start = list(res.daily["date"]).index(s.start)
    rho = np.corrcoef(ra[start:], rb[start:])[0, 1]
    assert s.variance_ratio == pytest.approx(1.0 - rho**2, rel=0.10)
    # ... and a worse hedge (a beta estimated with the wrong sign) would not get there.
    assert s.variance_ratio < 0.5


# ----------------------------------------------------------------- margin account


def test_liquidation_forfeits_the_margin_and_is_dated():
    """A 60 % one-day rally liquidates a short buffered for 30 %: all margin is lost that day."""
    rets = [0.01, -0.01, 0.02, -0.01, 0.01, 0.60, 0.0, 0.01, -0.01]
    btc = _path(10_000.0, rets)
    alt = _path(10.0, [1.5 * r for r in rets])
    dates = pd.date_range("2024-01-01", periods=len(btc), freq="D")
    res = backtest_hedge(pd.DataFrame({"ALT": alt}, index=dates), btc, [10_000.0],
                         get_contract("BINANCE:BTCUSDT"), window=3, min_obs=3,
                         safety_multiplier=1.0)
    d, s = res.daily, res.summary
    day = 6  # the rally
    assert bool(d.loc[day, "liquidated"])
    assert d.loc[day - 1, "hedge_contracts"] > 0
    assert s.first_liquidation_date == dates[day]
    assert s.liquidations == 1
    # The day's hedge loss is capped at the margin held the evening before (plus the fee
    # of re-opening the hedge at the same close).
    prev_equity = d.loc[day - 1, "margin_equity_usd"]
    assert d.loc[day, "hedged_pnl_usd"] == pytest.approx(
        d.loc[day, "unhedged_pnl_usd"] - prev_equity - d.loc[day, "fees_usd"], abs=1e-6)
    assert d.loc[day, "liquidation_loss_usd"] >= 0.0
    # The check at that close re-hedges with fresh collateral.
    assert d.loc[day, "rebalanced"]
    assert d.loc[day, "collateral_added_usd"] > 0


def test_top_up_restores_the_stress_buffer():
    """When the rally to liquidation falls under the threshold, collateral is topped up so
    that the short again survives the stress move (liquidation at the stress price)."""
    rets = [0.01, -0.01, 0.02, -0.01, 0.01, 0.05, 0.0]
    btc = _path(10_000.0, rets)
    alt = _path(10.0, [1.0 * r for r in rets])
    spec = custom_contract("linear", 0.001, 1.0, 1.0, maintenance_rate=0.004)
    res = backtest_hedge(alt[:, None], btc, [10_000.0], spec, window=3, min_obs=3,
                         stress_move=0.30, safety_multiplier=1.0, top_up_below=0.29,
                         band=0.5)
    d = res.daily
    day = 6
    assert bool(d.loc[day, "topped_up"])
    assert d.loc[day, "collateral_added_usd"] > 0
    assert d.loc[day, "rally_to_liquidation"] == pytest.approx(0.30, abs=1e-9)
    assert res.summary.top_ups >= 1


def test_inverse_contract_pnl_is_coin_pnl_at_the_close():
    """An inverse short hedges the book and its own coin collateral (worked by hand).

    Book: 10,000 USD of a coin with beta 1. The collateral is the margin buffer of the
    short, K = 1.2 x face x (1/E - (1 - 0.5%)/(1.3 E)) BTC, i.e. K E = 0.28154 x face.
    Neutral: face = 10,000 + K E, so face = 10,000 / (1 - 0.28154) = 13,918 USD, 139
    contracts of 100 USD on the grid (139 x 100 = 13,900 gives K E = 3,913 and
    10,000 + 3,913 rounds to 139 again). BTC 10,000 -> 12,500: the short loses
    13,900 x (1/12,500 - 1/10,000) = -0.278 BTC = -3,475 USD, the coin collateral
    gains 0.39134 x 2,500 = 978.4 USD, the coin 2,500 USD: hedged P&L 3.4 USD.
    """
    btc = np.array([10_000.0, 10_100.0, 9_900.0, 10_000.0, 12_500.0])
    alt = 1.0 * btc / 10_000.0
    spec = custom_contract("inverse", 100.0, 1.0, 1.0, maintenance_rate=0.005)
    res = backtest_hedge(alt[:, None], btc, [10_000.0], spec, window=3, min_obs=3,
                         funding_rate_8h=0.0, fee_bps=0.0)
    d = res.daily
    k = 1.2 * 13_900.0 * (1 / 10_000.0 - 0.995 / 13_000.0)  # BTC posted on day 3
    assert d.loc[3, "hedge_contracts"] == 139
    assert d.loc[3, "margin_equity"] == pytest.approx(k, rel=1e-12)
    assert d.loc[4, "futures_pnl_usd"] == pytest.approx(-3_475.0, abs=1e-9)
    assert d.loc[4, "collateral_revaluation_usd"] == pytest.approx(k * 2_500.0, rel=1e-12)
    assert d.loc[4, "hedged_pnl_usd"] == pytest.approx(2_500.0 - 3_475.0 + k * 2_500.0,
                                                       rel=1e-12)
    assert abs(d.loc[4, "hedged_pnl_usd"]) < 10.0


def test_dated_holdings_earn_the_previous_days_quantity():
    """With a holdings history, day t's spot P&L uses the quantity held at t-1's close."""
    rets = [0.01, -0.01, 0.02, -0.01, 0.01, 0.03]
    btc = _path(10_000.0, rets)
    alt = _path(10.0, rets)
    q = np.array([[100.0]] * 5 + [[300.0]] * 2)
    res = backtest_hedge(alt[:, None], btc, q, get_contract("BINANCE:BTCUSDT"), window=3,
                         min_obs=3)
    d = res.daily
    assert d.loc[5, "unhedged_pnl_usd"] == pytest.approx(100.0 * (alt[5] - alt[4]))
    assert d.loc[6, "unhedged_pnl_usd"] == pytest.approx(300.0 * (alt[6] - alt[5]))
    assert d.loc[5, "spot_value_usd"] == pytest.approx(300.0 * alt[5])


def test_weekly_checks_every_seven_days():
    """Weekly checks fall on the first check date and every 7 days after it."""
    prices, btc, qty = _random_book(3, t_len=120)
    d = backtest_hedge(prices, btc, qty, get_contract("BINANCE:BTCUSDT"), window=30,
                       min_obs=30, check="weekly").daily
    checks = np.flatnonzero(d["check"].to_numpy())
    assert checks[0] == 30
    assert (np.diff(checks) == 7).all()
    assert not d.loc[~d["check"], "rebalanced"].any()


def test_dated_future_earns_its_basis_instead_of_funding():
    """A dated contract accrues notional x basis / 365 per day and no funding."""
    prices, btc, qty = _random_book(4, t_len=80)
    spec = get_contract("BINANCE:BTCUSDT")
    dated = custom_contract("linear", 0.001, 1.0, 1.0, perpetual=False,
                            funding_interval_hours=None)
    d = backtest_hedge(prices, btc, qty, dated, window=30, min_obs=30, basis_annual=0.073,
                       funding_rate_8h=0.05).daily
    t = 50
    held = d.loc[t - 1, "hedge_contracts"]
    assert d.loc[t, "funding_usd"] == pytest.approx(held * 0.001 * btc[t] * 0.073 / 365)
    assert spec.perpetual


# ----------------------------------------------------------------- policies


def test_compare_policies_table():
    """Six policies; a wider band trades less; a policy row equals its single backtest."""
    prices, btc, qty = _random_book(6, t_len=500)
    spec = get_contract("BINANCE:BTCUSDT")
    calls = []
    table, results = compare_policies(prices, btc, qty, spec, window=60, min_obs=60,
                                      progress=lambda i, n: calls.append((i, n)))
    assert tuple(table.columns) == POLICY_COLUMNS
    assert len(table) == 6
    assert calls[-1] == (6, 6)
    daily = table[table["check"] == "daily"].set_index("band")
    assert daily.loc[0.02, "rebalances"] > daily.loc[0.05, "rebalances"] \
        > daily.loc[0.10, "rebalances"]
    single = backtest_hedge(prices, btc, qty, spec, window=60, min_obs=60, band=0.05,
                            check="weekly")
    pd.testing.assert_frame_equal(single.daily, results[(0.05, "weekly")].daily)


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"band": -0.1}, DomainError, "band must be in"),
    ({"check": "monthly"}, UnknownNameError, "check must be one of"),
    ({"fee_bps": float("nan")}, DomainError, "fee_bps must be finite"),
    ({"window": 2}, DomainError, "window must be >= 3"),
    ({"min_obs": 500}, DomainError, "min_obs must be <= window"),
    ({"funding_rate_8h": [0.0001] * 3}, InsufficientDataError, "one value per date"),
])
def test_bad_settings_name_the_rule(kwargs, error, match):
    """Settings out of their domain raise typed errors naming the parameter."""
    prices, btc, qty = _random_book(7, t_len=100)
    with pytest.raises(error, match=match):
        backtest_hedge(prices, btc, qty, get_contract("BINANCE:BTCUSDT"),
                       **{"window": 30, "min_obs": 30, **kwargs})


def test_contracts_the_backtest_cannot_model_are_refused():
    """Quanto contracts and contracts without a margin table are refused by name."""
    prices, btc, qty = _random_book(8, t_len=100)
    with pytest.raises(DomainError, match="quanto"):
        backtest_hedge(prices, btc, qty, custom_contract("quanto", 1e-6, 1.0, 1.0))
    with pytest.raises(DomainError, match="CME:BTC"):
        backtest_hedge(prices, btc, qty, get_contract("CME:BTC"))


def test_too_short_a_history_is_insufficient_data():
    """A history shorter than min_obs gives no date with betas: InsufficientDataError."""
    prices, btc, qty = _random_book(9, t_len=50)
    with pytest.raises(InsufficientDataError, match="history is too short"):
        backtest_hedge(prices, btc, qty, get_contract("BINANCE:BTCUSDT"), window=90,
                       min_obs=60)


# ----------------------------------------------------------------- real prices

REAL_COINS = ["ETH", "XRP", "LTC", "BNB", "LINK"]


def test_real_book_hedged_beta_is_closer_to_zero(coinmetrics_prices):
    """Five coins, 2018-07 to 2020-07: the hedge brings the realised beta towards 0, and
    no decision depends on later prices."""
    p = coinmetrics_prices.loc["2018-07-01":"2020-07-31", ["BTC", *REAL_COINS]]
    qty = 100_000.0 / p[REAL_COINS].iloc[0].to_numpy()  # 100k USD of each at the start
    spec = get_contract("BINANCE:BTCUSDT")
    res = backtest_hedge(p[REAL_COINS], p["BTC"].to_numpy(), qty, spec)
    s = res.summary
    assert abs(s.realised_beta_hedged) < abs(s.realised_beta_unhedged)
    assert abs(s.realised_beta_hedged) < 0.15
    assert s.realised_beta_unhedged > 0.7
    assert s.variance_ratio < 0.6
    cut = 400
    short = backtest_hedge(p[REAL_COINS].iloc[:cut + 1], p["BTC"].to_numpy()[:cut + 1], qty,
                           spec)
    pd.testing.assert_frame_equal(res.daily.loc[:cut, DECISIONS], short.daily[DECISIONS])


def test_policy_comparison_defaults_are_the_single_backtest_defaults():
    """compare_policies fills unspecified settings with backtest_hedge's own defaults."""
    import inspect

    from betaneutral.core import backtest

    params = inspect.signature(backtest.backtest_hedge).parameters
    expected = {name: p.default for name, p in params.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in ("band", "check")}
    assert expected == backtest.SETTING_DEFAULTS


@pytest.mark.parametrize(("which", "row", "match"), [
    ("asset", 7, r"asset_prices_usd must be > 0 where present, got 0.0 at row 8, column C1"),
    ("hedge", 9, r"hedge_prices_usd must be > 0 where present, got -1.0 at row 10"),
    ("bench", 4, r"benchmark_prices_usd must be > 0 where present, got 0.0 at row 5"),
])
def test_prices_must_be_positive_and_the_place_is_named(which, row, match):
    """A price <= 0 is a DomainError naming the input, the row and (for a table) the column."""
    prices, btc, qty = _random_book(10, t_len=100)
    bench = btc.copy()
    if which == "asset":
        prices.iloc[row, 1] = 0.0
    elif which == "hedge":
        btc[row] = -1.0
    else:
        bench[row] = 0.0
    with pytest.raises(DomainError, match=match):
        backtest_hedge(prices, btc, qty, get_contract("BINANCE:BTCUSDT"), window=30,
                       min_obs=30, benchmark_prices_usd=bench)
