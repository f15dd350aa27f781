"""Tests of betaneutral.core.portfolio: portfolio beta, hedge sizing, min-variance hedge."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from betaneutral.core.portfolio import (
    beta_contributions,
    hedge_effectiveness,
    hedge_notional,
    min_variance_hedge_ratio,
    portfolio_beta,
    portfolio_value_usd,
    two_instrument_hedge,
)
from betaneutral.errors import (
    DegenerateDataError,
    DomainError,
    InputTypeError,
    InsufficientDataError,
)

BOOK_V = [50_000.0, 30_000.0, 20_000.0]  # ETH, SOL, LINK in USD
BOOK_B = [1.1, 1.4, 1.2]  # betas to BTC


# --------------------------------------------------------------------------- hand cases
def test_seed_single_holding_hedge_is_value_times_beta():
    """The seed's rule V_hedge = V_S x beta_S holds for a one-line book."""
    # V_S = 250,000 USD, beta_S = 1.3 -> V_hedge = 250,000 * 1.3 = 325,000
    h = hedge_notional(250_000, 1.3)
    assert h.target_notional_usd == pytest.approx(325_000.0, rel=1e-15)
    assert h.portfolio_value_usd == 250_000.0
    assert h.portfolio_beta_unhedged == pytest.approx(1.3, rel=1e-15)
    assert h.change_usd == pytest.approx(325_000.0, rel=1e-15)


def test_three_asset_book_by_hand():
    """A 3-asset book: value, dollar beta, beta and hedge match the hand arithmetic."""
    # V_S = 50,000 + 30,000 + 20,000 = 100,000
    # dollar beta = 50,000*1.1 + 30,000*1.4 + 20,000*1.2 = 55,000 + 42,000 + 24,000 = 121,000
    # beta_p = 121,000 / 100,000 = 1.21
    assert portfolio_value_usd(BOOK_V) == 100_000.0
    assert portfolio_beta(BOOK_V, BOOK_B) == pytest.approx(1.21, abs=1e-14)
    # with 100,000 already short: beta_p = (121,000 - 100,000) / 100,000 = 0.21
    assert portfolio_beta(BOOK_V, BOOK_B, hedge_notional_usd=100_000) == pytest.approx(0.21)
    # hedge instrument with beta 0.98: (121,000 - 100,000*0.98) / 100,000 = 0.23
    assert portfolio_beta(BOOK_V, BOOK_B, hedge_notional_usd=100_000,
                          hedge_beta=0.98) == pytest.approx(0.23)
    h = hedge_notional(BOOK_V, BOOK_B, current_hedge_usd=100_000)
    assert h.target_notional_usd == pytest.approx(121_000.0)
    assert h.change_usd == pytest.approx(21_000.0)  # 121,000 - 100,000: sell 21,000 more
    # target 0.1: 121,000 - 0.1 * 100,000 = 111,000
    h2 = hedge_notional(BOOK_V, BOOK_B, target_beta=0.1)
    assert h2.target_notional_usd == pytest.approx(111_000.0)


def test_short_position_counts_negative():
    """A short holding (negative value) reduces both V_S and the dollar beta."""
    # V = [100,000, -20,000], b = [1.0, 1.5]: V_S = 80,000
    # dollar beta = 100,000 - 30,000 = 70,000 ; beta_p = 70,000 / 80,000 = 0.875
    assert portfolio_beta([100_000, -20_000], [1.0, 1.5]) == pytest.approx(0.875)
    assert hedge_notional([100_000, -20_000], [1.0, 1.5]).target_notional_usd == (
        pytest.approx(70_000.0))


def test_beta_contributions_by_hand():
    """Dollar betas and their shares match the hand computation and shares sum to 1."""
    c = beta_contributions(BOOK_V, BOOK_B)
    # 55,000 / 121,000 = 0.454545..., 42,000 / 121,000 = 0.347107..., 24,000 / 121,000
    np.testing.assert_allclose(c.dollar_beta_usd, [55_000.0, 42_000.0, 24_000.0], rtol=1e-15)
    np.testing.assert_allclose(c.share, [55 / 121, 42 / 121, 24 / 121], rtol=1e-14)
    assert c.total_dollar_beta_usd == pytest.approx(121_000.0)
    assert math.fsum(c.share) == pytest.approx(1.0, abs=1e-15)


