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

A reader that takes the bulk cells of the large sheets (the prices, the rolling
betas) from their bytes, without parsing them into a tree, checks with
``bulk_sheets=True``: a worksheet part may then hold up to
:data:`MAX_BULK_SHEET_BYTES`, and what is left of the package for openpyxl is
held to the bounds above (:func:`check_xml_sizes`).

XML entity bombs are handled by openpyxl itself, which parses with defusedxml
when that package is installed (it is a dependency; a test asserts openpyxl
uses it).

:func:`open_workbook` is the one way a user's workbook is opened: the checks
above, then openpyxl with links to other workbooks not kept; any failure of
the reader (malformed XML, an entity declaration, a part openpyxl cannot
use) is reported as :class:`UnsafeWorkbookError`, never as a traceback.
Links to other workbooks are never followed (openpyxl does not open them);
:func:`copy_without_external_links` removes them from a copy of a package, so
that no output carries them on.
"""

from __future__ import annotations

import copy
import io
import os
import posixpath
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from betaneutral.files import FileProblemError

__all__ = [
    "MAX_BULK_SHEET_BYTES",
    "MAX_BULK_XML_BYTES",
    "MAX_FILE_BYTES",
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_RATIO",
    "MAX_UNCOMPRESSED_BYTES",
    "MAX_XML_BYTES",
    "MAX_XML_PART_BYTES",
    "UnsafeWorkbookError",
    "check_workbook_archive",
    "check_xml_sizes",
    "copy_without_external_links",
    "copy_without_macros",
    "external_link_parts",
    "has_vba_project",
    "open_workbook",
]

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_MEMBERS = 10_000
MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
MAX_MEMBER_BYTES = 512 * 1024 * 1024
MAX_RATIO = 200.0
#: Memory bound: the XML parts (sheets, shared strings, charts, ...) are parsed, and a
#: parsed part takes 10-25 times its size in memory. A book of 200 holdings x 2,000 days
#: holds 42 MB of XML, its largest sheet 22 MB; these bounds keep every command under
#: 1 GB on any workbook it parses whole.
MAX_XML_PART_BYTES = 32 * 1024 * 1024
MAX_XML_BYTES = 96 * 1024 * 1024
#: Bounds for the readers that take a sheet's bulk cells from its bytes without parsing
#: it into a tree (:func:`betaneutral.workbook.loader.load_book`, the writer of computed
#: values): there a worksheet part may hold up to this many bytes, provided what is left
#: of it for openpyxl is within :data:`MAX_XML_PART_BYTES`. A book of 1,000 holdings x
#: 2,000 days has a 100 MB price sheet and a 96 MB rolling-beta sheet; ``compute`` needs
#: about 425 MB for it and ``fill`` about 650 MB (README, Performance).
MAX_BULK_SHEET_BYTES = 128 * 1024 * 1024
MAX_BULK_XML_BYTES = 320 * 1024 * 1024
_XML_PART = re.compile(r"\.(xml|rels|vml)$", re.IGNORECASE)
_SHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$", re.IGNORECASE)
#: Below this size a member's compression ratio is not judged (tiny XML compresses well).
_RATIO_FLOOR_BYTES = 1024 * 1024

_ALLOWED = re.compile(
    r"^(\[Content_Types\]\.xml|_rels/[^/]*\.rels|docProps/[^/]+|customXml/.+|"
    r"xl/(?!\.\.).+)$"
)
_VBA_PARTS = re.compile(r"^xl/vbaProject(Signature)?\.bin$")


class UnsafeWorkbookError(FileProblemError):
    """The file is not a workbook this product will open (see the module docstring)."""


def check_workbook_archive(path: str | os.PathLike[str], *, allow_macros: bool | None = None,
                           bulk_sheets: bool = False) -> None:
    """Refuse a file that is not a plausible, bounded spreadsheet package.

    Parameters
    ----------
    path : path-like
        The ``.xlsx`` or ``.xlsm`` file.
    allow_macros : bool, optional
        Whether a VBA project may be present; by default only in ``.xlsm`` files.
    bulk_sheets : bool, default False
        For a reader that does not parse large sheets into a tree: worksheet parts
        are bounded by :data:`MAX_BULK_SHEET_BYTES` and the XML by
        :data:`MAX_BULK_XML_BYTES` instead of :data:`MAX_XML_PART_BYTES` and
        :data:`MAX_XML_BYTES`; such a reader must check what it parses with
        :func:`check_xml_sizes`.

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
    check_xml_sizes(name, infos, bulk_sheets=bulk_sheets)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise UnsafeWorkbookError(
            f"{name} expands to {total:,} bytes; more than {MAX_UNCOMPRESSED_BYTES:,} are refused")
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise UnsafeWorkbookError(f"{name} is a zip archive but not a spreadsheet package")


