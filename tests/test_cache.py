"""Cached values written next to the formulas (betaneutral.workbook.cache)."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.formula import ArrayFormula

from betaneutral.archive import UnsafeWorkbookError
from betaneutral.errors import DomainError, InputTypeError, UnknownNameError
from betaneutral.files import FileProblemError
from betaneutral.vba.sources import vba_project
from betaneutral.workbook import build_workbook, formula_cells
from betaneutral.workbook import cache as cache_module
from betaneutral.workbook.cache import CALC_ID, write_cached_values

XLSM_MAIN = b"application/vnd.ms-excel.sheet.macroEnabled.main+xml"
CALCPR = re.compile(rb"<calcPr\b[^>]*>")


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, dict]:
    """A workbook with one formula of each result type, a CSE range whose other cells are
    absent from the XML (rows 11-12 do not exist at all), a sheet without formulas, and
    the values to store."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Calc"
    ws["A1"] = 2.0
    ws["B1"] = "=A1*1.25"
    ws["B2"] = "=A1>1"
    ws["B3"] = '="x"&"y"'
    ws["B4"] = "=NA()"
    ws["B5"] = "=ROUND(A1*3.5,0)"
    ws["D10"] = ArrayFormula("D10:E12", "=A1:B3")
    other = wb.create_sheet("Plain")
    other["A1"] = "no formulas here"
    path = tmp_path / "small.xlsx"
    wb.save(path)
    values = {
        ("Calc", "B1"): 2.5, ("Calc", "B2"): True, ("Calc", "B3"): "xy",
        ("Calc", "B4"): "#N/A", ("Calc", "B5"): 7,
        ("Calc", "D10"): 2.0, ("Calc", "E10"): 2.5, ("Calc", "D11"): "#DIV/0!",
        ("Calc", "E11"): False, ("Calc", "D12"): "text", ("Calc", "E12"): -1e-300,
    }
    return path, values


def test_values_of_every_type_read_back_with_data_only(small, tmp_path: Path) -> None:
    """Numbers, booleans, text and error codes are read back by openpyxl (data_only) in
    every formula cell, including created non-anchor cells of a CSE range; the file gets
    the permissions a plain save gives."""
    path, values = small
    out = write_cached_values(path, tmp_path / "out.xlsx", values)
    got = openpyxl.load_workbook(out, data_only=True)["Calc"]
    for (_, coord), value in values.items():
        assert got[coord].value == value, coord
        assert type(got[coord].value) is type(value), coord
    assert got["A1"].value == 2.0  # an input cell is untouched
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as a plain save, not 0600


def test_cell_types_in_the_xml(small, tmp_path: Path) -> None:
    """Each formula cell gets <v> right after <f> and t = n, b, str or e."""
    path, values = small
    out = write_cached_values(path, tmp_path / "out.xlsx", values)
    xml = members(out)["xl/worksheets/sheet1.xml"].decode()
    assert re.search(r'<c r="B1"[^>]* t="n"><f>A1\*1.25</f><v>2.5</v></c>', xml)
    assert re.search(r'<c r="B2"[^>]* t="b"><f>A1&gt;1</f><v>1</v></c>', xml)
    assert re.search(r'<c r="B3"[^>]* t="str"><f>[^<]*</f><v>xy</v></c>', xml)
    assert re.search(r'<c r="B4"[^>]* t="e"><f>NA\(\)</f><v>#N/A</v></c>', xml)
    assert re.search(r'<c r="E12"[^>]* t="n"><v>-1e-300</v></c>', xml)
    assert '<row r="11"' in xml
    assert '<row r="12"' in xml


def test_formulas_and_other_parts_are_unchanged(small, tmp_path: Path) -> None:
    """openpyxl sees the same formulas; every part but the rewritten sheet and the calcPr
    element of the workbook part is byte-identical, in the same order."""
    path, values = small
    out = write_cached_values(path, tmp_path / "out.xlsx", values)
    before, after = members(path), members(out)
    assert list(before) == list(after)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"xl/worksheets/sheet1.xml", "xl/workbook.xml"}
    assert (CALCPR.sub(b"", before["xl/workbook.xml"])
            == CALCPR.sub(b"", after["xl/workbook.xml"]))
    assert formula_cells(openpyxl.load_workbook(path)) == formula_cells(
        openpyxl.load_workbook(out))


