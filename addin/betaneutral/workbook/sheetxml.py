"""Cell-level reading and editing of worksheet parts in their common serialization.

A worksheet part (``xl/worksheets/sheetN.xml``) of a large book holds hundreds
of thousands of ``<c>`` elements. Parsing them into objects (openpyxl cells,
lxml elements) costs microseconds per cell; most of them are either plain
numbers or cells whose content is replaced anyway. :func:`iter_cells` finds
the cells of a part with one regular-expression pass over its bytes, and a
:class:`Splicer` builds a copy with some byte ranges replaced, so large parts
are read and rewritten without building a tree.

This only works for the serialization that Excel, LibreOffice and openpyxl
write: UTF-8, the SpreadsheetML namespace as the one default namespace, cells
as ``<c r="B5" ...>`` with the reference first and attribute values in double
quotes, and no comments, CDATA sections or processing instructions among the
cells. :func:`cell_data` checks the part and returns ``None`` for any other
(the callers then use their general, tree-based path); a caller of
:func:`iter_cells` compares the number of cells it saw with
:func:`count_cells`, the number of ``<c`` element starts in ``sheetData``, so
that no cell can be skipped or run into another.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any

from openpyxl.utils import range_boundaries
from openpyxl.utils.cell import column_index_from_string

__all__ = ["ROW_TAG", "ScannedCell", "Splicer", "array_range", "cell_at", "cell_data",
           "column_number", "column_spans", "count_cells", "iter_cells"]

_MAIN_NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
#: A cell's start tag: column letters, row, the attributes after ``r``.
_CELL_TAG = rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"((?:\s+[A-Za-z_][\w.:-]*="[^"<>&]*")*)\s*'
_CELL = re.compile(_CELL_TAG + rb"(?:/>|>(.*?)</c>)", re.S)
#: The same cells, with the text of a lone ``<v>`` apart: (letters, row, attributes,
#: value text or None, other content or None).
_VALUE_CELL = re.compile(_CELL_TAG + rb"(?:/>|>(?:<v>([^<&]*)</v></c>|(.*?)</c>))", re.S)
_CELL_START = re.compile(rb"<c[\s/>]")
_TAG_ATTRIBUTE = re.compile(rb"""([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_DECLARATION = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_AFTER_NAME = (b" ", b"\t", b"\n", b"\r", b"/", b">")
_SHEET_DATA_START = re.compile(rb"<sheetData\s*(/?>)")
#: A row's start tag (``<row r="5" ...>`` or an empty ``<row r="5"/>``): its number.
ROW_TAG = re.compile(rb'<row r="([1-9][0-9]{0,6})"[^<>]*?>')
_UNUSUAL = (b"<!--", b"<![CDATA[", b"<?")


#: One ``<c>`` element: (start, end) byte range in the part, column letters and row
#: number as written in its ``r`` reference, the attributes after ``r`` as written
#: (e.g. ``b' s="3" t="n"'``), and the content between its tags (None for ``<c .../>``).
ScannedCell = tuple[int, int, bytes, bytes, bytes, bytes | None]


@functools.lru_cache(maxsize=4096)
def column_number(letters: bytes) -> int:
    """The column number of column letters such as ``b"AB"`` (28)."""
    return column_index_from_string(letters.decode())


def column_spans(ranges: Iterable[tuple[int, int, int, int]]
                 ) -> tuple[dict[int, list[tuple[int, int]]], dict[int, tuple[int, int]]]:
    """Where the cells of some ranges are, column by column.

    Parameters
    ----------
    ranges : iterable of tuple of int
        (first col, first row, last col, last row) of each range.

    Returns
    -------
    tuple of dict
        Column -> (first row, last row) of each range over it; and the same for
        the columns under exactly one range (the usual case), which a caller can
        check with one comparison.
    """
    by_column: dict[int, list[tuple[int, int]]] = {}
    for c1, r1, c2, r2 in ranges:
        for col in range(c1, c2 + 1):
            by_column.setdefault(col, []).append((r1, r2))
    single = {col: spans[0] for col, spans in by_column.items() if len(spans) == 1}
    return by_column, single


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


def array_range(attributes: bytes) -> tuple[int, int, int, int] | None:
    """The range of an array formula, from the attributes of its ``<f>`` start tag.

    Returns
    -------
    tuple of int or None
        (first col, first row, last col, last row); None for a formula that is not
        an array formula, or one without a range (``ref`` absent or empty).

    Raises
    ------
    ValueError
        The attributes are written with character references (only an XML parser
        reads them right), or the range is not a block of cells (``"B2:"``,
        ``"A:A"``).
    """
    if b"&" in attributes:
        raise ValueError("the formula's attributes are written with references")
    attrs = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
             for m in _TAG_ATTRIBUTE.finditer(attributes)}
    if attrs.get(b"t") != b"array" or not attrs.get(b"ref"):
        return None
    bounds = range_boundaries(attrs[b"ref"].decode())
    if None in bounds:
        raise ValueError(f"an array range must be a block of cells, got {attrs[b'ref']!r}")
    return bounds  # type: ignore[return-value]


def count_cells(data: bytes, body: tuple[int, int]) -> int:
    """The number of ``<c`` element starts in ``body`` (a :func:`cell_data` range)."""
    start, end = body
    starts = data.count(b"<c", start, end)
    if data.count(b'<c r="', start, end) == starts:  # each "<c" starts a cell: two passes
        return starts
    return sum(data.count(b"<c" + after, start, end) for after in _AFTER_NAME)


def iter_cells(data: bytes, body: tuple[int, int],
               *, values: bool = False) -> Iterator[Any]:
    """The cells of ``body`` (a :func:`cell_data` range) one by one, in document order.

    Parameters
    ----------
    data : bytes
        The worksheet part.
    body : tuple of int
        What :func:`cell_data` gives for ``data``.
    values : bool, default False
        Give a cell's lone ``<v>`` apart from other content.

    Yields
    ------
    tuple
        :data:`ScannedCell` tuples; with ``values=True``, ``(start, end, letters,
        row, attributes, value, inner)``, where ``value`` is the text of a cell
        whose whole content is one ``<v>`` (``inner`` is then None), and otherwise
        None with ``inner`` the content (None for ``<c .../>``).

    Notes
    -----
    A cell this pattern does not match is skipped, not reported: a caller that
    relies on seeing every cell compares the number it saw with
    :func:`count_cells`.
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

    def replace(self, start: int, end: int, replacement: Any) -> None:
        """Replace ``data[start:end]`` (after every range replaced so far) by
        ``replacement``: bytes, or an object that gives them (``bytes(replacement)``)."""
        if start < self._position:
            raise ValueError("edits must be in increasing order and must not overlap")
        self._out += self._data[self._position:start]
        self._out += replacement if type(replacement) is bytes else bytes(replacement)
        self._position = end

    def result(self) -> bytes:
        """The copy: the replacements and the bytes between them."""
        self._out += self._data[self._position:]
        self._position = len(self._data)
        out, self._out = self._out, bytearray()
        return bytes(out)
