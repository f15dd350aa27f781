"""Robust and decayed betas against independent references: hand cases and statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from betaneutral.core.beta import betas_from_prices, vasicek_shrink
from betaneutral.core.estimators import (
    decay_weights,
    diebold_mariano,
    realised_beta,
    slope_winsorise,
    trailing_paths,
    vasicek_paths,
    weighted_beta,
)
from betaneutral.errors import InsufficientDataError, UnknownNameError


def _wls(y, x, w):
    fit = sm.WLS(y, sm.add_constant(x), weights=w).fit()
    return fit.params[1], fit.bse[1]


# ----------------------------------------------------------------- Welch (2022), by hand

# Market and asset returns chosen so that some days fall outside Welch's band
# [min(-2 rm, 4 rm), max(-2 rm, 4 rm)] (delta = 3: (1 - 3) rm and (1 + 3) rm).
RM = np.array([0.010, -0.020, 0.030, 0.000, -0.010, 0.020, 0.015, -0.005])
RI = np.array([0.060, -0.010, 0.050, 0.010, 0.030, -0.050, 0.020, -0.030])
# Day by day: rm=0.01 -> band [-0.02, 0.04]: 0.06 -> 0.04.
#             rm=-0.02 -> band [-0.08, 0.04]: -0.01 stays.
#             rm=0.03 -> band [-0.06, 0.12]: 0.05 stays.
#             rm=0 -> band [0, 0]: 0.01 -> 0.
#             rm=-0.01 -> band [-0.04, 0.02]: 0.03 -> 0.02.
#             rm=0.02 -> band [-0.04, 0.08]: -0.05 -> -0.04.
#             rm=0.015 -> band [-0.03, 0.06]: 0.02 stays.
#             rm=-0.005 -> band [-0.02, 0.01]: -0.03 -> -0.02.
RI_WINSORISED = [0.04, -0.01, 0.05, 0.0, 0.02, -0.04, 0.02, -0.02]


def test_slope_winsorisation_hand_case():
    """Each return is clipped to -2x..+4x the day's market return, as written out above."""
    np.testing.assert_allclose(slope_winsorise(RI, RM), RI_WINSORISED, atol=1e-15)
    # two assets at once, column by column
    both = slope_winsorise(np.column_stack([RI, -RI]), RM)
    np.testing.assert_allclose(both[:, 0], RI_WINSORISED, atol=1e-15)


def test_welch_beta_is_ols_on_the_winsorised_returns():
    """welch = statsmodels OLS (with intercept) of the hand-winsorised returns on the market."""
    ref = sm.OLS(RI_WINSORISED, sm.add_constant(RM)).fit()
    fit = weighted_beta(RI, RM, method="welch", min_obs=3)
    assert float(fit.beta) == pytest.approx(ref.params[1], abs=1e-12)
    assert float(fit.se) == pytest.approx(ref.bse[1], abs=1e-12)
    # and it differs from OLS on the raw returns (the clipped days matter)
    assert abs(float(fit.beta) - sm.OLS(RI, sm.add_constant(RM)).fit().params[1]) > 0.05


def test_welch_decay_is_wls_with_age_decay_on_the_winsorised_returns():
    """welch-decay = WLS with weights exp(-a age), a = ln 2 / half-life (Welch's a = 2/252)."""
    half_life = 3.0
    age = np.arange(len(RM))[::-1]  # the last day has age 0
    w = np.exp(-math.log(2.0) / half_life * age)
    np.testing.assert_allclose(decay_weights(len(RM), half_life), w, rtol=1e-14)
    b, se = _wls(np.array(RI_WINSORISED), RM, w)
    fit = weighted_beta(RI, RM, method="welch-decay", half_life=half_life, min_obs=3)
    assert float(fit.beta) == pytest.approx(b, abs=1e-12)
    assert float(fit.se) == pytest.approx(se, abs=1e-12)
    # Welch's own calibration: a = 2/252 a trading day is a half-life of 87.3 trading days
    assert math.log(2.0) / (2.0 / 252.0) == pytest.approx(87.3, abs=0.05)


# ----------------------------------------------------------------- EWLS vs statsmodels WLS


@pytest.mark.parametrize("half_life", [10.0, 126.0])
def test_ewls_matches_statsmodels_wls(half_life):
    """Full-sample EWLS = statsmodels WLS with the same weights, to 1e-10, per asset."""
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 0.03, 500)
    y = x[:, None] * [0.5, 1.2, 2.0] + rng.normal(0.0, 0.02, (500, 3))
    y[17, 1] = np.nan  # a missing pair: that asset uses the other rows, weights unchanged
    fit = weighted_beta(y, x, method="ewls", half_life=half_life)
    w = 0.5 ** ((499 - np.arange(500)) / half_life)
    for j in range(3):
        keep = ~np.isnan(y[:, j])
        b, se = _wls(y[keep, j], x[keep], w[keep])
        assert fit.beta[j] == pytest.approx(b, abs=1e-10)
        assert fit.se[j] == pytest.approx(se, abs=1e-10)
        assert fit.n_obs[j] == keep.sum()


