"""The template's large blocks written straight into the saved sheets.

A fresh book of 200 holdings and 2,000 days has about 810,000 cells in two blocks: the
prices on ``Benchmark`` and the rolling betas' CSE arrays on ``Rolling``. Made as
openpyxl cells, they are most of the time and memory of building and saving the book
(about 360 bytes and several microseconds per cell). Every row of such a block after the
first is alike: the same styles, a price or nothing, a formula that moves with the row.

So :func:`~betaneutral.workbook.template.build_workbook` can leave those rows out of the
workbook (``apart=BulkRows()``) and describe them here instead; once openpyxl has saved
the workbook, :func:`write_bulk_rows` writes them into the saved sheets as openpyxl
itself writes them: the same elements, attributes, number text (``%.16g``) and style
indices (those of the first row's cells, which openpyxl wrote). The package is then the
one a full build saves, part for part (``tests/test_bulk_rows.py`` compares them).
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from openpyxl import Workbook
from openpyxl.utils import get_column_letter, range_boundaries

__all__ = ["BulkColumn", "BulkRows", "write_bulk_rows"]


@dataclass(frozen=True)
class BulkColumn:
    """One column of a block's rows.

    Attributes
    ----------
    column : int
        Its column number (1 = A).
    like : openpyxl cell
        The cell of the first row, whose style every row shares.
    values : sequence of float, optional
        One number per row (NaN: the cell is empty, styled).
    formula : callable, optional
        The formula (with ``=``) of a row number.
    """

    column: int
    like: Any
    values: Sequence[float] | None = None
    formula: Callable[[int], str] | None = None


@dataclass
class BulkRows:
    """The rows left out of openpyxl, by sheet: ``(first row, last row, columns)``."""

    blocks: dict[str, list[tuple[int, int, list[BulkColumn]]]] = field(default_factory=dict)
    #: The whole price block (dates x assets, NaN for a blank) when its rows are apart.
    prices: Any = None

    def add(self, sheet: str, first: int, last: int, columns: Sequence[BulkColumn]) -> None:
        """Rows ``first..last`` of ``sheet`` hold ``columns`` (nothing when first > last)."""
        if first <= last and columns:
            self.blocks.setdefault(sheet, []).append((first, last, list(columns)))


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _row_cells(blocks: list[tuple[int, int, list[BulkColumn]]],
               styles: dict[int, str]) -> Callable[[int], str]:
    """The ``<c>`` elements a row number gets (columns in order), as openpyxl writes them."""
    columns = sorted(((first, last, col) for first, last, cols in blocks for col in cols),
                     key=lambda item: item[2].column)
    letters = [get_column_letter(col.column) for _, _, col in columns]

    def cells(row: int) -> str:
        out = []
        for (first, last, col), letter in zip(columns, letters, strict=True):
            if not first <= row <= last:
                continue
            head = f'<c r="{letter}{row}" s="{styles[id(col)]}"'
            if col.formula is not None:
                out.append(f"{head}><f>{_text(col.formula(row)[1:])}</f><v></v></c>")
                continue
            value = None if col.values is None else col.values[row - first]
            if value is None or value != value:  # None or NaN: an empty, styled cell
                out.append(f'{head} t="n"></c>')
            else:
                # openpyxl's own number format (compat.strings.safe_string)
                out.append(f'{head} t="n"><v>{"%.16g" % value}</v></c>')  # noqa: UP031
        return "".join(out)

    ranges = {(first, last) for first, last, _ in columns}
    if len(ranges) != 1:
        return cells
    # Every column spans the same rows (as the template's blocks do): one format string per
    # row, its numbers formatted by the % operator, and the cell by cell way for a row with
    # a blank price.
    ((first, last),) = ranges
    parts: list[str] = []
    slots: list[int | BulkColumn] = []  # per % field: a value column's index, or a formula
    n_values = 0
    for (_, _, col), letter in zip(columns, letters, strict=True):
        head = f'<c r="{letter}\0" s="{styles[id(col)]}"'
        if col.formula is not None:
            parts.append(f"{head}><f>%s</f><v></v></c>")
            slots.append(col)
        elif col.values is not None:
            parts.append(f'{head} t="n"><v>%.16g</v></c>')
            slots.append(n_values)
            n_values += 1
        else:
            parts.append(f'{head} t="n"></c>')
    template = "".join(parts)
    value_columns = [col.values for _, _, col in columns if col.formula is None
                     and col.values is not None]
    matrix = (np.column_stack([np.asarray(v, dtype=float) for v in value_columns])
              if value_columns else np.empty((last - first + 1, 0)))
    blank = np.isnan(matrix).any(axis=1).tolist()
    rows = matrix.tolist()

    def fast(row: int) -> str:
        i = row - first
        if blank[i]:
            return cells(row)
        values = rows[i]
        text = template % tuple(
            values[slot] if isinstance(slot, int) else _text(slot.formula(row)[1:])
            for slot in slots)
        return text.replace("\0", str(row))

    return fast


_ROW = re.compile(r'<row r="([0-9]+)"[^>]*?(/?)>')
_DIMENSION = re.compile(r'<dimension ref="([A-Z]+[0-9]+)(?::([A-Z]+[0-9]+))?"/>')
_LAST_CELL = re.compile(r'<c r="([A-Z]+)[0-9]+"(?:(?!<c ).)*$', re.S)


def _spliced(xml: str, blocks: list[tuple[int, int, list[BulkColumn]]],
             styles: dict[int, str]) -> str:
    """The sheet part ``xml`` with the blocks' cells written into their rows.

    A row openpyxl wrote (the dates on ``Benchmark``) gets the cells after its own,
    which must all lie left of the blocks; a row it did not write is inserted in order.
    The ``dimension`` element is widened to the blocks, as openpyxl computes it.
    """
    first = min(b[0] for b in blocks)
    last = max(b[1] for b in blocks)
    left = min(col.column for b in blocks for col in b[2])
    right = max(col.column for b in blocks for col in b[2])
    cells = _row_cells(blocks, styles)
    start = xml.index("<sheetData>") + len("<sheetData>")
    end = xml.index("</sheetData>", start)
    out: list[str] = []
    pos = 0  # xml[:pos] is in out
    row = first  # the next block row to write
    for match in _ROW.finditer(xml, start, end):
        number = int(match.group(1))
        if number < first:
            continue
        if row < number and row <= last:  # rows openpyxl did not write: before this one
            out.append(xml[pos:match.start()])
            pos = match.start()
            while row < number and row <= last:
                out.append(f'<row r="{row}">{cells(row)}</row>')
                row += 1
        if number > last:
            break
        if match.group(2):
            raise RuntimeError(f"row {number} of a bulk block is an empty element")
        close = xml.index("</row>", match.end())
        tail = _LAST_CELL.search(xml, match.end(), close)
        if tail and range_boundaries(f"{tail.group(1)}1")[0] >= left:
            raise RuntimeError(f"row {number} has cells right of a bulk block's first column")
        out.append(xml[pos:close])
        out.append(cells(number))
        pos = close
        row = number + 1
    if row <= last:  # no row after the blocks: the rest goes at the end of sheetData
        out.append(xml[pos:end])
        pos = end
        while row <= last:
            out.append(f'<row r="{row}">{cells(row)}</row>')
            row += 1
    out.append(xml[pos:])

    def widened(match: re.Match[str]) -> str:
        ref = match.group(1) + (":" + match.group(2) if match.group(2) else "")
        c1, r1, c2, r2 = range_boundaries(ref)
        return (f'<dimension ref="{get_column_letter(min(c1, left))}{min(r1, first)}:'
                f'{get_column_letter(max(c2, right))}{max(r2, last)}"/>')

    return _DIMENSION.sub(widened, "".join(out), count=1)


def write_bulk_rows(src: str | os.PathLike[str], dst: str | os.PathLike[str], wb: Workbook,
                    apart: BulkRows) -> None:
    """Write ``src``, the file ``wb.save`` just wrote, to ``dst`` with the rows ``apart``
    describes.

    Parameters
    ----------
    src : path-like
        The package openpyxl saved from ``wb``.
    dst : path-like
        The package to write (a new file; the caller's temporary folder).
    wb : openpyxl.Workbook
        The workbook saved: the style index of each column's first cell comes from it.
    apart : BulkRows
        The rows left out of ``wb``.
    """
    parts: dict[str, tuple[list[tuple[int, int, list[BulkColumn]]], dict[int, str]]] = {}
    for sheet, blocks in apart.blocks.items():
        styles = {id(col): str(col.like.style_id) for _, _, cols in blocks for col in cols}
        parts[wb[sheet].path.lstrip("/")] = (blocks, styles)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            level = None  # as zipfile compresses by default
            if info.filename in parts:
                blocks, styles = parts[info.filename]
                data = _spliced(data.decode("utf-8"), blocks, styles).encode("utf-8")
                level = 1  # about three times faster on a large sheet, a little larger
            zout.writestr(info, data, compresslevel=level)
