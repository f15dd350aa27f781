"""The Vasicek beta in the Excel function and in the workbook.

References are computed here from their definitions: statsmodels OLS (or WLS) betas and
standard errors of each asset, then Vasicek's (1973) shrinkage with the Lally (1998)
prior variance written out with numpy, never from the code under test.
"""

from __future__ import annotations

import numpy as np
import openpyxl
import pytest
import statsmodels.api as sm

from betaneutral import cells, udfs
from betaneutral.workbook import build_workbook
from betaneutral.workbook.compute import compute_workbook
from betaneutral.workbook.names import name_destinations

NA, V = "#N/A", "#VALUE!"


def hand_vasicek(betas: np.ndarray, ses: np.ndarray) -> np.ndarray:
    """beta_i^V = w_i mean(beta) + (1 - w_i) beta_i, w_i = s_i^2 / (s_i^2 + sigma^2),
    sigma^2 = max(Var(beta, ddof=1) - mean(s^2), 0)."""
    prior_var = max(float(np.var(betas, ddof=1)) - float(np.mean(ses**2)), 0.0)
    w = ses**2 / (ses**2 + prior_var)
    return w * betas.mean() + (1.0 - w) * betas


def ols_fit(y: np.ndarray, x: np.ndarray, weights: np.ndarray | None = None
            ) -> tuple[float, float]:
    """Slope and its conventional standard error (statsmodels OLS, or WLS with weights)."""
    ok = ~(np.isnan(y) | np.isnan(x))
    design = sm.add_constant(x[ok])
    fit = (sm.OLS(y[ok], design) if weights is None
           else sm.WLS(y[ok], design, weights=weights[ok])).fit()
    return float(fit.params[1]), float(fit.bse[1])


@pytest.fixture(scope="module")
def case():
    """Four assets (betas 0.6 .. 1.9, different noise) on 200 days of BTC, plus BTC and an
    unheld asset in a wider block."""
    rng = np.random.default_rng(21)
    x = rng.normal(0.0, 0.03, 200)
    r = np.column_stack([b * x + rng.normal(0.0, 0.015 + 0.01 * i, 200)
                         for i, b in enumerate([0.6, 1.0, 1.4, 1.9])])
    prices = np.vstack([np.full(4, 10.0), 10.0 * np.cumprod(1.0 + r, axis=0)])
    btc = np.concatenate([[100.0], 100.0 * np.cumprod(1.0 + x)])
    other = np.concatenate([[5.0], 5.0 * np.cumprod(1.0 + rng.normal(0.0, 0.05, 200))])
    return prices, btc, other


def col(values: np.ndarray) -> list[list[float]]:
    return [[float(v)] for v in values]


def rows(block: np.ndarray) -> list[list[float | None]]:
    """A block as Excel passes it: a missing price is a blank cell (None)."""
    return [[None if np.isnan(v) else float(v) for v in row] for row in block]


def simple(p: np.ndarray) -> np.ndarray:
    return p[1:] / p[:-1] - 1.0


def test_vasicek_is_the_hand_formula_on_statsmodels_betas(case):
    """Each asset's BETA_VS_BTC(..., "vasicek", universe) is Vasicek's formula applied to
    the four statsmodels OLS betas and standard errors, to 1e-10."""
    prices, btc, _ = case
    fits = [ols_fit(simple(prices[:, j]), simple(btc)) for j in range(4)]
    expected = hand_vasicek(np.array([b for b, _ in fits]), np.array([s for _, s in fits]))
    got = [udfs.BETA_VS_BTC(col(prices[:, j]), col(btc), None, "vasicek", None, None,
                            rows(prices)) for j in range(4)]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)
    # shrinkage pulls towards the mean: never further from it than the raw beta
    raw = np.array([b for b, _ in fits])
    assert (np.abs(np.array(got) - raw.mean()) <= np.abs(raw - raw.mean()) + 1e-12).all()
    # the window and the log returns reach the cross-section too
    fits90 = [ols_fit(np.diff(np.log(prices[:, j]))[-90:], np.diff(np.log(btc))[-90:])
              for j in range(4)]
    expected90 = hand_vasicek(np.array([b for b, _ in fits90]),
                              np.array([s for _, s in fits90]))
    assert udfs.BETA_VS_BTC(col(prices[:, 2]), col(btc), 90, "vasicek", None, "log",
                            rows(prices)) == pytest.approx(expected90[2], abs=1e-10)