@pytest.mark.parametrize("method", ["ols", "ewls", "welch", "welch-decay"])
@pytest.mark.parametrize("window", [40, None])
def test_trailing_paths_match_statsmodels_on_each_window(method, window):
    """Row t of the path = WLS over the window ending at t (weights aged from t)."""
    rng = np.random.default_rng(5)
    t_len = 300
    x = rng.normal(0.0, 0.03, t_len)
    y = x[:, None] * [0.7, 1.6] + rng.normal(0.0, 0.03, (t_len, 2))
    x[0] = np.nan
    y[50, 0] = np.nan
    beta, se = trailing_paths(y, x, method=method, window=window, min_obs=20, half_life=25.0)
    yw = slope_winsorise(y, x) if method.startswith("welch") else y
    for t in (60, 150, 299):
        lo = 0 if window is None else t - window + 1
        w = 0.5 ** ((t - np.arange(lo, t + 1)) / 25.0) if method in ("ewls", "welch-decay") \
            else np.ones(t + 1 - lo)
        for j in range(2):
            xs, ys = x[lo:t + 1], yw[lo:t + 1, j]
            keep = ~np.isnan(xs) & ~np.isnan(ys)
            b, s = _wls(ys[keep], xs[keep], w[keep])
            assert beta[t, j] == pytest.approx(b, abs=1e-9), (t, j)
            assert se[t, j] == pytest.approx(s, abs=1e-9), (t, j)


def test_trailing_paths_need_min_obs():
    x = np.linspace(-0.02, 0.02, 30)
    beta, _ = trailing_paths(np.c_[x, x, x], x, method="ewls", window=None, min_obs=10)
    assert np.isnan(beta[:9]).all()
    assert not np.isnan(beta[9:]).any()


# ----------------------------------------------------------------- realised beta


def test_realised_beta_hand_case():
    """Sum of cross-products over sum of squares, no intercept: written out by hand."""
    rm = [0.01, -0.02, 0.005, 0.0]
    ri = [0.02, -0.03, 0.0, 0.01]
    # sum ri rm = 0.0002 + 0.0006 + 0 + 0 = 0.0008; sum rm^2 = 0.0001 + 0.0004 + 0.000025
    expected = 0.0008 / 0.000525
    assert float(realised_beta(ri, rm, min_obs=3)) == pytest.approx(expected, rel=1e-13)
    # the window keeps the last rows only: 0.00060 / 0.000425
    assert float(realised_beta(ri, rm, window=3, min_obs=3)) == pytest.approx(
        0.0006 / 0.000425, rel=1e-13)
    path, _ = trailing_paths(np.array(ri)[:, None], np.array(rm), method="realised", window=3,
                             min_obs=3)
    assert path[3, 0] == pytest.approx(0.0006 / 0.000425, rel=1e-12)


# ----------------------------------------------------------------- Vasicek of any estimator


def test_vasicek_paths_are_vasicek_shrink_row_by_row():
    rng = np.random.default_rng(8)
    b = rng.uniform(0.5, 1.8, (5, 4))
    s = rng.uniform(0.05, 0.3, (5, 4))
    b[2, 1] = np.nan
    out = vasicek_paths(b, s)
    for t in range(5):
        if t == 2:
            assert np.isnan(out[t]).all()
            continue
        np.testing.assert_allclose(out[t], vasicek_shrink(b[t], s[t]).beta, rtol=1e-13)
    with pytest.raises(InsufficientDataError, match="at least 3 assets"):
        vasicek_paths(b[:, :2], s[:, :2])


def test_vasicek_of_a_decayed_estimator():
    """vasicek-ewls shrinks the ewls path with the ewls standard errors."""
    rng = np.random.default_rng(9)
    x = rng.normal(0.0, 0.03, 200)
    y = x[:, None] * [0.6, 1.0, 1.5] + rng.normal(0.0, 0.03, (200, 3))
    raw, se = trailing_paths(y, x, method="ewls", window=90, min_obs=30, half_life=40.0)
    shrunk, _ = trailing_paths(y, x, method="vasicek-ewls", window=90, min_obs=30,
                               half_life=40.0)
    np.testing.assert_allclose(shrunk[150], vasicek_shrink(raw[150], se[150]).beta, rtol=1e-13)
    with pytest.raises(UnknownNameError):
        trailing_paths(y, x, method="vasicek-ewma", window=90, min_obs=30)


