"""Cached values in sheet XML written in other layouts than openpyxl's (workbook.cache).

Excel and other tools may indent the XML, leave positions implied or spell references
with ``$``; the values must land in the same cells. Expected values are the ones given
to the writer, read back by openpyxl (``data_only``), an independent reader.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.formula import ArrayFormula

from betaneutral.errors import DomainError
from betaneutral.workbook.cache import write_cached_values

SHEET = "xl/worksheets/sheet1.xml"


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(parts: dict[str, bytes], path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


@pytest.fixture
def book(tmp_path: Path) -> tuple[Path, dict]:
    """Two formulas, a 2x2 CSE range and the values to store."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Calc"
    ws["A1"] = 2.0
    ws["B1"] = "=A1*3"
    ws["B2"] = "=A1>1"
    ws["D4"] = ArrayFormula("D4:E5", "=A1:B2")
    path = tmp_path / "book.xlsx"
    wb.save(path)
    values = {("Calc", "B1"): 6.0, ("Calc", "B2"): True, ("Calc", "D4"): 2.0,
              ("Calc", "E4"): "#N/A", ("Calc", "D5"): "text", ("Calc", "E5"): 0.5}
    return path, values


def read_back(path: Path) -> dict[str, object]:
    ws = openpyxl.load_workbook(path, data_only=True)["Calc"]
    return {c: ws[c].value for c in ("B1", "B2", "D4", "E4", "D5", "E5")}


def expected(values: dict) -> dict[str, object]:
    return {coord: value for (_, coord), value in values.items()}


def test_indented_xml_with_stale_values(book, tmp_path: Path) -> None:
    """Indented XML whose formula cells hold stale <v> elements (one with an attribute,
    one followed by whitespace) ends with exactly the new value in each cell."""
    path, values = book
    parts = members(path)
    xml = parts[SHEET].decode()
    xml = xml.replace("<f>A1*3</f><v></v>", '<f>A1*3</f><v x="1">99</v>\n  ')
    xml = xml.replace("<f>A1&gt;1</f><v></v>", "<f>A1&gt;1</f><v>0</v>\n    ")
    xml = xml.replace("<row ", "\n  <row ").replace("<c ", "\n    <c ")
    assert '<v x="1">99</v>' in xml
    assert "<v>0</v>" in xml
    parts[SHEET] = xml.encode()
    out = write_cached_values(rezip(parts, tmp_path / "indented.xlsx"), tmp_path / "out.xlsx",
                              values)
    assert read_back(out) == expected(values)
    written = members(out)[SHEET].decode()
    for coord in ("B1", "B2"):
        cell = re.search(rf'<c r="{coord}".*?</c>', written, re.S).group()
        assert cell.count("<v") == 1, cell


def test_implied_positions(book, tmp_path: Path) -> None:
    """Rows and cells without an r attribute (positions implied by order) get their values."""
    path, values = book
    parts = members(path)
    xml = parts[SHEET].decode()
    xml = xml.replace('<c r="A1"', "<c").replace('<c r="B1"', "<c").replace('<row r="1"', "<row")
    assert '<c r="A1"' not in xml
    assert '<row r="1"' not in xml
    parts[SHEET] = xml.encode()
    out = write_cached_values(rezip(parts, tmp_path / "implied.xlsx"), tmp_path / "out.xlsx",
                              values)
    assert read_back(out) == expected(values)


def test_references_with_dollars_or_lower_case(book, tmp_path: Path) -> None:
    """Values keyed "$B$1" or "e5" land in the same cells as "B1" and "E5"."""
    path, values = book
    plain = write_cached_values(path, tmp_path / "plain.xlsx", values)
    spelled = {("Calc", {"B1": "$B$1", "E5": "e5"}.get(c, c)): v for (_, c), v in values.items()}
    other = write_cached_values(path, tmp_path / "spelled.xlsx", spelled)
    assert members(other)[SHEET] == members(plain)[SHEET]


def test_the_first_bad_value_in_reading_order_is_named(book, tmp_path: Path) -> None:
    """With two non-finite values, the error names the first cell in reading order (B1),
    whatever the order of the mapping."""
    path, values = book
    bad = {("Calc", "E5"): float("inf"), **values, ("Calc", "B1"): float("nan")}
    with pytest.raises(DomainError, match=r"Calc!B1: value must be finite"):
        write_cached_values(path, tmp_path / "out.xlsx", bad)
    assert not (tmp_path / "out.xlsx").exists()
