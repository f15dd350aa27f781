"""Hostile workbook files, beyond tests/test_archive.py: forged sizes, limits, and the
commands' handling of bombs (exit 3, one line, nothing written).

Zip limits follow Python's zipfile "Decompression pitfalls" note (a declared size is
only a claim in the central directory; see docs.python.org/3/library/zipfile.html) and
the constants of betaneutral.archive.
"""

from __future__ import annotations

import shutil
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest

import betaneutral.archive as archive
from betaneutral.archive import UnsafeWorkbookError, check_workbook_archive
from betaneutral.cli import EXIT_FILE, EXIT_OK, main
from sample_files import write_sample_csvs


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A filled BetaNeutral workbook (read-only)."""
    folder = tmp_path_factory.mktemp("hostile")
    holdings, prices = write_sample_csvs(folder, 90)
    path = folder / "book.xlsx"
    assert main(["fill", "--holdings", str(holdings), "--prices", str(prices), "-o", str(path),
                 "--quiet"]) == EXIT_OK
    return path


def _repack(src: Path, dst: Path, *, replace: dict[str, bytes] | None = None,
            extra: tuple[tuple[str, bytes], ...] = ()) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, (replace or {}).get(info.filename, zin.read(info)))
        for name, data in extra:
            zout.writestr(name, data)
    return dst


def _forge_declared_size(path: Path, member: str, size: int) -> None:
    """Overwrite the uncompressed size of ``member`` in its local header and in the
    central directory (APPNOTE 4.3.7 / 4.3.12: offsets 22 and 24), leaving the data."""
    raw = bytearray(path.read_bytes())
    name = member.encode()
    local = raw.find(b"PK\x03\x04")
    while local != -1:
        n = struct.unpack_from("<H", raw, local + 26)[0]
        if raw[local + 30:local + 30 + n] == name:
            struct.pack_into("<I", raw, local + 22, size)
        local = raw.find(b"PK\x03\x04", local + 4)
    central = raw.find(b"PK\x01\x02")
    while central != -1:
        n = struct.unpack_from("<H", raw, central + 28)[0]
        if raw[central + 46:central + 46 + n] == name:
            struct.pack_into("<I", raw, central + 24, size)
        central = raw.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(raw))


def test_a_forged_declared_size_is_refused_without_reading_it(book: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """A 10-byte part that claims 4 GB is refused from the directory alone: no member is
    opened or decompressed."""
    path = _repack(book, tmp_path / "claims.xlsx", extra=(("xl/media/image1.png", b"x" * 10),))
    _forge_declared_size(path, "xl/media/image1.png", 0xF000_0000)
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("xl/media/image1.png").file_size == 0xF000_0000

    def no_reading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a member was read")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_reading)
    with pytest.raises(UnsafeWorkbookError, match="declares 4,026,531,840 bytes"):
        check_workbook_archive(path)


@pytest.mark.parametrize(("limit", "value", "message"), [
    ("MAX_UNCOMPRESSED_BYTES", 100_000, "expands to"),
    ("MAX_MEMBERS", 10, "parts; more than 10 are refused"),
    ("MAX_FILE_BYTES", 1_000, "workbooks larger than 1,000 are refused"),
])
def test_each_archive_limit_is_enforced(book: Path, limit: str, value: int, message: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Total expansion, number of parts and file size each have a limit (lowered here so
    that a normal book exceeds it)."""
    check_workbook_archive(book)
    monkeypatch.setattr(archive, limit, value)
    with pytest.raises(UnsafeWorkbookError, match=message):
        check_workbook_archive(book)


def _entity_bomb(book: Path, folder: Path) -> Path:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row>'
            b'</sheetData></worksheet>')
    return _repack(book, folder / "entities.xlsx", replace={"xl/worksheets/sheet1.xml": bomb})


def _ratio_bomb(book: Path, folder: Path) -> Path:
    # 8 MB of zeros deflate to about 8 KB: a ratio near 1000, above MAX_RATIO (200)
    return _repack(book, folder / "zeros.xlsx", extra=(("xl/media/zeros.bin", bytes(8 << 20)),))


def _declared_bomb(book: Path, folder: Path) -> Path:
    path = _repack(book, folder / "claims.xlsx", extra=(("xl/media/image1.png", b"x" * 10),))
    _forge_declared_size(path, "xl/media/image1.png", 0xF000_0000)
    return path


def _xlsm_with_a_stray_part(book: Path, folder: Path) -> Path:
    return _repack(book, folder / "stray.xlsm", extra=(("macros/payload.bin", b"MZ\x90\x00"),))


def _xlsm_with_traversal(book: Path, folder: Path) -> Path:
    return _repack(book, folder / "climb.xlsm", extra=(("xl/../../evil.bin", b"x"),))


def _xlsx_with_vba(book: Path, folder: Path) -> Path:
    return _repack(book, folder / "hidden.xlsx", extra=(("xl/vbaProject.bin", b"\xd0\xcf"),))


def _owner_copy(book: Path, folder: Path) -> Path:
    path = folder / "~$book.xlsx"  # a real workbook, but named as Excel's owner file
    shutil.copy(book, path)
    return path


HOSTILE = {
    "entity bomb": (_entity_bomb, "EntitiesForbidden"),
    "ratio bomb": (_ratio_bomb, "looks like a zip bomb"),
    "declared-size bomb": (_declared_bomb, "declares 4,026,531,840 bytes"),
    "xlsm with a part outside the package": (_xlsm_with_a_stray_part, "unexpected part"),
    "xlsm with a path climbing out": (_xlsm_with_traversal, "unexpected part"),
    "xlsx hiding a VBA project": (_xlsx_with_vba, "VBA project"),
    "workbook named as an owner file": (_owner_copy, "owner (lock) file"),
}


@pytest.mark.parametrize("command", ["compute", "tickets", "check", "backtest"])
@pytest.mark.parametrize("case", list(HOSTILE))
def test_commands_refuse_hostile_files(case: str, command: str, book: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Bombs and mislabelled packages stop every reading command with exit 3 and one line
    naming the rule; no traceback and no output file."""
    make, fragment = HOSTILE[case]
    path = make(book, tmp_path)
    target = {"compute": tmp_path / "out.xlsx", "tickets": tmp_path / "t.csv",
              "backtest": tmp_path / "out"}.get(command)
    code = main([command, str(path)] + (["-o", str(target)] if target else []))
    out, err = capsys.readouterr()
    assert code == EXIT_FILE
    assert "Traceback" not in out + err
    assert err.count("\n") == 1
    assert err.startswith("betaneutral: error: ")
    assert fragment in err
    assert target is None or not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_a_scanned_folder_keeps_workbooks_and_skips_owner_files(book: Path,
                                                                tmp_path: Path) -> None:
    """Globbing *.xlsx also finds Excel's ~$ owner files; the pre-check refuses them by
    name (even a valid zip), and accepts the workbook itself."""
    shutil.copy(book, tmp_path / "book.xlsx")
    (tmp_path / "~$book.xlsx").write_bytes(b"\x05Alice" + b" " * 50)
    shutil.copy(book, tmp_path / "~$copy.xlsx")
    accepted, refused = [], {}
    for path in sorted(tmp_path.glob("*.xlsx")):
        try:
            check_workbook_archive(path)
            accepted.append(path.name)
        except UnsafeWorkbookError as exc:
            refused[path.name] = str(exc)
    assert accepted == ["book.xlsx"]
    assert sorted(refused) == ["~$book.xlsx", "~$copy.xlsx"]
    assert all("owner (lock) file" in message for message in refused.values())
