"""The workbook's own formulas, evaluated by pycel, compute what the Python path computes.

pycel evaluates every formula cell (BetaNeutral functions bound to
:mod:`betaneutral.udfs`, native formulas by pycel's own Excel library); the
reference is :func:`betaneutral.workbook.model.compute_values`, which evaluates
the native formulas without any formula engine. A few cells are also checked
against numpy computed here from the raw inputs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from openpyxl import Workbook, load_workbook

from betaneutral import udfs
from betaneutral.errors import UnknownNameError
from betaneutral.sample import sample_holdings, sample_prices
from betaneutral.workbook.template import (
    build_workbook,
    defined_names,
    formula_cells,
)

pytest.importorskip("pycel", reason='pycel is not installed: pip install -e ".[check]"')

from betaneutral.workbook import engine
from betaneutral.workbook.inputs import read_inputs
from betaneutral.workbook.model import compute_values, read_layout
from betaneutral.workbook.names import name_destinations
from lo_helpers import (  # tests/ is on sys.path (rootdir conftest)
    inject_cached_values,
    synthetic_book,
)

RTOL = 1e-9


def _cell(wb: Workbook, name: str) -> tuple[str, str]:
    """(sheet, coordinate) of the first cell of a defined name."""
    sheet, ref = name_destinations(wb, [name])[name]
    return sheet, ref.replace("$", "").split(":")[0]


def _formula_keys(path: Path) -> set[tuple[str, str]]:
    """Every formula cell of a saved workbook, CSE ranges expanded (read with openpyxl)."""
    wb = load_workbook(path)
    keys = set()
    for fc in formula_cells(wb):
        for row in wb[fc.sheet][fc.coordinate] if ":" in fc.coordinate else ((None,),):
            for cell in row:
                keys.add((fc.sheet, cell.coordinate if cell is not None else fc.coordinate))
    return keys


def _python(wb: Workbook) -> dict[tuple[str, str], Any]:
    return compute_values(read_inputs(wb), read_layout(wb))


def _assert_same(expected: dict, actual: dict) -> None:
    mismatches = engine.compare(expected, actual, rtol=RTOL)
    assert not mismatches, "\n".join(map(str, mismatches[:20]))


@pytest.fixture(scope="module")
def sample_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("engine") / "sample.xlsx"
    build_workbook().save(path)
    return path


@pytest.fixture(scope="module")
def sample_values(sample_path: Path) -> dict[tuple[str, str], Any]:
    return engine.evaluate_workbook(sample_path)


def test_sample_every_formula_cell_equals_python(sample_path: Path, sample_values: dict) -> None:
    """pycel's value of every formula cell of the sample workbook equals compute_values'."""
    assert set(sample_values) == _formula_keys(sample_path)
    expected = engine.python_values(sample_path)
    assert set(expected) == set(sample_values)
    _assert_same(expected, sample_values)
    assert engine.check_workbook(sample_path) == []


def test_sample_spot_checks_against_numpy(sample_path: Path, sample_values: dict) -> None:
    """Portfolio value, an OLS beta and the required hedge agree with numpy on the raw data."""
    wb = load_workbook(sample_path)
    prices, holdings = sample_prices(), sample_holdings()
    last = prices.iloc[-1]
    value_usd = sum(q * last[a] for a, q in zip(holdings["asset"], holdings["quantity"],
                                                strict=True))
    assert sample_values[_cell(wb, "PortfolioValue")] == pytest.approx(value_usd, rel=RTOL)

    # Beta of ETH to BTC: least-squares slope of the last Window (90) simple returns.
    r = prices[["ETH", "BTC"]].pct_change().dropna().to_numpy()[-90:]
    design = np.column_stack([np.ones(len(r)), r[:, 1]])
    slope = np.linalg.lstsq(design, r[:, 0], rcond=None)[0][1]
    assert holdings["asset"][0] == "ETH"
    assert sample_values[_cell(wb, "HoldingBetas")] == pytest.approx(slope, rel=RTOL)

    # Target beta 0: hedge = sum(value_i * beta_i) over the holdings.
    values = [sample_values[k] for k in _column(wb, "HoldingValues")]
    betas = [sample_values[k] for k in _column(wb, "HoldingBetas")]
    assert sample_values[_cell(wb, "TargetHedgeUSD")] == pytest.approx(
        float(np.dot(values, betas)), rel=RTOL)


def _column(wb: Workbook, name: str) -> list[tuple[str, str]]:
    sheet, ref = name_destinations(wb, [name])[name]
    first, last = ref.replace("$", "").split(":")
    col = re.match(r"[A-Z]+", first).group(0)
    r1, r2 = int(first[len(col):]), int(last[len(col):])
    return [(sheet, f"{col}{r}") for r in range(r1, r2 + 1)]


@pytest.mark.slow
@pytest.mark.parametrize(("n_holdings", "days", "seed"), [(3, 200, 11), (10, 400, 12)])
def test_generated_books_equal_python(tmp_path: Path, n_holdings: int, days: int,
                                      seed: int) -> None:
    """For generated books of other sizes (with missing prices and a short), pycel equals Python."""
    prices, holdings = synthetic_book(n_holdings, days, seed=seed)
    path = tmp_path / f"book_{n_holdings}x{days}.xlsx"
    build_workbook(prices=prices, holdings=holdings).save(path)
    actual = engine.evaluate_workbook(path)
    assert set(actual) == _formula_keys(path)
    _assert_same(engine.python_values(path), actual)
    # The gaps reach the functions as blanks: ALT1's beta equals a direct call with None there.
    wb = load_workbook(path)
    column = [[None if np.isnan(p) else float(p)] for p in prices["ALT1"]]
    btc = [[float(p)] for p in prices["BTC"]]
    direct = udfs.BETA_VS_BTC(column, btc, 90, "ols", 60, "simple")
    assert actual[_column(wb, "HoldingBetas")[1]] == pytest.approx(direct, rel=RTOL)


def test_changed_inputs_recompute_as_python(sample_path: Path) -> None:
    """After set_value on a setting, a quantity or a price, pycel equals Python on the new book."""
    xl = engine.load_compiler(sample_path)
    before = engine.evaluate_compiler(xl)
    wb = load_workbook(sample_path)
    changes = [
        (_cell(wb, "TargetBeta"), 0.5, _cell(wb, "TargetHedgeUSD")),
        (_column(wb, "HoldingQuantities")[2], 12_345.0, _cell(wb, "PortfolioValue")),
        (_column(wb, "ETHPrices")[-30], 2_500.0, _column(wb, "HoldingBetas")[0]),
        (_column(wb, "BTCPrices")[-1], 150_000.0, _cell(wb, "FuturesPrice")),
        (_cell(wb, "BenchmarkChoice"), "BTC/ETH 50/50", _column(wb, "HoldingBenchBetas")[0]),
    ]
    for (sheet, coordinate), value, moved in changes:
        xl.set_value(f"{sheet}!{coordinate}", value)
        wb[sheet][coordinate].value = value
        after = engine.evaluate_compiler(xl)
        assert after[moved] != before[moved], f"{moved} did not change after {coordinate}"
        _assert_same(_python(wb), after)
        before = after

    # The composite benchmark is I_t = I_{t-1} (1 + 0.5 r_BTC + 0.5 r_ETH), I_0 = BTC_0.
    btc = np.array([wb[s][c].value for s, c in _column(wb, "BTCPrices")], dtype=float)
    eth = np.array([wb[s][c].value for s, c in _column(wb, "ETHPrices")], dtype=float)
    index = btc[0] * np.cumprod(np.concatenate([[1.0], 1 + 0.5 * (btc[1:] / btc[:-1] - 1)
                                                + 0.5 * (eth[1:] / eth[:-1] - 1)]))
    got = np.array([before[k] for k in _column(wb, "BenchPrices")])
    np.testing.assert_allclose(got, index, rtol=RTOL)


def test_unknown_function_raises_naming_cell(tmp_path: Path) -> None:
    """A formula calling a function the engine lacks fails before evaluation, naming it."""
    wb = build_workbook()
    wb["Holdings"]["K5"] = "=NOSUCHFUNCTION(B5)*2"
    wb["Rebalance"]["F5"] = '=_xlfn.XLOOKUP("a",A1:A2,B1:B2)'
    path = tmp_path / "unknown.xlsx"
    wb.save(path)
    with pytest.raises(UnknownNameError, match=r"NOSUCHFUNCTION in Holdings!K5") as info:
        engine.evaluate_workbook(path)
    assert "XLOOKUP in Rebalance!F5" in str(info.value)
    assert "BETA_VS_BTC" not in str(info.value)


def test_stale_cached_values_are_never_returned(tmp_path: Path, sample_values: dict) -> None:
    """Wrong cached values written into formula cells are ignored: every cell is recomputed."""
    wb = build_workbook()
    src = tmp_path / "clean.xlsx"
    wb.save(src)
    stale = {("Rebalance", "B18"): 12345.0, ("Stats", "B5"): 9.0, ("Benchmark", "I400"): 1.0}
    dst = tmp_path / "stale.xlsx"
    inject_cached_values(src, dst, stale)
    cached = load_workbook(dst, data_only=True)
    assert [cached[s][c].value for s, c in stale] == list(stale.values())

    actual = engine.evaluate_workbook(dst, cells=list(stale))
    for key, value in stale.items():
        assert actual[key] != value
        assert actual[key] == pytest.approx(sample_values[key], rel=RTOL)


def test_builtins_the_template_needs(tmp_path: Path) -> None:
    """ROWS and SEARCH (absent from pycel) follow Excel's documented results."""
    wb = Workbook()
    ws = wb.active
    ws.title = "T"
    ws["A1"], ws["A2"], ws["A3"] = "Statements", "Profit Margin", "margin"
    formulas = {
        # https://support.microsoft.com/en-us/office/search-searchb-functions-
        # 9ab04538-0e55-4719-a72e-b6f54513b495 (read 2026-11): examples 7 and 8.
        "B1": ('=SEARCH("e",A1,6)', 7),
        "B2": ("=SEARCH(A3,A2)", 8),
        "B3": ('=SEARCH("?n","printer")', 3),  # "?" is any one character: "in" at 3
        "B4": ('=SEARCH("m*n","Profit Margin")', 8),
        "B5": ('=SEARCH("x","abc")', "#VALUE!"),
        "B6": ('=SEARCH("~?","why?")', 4),  # "~" makes "?" literal
        "B7": ('=IF(ISNUMBER(SEARCH("inverse","Inverse")),1,0)', 1),
        "C1": ("=ROWS(A1:A3)", 3),
        "C2": ("=ROWS(A1:C1)", 1),
        "C3": ("=INDEX(A1:A3,ROWS(A1:A3))", "margin"),
    }
    for coordinate, (formula, _) in formulas.items():
        ws[coordinate] = formula
    path = tmp_path / "builtins.xlsx"
    wb.save(path)
    actual = engine.evaluate_workbook(path)
    assert actual == {("T", c): expected for c, (_, expected) in formulas.items()}