def test_two_instrument_hedge_by_hand():
    """Two-leg hedge notionals equal the hand-summed multivariate dollar betas."""
    # SOL 100,000 with (b_btc, b_eth) = (0.8, 0.6); LINK 50,000 with (0.4, 0.9)
    # BTC leg: 100,000*0.8 + 50,000*0.4 = 80,000 + 20,000 = 100,000
    # ETH leg: 100,000*0.6 + 50,000*0.9 = 60,000 + 45,000 = 105,000
    h = two_instrument_hedge([100_000, 50_000], [0.8, 0.4], [0.6, 0.9])
    assert h.btc_notional_usd == pytest.approx(100_000.0)
    assert h.eth_notional_usd == pytest.approx(105_000.0)
    # target 0.2 on the 50/50 composite: keep 0.5*0.2*150,000 = 15,000 on each factor
    h2 = two_instrument_hedge([100_000, 50_000], [0.8, 0.4], [0.6, 0.9], target_beta=0.2)
    assert h2.btc_notional_usd == pytest.approx(85_000.0)
    assert h2.eth_notional_usd == pytest.approx(90_000.0)


def test_two_instrument_hedge_matches_ols_of_book_pnl():
    """Leg sizes equal the OLS slopes of the book's dollar P&L on BTC and ETH returns."""
    rng = np.random.default_rng(7)
    n = 400
    r_btc = rng.normal(0, 0.03, n)
    r_eth = 0.8 * r_btc + rng.normal(0, 0.02, n)
    x = np.column_stack([r_btc, r_eth])
    values = np.array([120_000.0, 60_000.0, 40_000.0])
    true_b = np.array([[0.5, 0.7], [1.1, 0.3], [0.2, 1.2]])
    assets = x @ true_b.T + rng.normal(0, 0.015, (n, 3))
    # per-asset multivariate OLS betas (statsmodels as oracle)
    betas = np.array([sm.OLS(assets[:, j], sm.add_constant(x)).fit().params[1:]
                      for j in range(3)])
    h = two_instrument_hedge(values, betas[:, 0], betas[:, 1])
    # OLS is linear in y: the book's dollar P&L regressed on (r_btc, r_eth) gives the legs
    book_pnl = assets @ values
    legs = sm.OLS(book_pnl, sm.add_constant(x)).fit().params[1:]
    assert h.btc_notional_usd == pytest.approx(legs[0], rel=1e-9)
    assert h.eth_notional_usd == pytest.approx(legs[1], rel=1e-9)


def test_min_variance_matches_statsmodels_and_rho_squared():
    """h* equals the statsmodels OLS slope, and effectiveness(h*) equals rho^2 and R^2."""
    rng = np.random.default_rng(11)
    f = rng.normal(0, 0.03, 250)
    s = 1.25 * f + rng.normal(0, 0.02, 250)
    fit = sm.OLS(s, sm.add_constant(f)).fit()
    r = min_variance_hedge_ratio(s, f)
    assert r.hedge_ratio == pytest.approx(fit.params[1], rel=1e-10)
    assert r.correlation == pytest.approx(np.corrcoef(s, f)[0, 1], rel=1e-10)
    assert r.effectiveness == pytest.approx(fit.rsquared, rel=1e-10)
    assert hedge_effectiveness(s, f, r.hedge_ratio) == pytest.approx(r.effectiveness,
                                                                     rel=1e-10)
    assert r.n == 250
    # any other ratio removes less variance
    assert hedge_effectiveness(s, f, r.hedge_ratio * 0.9) < r.effectiveness
    assert hedge_effectiveness(s, f, r.hedge_ratio * 1.1) < r.effectiveness


