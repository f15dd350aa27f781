"""Load a BetaNeutral workbook for computing, leaving its bulk cells out of openpyxl.

openpyxl makes one Python object per cell, which is most of the time and memory
of loading a large book (a 200-holding, 2,000-day book has about 810,000 cells).
Two kinds of cells need no such object to compute the book:

* the cells of the price block (the ``PriceBlock`` name): when they are all plain
  numbers or blanks, :func:`load_book` reads them straight from the worksheet
  part into an array of floats, which :func:`~betaneutral.workbook.inputs.read_inputs`
  then uses (:func:`price_block`);
* the cells of a CSE array range other than its first cell (the rolling betas):
  they hold only the range's cached values, which computing replaces.

openpyxl then loads the package without those cells. Everything else (formulas,
settings, holdings, styles, names) is read by openpyxl as before. The workbook
returned is therefore *partial*: it is meant for reading and computing, never for
saving (nothing in the package saves a workbook loaded from a user's file).

The shortcut is taken only when it gives exactly what the full load gives. When
a worksheet part is not in the common serialization
(:func:`~betaneutral.workbook.sheetxml.cell_data`), the price block has a cell that
is not a plain positive number or a blank (text, a formula, a date format, a
rich value, anything unusual), or the reduced package does not load, the book is
loaded in full by :func:`betaneutral.archive.open_workbook` and every message
about a bad cell is the one the full load gives.
"""

from __future__ import annotations

import io
import math
import os
import re
import weakref
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from lxml import etree
from openpyxl import Workbook
from openpyxl.utils import range_boundaries

from betaneutral.archive import (
    UnsafeWorkbookError,
    check_workbook_archive,
    check_xml_sizes,
    open_workbook,
)
from betaneutral.errors import BetaNeutralError
from betaneutral.workbook.cache import package_tables, parse_part, sheet_parts, workbook_part
from betaneutral.workbook.names import TableArea, structured_range
from betaneutral.workbook.sheetxml import (
    ROW_TAG,
    Splicer,
    array_range,
    cell_data,
    column_number,
    column_spans,
    count_cells,
    iter_cells,
)

__all__ = ["PriceBlock", "keep_price_block", "load_book", "price_block"]

_NAME_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([A-Za-z_][\w.]*))!"
                       r"(\$?[A-Z]{1,3}\$?[1-9][0-9]*(?::\$?[A-Z]{1,3}\$?[1-9][0-9]*)?)$")
_UNSEEN = b"?"
_CACHED = re.compile(rb"(?:<v>[^<&]*</v>|<v/>|<v></v>)?")
_PLAIN_ATTRIBUTES = re.compile(rb'(?:\s+s="[0-9]+"|\s+t="n")*')
_ARRAY_FORMULA = re.compile(rb"<f\s([^<>]*)>")
_STYLE = re.compile(rb'\ss="([0-9]+)"')


@dataclass(frozen=True)
class PriceBlock:
    """The price block as :func:`load_book` read it.

    Attributes
    ----------
    sheet : str
        Sheet of the ``PriceBlock`` name.
    ref : str
        Its range without ``$`` (e.g. ``"B2:GT2001"``).
    values : numpy.ndarray
        Dates x assets, in USD; NaN where a cell is blank. Every other value
        is finite and > 0.
    """

    sheet: str
    ref: str
    values: np.ndarray


_PRICE_BLOCKS: weakref.WeakKeyDictionary[Workbook, PriceBlock] = weakref.WeakKeyDictionary()


def price_block(wb: Workbook) -> PriceBlock | None:
    """The price block :func:`load_book` read for ``wb``, or None (read it from the cells)."""
    return _PRICE_BLOCKS.get(wb)


def keep_price_block(wb: Workbook, block: PriceBlock) -> None:
    """Give ``wb`` the price block :func:`price_block` returns: for a workbook built
    without those cells (``betaneutral fill`` writes them straight into the saved file),
    whose values ``block`` holds (every value > 0, or NaN for a blank)."""
    _PRICE_BLOCKS[wb] = block


Rect = tuple[int, int, int, int]  # first col, first row, last col, last row


