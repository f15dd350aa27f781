"""Tests of the workbook template built with openpyxl (betaneutral.workbook.template)."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.utils import range_boundaries
from openpyxl.worksheet.formula import ArrayFormula

from betaneutral.errors import DomainError, InputTypeError, UnknownNameError
from betaneutral.sample import SAMPLE_LABEL, sample_holdings, sample_prices
from betaneutral.workbook import (
    UDF_NAMES,
    ContractRow,
    build_workbook,
    formula_cells,
    write_contracts_sheet,
    write_template,
    write_text,
)
from betaneutral.workbook.names import name_destinations
from betaneutral.workbook.template import xlwings_quickstart_path

# The sheets the template must have (Holdings, Benchmark and Rebalance are fixed names).
EXPECTED_SHEETS = [
    "Start", "Settings", "Holdings", "Stats", "Rolling", "Rebalance", "Scenarios", "Tickets",
    "Backtest", "Benchmark", "Contracts", "xlwings.conf",
]

# The worksheet functions of the product (Excel names), as specified for udfs.py.
SPECIFIED_UDFS = {
    "BETA_VS_BTC", "HEDGE_NOTIONAL", "CONTRACTS_TO_SHORT", "MARGIN_BUFFER", "PORTFOLIO_BETA",
    "BETA_STATS", "ROLLING_BETA", "LIQUIDATION_PRICE", "FUNDING_COST", "REBALANCE_SIGNAL",
    "HEDGE_SCENARIOS", "CONTRACT_SPEC", "REBALANCE_ACTION",
}

# Built-in Excel functions the template may use: all exist in Excel 2007 and LibreOffice 7.4.
ALLOWED_BUILTINS = {"IF", "INDEX", "ROWS", "SUM", "ABS", "ROUND", "N", "ISNUMBER", "SEARCH",
                    "MATCH", "NA", "CHOOSE"}

# Features the formula-engine research rules out (dynamic arrays, LET/LAMBDA, lookups that
# older engines lack, volatile functions).
FORBIDDEN_FUNCTIONS = {
    "XLOOKUP", "XMATCH", "LET", "LAMBDA", "FILTER", "SORT", "SORTBY", "UNIQUE", "SEQUENCE",
    "ANCHORARRAY", "SINGLE", "OFFSET", "INDIRECT", "TODAY", "NOW", "RAND", "RANDBETWEEN",
    "RANDARRAY", "CELL", "INFO",
}

# Array-returning functions and the shape of their fixed CSE range (rows, columns);
# None = as many rows as there are prices.
ARRAY_UDF_SHAPES = {
    "BETA_STATS": (1, 9),
    "REBALANCE_SIGNAL": (1, 3),
    "HEDGE_SCENARIOS": (13, 5),
    "ROLLING_BETA": (None, 1),
}

SETTINGS_NAMES = [
    "BenchmarkChoice", "ReturnType", "Window", "BetaMethod", "MinObs", "TargetBeta",
    "RebalanceBand", "HedgeContract", "FuturesPrice", "StressMove", "SafetyMultiplier",
    "FundingRate8h", "FundingHorizonDays",
]

REQUIRED_NAMES = {
    *SETTINGS_NAMES, "CurrentContracts", "Dates", "BTCPrices", "BenchPrices", "HoldingValues",
    "HoldingBetas", "HoldingBenchBetas", "PortfolioValue", "PortfolioBeta", "TargetHedgeUSD",
    "HedgeChangeUSD", "TargetContracts", "ResidualBeta", "Drift", "Breach", "OrderNotionalUSD",
    "OrderSide", "OrderContracts", "MarginBuffer", "LiquidationPrice", "FundingCostUSD",
    "ContractNames",
}

TICKET_HEADER = [
    "Ticket ID", "Created (UTC)", "Exchange", "Symbol", "CCXT symbol", "Side", "Type",
    "Amount (contracts)", "Price", "Reduce only", "Client order ID", "Contract kind",
    "Contract size", "Notional (USD)", "Reason", "Beta before", "Beta after",
]

XLSM_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CELL_REF = re.compile(r"^\$?[A-Z]{1,3}\$?\d+(:\$?[A-Z]{1,3}\$?\d+)?$")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("template")
    return write_template(out / "BetaNeutral.xlsx", out / "BetaNeutral.xlsm")


@pytest.fixture(scope="module")
def books(saved: tuple[Path, Path]) -> dict[str, openpyxl.Workbook]:
    xlsx, xlsm = saved
    return {
        "xlsx": openpyxl.load_workbook(xlsx),
        "xlsm": openpyxl.load_workbook(xlsm, keep_vba=True),
    }


@pytest.fixture(scope="module")
def wb(books: dict[str, openpyxl.Workbook]) -> openpyxl.Workbook:
    return books["xlsx"]


def _name_cell(wb: openpyxl.Workbook, name: str):
    ((sheet, ref),) = [name_destinations(wb, [name])[name]]
    return wb[sheet][ref.replace("$", "").split(":")[0]]


def _split_ref(operand: str, default_sheet: str) -> tuple[str, str]:
    if "!" in operand:
        sheet, ref = operand.rsplit("!", 1)
        return sheet.strip("'"), ref
    return default_sheet, operand


def _functions(formula: str) -> list[str]:
    return [
        tok.value[:-1].upper()
        for tok in Tokenizer(formula).items
        if tok.type == Token.FUNC and tok.subtype == Token.OPEN
    ]


def _range_operands(formula: str) -> list[str]:
    return [
        tok.value
        for tok in Tokenizer(formula).items
        if tok.type == Token.OPERAND and tok.subtype == Token.RANGE
    ]


def _in_array(ws, coord: str) -> bool:
    col, row, _, _ = range_boundaries(coord)
    for ref in ws.array_formulae.values():
        c1, r1, c2, r2 = range_boundaries(ref)
        if c1 <= col <= c2 and r1 <= row <= r2:
            return True
    return False


# ------------------------------------------------------------------ structure ---
@pytest.mark.parametrize("kind", ["xlsx", "xlsm"])
def test_sheet_names(books: dict[str, openpyxl.Workbook], kind: str) -> None:
    """Both files have exactly the expected sheets, and none left from the xlwings quickstart."""
    assert books[kind].sheetnames == EXPECTED_SHEETS


def test_udf_names_match_the_specified_functions() -> None:
    """UDF_NAMES lists exactly the product's specified worksheet functions."""
    assert set(UDF_NAMES) == SPECIFIED_UDFS


