"""Pre-checks on a workbook file before any spreadsheet library opens it.

An ``.xlsx``/``.xlsm`` file is a zip archive of XML parts. openpyxl opens it
with no limit on decompressed size, so a user's file is checked first:

* it is a regular file of at most :data:`MAX_FILE_BYTES`, and a zip archive;
* it has at most :data:`MAX_MEMBERS` members, at most
  :data:`MAX_UNCOMPRESSED_BYTES` in total once decompressed, no member larger
  than :data:`MAX_MEMBER_BYTES`, and no member whose compression ratio exceeds
  :data:`MAX_RATIO` (a zip bomb);
* every member name is a relative path inside the package (no ``..``, no
  absolute path, no backslash) under the parts a spreadsheet package holds;
* it is not an Excel owner file (``~$Book.xlsx``).

XML entity bombs are handled by openpyxl itself, which parses with defusedxml
when that package is installed (it is a dependency; a test asserts openpyxl
uses it).
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

from betaneutral.files import FileProblemError

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_RATIO",
    "MAX_UNCOMPRESSED_BYTES",
    "UnsafeWorkbookError",
    "check_workbook_archive",
]

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_MEMBERS = 10_000
MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
MAX_MEMBER_BYTES = 512 * 1024 * 1024
MAX_RATIO = 200.0
#: Below this size a member's compression ratio is not judged (tiny XML compresses well).
_RATIO_FLOOR_BYTES = 1024 * 1024

_ALLOWED = re.compile(
    r"^(\[Content_Types\]\.xml|_rels/[^/]*\.rels|docProps/[^/]+|customXml/.+|"
    r"xl/(?!\.\.).+)$"
)
_VBA_PARTS = re.compile(r"^xl/vbaProject(Signature)?\.bin$")


class UnsafeWorkbookError(FileProblemError):
    """The file is not a workbook this product will open (see the module docstring)."""


def check_workbook_archive(path: str | os.PathLike[str], *, allow_macros: bool | None = None
                           ) -> None:
    """Refuse a file that is not a plausible, bounded spreadsheet package.

    Parameters
    ----------
    path : path-like
        The ``.xlsx`` or ``.xlsm`` file.
    allow_macros : bool, optional
        Whether a VBA project may be present; by default only in ``.xlsm`` files.

    Raises
    ------
    UnsafeWorkbookError
        With a one-line reason naming the file and the rule it breaks.
    """
    p = Path(path)
    name = p.name
    if name.startswith("~$"):
        raise UnsafeWorkbookError(f"{name} is an Excel owner (lock) file, not a workbook")
    if not p.is_file():
        raise UnsafeWorkbookError(f"{p} does not exist or is not a file")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UnsafeWorkbookError(
            f"{name} is {size:,} bytes; workbooks larger than {MAX_FILE_BYTES:,} are refused")
    if not zipfile.is_zipfile(p):
        raise UnsafeWorkbookError(f"{name} is not an .xlsx/.xlsm file (not a zip archive)")
    macros_ok = p.suffix.lower() == ".xlsm" if allow_macros is None else allow_macros
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsafeWorkbookError(f"{name} is a damaged zip archive ({exc})") from None
    if len(infos) > MAX_MEMBERS:
        raise UnsafeWorkbookError(
            f"{name} has {len(infos):,} parts; more than {MAX_MEMBERS:,} are refused")
    total = 0
    names = set()
    for info in infos:
        member = info.filename
        names.add(member)
        if (member.startswith(("/", "\\")) or "\\" in member or ".." in member.split("/")
                or not _ALLOWED.match(member)):
            raise UnsafeWorkbookError(f"{name} contains an unexpected part {member!r}")
        if _VBA_PARTS.match(member) and not macros_ok:
            raise UnsafeWorkbookError(
                f"{name} contains a VBA project ({member}) but is not an .xlsm workbook")
        if info.file_size > MAX_MEMBER_BYTES:
            raise UnsafeWorkbookError(
                f"{name}: part {member} declares {info.file_size:,} bytes uncompressed; "
                f"more than {MAX_MEMBER_BYTES:,} are refused")
        if (info.file_size > _RATIO_FLOOR_BYTES
                and info.file_size > MAX_RATIO * max(info.compress_size, 1)):
            raise UnsafeWorkbookError(
                f"{name}: part {member} expands {info.file_size / max(info.compress_size, 1):,.0f}"
                f" times; a compression ratio above {MAX_RATIO:g} looks like a zip bomb")
        total += info.file_size
    if total > MAX_UNCOMPRESSED_BYTES:
        raise UnsafeWorkbookError(
            f"{name} expands to {total:,} bytes; more than {MAX_UNCOMPRESSED_BYTES:,} are refused")
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise UnsafeWorkbookError(f"{name} is a zip archive but not a spreadsheet package")