def _defined_ranges(zf: zipfile.ZipFile, wb_part: str, tables: dict[str, TableArea]
                    ) -> dict[str, tuple[str, str, Rect]] | None:
    """Workbook-wide name -> (sheet, range, its bounds) of each single-range defined name
    (a structured reference to one of ``tables`` resolved to its range).

    Names scoped to one sheet are left aside: the workbook's readers use
    workbook-wide names only. None when a name is defined twice or refers to cells
    in another way (whole rows or columns, several ranges, a formula), which is
    not followed.
    """
    root = parse_part(zf.read(wb_part), wb_part).getroot()
    out: dict[str, tuple[str, str, Rect]] = {}
    for el in root.iter():
        if (not isinstance(el.tag, str) or etree.QName(el).localname != "definedName"
                or el.get("localSheetId") is not None):
            continue
        if el.get("name") in out:
            return None
        text = (el.text or "").strip()
        match = _NAME_REF.match(text)
        structured = structured_range(text, tables) if match is None else None
        if structured is not None:
            out[el.get("name", "")] = (structured[0], structured[1],
                                       range_boundaries(structured[1]))
            continue
        if match is None:
            if "!" in text:  # whole rows or columns, several ranges, a formula
                return None
            continue  # a constant
        sheet = match.group(1).replace("''", "'") if match.group(1) else match.group(2)
        ref = match.group(3).replace("$", "")
        out[el.get("name", "")] = (sheet, ref, range_boundaries(ref))
    return out


def _overlaps(a: Rect, b: Rect) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])


def _alone(names: dict[str, tuple[str, str, Rect]], name: str, inside: set[str]
           ) -> tuple[str, str, Rect] | None:
    """The range of ``name`` when no other name (but those in ``inside``) meets it.

    A cell left out of openpyxl must not be one that any other name reads.
    """
    found = names.get(name)
    if found is None:
        return None
    sheet, _, rect = found
    for other, (other_sheet, _, other_rect) in names.items():
        if (other != name and other not in inside and other_sheet == sheet
                and _overlaps(rect, other_rect)):
            return None
    return found


def _array_ranges(data: bytes, body: tuple[int, int]) -> list[Rect] | None:
    """(first col, first row, last col, last row) of each CSE array range of a sheet;
    None when a formula's attributes are written with references or its range is not
    a block of cells."""
    out = []
    for match in _ARRAY_FORMULA.finditer(data, *body):
        try:
            bounds = array_range(match.group(1))
        except ValueError:
            return None
        if bounds is not None:
            out.append(bounds)
    return out


def _reduce_sheet(data: bytes, block: Rect | None, area: Rect | None = None
                  ) -> tuple[bytes, np.ndarray | None, list[tuple[int, int]]] | None:
    """The part without the price-block cells (``block``) and the cells of array ranges
    inside ``area`` other than their first, or None when the part is unusual.

    Returns the reduced part, the price block's values (None when ``block`` is
    None or one of its cells is not a plain number > 0 or blank: the block then
    stays in the part) and the price cells kept in the part, one per style.
    """
    body = cell_data(data)
    if body is None:
        return None
    ranges = _array_ranges(data, body)
    if ranges is None:
        return None
    by_column, single = column_spans(  # only the ranges inside the area
        (rc1, rr1, rc2, rr2) for rc1, rr1, rc2, rr2 in ranges if area is not None
        and area[0] <= rc1 and rc2 <= area[2] and area[1] <= rr1 and rr2 <= area[3])
    if block is None and not by_column:
        return data, None, []  # nothing to leave out
    c1, r1, c2, r2 = block if block is not None else (0, 0, -1, -1)
    width = c2 - c1 + 1
    size = width * (r2 - r1 + 1)
    flat = [math.nan] * size  # the block, row by row
    filled = bytearray(size)
    edits: list[tuple[int, int]] = []  # byte ranges to remove
    kept: dict[bytes, tuple[int, int]] = {}  # style -> the price cell kept for it
    plain_attributes: dict[bytes, bytes | None] = {}  # attributes -> style, None if not plain
    rows = _Rows(data, body, (c1, r1, c2, r2), by_column, single, flat, filled, kept,
                 plain_attributes)
    if rows.unusual:
        return _reduce_sheet(data, None, area)
    edits.extend(rows.edits)
    seen = rows.counted
    for start, end, letters, row_text, attributes, value, inner in rows.others():
        seen += 1
        row, col = int(row_text), column_number(letters)
        if r1 <= row <= r2 and c1 <= col <= c2:
            style = plain_attributes.get(attributes, _UNSEEN)
            if style is _UNSEEN:
                style = plain_attributes[attributes] = _plain_style(attributes)
            k = (row - r1) * width + col - c1
            if style is None or filled[k] or (value is None and inner):
                return _reduce_sheet(data, None, area)  # not plain (text, a formula, ...)
            filled[k] = 1
            if value is not None:
                try:
                    flat[k] = float(value)
                except ValueError:
                    return _reduce_sheet(data, None, area)
                if style not in kept:  # stays: openpyxl's value shows what the style does
                    kept[style] = (row, col)
                    continue
            edits.append((start, end))
            continue
        if not by_column or (inner is not None and b"<f" in inner):
            continue
        span = single.get(col)
        if span is not None:
            if not span[0] <= row <= span[1]:
                continue
        elif not any(rr1 <= row <= rr2 for rr1, rr2 in by_column.get(col, ())):
            continue
        if not inner or _CACHED.fullmatch(inner):  # at most a cached value
            edits.append((start, end))
    if seen != count_cells(data, body):
        return None  # a cell the scanner did not match: the part is unusual
    edits.sort()
    out = Splicer(data)
    for start, end in edits:
        out.replace(start, end, b"")
    if block is None:
        return out.result(), None, []
    values = np.array(flat, dtype=np.float64).reshape(r2 - r1 + 1, width)
    present = values[~np.isnan(values)]
    if not (np.isfinite(present).all() and (present > 0).all()):
        return _reduce_sheet(data, None, area)  # the block is loaded and checked cell by cell
    return out.result(), values, list(kept.values())


