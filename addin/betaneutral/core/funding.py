"""Funding of perpetual swaps and basis of dated futures.

Sign convention: amounts are seen from the hedge. A short receives funding when
the funding rate is positive (longs pay shorts), so a positive result is money
received.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from betaneutral.core._validate import (
    FloatArray,
    as_float,
    choice,
    float_array,
    non_negative,
    positive,
)
from betaneutral.errors import DomainError, InsufficientDataError

__all__ = [
    "Basis",
    "annualised_funding_rate",
    "basis",
    "funding_carry_usd",
    "funding_payment_usd",
    "funding_sums_by_period",
]

_HOURS_PER_YEAR = 365.0 * 24.0


def funding_payment_usd(
    position_notional_usd: float,
    funding_rate: float,
    *,
    side: Literal["short", "long"] = "short",
) -> float:
    """Funding exchanged at one funding time, signed (> 0 received).

    Parameters
    ----------
    position_notional_usd : float
        Position notional at the mark price, USD, >= 0.
    funding_rate : float
        Funding rate of the interval (0.0001 = 0.01 %).
    side : {"short", "long"}, default "short"
        Side of the position.

    Returns
    -------
    float
        ``+notional * rate`` for a short, ``-notional * rate`` for a long.

    Raises
    ------
    DomainError
        If the notional is negative or a number is not finite.
    UnknownNameError
        If ``side`` is not "short" or "long".

    Notes
    -----
    Payment = nominal value of the position x funding rate; when the rate is
    positive longs pay shorts, when negative shorts pay longs. The result is in
    the unit of the notional (USD here; pass a coin notional for a coin amount).

    Examples
    --------
    >>> funding_payment_usd(50_000.0, 0.0001)
    5.0
    >>> funding_payment_usd(50_000.0, 0.0001, side="long")
    -5.0
    """
    notional = non_negative("position_notional_usd", position_notional_usd)
    rate = as_float("funding_rate", funding_rate)
    sign = 1.0 if choice("side", side, ("short", "long")) == "short" else -1.0
    return sign * notional * rate


def _rates(values: Any) -> FloatArray:
    arr = float_array("funding_rate_per_interval", values, ndim=1)
    if np.isnan(arr).any():
        raise DomainError("funding_rate_per_interval must not contain NaN (missing rates)")
    return arr


def funding_carry_usd(
    short_notional_usd: float,
    funding_rate_per_interval: float | Any,
    horizon_hours: float,
    *,
    interval_hours: float = 8.0,
    partial_intervals: Literal["drop", "pro_rata"] = "drop",
) -> float:
    """Funding a short hedge earns over a horizon (> 0 received).

    Parameters
    ----------
    short_notional_usd : float
        Hedge notional in USD, held constant; > 0 is a short (negative: a long).
    funding_rate_per_interval : float or array_like
        One rate applied to every interval, or the sequence of per-interval rates in
        time order (the first applies to the first funding time).
    horizon_hours : float
        Holding period in hours, >= 0.
    interval_hours : float, default 8
        Hours between funding times, > 0.
    partial_intervals : {"drop", "pro_rata"}, default "drop"
        "drop": only whole intervals count, ``floor(horizon / interval)`` funding
        times (funding is paid only to positions open at a funding time; this
        assumes the position opens just after one). "pro_rata": the fraction of the
        last interval earns that fraction of its rate (an expected value over entry
        times).

    Returns
    -------
    float
        ``short_notional_usd * sum of the rates over the horizon``.

    Raises
    ------
    DomainError
        If the horizon is negative, the interval is not > 0 or rates contain NaN.
    InsufficientDataError
        If fewer per-interval rates are given than the horizon needs.
    UnknownNameError
        If ``partial_intervals`` is not one of the options.

    Notes
    -----
    With k = horizon / interval: scalar rate r gives ``V * r * floor(k)`` ("drop")
    or ``V * r * k`` ("pro_rata"); a rate array gives ``V * sum(r[:floor(k)])``
    plus ``V * (k - floor(k)) * r[floor(k)]`` for "pro_rata".

    Examples
    --------
    >>> funding_carry_usd(1_000_000.0, 0.0001, 24.0)
    300.0
    >>> round(funding_carry_usd(1_000_000.0, [0.0001, -0.0002, 0.0003], 20.0,
    ...                         partial_intervals="pro_rata"), 6)
    50.0
    """
    notional = as_float("short_notional_usd", short_notional_usd)
    horizon = non_negative("horizon_hours", horizon_hours)
    interval = positive("interval_hours", interval_hours)
    mode = choice("partial_intervals", partial_intervals, ("drop", "pro_rata"))
    k = horizon / interval
    if not math.isfinite(k):
        raise DomainError(f"horizon_hours / interval_hours must be finite, got "
                          f"{horizon!r} / {interval!r}")
    whole = math.floor(k + 1e-9)
    frac = max(k - whole, 0.0) if mode == "pro_rata" else 0.0
    if np.ndim(funding_rate_per_interval) == 0:
        rate = as_float("funding_rate_per_interval", funding_rate_per_interval)
        return notional * rate * (whole + frac)
    rates = _rates(funding_rate_per_interval)
    needed = whole + (1 if frac > 0.0 else 0)
    if rates.size < needed:
        raise InsufficientDataError(
            f"funding_rate_per_interval must have at least {needed} rates for "
            f"{horizon:g} hours at {interval:g}-hour intervals, got {rates.size}"
        )
    total = float(rates[:whole].sum())
    if frac > 0.0:
        total += frac * float(rates[whole])
    return notional * total


def funding_sums_by_period(
    funding_times: Any, rates: Any, period_ends: Any
) -> tuple[FloatArray, np.ndarray]:
    """Sum of the funding rates paid in each period ``(end[t-1], end[t]]``.

    Parameters
    ----------
    funding_times : array_like of datetime64 or numbers, shape (K,)
        Times of the funding payments, strictly increasing.
    rates : array_like, shape (K,)
        Rate paid at each time (> 0: longs pay shorts).
    period_ends : array_like, same type as ``funding_times``, shape (T,)
        Ends of the periods, strictly increasing (e.g. each day's close).

    Returns
    -------
    sums : numpy.ndarray, shape (T,)
        ``sums[t] = sum of rates[k] with end[t-1] < time[k] <= end[t]`` for
        ``t >= 1``; ``sums[0]`` is NaN (the period before the first end is open).
    covered : numpy.ndarray of bool, shape (T,)
        True where the history spans the whole period: the first payment is no
        later than one interval (its gap to the second) after ``end[t-1]``, and
        the last payment is at or after ``end[t]``. False for ``t = 0``.

    Raises
    ------
    InsufficientDataError
        Fewer than 2 payments, or lengths that differ.
    DomainError
        Times or ends not strictly increasing, or a rate that is not finite.

    Notes
    -----
    Payments are counted at their own interval, however it changes over time:
    a day of 8-hour funding sums 3 rates, a day of 1-hour funding 24. The
    period end is inclusive, so a payment at 00:00 UTC belongs to the day
    that closes at that instant.

    Examples
    --------
    >>> t = np.array([8, 16, 24, 25, 26], dtype=float)  # hours: 8 h, then 1 h
    >>> rates = [1e-4, 1e-4, 1e-4, 2e-5, 2e-5]
    >>> sums, covered = funding_sums_by_period(t, rates, [0.0, 24.0, 26.0])
    >>> [round(float(x), 10) for x in sums[1:]], covered.tolist()
    ([0.0003, 4e-05], [False, True, True])
    """
    times = np.asarray(funding_times)
    ends = np.asarray(period_ends)
    values = float_array("rates", rates, ndim=1)
    if times.ndim != 1 or times.shape[0] != values.shape[0]:
        raise InsufficientDataError(f"funding_times and rates must have the same length, got "
                                    f"{times.shape} and {values.shape}")
    if times.shape[0] < 2:
        raise InsufficientDataError(f"funding_times must hold at least 2 payments, got "
                                    f"{times.shape[0]}")
    if not np.isfinite(values).all():
        raise DomainError("rates must be finite numbers (no NaN or inf)")
    for name, arr in (("funding_times", times), ("period_ends", ends)):
        if arr.ndim != 1 or not (arr[1:] > arr[:-1]).all():
            raise DomainError(f"{name} must be strictly increasing")
    idx = np.searchsorted(times, ends, side="right")
    cum = np.concatenate([[0.0], np.cumsum(values)])
    sums = np.full(ends.shape[0], np.nan)
    sums[1:] = cum[idx[1:]] - cum[idx[:-1]]
    first_gap = times[1] - times[0]
    covered = np.zeros(ends.shape[0], dtype=bool)
    covered[1:] = (times[0] - first_gap <= ends[:-1]) & (ends[1:] <= times[-1])
    return sums, covered


def annualised_funding_rate(
    rate: float | Any, *, interval_hours: float = 8.0
) -> float | FloatArray:
    """Annualise a per-interval funding rate (simple, not compounded).

    Parameters
    ----------
    rate : float or array_like
        Funding rate per interval (0.0001 = 0.01 %); arrays are converted elementwise.
    interval_hours : float, default 8
        Hours between funding times, > 0.

    Returns
    -------
    float or numpy.ndarray
        ``rate * 365 * 24 / interval_hours`` (a float for a scalar input).

    Raises
    ------
    DomainError
        If ``interval_hours`` is not > 0 or a rate is infinite.

    Notes
    -----
    365-day year: 1,095 intervals a year at 8 hours. To annualise a history, pass
    its mean rate.

    Examples
    --------
    >>> round(annualised_funding_rate(0.0001), 10)
    0.1095
    >>> round(annualised_funding_rate(0.0001, interval_hours=1), 10)
    0.876
    """
    per_year = _HOURS_PER_YEAR / positive("interval_hours", interval_hours)
    if np.ndim(rate) == 0:
        return as_float("rate", rate) * per_year
    return float_array("rate", rate) * per_year


@dataclass(frozen=True)
class Basis:
    """Basis of a dated future to spot.

    Attributes
    ----------
    basis_usd : float
        ``F - S`` in USD per coin.
    basis_rate : float
        ``F / S - 1``.
    annualised_rate : float
        ``(F / S - 1) * 365 / days_to_expiry`` (simple, 365-day year).
    """

    basis_usd: float
    basis_rate: float
    annualised_rate: float


def basis(futures_price_usd: float, spot_price_usd: float, days_to_expiry: float) -> Basis:
    """Basis of a dated future, absolute, relative and annualised.

    Parameters
    ----------
    futures_price_usd : float
        Futures price F, USD per coin, > 0.
    spot_price_usd : float
        Spot (index) price S, USD per coin, > 0.
    days_to_expiry : float
        Calendar days to expiry, > 0.

    Returns
    -------
    Basis
        ``F - S``, ``F/S - 1`` and ``(F/S - 1) * 365 / days``.

    Raises
    ------
    DomainError
        If a price or the number of days is not > 0.

    Notes
    -----
    A short future with F > S gains the basis as it converges to spot at expiry
    (other things equal); rolling pays the new basis.

    Examples
    --------
    >>> b = basis(61_000.0, 60_000.0, 73.0)
    >>> b.basis_usd, round(b.annualised_rate, 10)
    (1000.0, 0.0833333333)
    """
    f = positive("futures_price_usd", futures_price_usd)
    s = positive("spot_price_usd", spot_price_usd)
    days = positive("days_to_expiry", days_to_expiry)
    rate = f / s - 1.0
    return Basis(basis_usd=f - s, basis_rate=rate, annualised_rate=rate * 365.0 / days)
