"""Hostile and malformed files are refused before any spreadsheet library parses them."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from betaneutral.archive import UnsafeWorkbookError, check_workbook_archive


def _good(tmp_path, name="book.xlsx"):
    path = tmp_path / name
    wb = openpyxl.Workbook()
    wb.active["A1"] = 1
    wb.save(path)
    return path


def _rezip(src, dst, extra=()):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        for member, data in extra:
            zout.writestr(member, data)
    return dst


def test_a_workbook_saved_by_openpyxl_passes(tmp_path):
    """A normal workbook is accepted."""
    check_workbook_archive(_good(tmp_path))


def test_not_a_zip_is_refused(tmp_path):
    """A text file renamed .xlsx is not opened."""
    path = tmp_path / "fake.xlsx"
    path.write_text("date,BTC\n2024-01-01,1\n", encoding="utf-8")
    with pytest.raises(UnsafeWorkbookError, match="not a zip archive"):
        check_workbook_archive(path)


def test_excel_owner_file_is_refused(tmp_path):
    """A ~$ lock file found in a folder is never treated as a workbook."""
    path = tmp_path / "~$book.xlsx"
    path.write_bytes(b"\x08owner")
    with pytest.raises(UnsafeWorkbookError, match="owner"):
        check_workbook_archive(path)


def test_zip_bomb_by_compression_ratio_is_refused(tmp_path):
    """A part of 50 MB of zeros (ratio ~1000) is refused without being decompressed."""
    path = _rezip(_good(tmp_path), tmp_path / "bomb.xlsx",
                  [("xl/media/zeros.bin", b"\0" * (50 * 1024 * 1024))])
    with pytest.raises(UnsafeWorkbookError, match="zip bomb"):
        check_workbook_archive(path)


def test_declared_size_above_the_limit_is_refused(tmp_path, monkeypatch):
    """A member declaring more than the per-part limit is refused."""
    import betaneutral.archive as archive

    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 40_000)
    path = _rezip(_good(tmp_path), tmp_path / "big.xlsx", [("xl/media/x.bin", b"x" * 50_000)])
    with pytest.raises(UnsafeWorkbookError, match="declares 50,000 bytes"):
        check_workbook_archive(path)


@pytest.mark.parametrize("member", ["../evil.xml", "/abs.xml", "xl\\\\evil.xml",
                                    "payload/run.exe"])
def test_unexpected_part_names_are_refused(tmp_path, member):
    """Paths outside the package's parts (traversal, absolute, unknown folders) are refused."""
    buf = io.BytesIO()
    with zipfile.ZipFile(_good(tmp_path)) as zin, zipfile.ZipFile(buf, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        zout.writestr(zipfile.ZipInfo(member), b"x")
    path = tmp_path / "odd.xlsx"
    path.write_bytes(buf.getvalue())
    with pytest.raises(UnsafeWorkbookError, match="unexpected part"):
        check_workbook_archive(path)


def test_vba_project_in_an_xlsx_is_refused(tmp_path):
    """An .xlsx carrying a VBA project is mislabelled: refused; the same in .xlsm passes."""
    src = _good(tmp_path)
    bad = _rezip(src, tmp_path / "macro.xlsx", [("xl/vbaProject.bin", b"vba")])
    with pytest.raises(UnsafeWorkbookError, match="VBA project"):
        check_workbook_archive(bad)
    ok = _rezip(src, tmp_path / "macro.xlsm", [("xl/vbaProject.bin", b"vba")])
    check_workbook_archive(ok)


def test_zip_that_is_not_a_spreadsheet_is_refused(tmp_path):
    """A zip without a workbook part is not a workbook."""
    path = tmp_path / "other.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(UnsafeWorkbookError, match="not a spreadsheet package"):
        check_workbook_archive(path)


def test_openpyxl_parses_with_defusedxml():
    """openpyxl is protected against XML entity bombs by defusedxml."""
    assert openpyxl.DEFUSEDXML is True


def test_xml_entity_bomb_is_rejected_by_the_parser(tmp_path):
    """A billion-laughs sheet part makes loading fail instead of expanding."""
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row>'
            '</sheetData></worksheet>')
    src = _good(tmp_path)
    path = tmp_path / "entities.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = bomb.encode() if info.filename == "xl/worksheets/sheet1.xml" else zin.read(info)
            zout.writestr(info, data)
    check_workbook_archive(path)  # small and well-formed as a zip: the XML parser must refuse
    with pytest.raises(Exception, match=r"(?i)entit|forbidden|DTD"):
        openpyxl.load_workbook(path)
