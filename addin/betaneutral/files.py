"""Safe file output: atomic replace, no silent overwrite, Excel lock detection.

Every file the product writes goes through :func:`atomic_output`: the content
is written to a temporary file in the target's own folder (same volume, so the
final rename is atomic), flushed and synced, verified, and only then renamed
over the target. A workbook (``.xlsx``, ``.xlsm``, ...) is always verified by
re-opening it (:func:`verify_workbook_file`), on top of any check the caller
passes. A failure at any point removes the temporary file and leaves the target
as it was (absent, or byte-identical to before).
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

__all__ = ["WORKBOOK_SUFFIXES", "FileProblemError", "atomic_output", "backup_copy",
           "check_writable_target", "excel_lock_file", "verify_workbook_file"]

#: File name endings of the spreadsheet packages the product reads and writes.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")


class FileProblemError(Exception):
    """A file is missing, locked by Excel, exists already, or cannot be written."""


def excel_lock_file(path: Path) -> Path | None:
    """The ``~$`` owner file Excel keeps next to an open workbook, if present."""
    lock = path.with_name("~$" + path.name)
    return lock if lock.exists() else None


def check_writable_target(path: Path, *, force: bool) -> None:
    """Refuse to write over an existing file without ``force``, or over an open workbook.

    Raises
    ------
    FileProblemError
        The target exists and ``force`` is False; the target is open in Excel
        (its ``~$`` owner file exists); or its folder does not exist.
    """
    if not path.parent.is_dir():
        raise FileProblemError(f"{path.parent} is not an existing folder")
    if path.is_dir():
        raise FileProblemError(f"{path} is a folder, not a file")
    lock = excel_lock_file(path)
    if lock is not None:
        raise FileProblemError(
            f"{path} appears to be open in Excel ({lock.name} exists); close it and try again")
    if path.exists() and not force:
        raise FileProblemError(f"{path} exists; pass --force to replace it")


def verify_workbook_file(path: Path, *, target: Path | None = None) -> None:
    """Re-open a written workbook; raise unless it reads back as a sound workbook.

    The file must be a zip archive whose members all pass their CRC check,
    whose XML parts (``*.xml``, ``*.rels``) are well-formed, without a DTD, and
    which openpyxl opens (read-only, links not kept) with at least one sheet.

    Parameters
    ----------
    path : pathlib.Path
        The file just written (usually a temporary file).
    target : pathlib.Path, optional
        The file it is meant to become, named in the message.

    Raises
    ------
    FileProblemError
        The file does not read back, naming ``target`` and the first problem.
    """
    import zipfile
    from xml.parsers import expat

    from openpyxl import load_workbook

    name = target if target is not None else path
    try:
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                parser = None
                if member.endswith((".xml", ".rels")):
                    # A streaming parse, no tree: well-formedness in little memory.
                    parser = expat.ParserCreate()
                    parser.StartDoctypeDeclHandler = functools.partial(_refuse_dtd, member)
                try:  # reading a member to its end checks its CRC (as testzip does)
                    with zf.open(member) as fh:  # in pieces: a large part is not held whole
                        while chunk := fh.read(_READ_BACK_PIECE):
                            if parser is not None:
                                parser.Parse(chunk, False)
                except zipfile.BadZipFile:
                    raise ValueError(f"part {member} fails its CRC check") from None
                if parser is not None:
                    parser.Parse(b"", True)
        # keep_vba is not needed to read the sheets (the VBA part passed its CRC check)
        wb = load_workbook(path, read_only=True, keep_links=False)
        try:
            if not wb.sheetnames:
                raise ValueError("it has no sheets")
        finally:
            wb.close()
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise FileProblemError(
            f"the new {name.name} did not read back as a workbook ({reason}); "
            f"{name} was not written") from None


#: Bytes of a part read (and parsed) at a time by the read-back check.
_READ_BACK_PIECE = 1 << 20


def _refuse_dtd(member: str, *args: object) -> None:
    raise ValueError(f"part {member} declares a DTD")


def _default_mode(path: Path) -> None:
    """Give a temporary file the mode a normally created file would have (not 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o666 & ~umask)


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    mode: str = "w",
    newline: str | None = None,
    encoding: str | None = "utf-8",
    verify: Callable[[Path], None] | None = None,
) -> Iterator[tuple[IO, Path]]:
    """Write ``path`` atomically.

    Yields ``(handle, temp_path)``: write through the handle (or, for libraries
    that want a file name, to ``temp_path`` after closing the handle). On a
    clean exit the temporary file is synced, passed to ``verify`` (which raises
    to reject it) and, when ``path`` ends in one of :data:`WORKBOOK_SUFFIXES`,
    to :func:`verify_workbook_file`; only then is it renamed over ``path``. On
    any exception it is deleted and the exception propagates.

    Raises
    ------
    FileProblemError
        See :func:`check_writable_target`; also when a workbook does not read
        back (:func:`verify_workbook_file`) or the final rename is refused (on
        Windows a workbook open in Excel cannot be replaced).
    """
    target = Path(path)
    check_writable_target(target, force=force)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    tmp = Path(tmp_name)
    try:
        binary = "b" in mode
        with os.fdopen(fd, mode, newline=newline,
                       encoding=None if binary else encoding) as handle:
            yield handle, tmp
            handle.flush()
            with contextlib.suppress(OSError, ValueError):
                os.fsync(handle.fileno())
        if verify is not None:
            verify(tmp)
        if target.suffix.lower() in WORKBOOK_SUFFIXES:
            verify_workbook_file(tmp, target=target)
        _default_mode(tmp)
        try:
            os.replace(tmp, target)
        except PermissionError as exc:
            raise FileProblemError(
                f"cannot replace {target} ({exc.strerror}); is it open in another program?"
            ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def backup_copy(path: Path) -> Path:
    """Copy ``path`` to ``<stem>.<UTC timestamp>.bak<suffix>`` beside it; return the copy."""
    import shutil
    from datetime import UTC, datetime

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.stem}.{stamp}.bak{path.suffix}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.stem}.{stamp}-{n}.bak{path.suffix}")
        n += 1
    shutil.copy2(path, target)
    return target