def test_calc_properties_keep_or_force_recalculation(small, tmp_path: Path) -> None:
    """By default Excel is not asked to recalculate on open (no fullCalcOnLoad, a current
    calcId); recalc_on_load sets fullCalcOnLoad."""
    path, values = small
    assert b'fullCalcOnLoad="1"' in CALCPR.search(members(path)["xl/workbook.xml"]).group()
    keep = write_cached_values(path, tmp_path / "keep.xlsx", values)
    calc = CALCPR.search(members(keep)["xl/workbook.xml"]).group()
    assert b"fullCalcOnLoad" not in calc
    assert f'calcId="{CALC_ID}"'.encode() in calc
    redo = write_cached_values(path, tmp_path / "redo.xlsx", values, recalc_on_load=True)
    assert b'fullCalcOnLoad="1"' in CALCPR.search(members(redo)["xl/workbook.xml"]).group()


def test_every_formula_needs_a_value_and_only_formulas_get_one(small, tmp_path: Path) -> None:
    """A missing value, a value for a non-formula cell or an unknown sheet is refused, and
    nothing is written."""
    path, values = small
    target = tmp_path / "out.xlsx"
    with pytest.raises(UnknownNameError, match=r"none for 1 cells, e.g. \['Calc!E12'\]"):
        write_cached_values(path, target, {k: v for k, v in values.items()
                                           if k != ("Calc", "E12")})
    with pytest.raises(UnknownNameError, match=r"hold no formula, e.g. \['Calc!A1'\]"):
        write_cached_values(path, target, {**values, ("Calc", "A1"): 1.0})
    with pytest.raises(UnknownNameError, match="Nope"):
        write_cached_values(path, target, {**values, ("Nope", "A1"): 1.0})
    with pytest.raises(DomainError, match="finite"):
        write_cached_values(path, target, {**values, ("Calc", "B1"): float("nan")})
    with pytest.raises(InputTypeError, match="NoneType"):
        write_cached_values(path, target, {**values, ("Calc", "B1"): None})
    assert list(tmp_path.iterdir()) == [path]