def check_xml_sizes(name: str, infos: list[zipfile.ZipInfo], *,
                    bulk_sheets: bool = False) -> None:
    """Refuse XML parts over the memory bounds (module notes).

    Parameters
    ----------
    name : str
        The file's name, for the message.
    infos : list of zipfile.ZipInfo
        The package's members (their declared uncompressed sizes are checked).
    bulk_sheets : bool, default False
        Apply the bounds of a reader that takes the large sheets' cells from their
        bytes (:data:`MAX_BULK_SHEET_BYTES`, :data:`MAX_BULK_XML_BYTES`).

    Raises
    ------
    UnsafeWorkbookError
        Naming the file, the part and the bound.
    """
    xml_total = 0
    for info in infos:
        member = info.filename
        if not _XML_PART.search(member):
            continue
        bound = (MAX_BULK_SHEET_BYTES if bulk_sheets and _SHEET_PART.match(member)
                 else MAX_XML_PART_BYTES)
        if info.file_size > bound:
            raise UnsafeWorkbookError(
                f"{name}: part {member} holds {info.file_size:,} bytes of XML; parts over "
                f"{bound:,} bytes are refused (the memory bound: a book of 200 "
                "holdings x 2,000 days has sheets of about 22 MB)")
        xml_total += info.file_size
    total_bound = MAX_BULK_XML_BYTES if bulk_sheets else MAX_XML_BYTES
    if xml_total > total_bound:
        raise UnsafeWorkbookError(
            f"{name} holds {xml_total:,} bytes of XML; more than {total_bound:,} are refused "
            "(the memory bound: a book of 200 holdings x 2,000 days holds about 42 MB)")


def open_workbook(path: str | os.PathLike[str], *, read_only: bool = False,
                  data_only: bool = False, package: bytes | None = None,
                  keep_vba: bool = False) -> Any:
    """Open a user's workbook with openpyxl after :func:`check_workbook_archive`.

    Parameters
    ----------
    path : path-like
        The ``.xlsx`` or ``.xlsm`` file.
    read_only, data_only : bool, default False
        Passed to ``openpyxl.load_workbook``.
    package : bytes, optional
        Load these bytes instead of the file: a package derived from ``path``
        (see :func:`betaneutral.workbook.loader.load_book`). ``path`` is still
        checked, and messages name it.
    keep_vba : bool, default False
        Keep an ``.xlsm``'s VBA project so that a save keeps it (openpyxl's
        ``keep_vba``).

    Returns
    -------
    openpyxl.Workbook
        Loaded with ``keep_links=False`` (links to other workbooks are dropped,
        never followed) and formulas as text unless ``data_only``.

    Raises
    ------
    UnsafeWorkbookError
        The file fails the archive checks, or openpyxl cannot read it (the
        message names the file and the reader's reason, on one line).
    """
    from openpyxl import load_workbook

    p = Path(path)
    check_workbook_archive(p, bulk_sheets=package is not None)
    if package is not None:  # what openpyxl parses is held to the tree bounds
        with zipfile.ZipFile(io.BytesIO(package)) as reduced:
            check_xml_sizes(p.name, reduced.infolist())
    try:
        return load_workbook(p if package is None else io.BytesIO(package),
                             read_only=read_only, data_only=data_only, keep_links=False,
                             keep_vba=keep_vba)
    except Exception as exc:  # any reader failure on a user's file is a file problem
        root: BaseException = exc  # the innermost cause says what is wrong with the file
        while (root.__cause__ or root.__context__) is not None:
            root = root.__cause__ or root.__context__  # type: ignore[assignment]
        reason = " ".join(str(root).split()) or "no reason given"
        raise UnsafeWorkbookError(
            f"{p.name} cannot be read as a workbook ({type(root).__name__}: {reason[:200]})"
        ) from None