#: A cell with at most a value (``<v>`` with text): the whole cell, its column letters,
#: its row, the attributes after ``r`` and the value text (empty for ``<c .../>``).
_VALUE_ONLY = re.compile(
    rb'(<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"((?:\s+[A-Za-z_][\w.:-]*="[^"<>&]*")*)\s*'
    rb"(?:/>|><v>([^<&]+)</v></c>))")
#: A cell with at most a cached value, as :data:`_CACHED` reads one.
_CACHED_ONLY = re.compile(
    rb'(<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"(?:\s+[A-Za-z_][\w.:-]*="[^"<>&]*")*\s*'
    rb"(?:/>|>(?:<v>[^<&]*</v>|<v/>|<v></v>)?</c>))")


#: Rows of at least this many array cells are matched against the previous row's shape.
_SHAPE_CELLS = 8


def _cached_row(letters: tuple[bytes, ...]) -> Any:
    """A pattern matching a whole row of cells with these column letters in this order,
    each as :data:`_CACHED_ONLY` reads one, all in the same row (group 1)."""
    cells = []
    for k, letter in enumerate(letters):
        row = rb"([1-9][0-9]{0,6})" if k == 0 else rb"\1"
        cells.append(rb'<c r="' + re.escape(letter) + row
                     + rb'"(?:\s+[A-Za-z_][\w.:-]*="[^"<>&]*")*\s*'
                     + rb"(?:/>|>(?:<v>[^<&]*</v>|<v/>|<v></v>)?</c>)")
    return re.compile(b"".join(cells))


