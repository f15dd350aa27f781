"""Beta estimators against statsmodels, Excel's SLOPE example, hand cases and real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from statsmodels.regression.rolling import RollingOLS

from betaneutral.core.beta import (
    betas_from_prices,
    blume_adjust,
    ewma_beta,
    hac_default_lags,
    multivariate_beta,
    ols_beta,
    rolling_beta,
    vasicek_shrink,
)
from betaneutral.core.returns import returns_from_prices
from betaneutral.errors import DegenerateDataError, DomainError, InsufficientDataError


@pytest.fixture(scope="module", params=["with-gaps", "complete"])
def market(request):
    """Random benchmark and 5 assets with known betas, with or without missing values.

    The two variants exercise the masked (pair-wise deletion) and complete-data code paths.
    """
    rng = np.random.default_rng(42)
    t = 400
    x = rng.normal(0.0, 0.03, t)
    betas = np.array([0.5, 1.0, 1.3, -0.4, 2.0])
    y = x[:, None] * betas + rng.normal(0.0005, 0.02, (t, 5))
    if request.param == "with-gaps":
        y[rng.random((t, 5)) < 0.05] = np.nan
        x = x.copy()
        x[[3, 50, 51]] = np.nan
    return x, y


def _sm_fit(x, y, **kw):
    ok = ~np.isnan(x) & ~np.isnan(y)
    return sm.OLS(y[ok], sm.add_constant(x[ok])).fit(**kw), int(ok.sum())


def test_ols_matches_statsmodels_per_asset_with_pairwise_deletion(market):
    """Beta, alpha, SE, R^2, t, n and the 95% CI equal statsmodels OLS on each asset's pairs."""
    x, y = market
    stats = ols_beta(y, x)
    for j in range(y.shape[1]):
        res, n = _sm_fit(x, y[:, j])
        ci = res.conf_int(alpha=0.05)
        assert stats.n_obs[j] == n
        np.testing.assert_allclose(stats.beta[j], res.params[1], rtol=1e-10)
        np.testing.assert_allclose(stats.alpha[j], res.params[0], rtol=1e-10)
        np.testing.assert_allclose(stats.se[j], res.bse[1], rtol=1e-10)
        np.testing.assert_allclose(stats.r_squared[j], res.rsquared, rtol=1e-10)
        np.testing.assert_allclose(stats.t_stat[j], res.tvalues[1], rtol=1e-10)
        np.testing.assert_allclose([stats.ci_low[j], stats.ci_high[j]], ci[1], rtol=1e-10)
        np.testing.assert_allclose(stats.alpha_annualised[j], 365 * res.params[0], rtol=1e-10)


@pytest.mark.parametrize("lags", [None, 0, 3, 7])
def test_hac_se_matches_statsmodels_newey_west(market, lags):
    """The Newey-West SE equals statsmodels' HAC SE with the same lags on the present pairs."""
    x, y = market
    stats = ols_beta(y, x, hac_lags=lags)
    for j in range(y.shape[1]):
        ok = ~np.isnan(x) & ~np.isnan(y[:, j])
        L = hac_default_lags(int(ok.sum())) if lags is None else lags
        res, _ = _sm_fit(x, y[:, j], cov_type="HAC",
                         cov_kwds={"maxlags": L, "use_correction": True})
        assert stats.hac_lags[j] == L
        np.testing.assert_allclose(stats.hac_se[j], res.bse[1], rtol=1e-10)


def test_hac_lag_rule_by_hand():
    """floor(4 (T/100)^(2/9)): 3 for 90, 5 for 365, 6 for 730, 4 for 100."""
    assert [hac_default_lags(n) for n in (90, 100, 365, 730)] == [3, 4, 5, 6]


def test_excel_slope_documentation_example():
    """Microsoft's SLOPE example: y {2,3,9,1,8,7,5} on x {6,5,11,7,5,4,4} gives 0.305556.

    Source: https://support.microsoft.com/en-us/office/slope-function-11fb8f97-3117-4813-98aa-61d7e01276b9
    """
    y = np.array([2, 3, 9, 1, 8, 7, 5], dtype=float)
    x = np.array([6, 5, 11, 7, 5, 4, 4], dtype=float)
    assert float(ols_beta(y, x, min_obs=3).beta) == pytest.approx(0.305556, abs=5e-7)