def test_vasicek_of_a_decayed_base_uses_its_weighted_fit(case):
    """vasicek-ewls shrinks statsmodels WLS betas (weights 2^-(age/half-life)) with their
    WLS standard errors; the half_life argument sets the weights."""
    prices, btc, _ = case
    x = simple(btc)
    for half_life in (126.0, 30.0):
        w = 0.5 ** ((len(x) - 1 - np.arange(len(x))) / half_life)
        fits = [ols_fit(simple(prices[:, j]), x, w) for j in range(4)]
        expected = hand_vasicek(np.array([b for b, _ in fits]),
                                np.array([s for _, s in fits]))
        got = [udfs.BETA_VS_BTC(col(prices[:, j]), col(btc), None, "Vasicek-EWLS", None,
                                None, rows(prices), None, None,
                                None if half_life == 126.0 else half_life)
               for j in range(4)]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_the_cross_section_is_the_members_named(case):
    """From a wider block (BTC, an unheld asset, the four held in another order), the
    members' names pick the cross-section: each once, blanks skipped, names matched
    without regard to case (as MATCH)."""
    prices, btc, other = case
    block = np.column_stack([btc, prices[:, 3], other, prices[:, 0], prices[:, 1],
                             prices[:, 2]])
    names = [["BTC", "D", "X", "A", "B", "C"]]
    members = [["A"], ["b"], ["C"], ["D"], [None], ["a"]]
    fits = [ols_fit(simple(prices[:, j]), simple(btc)) for j in range(4)]
    expected = hand_vasicek(np.array([b for b, _ in fits]), np.array([s for _, s in fits]))
    for j in range(4):
        assert udfs.BETA_VS_BTC(col(prices[:, j]), col(btc), None, "vasicek", None, None,
                                rows(block), names, members) == pytest.approx(expected[j],
                                                                              abs=1e-10)
    # without members, every named column is the cross-section (BTC and X included)
    everyone = [ols_fit(simple(block[:, k]), simple(btc)) for k in range(6)]
    wide = hand_vasicek(np.array([b for b, _ in everyone]), np.array([s for _, s in everyone]))
    assert udfs.BETA_VS_BTC(col(prices[:, 0]), col(btc), None, "vasicek", None, None,
                            rows(block), names) == pytest.approx(wide[3], abs=1e-10)


def test_a_member_with_too_few_returns_leaves_the_cross_section(case):
    """An asset with fewer than min_obs returns has no beta (#N/A, its own reason); the
    others are shrunk towards the three that have one; below three, #N/A."""
    prices, btc, _ = case
    young = prices.copy()
    young[:150, 3] = np.nan  # 50 returns < 60
    fits = [ols_fit(simple(prices[:, j]), simple(btc)) for j in range(3)]
    expected = hand_vasicek(np.array([b for b, _ in fits]), np.array([s for _, s in fits]))
    for j in range(3):
        assert udfs.BETA_VS_BTC(col(young[:, j]), col(btc), None, "vasicek", None, None,
                                rows(young)) == pytest.approx(expected[j], abs=1e-10)
    with cells.error_messages() as messages:
        assert udfs.BETA_VS_BTC([[None if np.isnan(v) else float(v)] for v in young[:, 3]],
                                col(btc), None, "vasicek", None, None, rows(young)) == NA
    assert "at least min_obs=60" in messages[-1][2]
    younger = young.copy()
    younger[:150, 2] = np.nan
    with cells.error_messages() as messages:
        assert udfs.BETA_VS_BTC(col(younger[:, 0]), col(btc), None, "vasicek", None, None,
                                rows(younger)) == NA
    assert "at least 3 assets with a beta" in messages[-1][2]