class _Rows:
    """The rows of a part that :func:`_reduce_sheet` can handle whole, handled.

    Two kinds of row are done in one step instead of cell by cell: a row of the price
    block whose block cells are all plain numbers (or blanks) in styles already seen
    (their values go into ``flat``, the cells are removed), and a row made only of
    array cells other than the formula cells, each with at most a cached value (all
    removed). Any other row is left to the cell-by-cell loop (:meth:`others`), which
    gives the same result for these rows; ``unusual`` is set when a value does not
    read as a number (the block is then loaded by openpyxl).
    """

    def __init__(self, data: bytes, body: tuple[int, int], block: Rect,
                 by_column: dict[int, list[tuple[int, int]]],
                 single: dict[int, tuple[int, int]], flat: list[float], filled: bytearray,
                 kept: dict[bytes, tuple[int, int]],
                 plain_attributes: dict[bytes, bytes | None]) -> None:
        self.data, self.body = data, body
        self.edits: list[tuple[int, int]] = []
        self.done: list[tuple[int, int]] = []
        self.counted = 0
        self.unusual = False
        c1, r1, c2, r2 = block
        width = c2 - c1 + 1
        layouts: dict[tuple[bytes, ...], Any] = {}
        # (pattern, cells, first row, last row) of a row made only of array cells: the next
        # row is matched against it at once instead of being read cell by cell
        shapes: dict[tuple[bytes, ...], tuple[Any, int, int, int]] = {}
        shape: tuple[Any, int, int, int] | None = None
        pos, b1 = body
        while not self.unusual:
            tag = ROW_TAG.search(data, pos, b1)
            if tag is None:
                break
            start = pos = tag.end()
            if data[start - 2:start] == b"/>":
                continue
            end = data.find(b"</row>", start, b1)
            if end < 0:
                return
            row_text = tag.group(1)
            row = int(row_text)
            if r1 <= row <= r2:
                found = _VALUE_ONLY.findall(data, start, end)
                letters = tuple(cell[1] for cell in found)
                layout = layouts.get(letters, _UNSEEN)
                if layout is _UNSEEN:
                    layout = layouts[letters] = _price_layout(letters, block, by_column)
                if layout is None:
                    continue
                first, last, offset = layout  # the block cells: found[first:last]
                cells = found[first:last]
                run = self._run(cells, row_text, start, end)
                base = (row - r1) * width + offset
                if run is None or filled.find(1, base, base + len(cells)) >= 0:
                    continue
                styles = set()
                for attributes in {cell[3] for cell in cells}:
                    style = plain_attributes.get(attributes, _UNSEEN)
                    if style is _UNSEEN:
                        style = plain_attributes[attributes] = _plain_style(attributes)
                    styles.add(style)
                if None in styles:
                    continue  # not plain: cell by cell (which reads the block in openpyxl)
                try:
                    flat[base:base + len(cells)] = [float(cell[4]) if cell[4] else math.nan
                                                    for cell in cells]
                except ValueError:
                    self.unusual = True
                    return
                filled[base:base + len(cells)] = b"\x01" * len(cells)
                cut = run[0]
                if styles <= kept.keys():
                    self.edits.append(run)
                else:  # the first number of each style stays, for openpyxl to read
                    for i, cell in enumerate(cells):
                        style = plain_attributes[cell[3]]
                        if cell[4] and style not in kept:
                            kept[style] = (row, c1 + offset + i)
                        else:
                            self.edits.append((cut, cut + len(cell[0])))
                        cut += len(cell[0])
            elif by_column:
                match = shape[0].fullmatch(data, start, end) if shape is not None else None
                if (match is not None and match.group(1) == row_text
                        and shape[2] <= row <= shape[3]):
                    # the cells of the previous row, all array cells: the row, emptied
                    self.edits.append((start, end))
                    self.done.append((start, end))
                    self.counted += shape[1]
                    continue
                found = _CACHED_ONLY.findall(data, start, end)
                letters = tuple(cell[1] for cell in found)
                span = layouts.get(letters, _UNSEEN)
                if span is _UNSEEN:
                    span = layouts[letters] = _interior_layout(letters, by_column, single)
                if span is None or not span[2] <= row <= span[3]:
                    continue
                cells = found[span[0]:span[1]]
                run = self._run(cells, row_text, start, end)
                if run is None:
                    continue
                if run == (start, end) and len(cells) == len(found) >= _SHAPE_CELLS:
                    shape = shapes.get(letters)
                    if shape is None:
                        shape = shapes[letters] = (_cached_row(letters), len(letters),
                                                   span[2], span[3])
                self.edits.append(run)
            else:
                continue
            self.done.append(run)
            self.counted += len(cells)

    def _run(self, cells: list[tuple[bytes, ...]], row_text: bytes, start: int, end: int
             ) -> tuple[int, int] | None:
        """The byte range of ``cells`` in the row when they follow one another there,
        each with the row's number; else None."""
        if not all(cell[2] == row_text for cell in cells):
            return None
        text = b"".join(cell[0] for cell in cells)
        at = self.data.find(cells[0][0], start, end)
        if at < 0 or self.data[at:at + len(text)] != text:
            return None
        return at, at + len(text)

    def others(self) -> Iterator[Any]:
        """The cells of the rows not done, as ``iter_cells(..., values=True)`` gives them."""
        at, b1 = self.body
        for start, end in self.done:
            yield from iter_cells(self.data, (at, start), values=True)
            at = end
        yield from iter_cells(self.data, (at, b1), values=True)


def _price_layout(letters: tuple[bytes, ...], block: Rect,
                  by_column: dict[int, list[tuple[int, int]]]) -> tuple[int, int, int] | None:
    """Where the block cells are among a row's cells (first index, end index, column
    offset in the block), when they are consecutive columns and the other cells lie
    outside the block and outside array ranges; else None."""
    c1, _, c2, _ = block
    cols = [column_number(letter) for letter in letters]
    inside = [i for i, col in enumerate(cols) if c1 <= col <= c2]
    if not inside:
        return None
    first, last = inside[0], inside[-1] + 1
    if (last - first != len(inside) or cols[first:last] != list(range(cols[first],
                                                                     cols[first] + len(inside)))
            or any(col in by_column for col in cols[:first] + cols[last:])):
        return None
    return first, last, cols[first] - c1


