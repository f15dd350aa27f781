"""The committed workbooks are what the code builds (rebuild with `betaneutral build-template`)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from betaneutral.workbook.compute import build_committed_templates
from betaneutral.workbook.template import defined_names, formula_cells

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = {".xlsx": ROOT / "templates" / "BetaNeutral.xlsx",
             ".xlsm": ROOT / "BetaNeutral.xlsm"}


def _structure(path: Path) -> dict:
    wb = openpyxl.load_workbook(path, keep_vba=path.suffix == ".xlsm")
    cached = openpyxl.load_workbook(path, data_only=True)
    return {
        "sheets": wb.sheetnames,
        "formulas": sorted(formula_cells(wb)),
        "names": defined_names(wb),
        "validations": {ws.title: sorted((str(dv.sqref), dv.type, dv.formula1, dv.formula2)
                                         for dv in ws.data_validations.dataValidation)
                        for ws in wb.worksheets},
        "conditional": {ws.title: sorted(str(r.sqref) for r in ws.conditional_formatting)
                        for ws in wb.worksheets},
        "inputs": {ws.title: [[c.value for c in row] for row in ws.iter_rows()
                              if not any(c.data_type == "f" for c in row)][:50]
                   for ws in wb.worksheets},
        "cached": {(s, c): cached[s][c.split(":")[0]].value for s, c, _ in formula_cells(wb)},
    }


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    root = tmp_path_factory.mktemp("rebuilt")
    xlsx, xlsm = build_committed_templates(root)
    return {".xlsx": xlsx, ".xlsm": xlsm}


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm"])
def test_committed_workbook_matches_the_code(rebuilt, suffix):
    """Same sheets, formulas, names, validations, conditional formats, inputs and values."""
    committed = COMMITTED[suffix]
    assert committed.is_file(), f"{committed} is missing: run `betaneutral build-template`"
    got, want = _structure(committed), _structure(rebuilt[suffix])
    for key in want:
        assert got[key] == want[key], f"{committed.name}: {key} differs from the code's build"


def test_committed_xlsm_keeps_xlwings_vba_and_macro_content_type():
    """The .xlsm carries a VBA project and the macro-enabled content type; the .xlsx none."""
    with zipfile.ZipFile(COMMITTED[".xlsm"]) as zf:
        assert "xl/vbaProject.bin" in zf.namelist()
        assert b"macroEnabled.main+xml" in zf.read("[Content_Types].xml")
    with zipfile.ZipFile(COMMITTED[".xlsx"]) as zf:
        assert "xl/vbaProject.bin" not in zf.namelist()
        assert b"macroEnabled" not in zf.read("[Content_Types].xml")


def test_every_formula_cell_of_the_committed_files_carries_a_value():
    """The committed files open showing numbers: every formula cell has a cached value."""
    for path in COMMITTED.values():
        wb = openpyxl.load_workbook(path)
        cached = openpyxl.load_workbook(path, data_only=True)
        empty = [(s, c) for s, c, _ in formula_cells(wb)
                 if cached[s][c.split(":")[0]].value is None]
        assert empty == [], path.name
