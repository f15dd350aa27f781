"""Robust and decayed beta estimators, their trailing paths, and the Diebold-Mariano test.

Every estimator here is vectorised over assets: ``asset_returns`` of shape
``(T, N)`` (or ``(T,)``) against one ``benchmark_returns`` of shape ``(T,)``,
aligned row by row, ``NaN`` = missing (pair-wise deletion, as
:mod:`betaneutral.core.beta`). Half-lives and windows count *rows* (returns):
126 rows are about four months of daily returns; an adapter that feeds hourly
returns scales them by 24.

Estimators (method names as the Excel function, the Settings and the backtest
spell them):

``ewls``
    Exponentially weighted least squares with intercept: weighted regression
    with weights :math:`w_s = 2^{-(t-s)/h}` (half-life :math:`h`). Unlike the
    RiskMetrics ``ewma`` recursion it de-means with the weighted means.
``welch``
    Welch's slope-winsorised beta: each asset return is first clipped to the
    band between :math:`-2 r_m` and :math:`4 r_m` (the same day's benchmark
    return), then OLS with intercept (Welch, 2022).
``welch-decay``
    The same with the exponentially decaying weights of ``ewls`` (Welch's
    preferred estimator, half-life about four months).
``realised``
    Realised beta: :math:`\\sum r_i r_m / \\sum r_m^2` over the window, no
    intercept (Barndorff-Nielsen and Shephard, 2004; Andersen, Bollerslev,
    Diebold and Wu, 2006), meant for intraday (hourly) returns.
``vasicek`` (or ``vasicek-<base>``)
    Vasicek (1973) shrinkage of a base estimator (OLS by default) towards the
    cross-section of the book, with the Lally (1998) prior variance
    (:func:`betaneutral.core.beta.vasicek_shrink`).

Sources: I. Welch (2022), "Simply Better Market Betas", *Critical Finance
Review* 11(1), 37-64, doi:10.1561/104.00000108 (winsorisation at -2 and +4
times the contemporaneous market return, i.e. :math:`(1 \\mp \\delta) r_m`
with :math:`\\delta = 3`; exponential age decay of the regression weights,
:math:`e^{-a \\cdot age}` with :math:`a = 2/252` per trading day, a half-life
of about four months). F. Hollstein, M. Prokopczuk and C. Wese Simen (2019),
"Estimating beta: forecast adjustments and the impact of stock
characteristics", *Journal of Financial Markets*. F. X. Diebold and R. S.
Mariano (1995), "Comparing predictive accuracy", *Journal of Business &
Economic Statistics* 13(3). W. K. Newey and K. D. West (1994), "Automatic lag
selection in covariance matrix estimation", *Review of Economic Studies* 61.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from betaneutral.core._validate import (
    FloatArray,
    choice,
    float_array,
    in_range,
    paired_series,
    positive_int,
)
from betaneutral.errors import DomainError, InsufficientDataError

__all__ = [
    "BASE_METHODS",
    "DEFAULT_HALF_LIFE",
    "ROBUST_METHODS",
    "WELCH_DELTA",
    "DieboldMariano",
    "WeightedBeta",
    "decay_weights",
    "diebold_mariano",
    "method_parts",
    "realised_beta",
    "slope_winsorise",
    "trailing_paths",
    "vasicek_paths",
    "weighted_beta",
]

#: Default half-life, in returns: Welch's decay rate a = 2/252 per trading day gives
#: ln 2 / a = 87 trading days = 0.35 years, i.e. 126 calendar days of crypto returns.
DEFAULT_HALF_LIFE = 126.0
#: Welch's winsorisation: asset returns within (1 - delta) r_m and (1 + delta) r_m.
WELCH_DELTA = 3.0
#: Estimators computed from weighted window sums (the trailing paths of this module).
BASE_METHODS: tuple[str, ...] = ("ols", "ewls", "welch", "welch-decay", "realised")
#: Method names this module adds to ``ols``, ``blume`` and ``ewma``.
ROBUST_METHODS: tuple[str, ...] = ("ewls", "welch", "welch-decay", "realised", "vasicek",
                                   *(f"vasicek-{b}" for b in BASE_METHODS))


def method_parts(method: str) -> tuple[str, bool]:
    """``(base estimator, shrink with Vasicek?)`` of a method name.

    ``"vasicek"`` is Vasicek-shrunk OLS; ``"vasicek-welch-decay"`` shrinks the
    decayed Welch beta.

    Examples
    --------
    >>> method_parts("vasicek"), method_parts("vasicek-ewls"), method_parts("welch")
    (('ols', True), ('ewls', True), ('welch', False))
    """
    m = choice("method", method, ("ols", *ROBUST_METHODS))
    if m == "vasicek":
        return "ols", True
    if m.startswith("vasicek-"):
        return m[len("vasicek-"):], True
    return m, False


def slope_winsorise(asset_returns: Any, benchmark_returns: Any, *,
                    delta: float = WELCH_DELTA) -> FloatArray:
    """Welch's slope winsorisation: each asset return clipped to a band around the market's.

    Parameters
    ----------
    asset_returns : array_like, shape (T,) or (T, N)
    benchmark_returns : array_like, shape (T,)
    delta : float, default 3
        Band half-width in beta units, >= 0: the bounds are
        :math:`(1 - \\delta) r_m` and :math:`(1 + \\delta) r_m`, i.e. -2 and +4
        times the benchmark's return with Welch's :math:`\\delta = 3`.

    Returns
    -------
    numpy.ndarray, shape like ``asset_returns``
        :math:`\\tilde r_{i,t} = \\min(\\max(r_{i,t}, L_t), U_t)` with
        :math:`L_t = \\min((1-\\delta) r_{m,t}, (1+\\delta) r_{m,t})` and
        :math:`U_t = \\max(\\ldots)`; NaN stays NaN (and a missing benchmark
        return makes the asset's missing).

    Notes
    -----
    Welch (2022, Critical Finance Review 11(1), section 2): the market model
    with a beta between -2 and +4 cannot produce a stock return outside that
    band on a day the market moved :math:`r_m`, so returns beyond it are set to
    the bound (on a day the market is flat, both bounds are 0).

    Examples
    --------
    >>> slope_winsorise([0.10, -0.01, 0.03, 0.02], [0.01, 0.01, -0.01, 0.0]).tolist()
    [0.04, -0.01, 0.02, 0.0]
    """
    delta = in_range("delta", delta, 0.0)
    y = float_array("asset_returns", asset_returns)
    x = float_array("benchmark_returns", benchmark_returns, ndim=1)
    xb = x if y.ndim == 1 else x[:, None]
    a, b = (1.0 - delta) * xb, (1.0 + delta) * xb
    with np.errstate(invalid="ignore"):
        return np.minimum(np.maximum(y, np.minimum(a, b)), np.maximum(a, b))


def decay_weights(n: int, half_life: float | None) -> FloatArray:
    """Regression weights of ``n`` rows, oldest first: :math:`w_s = 2^{-(n-1-s)/h}`.

    ``half_life`` None gives equal weights (OLS).

    Examples
    --------
    >>> decay_weights(3, 1.0).tolist()
    [0.25, 0.5, 1.0]
    """
    n = positive_int("n", n, minimum=0)
    if half_life is None:
        return np.ones(n)
    h = in_range("half_life", half_life, 0.0, low_inclusive=False)
    return np.exp2(-(n - 1 - np.arange(n)) / h)


@dataclass(frozen=True)
class WeightedBeta:
    """A weighted regression beta per asset (0-d arrays for one asset).

    Attributes
    ----------
    beta : slope.
    alpha : intercept (0 for the realised beta, which has none).
    se : conventional (weighted) standard error of the slope, as statsmodels WLS.
    n_obs : present pairs used.
    method : estimator name.
    """

    beta: FloatArray
    alpha: FloatArray
    se: FloatArray
    n_obs: np.ndarray
    method: str


def weighted_beta(asset_returns: Any, benchmark_returns: Any, *, method: str = "ewls",
                  half_life: float | None = DEFAULT_HALF_LIFE, window: int | None = None,
                  min_obs: int = 60, delta: float = WELCH_DELTA) -> WeightedBeta:
    """One fit over the whole sample (or the last ``window`` rows) with a base estimator.

    Parameters
    ----------
    asset_returns : array_like, shape (T,) or (T, N)
    benchmark_returns : array_like, shape (T,)
    method : {"ols", "ewls", "welch", "welch-decay", "realised"}, default "ewls"
    half_life : float, optional
        Half-life in rows of the decaying weights (``ewls`` and
        ``welch-decay``; ignored by the others), > 0; default 126.
    window : int, optional
        Use only the last ``window`` rows (default all).
    min_obs : int, default 60
        Fewest present pairs; assets with fewer get NaN.
    delta : float, default 3
        Welch's band (see :func:`slope_winsorise`).

    Returns
    -------
    WeightedBeta

    Notes
    -----
    With weights :math:`w_s = 2^{-(t-s)/h}` on the present pairs (1 without
    decay), :math:`W = \\sum w`, weighted means :math:`\\bar x = \\sum w x / W`,
    :math:`\\bar y`, and :math:`S_{xy} = \\sum w (x - \\bar x)(y - \\bar y)`,

    .. math::

        \\hat\\beta = S_{xy} / S_{xx},\\quad
        SE = \\sqrt{\\frac{S_{yy} - \\hat\\beta S_{xy}}{(n - 2) S_{xx}}},

    the weighted least squares fit of :math:`y = \\alpha + \\beta x` (the
    statsmodels ``WLS`` slope and standard error). Welch's estimators use the
    winsorised :math:`y` (:func:`slope_winsorise`). The realised beta is
    :math:`\\sum x y / \\sum x^2` (no intercept, no de-meaning) with
    :math:`SE = \\sqrt{(\\sum y^2 - \\hat\\beta \\sum xy) / ((n-1) \\sum x^2)}`.
    The weights age from the last row of the sample, so a missing last pair of
    one asset does not shift its weights.

    Examples
    --------
    >>> x = np.array([0.01, -0.02, 0.03, 0.0, -0.01])
    >>> round(float(weighted_beta(1.5 * x + 0.001, x, min_obs=3).beta), 12)
    1.5
    """
    base, shrink = method_parts(method)
    if shrink:
        raise DomainError(f"method must be a base estimator for weighted_beta "
                          f"({', '.join(BASE_METHODS)}), got {method!r}")
    min_obs = positive_int("min_obs", min_obs, minimum=3)
    y, x, single = paired_series("asset_returns", asset_returns, "benchmark_returns",
                                 benchmark_returns)
    if window is not None:
        window = positive_int("window", window, minimum=1)
        y, x = y[-window:], x[-window:]
    if base in ("welch", "welch-decay"):
        y = slope_winsorise(y, x, delta=delta)
    decayed = base in ("ewls", "welch-decay")
    w = decay_weights(len(x), half_life if decayed else None)
    present = ~np.isnan(y) & ~np.isnan(x)[:, None]
    n = present.sum(axis=0)
    wm = np.where(present, w[:, None], 0.0)
    xv = np.where(present, x[:, None], 0.0)
    yv = np.where(present, y, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if base == "realised":
            sxx = (wm * xv * xv).sum(axis=0)
            sxy = (wm * xv * yv).sum(axis=0)
            syy = (wm * yv * yv).sum(axis=0)
            beta = sxy / sxx
            alpha = np.zeros_like(beta)
            dof = n - 1.0
        else:
            big_w = wm.sum(axis=0)
            xbar = (wm * xv).sum(axis=0) / big_w
            ybar = (wm * yv).sum(axis=0) / big_w
            xc = np.where(present, xv - xbar, 0.0)
            yc = np.where(present, yv - ybar, 0.0)
            sxx = (wm * xc * xc).sum(axis=0)
            sxy = (wm * xc * yc).sum(axis=0)
            syy = (wm * yc * yc).sum(axis=0)
            beta = sxy / sxx
            alpha = ybar - beta * xbar
            dof = n - 2.0
        se = np.sqrt(np.maximum(syy - beta * sxy, 0.0) / dof / sxx)
    ok = (n >= min_obs) & (sxx > 0.0)
    beta, alpha, se = (np.where(ok, v, np.nan) for v in (beta, alpha, se))
    if single:
        return WeightedBeta(beta[0], alpha[0], se[0], n[0], base)
    return WeightedBeta(beta, alpha, se, n, base)


def realised_beta(asset_returns: Any, benchmark_returns: Any, *, window: int | None = None,
                  min_obs: int = 60) -> FloatArray:
    """Realised beta from intraday returns: the sum of cross-products over the window.

    Parameters
    ----------
    asset_returns : array_like, shape (T,) or (T, N)
        Intraday (e.g. hourly) returns; NaN = missing.
    benchmark_returns : array_like, shape (T,)
    window : int, optional
        Last ``window`` returns (e.g. 24 x 30 for 30 days of hourly returns).
    min_obs : int, default 60
        Fewest present pairs.

    Returns
    -------
    numpy.ndarray
        :math:`\\hat\\beta = \\sum_t r_{i,t} r_{m,t} / \\sum_t r_{m,t}^2` over
        the present pairs (Barndorff-Nielsen and Shephard 2004, "Econometric
        analysis of realized covariation", *Econometrica* 72(3); Andersen et al.
        2006). No intercept: intraday mean returns are negligible.

    Examples
    --------
    >>> float(realised_beta([0.02, -0.01, 0.03], [0.01, -0.01, 0.01], min_obs=3))
    2.0
    """
    return weighted_beta(asset_returns, benchmark_returns, method="realised", window=window,
                         min_obs=min_obs).beta


# --------------------------------------------------------------------------- trailing paths


def _window_sums(a: FloatArray, window: int | None, lam: float) -> FloatArray:
    """``S_t = sum_{s in window ending t} lam^(t-s) a_s``, causally (row t uses rows <= t).

    Without decay a cumulative sum; with decay the first-order recursion
    ``E_t = lam E_{t-1} + a_t`` (scipy's ``lfilter``) and, for a window,
    ``S_t = E_t - lam^w E_{t-w}``.
    """
    if lam == 1.0:
        c = np.cumsum(a, axis=0)
    else:  # scipy.signal is heavy to import (about 50 MB): only when a decay is asked for
        from scipy import signal

        c = signal.lfilter([1.0], [1.0, -lam], a, axis=0)
    if window is not None and window < len(c):
        c[window:] = c[window:] - (lam ** window) * c[:-window].copy()
    return c


def trailing_paths(asset_returns: Any, benchmark_returns: Any, *, method: str,
                   window: int | None, min_obs: int,
                   half_life: float | None = DEFAULT_HALF_LIFE,
                   delta: float = WELCH_DELTA) -> tuple[FloatArray, FloatArray]:
    """Each asset's beta and its standard error at every row, from rows up to that row.

    Parameters
    ----------
    asset_returns : array_like, shape (T, N)
    benchmark_returns : array_like, shape (T,)
    method : str
        A base estimator of :data:`BASE_METHODS`, or ``vasicek`` /
        ``vasicek-<base>`` (then the betas are shrunk across the assets of each
        row, see :func:`vasicek_paths`).
    window : int or None
        Trailing rows per estimate; None = every row up to ``t``.
    min_obs : int
        Fewest present pairs in the window (>= 3).
    half_life : float, optional
        Half-life in rows of ``ewls`` and ``welch-decay`` (default 126).
    delta : float, default 3
        Welch's band.

    Returns
    -------
    beta, se : numpy.ndarray, shape (T, N)
        NaN where the window holds fewer than ``min_obs`` pairs or the
        benchmark is constant in it (and, for Vasicek, on rows where the
        cross-section cannot be formed).

    Notes
    -----
    Row ``t`` holds :func:`weighted_beta` of the rows in the window ending at
    ``t``, with weights :math:`\\lambda^{t-s}`, :math:`\\lambda = 2^{-1/h}`,
    computed from causal window sums of :math:`1, x, y, x^2, xy, y^2` over
    present pairs: :math:`S_{xx} = \\sum w x^2 - (\\sum w x)^2 / W` and so on.
    Row ``t`` depends on rows ``<= t`` only, bit for bit: the property a
    walk-forward replay needs.

    Examples
    --------
    >>> x = np.array([np.nan, 0.01, -0.02, 0.03, 0.0, -0.01])
    >>> b, _ = trailing_paths(np.c_[2 * x, -x], x, method="ewls", window=3, min_obs=3,
    ...                       half_life=2.0)
    >>> np.round(b[3:], 12).tolist()
    [[2.0, -1.0], [2.0, -1.0], [2.0, -1.0]]
    """
    base, shrink = method_parts(method)
    min_obs = positive_int("min_obs", min_obs, minimum=3)
    if window is not None:
        window = positive_int("window", window, minimum=3)
    y, x, _ = paired_series("asset_returns", asset_returns, "benchmark_returns",
                            benchmark_returns, y_ndim=2)
    if base in ("welch", "welch-decay"):
        y = slope_winsorise(y, x, delta=delta)
    lam = 1.0
    if base in ("ewls", "welch-decay"):
        h = in_range("half_life", DEFAULT_HALF_LIFE if half_life is None else half_life, 0.0,
                     low_inclusive=False)
        lam = 2.0 ** (-1.0 / h)
    present = ~np.isnan(y) & ~np.isnan(x)[:, None]
    pf = present.astype(np.float64)
    xv = np.where(present, x[:, None], 0.0)
    yv = np.where(present, y, 0.0)
    count = _window_sums(pf, window, 1.0)
    sxx = _window_sums(xv * xv, window, lam)
    sxy = _window_sums(xv * yv, window, lam)
    syy = _window_sums(yv * yv, window, lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        if base == "realised":
            vx, cxy, vy, dof = sxx, sxy, syy, count - 1.0
        else:
            big_w = _window_sums(pf, window, lam)
            sx = _window_sums(xv, window, lam)
            sy = _window_sums(yv, window, lam)
            vx = sxx - sx * sx / big_w
            cxy = sxy - sx * sy / big_w
            vy = syy - sy * sy / big_w
            dof = count - 2.0
        beta = cxy / vx
        se = np.sqrt(np.maximum(vy - beta * cxy, 0.0) / dof / vx)
    ok = (np.rint(count) >= min_obs) & (vx > 1e-14 * np.maximum(sxx, 1e-300))
    beta = np.where(ok, beta, np.nan)
    se = np.where(ok, se, np.nan)
    if shrink:
        beta = vasicek_paths(beta, se)
    return beta, se


def vasicek_paths(betas: Any, standard_errors: Any) -> FloatArray:
    """Vasicek shrinkage of each row's betas towards that row's cross-section.

    Parameters
    ----------
    betas, standard_errors : array_like, shape (T, N)
        A trailing path and its standard errors (NaN where not defined).

    Returns
    -------
    numpy.ndarray, shape (T, N)
        Row by row, :math:`\\beta^V_i = w_i \\bar\\beta + (1 - w_i) \\hat\\beta_i`,
        :math:`w_i = s_i^2 / (s_i^2 + \\sigma^2)`, with :math:`\\bar\\beta` the
        mean of the row's betas and
        :math:`\\sigma^2 = \\max(\\mathrm{Var}(\\hat\\beta) - \\overline{s^2}, 0)`
        (Vasicek 1973, prior variance of Lally 1998), the formula of
        :func:`betaneutral.core.beta.vasicek_shrink` applied to each row. A
        row needs every asset's beta and at least 3 assets; otherwise NaN.

    Raises
    ------
    InsufficientDataError
        Fewer than 3 assets, or mismatched shapes.

    Examples
    --------
    >>> vasicek_paths([[0.8, 1.0, 1.2]], [[0.0, 0.0, 0.0]]).round(12).tolist()
    [[0.8, 1.0, 1.2]]
    """
    b = float_array("betas", betas, ndim=2)
    s = float_array("standard_errors", standard_errors, ndim=2)
    if b.shape != s.shape:
        raise InsufficientDataError(f"betas and standard_errors must have the same shape, got "
                                    f"{b.shape} and {s.shape}")
    if b.shape[1] < 3:
        raise InsufficientDataError(
            f"betas must have at least 3 assets to shrink towards their cross-section "
            f"(Vasicek), got {b.shape[1]}")
    full = ~(np.isnan(b) | np.isnan(s)).any(axis=1)
    out = np.full(b.shape, np.nan)
    if full.any():
        bf, sf = b[full], s[full]
        mean = bf.mean(axis=1, keepdims=True)
        s2 = sf * sf
        var = np.maximum(bf.var(axis=1, ddof=1, keepdims=True) - s2.mean(axis=1, keepdims=True),
                         0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(s2 + var > 0.0, s2 / np.where(s2 + var > 0.0, s2 + var, 1.0), 1.0)
        out[full] = w * mean + (1.0 - w) * bf
    return out


# --------------------------------------------------------------------------- forecast test


@dataclass(frozen=True)
class DieboldMariano:
    """Diebold-Mariano comparison of two loss series.

    Attributes
    ----------
    mean_difference : mean of ``loss_a - loss_b`` (< 0: ``a`` had the smaller loss).
    statistic : ``mean_difference / sqrt(long-run variance / n)``.
    p_value : one-sided p-value of ``H0: E[loss_a] >= E[loss_b]`` against
        ``E[loss_a] < E[loss_b]`` (standard normal), i.e. ``Phi(statistic)``.
    p_value_two_sided : ``2 Phi(-|statistic|)``.
    lags : Newey-West lags used.
    n_obs : pairs used.
    """

    mean_difference: float
    statistic: float
    p_value: float
    p_value_two_sided: float
    lags: int
    n_obs: int


def diebold_mariano(loss_a: Any, loss_b: Any, *, lags: int | None = None) -> DieboldMariano:
    """Is ``loss_a`` smaller than ``loss_b`` on average? (Diebold and Mariano, 1995).

    Parameters
    ----------
    loss_a, loss_b : array_like, shape (T,)
        Losses of two forecasts on the same dates (here: squared daily returns
        of two hedged books); rows where either is NaN are dropped.
    lags : int, optional
        Newey-West lags; default :math:`\\lfloor 4 (n/100)^{2/9} \\rfloor`.

    Returns
    -------
    DieboldMariano

    Raises
    ------
    InsufficientDataError
        Fewer than 3 pairs or mismatched lengths.

    Notes
    -----
    :math:`d_t = L_{a,t} - L_{b,t}`, :math:`\\bar d` its mean,
    :math:`\\hat\\gamma_k = \\frac1n \\sum_{t>k} (d_t - \\bar d)(d_{t-k} - \\bar d)`,
    the Newey-West (Bartlett) long-run variance
    :math:`\\hat\\sigma^2 = \\hat\\gamma_0 + 2 \\sum_{k=1}^{L} (1 - \\frac{k}{L+1}) \\hat\\gamma_k`,
    and :math:`DM = \\bar d / \\sqrt{\\hat\\sigma^2 / n}`, asymptotically
    standard normal under equal expected loss. Identical series (nothing to
    test) give a NaN statistic and p-value 0.5.

    Examples
    --------
    >>> r = diebold_mariano([1.0, 2.0, 1.0, 2.0], [2.0, 3.0, 3.0, 2.0], lags=0)
    >>> round(r.statistic, 6), round(r.p_value, 6)
    (-2.828427, 0.002339)
    """
    a = float_array("loss_a", loss_a, ndim=1)
    b = float_array("loss_b", loss_b, ndim=1)
    if a.shape != b.shape:
        raise InsufficientDataError(f"loss_a and loss_b must have the same length, got "
                                    f"{a.size} and {b.size}")
    d = (a - b)[~(np.isnan(a) | np.isnan(b))]
    n = d.size
    if n < 3:
        raise InsufficientDataError(f"loss_a and loss_b must have at least 3 common "
                                    f"observations, got {n}")
    lag = (math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)) if lags is None
           else positive_int("lags", lags, minimum=0))
    lag = min(lag, n - 1)
    dbar = float(d.mean())
    dc = d - dbar
    lrv = float(dc @ dc) / n
    for k in range(1, lag + 1):
        lrv += 2.0 * (1.0 - k / (lag + 1.0)) * float(dc[k:] @ dc[:-k]) / n
    if lrv > 0.0:
        from scipy import special  # heavy to import: only when the test is asked for

        stat = dbar / math.sqrt(lrv / n)
        p = float(special.ndtr(stat))
        p2 = float(2.0 * special.ndtr(-abs(stat)))
    else:
        stat, p, p2 = math.nan, 0.5, 1.0
    return DieboldMariano(mean_difference=dbar, statistic=stat, p_value=p,
                          p_value_two_sided=p2, lags=lag, n_obs=n)