def test_betas_from_prices_offers_every_method():
    import pandas as pd

    rng = np.random.default_rng(11)
    idx = pd.date_range("2023-01-01", periods=301)
    btc = pd.Series(30_000 * np.cumprod(np.r_[1.0, 1 + rng.normal(0, 0.03, 300)]), index=idx)
    rb = btc.pct_change().to_numpy()[1:]
    ra = rb[:, None] * [0.8, 1.1, 1.7] + rng.normal(0, 0.02, (300, 3))
    assets = pd.DataFrame(np.vstack([np.ones(3), np.cumprod(1 + ra, axis=0)]), index=idx,
                          columns=["A", "B", "C"])
    for method in ("ewls", "welch", "welch-decay", "realised"):
        est = betas_from_prices(assets, btc, method=method)
        np.testing.assert_allclose(est.beta, weighted_beta(ra, rb, method=method).beta,
                                   rtol=1e-12)
    ols = betas_from_prices(assets, btc, method="ols")
    vas = betas_from_prices(assets, btc, method="vasicek")
    np.testing.assert_allclose(vas.beta, vasicek_shrink(ols.beta, ols.stats.se).beta)
    with pytest.raises(InsufficientDataError, match="at least 3 assets"):
        betas_from_prices(assets[["A"]], btc, method="vasicek")


# ----------------------------------------------------------------- Diebold-Mariano


def test_diebold_mariano_hand_case():
    """d = a - b = [-1, -1, -2, 0, 1, -3]; written out with one Newey-West lag."""
    a = np.array([1.0, 2.0, 1.0, 2.0, 4.0, 0.0])
    b = np.array([2.0, 3.0, 3.0, 2.0, 3.0, 3.0])
    # mean d = -1; centred d = [0, 0, -1, 1, 2, -2]
    # gamma0 = (0 + 0 + 1 + 1 + 4 + 4) / 6 = 10/6
    # gamma1 = (0*0 + (-1)*0 + 1*(-1) + 2*1 + (-2)*2) / 6 = -3/6
    # long-run variance = 10/6 + 2 * (1 - 1/2) * (-3/6) = 7/6
    # DM = -1 / sqrt((7/6) / 6) = -2.2677868...
    r = diebold_mariano(a, b, lags=1)
    stat = -1.0 / math.sqrt((7.0 / 6.0) / 6.0)
    assert r.statistic == pytest.approx(stat, rel=1e-13)
    assert r.mean_difference == pytest.approx(-1.0, rel=1e-15)
    # one-sided p = Phi(DM); two-sided 2 Phi(-|DM|)
    phi = 0.5 * math.erfc(-stat / math.sqrt(2.0))
    assert r.p_value == pytest.approx(phi, rel=1e-12)
    assert r.p_value_two_sided == pytest.approx(2.0 * phi, rel=1e-12)
    assert (r.lags, r.n_obs) == (1, 6)


def test_diebold_mariano_variance_is_statsmodels_newey_west():
    """The long-run variance of the mean: statsmodels' HAC of a regression on a constant."""
    rng = np.random.default_rng(4)
    a = rng.normal(0.0, 1.0, 400) ** 2
    b = (0.9 * rng.normal(0.0, 1.0, 400) + 0.3 * np.roll(a, 1)) ** 2
    r = diebold_mariano(a, b)
    assert r.lags == math.floor(4 * (400 / 100) ** (2 / 9))
    fit = sm.OLS(a - b, np.ones(400)).fit(cov_type="HAC", cov_kwds={"maxlags": r.lags,
                                                                   "use_correction": False})
    assert r.statistic == pytest.approx(fit.params[0] / fit.bse[0], rel=1e-10)


def test_beta_vs_btc_offers_the_robust_methods():
    """The Excel function's new methods: statsmodels WLS / OLS on the same returns, the
    realised beta by its formula, and Vasicek refused for one asset (#N/A or #VALUE!)."""
    from betaneutral import udfs
    from betaneutral.sample import sample_prices

    prices = sample_prices()
    eth = [[float(v)] for v in prices["ETH"]]
    btc = [[float(v)] for v in prices["BTC"]]
    x = prices["BTC"].pct_change().to_numpy()[1:]
    y = prices["ETH"].pct_change().to_numpy()[1:]
    w = 0.5 ** ((len(x) - 1 - np.arange(len(x))) / 126.0)
    assert udfs.BETA_VS_BTC(eth, btc, None, "ewls") == pytest.approx(_wls(y, x, w)[0],
                                                                      abs=1e-10)
    yw = np.clip(y, np.minimum(-2 * x, 4 * x), np.maximum(-2 * x, 4 * x))
    assert udfs.BETA_VS_BTC(eth, btc, None, "Welch") == pytest.approx(
        sm.OLS(yw, sm.add_constant(x)).fit().params[1], abs=1e-10)
    assert udfs.BETA_VS_BTC(eth, btc, None, "welch-decay") == pytest.approx(
        _wls(yw, x, w)[0], abs=1e-10)
    assert udfs.BETA_VS_BTC(eth, btc, 90, "realised") == pytest.approx(
        (x[-90:] @ y[-90:]) / (x[-90:] @ x[-90:]), rel=1e-12)
    assert udfs.BETA_VS_BTC(eth, btc, None, "vasicek") in ("#N/A", "#VALUE!")