@pytest.mark.parametrize(("args", "code", "reason"), [
    ((), V, "universe is required"),
    (("",), V, "universe is required"),
    (("other",), V, "must be one of the columns of universe"),
    (("two",), NA, "at least 3 assets"),
    (("block", [["A", "B"]]), NA, "must name each of universe's 4 columns"),
    (("block", None, [["A"]]), V, "members needs universe_assets"),
    (("block", [["A", "B", "C", "D"]], [["A"], ["Z"]]), NA, "'Z', which is not among them"),
    (("block", [["A", "#N/A", "C", "D"]]), NA, "universe_assets must not be an error cell"),
    (("short",), NA, "same number of rows"),
])
def test_vasicek_errors_name_their_reason(case, args, code, reason):
    """A Vasicek call that cannot shrink returns an error code with its reason, never the
    unshrunk beta."""
    prices, btc, other = case
    blocks = {"block": rows(prices), "other": rows(np.column_stack([other, prices[:, 1:]])),
              "two": rows(prices[:, :2]), "short": rows(prices[:-1]), "": ""}
    extra = [blocks[args[0]], *args[1:]] if args else []
    with cells.error_messages() as messages:
        got = udfs.BETA_VS_BTC(col(prices[:, 0]), col(btc), None, "vasicek", None, None,
                               *extra)
    assert got == code
    assert reason in messages[-1][2]


def test_method_names_and_the_unused_universe(case):
    """An unknown Vasicek base is #N/A; another method ignores the universe (but not an
    error cell in it); half_life must be > 0."""
    prices, btc, _ = case
    assert udfs.BETA_VS_BTC(col(prices[:, 0]), col(btc), None, "vasicek-ewma", None, None,
                            rows(prices)) == NA
    plain = udfs.BETA_VS_BTC(col(prices[:, 0]), col(btc))
    assert udfs.BETA_VS_BTC(col(prices[:, 0]), col(btc), None, "ols", None, None,
                            rows(prices)) == plain
    bad = rows(prices)
    bad[5][2] = "#DIV/0!"
    assert udfs.BETA_VS_BTC(col(prices[:, 0]), col(btc), None, "ols", None, None,
                            bad) == "#DIV/0!"
    assert udfs.BETA_VS_BTC(col(prices[:, 0]), col(btc), None, "ewls", None, None, None,
                            None, None, 0.0) == "#NUM!"


# ------------------------------------------------------------------ the workbook
def _name_ref(wb: openpyxl.Workbook, name: str) -> tuple[str, str]:
    sheet, ref = name_destinations(wb, [name])[name]
    return sheet, ref.replace("$", "")


def _set(wb: openpyxl.Workbook, name: str, value) -> None:
    sheet, ref = _name_ref(wb, name)
    wb[sheet][ref].value = value


def _block(wb: openpyxl.Workbook, name: str) -> list[list]:
    sheet, ref = _name_ref(wb, name)
    found = wb[sheet][ref]
    return [[c.value for c in row] for row in found] if isinstance(found, tuple) \
        else [[found.value]]


@pytest.fixture(scope="module")
def vasicek_book(tmp_path_factory):
    """The template (sample book, window 90) with BetaMethod = vasicek, computed."""
    folder = tmp_path_factory.mktemp("vasicek")
    wb = build_workbook()
    _set(wb, "BetaMethod", "vasicek")
    src = folder / "book.xlsx"
    wb.save(src)
    out = compute_workbook(src, folder / "computed.xlsx")
    return src, out


