"""Cell-level reading and editing of worksheet parts in their common serialization.

A worksheet part (``xl/worksheets/sheetN.xml``) of a large book holds hundreds
of thousands of ``<c>`` elements. Parsing them into objects (openpyxl cells,
lxml elements) costs microseconds per cell; most of them are either plain
numbers or cells whose content is replaced anyway. :func:`scan_cells` finds
every cell of a part with one regular-expression pass over its bytes, and
:func:`splice` replaces byte ranges, so large parts are read and rewritten
without building a tree.

This only works for the serialization that Excel, LibreOffice and openpyxl
write: the SpreadsheetML namespace as the one default namespace, cells as
``<c r="B5" ...>`` with the reference first and attribute values in double
quotes, and no comments, CDATA sections or processing instructions among the
cells. :func:`scan_cells` checks this and returns ``None`` for any other part
(the callers then use their general, tree-based path); its check is that the
number of cells it matched equals the number of ``<c`` element starts in
``sheetData``, so no cell can be skipped or run into another.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from openpyxl.utils.cell import column_index_from_string

__all__ = ["ScannedCell", "attribute", "cell_at", "cell_data", "column_number", "scan_cells",
           "splice"]

_MAIN_NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"((?:\s+[A-Za-z_][\w.:-]*="[^"<>&]*")*)\s*'
    rb"(?:/>|>(.*?)</c>)", re.S)
_CELL_START = re.compile(rb"<c[\s/>]")
_ATTRIBUTE = re.compile(rb'\s+([A-Za-z_][\w.:-]*)="([^"]*)"')
_SHEET_DATA_START = re.compile(rb"<sheetData\s*(/?>)")
_UNUSUAL = (b"<!--", b"<![CDATA[", b"<?")


@functools.lru_cache(maxsize=4096)
def _column(letters: bytes) -> int:
    return column_index_from_string(letters.decode())


#: One ``<c>`` element: (start, end) byte range in the part, column letters and row
#: number as written in its ``r`` reference, the attributes after ``r`` as written
#: (e.g. ``b' s="3" t="n"'``), and the content between its tags (None for ``<c .../>``).
ScannedCell = tuple[int, int, bytes, bytes, bytes, bytes | None]


def column_number(letters: bytes) -> int:
    """The column number of column letters such as ``b"AB"`` (28)."""
    return _column(letters)


def attribute(attributes: bytes, name: bytes) -> bytes | None:
    """The value of attribute ``name`` in a cell's ``attributes``, or None."""
    if name not in attributes:  # the common case, cheaply
        return None
    for match in _ATTRIBUTE.finditer(attributes):
        if match.group(1) == name:
            return match.group(2)
    return None


def cell_data(data: bytes) -> tuple[int, int] | None:
    """Byte range of the content of ``sheetData`` when the part is in the common form.

    Parameters
    ----------
    data : bytes
        The worksheet part as stored in the package.

    Returns
    -------
    tuple of int or None
        (start, end) of the bytes between ``<sheetData>`` and ``</sheetData>``
        (an empty range for ``<sheetData/>``); None when the part uses another
        namespace layout, has several ``sheetData`` elements, or has comments,
        CDATA sections or processing instructions among its cells.
    """
    if data.count(b'xmlns="') != 1 or _MAIN_NS not in data[:4096]:
        return None
    if data.count(b"<sheetData") != 1:
        return None
    opening = _SHEET_DATA_START.search(data)
    if opening is None:
        return None
    start = opening.end()
    if opening.group(1) == b"/>":
        return start, start
    end = data.find(b"</sheetData>", start)
    if end < 0 or data.count(b"</sheetData") != 1:
        return None
    if any(data.find(marker, start, end) >= 0 for marker in _UNUSUAL):
        return None
    return start, end


def cell_at(data: bytes, start: int) -> ScannedCell | None:
    """The cell whose ``<c r="...`` starts at byte ``start``, or None if none matches there."""
    m = _CELL.match(data, start)
    return None if m is None else (m.start(), m.end(), *m.groups())


def scan_cells(data: bytes, body: tuple[int, int] | None = None) -> list[ScannedCell] | None:
    """Every ``<c>`` of a worksheet part, or None when the part is not in the common form.

    Parameters
    ----------
    data : bytes
        The worksheet part as stored in the package.
    body : tuple of int, optional
        What :func:`cell_data` gives for ``data``, when the caller has it.

    Returns
    -------
    list of ScannedCell or None
        The cells in document order (tuples, see :data:`ScannedCell`); None
        when :func:`cell_data` finds the part unusual or a cell is one this
        scanner does not match exactly.
    """
    body = body or cell_data(data)
    if body is None:
        return None
    start, end = body
    cells = [(m.start(), m.end(), *m.groups()) for m in _CELL.finditer(data, start, end)]
    if len(cells) != len(_CELL_START.findall(data, start, end)):
        return None
    return cells


def splice(data: bytes, edits: Iterable[tuple[int, int, bytes]]) -> bytes:
    """``data`` with each ``(start, end, replacement)`` byte range replaced.

    The ranges must be in increasing order and must not overlap.
    """
    pieces = []
    position = 0
    for start, end, replacement in edits:
        if start < position:
            raise ValueError("edits must be in increasing order and must not overlap")
        pieces.append(data[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(data[position:])
    return b"".join(pieces)
