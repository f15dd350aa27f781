"""Interrupted and refused saves on every write path; macros and external links kept safe.

Every file the product writes goes to a temporary file in the target's folder,
is re-opened to verify it, and only then renamed over the target
(betaneutral.files.atomic_output). These tests crash each write path at several
points (mid-package, in openpyxl's save, at fsync, at the final rename) and check
that the old target is byte-identical afterwards and that nothing is left behind.
Reference for the pattern: Python's os.replace documentation ("the renaming will be
an atomic operation", POSIX) and openpyxl's own save, which writes straight onto
the target (openpyxl/writer/excel.py, 3.1.5), hence the temporary file.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.reader.excel import ExcelReader

import betaneutral.files as files
from betaneutral.archive import copy_without_external_links, external_link_parts
from betaneutral.cli import EXIT_DATA, EXIT_FILE, EXIT_OK, main
from betaneutral.vba.sources import vba_project
from betaneutral.workbook.cache import write_cached_values
from sample_files import write_sample_csvs


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> content hash of every file under ``folder`` (temp files included)."""
    return {str(p.relative_to(folder)): _digest(p) for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _member(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(name)


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Sample CSVs, a filled .xlsx and .xlsm, and a built template tree (read-only)."""
    folder = tmp_path_factory.mktemp("books")
    holdings, prices = write_sample_csvs(folder, 120)
    out = {"prices": prices, "holdings": holdings}
    for suffix in (".xlsx", ".xlsm"):
        book = folder / f"book{suffix}"
        assert main(["fill", "--holdings", str(holdings), "--prices", str(prices), "-o",
                     str(book), "--quiet"]) == EXIT_OK
        out[suffix] = book
    root = folder / "root"
    root.mkdir()
    assert main(["build-template", "--root", str(root)]) == EXIT_OK
    out["root"] = root
    return out


# Each write path: (prepare the folder, return the argv and the targets that exist before).
Setup = Callable[[Path, dict[str, Path]], tuple[list[str], list[Path]]]


def _fill(work: Path, b: dict[str, Path]) -> tuple[list[str], list[Path]]:
    target = work / "book.xlsx"
    shutil.copy(b[".xlsx"], target)
    return (["fill", "--holdings", str(b["holdings"]), "--prices", str(b["prices"]), "-o",
             str(target), "--force", "--quiet"], [target])


def _compute(work: Path, b: dict[str, Path]) -> tuple[list[str], list[Path]]:
    src, target = work / "in.xlsx", work / "out.xlsx"
    shutil.copy(b[".xlsx"], src)
    shutil.copy(b[".xlsx"], target)
    return ["compute", str(src), "-o", str(target), "--force", "--quiet"], [src, target]


def _in_place(work: Path, b: dict[str, Path]) -> tuple[list[str], list[Path]]:
    src = work / "book.xlsm"
    shutil.copy(b[".xlsm"], src)
    return ["compute", str(src), "--in-place", "--quiet"], [src]


def _tickets(work: Path, b: dict[str, Path]) -> tuple[list[str], list[Path]]:
    src, target = work / "book.xlsx", work / "t.csv"
    shutil.copy(b[".xlsx"], src)
    target.write_text("old tickets\r\n", encoding="utf-8")
    return ["tickets", str(src), "-o", str(target), "--force"], [src, target]


def _demo(work: Path, b: dict[str, Path]) -> tuple[list[str], list[Path]]:
    (work / "BetaNeutral-demo.xlsx").write_bytes(b[".xlsx"].read_bytes())
    (work / "hedge-tickets.csv").write_text("old tickets\r\n", encoding="utf-8")
    return (["demo", "--out", str(work), "--force", "--quiet"],
            [work / "BetaNeutral-demo.xlsx", work / "hedge-tickets.csv"])


def _build_template(work: Path, b: dict[str, Path]) -> tuple[list[str], list[Path]]:
    shutil.copytree(b["root"], work, dirs_exist_ok=True)
    return (["build-template", "--root", str(work)],
            [work / "templates" / "BetaNeutral.xlsx", work / "BetaNeutral.xlsm"])


def _backtest(work: Path, b: dict[str, Path]) -> tuple[list[str], list[Path]]:
    src, out = work / "book.xlsx", work / "out"
    shutil.copy(b[".xlsx"], src)
    out.mkdir()
    targets = [out / name for name in ("backtest_daily.csv", "backtest_summary.csv",
                                       "policies.csv")]
    for target in targets:
        target.write_text("old results\r\n", encoding="utf-8")
    shutil.copy(b[".xlsx"], out / "book-backtest.xlsx")
    return (["backtest", str(src), "-o", str(out), "--force", "--quiet"],
            [src, *targets, out / "book-backtest.xlsx"])


WRITE_PATHS: dict[str, Setup] = {
    "fill -o": _fill, "compute -o": _compute, "compute --in-place": _in_place,
    "tickets -o": _tickets, "demo": _demo, "build-template": _build_template,
    "backtest BOOK -o": _backtest,
}
WORKBOOK_PATHS = ("fill -o", "compute -o", "compute --in-place", "demo", "build-template",
                  "backtest BOOK -o")
OPENPYXL_SAVES = ("fill -o", "demo", "build-template")  # build a book with openpyxl first
CHEAP_PATHS = ("fill -o", "compute -o", "compute --in-place", "tickets -o",
               "backtest BOOK -o")


class SimulatedCrashError(RuntimeError):
    """The simulated failure (power loss, full disk, killed process)."""


def _crash_on_nth(monkeypatch: pytest.MonkeyPatch, owner: Any, attribute: str, n: int,
                  match: Callable[..., bool] = lambda *a, **k: True) -> None:
    """Make ``owner.attribute`` raise SimulatedCrashError on its n-th matching call."""
    original = getattr(owner, attribute)
    calls = {"n": 0}

    def patched(*args: Any, **kwargs: Any) -> Any:
        if match(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == n:
                raise SimulatedCrashError(f"crash in {attribute}")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, attribute, patched)


def _is_member(name: str, *, final_file_only: bool = False) -> Callable[..., bool]:
    """Match writes of the member ``name``; with ``final_file_only``, only those into the
    file that becomes the target (written through the temporary file's open handle, whose
    ``name`` is a descriptor number, while openpyxl writes to an intermediate path)."""
    def match(zf: Any, zinfo_or_arcname: Any, *args: Any, **kwargs: Any) -> bool:
        arcname = getattr(zinfo_or_arcname, "filename", zinfo_or_arcname)
        return (arcname == name and not _in_memory(zf)
                and not (final_file_only and isinstance(zf.filename, str)))
    return match


def _in_memory(zf: Any) -> bool:
    """Whether a zip archive is written to memory (the loader's reduced copy of a book),
    not to a file."""
    return isinstance(zf.fp, io.BytesIO)


# injection -> (paths it applies to, how to inject)
INJECTIONS: dict[str, tuple[tuple[str, ...], Callable[[pytest.MonkeyPatch], None]]] = {
    # the workbook part comes after the sheets in the package: most of it is written
    "mid-package (zip writestr)": (WORKBOOK_PATHS, lambda mp: _crash_on_nth(
        mp, zipfile.ZipFile, "writestr", 1,
        _is_member("xl/workbook.xml", final_file_only=True))),
    "in openpyxl's save": (OPENPYXL_SAVES, lambda mp: _crash_on_nth(
        mp, openpyxl.Workbook, "save", 1)),
    # fsync and the rename are the same code (atomic_output) on every path; the slow
    # demo and build-template paths are left to the refused-rename test below
    "at fsync": (CHEAP_PATHS, lambda mp: _crash_on_nth(mp, files.os, "fsync", 1)),
    "at the final rename": (CHEAP_PATHS, lambda mp: _crash_on_nth(mp, files.os, "replace", 1)),
}
CRASH_CASES = [pytest.param(path, how, id=f"{path}-{how}")
               for how, (paths, _) in INJECTIONS.items() for path in paths]


@pytest.mark.parametrize(("path", "how"), CRASH_CASES)
def test_a_crash_while_saving_leaves_every_file_as_it_was(
        path: str, how: str, books: dict[str, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever point the save dies at, the existing targets are byte-identical and no
    temporary file (or redundant backup) is left in the folder."""
    argv, targets = WRITE_PATHS[path](tmp_path, books)
    before = _snapshot(tmp_path)
    assert all(t.exists() for t in targets)
    INJECTIONS[how][1](monkeypatch)
    with pytest.raises(SimulatedCrashError):
        main(argv)
    assert _snapshot(tmp_path) == before


def test_the_mid_package_crash_really_is_mid_package(books: dict[str, Path], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The mid-package injection fires while the package writer has a partial temporary
    file open next to the target (so the cleanup above is really exercised)."""
    argv, _ = _compute(tmp_path, books)
    seen: list[list[str]] = []
    original = zipfile.ZipFile.writestr

    def spy(zf: Any, zinfo_or_arcname: Any, *args: Any, **kwargs: Any) -> Any:
        if (getattr(zinfo_or_arcname, "filename", zinfo_or_arcname) == "xl/workbook.xml"
                and not _in_memory(zf)):
            seen.append([p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")])
            raise SimulatedCrashError("mid-package")
        return original(zf, zinfo_or_arcname, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", spy)
    with pytest.raises(SimulatedCrashError):
        main(argv)
    assert len(seen) == 1
    assert len(seen[0]) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("path", list(WRITE_PATHS))
def test_a_refused_rename_is_exit_3_and_keeps_the_file(path: str, books: dict[str, Path],
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """On Windows an open workbook cannot be replaced (PermissionError): exit 3 with one
    line asking to close it; files unchanged, nothing left behind."""
    argv, _ = WRITE_PATHS[path](tmp_path, books)
    before = _snapshot(tmp_path)

    def refuse(src: Any, dst: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.os, "replace", refuse)
    assert main(argv) == EXIT_FILE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "open in another program" in err
    assert _snapshot(tmp_path) == before


# ------------------------------------------------------------------ verification
def _truncating_writer(monkeypatch: pytest.MonkeyPatch, member: str) -> None:
    """A faulty writer: the sheet part is cut in half (its CRC still matches), whether it
    is written whole (``writestr``) or in pieces (``open(..., "w")``)."""
    original = zipfile.ZipFile.writestr

    def writestr(zf: Any, zinfo_or_arcname: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        if (getattr(zinfo_or_arcname, "filename", zinfo_or_arcname) == member
                and not _in_memory(zf)):
            data = data[: len(data) // 2]
        return original(zf, zinfo_or_arcname, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)
    opened = zipfile.ZipFile.open

    def open_member(zf: Any, name: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = opened(zf, name, mode, *args, **kwargs)
        if (mode != "w" or getattr(name, "filename", name) != member or _in_memory(zf)
                or isinstance(zf.filename, str) or not getattr(name, "file_size", 0)):
            return handle  # (only the final file is written through a handle, see _is_member)
        left = [name.file_size // 2]  # a part written in pieces: cut after half its size
        write = handle.write

        def cut(data: Any) -> int:
            keep = memoryview(data)[:max(left[0], 0)]
            left[0] -= len(data)
            write(keep)
            return len(data)

        handle.write = cut
        return handle

    monkeypatch.setattr(zipfile.ZipFile, "open", open_member)


@pytest.mark.parametrize("path", WORKBOOK_PATHS)
def test_a_corrupt_output_is_refused_before_the_rename(path: str, books: dict[str, Path],
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """The written file is re-opened before it replaces anything: a package with a
    truncated sheet is refused (exit 3, one line) and the old files stay."""
    argv, _ = WRITE_PATHS[path](tmp_path, books)
    before = _snapshot(tmp_path)
    _truncating_writer(monkeypatch, "xl/worksheets/sheet2.xml")
    assert main(argv) == EXIT_FILE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "did not read back as a workbook" in err
    assert _snapshot(tmp_path) == before


def test_without_the_verification_the_corrupt_file_would_have_replaced_the_book(
        books: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: with the re-open switched off, the same faulty writer replaces the target
    with a file openpyxl cannot read; so the refusal above is the verification's doing."""
    argv, (_, target) = _compute(tmp_path, books)
    _truncating_writer(monkeypatch, "xl/worksheets/sheet2.xml")
    monkeypatch.setattr(files, "verify_workbook_file", lambda *a, **k: None)
    assert main(argv) == EXIT_OK
    with pytest.raises(SyntaxError, match=r"no element found|unclosed|not well-formed"):
        openpyxl.load_workbook(target)  # xml.etree's ParseError: the sheet XML is cut


def test_write_cached_values_crash_leaves_the_target(books: dict[str, Path], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The package writer on its own: a crash mid-copy keeps an existing target intact."""
    from betaneutral.workbook.inputs import read_inputs
    from betaneutral.workbook.model import compute_values, read_layout

    wb = openpyxl.load_workbook(books[".xlsx"])
    values = compute_values(read_inputs(wb), read_layout(wb))
    target = tmp_path / "out.xlsx"
    shutil.copy(books[".xlsx"], target)
    before = _snapshot(tmp_path)
    _crash_on_nth(monkeypatch, zipfile.ZipFile, "writestr", 1,
                  _is_member("xl/workbook.xml", final_file_only=True))
    with pytest.raises(SimulatedCrashError):
        write_cached_values(books[".xlsx"], target, values, force=True)
    assert _snapshot(tmp_path) == before


# ------------------------------------------------------------------ owner (~$) files
@pytest.mark.parametrize("path", list(WRITE_PATHS))
def test_an_excel_owner_file_stops_the_command_before_writing(
        path: str, books: dict[str, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A ~$ owner file next to a target (the file is open in Excel) is exit 3, one line
    naming it; nothing is written, no backup is made."""
    argv, targets = WRITE_PATHS[path](tmp_path, books)
    target = targets[-1]
    lock = target.with_name("~$" + target.name)
    lock.write_bytes(b"\x05Alice" + b" " * 50)
    before = _snapshot(tmp_path)
    assert main(argv) == EXIT_FILE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "open in Excel" in err
    assert lock.name in err
    assert _snapshot(tmp_path) == before


# ------------------------------------------------------------------ in place
def test_in_place_keeps_a_backup_identical_to_the_original(books: dict[str, Path],
                                                          tmp_path: Path) -> None:
    """--in-place on an .xlsm: a timestamped backup byte-identical to the original, and
    the updated book keeps the VBA project byte for byte."""
    src = tmp_path / "book.xlsm"
    shutil.copy(books[".xlsm"], src)
    original = src.read_bytes()
    assert main(["compute", str(src), "--in-place", "--quiet"]) == EXIT_OK
    [backup] = [p for p in tmp_path.iterdir() if p != src]
    assert re.fullmatch(r"book\.\d{8}T\d{6}Z\.bak\.xlsm", backup.name)
    assert backup.read_bytes() == original
    assert _member(src, "xl/vbaProject.bin") == _member(backup, "xl/vbaProject.bin")


def test_a_failed_in_place_compute_removes_its_redundant_backup(
        books: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """When --in-place stops on a data error the book is unchanged, so the backup made
    for it is removed again: the folder is as before."""
    src = tmp_path / "book.xlsx"
    wb = openpyxl.load_workbook(books[".xlsx"])
    wb["Holdings"]["B5"] = "abc"
    wb.save(src)
    before = _snapshot(tmp_path)
    assert main(["compute", str(src), "--in-place"]) == EXIT_DATA
    assert "Holdings!B5" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before


# ------------------------------------------------------------------ macros
def test_xlsm_fill_and_compute_keep_the_vba_project(books: dict[str, Path],
                                                    tmp_path: Path) -> None:
    """fill writes the build's vbaProject.bin, and compute -o copies it byte for byte."""
    vba = vba_project([f"Sheet{i}" for i in range(1, 13)])
    assert _member(books[".xlsm"], "xl/vbaProject.bin") == vba
    out = tmp_path / "out.xlsm"
    assert main(["compute", str(books[".xlsm"]), "-o", str(out), "--quiet"]) == EXIT_OK
    assert _member(out, "xl/vbaProject.bin") == vba
    assert b"macroEnabled" in _member(out, "[Content_Types].xml")


# ------------------------------------------------------------------ external links
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
LINK_PART = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    f'xmlns:r="{NS_R}"><externalBook r:id="rId1"><sheetNames><sheetName val="Sheet1"/>'
    '</sheetNames><sheetDataSet><sheetData sheetId="0"><row r="1"><cell r="A1"><v>42</v>'
    '</cell></row></sheetData></sheetDataSet></externalBook></externalLink>')
LINK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{NS_R}/externalLinkPath" '
    'Target="file:///C:/books/other.xlsx" TargetMode="External"/></Relationships>')


def _with_external_link(src: Path, dst: Path) -> Path:
    """``src`` plus a link to [other.xlsx] as Excel stores it (ECMA-376 Part 1, 18.14:
    an externalLink part, its relationship and content type, externalReferences in the
    workbook) and a defined name that refers into it."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", (
                    b'<Override PartName="/xl/externalLinks/externalLink1.xml" ContentType='
                    b'"application/vnd.openxmlformats-officedocument.spreadsheetml.'
                    b'externalLink+xml"/></Types>'))
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", (
                    f'<Relationship Id="rIdLink1" Type="{NS_R}/externalLink" '
                    'Target="externalLinks/externalLink1.xml"/></Relationships>').encode())
            elif info.filename == "xl/workbook.xml":
                data = data.replace(b"</sheets>", (
                    f'</sheets><externalReferences><externalReference xmlns:r="{NS_R}" '
                    'r:id="rIdLink1"/></externalReferences>').encode())
                data = data.replace(b"<definedNames>", (
                    b'<definedNames><definedName name="OtherBook">[1]Sheet1!$A$1'
                    b'</definedName>'))
            zout.writestr(info, data)
        zout.writestr("xl/externalLinks/externalLink1.xml", LINK_PART)
        zout.writestr("xl/externalLinks/_rels/externalLink1.xml.rels", LINK_RELS)
    return dst


@pytest.fixture
def linked(books: dict[str, Path], tmp_path: Path) -> Path:
    path = _with_external_link(books[".xlsx"], tmp_path / "linked.xlsx")
    wb = openpyxl.load_workbook(path)  # the link is there, as openpyxl keeps it by default
    assert len(wb._external_links) == 1
    assert "OtherBook" in wb.defined_names
    return path


@pytest.fixture
def readers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, bool, bool]]:
    """(file, keep_links, the file holds external link parts) of every openpyxl load while
    the test runs."""
    seen: list[tuple[Path, bool, bool]] = []
    original = ExcelReader.__init__

    def init(self: Any, fn: Any, *args: Any, **kwargs: Any) -> None:
        original(self, fn, *args, **kwargs)
        path = Path(str(fn))
        seen.append((path, self.keep_links, bool(external_link_parts(path))))

    monkeypatch.setattr(ExcelReader, "__init__", init)
    return seen


def _has_link(path: Path) -> bool:
    with zipfile.ZipFile(path) as zf:
        return (any(n.startswith("xl/externalLinks/") for n in zf.namelist())
                or b"externalReference" in zf.read("xl/workbook.xml")
                or b"externalLink" in zf.read("[Content_Types].xml")
                or b"externalLink" in zf.read("xl/_rels/workbook.xml.rels")
                or b"OtherBook" in zf.read("xl/workbook.xml"))


@pytest.mark.parametrize("mode", ["-o", "--in-place"])
def test_compute_drops_external_links(mode: str, linked: Path, tmp_path: Path,
                                      readers: list[tuple[Path, bool, bool]],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A book linking to another workbook is read without its links (keep_links=False),
    and the written book has no externalLinks part, reference, relationship, content type
    or name pointing into it; it opens and keeps its values."""
    out = tmp_path / "out.xlsx" if mode == "-o" else linked
    argv = ["compute", str(linked), "--quiet"] + (["-o", str(out)] if mode == "-o"
                                                   else ["--in-place"])
    assert main(argv) == EXIT_OK
    assert "links to other workbooks" in capsys.readouterr().out
    assert readers  # openpyxl read it: a copy without the links, or with keep_links=False
    assert all(keep is False for _, keep, has_links in readers if has_links)
    assert not _has_link(out)
    wb = openpyxl.load_workbook(out, data_only=True)
    assert wb._external_links == []
    assert isinstance(wb["Holdings"]["D3"].value, float)


@pytest.mark.parametrize("command", ["tickets", "check", "backtest"])
def test_reading_commands_never_keep_links(command: str, linked: Path, tmp_path: Path,
                                           readers: list[tuple[Path, bool, bool]],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """tickets, check and backtest succeed on a linked book; every reader of a file that
    still has the link does so with keep_links=False (check's formula engine reads a copy
    without links)."""
    out = {"tickets": ["-o", str(tmp_path / "t.csv")],
           "backtest": ["-o", str(tmp_path / "out"), "--quiet"]}.get(command, [])
    assert main([command, str(linked), *out]) == EXIT_OK
    if command == "backtest":
        assert not _has_link(tmp_path / "out" / f"{linked.stem}-backtest.xlsx")
        # one unlinked copy serves the reading and the written workbook
        assert capsys.readouterr().out.count("links to other workbooks") == 1
    assert readers  # openpyxl read it: a copy without the links, or with keep_links=False
    assert all(keep is False for _, keep, has_links in readers if has_links)


def test_a_formula_into_another_workbook_is_refused_with_its_cell(
        linked: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A formula referring to [other.xlsx] is not the template's: compute names the cell
    and writes nothing."""
    wb = openpyxl.load_workbook(linked)
    wb["Start"]["Z1"] = "=[1]Sheet1!A1"
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    assert main(["compute", str(edited), "-o", str(tmp_path / "out.xlsx")]) == EXIT_DATA
    assert "Start!Z1" in capsys.readouterr().err
    assert not (tmp_path / "out.xlsx").exists()


def test_removing_links_leaves_every_other_part_byte_identical(linked: Path,
                                                               tmp_path: Path) -> None:
    """copy_without_external_links removes exactly the link parts and edits only the
    three parts that refer to them."""
    out = tmp_path / "unlinked.xlsx"
    removed = copy_without_external_links(linked, out)
    assert removed == ["xl/externalLinks/externalLink1.xml",
                       "xl/externalLinks/_rels/externalLink1.xml.rels"]
    assert external_link_parts(out) == []
    edited = {"[Content_Types].xml", "xl/_rels/workbook.xml.rels", "xl/workbook.xml"}
    with zipfile.ZipFile(linked) as a, zipfile.ZipFile(out) as b:
        assert b.namelist() == [n for n in a.namelist() if n not in removed]
        for name in b.namelist():
            if name not in edited:
                assert a.read(name) == b.read(name), name
    # a book without links is copied unchanged
    plain = tmp_path / "plain.xlsx"
    assert copy_without_external_links(out, plain) == []
    with zipfile.ZipFile(out) as a, zipfile.ZipFile(plain) as b:
        assert all(a.read(n) == b.read(n) for n in a.namelist())


def test_written_files_get_normal_permissions(books: dict[str, Path], tmp_path: Path) -> None:
    """Outputs are not left with the temporary file's 0600 mode."""
    out = tmp_path / "out.xlsx"
    assert main(["compute", str(books[".xlsx"]), "-o", str(out), "--quiet"]) == EXIT_OK
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


# ---- the read-back check reads each part in pieces: a large part is judged whole
_TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "BetaNeutral.xlsx"


def _with_part(dst: Path, name: str, data: bytes) -> Path:
    """The shipped template with ``name`` replaced by (or added as) ``data``."""
    with zipfile.ZipFile(_TEMPLATE) as zin, zipfile.ZipFile(dst, "w",
                                                            zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != name:
                zout.writestr(info, zin.read(info))
        zout.writestr(name, data)
    return dst


def _big_xml(rows: int, tail: bytes = b"</root>") -> bytes:
    body = b"".join(b'<r n="%d">%d</r>' % (i, i) for i in range(rows))
    return b'<?xml version="1.0"?><root>' + body + tail


def test_read_back_accepts_a_large_well_formed_part(tmp_path):
    data = _big_xml(300_000)
    assert len(data) > 3 * files._READ_BACK_PIECE
    files.verify_workbook_file(_with_part(tmp_path / "ok.xlsx", "xl/extra.xml", data))


@pytest.mark.parametrize(("data", "why"), [
    (_big_xml(300_000, tail=b"</rot>"), "mismatched tag"),  # broken after several pieces
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><r/>', "declares a DTD"),
])
def test_read_back_refuses_a_part_that_is_not_well_formed(tmp_path, data, why):
    book = _with_part(tmp_path / "bad.xlsx", "xl/extra.xml", data)
    with pytest.raises(files.FileProblemError, match=why):
        files.verify_workbook_file(book)


def test_read_back_refuses_a_part_whose_bytes_changed(tmp_path):
    book = _with_part(tmp_path / "crc.xlsx", "xl/extra.xml", _big_xml(1_000))
    with zipfile.ZipFile(book) as zf:
        info = zf.getinfo("xl/extra.xml")
    raw = bytearray(book.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.compress_size // 2] ^= 0xFF  # one byte of the compressed data
    book.write_bytes(bytes(raw))
    with pytest.raises(files.FileProblemError, match="did not read back"):
        files.verify_workbook_file(book)
