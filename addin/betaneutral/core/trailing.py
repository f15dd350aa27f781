"""Trailing beta paths: each day's beta from the returns up to that day, never after.

:func:`trailing_betas` is the estimator the backtest (:mod:`betaneutral.core.backtest`)
and the intraday betas (:mod:`betaneutral.core.intraday`) share.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from betaneutral.core._validate import (
    FloatArray,
    choice,
    in_range,
    paired_series,
    positive_int,
)
from betaneutral.core.beta import blume_adjust, ewma_beta
from betaneutral.core.estimators import DEFAULT_HALF_LIFE, ROBUST_METHODS, trailing_paths
from betaneutral.errors import DomainError

__all__ = ["trailing_betas"]

BetaMethod = str  # "ols", "blume", "ewma" or one of estimators.ROBUST_METHODS



def trailing_betas(
    asset_returns: Any,
    hedge_returns: Any,
    *,
    window: int | None,
    min_obs: int,
    method: BetaMethod = "ols",
    lam: float = 0.94,
    half_life: float = DEFAULT_HALF_LIFE,
) -> FloatArray:
    """Each asset's beta at every row, from returns up to and including that row.

    Parameters
    ----------
    asset_returns : array_like, shape (T, N)
        Period returns of the holdings; NaN = missing.
    hedge_returns : array_like, shape (T,)
        Returns of the hedge's underlying (the regressor); NaN = missing.
    window : int or None
        Trailing rows per estimate (>= 3); None uses every row up to ``t``
        (an expanding window).
    min_obs : int
        Fewest present pairs for an estimate (>= 3; at most ``window``).
    method : {"ols", "blume", "ewma"}, default "ols"
        OLS slope, Blume-adjusted OLS slope (``0.67 b + 0.33``), or the
        RiskMetrics EWMA beta (decay ``lam``; NaN wherever OLS has too few pairs,
        and before the EWMA's 30-pair seed, see :func:`~betaneutral.core.beta.ewma_beta`).
    lam : float, default 0.94
        EWMA decay, in (0, 1).
    half_life : float, default 126
        Half-life in rows of the decayed estimators (``ewls``, ``welch-decay``).
        The methods of :data:`betaneutral.core.estimators.ROBUST_METHODS`
        (``ewls``, ``welch``, ``welch-decay``, ``realised``, ``vasicek``...)
        are the paths of :func:`betaneutral.core.estimators.trailing_paths`.

    Returns
    -------
    numpy.ndarray, shape (T, N)
        Betas; NaN where the window holds fewer than ``min_obs`` pairs or the
        regressor is constant in it.

    Raises
    ------
    DomainError
        ``window`` < 3, ``min_obs`` outside [3, window], or infinite returns.
    InsufficientDataError
        ``hedge_returns`` and ``asset_returns`` do not have the same number of rows.
    UnknownNameError
        Unknown ``method``.

    Notes
    -----
    With ``n``, ``Sx``, ``Sy``, ``Sxx``, ``Sxy`` the window sums over present pairs
    (differences of cumulative sums),

    ``beta = (Sxy - Sx Sy / n) / (Sxx - Sx^2 / n)``.

    The cumulative sums are taken on the raw returns, never shifted by a mean
    computed over the whole sample, so row ``t`` of the result is bit-for-bit
    the same whatever follows row ``t``: the property a walk-forward test needs.

    Examples
    --------
    >>> x = np.array([np.nan, 0.01, -0.02, 0.03, 0.0, -0.01])
    >>> b = trailing_betas(np.column_stack([2.0 * x, -x]), x, window=3, min_obs=3)
    >>> np.round(b[3:], 12).tolist()
    [[2.0, -1.0], [2.0, -1.0], [2.0, -1.0]]
    """
    m = choice("method", method, ("ols", "blume", "ewma", *ROBUST_METHODS))
    min_obs = positive_int("min_obs", min_obs, minimum=3)
    if window is not None:
        window = positive_int("window", window, minimum=3)
        if min_obs > window:
            raise DomainError(f"min_obs must be <= window ({window}), got {min_obs}")
    if m in ROBUST_METHODS:
        return trailing_paths(asset_returns, hedge_returns, method=m, window=window,
                              min_obs=min_obs, half_life=half_life)[0]
    y, x, _ = paired_series("asset_returns", asset_returns, "hedge_returns", hedge_returns,
                            y_ndim=2)
    beta = np.empty(y.shape)
    ok = np.empty(y.shape, dtype=bool)
    # Each column's sums are its own: a block of columns at a time gives the same numbers
    # with a dozen (T, block) temporaries instead of a dozen (T, N) ones.
    for j0 in range(0, y.shape[1], _COLUMNS_AT_ONCE):
        j1 = j0 + _COLUMNS_AT_ONCE
        beta[:, j0:j1], ok[:, j0:j1] = _window_slopes(y[:, j0:j1], x, window, min_obs)
    beta[~ok] = np.nan
    if m == "blume":
        beta = np.asarray(blume_adjust(beta))
    elif m == "ewma":
        lam = in_range("lam", lam, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        path = np.asarray(ewma_beta(y, x, lam=lam), dtype=np.float64).reshape(y.shape)
        beta = np.where(ok, path, np.nan)
    return beta


#: Columns whose window sums are formed together (bounds the temporaries' memory).
_COLUMNS_AT_ONCE = 128


def _window_slopes(y: FloatArray, x: FloatArray, window: int | None, min_obs: int
                   ) -> tuple[FloatArray, np.ndarray]:
    """The OLS slope of each column of ``y`` on ``x`` over the trailing window, and where
    it is defined (``n >= min_obs`` present pairs and a regressor that varies)."""
    present = ~np.isnan(y) & ~np.isnan(x)[:, None]
    xv = np.where(present, x[:, None], 0.0)
    yv = np.where(present, y, 0.0)
    sums = []
    for a in (present.astype(np.float64), xv, yv, xv * xv, xv * yv):
        c = np.cumsum(a, axis=0)
        if window is not None and window < len(c):
            c[window:] = c[window:] - c[:-window].copy()
        sums.append(c)
    n, sx, sy, sxx, sxy = sums
    with np.errstate(divide="ignore", invalid="ignore"):
        vx = sxx - sx * sx / n
        beta = (sxy - sx * sy / n) / vx
    return beta, (n >= min_obs) & (vx > 1e-14 * np.maximum(sxx, 1e-300))
