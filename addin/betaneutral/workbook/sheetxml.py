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
from collections.abc import Iterable, Iterator
from typing import Any

from openpyxl.utils.cell import column_index_from_string

__all__ = ["ScannedCell", "Splicer", "attribute", "cell_at", "cell_data", "column_number",
           "count_cells", "iter_cells", "scan_cells", "scan_value_cells", "splice"]

_MAIN_NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"((?:\s+[A-Za-z_][\w.:-]*="[^"<>&]*")*)\s*'
    rb"(?:/>|>(.*?)</c>)", re.S)
#: The same cells, with the text of a lone ``<v>`` apart: (letters, row, attributes,
#: value text or None, other content or None).
_VALUE_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"((?:\s+[A-Za-z_][\w.:-]*="[^"<>&]*")*)\s*'
    rb"(?:/>|>(?:<v>([^<&]*)</v></c>|(.*?)</c>))", re.S)
_CELL_START = re.compile(rb"<c[\s/>]")
_DECLARATION = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_AFTER_NAME = (b" ", b"\t", b"\n", b"\r", b"/", b">")
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
        namespace layout or an encoding other than UTF-8, has several
        ``sheetData`` elements, or has comments, CDATA sections or processing
        instructions among its cells.
    """
    if data.count(b'xmlns="') != 1 or _MAIN_NS not in data[:4096]:
        return None
    declaration = _DECLARATION.match(data)
    if declaration is not None and declaration.group(1).upper() not in (b"UTF-8", b"UTF8"):
        return None  # bytes inserted as UTF-8 would be read in another encoding
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


def scan_value_cells(data: bytes) -> list[tuple[int, int, bytes, bytes, bytes,
                                               bytes | None, bytes | None]] | None:
    """As :func:`scan_cells`, with a cell's lone ``<v>`` apart from other content.

    Returns
    -------
    list of tuple or None
        ``(start, end, letters, row, attributes, value, inner)``: ``value`` is the
        text of a cell whose whole content is one ``<v>`` (``inner`` is then None);
        otherwise ``value`` is None and ``inner`` the content (None for ``<c .../>``,
        ``b""`` for ``<c ...></c>``). None when the part is unusual, as there.
    """
    body = cell_data(data)
    if body is None:
        return None
    start, end = body
    cells = [(m.start(), m.end(), *m.groups())
             for m in _VALUE_CELL.finditer(data, start, end)]
    if len(cells) != len(_CELL_START.findall(data, start, end)):
        return None
    return cells


def count_cells(data: bytes, body: tuple[int, int]) -> int:
    """The number of ``<c`` element starts in ``body`` (a :func:`cell_data` range)."""
    start, end = body
    return sum(data.count(b"<c" + after, start, end) for after in _AFTER_NAME)


def iter_cells(data: bytes, body: tuple[int, int],
               *, values: bool = False) -> Iterator[Any]:
    """The cells of ``body`` (a :func:`cell_data` range) one by one, as :func:`scan_cells`
    (``values=True``: as :func:`scan_value_cells`) lists them.

    Unlike those, this does not check that every cell was matched: a caller that
    relies on it compares the number of cells it saw with :func:`count_cells`.
    """
    pattern = _VALUE_CELL if values else _CELL
    for m in pattern.finditer(data, *body):
        yield (m.start(), m.end(), *m.groups())


class Splicer:
    """Builds a copy of ``data`` with byte ranges replaced, given in increasing order."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._out = bytearray()
        self._position = 0

    def replace(self, start: int, end: int, replacement: bytes) -> None:
        """Replace ``data[start:end]`` (after every range replaced so far)."""
        if start < self._position:
            raise ValueError("edits must be in increasing order and must not overlap")
        self._out += self._data[self._position:start]
        self._out += replacement
        self._position = end

    def result(self) -> bytes:
        """The copy: the replacements and the bytes between them."""
        return bytes(self._out + self._data[self._position:])


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