def test_hand_computed_three_point_regression():
    """x = (-1, 0, 1), y = (0, 1, 5): Sxx = 2, Sxy = 5, beta 2.5, alpha 2, SSR 1.5, SE sqrt(0.75).

    Residuals: 0 - (2 - 2.5) = 0.5, 1 - 2 = -1, 5 - 4.5 = 0.5, so SSR = 0.25 + 1 + 0.25 = 1.5.
    """
    s = ols_beta(np.array([0.0, 1.0, 5.0]), np.array([-1.0, 0.0, 1.0]), min_obs=3)
    assert float(s.beta) == pytest.approx(2.5, abs=1e-15)
    assert float(s.alpha) == pytest.approx(2.0, abs=1e-15)
    assert float(s.se) == pytest.approx(np.sqrt(1.5 / 1 / 2), abs=1e-15)
    assert float(s.r_squared) == pytest.approx(1 - 1.5 / 14, abs=1e-15)  # Syy = 4 + 1 + 9


def test_window_uses_the_last_rows_only(market):
    """window=N equals a fit on the last N rows."""
    x, y = market
    a = ols_beta(y, x, window=200)
    b = ols_beta(y[-200:], x[-200:])
    np.testing.assert_array_equal(a.beta, b.beta)


def test_too_few_pairs_is_insufficient_data_naming_min_obs():
    """Fewer than min_obs pairs raises InsufficientDataError with the rule in the message."""
    x = np.linspace(-0.01, 0.01, 10)
    with pytest.raises(InsufficientDataError, match=r"at least min_obs=60 paired .* got 10"):
        ols_beta(x, x)


def test_constant_benchmark_is_degenerate():
    """A benchmark with zero variance makes beta undefined: DegenerateDataError."""
    with pytest.raises(DegenerateDataError, match="benchmark_returns must vary"):
        ols_beta(np.arange(70.0), np.full(70, 0.01))


def test_on_error_nan_isolates_the_failing_asset(market):
    """With on_error='nan' only the asset with too few pairs gets NaN."""
    x, y = market
    y2 = y.copy()
    y2[:-50, 2] = np.nan
    s = ols_beta(y2, x, on_error="nan")
    assert np.isnan(s.beta[2])
    assert np.isfinite(np.delete(s.beta, 2)).all()


def test_mismatched_lengths_are_insufficient_data():
    """Asset and benchmark series of different lengths cannot be paired."""
    with pytest.raises(InsufficientDataError, match="same number of rows, got 5 and 4"):
        ols_beta(np.zeros(5), np.zeros(4), min_obs=3)


finite = st.floats(-0.2, 0.2, allow_nan=False, width=64)


def _series(n):
    return arrays(np.float64, n, elements=finite)


@settings(max_examples=150, deadline=None)
@given(st.integers(10, 80).flatmap(lambda n: st.tuples(_series(n), _series(n))),
       st.floats(-5, 5).filter(lambda k: abs(k) > 1e-3), st.floats(-1, 1))
def test_metamorphic_properties(xy, k, c):
    """beta(b,b)=1, beta(k a, b)=k beta, beta(a + c, b)=beta, beta(a, k b)=beta/k."""
    a, b = xy
    assume(np.var(b) > 1e-6)
    base = float(ols_beta(a, b, min_obs=3).beta)
    assert float(ols_beta(b, b, min_obs=3).beta) == pytest.approx(1.0, abs=1e-9)
    assert float(ols_beta(k * a, b, min_obs=3).beta) == pytest.approx(k * base, abs=1e-9)
    assert float(ols_beta(a + c, b, min_obs=3).beta) == pytest.approx(base, abs=1e-9)
    assert float(ols_beta(a, k * b, min_obs=3).beta) == pytest.approx(base / k, abs=1e-8)


@settings(max_examples=100, deadline=None)
@given(st.integers(10, 60).flatmap(lambda n: st.tuples(
    _series(n), _series(n), arrays(np.bool_, n), st.randoms(use_true_random=False))))
def test_pairwise_deletion_is_order_independent(data):
    """Permuting the rows, or deleting pairs before the call, gives the same beta."""
    a, b, drop, rnd = data
    a = a.copy()
    a[drop] = np.nan
    keep = ~drop
    assume(keep.sum() >= 3 and np.var(b[keep]) > 1e-6)
    ref = float(ols_beta(a[keep], b[keep], min_obs=3).beta)
    perm = list(range(len(a)))
    rnd.shuffle(perm)
    assert float(ols_beta(a, b, min_obs=3).beta) == pytest.approx(ref, abs=1e-9)
    assert float(ols_beta(a[perm], b[perm], min_obs=3).beta) == pytest.approx(ref, abs=1e-9)


