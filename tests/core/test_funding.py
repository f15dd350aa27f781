"""Tests of funding payments, carry, annualisation and basis (betaneutral.core.funding)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from betaneutral.core.funding import (
    annualised_funding_rate,
    basis,
    funding_carry_usd,
    funding_payment_usd,
)
from betaneutral.errors import DomainError, InsufficientDataError, UnknownNameError

# ----------------------------------------------------------------------------- official examples


def test_bitmex_guide_funding_example():
    """BitMEX's guide: 20 XBT position x 0.25% = 0.05 XBT, paid by the long to the short."""
    # https://www.bitmex.com/app/perpetualContractsGuideExamples (read 2026-11-25):
    # "Funding Amount = Mark Value * Funding Rate = 20 XBT * 0.25% = 0.05 XBT ... since he is
    # long the trader pays and his counterparty who is short receives 0.05 XBT".
    assert funding_payment_usd(20.0, 0.0025, side="long") == pytest.approx(-0.05)
    assert funding_payment_usd(20.0, 0.0025, side="short") == pytest.approx(0.05)
    # In USD: 15,000 contracts of 1 USD at 750 -> 15,000 x 0.25% = 37.5 USD = 0.05 XBT x 750
    assert funding_payment_usd(15_000.0, 0.0025) == pytest.approx(0.05 * 750.0)


def test_kraken_inverse_perpetual_funding_example():
    """Kraken's example: a 100,000-contract ($1 each) short earns $17.85 at 0.01785% an hour."""
    # https://support.kraken.com/hc/en-us/articles/360022835911-Inverse-Crypto-Collateral-
    # Perpetual-Contract-Specifications (read 2026-11-25), "Example Funding Rate 1":
    # "$17.85 for the one-hour period ($100,000*0.0001785) ... $17.85/$7,000 = 0.00255 BTC".
    assert funding_payment_usd(100_000.0, 0.0001785) == pytest.approx(17.85)
    carry = funding_carry_usd(100_000.0, 0.0001785, 1.0, interval_hours=1.0)
    assert carry == pytest.approx(17.85)
    assert carry / 7_000.0 == pytest.approx(0.00255)


# ----------------------------------------------------------------------------- payments


def test_negative_funding_is_paid_by_the_short():
    """When the rate is negative shorts pay longs: -0.01% on $50,000 costs the short $5."""
    assert funding_payment_usd(50_000.0, -0.0001) == pytest.approx(-5.0)
    assert funding_payment_usd(50_000.0, -0.0001, side="long") == pytest.approx(5.0)
    assert funding_payment_usd(0.0, 0.01) == 0.0


# ----------------------------------------------------------------------------- carry


def test_carry_scalar_rate_counts_whole_intervals_by_default():
    """30 hours at 8-hour intervals is 3 funding times ('drop') or 3.75 ('pro_rata')."""
    assert funding_carry_usd(1e6, 0.0001, 30.0) == pytest.approx(1e6 * 0.0001 * 3)
    assert funding_carry_usd(1e6, 0.0001, 30.0, partial_intervals="pro_rata") == pytest.approx(
        1e6 * 0.0001 * 3.75
    )
    assert funding_carry_usd(1e6, 0.0001, 24.0, interval_hours=4.0) == pytest.approx(600.0)
    assert funding_carry_usd(1e6, 0.0001, 0.0) == 0.0
    assert funding_carry_usd(-1e6, 0.0001, 24.0) == pytest.approx(-300.0)  # a long pays


def test_carry_with_a_rate_history_sums_the_intervals_in_order():
    """Per-interval rates are summed over the horizon, the partial one pro rata if asked."""
    rates = [0.0001, -0.0002, 0.0003, 0.0004]
    # 24 h = 3 intervals: 1e6 x (0.0001 - 0.0002 + 0.0003) = 200
    assert funding_carry_usd(1e6, rates, 24.0) == pytest.approx(200.0)
    # 20 h = 2.5 intervals: 1e6 x (0.0001 - 0.0002) + 0.5 x 1e6 x 0.0003 = -100 + 150
    assert funding_carry_usd(1e6, rates, 20.0, partial_intervals="pro_rata") == pytest.approx(
        50.0
    )
    assert funding_carry_usd(1e6, np.array(rates), 20.0) == pytest.approx(-100.0)


@settings(max_examples=100, deadline=None)
@given(
    notional=st.floats(-1e8, 1e8),
    rates=st.lists(st.floats(-0.003, 0.003), min_size=1, max_size=50),
)
def test_carry_over_a_full_history_equals_the_numpy_sum(notional, rates):
    """Carry over all given intervals equals notional x numpy's sum of the rates."""
    horizon = 8.0 * len(rates)
    expected = notional * float(np.sum(rates))
    assert funding_carry_usd(notional, rates, horizon) == pytest.approx(expected, abs=1e-6)


def test_carry_rejects_short_or_missing_histories():
    """Too few rates raise InsufficientDataError; NaN rates raise DomainError."""
    with pytest.raises(InsufficientDataError, match="must have at least 3 rates"):
        funding_carry_usd(1e6, [0.0001, 0.0001], 24.0)
    with pytest.raises(InsufficientDataError, match="must have at least 3 rates"):
        funding_carry_usd(1e6, [0.0001, 0.0001], 20.0, partial_intervals="pro_rata")
    with pytest.raises(DomainError, match="must not contain NaN"):
        funding_carry_usd(1e6, [0.0001, np.nan, 0.0001], 24.0)