_EXTERNAL_LINKS_FOLDER = "xl/externalLinks/"
_REL_EXTERNAL_LINK = "/externalLink"
_EXTERNAL_REF = re.compile(r"\[\d+\]")  # [1]Sheet1!A1: a reference into a linked workbook


def external_link_parts(path: str | os.PathLike[str]) -> list[str]:
    """The parts of a package that hold links to other workbooks (``xl/externalLinks/``)."""
    with zipfile.ZipFile(path) as zf:
        return [n for n in zf.namelist() if n.startswith(_EXTERNAL_LINKS_FOLDER)]


def _xml(data: bytes, part: str) -> Any:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        tree = etree.fromstring(data, parser).getroottree()
    except etree.XMLSyntaxError as exc:
        raise UnsafeWorkbookError(f"part {part} is not well-formed XML ({exc})") from None
    if tree.docinfo.doctype:
        raise UnsafeWorkbookError(f"part {part} declares a DTD, which packages never do")
    return tree


def _serialized(tree: Any, data: bytes) -> bytes:
    """The tree as UTF-8 bytes, keeping the part's own XML declaration."""
    from lxml import etree

    declaration = re.match(rb"\s*<\?xml[^>]*\?>\s*", data)
    body = etree.tostring(tree, encoding="UTF-8", xml_declaration=False)
    return (data[:declaration.end()] if declaration else b"") + body


