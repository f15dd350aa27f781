"""Returns, alignment, composite benchmark and volatility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from betaneutral.core.returns import (
    align_prices,
    composite_index,
    composite_returns,
    returns_from_prices,
    rolling_volatility,
    weekly_prices,
)
from betaneutral.errors import DomainError, InputTypeError, InsufficientDataError


def test_simple_and_log_returns_by_hand():
    """100 -> 125 -> 100 gives simple +25%, -20% and log +/- ln(1.25)."""
    p = np.array([100.0, 125.0, 100.0])
    np.testing.assert_allclose(returns_from_prices(p), [0.25, -0.2], rtol=0, atol=1e-15)
    np.testing.assert_allclose(returns_from_prices(p, kind="log"),
                               [np.log(1.25), -np.log(1.25)], atol=1e-15)


def test_gap_is_never_forward_filled():
    """A missing price makes both neighbouring returns missing instead of a fake zero."""
    s = pd.Series([100.0, np.nan, 110.0, 121.0], index=pd.date_range("2024-01-01", periods=4))
    r = returns_from_prices(s)
    assert np.isnan(r.iloc[0])
    assert np.isnan(r.iloc[1])
    assert r.iloc[2] == pytest.approx(0.1, abs=1e-15)
    assert list(r.index) == list(s.index[1:])


@pytest.mark.parametrize("bad", [0.0, -5.0, np.inf])
def test_non_positive_or_infinite_price_is_a_domain_error(bad):
    """A present price must be finite and > 0, and the message names the column and row."""
    df = pd.DataFrame({"BTC": [1.0, 2.0, 3.0], "ETH": [1.0, bad, 3.0]})
    with pytest.raises(DomainError, match=r"prices must"):
        returns_from_prices(df)
    if np.isfinite(bad):
        with pytest.raises(DomainError, match=r"row 2, column ETH"):
            returns_from_prices(df)


def test_text_prices_are_an_input_type_error():
    """Text in a price column is refused as the wrong type."""
    with pytest.raises(InputTypeError, match="prices must contain only numbers"):
        returns_from_prices(np.array(["1", "2"], dtype=object))


def test_unknown_return_kind_names_the_options():
    """The return type must be simple or log."""
    with pytest.raises(Exception, match=r"kind must be one of \['simple', 'log'\]"):
        returns_from_prices(np.array([1.0, 2.0]), kind="pct")


def test_align_is_an_inner_join_and_fills_nothing():
    """Only dates present in both series survive alignment."""
    a = pd.DataFrame({"A": [1.0, 2.0, 3.0]},
                     index=pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04"]))
    b = pd.Series([10.0, 20.0, 30.0],
                  index=pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]))
    aa, bb = align_prices(a, b)
    assert list(aa.index) == list(pd.to_datetime(["2024-01-02", "2024-01-04"]))
    assert bb.tolist() == [10.0, 30.0]


def test_align_rejects_duplicate_dates_and_disjoint_series():
    """Duplicate dates and series with no common date are refused."""
    idx = pd.to_datetime(["2024-01-01", "2024-01-01"])
    with pytest.raises(DomainError, match="must not repeat a date"):
        align_prices(pd.Series([1.0, 2.0], index=idx), pd.Series([1.0, 2.0], index=idx))
    with pytest.raises(InsufficientDataError, match="at least one date"):
        align_prices(pd.Series([1.0], index=pd.to_datetime(["2024-01-01"])),
                     pd.Series([1.0], index=pd.to_datetime(["2024-02-01"])))


def test_composite_is_weighted_sum_of_simple_returns():
    """A 50/50 daily-rebalanced benchmark returns the average of BTC's and ETH's returns."""
    r = np.array([[0.10, -0.02], [0.00, 0.04]])
    np.testing.assert_allclose(composite_returns(r), [0.04, 0.02], atol=1e-15)
    np.testing.assert_allclose(composite_returns(r, [0.25, 0.75]),
                               [0.25 * 0.10 - 0.75 * 0.02, 0.03], atol=1e-15)


def test_composite_weights_must_sum_to_one():
    """Weights that do not add up to 100% are refused with the rule in the message."""
    with pytest.raises(DomainError, match="weights must sum to 1"):
        composite_returns(np.zeros((2, 2)), [0.5, 0.6])


def test_composite_index_chains_from_the_btc_price():
    """Index: 60000 -> 60000 * (1 + (0.05 + 0.10) / 2) = 64500 -> * (1 + (0 - 0.10) / 2)."""
    p = np.array([[60000.0, 3000.0], [63000.0, 3300.0], [63000.0, 2970.0]])
    np.testing.assert_allclose(composite_index(p), [60000.0, 64500.0, 64500.0 * 0.95],
                               rtol=1e-15)
    with pytest.raises(InsufficientDataError, match="gap at row 2"):
        composite_index(np.array([[1.0, 1.0], [np.nan, 1.0]]))


def test_weekly_prices_take_the_last_close_of_each_week():
    """Weeks end on Sunday; 2024-01-07 and 2024-01-14 are Sundays."""
    s = pd.Series(np.arange(1.0, 15.0), index=pd.date_range("2024-01-01", periods=14))
    w = weekly_prices(s)
    assert list(w.index) == list(pd.to_datetime(["2024-01-07", "2024-01-14"]))
    assert w.tolist() == [7.0, 14.0]


def test_rolling_volatility_reproduces_coin_metrics_vtydayret30d(coinmetrics_btc_raw):
    """Coin Metrics' VtyDayRet30d is the 30-day std (ddof 1) of daily log returns."""
    raw = coinmetrics_btc_raw
    vol = rolling_volatility(raw["PriceUSD"].dropna(), window=30)
    ref = raw["VtyDayRet30d"]
    both = pd.concat([vol, ref], axis=1, join="inner").dropna()
    assert len(both) > 3000
    np.testing.assert_allclose(both.iloc[:, 0], both.iloc[:, 1], rtol=0, atol=1e-12)