@pytest.mark.parametrize("kind", ["xlsx", "xlsm"])
def test_defined_names_point_at_existing_cells(books: dict[str, openpyxl.Workbook],
                                               kind: str) -> None:
    """Every workbook-scoped name refers to one range on an existing sheet, inside its used
    area, whose first cell holds a value or belongs to a CSE array."""
    wb = books[kind]
    assert set(wb.defined_names) >= REQUIRED_NAMES
    for name in wb.defined_names:
        sheet, ref = name_destinations(wb, [name])[name]
        assert sheet in wb.sheetnames, name
        ws = wb[sheet]
        c1, r1, c2, r2 = range_boundaries(ref.replace("$", ""))
        assert c2 <= ws.max_column, name
        assert r2 <= ws.max_row, name
        first = ws.cell(row=r1, column=c1)
        assert first.value is not None or _in_array(ws, first.coordinate), name


def test_settings_have_validation_notes_and_defaults(wb: openpyxl.Workbook) -> None:
    """Each Settings cell has a stop-style data validation with the specified rule, a note and
    the specified default value."""
    ws = wb["Settings"]
    expected = {
        "BenchmarkChoice": ("list", None, '"BTC,BTC/ETH 50/50"', None),
        "ReturnType": ("list", None, '"simple,log"', None),
        "BetaMethod": ("list", None, '"ols,blume,ewma,ewls,welch,welch-decay,vasicek,'
                       'vasicek-ewls,vasicek-welch,vasicek-welch-decay"', None),
        "Window": ("whole", "greaterThanOrEqual", "0", None),
        "MinObs": ("whole", "greaterThanOrEqual", "3", None),
        "TargetBeta": ("decimal", "between", "-2", "2"),
        "RebalanceBand": ("decimal", "between", "0", "1"),
        "HedgeContract": ("list", None, "ContractNames", None),
        "FuturesPrice": ("decimal", "greaterThan", "0", None),
        "StressMove": ("decimal", "greaterThan", "-1", None),
        "SafetyMultiplier": ("decimal", "greaterThanOrEqual", "1", None),
    }
    for name, (kind, operator, f1, f2) in expected.items():
        cell = _name_cell(wb, name)
        assert cell.parent.title == "Settings"
        dvs = [dv for dv in ws.data_validations.dataValidation if cell.coordinate in dv.sqref]
        assert len(dvs) == 1, name
        dv = dvs[0]
        assert (dv.type, dv.formula1, dv.formula2) == (kind, f1, f2), name
        if operator is not None:
            assert dv.operator == operator, name
        assert dv.showErrorMessage, name
        assert dv.errorStyle == "stop", name
        assert cell.comment is not None, name
        assert len(cell.comment.text) > 20, name
    defaults = {"BenchmarkChoice": "BTC", "ReturnType": "simple", "BetaMethod": "ols", "MinObs": 60,
                "TargetBeta": 0, "RebalanceBand": 0.05, "StressMove": 0.30,
                "SafetyMultiplier": 1.2, "FundingRate8h": 0.0001, "FundingHorizonDays": 30}
    for name, value in defaults.items():
        assert _name_cell(wb, name).value == value, name
    assert _name_cell(wb, "FuturesPrice").value == "=INDEX(BTCPrices,ROWS(BTCPrices))"
    contracts = [c.value for c in wb["Contracts"]["A"][1:] if c.value]
    assert _name_cell(wb, "HedgeContract").value in contracts