def test_functions_get_cell_values_and_error_codes(tmp_path: Path) -> None:
    """Functions receive blanks as None and error cells as their code, as through xlwings."""
    prices = sample_prices()
    wb = Workbook()
    ws = wb.active
    ws.title = "T"
    eth, btc = list(prices["ETH"])[:120], list(prices["BTC"])[:120]
    for i, (a, b) in enumerate(zip(eth, btc, strict=True), start=1):
        ws.cell(row=i, column=1, value=None if i in (10, 50) else a)
        ws.cell(row=i, column=2, value=b)
        ws.cell(row=i, column=3, value="#N/A" if i == 30 else a)
    ws["D1"] = "=BETA_VS_BTC(A1:A120,B1:B120)"
    ws["D2"] = "=BETA_VS_BTC(C1:C120,B1:B120)"
    ws["D3"] = '=BETA_VS_BTC(A1:A120,B1:B120,,"blume")'
    path = tmp_path / "cells.xlsx"
    wb.save(path)
    actual = engine.evaluate_workbook(path)
    col = [[None if i in (10, 50) else a] for i, a in enumerate(eth, start=1)]
    bcol = [[b] for b in btc]
    assert actual[("T", "D1")] == pytest.approx(udfs.BETA_VS_BTC(col, bcol), rel=RTOL)
    assert actual[("T", "D2")] == "#N/A"
    assert actual[("T", "D3")] == pytest.approx(
        udfs.BETA_VS_BTC(col, bcol, None, "blume"), rel=RTOL)


