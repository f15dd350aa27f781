"""Tests of betaneutral.core.rebalance: the band trigger and the correcting order."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from betaneutral.core.portfolio import portfolio_beta
from betaneutral.core.rebalance import rebalance_signal
from betaneutral.errors import DegenerateDataError, DomainError, InsufficientDataError

BOOK_V = [50_000.0, 30_000.0, 20_000.0]
BOOK_B = [1.1, 1.4, 1.2]  # dollar beta 55,000 + 42,000 + 24,000 = 121,000; V_S = 100,000


def test_breach_sells_more():
    """An under-hedged book breaches the band and the order is a positive (sell) notional."""
    # hedge 114,000: beta_p = (121,000 - 114,000) / 100,000 = 0.07 > 0.05
    s = rebalance_signal(BOOK_V, BOOK_B, 114_000)
    assert s.portfolio_beta == pytest.approx(0.07, abs=1e-14)
    assert s.drift == pytest.approx(0.07, abs=1e-14)
    assert s.breach is True
    assert s.order_notional_usd == pytest.approx(7_000.0, abs=1e-8)  # 0.07 * 100,000
    assert s.drift_se is None
    assert s.exceeds_se is None


def test_over_hedged_buys_back():
    """An over-hedged book gives a negative order notional (buy back)."""
    # hedge 130,000: beta_p = (121,000 - 130,000) / 100,000 = -0.09
    s = rebalance_signal(BOOK_V, BOOK_B, 130_000)
    assert s.drift == pytest.approx(-0.09, abs=1e-14)
    assert s.breach is True
    assert s.order_notional_usd == pytest.approx(-9_000.0, abs=1e-8)


def test_inside_band_no_breach_but_order_reported():
    """A drift inside the band is not a breach; the restoring notional is still reported."""
    # hedge 118,000: beta_p = 0.03 < 0.05
    s = rebalance_signal(BOOK_V, BOOK_B, 118_000)
    assert s.breach is False
    assert s.order_notional_usd == pytest.approx(3_000.0, abs=1e-8)


def test_band_edge_is_not_a_breach():
    """A drift exactly equal to the band is not a breach (strict inequality)."""
    # V = 100, b = 1, H = 95: beta_p = 5 / 100 = 0.05 exactly in binary (correctly rounded)
    s = rebalance_signal([100.0], [1.0], 95.0, band=0.05)
    assert s.drift == 0.05
    assert s.breach is False
    assert rebalance_signal([100.0], [1.0], 94.0, band=0.05).breach is True


def test_target_beta_non_zero():
    """Drift is measured from the target and the order restores the target."""
    # target 0.2: beta_p with H = 100,000 is 0.21, drift 0.01; order = 0.01 * 100,000 = 1,000
    s = rebalance_signal(BOOK_V, BOOK_B, 100_000, target_beta=0.2, band=0.005)
    assert s.drift == pytest.approx(0.01, abs=1e-14)
    assert s.breach is True
    assert s.order_notional_usd == pytest.approx(1_000.0, abs=1e-8)


def test_drift_se_by_hand():
    """drift_se = sqrt(sum (w_i se_i)^2) and exceeds_se compares |drift| with it."""
    # w = [0.5, 0.3, 0.2], se = [0.07, 0.10, 0.15]
    # (0.035)^2 + (0.03)^2 + (0.03)^2 = 0.001225 + 0.0009 + 0.0009 = 0.003025 -> sqrt = 0.055
    s = rebalance_signal(BOOK_V, BOOK_B, 114_000, beta_se=[0.07, 0.10, 0.15])
    assert s.drift_se == pytest.approx(0.055, rel=1e-12)
    assert s.exceeds_se is True  # 0.07 > 0.055
    # hedge 116,000: drift = 0.05, not a breach and below the SE 0.055
    s2 = rebalance_signal(BOOK_V, BOOK_B, 116_000, beta_se=[0.07, 0.10, 0.15])
    assert s2.exceeds_se is False


def test_breach_within_estimation_noise():
    """A band breach smaller than the beta's standard error is flagged as within noise."""
    # single holding: V = 100,000, b = 1.2, se = 0.10 -> drift_se = 1.0 * 0.10 = 0.10
    # H = 114,000: drift = (120,000 - 114,000) / 100,000 = 0.06 > band 0.05 but < 0.10
    s = rebalance_signal(100_000, 1.2, 114_000, beta_se=0.10)
    assert s.breach is True
    assert s.drift_se == pytest.approx(0.10, rel=1e-15)
    assert s.exceeds_se is False


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    target=st.floats(-1.0, 1.0),
    hedge_frac=st.floats(-0.5, 2.0),
)
def test_property_order_restores_target(data, target, hedge_frac):
    """Applying the order notional to the current hedge brings the beta back to the target."""
    n = data.draw(st.integers(1, 8))
    v = np.array(data.draw(st.lists(st.floats(1.0, 1e7), min_size=n, max_size=n)))
    b = np.array(data.draw(st.lists(st.floats(-1.0, 3.0), min_size=n, max_size=n)))
    current = hedge_frac * float(np.dot(v, b))
    s = rebalance_signal(v, b, current, target_beta=target)
    after = portfolio_beta(v, b, hedge_notional_usd=current + s.order_notional_usd)
    scale = (np.sum(np.abs(v * b)) + abs(current) + abs(target) * v.sum()) / v.sum()
    assert abs(after - target) <= 1e-12 * max(1.0, scale)
    assert s.breach == (abs(s.drift) > 0.05)


# --------------------------------------------------------------------------- errors
def test_negative_band_raises():
    """A negative band raises DomainError naming the rule."""
    with pytest.raises(DomainError, match=r"band must be >= 0, got -0\.01"):
        rebalance_signal(BOOK_V, BOOK_B, 100_000, band=-0.01)


def test_bad_beta_se_raises():
    """Negative, NaN or mis-sized beta_se raise typed errors."""
    with pytest.raises(DomainError, match=r"beta_se\[1\] \(position 1\) must be >= 0"):
        rebalance_signal(BOOK_V, BOOK_B, 0.0, beta_se=[0.1, -0.1, 0.1])
    with pytest.raises(DomainError, match=r"beta_se\[0\] .* not NaN"):
        rebalance_signal(BOOK_V, BOOK_B, 0.0, beta_se=[math.nan, 0.1, 0.1])
    with pytest.raises(InsufficientDataError, match="beta_se must have the same length"):
        rebalance_signal(BOOK_V, BOOK_B, 0.0, beta_se=[0.1, 0.1])


def test_bad_book_raises():
    """V_S <= 0, mismatched lengths and NaN betas raise typed errors."""
    with pytest.raises(DegenerateDataError, match=r"V_S .* must be > 0"):
        rebalance_signal([100.0, -100.0], [1.0, 1.0], 0.0)
    with pytest.raises(InsufficientDataError, match="betas must have the same length"):
        rebalance_signal([100.0, 100.0], [1.0], 0.0)
    with pytest.raises(DomainError, match=r"betas\[0\] \(position 0\)"):
        rebalance_signal([100.0], [math.nan], 0.0)