def test_rolling_matches_statsmodels_rolling_ols(market):
    """Rolling beta, SE and R^2 equal RollingOLS (missing='drop', same min_nobs)."""
    x, y = market
    rb = rolling_beta(y, x, window=90, min_obs=60)
    for j in range(y.shape[1]):
        res = RollingOLS(y[:, j], sm.add_constant(x), window=90, min_nobs=60,
                         missing="drop").fit()
        ref_beta = np.asarray(res.params)[:, 1]
        ok = ~np.isnan(ref_beta)
        np.testing.assert_array_equal(ok, ~np.isnan(rb.beta[:, j]))
        np.testing.assert_allclose(rb.beta[ok, j], ref_beta[ok], rtol=1e-10)
        np.testing.assert_allclose(rb.se[ok, j], np.asarray(res.bse)[ok, 1], rtol=1e-9)
        np.testing.assert_allclose(rb.r_squared[ok, j], np.asarray(res.rsquared)[ok],
                                   rtol=1e-9)


def test_rolling_keeps_precision_on_a_long_series_with_a_large_mean():
    """50,000 rows of returns offset by 10: rolling beta still matches a direct fit to 1e-9."""
    rng = np.random.default_rng(1)
    x = 10.0 + rng.normal(0, 0.01, 50_000)
    y = 3.0 + 1.7 * x + rng.normal(0, 0.01, 50_000)
    rb = rolling_beta(y, x, window=90)
    for end in (89, 25_000, 49_999):
        direct = float(ols_beta(y[end - 89:end + 1], x[end - 89:end + 1], min_obs=3).beta)
        assert rb.beta[end] == pytest.approx(direct, rel=1e-9)


def test_rolling_rejects_min_obs_above_window():
    """min_obs larger than the window can never be met."""
    with pytest.raises(DomainError, match=r"min_obs must be <= window \(30\), got 40"):
        rolling_beta(np.zeros(50), np.zeros(50), window=30, min_obs=40)


def test_blume_by_hand():
    """0.67 * 1.3 + 0.33 = 1.201 and 0.67 * 0.6 + 0.33 = 0.732."""
    np.testing.assert_allclose(blume_adjust(np.array([1.3, 0.6])), [1.201, 0.732], atol=1e-15)


def test_vasicek_by_hand_with_lally_prior():
    """betas (0.8, 1.0, 1.5), SE (0.1, 0.2, 0.1): mean 1.1, Var 0.13 - mean SE^2 0.02 = 0.11."""
    r = vasicek_shrink([0.8, 1.0, 1.5], [0.1, 0.2, 0.1])
    assert r.prior_mean == pytest.approx(1.1)
    assert r.prior_variance == pytest.approx(0.13 - 0.02)
    w = np.array([0.01, 0.04, 0.01]) / (np.array([0.01, 0.04, 0.01]) + 0.11)
    np.testing.assert_allclose(r.weight_on_prior, w, rtol=1e-12)
    np.testing.assert_allclose(r.beta, w * 1.1 + (1 - w) * np.array([0.8, 1.0, 1.5]),
                               rtol=1e-12)


def test_vasicek_needs_a_cross_section():
    """Two betas cannot estimate a prior."""
    with pytest.raises(InsufficientDataError, match="at least 3 entries"):
        vasicek_shrink([1.0, 1.2], [0.1, 0.1])