def test_min_variance_pairwise_deletion():
    """Pairs with a NaN on either side are dropped, as statsmodels missing='drop' does."""
    rng = np.random.default_rng(3)
    f = rng.normal(0, 0.03, 60)
    s = 0.9 * f + rng.normal(0, 0.01, 60)
    s[[2, 10]] = np.nan
    f[[10, 33]] = np.nan
    fit = sm.OLS(s, sm.add_constant(f), missing="drop").fit()
    r = min_variance_hedge_ratio(s, f)
    assert r.n == 57  # 60 - |{2, 10, 33}|
    assert r.hedge_ratio == pytest.approx(fit.params[1], rel=1e-10)
    assert r.effectiveness == pytest.approx(fit.rsquared, rel=1e-10)


def test_min_variance_aligns_series_on_index():
    """Two pandas Series are inner-joined on their dates before pairing."""
    idx = pd.date_range("2024-01-01", periods=6, freq="D")
    s = pd.Series([0.02, -0.01, 0.03, 0.0, 0.5, 0.1], index=idx)
    f = pd.Series([0.01, -0.01, 0.02, 0.0], index=idx[:4])
    # on the 4 common dates (hand): ds = [.01,-.02,.02,-.01], df = [.005,-.015,.015,-.005]
    # sum(ds df) = 0.0007, sum(df^2) = 0.0005 -> h* = 1.4
    assert min_variance_hedge_ratio(s, f).hedge_ratio == pytest.approx(1.4, rel=1e-12)


def test_hedge_effectiveness_by_hand():
    """Effectiveness 1 - Var(s - h f)/Var(s) on a small hand-worked series."""
    s = [0.02, -0.01, 0.03, 0.0]
    f = [0.01, -0.01, 0.02, 0.0]
    # mean(s) = 0.01, ds = [.01, -.02, .02, -.01] -> sum ds^2 = 0.001 -> Var(s) = 0.00025
    # h = 1: s - f = [.01, 0, .01, 0], mean .005, deviations +-.005 -> Var = 0.000025
    # effectiveness = 1 - 0.000025 / 0.00025 = 1 - 0.1 = 0.9
    assert hedge_effectiveness(s, f, 1.0) == pytest.approx(0.9, rel=1e-12)


# --------------------------------------------------------------------------- properties
_values = st.lists(st.floats(1.0, 1e7), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), target=st.floats(-2.0, 2.0))
def test_property_hedged_beta_equals_target(data, target):
    """After shorting the unrounded hedge notional the portfolio beta equals the target."""
    v = np.array(data.draw(_values))
    n = v.size
    # optionally turn the last holding into a short, keeping V_S clearly positive
    if n > 1 and data.draw(st.booleans()):
        v[-1] = -min(v[-1], 0.5 * v[:-1].sum())
    betas = data.draw(st.lists(st.floats(-1.0, 3.0), min_size=n, max_size=n))
    h = hedge_notional(v, betas, target_beta=target)
    got = portfolio_beta(v, betas, hedge_notional_usd=h.target_notional_usd)
    scale = (np.sum(np.abs(v * np.array(betas))) + abs(target) * v.sum()) / v.sum()
    assert abs(got - target) <= 1e-12 * max(1.0, scale)