def test_the_book_computes_vasicek_betas_from_its_own_cells(vasicek_book):
    """With BetaMethod = vasicek, each Holdings beta (to BTC and vs the benchmark, BTC
    here) is the hand Vasicek of the holdings' statsmodels OLS betas over the Window's
    last returns, read from the book's own cells; the hedge uses them."""
    src, out = vasicek_book
    wb = openpyxl.load_workbook(src)
    names = [str(v) for v in _block(wb, "PriceAssets")[0]]
    block = np.array(_block(wb, "PriceBlock"), dtype=float)
    btc = np.array([r[0] for r in _block(wb, "BTCPrices")], dtype=float)
    holdings = [r[0] for r in _block(wb, "HoldingAssets")]
    window = int(_block(wb, "Window")[0][0])
    fits = [ols_fit(simple(block[:, names.index(a)])[-window:], simple(btc)[-window:])
            for a in holdings]
    expected = hand_vasicek(np.array([b for b, _ in fits]), np.array([s for _, s in fits]))
    done = openpyxl.load_workbook(out, data_only=True)
    got = np.array([r[0] for r in _block(done, "HoldingBetas")], dtype=float)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)
    bench = np.array([r[0] for r in _block(done, "HoldingBenchBetas")], dtype=float)
    np.testing.assert_allclose(bench, expected, rtol=0, atol=1e-10)
    raw = np.array([b for b, _ in fits])
    assert not np.allclose(got, raw, atol=1e-6)  # shrunk, not the OLS betas
    values = np.array([r[0] for r in _block(done, "HoldingValues")], dtype=float)
    assert _block(done, "PortfolioBeta")[0][0] == pytest.approx(
        values @ expected / values.sum(), rel=1e-12)


def test_the_formula_engine_agrees_on_the_vasicek_book(vasicek_book):
    """check: pycel evaluates the book's own formulas (the block passed through CHOOSE)
    to the values the headless computation wrote."""
    pytest.importorskip("pycel", reason='pycel is not installed: pip install -e ".[check]"')
    from betaneutral.workbook import engine

    _, out = vasicek_book
    assert engine.check_workbook(out) == []


def test_the_vasicek_book_backtests(vasicek_book, tmp_path):
    """backtest replays the book with its Settings method, vasicek (the betas shrunk
    across the holdings on each day, from returns up to that day)."""
    import pandas as pd

    from betaneutral.cli import EXIT_OK, main

    src, _ = vasicek_book
    out = tmp_path / "bt"
    assert main(["backtest", str(src), "-o", str(out), "--quiet"]) == EXIT_OK
    summary = pd.read_csv(out / "backtest_summary.csv").set_index("metric")["value"]
    assert "vasicek" in summary.to_string()
    daily = pd.read_csv(out / "backtest_daily.csv")
    assert np.isfinite(daily["portfolio_beta_est"].dropna()).all()
    assert daily["portfolio_beta_est"].notna().sum() > 500


def test_every_settings_method_is_known_to_the_book_the_function_and_the_backtest():
    """The Settings list's methods are accepted by the book's settings, are methods of the
    Excel function (betas_from_prices) and of the backtest's trailing betas."""
    from betaneutral.bookdata import BookSettings
    from betaneutral.core.beta import BETA_METHODS
    from betaneutral.core.estimators import ROBUST_METHODS
    from betaneutral.core.trailing import trailing_betas

    assert ("ols", "blume", "ewma", *ROBUST_METHODS) == BETA_METHODS
    wb = build_workbook()
    sheet, ref = _name_ref(wb, "BetaMethod")
    (dv,) = [dv for dv in wb[sheet].data_validations.dataValidation if ref in dv.sqref]
    listed = dv.formula1.strip('"').split(",")
    assert {"vasicek", "vasicek-ewls", "vasicek-welch", "vasicek-welch-decay"} <= set(listed)
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 0.03, 120)
    y = np.column_stack([b * x + rng.normal(0.0, 0.02, 120) for b in (0.8, 1.1, 1.5)])
    for method in listed:
        assert BookSettings(beta_method=method).beta_method == method
        assert method in BETA_METHODS
        assert np.isfinite(trailing_betas(y, x, window=90, min_obs=60, method=method)[-1]).all()
