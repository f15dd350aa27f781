"""Portfolio beta and hedge sizing.

A book is a list of holdings with USD values ``V_i`` (shorts negative) and
betas ``b_i`` to the hedge instrument's underlying (BTC). Its net value is
``V_S = sum V_i`` and its dollar beta is ``D = sum V_i b_i``: the USD change of
the book for a 100% move of BTC, to first order. A short hedge of ``H`` USD of
BTC futures (whose own beta to BTC is taken as ``hedge_beta``, 1 by default)
removes ``H * hedge_beta`` of dollar beta, so the hedged portfolio beta is
``(D - H * hedge_beta) / V_S``.

Sign convention: a hedge notional > 0 means *short* that many USD of the
instrument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from betaneutral.core._validate import FloatArray, as_float, float_array
from betaneutral.errors import (
    DegenerateDataError,
    DomainError,
    InputTypeError,
    InsufficientDataError,
)

__all__ = [
    "BetaContributions",
    "HedgeNotional",
    "MinVarianceHedge",
    "TwoLegHedge",
    "beta_contributions",
    "book_arrays",
    "hedge_effectiveness",
    "hedge_notional",
    "min_variance_hedge_ratio",
    "portfolio_beta",
    "portfolio_value_usd",
    "two_instrument_hedge",
]


# --------------------------------------------------------------------------- helpers
def _vector(name: str, values: Any) -> FloatArray:
    """One-dimensional float array (a scalar becomes length 1), no NaN, not empty."""
    arr = float_array(name, values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InputTypeError(f"{name} must be a number or a 1-dimensional list, got shape "
                             f"{arr.shape}")
    if arr.size == 0:
        raise InsufficientDataError(f"{name} must contain at least 1 position, got 0")
    nan = np.flatnonzero(np.isnan(arr))
    if nan.size:
        i = int(nan[0])
        raise DomainError(f"{name}[{i}] (position {i}) must be a number, not NaN, got nan")
    return arr


def book_arrays(values_usd: Any, *others: tuple[str, Any]) -> tuple[FloatArray, ...]:
    """Validate a book: ``values_usd`` plus same-length per-position arrays.

    ``others`` are ``(name, values)`` pairs. Returns the arrays in order.
    """
    v = _vector("values_usd", values_usd)
    out = [v]
    for name, values in others:
        arr = _vector(name, values)
        if arr.size != v.size:
            raise InsufficientDataError(
                f"{name} must have the same length as values_usd ({v.size}), got {arr.size}"
            )
        out.append(arr)
    return tuple(out)


def _net_value(v: FloatArray) -> float:
    """``V_S = sum V_i``, required > 0 because it is a denominator."""
    v_s = float(np.sum(v))
    if v_s <= 0.0:
        raise DegenerateDataError(
            "portfolio value V_S = sum(values_usd) must be > 0 (it is the denominator of "
            f"the portfolio beta), got {v_s!r}"
        )
    return v_s


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class BetaContributions:
    """Each position's share of the book's dollar beta.

    Attributes
    ----------
    dollar_beta_usd : numpy.ndarray
        ``V_i * b_i`` per position, USD of book P&L per 100% BTC move.
    share : numpy.ndarray
        ``V_i b_i / sum(V b)``; sums to 1 (entries may be negative with shorts).
    total_dollar_beta_usd : float
        ``sum V_i b_i``, USD.
    """

    dollar_beta_usd: FloatArray
    share: FloatArray
    total_dollar_beta_usd: float


@dataclass(frozen=True)
class HedgeNotional:
    """The short hedge that brings a book to a target beta.

    Attributes
    ----------
    target_notional_usd : float
        ``V_hedge = sum V_i b_i - target_beta * V_S``; > 0 means short this many
        USD of the instrument, < 0 means a long hedge.
    current_hedge_usd : float
        The hedge already held (same sign convention).
    change_usd : float
        ``target_notional_usd - current_hedge_usd``; > 0 means sell (short) more,
        < 0 means buy back.
    portfolio_value_usd : float
        ``V_S = sum V_i``, USD.
    portfolio_beta_unhedged : float
        ``sum V_i b_i / V_S``, the book's beta before any hedge.
    """

    target_notional_usd: float
    current_hedge_usd: float
    change_usd: float
    portfolio_value_usd: float
    portfolio_beta_unhedged: float


@dataclass(frozen=True)
class TwoLegHedge:
    """Short notionals of a hedge with BTC and ETH futures.

    Attributes
    ----------
    btc_notional_usd : float
        USD of BTC futures to short (< 0 means long).
    eth_notional_usd : float
        USD of ETH futures to short (< 0 means long).
    """

    btc_notional_usd: float
    eth_notional_usd: float


@dataclass(frozen=True)
class MinVarianceHedge:
    """Minimum-variance hedge ratio of a spot series on a futures series.

    Attributes
    ----------
    hedge_ratio : float
        ``h* = Cov(s, f) / Var(f)``: USD of futures to short per USD of spot.
    effectiveness : float
        Share of the spot variance the hedge removes, ``rho**2``.
    correlation : float
        Pearson correlation ``rho`` of the paired returns.
    n : int
        Number of (spot, futures) pairs used after dropping incomplete pairs.
    """

    hedge_ratio: float
    effectiveness: float
    correlation: float
    n: int


# --------------------------------------------------------------------------- functions
def portfolio_value_usd(values_usd: Any) -> float:
    """Net value of a book.

    Parameters
    ----------
    values_usd : float or array_like of float
        Position values in USD; shorts negative.

    Returns
    -------
    float
        ``V_S = sum V_i`` in USD.

    Raises
    ------
    InputTypeError
        Non-numeric values.
    DomainError
        A NaN (the message names the position index) or an infinity.
    InsufficientDataError
        An empty book.

    Notes
    -----
    V_S = sum_i V_i

    Examples
    --------
    >>> portfolio_value_usd([50_000, 30_000, 20_000])
    100000.0
    """
    (v,) = book_arrays(values_usd)
    return float(np.sum(v))


def portfolio_beta(
    values_usd: Any,
    betas: Any,
    *,
    hedge_notional_usd: float = 0.0,
    hedge_beta: float = 1.0,
) -> float:
    """Value-weighted beta of a book, net of a short futures hedge.

    Parameters
    ----------
    values_usd : float or array_like of float
        Position values in USD; shorts negative.
    betas : float or array_like of float
        Each position's beta to the hedge instrument's underlying (BTC), same length.
    hedge_notional_usd : float, default 0
        USD notional of the hedge; > 0 means short.
    hedge_beta : float, default 1
        Beta of the hedge instrument to the benchmark (1 for BTC futures against BTC,
        ignoring basis).

    Returns
    -------
    float
        ``beta_p = (sum V_i b_i - H * hedge_beta) / V_S``.

    Raises
    ------
    InsufficientDataError
        Empty book or mismatched lengths.
    DomainError
        NaN in values or betas (the position index is named), or infinities.
    DegenerateDataError
        ``V_S = sum V_i <= 0``: the net value is the denominator.

    Notes
    -----
    With value weights ``w_i = V_i / V_S``,

    .. math:: \\beta_p = \\sum_i w_i \\beta_i - \\frac{H\\,\\beta_H}{V_S}

    Examples
    --------
    Dollar beta 50,000*1.0 + 30,000*1.2 + 20,000*1.5 = 116,000 on V_S = 100,000:

    >>> round(portfolio_beta([50_000, 30_000, 20_000], [1.0, 1.2, 1.5]), 12)
    1.16
    >>> round(portfolio_beta([50_000, 30_000, 20_000], [1.0, 1.2, 1.5],
    ...                      hedge_notional_usd=116_000), 12)
    0.0
    """
    v, b = book_arrays(values_usd, ("betas", betas))
    h = as_float("hedge_notional_usd", hedge_notional_usd)
    hb = as_float("hedge_beta", hedge_beta)
    v_s = _net_value(v)
    return float((np.dot(v, b) - h * hb) / v_s)


def beta_contributions(values_usd: Any, betas: Any) -> BetaContributions:
    """Split a book's dollar beta by position.

    Parameters
    ----------
    values_usd : float or array_like of float
        Position values in USD; shorts negative.
    betas : float or array_like of float
        Betas to BTC, same length.

    Returns
    -------
    BetaContributions
        Dollar beta per position, its share of the total, and the total.

    Raises
    ------
    InsufficientDataError
        Empty book or mismatched lengths.
    DomainError
        NaN in values or betas (the position index is named).
    DegenerateDataError
        The total dollar beta is 0, so shares are undefined.

    Notes
    -----
    dollar_beta_i = V_i b_i ; share_i = V_i b_i / sum_j V_j b_j

    Examples
    --------
    >>> c = beta_contributions([50_000, 30_000, 20_000], [1.0, 1.2, 1.5])
    >>> c.dollar_beta_usd.round(6).tolist(), round(c.total_dollar_beta_usd, 6)
    ([50000.0, 36000.0, 30000.0], 116000.0)
    >>> c.share.round(4).tolist()
    [0.431, 0.3103, 0.2586]
    """
    v, b = book_arrays(values_usd, ("betas", betas))
    dollar = v * b
    total = float(np.sum(dollar))
    if total == 0.0:
        raise DegenerateDataError(
            "total dollar beta sum(values_usd * betas) must be non-zero to compute shares, "
            "got 0.0"
        )
    return BetaContributions(dollar_beta_usd=dollar, share=dollar / total,
                             total_dollar_beta_usd=total)


def hedge_notional(
    values_usd: Any,
    betas: Any,
    *,
    target_beta: float = 0.0,
    current_hedge_usd: float = 0.0,
) -> HedgeNotional:
    """USD notional of BTC futures to short so that the book's beta equals a target.

    Parameters
    ----------
    values_usd : float or array_like of float
        Position values in USD (a single number for a one-line book); shorts negative.
    betas : float or array_like of float
        Betas to BTC (the hedge instrument), same length as ``values_usd``.
    target_beta : float, default 0
        Portfolio beta wanted after the hedge (0 = beta neutral).
    current_hedge_usd : float, default 0
        Short notional already held, USD (> 0 short).

    Returns
    -------
    HedgeNotional
        Target notional, the change from the current hedge, ``V_S`` and the
        unhedged beta.

    Raises
    ------
    InsufficientDataError
        Empty book or mismatched lengths.
    DomainError
        NaN in values or betas (the position index is named), or a non-finite
        ``target_beta`` / ``current_hedge_usd``.
    DegenerateDataError
        ``V_S <= 0``: a beta target is relative to the net value.

    Notes
    -----
    The hedge instrument is assumed to have beta 1 to BTC (basis ignored):

    V_hedge = sum_i V_i b_i - target_beta * V_S ;  change = V_hedge - current_hedge_usd

    For a single holding and target 0 this is the textbook ``V_hedge = V_S * beta_S``.

    Examples
    --------
    >>> h = hedge_notional([50_000, 30_000, 20_000], [1.0, 1.2, 1.5],
    ...                    current_hedge_usd=100_000)
    >>> round(h.target_notional_usd, 6), round(h.change_usd, 6)
    (116000.0, 16000.0)
    >>> round(hedge_notional(100_000, 1.2, target_beta=0.2).target_notional_usd, 6)
    100000.0
    """
    v, b = book_arrays(values_usd, ("betas", betas))
    target = as_float("target_beta", target_beta)
    current = as_float("current_hedge_usd", current_hedge_usd)
    v_s = _net_value(v)
    dollar_beta = float(np.dot(v, b))
    v_hedge = dollar_beta - target * v_s
    if not math.isfinite(v_hedge):
        raise DomainError(f"sum(values_usd * betas) - target_beta * V_S must be finite, got "
                          f"{v_hedge!r} (values or betas beyond the float range)")
    return HedgeNotional(
        target_notional_usd=v_hedge,
        current_hedge_usd=current,
        change_usd=v_hedge - current,
        portfolio_value_usd=v_s,
        portfolio_beta_unhedged=dollar_beta / v_s,
    )


def two_instrument_hedge(
    values_usd: Any,
    betas_btc: Any,
    betas_eth: Any,
    *,
    target_beta: float = 0.0,
) -> TwoLegHedge:
    """Hedge a book with both BTC and ETH futures, from two-factor betas.

    Parameters
    ----------
    values_usd : float or array_like of float
        Position values in USD; shorts negative.
    betas_btc, betas_eth : float or array_like of float
        Each position's *multivariate* betas, i.e. the slopes of the regression
        ``r_i = a + b_btc r_BTC + b_eth r_ETH + e`` estimated jointly (not two
        separate one-factor betas).
    target_beta : float, default 0
        Beta wanted to the 50/50 BTC/ETH composite benchmark after the hedge.

    Returns
    -------
    TwoLegHedge
        USD notionals to short of BTC futures and of ETH futures.

    Raises
    ------
    InsufficientDataError
        Empty book or mismatched lengths.
    DomainError
        NaN in values or betas (the position index is named).
    DegenerateDataError
        ``V_S <= 0`` while ``target_beta`` is non-zero (the target is relative to ``V_S``).

    Notes
    -----
    Each leg removes the book's dollar exposure to its own factor (futures betas to
    their underlying taken as 1):

    H_BTC = sum V_i b_btc,i - 0.5 * target_beta * V_S
    H_ETH = sum V_i b_eth,i - 0.5 * target_beta * V_S

    How the target applies: a two-leg hedge is the choice when the benchmark is the
    50/50 BTC/ETH composite ``r_c = 0.5 r_BTC + 0.5 r_ETH``. The hedged book is left
    with exposure ``target_beta * V_S`` to that composite and nothing else, i.e.
    half of the target exposure on each factor. With ``target_beta = 0`` both
    factors are neutralised.

    When only BTC futures are used, size the hedge with :func:`hedge_notional` and
    betas to **BTC** (the instrument), whatever benchmark is chosen for reporting:
    the hedge's P&L follows BTC, so only the beta to BTC tells how much BTC P&L
    the hedge must offset. A beta to the composite would over- or under-hedge by
    the share of the composite that is ETH.

    Examples
    --------
    SOL 100,000 (0.8 BTC, 0.6 ETH) and LINK 50,000 (0.4 BTC, 0.9 ETH):
    BTC leg 80,000 + 20,000 = 100,000; ETH leg 60,000 + 45,000 = 105,000.

    >>> h = two_instrument_hedge([100_000, 50_000], [0.8, 0.4], [0.6, 0.9])
    >>> round(h.btc_notional_usd, 6), round(h.eth_notional_usd, 6)
    (100000.0, 105000.0)
    """
    v, bb, be = book_arrays(values_usd, ("betas_btc", betas_btc), ("betas_eth", betas_eth))
    target = as_float("target_beta", target_beta)
    keep = 0.0 if target == 0.0 else 0.5 * target * _net_value(v)
    return TwoLegHedge(
        btc_notional_usd=float(np.dot(v, bb)) - keep,
        eth_notional_usd=float(np.dot(v, be)) - keep,
    )


def _paired_returns(spot_returns: Any, futures_returns: Any) -> tuple[FloatArray, FloatArray]:
    """Two return series paired by position (Series: inner-joined on the index first),
    with every pair that has a NaN on either side removed."""
    if isinstance(spot_returns, pd.Series) and isinstance(futures_returns, pd.Series):
        spot_returns, futures_returns = spot_returns.align(futures_returns, join="inner")
    s = float_array("spot_returns", spot_returns, ndim=1)
    f = float_array("futures_returns", futures_returns, ndim=1)
    if s.size != f.size:
        raise InsufficientDataError(
            f"futures_returns must have the same length as spot_returns ({s.size}), "
            f"got {f.size}"
        )
    keep = ~(np.isnan(s) | np.isnan(f))
    s, f = s[keep], f[keep]
    if s.size < 3:
        raise InsufficientDataError(
            f"spot_returns and futures_returns must have >= 3 complete pairs, got {s.size}"
        )
    return s, f


def _check_variance(name: str, x: FloatArray) -> None:
    if np.ptp(x) == 0.0:
        raise DegenerateDataError(
            f"{name} must have non-zero variance, got {x.size} identical values ({x[0]!r})"
        )


def min_variance_hedge_ratio(spot_returns: Any, futures_returns: Any) -> MinVarianceHedge:
    """Minimum-variance hedge ratio of spot returns on futures returns.

    Parameters
    ----------
    spot_returns : array_like of float
        Simple returns of the spot book (or one asset) per period. NaN = missing.
    futures_returns : array_like of float
        Simple returns of the futures over the same periods, paired by position
        (two pandas Series are first inner-joined on their index).

    Returns
    -------
    MinVarianceHedge
        ``h*``, hedging effectiveness ``rho**2``, correlation and the pair count.

    Raises
    ------
    InsufficientDataError
        Mismatched lengths, or fewer than 3 complete pairs.
    DegenerateDataError
        Futures returns (or spot returns) with zero variance.
    DomainError
        Infinite values.

    Notes
    -----
    Pairs with a NaN on either side are dropped (pairwise deletion). With
    deviations from the means ``ds, df``:

    h* = sum(ds df) / sum(df^2) = Cov(s, f) / Var(f)   (the OLS slope of s on f)
    rho = sum(ds df) / sqrt(sum(ds^2) sum(df^2)) ;  effectiveness = rho^2

    Shorting ``h*`` USD of futures per USD of spot minimises ``Var(s - h f)``, and
    ``1 - Var(s - h* f) / Var(s) = rho^2``.

    Examples
    --------
    >>> r = min_variance_hedge_ratio([0.02, -0.01, 0.03, 0.0], [0.01, -0.01, 0.02, 0.0])
    >>> round(r.hedge_ratio, 12), r.n
    (1.4, 4)
    """
    s, f = _paired_returns(spot_returns, futures_returns)
    _check_variance("futures_returns", f)
    _check_variance("spot_returns", s)
    ds, dfut = s - s.mean(), f - f.mean()
    sxy = float(np.dot(ds, dfut))
    sxx = float(np.dot(dfut, dfut))
    syy = float(np.dot(ds, ds))
    rho = sxy / np.sqrt(sxx * syy)
    rho = float(min(1.0, max(-1.0, rho)))
    return MinVarianceHedge(hedge_ratio=sxy / sxx, effectiveness=rho * rho, correlation=rho,
                            n=int(s.size))


def hedge_effectiveness(spot_returns: Any, futures_returns: Any, hedge_ratio: float) -> float:
    """Share of the spot return variance removed by a futures hedge.

    Parameters
    ----------
    spot_returns : array_like of float
        Simple returns of the spot book per period. NaN = missing.
    futures_returns : array_like of float
        Simple returns of the futures, paired by position.
    hedge_ratio : float
        USD of futures shorted per USD of spot.

    Returns
    -------
    float
        ``1 - Var(s - h f) / Var(s)``; 1 is a perfect hedge, 0 no reduction, and it is
        negative when the hedge adds variance.

    Raises
    ------
    InsufficientDataError
        Mismatched lengths, or fewer than 3 complete pairs.
    DegenerateDataError
        Spot returns with zero variance.
    DomainError
        A non-finite ``hedge_ratio`` or infinite returns.

    Notes
    -----
    Same pairwise deletion as :func:`min_variance_hedge_ratio`. The variance ratio
    does not depend on the degrees-of-freedom convention.

    Examples
    --------
    >>> round(hedge_effectiveness([0.02, -0.01, 0.03], [0.02, -0.01, 0.03], 1.0), 12)
    1.0
    >>> round(hedge_effectiveness([0.02, -0.01, 0.03], [0.02, -0.01, 0.03], 0.0), 12)
    0.0
    """
    s, f = _paired_returns(spot_returns, futures_returns)
    h = as_float("hedge_ratio", hedge_ratio)
    _check_variance("spot_returns", s)
    resid = s - h * f
    return float(1.0 - np.var(resid) / np.var(s))