def test_ewma_matches_an_explicit_recursion_and_differs_from_pandas_ewm():
    """A plain loop of the RiskMetrics recursion gives the same path; pandas ewm does not."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.03, 200)
    y = 1.2 * x + rng.normal(0, 0.02, 200)
    path = ewma_beta(y, x, lam=0.94, seed_obs=30)
    c = np.mean(x[:30] * y[:30])
    v = np.mean(x[:30] ** 2)
    assert path[29] == pytest.approx(c / v, rel=1e-12)
    for t in range(30, 200):
        c = 0.94 * c + 0.06 * x[t] * y[t]
        v = 0.94 * v + 0.06 * x[t] ** 2
    assert path[-1] == pytest.approx(c / v, rel=1e-12)
    assert np.isnan(path[:29]).all()
    pandas_beta = (pd.Series(y).ewm(alpha=0.06, adjust=False).cov(pd.Series(x))
                   / pd.Series(x).ewm(alpha=0.06, adjust=False).var()).iloc[-1]
    assert abs(pandas_beta - path[-1]) > 1e-6


def test_multivariate_matches_statsmodels():
    """Betas on BTC and ETH together equal statsmodels OLS coefficients and SEs."""
    rng = np.random.default_rng(5)
    f = rng.normal(0, 0.03, (300, 2))
    f[:, 1] += 0.8 * f[:, 0]
    y = 0.3 * f[:, 0] + 0.9 * f[:, 1] + rng.normal(0, 0.01, 300)
    res = sm.OLS(y, sm.add_constant(f)).fit()
    m = multivariate_beta(y, f)
    np.testing.assert_allclose(m.coef[0], res.params[1:], rtol=1e-10)
    np.testing.assert_allclose(m.se[0], res.bse[1:], rtol=1e-10)
    np.testing.assert_allclose(m.r_squared[0], res.rsquared, rtol=1e-10)


def test_multivariate_collinear_factors_are_degenerate():
    """Two identical factors cannot be separated."""
    f = np.random.default_rng(0).normal(size=(80, 1))
    with pytest.raises(DegenerateDataError, match="collinear"):
        multivariate_beta(f[:, 0], np.hstack([f, f]))


def test_betas_from_prices_methods_agree_with_their_definitions():
    """ols = SLOPE on aligned simple returns; blume = 0.67 ols + 0.33; ewma = last EWMA value."""
    rng = np.random.default_rng(9)
    idx = pd.date_range("2024-01-01", periods=200)
    btc = pd.Series(100 * np.cumprod(1 + rng.normal(0, 0.03, 200)), index=idx)
    alt = pd.DataFrame({"ALT": 5 * np.cumprod(1 + rng.normal(0, 0.04, 200))}, index=idx)
    rb, ra = btc.pct_change().dropna(), alt["ALT"].pct_change().dropna()
    slope = np.polyfit(rb, ra, 1)[0]
    assert betas_from_prices(alt, btc).beta[0] == pytest.approx(slope, rel=1e-10)
    assert betas_from_prices(alt, btc, method="blume").beta[0] == pytest.approx(
        0.67 * slope + 0.33, rel=1e-10)
    ew = ewma_beta(ra.to_numpy(), rb.to_numpy())[-1]
    assert betas_from_prices(alt, btc, method="ewma").beta[0] == pytest.approx(ew, rel=1e-12)
    w = betas_from_prices(alt, btc, window=90)
    assert w.beta[0] == pytest.approx(np.polyfit(rb[-90:], ra[-90:], 1)[0], rel=1e-10)


def test_weekly_frequency_uses_week_end_closes():
    """Weekly betas are the slope of week-on-week returns of Sunday closes."""
    rng = np.random.default_rng(11)
    idx = pd.date_range("2022-01-03", periods=7 * 120)
    btc = pd.Series(100 * np.cumprod(1 + rng.normal(0, 0.03, len(idx))), index=idx)
    alt = pd.Series(10 * np.cumprod(1 + rng.normal(0, 0.04, len(idx))), index=idx, name="ALT")
    sundays = idx[idx.day_of_week == 6]
    rb = btc.loc[sundays].pct_change().dropna()
    ra = alt.loc[sundays].pct_change().dropna()
    est = betas_from_prices(alt, btc, frequency="weekly", min_obs=52)
    assert est.beta[0] == pytest.approx(np.polyfit(rb, ra, 1)[0], rel=1e-10)
    assert est.stats.annualization == 52


def test_real_data_eth_beta_to_btc(coinmetrics_prices):
    """ETH vs BTC, daily simple returns 2018-01-01..2020-07-27: beta 1.048 +/- 0.001, n = 939."""
    r = returns_from_prices(coinmetrics_prices[["BTC", "ETH"]]).loc["2018-01-01":"2020-07-27"]
    s = ols_beta(r["ETH"].to_numpy(), r["BTC"].to_numpy())
    assert int(s.n_obs) == 939
    assert float(s.beta) == pytest.approx(1.048, abs=0.001)


@pytest.mark.parametrize("gap", [False, True])
def test_rolling_constant_benchmark_window_is_nan_and_constant_asset_has_zero_r2(gap):
    """A window where BTC did not move has no beta; an asset that never moves has R^2 = 0."""
    rng = np.random.default_rng(2)
    x = rng.normal(0, 0.02, 60)
    x[10:30] = 0.001  # 20 identical benchmark returns
    y = np.column_stack([1.5 * x + rng.normal(0, 0.01, 60), np.full(60, 0.002)])
    if gap:
        y[45, 0] = np.nan
    rb = rolling_beta(y, x, window=15, min_obs=10)
    assert np.isnan(rb.beta[28, 0])  # window 14..28 lies inside the flat stretch
    assert np.isfinite(rb.beta[40, 0])
    assert rb.beta[40, 1] == pytest.approx(0.0, abs=1e-12)
    assert rb.r_squared[40, 1] == 0.0