def _interior_layout(letters: tuple[bytes, ...], by_column: dict[int, list[tuple[int, int]]],
                     single: dict[int, tuple[int, int]]
                     ) -> tuple[int, int, int, int] | None:
    """Where the array cells are among a row's cells: (first index, end index, first and
    last row where they are all non-first cells of a range), when the cells under array
    ranges are consecutive, each under exactly one range, and the others under none."""
    cols = [column_number(letter) for letter in letters]
    inside = [i for i, col in enumerate(cols) if col in by_column]
    if not inside or inside[-1] + 1 - inside[0] != len(inside):
        return None
    low, high = 0, 1 << 30
    for i in inside:
        span = single.get(cols[i])
        if span is None:
            return None
        low, high = max(low, span[0] + 1), min(high, span[1])
    return (inside[0], inside[-1] + 1, low, high) if low <= high else None


def _plain_style(attributes: bytes) -> bytes | None:
    """The style of a cell with only ``s`` and ``t="n"`` attributes (b"" if none), or None."""
    if not _PLAIN_ATTRIBUTES.fullmatch(attributes):
        return None
    style = _STYLE.search(attributes)
    return style.group(1) if style else b""


def _reduced_package(path: Path) -> tuple[bytes, PriceBlock | None, list[tuple[int, int]]
                                          ] | None:
    """The package without the cells openpyxl need not load, the price block, and the
    price cells kept in it for their style; None when nothing can be left out."""
    with zipfile.ZipFile(path) as zin:
        wb_part = workbook_part(zin)
        parts = sheet_parts(zin, wb_part)
        names = _defined_ranges(zin, wb_part, package_tables(zin, parts))
        if names is None:
            return None
        # the price columns BTCPrices and ETHPrices lie in the block by design
        block_name = _alone(names, "PriceBlock", {"BTCPrices", "ETHPrices"})
        block_part = parts.get(block_name[0]) if block_name else None
        block = block_name[2] if block_name else None
        rolling = _alone(names, "RollingBetas", set())
        rolling_part = parts.get(rolling[0]) if rolling else None
        sheet_of = {part: sheet for sheet, part in parts.items()}
        found: PriceBlock | None = None
        kept: list[tuple[int, int]] = []
        changed = False
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename in sheet_of:
                    reduced = _reduce_sheet(
                        data, block if info.filename == block_part else None,
                        rolling[2] if rolling and info.filename == rolling_part else None)
                    if reduced is not None and len(reduced[0]) < len(data):
                        data, values, kept_here = reduced
                        changed = True
                        if values is not None and block_name is not None:
                            found = PriceBlock(block_name[0], block_name[1], values)
                            kept = kept_here
                zout.writestr(info.filename, data)
    return (out.getvalue(), found, kept) if changed else None


def load_book(path: str | os.PathLike[str]) -> Workbook:
    """Open a user's workbook for reading and computing (archive checks, then openpyxl).

    Parameters
    ----------
    path : path-like
        The ``.xlsx`` or ``.xlsm`` file.

    Returns
    -------
    openpyxl.Workbook
        Loaded as :func:`betaneutral.archive.open_workbook` loads it, except that
        the non-first cells of CSE array ranges and, when it is plain, the price
        block are left out (module notes); :func:`price_block` then gives the
        prices. Not for saving.

    Raises
    ------
    betaneutral.archive.UnsafeWorkbookError
        As :func:`~betaneutral.archive.open_workbook`.
    """
    p = Path(path)
    check_workbook_archive(p, bulk_sheets=True)  # what openpyxl parses: open_workbook
    try:
        reduced = _reduced_package(p)
    except (zipfile.BadZipFile, etree.XMLSyntaxError, BetaNeutralError, OSError, KeyError,
            ValueError):
        reduced = None  # the full load reports what is wrong with the file
    if reduced is None:
        return open_workbook(p)
    package, prices, kept = reduced
    with zipfile.ZipFile(io.BytesIO(package)) as left:  # what openpyxl would parse
        check_xml_sizes(p.name, left.infolist())
    try:
        wb = open_workbook(p, package=package)
    except UnsafeWorkbookError:
        return open_workbook(p)
    if prices is not None:
        from betaneutral.workbook.names import name_destinations

        try:
            same = name_destinations(wb, ["PriceBlock"])["PriceBlock"] == (prices.sheet,
                                                                          prices.ref)
        except BetaNeutralError:
            same = False
        ws = wb[prices.sheet] if same else None
        # A style that shows numbers as dates makes openpyxl read them as dates, which
        # the price check refuses: the kept cells show what openpyxl makes of each style.
        if ws is None or any(type(ws.cell(row=r, column=c).value) not in (int, float)
                             for r, c in kept):
            return open_workbook(p)
        _PRICE_BLOCKS[wb] = prices
    return wb
