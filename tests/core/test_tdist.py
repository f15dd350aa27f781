"""Student t quantile and tail without scipy, against scipy and closed forms.

scipy's ``special.stdtrit`` and ``stdtr`` (Boost's incomplete beta) are the independent
reference over the grid where they are accurate; near the median (``|p - 1/2| < 1e-3``)
and far in the tail (``p < 1e-50``) scipy itself drifts (for 4 degrees of freedom and
``p = 0.500001`` it is 4e-5 off the closed form), so there the reference is the closed
form of the distribution function for 3 and 4 degrees of freedom (Abramowitz and Stegun
26.7.4) and the Cauchy and 2-degree forms.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from betaneutral.core.tdist import t_quantile, t_sf

DOFS = [1.0, 1.5, 2.0, 2.5, 3.0, 3.7, 4.0, 5.0, 7.25, 10.0, 29.3, 30.0, 58.0, 88.0, 100.0,
        363.0, 728.0, 1000.0, 5e3, 1e4, 12345.6, 99_999.0, 1e5, 3e5, 1e6, 1e7]
PROBS = [1e-50, 1e-20, 1e-10, 1e-8, 1e-6, 1e-4, 1e-3, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25,
         0.3, 0.4, 0.49, 0.51, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999,
         1 - 1e-6, 1 - 1e-10]


def _rel(got: float, want: float) -> float:
    return abs(got - want) / abs(want)


@pytest.mark.parametrize("dof", DOFS)
def test_quantile_matches_scipy_to_1e12(dof):
    got = t_quantile(PROBS, dof)
    want = special.stdtrit(dof, np.array(PROBS))
    assert got.shape == want.shape
    worst = max(_rel(g, w) for g, w in zip(got, want, strict=True))
    assert worst < 1e-12


def test_the_interval_quantiles_match_scipy_stats():
    dofs = np.arange(1.0, 2001.0)
    for conf in (0.9, 0.95, 0.99):
        got = t_quantile(0.5 + conf / 2.0, dofs)
        want = stats.t.ppf(0.5 + conf / 2.0, dofs)
        assert np.max(np.abs(got / want - 1.0)) < 1e-12


def _cdf_closed_form(t: float, dof: int) -> float:
    """P(T <= t) for 3 and 4 degrees of freedom (A&S 26.7.4), theta = atan(t/sqrt(dof))."""
    theta = math.atan(t / math.sqrt(dof))
    if dof == 3:
        centre = 2.0 / math.pi * (theta + math.sin(theta) * math.cos(theta))
    else:
        centre = math.sin(theta) * (1.0 + 0.5 * math.cos(theta) ** 2)
    return 0.5 + 0.5 * centre


@pytest.mark.parametrize("dof", [3, 4])
@pytest.mark.parametrize("p", [0.5 + 1e-12, 0.500001, 0.5001, 0.501, 0.499, 0.4999])
def test_quantile_near_the_median_solves_the_closed_form(dof, p):
    t = float(t_quantile(p, float(dof)))
    assert _cdf_closed_form(t, dof) - 0.5 == pytest.approx(p - 0.5, rel=1e-13)


@pytest.mark.parametrize("alpha", [1e-300, 1e-200, 1e-100, 1e-60])
def test_quantile_far_in_the_tail_solves_the_closed_form(alpha):
    # 3 degrees of freedom: P(T > t) = (phi - sin(phi) cos(phi)) / pi, phi = atan(sqrt(3)/t)
    t = float(-t_quantile(alpha, 3.0))
    phi = math.atan(math.sqrt(3.0) / t)
    tail = (phi - math.sin(phi) * math.cos(phi)) / math.pi if phi > 1e-4 else (
        2.0 / (3.0 * math.pi) * phi ** 3 * (1.0 - 0.4 * phi * phi))
    assert tail == pytest.approx(alpha, rel=1e-12)
    # Cauchy and 2 degrees of freedom have closed-form quantiles.
    assert float(-t_quantile(alpha, 1.0)) == pytest.approx(1.0 / math.tan(math.pi * alpha),
                                                           rel=1e-14)
    assert float(-t_quantile(alpha, 2.0)) == pytest.approx(
        1.0 / math.sqrt(2.0 * alpha), rel=1e-12)


def test_survival_function_matches_scipy():
    for dof in (1.0, 2.5, 5.0, 30.0, 88.0, 728.0, 1e4):
        for t in (-5.0, -1.0, 0.0, 0.3, 1.96, 4.0, 12.0):
            assert t_sf(t, dof) == pytest.approx(float(special.stdtr(dof, -t)), rel=1e-13)


def test_edges():
    got = t_quantile(0.975, [0.0, -1.0, np.nan, np.inf, 1e300])
    assert np.isnan(got[:3]).all()
    assert got[3] == pytest.approx(1.959963984540054, rel=1e-15)
    assert got[4] == pytest.approx(1.959963984540054, rel=1e-15)
    assert t_quantile([0.0, 1.0, 0.5], 5.0).tolist() == [-math.inf, math.inf, 0.0]
    assert np.isnan(t_quantile([np.nan, -0.1, 1.1], 5.0)).all()
    assert t_quantile(0.975, 10.0).shape == ()
    assert math.isnan(t_sf(1.0, 0.0))
    assert math.isnan(t_sf(math.nan, 3.0))