def _local(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _without(tree: Any, keep: Any) -> None:
    for element in list(tree.getroot().iter()):
        parent = element.getparent()
        if parent is not None and not keep(element):
            parent.remove(element)


def _copy_package(zin: zipfile.ZipFile, dst: str | os.PathLike[str], removed: list[str],
                  edits: Mapping[str, Callable[[Any], None]]) -> None:
    """Write ``zin`` to ``dst`` without the ``removed`` parts; each part named in ``edits``
    is parsed, edited in place by its function and serialised; the rest is copied."""
    with zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in removed:
                continue
            data = zin.read(info)
            edit = edits.get(info.filename)
            if edit is not None:
                tree = _xml(data, info.filename)
                edit(tree)
                data = _serialized(tree, data)
            zout.writestr(copy.copy(info), data)


def _workbook_part_names(zin: zipfile.ZipFile) -> tuple[str, str]:
    """The workbook part (from the package's relationships) and its relationships part."""
    workbook = "xl/workbook.xml"
    if "_rels/.rels" in zin.namelist():
        for rel in _xml(zin.read("_rels/.rels"), "_rels/.rels").getroot():
            if rel.get("Type", "").endswith("/officeDocument"):
                workbook = rel.get("Target", workbook).lstrip("/")
    folder, base = posixpath.split(workbook)
    return workbook, posixpath.join(folder, "_rels", f"{base}.rels")


def copy_without_external_links(src: str | os.PathLike[str], dst: str | os.PathLike[str]
                                ) -> list[str]:
    """Copy a package without its links to other workbooks; return the parts removed.

    Parameters
    ----------
    src : path-like
        A package that passed :func:`check_workbook_archive`.
    dst : path-like
        Where to write the copy (a new file).

    Returns
    -------
    list of str
        The removed ``xl/externalLinks/`` parts (empty: ``dst`` is a plain copy).

    Raises
    ------
    UnsafeWorkbookError
        A part that has to be edited is not well-formed XML or declares a DTD.

    Notes
    -----
    Removed: the ``xl/externalLinks/`` parts, their content-type overrides, the
    workbook's relationships to them, its ``externalReferences`` element and
    the defined names that refer into a linked workbook (``[1]Sheet1!A1``).
    Every other part is copied byte for byte; cell formulas are left as they
    are (a formula that refers into another workbook then shows ``#REF!``).
    """
    with zipfile.ZipFile(src) as zin:
        names = zin.namelist()
        removed = [n for n in names if n.startswith(_EXTERNAL_LINKS_FOLDER)]
        workbook, workbook_rels = _workbook_part_names(zin)
        edits: dict[str, Callable[[Any], None]] = {}
        if removed:
            edits["[Content_Types].xml"] = lambda tree: _without(tree, lambda e: not (
                _local(e) == "Override"
                and e.get("PartName", "").lstrip("/").startswith(_EXTERNAL_LINKS_FOLDER)))
            edits[workbook_rels] = lambda tree: _without(tree, lambda e: not (
                _local(e) == "Relationship" and e.get("Type", "").endswith(_REL_EXTERNAL_LINK)))
            edits[workbook] = lambda tree: _without(
                tree, lambda e: _local(e) != "externalReferences" and not (
                    _local(e) == "definedName" and _EXTERNAL_REF.search(e.text or "")))
        _copy_package(zin, dst, removed, edits)
    return removed


_XLSM_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
_XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_VBA_CONTENT = "application/vnd.ms-office.vbaProject"
_VBA_FOLDER_PARTS = re.compile(r"^xl/(vbaProject|vbaData|_rels/vbaProject)")


def has_vba_project(path: str | os.PathLike[str]) -> bool:
    """True when a package holds a VBA project part (``xl/vbaProject.bin``)."""
    with zipfile.ZipFile(path) as zf:
        return any(_VBA_PARTS.match(n) for n in zf.namelist())


def copy_without_macros(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> list[str]:
    """Copy an ``.xlsm`` package as a macro-free ``.xlsx`` one; return the parts removed.

    Parameters
    ----------
    src : path-like
        A package that passed :func:`check_workbook_archive`.
    dst : path-like
        Where to write the copy (a new file).

    Returns
    -------
    list of str
        The removed parts (the VBA project, its signature, data and relationships).

    Raises
    ------
    UnsafeWorkbookError
        A part that has to be edited is not well-formed XML or declares a DTD.

    Notes
    -----
    Excel refuses an ``.xlsx`` whose workbook part has the macro-enabled content
    type or which carries a VBA project. Removed: the ``xl/vbaProject*`` and
    ``xl/vbaData*`` parts with their relationship parts, their content types
    (``Override`` and the ``bin`` default of the VBA type) and the workbook's
    relationship to them; the workbook part's content type becomes the plain
    spreadsheet one. Every other part is copied byte for byte.
    """
    with zipfile.ZipFile(src) as zin:
        names = zin.namelist()
        removed = [n for n in names if _VBA_FOLDER_PARTS.match(n)]
        _, workbook_rels = _workbook_part_names(zin)

        def content_types(tree: Any) -> None:
            _without(tree, lambda e: not (
                (_local(e) == "Override"
                 and _VBA_FOLDER_PARTS.match(e.get("PartName", "").lstrip("/")))
                or (_local(e) == "Default" and e.get("ContentType") == _VBA_CONTENT)))
            for element in tree.getroot():
                if element.get("ContentType") == _XLSM_MAIN:
                    element.set("ContentType", _XLSX_MAIN)

        _copy_package(zin, dst, removed, {
            "[Content_Types].xml": content_types,
            workbook_rels: lambda tree: _without(tree, lambda e: not (
                _local(e) == "Relationship" and e.get("Type", "").endswith("/vbaProject")))})
    return removed