def test_an_error_while_writing_leaves_no_file(small, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception in the middle of writing leaves neither the output nor a temp file."""
    path, values = small

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cache_module, "_rewrite_sheet", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_cached_values(path, tmp_path / "out.xlsx", values)
    assert list(tmp_path.iterdir()) == [path]


def test_existing_output_is_replaced_only_with_force(small, tmp_path: Path) -> None:
    """An existing file is kept unless force is given; with force it is replaced, also
    in place."""
    path, values = small
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"keep me")
    with pytest.raises(FileProblemError, match="exists"):
        write_cached_values(path, target, values)
    assert target.read_bytes() == b"keep me"
    write_cached_values(path, path, values, force=True)
    assert openpyxl.load_workbook(path, data_only=True)["Calc"]["B1"].value == 2.5


def test_shared_formulas_as_excel_saves_them(small, tmp_path: Path) -> None:
    """Cells of an Excel shared formula (<f t="shared" si="0"/>) get their values too."""
    path, values = small
    parts = members(path)
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml = xml.replace('<c r="A3"/>', "")
    xml = re.sub(r'<c r="A1"([^>]*)><v>2</v></c>',
                 r'<c r="A1"\1><v>2</v></c><c r="C1"><f t="shared" ref="C1:C2" si="0">'
                 r"A1*2</f></c>", xml)
    xml = re.sub(r'(<row r="2"[^>]*>)', r'\1<c r="A2"><v>3</v></c><c r="C2"><f t="shared" '
                 r'si="0"/></c>', xml)
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    shared = tmp_path / "shared.xlsx"
    with zipfile.ZipFile(shared, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    assert ("Calc", "C2", "=A2*2") in formula_cells(openpyxl.load_workbook(shared))
    values = {**values, ("Calc", "C1"): 4.0, ("Calc", "C2"): 6.0}
    out = write_cached_values(shared, tmp_path / "out.xlsx", values)
    got = openpyxl.load_workbook(out, data_only=True)["Calc"]
    assert (got["C1"].value, got["C2"].value) == (4.0, 6.0)


def test_a_part_with_a_dtd_is_refused(small, tmp_path: Path) -> None:
    """A part declaring a DTD (entities) is refused, and nothing is written."""
    path, values = small
    parts = members(path)
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml = ('<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY big "EXPANDED">]>'
           + xml.replace("<f>A1*1.25</f>", "<f>A1*1.25</f><extLst>&big;</extLst>"))
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    crafted = tmp_path / "crafted.xlsx"
    with zipfile.ZipFile(crafted, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    with pytest.raises(DomainError, match="must not declare a DTD"):
        write_cached_values(crafted, tmp_path / "out.xlsx", values)
    assert not (tmp_path / "out.xlsx").exists()


def test_a_file_that_is_not_a_workbook_is_refused_before_reading(tmp_path: Path) -> None:
    """The source passes the archive pre-check first: a text file is refused, nothing written."""
    text = tmp_path / "fake.xlsx"
    text.write_text("hello")
    with pytest.raises(UnsafeWorkbookError, match="not a zip"):
        write_cached_values(text, tmp_path / "out.xlsx", {})
    assert not (tmp_path / "out.xlsx").exists()


@pytest.fixture(scope="module")
def template_pair(tmp_path_factory: pytest.TempPathFactory):
    """The sample template saved as .xlsx and .xlsm, with cached values written."""
    from betaneutral.workbook.inputs import read_inputs
    from betaneutral.workbook.model import compute_values, read_layout

    out = tmp_path_factory.mktemp("cache")
    pairs = {}
    for macro, suffix in ((False, ".xlsx"), (True, ".xlsm")):
        wb = build_workbook(macro=macro)
        values = compute_values(read_inputs(wb), read_layout(wb))
        src = out / f"src{suffix}"
        wb.save(src)
        pairs[suffix] = (src, write_cached_values(src, out / f"out{suffix}", values), values)
    return pairs


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm"])
def test_template_round_trip(template_pair, suffix: str) -> None:
    """On the real template every formula cell reads back its value (dates as dates), the
    formulas are the same, and every part except the formula sheets and calcPr is
    byte-identical."""
    src, out, values = template_pair[suffix]
    got = openpyxl.load_workbook(out, data_only=True)
    for (sheet, coord), value in values.items():
        cell = got[sheet][coord].value
        if sheet == "Rolling" and coord.startswith("A"):
            assert cell == openpyxl.utils.datetime.from_excel(value), coord
        else:
            assert cell == value, (sheet, coord)
    assert formula_cells(openpyxl.load_workbook(src)) == formula_cells(
        openpyxl.load_workbook(out))
    before, after = members(src), members(out)
    assert list(before) == list(after)
    for name in before:
        if name.startswith("xl/worksheets/sheet"):
            continue
        if name == "xl/workbook.xml":
            assert CALCPR.sub(b"", before[name]) == CALCPR.sub(b"", after[name])
        else:
            assert before[name] == after[name], name


def test_xlsm_keeps_the_vba_project_and_its_content_type(template_pair) -> None:
    """The .xlsm output carries the build's vbaProject.bin byte for byte and the macro-enabled
    content type."""
    _, out, _ = template_pair[".xlsm"]
    parts = members(out)
    src, _, _ = template_pair[".xlsm"]
    with zipfile.ZipFile(src) as ref:
        assert parts["xl/vbaProject.bin"] == ref.read("xl/vbaProject.bin")
    assert parts["xl/vbaProject.bin"] == vba_project([f"Sheet{i}" for i in range(1, 13)])
    assert XLSM_MAIN in parts["[Content_Types].xml"]
    wb = openpyxl.load_workbook(out, keep_vba=True)
    assert wb.vba_archive is not None
