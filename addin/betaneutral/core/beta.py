"""Beta estimators, vectorised over many assets against one benchmark.

All estimators take ``asset_returns`` of shape ``(T,)`` or ``(T, N)`` and
``benchmark_returns`` of shape ``(T,)``, already aligned row by row (see
:func:`betaneutral.core.returns.align_prices`). ``NaN`` marks a missing
return; each asset uses the rows where both its return and the benchmark
return are present (pair-wise deletion, as Excel's ``SLOPE`` and empyrical).

Defaults follow crypto practice: daily simple returns, at least 60 paired
observations, annualisation with 365 periods a year.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from betaneutral.core._validate import (
    FloatArray,
    check_no_inf,
    choice,
    float_array,
    in_range,
    paired_series,
    positive_int,
)
from betaneutral.core.returns import ReturnKind, align_prices, returns_from_prices, weekly_prices
from betaneutral.core.tdist import t_quantile
from betaneutral.errors import DegenerateDataError, DomainError, InsufficientDataError

__all__ = [
    "BETA_METHODS",
    "DEFAULT_MIN_OBS",
    "BetaEstimate",
    "BetaStats",
    "MultiBetaStats",
    "RollingBeta",
    "VasicekShrinkage",
    "betas_from_prices",
    "blume_adjust",
    "ewma_beta",
    "hac_default_lags",
    "multivariate_beta",
    "ols_beta",
    "rolling_beta",
    "vasicek_shrink",
]

DEFAULT_MIN_OBS = 60
#: Relative variance below which a benchmark is treated as constant.
_ZERO_VARIANCE = 1e-28
OnError = Literal["raise", "nan"]
BetaMethod = Literal["ols", "blume", "ewma", "ewls", "welch", "welch-decay", "realised",
                     "vasicek", "vasicek-ols", "vasicek-ewls", "vasicek-welch",
                     "vasicek-welch-decay", "vasicek-realised"]
#: Methods of :func:`betas_from_prices` (the Excel function's ``method`` argument):
#: ``vasicek-<base>`` shrinks the base estimator's betas, ``vasicek`` those of OLS.
BETA_METHODS: tuple[str, ...] = ("ols", "blume", "ewma", "ewls", "welch", "welch-decay",
                                 "realised", "vasicek", "vasicek-ols", "vasicek-ewls",
                                 "vasicek-welch", "vasicek-welch-decay", "vasicek-realised")


@dataclass(frozen=True)
class BetaStats:
    """Ordinary least squares regression of asset returns on benchmark returns.

    Every field is an array of shape ``(N,)`` (one entry per asset), or a
    0-d array when a single asset was passed.

    Attributes
    ----------
    beta : slope :math:`\\hat\\beta`.
    alpha : intercept per period, in return units.
    alpha_annualised : ``alpha * annualization`` (arithmetic).
    r_squared : coefficient of determination (0 for an asset with constant returns).
    se : conventional OLS standard error of beta.
    hac_se : Newey-West (Bartlett kernel) standard error of beta.
    t_stat : ``beta / se`` (NaN when ``se`` is 0).
    n_obs : number of paired observations used.
    ci_low, ci_high : confidence interval ``beta -/+ t_{n-2} se``.
    hac_lags : Newey-West lags used for each asset.
    conf_level : confidence level of the interval.
    annualization : periods per year used for ``alpha_annualised``.
    """

    beta: FloatArray
    alpha: FloatArray
    alpha_annualised: FloatArray
    r_squared: FloatArray
    se: FloatArray
    hac_se: FloatArray
    t_stat: FloatArray
    n_obs: np.ndarray
    ci_low: FloatArray
    ci_high: FloatArray
    hac_lags: np.ndarray
    conf_level: float
    annualization: float

    FIELDS = ("beta", "alpha", "r_squared", "se", "hac_se", "t_stat", "n_obs", "ci_low", "ci_high")

    def to_frame(self, names: list[str] | None = None) -> pd.DataFrame:
        """One row per asset, the columns of :attr:`FIELDS` plus ``alpha_annualised``."""
        cols = {f: np.atleast_1d(getattr(self, f)) for f in (*self.FIELDS, "alpha_annualised")}
        return pd.DataFrame(cols, index=names)


def hac_default_lags(n_obs: int) -> int:
    """Newey-West lag count from the sample size.

    Parameters
    ----------
    n_obs : int
        Number of observations.

    Returns
    -------
    int
        :math:`\\lfloor 4 (n/100)^{2/9} \\rfloor` (Newey and West, 1994; the rule
        statsmodels documents for ``cov_hac``).

    Examples
    --------
    >>> hac_default_lags(90), hac_default_lags(365), hac_default_lags(730)
    (3, 5, 6)
    """
    return math.floor(4.0 * (n_obs / 100.0) ** (2.0 / 9.0))


def _prepare(
    asset_returns: object, benchmark_returns: object, window: int | None,
    *, check_inf: bool = True,
) -> tuple[FloatArray, FloatArray, bool]:
    y, x, single = paired_series("asset_returns", asset_returns, "benchmark_returns",
                                 benchmark_returns, check_inf=check_inf)
    if window is not None:
        window = positive_int("window", window, minimum=1)
        y, x = y[-window:], x[-window:]
    return y, x, single


def _check_min_obs(min_obs: int) -> int:
    return positive_int("min_obs", min_obs, minimum=3)


def _fail(on_error: OnError, err: Exception, mask: np.ndarray, bad: np.ndarray) -> None:
    if bad.any():
        if on_error == "raise":
            raise err
        mask[bad] = True


def _t_quantile(conf_level: float, dof: FloatArray) -> FloatArray:
    return t_quantile(0.5 + conf_level / 2.0, dof)


def ols_beta(
    asset_returns: object,
    benchmark_returns: object,
    *,
    window: int | None = None,
    min_obs: int = DEFAULT_MIN_OBS,
    annualization: float = 365.0,
    hac_lags: int | None = None,
    hac: bool = True,
    conf_level: float = 0.95,
    on_error: OnError = "raise",
    names: list[str] | None = None,
) -> BetaStats:
    """OLS beta with intercept, its standard errors and confidence interval.

    Parameters
    ----------
    asset_returns : array_like, shape (T,) or (T, N)
        Period returns of the assets; ``NaN`` = missing.
    benchmark_returns : array_like, shape (T,)
        Period returns of the benchmark, aligned with ``asset_returns``.
    window : int, optional
        Use only the last ``window`` rows (before dropping missing pairs).
        Default: all rows.
    min_obs : int
        Minimum paired observations per asset (default 60, at least 3).
    annualization : float
        Periods per year for the annualised alpha (365 for daily crypto data,
        52 for weekly).
    hac_lags : int, optional
        Newey-West lags; default :func:`hac_default_lags` of each asset's
        ``n_obs``.
    hac : bool
        Compute the Newey-West standard error (default True). It costs about
        ``hac_lags + 2`` passes over the data; bulk callers that do not need it
        can switch it off (``hac_se`` is then NaN).
    conf_level : float
        Confidence level of the interval, in (0, 1); default 0.95.
    on_error : {"raise", "nan"}
        What to do for an asset with too few pairs or a constant benchmark:
        raise (default), or return NaN for that asset only.
    names : list of str, optional
        Asset names used in error messages.

    Returns
    -------
    BetaStats

    Raises
    ------
    InsufficientDataError
        Fewer than ``min_obs`` paired observations, or mismatched lengths.
    DegenerateDataError
        The benchmark returns have zero variance over an asset's pairs.
    DomainError
        Infinite returns, returns so large (beyond about 1e150) that their
        sums of squares overflow (NaN for that asset with ``on_error="nan"``),
        or parameters out of range.

    Notes
    -----
    With :math:`x` the benchmark and :math:`y` the asset over the :math:`n`
    present pairs,

    .. math::

        \\hat\\beta = \\frac{\\sum (x-\\bar x)(y-\\bar y)}{\\sum (x-\\bar x)^2},\\quad
        \\hat\\alpha = \\bar y - \\hat\\beta \\bar x,\\quad
        SE = \\sqrt{\\frac{SSR/(n-2)}{\\sum (x-\\bar x)^2}},\\quad
        R^2 = 1 - \\frac{SSR}{\\sum (y-\\bar y)^2}.

    The Newey-West variance of the slope is
    :math:`\\frac{n}{n-2} \\sum_{l=-L}^{L} (1 - \\frac{|l|}{L+1}) \\sum_t g_t g_{t-l} / S_{xx}^2`
    with :math:`g_t = (x_t - \\bar x) e_t`, on the series of present pairs
    (the small-sample factor :math:`n/(n-k)` is statsmodels' default).

    Examples
    --------
    >>> x = np.array([0.01, -0.02, 0.03, 0.00, -0.01])
    >>> y = 2.0 * x + 0.001
    >>> stats = ols_beta(y, x, min_obs=3)
    >>> round(float(stats.beta), 12), round(float(stats.alpha), 12)
    (2.0, 0.001)
    """
    on_error = choice("on_error", on_error, ("raise", "nan"))  # type: ignore[assignment]
    min_obs = _check_min_obs(min_obs)
    conf_level = in_range("conf_level", conf_level, 0.0, 1.0, low_inclusive=False,
                          high_inclusive=False)
    annualization = in_range("annualization", annualization, 0.0, low_inclusive=False)
    if hac_lags is not None:
        hac_lags = positive_int("hac_lags", hac_lags, minimum=0)
    y, x, single = _prepare(asset_returns, benchmark_returns, window, check_inf=False)
    moments = _moments_complete(y, x)
    if moments is None:  # some pair is missing (or a value is not finite): masked path
        check_no_inf("asset_returns", y)
        check_no_inf("benchmark_returns", x)
        moments = _moments_masked(y, x)
    n, xbar, ybar, sxx, sxy, syy, scale = moments
    n_assets = y.shape[1]
    label = (lambda j: repr(names[j])) if names else (lambda j: f"column {j + 1}")

    failed = np.zeros(n_assets, dtype=bool)
    short = n < min_obs
    if short.any():
        j = int(np.argmax(short))
        _fail(on_error, InsufficientDataError(
            f"asset_returns {label(j)} must have at least min_obs={min_obs} paired "
            f"observations with the benchmark, got {int(n[j])}"), failed, short)
    flat = ~failed & (sxx <= _ZERO_VARIANCE * np.maximum(scale, 1e-300))
    if flat.any():
        j = int(np.argmax(flat))
        _fail(on_error, DegenerateDataError(
            f"benchmark_returns must vary over the pairs of {label(j)} to define beta, "
            f"got zero variance over {int(n[j])} observations"), failed, flat)
    # Returns near 1e154 and beyond overflow the cross-products (inf - inf = NaN).
    overflow = ~failed & ~(np.isfinite(sxx) & np.isfinite(sxy) & np.isfinite(syy))
    if overflow.any():
        j = int(np.argmax(overflow))
        biggest = max(float(np.max(np.abs(v), initial=0.0, where=np.isfinite(v)))
                      for v in (y[:, j], x))
        _fail(on_error, DomainError(
            f"asset_returns {label(j)} and benchmark_returns must be small enough for "
            f"their squares and cross-products to be finite (|return| < 1e150), "
            f"got a value of magnitude {biggest:.3g}"),
            failed, overflow)

    with np.errstate(divide="ignore", invalid="ignore"):
        beta = sxy / sxx
        alpha = ybar - beta * xbar
        ssr = np.maximum(syy - beta * sxy, 0.0)
        dof = (n - 2).astype(float)
        se = np.sqrt(ssr / dof / sxx)
        r2 = np.where(syy > 0.0, 1.0 - ssr / np.where(syy > 0.0, syy, 1.0), 0.0)
        t_stat = np.where(se > 0.0, beta / np.where(se > 0.0, se, 1.0), np.nan)
    # The quantile and the lag count depend on n only: one evaluation per distinct n.
    if n.size and (n == n[0]).all():
        n_values, n_index = n[:1], np.zeros(n.size, dtype=np.intp)
    else:
        n_values, n_index = np.unique(n, return_inverse=True)
    q = _t_quantile(conf_level, (n_values - 2).astype(float))[n_index]
    lags = np.array([hac_lags if hac_lags is not None else hac_default_lags(int(k))
                     for k in n_values])[n_index]
    hac_se = (_hac_se(y, x, xbar, ybar, beta, sxx, n, lags) if hac
              else np.full(n_assets, np.nan))

    out = {
        "beta": beta, "alpha": alpha, "alpha_annualised": alpha * annualization,
        "r_squared": r2, "se": se, "hac_se": hac_se, "t_stat": t_stat,
        "ci_low": beta - q * se, "ci_high": beta + q * se,
    }
    if failed.any():
        for key, val in out.items():
            out[key] = np.where(failed, np.nan, val)
    if single:
        out = {k: v[0] for k, v in out.items()}
        n_out, lags_out = n[0], lags[0]
    else:
        n_out, lags_out = n, lags
    return BetaStats(**{k: np.asarray(v) for k, v in out.items()}, n_obs=np.asarray(n_out),
                     hac_lags=np.asarray(lags_out), conf_level=conf_level,
                     annualization=annualization)


_Moments = tuple[np.ndarray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray,
                 FloatArray]


def _moments_complete(y: FloatArray, x: FloatArray) -> _Moments | None:
    """Centred moments when every pair is present, in two passes over ``y``.

    Returns None when a value is missing or not finite, so that the caller
    takes the masked path. Uses one matrix product for the column sums and the
    cross-products with the centred benchmark, and one for the squares.
    """
    t = x.shape[0]
    if t == 0 or not np.isfinite(x).all():
        return None
    xbar = float(x.mean())
    xc = x - xbar
    sums = np.stack([np.ones(t), xc]) @ y  # (2, N): sum of y, sum of xc*y
    if not np.isfinite(sums).all():
        return None
    syy_raw = np.einsum("ij,ij->j", y, y)
    if not np.isfinite(syy_raw).all():
        return None
    n_assets = y.shape[1]
    ybar = sums[0] / t
    sxx = np.full(n_assets, float(xc @ xc))
    syy = syy_raw - t * ybar * ybar
    scale = np.full(n_assets, float(x @ x))
    return (np.full(n_assets, t), np.full(n_assets, xbar), ybar, sxx, sums[1],
            np.maximum(syy, 0.0), scale)


def _moments_masked(y: FloatArray, x: FloatArray) -> _Moments:
    """Centred moments over each column's present pairs (pair-wise deletion)."""
    mask = ~np.isnan(y) & ~np.isnan(x)[:, None]
    n = mask.sum(axis=0)
    nz = np.maximum(n, 1)
    xm = np.where(mask, x[:, None], 0.0)
    xbar = xm.sum(axis=0) / nz
    ybar = np.where(mask, y, 0.0).sum(axis=0) / nz
    xc = np.where(mask, x[:, None] - xbar, 0.0)
    yc = np.where(mask, y - ybar, 0.0)
    return (n, xbar, ybar, np.einsum("ij,ij->j", xc, xc), np.einsum("ij,ij->j", xc, yc),
            np.einsum("ij,ij->j", yc, yc), np.einsum("ij,ij->j", xm, xm))


def _hac_se(y: FloatArray, x: FloatArray, xbar: FloatArray, ybar: FloatArray,
            beta: FloatArray, sxx: FloatArray, n: np.ndarray, lags: np.ndarray) -> FloatArray:
    """Newey-West standard error of the slope, per column, on the present pairs.

    ``g_t = (x_t - xbar) e_t`` is zero where a pair is missing; columns with
    missing pairs are compressed to their present rows first, so that lags
    count present observations (as statsmodels with ``missing="drop"``).
    """
    with np.errstate(invalid="ignore"):
        xc = x[:, None] - xbar
        g = xc * ((y - ybar) - beta * xc)
    g = np.where(np.isnan(g), 0.0, g)
    n_assets = g.shape[1]
    out = np.full(n_assets, np.nan)
    complete = n == g.shape[0]
    ok = (n >= 3) & (sxx > 0)
    fast = ok & complete & (lags == lags[0]) if n_assets else ok
    if fast.any():  # vectorised over the complete columns sharing one lag count
        gf = g[:, fast]
        s = np.einsum("ij,ij->j", gf, gf)
        lag0 = int(lags[fast][0])
        for lag in range(1, lag0 + 1):
            s += 2.0 * (1.0 - lag / (lag0 + 1.0)) * np.einsum("ij,ij->j", gf[lag:], gf[:-lag])
        nf = n[fast].astype(float)
        out[fast] = np.sqrt(np.maximum(s / sxx[fast] ** 2 * nf / (nf - 2.0), 0.0))
    for j in np.flatnonzero(ok & ~fast):
        gj = g[:, j] if complete[j] else g[~np.isnan(y[:, j]) & ~np.isnan(x), j]
        s = float(gj @ gj)
        for lag in range(1, int(lags[j]) + 1):
            s += 2.0 * (1.0 - lag / (lags[j] + 1.0)) * float(gj[lag:] @ gj[:-lag])
        out[j] = math.sqrt(max(s / sxx[j] ** 2 * n[j] / (n[j] - 2.0), 0.0))
    return out


def blume_adjust(beta: float | FloatArray, *, weight: float = 0.67,
                 prior: float = 1.0) -> float | FloatArray:
    """Blume's adjusted beta, moving the raw estimate towards 1.

    Parameters
    ----------
    beta : float or array_like
        Raw (OLS) beta.
    weight : float
        Weight on the raw beta, in [0, 1] (Bloomberg: 0.67).
    prior : float
        Value shrunk towards (1: the benchmark's own beta).

    Returns
    -------
    float or numpy.ndarray
        :math:`\\beta_{adj} = w \\beta_{raw} + (1 - w)\\,prior`.

    Notes
    -----
    With BTC as the benchmark this *raises* the hedge of low-beta coins and
    lowers that of high-beta coins; it is offered as an option, not as the
    default for hedging.

    Examples
    --------
    >>> round(blume_adjust(1.3), 6)
    1.201
    """
    weight = in_range("weight", weight, 0.0, 1.0)
    prior = in_range("prior", prior)
    b = float_array("beta", beta)
    out = weight * b + (1.0 - weight) * prior
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class VasicekShrinkage:
    """Result of :func:`vasicek_shrink`.

    Attributes
    ----------
    beta : shrunk betas.
    weight_on_prior : :math:`w_i` for each asset.
    prior_mean : cross-sectional mean of the raw betas.
    prior_variance : variance of the true betas (Lally), floored at 0.
    """

    beta: FloatArray
    weight_on_prior: FloatArray
    prior_mean: float
    prior_variance: float


def vasicek_shrink(betas: object, standard_errors: object, *, prior_mean: float | None = None,
                   prior_variance: float | None = None) -> VasicekShrinkage:
    """Vasicek (Bayesian) shrinkage of betas towards the book's cross-section.

    Parameters
    ----------
    betas : array_like, shape (N,)
        Raw OLS betas of the book's holdings (N >= 3 unless both priors given).
    standard_errors : array_like, shape (N,)
        Their standard errors.
    prior_mean : float, optional
        Default: mean of ``betas``.
    prior_variance : float, optional
        Default (Lally, 1998): ``Var(betas, ddof=1) - mean(se**2)``, floored
        at 0 - the variance of the *true* betas, not of the estimates.

    Returns
    -------
    VasicekShrinkage

    Raises
    ------
    InsufficientDataError
        Fewer than 3 betas without explicit priors, or mismatched lengths.
    DomainError
        NaN betas, negative standard errors or prior variance.

    Notes
    -----
    :math:`\\beta_i^V = w_i \\bar\\beta + (1 - w_i) \\hat\\beta_i`,
    :math:`w_i = s_i^2 / (s_i^2 + \\sigma^2_{prior})` (Vasicek, 1973). A prior
    variance of 0 puts all the weight on the prior mean.

    Examples
    --------
    >>> r = vasicek_shrink([0.8, 1.0, 1.2], [0.0, 0.0, 0.0])
    >>> [round(float(b), 12) for b in r.beta]
    [0.8, 1.0, 1.2]
    """
    b = float_array("betas", betas, ndim=1)
    s = float_array("standard_errors", standard_errors, ndim=1)
    if b.shape != s.shape:
        raise InsufficientDataError(
            f"betas and standard_errors must have the same length, got {b.size} and {s.size}")
    if np.isnan(b).any() or np.isnan(s).any():
        raise DomainError("betas and standard_errors must not contain NaN")
    if (s < 0).any():
        raise DomainError(f"standard_errors must be >= 0, got {float(s.min())!r}")
    if (prior_mean is None or prior_variance is None) and b.size < 3:
        raise InsufficientDataError(
            f"betas must have at least 3 entries to estimate the prior, got {b.size}")
    mean = float(b.mean()) if prior_mean is None else in_range("prior_mean", prior_mean)
    if prior_variance is None:
        var = max(float(b.var(ddof=1)) - float((s**2).mean()), 0.0)
    else:
        var = in_range("prior_variance", prior_variance, 0.0)
    s2 = s**2
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(s2 + var > 0.0, s2 / np.where(s2 + var > 0, s2 + var, 1.0), 1.0)
    return VasicekShrinkage(beta=w * mean + (1.0 - w) * b, weight_on_prior=w,
                            prior_mean=mean, prior_variance=var)


def ewma_beta(asset_returns: object, benchmark_returns: object, *, lam: float = 0.94,
              seed_obs: int = 30) -> FloatArray:
    """RiskMetrics EWMA beta path (zero-mean recursion).

    Parameters
    ----------
    asset_returns : array_like, shape (T,) or (T, N)
    benchmark_returns : array_like, shape (T,)
    lam : float
        Decay :math:`\\lambda` in (0, 1): 0.94 daily (default), 0.97 monthly.
    seed_obs : int
        The recursion is seeded with the means of the first ``seed_obs``
        present products (default 30).

    Returns
    -------
    numpy.ndarray, shape like ``asset_returns``
        :math:`\\beta_t`; NaN until an asset has ``seed_obs`` present pairs.

    Raises
    ------
    DomainError
        ``lam`` outside (0, 1).
    InsufficientDataError
        Mismatched lengths.

    Notes
    -----
    .. math::

        c_t = \\lambda c_{t-1} + (1-\\lambda) r_{i,t} r_{m,t},\\quad
        v_t = \\lambda v_{t-1} + (1-\\lambda) r_{m,t}^2,\\quad \\beta_t = c_t / v_t.

    A missing pair leaves the state unchanged (no update). This is *not* what
    ``pandas.ewm(...).cov()`` computes (that de-means with an EW mean and
    applies a bias correction).

    Examples
    --------
    >>> x = np.tile([0.01, -0.02, 0.015], 20)
    >>> round(float(ewma_beta(1.5 * x, x, seed_obs=3)[-1]), 12)
    1.5
    """
    lam = in_range("lam", lam, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    seed_obs = positive_int("seed_obs", seed_obs, minimum=1)
    y, x, single = _prepare(asset_returns, benchmark_returns, None)
    t_len, n_assets = y.shape
    out = np.full((t_len, n_assets), np.nan)
    mask = ~np.isnan(y) & ~np.isnan(x)[:, None]
    count = np.zeros(n_assets, dtype=int)
    c = np.zeros(n_assets)
    v = np.zeros(n_assets)
    xv = np.nan_to_num(x)
    yv = np.nan_to_num(y)
    for t in range(t_len):
        m = mask[t]
        prod = yv[t] * xv[t]
        sq = xv[t] * xv[t]
        seeding = m & (count < seed_obs)
        c = np.where(seeding, c + prod / seed_obs, c)
        v = np.where(seeding, v + sq / seed_obs, v)
        running = m & (count >= seed_obs)
        c = np.where(running, lam * c + (1.0 - lam) * prod, c)
        v = np.where(running, lam * v + (1.0 - lam) * sq, v)
        count += m
        ready = count >= seed_obs
        with np.errstate(divide="ignore", invalid="ignore"):
            out[t] = np.where(ready & (v > 0.0), c / np.where(v > 0.0, v, 1.0), np.nan)
    return out[:, 0] if single else out


@dataclass(frozen=True)
class RollingBeta:
    """Rolling-window OLS statistics; each field has the shape of ``asset_returns``.

    Attributes
    ----------
    beta, alpha, r_squared, se : per window ending at each row (NaN when the
        window has fewer than ``min_obs`` pairs or a constant benchmark).
    n_obs : paired observations in each window.
    window, min_obs : the parameters used.
    """

    beta: FloatArray
    alpha: FloatArray
    r_squared: FloatArray
    se: FloatArray
    n_obs: np.ndarray
    window: int
    min_obs: int


def rolling_beta(asset_returns: object, benchmark_returns: object, *, window: int,
                 min_obs: int | None = None) -> RollingBeta:
    """Rolling OLS beta over a trailing window, in O(T) per asset.

    Parameters
    ----------
    asset_returns : array_like, shape (T,) or (T, N)
    benchmark_returns : array_like, shape (T,)
    window : int
        Rows per window (>= 3); the window ending at row ``t`` spans rows
        ``t - window + 1 .. t``. Rows before the first complete window are NaN
        (every row, when ``window`` exceeds the history).
    min_obs : int, optional
        Minimum present pairs in a window (3 .. window); default ``window``
        (only full windows).

    Returns
    -------
    RollingBeta

    Raises
    ------
    DomainError
        ``window`` < 3 or ``min_obs`` outside [3, window].
    InsufficientDataError
        Mismatched lengths.

    Notes
    -----
    Window sums :math:`S = C_t - C_{t-w}` come from cumulative sums of
    :math:`1, x, y, x^2, xy, y^2` over present pairs. Each series is first
    de-meaned with its full-sample mean, which keeps the cumulative sums small
    and the differences accurate on long histories (the moments within a
    window do not depend on the shift). Then
    :math:`S_{xx} = \\sum x^2 - (\\sum x)^2/n`, :math:`\\beta = S_{xy}/S_{xx}`,
    :math:`SE = \\sqrt{(S_{yy} - \\beta S_{xy})/(n-2)/S_{xx}}`.

    Examples
    --------
    >>> x = np.array([0.01, -0.02, 0.03, 0.0, -0.01, 0.02])
    >>> rb = rolling_beta(3.0 * x, x, window=4)
    >>> np.round(rb.beta, 12).tolist()
    [nan, nan, nan, 3.0, 3.0, 3.0]
    """
    window = positive_int("window", window, minimum=3)
    min_obs = window if min_obs is None else positive_int("min_obs", min_obs, minimum=3)
    if min_obs > window:
        raise DomainError(f"min_obs must be <= window ({window}), got {min_obs}")
    y, x, single = _prepare(asset_returns, benchmark_returns, None)
    # A window longer than the history has no complete window, exactly as one of
    # T + 1 rows; capping it keeps the index arithmetic inside int64.
    span = min(window, y.shape[0] + 1)
    if not np.isnan(x).any() and not np.isnan(y).any():
        res = _rolling_complete(y, x, span)
    else:
        res = _rolling_masked(y, x, span, min(min_obs, span))
    beta, alpha, r2, se, n_obs = res
    if single:
        return RollingBeta(beta[:, 0], alpha[:, 0], r2[:, 0], se[:, 0], n_obs[:, 0],
                           window, min_obs)
    return RollingBeta(beta, alpha, r2, se, n_obs, window, min_obs)


def _window_stats(n: FloatArray, sx: FloatArray, sy: FloatArray, sxx_raw: FloatArray,
                  sxy_raw: FloatArray, syy_raw: FloatArray, mx: FloatArray, my: FloatArray,
                  valid: np.ndarray) -> tuple[FloatArray, ...]:
    """Beta, alpha, R^2 and SE from the window sums of de-meaned data."""
    with np.errstate(divide="ignore", invalid="ignore"):
        sxx = sxx_raw - sx * sx / n
        sxy = sxy_raw - sx * sy / n
        syy = syy_raw - sy * sy / n
        valid = valid & (sxx > _ZERO_VARIANCE * np.maximum(sxx_raw, 1e-300))
        beta = np.where(valid, sxy / sxx, np.nan)
        alpha = np.where(valid, (sy / n + my) - beta * (sx / n + mx), np.nan)
        ssr = np.maximum(syy - beta * sxy, 0.0)
        se = np.where(valid, np.sqrt(ssr / (n - 2.0) / sxx), np.nan)
        r2 = np.where(valid, np.where(syy > 0, 1.0 - ssr / np.where(syy > 0, syy, 1.0), 0.0),
                      np.nan)
    return beta, alpha, r2, se


def _window_sums(a: FloatArray, window: int) -> FloatArray:
    """Sums over each complete trailing window (rows ``window-1 ..``), from a cumsum."""
    c = np.cumsum(a, axis=0)
    out = np.empty((c.shape[0] - window + 1, *c.shape[1:]))
    out[0] = c[window - 1]
    np.subtract(c[window:], c[:-window], out=out[1:])
    return out


def _rolling_complete(y: FloatArray, x: FloatArray, window: int) -> tuple[np.ndarray, ...]:
    """Rolling statistics when no value is missing.

    Same formulas as :func:`_window_stats` with ``n = window``. This is the
    path bulk users hit, and its cost is dominated by first touches of fresh
    large arrays, so it works in place: two scratch arrays, and the four
    output arrays double as scratch space before they receive their results.
    ``n_obs`` is a read-only broadcast view.
    """
    t_len, n_assets = y.shape
    beta_out, alpha_out, r2_out, se_out = (np.empty((t_len, n_assets)) for _ in range(4))
    n_obs = np.broadcast_to(
        np.where(np.arange(t_len) >= window - 1, window, 0)[:, None], (t_len, n_assets))
    for out in (beta_out, alpha_out, r2_out, se_out):
        out[: window - 1] = np.nan
    if t_len < window:
        return beta_out, alpha_out, r2_out, se_out, n_obs
    beta, alpha, r2, se = (o[window - 1:] for o in (beta_out, alpha_out, r2_out, se_out))
    rows = t_len - window + 1
    n = float(window)
    mx = float(x.mean())
    my = y.mean(axis=0)
    xd = x - mx
    sx = _window_sums(xd, window)[:, None]
    sxx_raw = _window_sums(xd * xd, window)[:, None]
    sxx = sxx_raw - sx * sx / n
    flat = ~(sxx > _ZERO_VARIANCE * np.maximum(sxx_raw, 1e-300))[:, 0]

    def window_sums_into(buf: FloatArray, out: FloatArray) -> None:
        np.cumsum(buf, axis=0, out=buf)
        out[0] = buf[window - 1]
        np.subtract(buf[window:], buf[:-window], out=out[1:])

    dev = np.subtract(y, my)  # de-meaned asset returns
    scratch = np.empty_like(dev)
    np.copyto(scratch, dev)
    window_sums_into(scratch, alpha)  # alpha <- sum y
    np.multiply(xd[:, None], dev, out=scratch)
    window_sums_into(scratch, beta)  # beta <- sum x y
    np.square(dev, out=dev)
    window_sums_into(dev, r2)  # r2 <- sum y^2
    sy, sxy, syy = alpha, beta, r2
    np.multiply(sy, sx / n, out=se)
    sxy -= se  # centred S_xy
    np.square(sy, out=se)
    se /= n
    syy -= se  # centred S_yy
    no_var = ~(syy > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(sxy, sxx, out=beta)  # beta
        np.square(beta, out=se)
        se *= sxx
        np.subtract(syy, se, out=se)
        np.maximum(se, 0.0, out=se)  # SSR = S_yy - beta^2 S_xx
        np.divide(se, syy, out=r2)
        np.subtract(1.0, r2, out=r2)  # R^2 = 1 - SSR / S_yy
        r2[no_var] = 0.0
        np.divide(se, (n - 2.0) * sxx, out=se)
        np.sqrt(se, out=se)  # SE = sqrt(SSR / (n - 2) / S_xx)
    alpha /= n
    alpha += my  # mean of y in the window
    tmp = scratch[:rows]
    np.multiply(beta, sx / n + mx, out=tmp)
    alpha -= tmp  # alpha = ybar - beta xbar
    if flat.any():
        for out in (beta, alpha, r2, se):
            out[flat] = np.nan
    return beta_out, alpha_out, r2_out, se_out, n_obs


def _rolling_masked(y: FloatArray, x: FloatArray, window: int,
                    min_obs: int) -> tuple[np.ndarray, ...]:
    """Rolling statistics over the present pairs of each window."""
    mask = ~np.isnan(y) & ~np.isnan(x)[:, None]
    xs = np.where(mask, x[:, None], np.nan)
    mx = np.nanmean(np.where(mask.any(axis=0), xs, 0.0), axis=0)
    my = np.nanmean(np.where(mask, y, np.nan), axis=0) if mask.any() else np.zeros(y.shape[1])
    my = np.nan_to_num(my)
    xd = np.where(mask, x[:, None] - mx, 0.0)
    yd = np.where(mask, y - my, 0.0)
    m = mask.astype(float)

    def wsum(a: FloatArray) -> FloatArray:
        c = np.cumsum(a, axis=0)
        out = c.copy()
        out[window:] = c[window:] - c[:-window]
        return out

    n = np.rint(wsum(m))
    valid = n >= min_obs
    valid[: window - 1] = False  # only complete trailing windows, as RollingOLS
    beta, alpha, r2, se = _window_stats(n, wsum(xd), wsum(yd), wsum(xd * xd), wsum(xd * yd),
                                        wsum(yd * yd), mx, my, valid)
    return beta, alpha, r2, se, n.astype(int)


@dataclass(frozen=True)
class MultiBetaStats:
    """Multivariate OLS of each asset on several factors (e.g. BTC and ETH).

    Attributes
    ----------
    coef : array (N, K) of factor betas.
    alpha : array (N,) intercepts per period.
    se : array (N, K) conventional standard errors.
    r_squared : array (N,).
    n_obs : array (N,) observations used.
    """

    coef: FloatArray
    alpha: FloatArray
    se: FloatArray
    r_squared: FloatArray
    n_obs: np.ndarray


def multivariate_beta(asset_returns: object, factor_returns: object, *,
                      min_obs: int = DEFAULT_MIN_OBS) -> MultiBetaStats:
    """Betas of each asset on several factors at once (with intercept).

    Parameters
    ----------
    asset_returns : array_like, shape (T,) or (T, N)
    factor_returns : array_like, shape (T, K)
        E.g. BTC and ETH returns, for a two-instrument hedge.
    min_obs : int
        Minimum rows with the asset and every factor present (default 60).

    Returns
    -------
    MultiBetaStats

    Raises
    ------
    InsufficientDataError
        Too few complete rows or mismatched lengths.
    DegenerateDataError
        Factors are collinear or constant over an asset's rows.

    Notes
    -----
    :math:`\\hat b = (X'X)^{-1} X'y` with :math:`X = [1, F]`, solved per asset on
    the rows where all values are present; :math:`SE_k = \\sqrt{s^2 [(X'X)^{-1}]_{kk}}`,
    :math:`s^2 = SSR/(n-K-1)`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=(100, 2))
    >>> y = 0.5 * f[:, 0] + 0.8 * f[:, 1]
    >>> np.round(multivariate_beta(y, f).coef, 12).tolist()
    [[0.5, 0.8]]
    """
    min_obs = _check_min_obs(min_obs)
    y = float_array("asset_returns", asset_returns)
    f = float_array("factor_returns", factor_returns, ndim=2)
    if y.ndim == 1:
        y = y[:, None]
    if y.shape[0] != f.shape[0]:
        raise InsufficientDataError(
            f"asset_returns and factor_returns must have the same number of rows, "
            f"got {y.shape[0]} and {f.shape[0]}")
    k = f.shape[1]
    n_assets = y.shape[1]
    coef = np.full((n_assets, k), np.nan)
    se = np.full((n_assets, k), np.nan)
    alpha = np.full(n_assets, np.nan)
    r2 = np.full(n_assets, np.nan)
    nobs = np.zeros(n_assets, dtype=int)
    frow = ~np.isnan(f).any(axis=1)
    for j in range(n_assets):
        rows = frow & ~np.isnan(y[:, j])
        n = int(rows.sum())
        nobs[j] = n
        if n < max(min_obs, k + 2):
            raise InsufficientDataError(
                f"asset_returns column {j + 1} must have at least {max(min_obs, k + 2)} rows "
                f"with every factor present, got {n}")
        X = np.column_stack([np.ones(n), f[rows]])
        yy = y[rows, j]
        xtx = X.T @ X
        if np.linalg.matrix_rank(X) < k + 1:
            raise DegenerateDataError(
                f"factor_returns must be neither constant nor collinear over the rows of "
                f"column {j + 1}, got a rank-deficient design")
        inv = np.linalg.inv(xtx)
        b = inv @ (X.T @ yy)
        e = yy - X @ b
        s2 = float(e @ e) / (n - k - 1)
        tss = float(((yy - yy.mean()) ** 2).sum())
        alpha[j], coef[j] = b[0], b[1:]
        se[j] = np.sqrt(s2 * np.diag(inv)[1:])
        r2[j] = 1.0 - float(e @ e) / tss if tss > 0 else 0.0
    return MultiBetaStats(coef=coef, alpha=alpha, se=se, r_squared=r2, n_obs=nobs)


@dataclass(frozen=True)
class BetaEstimate:
    """Betas from prices with the chosen method, plus OLS statistics.

    Attributes
    ----------
    beta : array (N,) the betas of the chosen method.
    method : the method used.
    stats : OLS statistics over the same sample (``beta`` there is the raw OLS beta).
    names : the asset names.
    start, end : first and last date of the return sample (None for arrays).
    """

    beta: FloatArray
    method: str
    stats: BetaStats
    names: list[str]
    start: object
    end: object


def betas_from_prices(
    asset_prices: pd.DataFrame | pd.Series,
    benchmark_prices: pd.Series,
    *,
    method: BetaMethod = "ols",
    window: int | None = None,
    min_obs: int = DEFAULT_MIN_OBS,
    return_kind: ReturnKind = "simple",
    frequency: Literal["daily", "weekly"] = "daily",
    lam: float = 0.94,
    on_error: OnError = "raise",
    half_life: float = 126.0,
) -> BetaEstimate:
    """Each asset's beta to a benchmark, from dated price histories.

    Parameters
    ----------
    asset_prices : pandas.DataFrame or pandas.Series
        One column per asset, indexed by date (UTC).
    benchmark_prices : pandas.Series
        BTC, or a composite index (see
        :func:`betaneutral.core.returns.composite_index`).
    method : str
        ``"ols"`` (default), ``"blume"``, ``"ewma"``, ``"ewls"``, ``"welch"``,
        ``"welch-decay"``, ``"realised"``, ``"vasicek"`` or
        ``"vasicek-<base>"``: raw OLS beta, Blume-adjusted OLS, the RiskMetrics
        EWMA beta at the last date, exponentially weighted least squares
        (half-life ``half_life`` returns), Welch's slope-winsorised beta
        without and with that decay, the realised beta
        (:math:`\\sum r_i r_m / \\sum r_m^2`, for intraday prices), or the
        betas of a base estimator (OLS for ``"vasicek"``; ``ols``, ``ewls``,
        ``welch``, ``welch-decay`` or ``realised`` after the dash) shrunk
        towards the cross-section of the assets given (Vasicek, with the
        base's standard errors; needs at least 3 assets, see Notes). See
        :mod:`betaneutral.core.estimators`.
    window : int, optional
        Use the last ``window`` returns (default all).
    min_obs : int
        Minimum paired returns (default 60).
    return_kind : {"simple", "log"}
    frequency : {"daily", "weekly"}
        Weekly resamples prices to the last close of each week first
        (annualisation then uses 52).
    lam : float
        EWMA decay (method "ewma").
    half_life : float
        Half-life in returns of "ewls" and "welch-decay" (default 126, about
        four months of daily returns).
    on_error : {"raise", "nan"}
        Per-asset failure handling (see :func:`ols_beta`).

    Returns
    -------
    BetaEstimate

    Raises
    ------
    InsufficientDataError, DegenerateDataError, DomainError, UnknownNameError
        As the underlying steps.

    Notes
    -----
    Vasicek: :math:`\\beta^V_i = w_i \\bar\\beta + (1 - w_i) \\hat\\beta_i`,
    :math:`w_i = s_i^2 / (s_i^2 + \\sigma^2)` over the assets that have a
    base beta (:func:`vasicek_shrink`). With ``on_error="nan"`` an asset with
    too few pairs (NaN beta) is left out of the cross-section and keeps NaN;
    the others are shrunk towards the mean of the rest, and all are NaN when
    fewer than 3 assets have a beta.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=5)
    >>> btc = pd.Series([100.0, 102.0, 99.0, 101.0, 103.0], index=idx)
    >>> alt = pd.DataFrame({"ALT": 1.0 + 2.0 * (btc / 100.0 - 1.0)}, index=idx)
    >>> est = betas_from_prices(alt, btc, min_obs=3)
    >>> bool(est.beta[0] > 0)
    True
    """
    method = choice("method", method, BETA_METHODS)  # type: ignore[assignment]
    frequency = choice("frequency", frequency, ("daily", "weekly"))  # type: ignore[assignment]
    assets, bench = align_prices(asset_prices, benchmark_prices)
    if frequency == "weekly":
        assets, bench = weekly_prices(assets), weekly_prices(bench)
    names = [str(c) for c in assets.columns]
    ra = returns_from_prices(assets, kind=return_kind, name="asset_prices")
    rb = returns_from_prices(bench, kind=return_kind, name="benchmark_prices")
    if window is not None:
        window = positive_int("window", window, minimum=1)
        ra, rb = ra.iloc[-window:], rb.iloc[-window:]
    ann = 52.0 if frequency == "weekly" else 365.0
    stats = ols_beta(ra.to_numpy(), rb.to_numpy(), min_obs=min_obs, annualization=ann,
                     on_error=on_error, names=names)
    beta = np.atleast_1d(stats.beta)
    if method == "blume":
        beta = np.asarray(blume_adjust(beta))
    elif method == "ewma":
        path = np.atleast_2d(ewma_beta(ra.to_numpy(), rb.to_numpy(), lam=lam).T).T
        last = path[-1] if len(path) else np.full(beta.shape, np.nan)
        unseeded = np.isnan(last) & ~np.isnan(beta)
        if unseeded.any() and on_error == "raise":
            j = int(np.argmax(unseeded))
            raise InsufficientDataError(
                f"asset_prices {names[j]!r} must have at least 30 paired returns to seed the "
                f"EWMA beta, got {int(np.atleast_1d(stats.n_obs)[j])}")
        beta = np.where(np.isnan(beta), np.nan, last)
    elif method.startswith("vasicek"):
        if beta.size < 3:
            raise InsufficientDataError(
                f"asset_prices must have at least 3 assets for the Vasicek beta (it shrinks "
                f"towards their cross-section), got {beta.size}")
        base = "ols" if method == "vasicek" else method[len("vasicek-"):]
        se = np.atleast_1d(stats.se)
        if base != "ols":
            from betaneutral.core.estimators import weighted_beta

            fit = weighted_beta(ra.to_numpy(), rb.to_numpy(), method=base,
                                half_life=half_life, min_obs=min_obs)
            beta = np.where(np.isnan(beta), np.nan, np.atleast_1d(fit.beta))
            se = np.where(np.isnan(beta), np.nan, np.atleast_1d(fit.se))
        ok = ~(np.isnan(beta) | np.isnan(se))
        shrunk = np.full(beta.shape, np.nan)
        if ok.sum() >= 3:
            shrunk[ok] = vasicek_shrink(beta[ok], se[ok]).beta
        beta = shrunk
    elif method != "ols":  # ewls, welch, welch-decay, realised
        from betaneutral.core.estimators import weighted_beta

        fit = weighted_beta(ra.to_numpy(), rb.to_numpy(), method=method, half_life=half_life,
                            min_obs=min_obs)
        beta = np.where(np.isnan(beta), np.nan, np.atleast_1d(fit.beta))
    start = ra.index[0] if len(ra) else None
    end = ra.index[-1] if len(ra) else None
    return BetaEstimate(beta=beta, method=method, stats=stats, names=names, start=start,
                        end=end)