def test_current_contracts_is_a_validated_input(wb: openpyxl.Workbook) -> None:
    """The current futures position on Rebalance is a numeric input with a validation."""
    cell = _name_cell(wb, "CurrentContracts")
    assert cell.parent.title == "Rebalance"
    assert cell.value == 0
    ws = cell.parent
    assert any(cell.coordinate in dv.sqref and dv.type == "decimal"
               for dv in ws.data_validations.dataValidation)


def test_signal_cells_turn_red_when_breached(wb: openpyxl.Workbook) -> None:
    """Conditional formatting paints the drift, breach and order cells red when the breach
    flag is set."""
    ws = wb["Rebalance"]
    breach = _name_cell(wb, "Breach").coordinate
    targets = [_name_cell(wb, n).coordinate for n in ("Drift", "Breach", "OrderNotionalUSD",
                                                      "OrderSide", "OrderContracts")]
    covered = set()
    for cf_range in ws.conditional_formatting:
        for rule in cf_range.rules:
            formula = "".join(rule.formula).replace("$", "")
            if breach not in formula:
                continue
            assert rule.dxf.fill.fgColor.rgb.endswith("C00000")
            for cells in cf_range.sqref.ranges:
                c1, r1, c2, r2 = cells.bounds
                covered |= {ws.cell(row=r, column=c).coordinate
                            for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
    assert set(targets) <= covered


def test_xlwings_conf_entries(wb: openpyxl.Workbook) -> None:
    """The xlwings.conf sheet holds the key/value rows from A1 that xlwings reads, without
    interpreter keys; the Start sheet says the interpreter is set in the ribbon."""
    ws = wb["xlwings.conf"]
    rows = {}
    row = 1
    while ws.cell(row=row, column=1).value is not None:  # xlwings reads A1 down to a blank
        rows[ws.cell(row=row, column=1).value] = ws.cell(row=row, column=2)
        row += 1
    # No Interpreter_Win/Interpreter_Mac keys: even an empty one overrides the interpreter
    # set in the xlwings ribbon.
    assert list(rows) == ["UDF Modules", "Debug UDFs", "Use UDF Server", "Show Console"]
    assert rows["UDF Modules"].value == "betaneutral.udfs"
    for key in ("Debug UDFs", "Use UDF Server", "Show Console"):
        assert rows[key].value is False
    start = " ".join(c.value for row in wb["Start"].iter_rows() for c in row
                     if isinstance(c.value, str))
    assert "xlwings ribbon tab, Interpreter box" in start


def test_xlsm_carries_the_generated_vba_project(saved: tuple[Path, Path]) -> None:
    """The .xlsm carries the project the code writes (xlwings' module from the installed
    package, the function wrappers, the workflow macros) and the macro-enabled type; the
    .xlsx has neither. (tests/test_vba.py reads the project back with olevba and
    LibreOffice.)"""
    from betaneutral.vba.sources import vba_project

    xlsx, xlsm = saved
    with zipfile.ZipFile(xlsm) as zf:
        assert "xl/vbaProject.bin" in zf.namelist()
        assert XLSM_MAIN in zf.read("[Content_Types].xml").decode()
        vba = zf.read("xl/vbaProject.bin")
    assert vba == vba_project([f"Sheet{i}" for i in range(1, 13)])
    with zipfile.ZipFile(xlwings_quickstart_path()) as zf:
        assert vba != zf.read("xl/vbaProject.bin")  # not the quickstart's SampleCall project
    with zipfile.ZipFile(xlsx) as zf:
        assert "xl/vbaProject.bin" not in zf.namelist()
        types = zf.read("[Content_Types].xml").decode()
        assert XLSX_MAIN in types
        assert XLSM_MAIN not in types


def test_xlsm_start_sheet_keeps_the_xlwings_notice(books: dict[str, openpyxl.Workbook]) -> None:
    """The macro-enabled copy states the xlwings BSD licence on its Start sheet."""
    texts = " ".join(str(c.value) for row in books["xlsm"]["Start"].iter_rows() for c in row
                     if isinstance(c.value, str))
    for phrase in ("xlwings", "BSD 3-clause", "Zoomer Analytics", "XLWINGS-LICENSE.txt"):
        assert phrase in texts


def test_start_sheet_shows_the_sample_label(wb: openpyxl.Workbook) -> None:
    """The Start sheet shows the sample-data label and the four steps."""
    texts = [c.value for row in wb["Start"].iter_rows() for c in row if isinstance(c.value, str)]
    assert SAMPLE_LABEL in texts
    for step in ("1. Assess", "2. Size", "3. Execute", "4. Maintain"):
        assert any(t.startswith(step) for t in texts), step


def test_tickets_header(wb: openpyxl.Workbook) -> None:
    """The Tickets sheet has the hedge-ticket header in row 1 and nothing below it."""
    ws = wb["Tickets"]
    assert [c.value for c in ws[1]] == TICKET_HEADER
    assert ws.max_row == 1


def test_charts_are_native_line_charts(saved: tuple[Path, Path]) -> None:
    """Scenarios plots hedged vs unhedged P&L, Rolling the rolling betas, and Backtest the
    cumulative P&Ls and the estimated beta against the band."""
    with zipfile.ZipFile(saved[0]) as zf:
        charts = [zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 4
    assert all("<c:lineChart>" in xml or "<lineChart>" in xml for xml in charts)
    scenario = next(xml for xml in charts if "Scenarios" in xml)
    for ref in ("'Scenarios'!C4", "'Scenarios'!D4", "'Scenarios'!$A$5:$A$17",
                "'Scenarios'!$C$5:$C$17", "'Scenarios'!$D$5:$D$17"):
        assert f"<f>{ref}</f>" in scenario
    rolling = next(xml for xml in charts if "Rolling" in xml)
    assert rolling.count("<ser>") == len(sample_holdings())
    assert "<f>'Rolling'!$B$2:$B$731</f>" in rolling
    backtest = [xml for xml in charts if "'Backtest'!" in xml]
    assert [xml.count("<ser>") for xml in backtest] == [2, 3]
    for ref in ("'Backtest'!$A$49:$A$778", "'Backtest'!$B$49:$B$778",
                "'Backtest'!$C$49:$C$778"):
        assert f"<f>{ref}</f>" in backtest[0]
    for ref in ("'Backtest'!$D$49:$D$778", "'Backtest'!$E$49:$E$778",
                "'Backtest'!$F$49:$F$778"):
        assert f"<f>{ref}</f>" in backtest[1]


def test_layout_niceties(wb: openpyxl.Workbook) -> None:
    """Table sheets freeze their headers, print their header rows and format numbers."""
    assert wb["Holdings"].freeze_panes == "B5"
    assert wb["Benchmark"].freeze_panes == "B2"
    assert wb["Holdings"].print_title_rows == "$4:$4"
    assert _name_cell(wb, "PortfolioValue").number_format == "#,##0"
    assert wb["Holdings"]["G5"].number_format == "0.000"
    assert wb["Holdings"]["E5"].number_format == "0.0%"


# ------------------------------------------------------------------- formulas ---
def test_formulas_refer_to_existing_sheets_and_names(wb: openpyxl.Workbook) -> None:
    """Every reference in every formula is a cell range on an existing sheet or a defined
    name, and every non-built-in function is a listed worksheet function."""
    cells = formula_cells(wb)
    assert len(cells) > 700
    names = set(wb.defined_names)
    used_udfs = set()
    for sheet, coord, formula in cells:
        for operand in _range_operands(formula):
            target_sheet, ref = _split_ref(operand, sheet)
            assert target_sheet in wb.sheetnames, (sheet, coord, formula)
            assert CELL_REF.match(ref) or ("!" not in operand and ref in names), (
                sheet, coord, operand)
        for fn in _functions(formula):
            if fn not in ALLOWED_BUILTINS:
                assert fn in UDF_NAMES, (sheet, coord, fn)
                used_udfs.add(fn)
    assert used_udfs == SPECIFIED_UDFS


def test_no_forbidden_formula_features(wb: openpyxl.Workbook) -> None:
    """No formula uses dynamic arrays, LET/LAMBDA, newer lookups, volatile functions,
    structured or spill references, full-column references, a 2-D INDEX other than the
    price block's column found by the asset's name, or unprefixed 2010+ functions."""
    names = name_destinations(wb, list(wb.defined_names))
    for sheet, coord, formula in formula_cells(wb):
        functions = _functions(formula)
        assert not FORBIDDEN_FUNCTIONS & {f.removeprefix("_XLFN.") for f in functions}
        for fn in functions:
            assert "." not in fn or fn.startswith("_XLFN."), (coord, fn)
        for operand in _range_operands(formula):
            assert "[" not in operand, (coord, operand)
            assert "#" not in operand, (coord, operand)
            ref = operand.rsplit("!", 1)[-1].replace("$", "")
            assert not re.fullmatch(r"[A-Z]{1,3}:[A-Z]{1,3}|\d+:\d+", ref), (coord, operand)
        for match in re.finditer(r"INDEX\(([^,()]+),", formula):
            arg = match.group(1)
            if arg == "PriceBlock":  # its column is looked up by name: MATCH(asset, header)
                assert re.search(r"INDEX\(PriceBlock,[^,()]+(?:\([^()]*\))?,MATCH\("
                                 r"\$?[A-Z]{1,3}\$?\d+,PriceAssets,0\)\)", formula), formula
                continue
            ref = names[arg][1] if arg in names else arg.rsplit("!", 1)[-1]
            c1, r1, c2, r2 = range_boundaries(ref.replace("$", ""))
            assert c1 == c2 or r1 == r2, (sheet, coord, formula)


def test_array_functions_sit_in_fixed_cse_ranges(wb: openpyxl.Workbook) -> None:
    """Array-returning functions are entered as CSE arrays of the shape they return; scalar
    ones never are."""
    n_prices = len(sample_prices())
    arrays = {ws.title: ws.array_formulae for ws in wb.worksheets}
    seen = set()
    for sheet, coord, formula in formula_cells(wb):
        fns = set(_functions(formula))
        array_fns = fns & set(ARRAY_UDF_SHAPES)
        is_array = ":" in coord and coord in arrays[sheet].values()
        if not array_fns:
            assert not is_array or formula == "=Dates", (sheet, coord, formula)
            continue
        (fn,) = array_fns
        seen.add(fn)
        assert is_array, (sheet, coord, formula)
        c1, r1, c2, r2 = range_boundaries(coord)
        rows, cols = ARRAY_UDF_SHAPES[fn]
        assert (r2 - r1 + 1, c2 - c1 + 1) == (rows or n_prices, cols), (sheet, coord)
    assert seen == set(ARRAY_UDF_SHAPES)


def test_key_formulas(wb: openpyxl.Workbook) -> None:
    """The key cells hold the specified formulas (sample book: ETH is Benchmark column C,
    the benchmark index is column I, prices in rows 2..731)."""
    bench = wb["Benchmark"]
    assert [c.value for c in bench[1]] == ["Date", "BTC", "ETH", "SOL", "LINK", "ADA", "XRP",
                                           "DOGE", "Benchmark"]
    assert bench["I2"].value == "=B2"
    assert bench["I3"].value == (
        '=IF(BenchmarkChoice="BTC",B3,I2*(1+0.5*(B3/B2-1)+0.5*(C3/C2-1)))')
    hold = wb["Holdings"]
    assert hold["A5"].value == "ETH"
    # each row finds its prices by the asset named in column A (sorting, copying a row
    # down or inserting a price column keeps the meaning); a blank last close is #N/A
    close = "INDEX(PriceBlock,ROWS(PriceBlock),MATCH($A5,PriceAssets,0))"
    assert hold["C5"].value == f'=IF({close}="",NA(),{close})'
    column = "INDEX(PriceBlock,0,MATCH($A5,PriceAssets,0))"
    # the cross-section of a Vasicek beta: the holdings' price columns, passed only when
    # the method is a Vasicek one
    universe = ('CHOOSE(1+ISNUMBER(SEARCH("vasicek",BetaMethod)),"",PriceBlock),PriceAssets,'
                "HoldingAssets")
    assert hold["F5"].value == (
        f"=BETA_VS_BTC({column},BenchPrices,Window,BetaMethod,MinObs,ReturnType,{universe})")
    assert hold["G5"].value == (
        f"=BETA_VS_BTC({column},BTCPrices,Window,BetaMethod,MinObs,ReturnType,{universe})")
    assert wb["Stats"]["A5"].value == "=INDEX(HoldingAssets,1)"
    assert wb["Rolling"]["B1"].value == "=INDEX(HoldingAssets,1)"
    assert _name_cell(wb, "Action").value == (
        "=REBALANCE_ACTION(CurrentContracts,TargetContracts,Breach)")
    assert "Holdings betas" in _name_cell(wb, "ReturnType").comment.text
    assert "Benchmark" not in wb.defined_names  # a name equal to a sheet name trips engines
    assert _name_cell(wb, "PortfolioBeta").value == "=PORTFOLIO_BETA(HoldingValues,HoldingBetas)"
    assert _name_cell(wb, "TargetContracts").value == (
        "=CONTRACTS_TO_SHORT(TargetHedgeUSD,FuturesPrice,HedgeContract)")
    assert _name_cell(wb, "MarginBuffer").value == (
        "=MARGIN_BUFFER(ShortNotionalUSD,FuturesPrice,StressMove,HedgeContract,"
        "SafetyMultiplier)")
    assert _name_cell(wb, "FundingCostUSD").value == (
        "=FUNDING_COST(ShortNotionalUSD,FundingRate8h,FundingHorizonDays*24)")
    signal = _name_cell(wb, "Drift").value
    assert isinstance(signal, ArrayFormula)
    assert signal.text == ("=REBALANCE_SIGNAL(HoldingValues,HoldingBetas,CurrentHedgeUSD,"
                           "TargetBeta,RebalanceBand)")


def test_formula_cells_lists_every_formula_in_the_files(saved: tuple[Path, Path]) -> None:
    """formula_cells finds as many formulas as the saved sheet XML contains <f> elements."""
    wb = build_workbook()
    with zipfile.ZipFile(saved[0]) as zf:
        n_xml = sum(len(re.findall(r"<f[ >]", zf.read(n).decode()))
                    for n in zf.namelist() if n.startswith("xl/worksheets/sheet"))
    assert n_xml == len(formula_cells(wb))


# ---------------------------------------------------------------------- text ---
def _sheet_xml(path: Path, sheet: str) -> str:
    with zipfile.ZipFile(path) as zf:
        wb_xml = zf.read("xl/workbook.xml").decode()
        rels = zf.read("xl/_rels/workbook.xml.rels").decode()
        rid = re.search(rf'<sheet[^>]*name="{re.escape(sheet)}"[^>]*r:id="(rId\d+)"',
                        wb_xml).group(1)
        target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="{rid}"',
                           rels)
        part = (target.group(1) or target.group(2)).lstrip("/")
        part = part if part.startswith("xl/") else f"xl/{part}"
        return zf.read(part).decode()


def test_write_text_stores_strings_not_formulas_or_errors(tmp_path: Path) -> None:
    """Text that looks like a formula or an error code is stored as an inline string."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "T"
    write_text(ws["A1"], '=HYPERLINK("http://x","y")')
    write_text(ws["A2"], "#N/A")
    write_text(ws["A3"], "=1+1")
    path = tmp_path / "t.xlsx"
    wb.save(path)
    xml = _sheet_xml(path, "T")
    assert "<f>" not in xml
    assert 't="e"' not in xml
    assert ('<c r="A1" t="inlineStr"><is><t>\'=HYPERLINK("http://x","y")</t></is></c>'
            in xml.replace("&quot;", '"'))
    assert '<c r="A2" t="inlineStr"><is><t>#N/A</t></is></c>' in xml
    assert "<t>'=1+1</t>" in xml


def test_contract_text_is_neutralised_in_the_sheet_xml(tmp_path: Path) -> None:
    """Free text in a contract row is neutralised and stored as a string; a bad name is
    rejected."""
    wb = build_workbook()
    ws = wb["Contracts"]
    ws.delete_rows(1, ws.max_row)
    row = ContractRow("TEST:BTCUSD", "=cmd|' /C calc'!A0", 1.0, 1.0, 1.0, 0.005, "@SUM(1+1)",
                      "-1+1", underlying="BTC", checked="2026-01-01")
    write_contracts_sheet(ws, [row])
    path = tmp_path / "c.xlsx"
    wb.save(path)
    xml = _sheet_xml(path, "Contracts")
    assert "<f>" not in xml
    assert "<t>'=cmd|' /C calc'!A0</t>" in xml.replace("&apos;", "'")
    assert "<t>'@SUM(1+1)</t>" in xml
    assert "<t>'-1+1</t>" in xml
    with pytest.raises(InputTypeError, match="contract name"):
        write_contracts_sheet(wb.create_sheet("X"), [dataclasses.replace(row, name="=EVIL")])


def test_template_text_cells_are_strings(saved: tuple[Path, Path]) -> None:
    """No text cell of the saved template starts with a formula trigger unescaped, and text
    is stored inline, never as a formula."""
    with zipfile.ZipFile(saved[0]) as zf:
        for name in zf.namelist():
            if not name.startswith("xl/worksheets/sheet"):
                continue
            xml = zf.read(name).decode()
            for text in re.findall(r't="inlineStr"><is><t[^>]*>([^<]*)</t>', xml):
                assert text.lstrip(" ")[:1] not in {"=", "+", "-", "@", "\t", "\r", "\n"}, text


# --------------------------------------------------------------- other sizes ---
def _small_book() -> tuple[pd.DataFrame, pd.DataFrame]:
    dates = pd.date_range("2026-01-01", periods=50, freq="D")
    t = np.arange(50.0)
    prices = pd.DataFrame({"AAA": 10 + t, "BTC": 100 + 2 * t, "ETH": 50 + t, "BBB": 5 + t},
                          index=dates)
    holdings = pd.DataFrame({"asset": ["BBB", "BTC"], "quantity": [3.0, 0.5]})
    return prices, holdings


def test_sizes_follow_the_data() -> None:
    """With 2 holdings and 50 days, ranges, totals and arrays are sized from the data and the
    columns are BTC, ETH, then the held assets."""
    prices, holdings = _small_book()
    wb = build_workbook(prices=prices, holdings=holdings)
    assert [c.value for c in wb["Benchmark"][1]] == ["Date", "BTC", "ETH", "BBB", "Benchmark"]
    refs = {n: ref.replace("$", "") for n, (_, ref)
            in name_destinations(wb, list(wb.defined_names)).items()}
    # the tables cover the data; the price and holdings names are their columns
    assert wb["Benchmark"].tables["Prices"].ref == "A1:E51"
    assert wb["Holdings"].tables["HoldingList"].ref == "A4:I6"
    assert wb.defined_names["BTCPrices"].attr_text == "Prices[BTC]"
    assert wb.defined_names["PriceBlock"].attr_text == "Prices[[BTC]:[BBB]]"
    assert wb.defined_names["PriceAssets"].attr_text == "Prices[[#Headers],[BTC]:[BBB]]"
    assert wb.defined_names["HoldingValues"].attr_text == "HoldingList[Value (USD)]"
    assert refs["BTCPrices"] == "B2:B51"
    assert refs["BenchPrices"] == "E2:E51"
    assert refs["HoldingValues"] == "D5:D6"
    assert refs["PriceAssets"] == "B1:D1"
    assert refs["PortfolioValue"] == "D3"  # the totals sit above the list
    close = "INDEX(PriceBlock,ROWS(PriceBlock),MATCH($A6,PriceAssets,0))"
    assert wb["Holdings"]["C6"].value == f'=IF({close}="",NA(),{close})'
    assert refs["PriceBlock"] == "B2:D51"
    assert wb["Rolling"].array_formulae == {"A2": "A2:A51", "B2": "B2:B51", "C2": "C2:C51"}
    assert wb["Stats"].array_formulae == {"B5": "B5:J5", "B6": "B6:J6"}
    texts = [c.value for row in wb["Start"].iter_rows() for c in row]
    assert SAMPLE_LABEL not in texts
    assert wb["Benchmark"]["D2"].value == 5.0


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda p, h: (p.drop(columns="ETH"), h), UnknownNameError, "ETH"),
        (lambda p, h: (p, pd.DataFrame({"asset": ["CCC"], "quantity": [1.0]})),
         UnknownNameError, "asset must be one of"),
        (lambda p, h: (p.rename(columns={"BBB": "bbb"}), h), InputTypeError, "price column"),
        (lambda p, h: (p.iloc[::-1], h), DomainError, "increasing"),
        (lambda p, h: (p, h.assign(quantity=["x", 1.0])), InputTypeError, "quantity of BBB"),
    ],
)
def test_bad_inputs_raise_typed_errors(change, error, match) -> None:
    """Missing ETH, unknown assets, bad names, unsorted dates and text quantities raise the
    matching typed error."""
    prices, holdings = change(*_small_book())
    with pytest.raises(error, match=match):
        build_workbook(prices=prices, holdings=holdings)


def test_write_template_checks_extensions_and_leaves_no_temp_files(tmp_path: Path) -> None:
    """Wrong extensions are refused; a good run leaves exactly the two files."""
    with pytest.raises(DomainError, match=r"path_xlsm must end with '\.xlsm'"):
        write_template(tmp_path / "a.xlsx", tmp_path / "b.xlsx")
    assert list(tmp_path.iterdir()) == []
    write_template(tmp_path / "a.xlsx", tmp_path / "b.xlsm")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xlsx", "b.xlsm"]


# ------------------------------------------------- independent engine check ---
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_computes_the_plain_formulas(tmp_path: Path) -> None:
    """LibreOffice, an independent engine, computes the benchmark index (both settings), the
    holdings' prices and values and the default futures price as numpy does."""
    prices, holdings = sample_prices(), sample_holdings()
    for label, choice in (("btc", "BTC"), ("mix", "BTC/ETH 50/50")):
        wb = build_workbook()
        write_text(_name_cell(wb, "BenchmarkChoice"), choice)
        wb.save(tmp_path / f"{label}.xlsx")
    profile = tmp_path / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<oor:items '
        'xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<item oor:path="/org.openoffice.Office.Calc/Formula/Load">'
        '<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>'
        "</oor:items>\n"
    )
    out = tmp_path / "out"
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to",
         "xlsx", "--outdir", str(out), str(tmp_path / "btc.xlsx"), str(tmp_path / "mix.xlsx")],
        check=True, timeout=240, capture_output=True,
    )
    btc, eth = prices["BTC"].to_numpy(), prices["ETH"].to_numpy()
    # I_0 = BTC_0; I_t = I_{t-1} * (1 + 0.5 * (BTC_t/BTC_{t-1} - 1) + 0.5 * (ETH_t/ETH_{t-1} - 1))
    mix = np.empty_like(btc)
    mix[0] = btc[0]
    for t in range(1, len(btc)):
        r_btc, r_eth = btc[t] / btc[t - 1] - 1, eth[t] / eth[t - 1] - 1
        mix[t] = mix[t - 1] * (1 + 0.5 * r_btc + 0.5 * r_eth)
    for label, expected in (("btc", btc), ("mix", mix)):
        got_wb = openpyxl.load_workbook(out / f"{label}.xlsx", data_only=True)
        got = np.array([c.value for c in got_wb["Benchmark"]["I"][1:]], dtype=float)
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        last = prices.iloc[-1]
        values = [q * last[a] for a, q in zip(holdings["asset"], holdings["quantity"],
                                              strict=True)]
        hold = got_wb["Holdings"]
        np.testing.assert_allclose([hold[f"C{5 + i}"].value for i in range(6)],
                                   last[holdings["asset"]].to_numpy(), rtol=1e-15)
        np.testing.assert_allclose([hold[f"D{5 + i}"].value for i in range(6)], values,
                                   rtol=1e-14)
        np.testing.assert_allclose(hold["D3"].value, sum(values), rtol=1e-14)
        np.testing.assert_allclose(_name_cell(got_wb, "FuturesPrice").value, btc[-1],
                                   rtol=1e-15)