def test_plugin_exposes_every_function() -> None:
    """The plugin module has every BetaNeutral function under pycel's lower-case name."""
    module = engine.plugin_module()
    for name in udfs.UDF_NAMES:
        assert callable(getattr(module, name.lower()))
    assert module is sys.modules[engine.PLUGIN_MODULE]
    # Nothing else from this package leaks in as a formula function.
    public = {n for n in vars(module) if not n.startswith("_")}
    assert public == ({n.lower() for n in udfs.UDF_NAMES}
                      | {n.lower() for n in engine.EXTRA_BUILTINS})


def test_template_uses_only_known_functions() -> None:
    """Every function the template calls is a BetaNeutral function or a known built-in."""
    wb = build_workbook()
    used = set().union(*(engine.formula_functions(f.formula) for f in formula_cells(wb)))
    assert set(udfs.UDF_NAMES) <= used
    assert used - set(udfs.UDF_NAMES) <= {"IF", "INDEX", "ROWS", "SUM", "ISNUMBER", "SEARCH",
                                          "N", "ROUND", "ABS", "MATCH", "NA", "CHOOSE"}
    assert defined_names(wb)  # the formulas rely on workbook-scoped names


def test_missing_pycel_names_the_extra(monkeypatch: pytest.MonkeyPatch,
                                       sample_path: Path) -> None:
    """Without pycel, evaluating raises ImportError with the install command."""
    monkeypatch.setitem(sys.modules, "pycel", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[check\]"'):
        engine.evaluate_workbook(sample_path)


def test_compare_rules() -> None:
    """compare: numbers within rtol, exact text, booleans and codes, missing and extra cells."""
    key = ("S", "A1")
    assert engine.compare({key: 100.0}, {key: 100.0 * (1 + 5e-10)}) == []
    assert [m.reason for m in engine.compare({key: 100.0}, {key: 100.0 * (1 + 2e-9)})] == [
        "value"]
    assert [m.reason for m in engine.compare({key: "#N/A"}, {key: 0.0})] == ["type"]
    assert [m.reason for m in engine.compare({key: "#N/A"}, {key: "#DIV/0!"})] == ["value"]
    assert [m.reason for m in engine.compare({key: True}, {key: 1.0})] == ["type"]
    assert [m.reason for m in engine.compare({key: "SELL"}, {key: "sell"})] == ["value"]
    assert [m.reason for m in engine.compare({key: 1.0}, {})] == ["missing"]
    assert [m.reason for m in engine.compare({}, {key: 1.0})] == ["unexpected"]

    class Code:
        code = "#N/A"

    assert engine.compare({key: Code()}, {key: "#N/A"}) == []
    # 2026-01-01 is serial 46023 in the 1900 date system (46023 days after 1899-12-30).
    import datetime as dt

    assert engine.compare({key: 46023.0}, {key: dt.datetime(2026, 1, 1)}) == []


def test_computed_caches_equal_engine(tmp_path: Path) -> None:
    """The cached values compute_workbook stores (and the shipped template's) equal pycel's."""
    from betaneutral.workbook.compute import compute_workbook

    prices, holdings = synthetic_book(4, 150, seed=31)
    src, dst = tmp_path / "src.xlsx", tmp_path / "computed.xlsx"
    build_workbook(prices=prices, holdings=holdings).save(src)
    compute_workbook(src, dst)
    shipped = Path(__file__).resolve().parents[1] / "templates" / "BetaNeutral.xlsx"
    for path in (dst, shipped):
        actual = engine.evaluate_workbook(path)
        cached = load_workbook(path, data_only=True)
        stored = {(s, c): cached[s][c].value for s, c in actual}
        assert all(v is not None for v in stored.values()), f"{path.name} lacks caches"
        _assert_same(stored, actual)