# ----------------------------------------------------------------------------- annualised


def test_annualised_rate_uses_intervals_per_year():
    """0.01% per 8 hours is 0.0001 x 1,095 = 10.95% a year; per hour it is 87.6%."""
    assert annualised_funding_rate(0.0001) == pytest.approx(0.1095)
    assert annualised_funding_rate(0.0001, interval_hours=4.0) == pytest.approx(0.219)
    assert annualised_funding_rate(0.0001, interval_hours=1.0) == pytest.approx(0.876)
    out = annualised_funding_rate([0.0001, -0.0002])
    np.testing.assert_allclose(out, [0.1095, -0.219])


# ----------------------------------------------------------------------------- basis


def test_basis_absolute_relative_and_annualised():
    """F = 61,000, S = 60,000, 73 days: basis 1,000, rate 1/60, annualised (1/60) x 5."""
    b = basis(61_000.0, 60_000.0, 73.0)
    assert b.basis_usd == 1_000.0
    assert b.basis_rate == pytest.approx(1 / 60)
    assert b.annualised_rate == pytest.approx(1 / 60 * 365 / 73)
    backwardation = basis(59_400.0, 60_000.0, 36.5)
    assert backwardation.annualised_rate == pytest.approx(-0.01 * 10)


# ----------------------------------------------------------------------------- bad inputs


def test_bad_inputs_raise_typed_errors_naming_the_rule():
    """Negative notionals, bad intervals, days, prices and options raise typed errors."""
    with pytest.raises(DomainError, match="position_notional_usd must be >= 0"):
        funding_payment_usd(-1.0, 0.0001)
    with pytest.raises(UnknownNameError, match="side must be one of"):
        funding_payment_usd(1.0, 0.0001, side="flat")  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="interval_hours must be > 0"):
        funding_carry_usd(1e6, 0.0001, 24.0, interval_hours=0.0)
    with pytest.raises(DomainError, match="horizon_hours must be >= 0"):
        funding_carry_usd(1e6, 0.0001, -8.0)
    with pytest.raises(UnknownNameError, match="partial_intervals must be one of"):
        funding_carry_usd(1e6, 0.0001, 8.0, partial_intervals="round")  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="interval_hours must be > 0"):
        annualised_funding_rate(0.0001, interval_hours=-8.0)
    with pytest.raises(DomainError, match="days_to_expiry must be > 0"):
        basis(61_000.0, 60_000.0, 0.0)
    with pytest.raises(DomainError, match="spot_price_usd must be > 0"):
        basis(61_000.0, 0.0, 30.0)
    with pytest.raises(DomainError, match="futures_price_usd must be > 0"):
        basis(-1.0, 60_000.0, 30.0)


# ----------------------------------------------------------------- funding by period


def test_funding_sums_by_period_follow_each_payment_interval():
    """Hand-checked: 8-hour payments, then hourly ones from 2024-03-11 09:00 (UTC).

    Days end at 24:00 (inclusive): 03-10 gets 08:00, 16:00, 24:00 = 3 x 0.01%;
    03-11 gets 08:00 (0.01%) and 16 hourly 0.002% = 0.042%; 03-12 gets 24 x 0.002%.
    """
    from betaneutral.core.funding import funding_sums_by_period

    switch = np.datetime64("2024-03-11T08:00")
    times = np.concatenate([
        np.arange(np.datetime64("2024-03-09T16:00"), switch + 1, np.timedelta64(8, "h")),
        np.arange(switch + np.timedelta64(1, "h"), np.datetime64("2024-03-13T01:00"),
                  np.timedelta64(1, "h"))])
    rates = np.where(times <= switch, 0.0001, 0.00002)
    ends = np.array(["2024-03-10T00:00", "2024-03-11T00:00", "2024-03-12T00:00",
                     "2024-03-13T00:00"], dtype="datetime64[m]")
    sums, covered = funding_sums_by_period(times, rates, ends)
    assert np.isnan(sums[0])
    assert sums[1:].tolist() == pytest.approx([0.0003, 0.00042, 0.00048], rel=1e-12)
    assert covered.tolist() == [False, True, True, True]


def test_funding_sums_by_period_mark_uncovered_days_and_check_inputs():
    from betaneutral.core.funding import funding_sums_by_period

    times = np.array([16.0, 24.0, 32.0])  # hours; the history starts at 16 (interval 8)
    sums, covered = funding_sums_by_period(times, [1e-4, 2e-4, 3e-4], [0.0, 24.0, 48.0])
    assert sums[1:].tolist() == pytest.approx([3e-4, 3e-4])
    # day 1 (0, 24]: first payment 16 - 8 = 8 > 0, so hours 0-8 are not known;
    # day 2 (24, 48]: the history ends at 32
    assert covered.tolist() == [False, False, False]
    with pytest.raises(InsufficientDataError, match="at least 2 payments"):
        funding_sums_by_period([1.0], [1e-4], [0.0, 1.0])
    with pytest.raises(DomainError, match="funding_times must be strictly increasing"):
        funding_sums_by_period([2.0, 1.0], [1e-4, 1e-4], [0.0, 1.0])
    with pytest.raises(DomainError, match="finite"):
        funding_sums_by_period([1.0, 2.0], [1e-4, math.nan], [0.0, 1.0])