@settings(max_examples=150, deadline=None)
@given(
    values=_values,
    data=st.data(),
)
def test_property_positive_book_gives_non_negative_hedge(values, data):
    """Positive values and betas with target 0 give a non-negative (short) hedge."""
    betas = data.draw(st.lists(st.floats(0.0, 3.0), min_size=len(values),
                               max_size=len(values)))
    assert hedge_notional(values, betas).target_notional_usd >= 0.0


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    target=st.floats(-1.0, 1.0),
    r_btc=st.floats(-0.5, 0.5),
    r_eth=st.floats(-0.5, 0.5),
)
def test_property_two_leg_residual_is_target_times_composite(data, target, r_btc, r_eth):
    """After the two-leg hedge the book's factor P&L is target x V_S x the 50/50 composite."""
    n = data.draw(st.integers(1, 6))
    v = np.array(data.draw(st.lists(st.floats(1.0, 1e6), min_size=n, max_size=n)))
    bb = np.array(data.draw(st.lists(st.floats(-1, 2), min_size=n, max_size=n)))
    be = np.array(data.draw(st.lists(st.floats(-1, 2), min_size=n, max_size=n)))
    h = two_instrument_hedge(v, bb, be, target_beta=target)
    pnl = np.sum(v * (bb * r_btc + be * r_eth)) - h.btc_notional_usd * r_btc \
        - h.eth_notional_usd * r_eth
    expected = target * v.sum() * (0.5 * r_btc + 0.5 * r_eth)
    scale = np.sum(np.abs(v) * (np.abs(bb) + np.abs(be))) + abs(target) * v.sum()
    assert abs(pnl - expected) <= 1e-12 * max(1.0, scale)


# --------------------------------------------------------------------------- errors
def test_non_positive_portfolio_value_raises():
    """V_S <= 0 raises DegenerateDataError naming V_S as the denominator."""
    with pytest.raises(DegenerateDataError, match=r"V_S .* must be > 0 .*denominator"):
        portfolio_beta([100.0, -100.0], [1.0, 1.0])
    with pytest.raises(DegenerateDataError, match=r"must be > 0"):
        hedge_notional([-50.0], [1.0])
    with pytest.raises(DegenerateDataError, match=r"must be > 0"):
        two_instrument_hedge([-50.0], [1.0], [1.0], target_beta=0.5)


def test_mismatched_lengths_raise():
    """Betas of a different length than values raise InsufficientDataError."""
    with pytest.raises(InsufficientDataError, match=r"betas must have the same length .*\(3\)"):
        hedge_notional([1.0, 2.0, 3.0], [1.0, 1.0])
    with pytest.raises(InsufficientDataError, match="betas_eth must have the same length"):
        two_instrument_hedge([1.0, 2.0], [1.0, 1.0], [1.0])
    with pytest.raises(InsufficientDataError, match="futures_returns must have the same"):
        min_variance_hedge_ratio([0.1, 0.2, 0.3], [0.1, 0.2])


def test_nan_names_position_index():
    """A NaN value or beta raises DomainError naming the position index."""
    with pytest.raises(DomainError, match=r"values_usd\[1\] \(position 1\) must be a number"):
        hedge_notional([1.0, float("nan"), 3.0], [1.0, 1.0, 1.0])
    with pytest.raises(DomainError, match=r"betas\[2\] \(position 2\)"):
        portfolio_beta([1.0, 2.0, 3.0], [1.0, 1.0, np.nan])


def test_other_bad_inputs():
    """Empty book, text, zero dollar beta and a non-finite target raise typed errors."""
    with pytest.raises(InsufficientDataError, match="at least 1 position"):
        portfolio_value_usd([])
    with pytest.raises(InputTypeError, match="must contain only numbers"):
        hedge_notional(["a"], [1.0])
    with pytest.raises(DegenerateDataError, match=r"dollar beta .* must be non-zero"):
        beta_contributions([100.0, 100.0], [1.0, -1.0])
    with pytest.raises(DomainError, match="target_beta must be finite"):
        hedge_notional([100.0], [1.0], target_beta=float("inf"))


def test_min_variance_bad_inputs():
    """Too few pairs and zero variance raise typed errors naming the rule."""
    with pytest.raises(InsufficientDataError, match=">= 3 complete pairs, got 2"):
        min_variance_hedge_ratio([0.1, np.nan, 0.2, 0.3], [0.1, 0.2, np.nan, 0.1])
    with pytest.raises(DegenerateDataError, match="futures_returns must have non-zero variance"):
        min_variance_hedge_ratio([0.1, 0.2, 0.3], [0.01, 0.01, 0.01])
    with pytest.raises(DegenerateDataError, match="spot_returns must have non-zero variance"):
        hedge_effectiveness([0.0, 0.0, 0.0], [0.1, 0.2, 0.3], 1.0)
