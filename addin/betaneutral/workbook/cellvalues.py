"""The computed values of a book: single cells by key, generated blocks as arrays.

A book's formula cells are mostly one block: the rolling betas, a column of
2,000 daily values per holding (400,000 cells for 200 holdings). Kept as
``(sheet, coordinate) -> value`` entries they cost about 300 bytes each; kept as
a float array they cost 8. :class:`CellValues` is the mapping
:func:`betaneutral.workbook.model.compute_values` returns: it answers
``values[(sheet, coordinate)]``, ``in``, ``len``, ``items()`` for every cell as a
dict of the same cells would (the same keys, values of the same types), and
holds its blocks as :class:`Block` arrays, which the writer
(:func:`betaneutral.workbook.cache.write_cached_values`) takes row by row.
"""

from __future__ import annotations

import functools
import re
from collections.abc import ItemsView, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import column_index_from_string

__all__ = ["Block", "CellValues", "SheetValues"]

CellValue = float | int | bool | str
CellKey = tuple[str, str]
_ABSENT: Any = object()
_COORDINATE = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})\Z")


@functools.lru_cache(maxsize=4096)
def _column(letters: str) -> int:
    return column_index_from_string(letters)


def _position(coordinate: str) -> tuple[int, int] | None:
    """(row, column) of a plain reference (``B5``); None for any other spelling (a dict
    keyed by plain references has no entry for ``$B$5`` or ``b5`` either)."""
    match = _COORDINATE.match(coordinate)
    if match is None:
        return None
    return int(match.group(2)), _column(match.group(1))


class Block:
    """A rectangle of computed cells on one sheet, as an array.

    Parameters
    ----------
    sheet : str
        The sheet.
    first_row, first_col : int
        The top-left cell (1-based row and column).
    numbers : numpy.ndarray
        2-D float array: each cell's value when it is a finite ``float``, NaN otherwise.
    others : dict
        ``(i, j) -> value`` (0-based offsets in the block) for every cell whose value
        is not a finite float: an error code, a text, a boolean or an int.
    """

    __slots__ = ("first_col", "first_row", "numbers", "other_rows", "others", "sheet")

    def __init__(self, sheet: str, first_row: int, first_col: int, numbers: np.ndarray,
                 others: dict[tuple[int, int], CellValue]) -> None:
        if numbers.ndim != 2:
            raise ValueError(f"a block's numbers must be 2-D, got shape {numbers.shape}")
        not_finite = np.argwhere(~np.isfinite(numbers)).tolist()
        if len(not_finite) > len(others) or any(tuple(at) not in others for at in not_finite):
            raise ValueError("a block's numbers must be finite where no other value is given")
        self.sheet, self.first_row, self.first_col = sheet, first_row, first_col
        self.numbers = numbers
        self.others = others
        self.other_rows = frozenset(i for i, _ in others)

    @property
    def size(self) -> int:
        return int(self.numbers.size)

    def offsets(self, row: int, col: int) -> tuple[int, int] | None:
        """(i, j) of the cell at ``row``, ``col`` in the block, or None when outside."""
        i, j = row - self.first_row, col - self.first_col
        n_rows, n_cols = self.numbers.shape
        return (i, j) if 0 <= i < n_rows and 0 <= j < n_cols else None

    def value(self, i: int, j: int) -> CellValue:
        """The value at offsets ``i``, ``j``."""
        if i in self.other_rows and (i, j) in self.others:
            return self.others[i, j]
        return self.numbers.item(i, j)

    def row(self, i: int, j0: int, j1: int) -> list[CellValue]:
        """The values of row ``i``, columns ``j0`` to ``j1 - 1`` (offsets)."""
        values: list[CellValue] = self.numbers[i, j0:j1].tolist()
        if i in self.other_rows:
            others = self.others
            for j in range(j0, j1):
                if (i, j) in others:
                    values[j - j0] = others[i, j]
        return values

    def items(self) -> Iterator[tuple[CellKey, CellValue]]:
        """Every cell and its value, row by row."""
        sheet = self.sheet
        letters = [get_column_letter(self.first_col + j) for j in range(self.numbers.shape[1])]
        for i in range(self.numbers.shape[0]):
            text = str(self.first_row + i)
            values = self.row(i, 0, len(letters))
            yield from zip([(sheet, letter + text) for letter in letters], values, strict=True)


class CellValues(Mapping[CellKey, CellValue]):
    """``(sheet, coordinate) -> value`` for every computed cell; blocks held as arrays.

    Parameters
    ----------
    cells : dict
        The cells kept one by one.
    blocks : sequence of Block
        Blocks of cells; no block cell may also be in ``cells`` or in another block.
    """

    def __init__(self, cells: dict[CellKey, CellValue], blocks: Sequence[Block] = ()) -> None:
        self.cells = cells
        self.blocks = tuple(blocks)
        self._by_sheet: dict[str, list[Block]] = {}
        for block in self.blocks:
            self._by_sheet.setdefault(block.sheet, []).append(block)
        for key in cells:
            if self._locate(key) is not None:
                raise ValueError(f"{key} is both a single cell and a block cell")
        self._len = len(cells) + sum(block.size for block in self.blocks)

    def _locate(self, key: CellKey) -> tuple[Block, int, int] | None:
        blocks = self._by_sheet.get(key[0]) if type(key) is tuple and len(key) == 2 else None
        if not blocks or type(key[1]) is not str:
            return None
        position = _position(key[1])
        if position is None:
            return None
        for block in blocks:
            at = block.offsets(*position)
            if at is not None:
                return block, at[0], at[1]
        return None

    def __getitem__(self, key: CellKey) -> CellValue:
        value = self.cells.get(key, _ABSENT)
        if value is not _ABSENT:
            return value
        found = self._locate(key)
        if found is None:
            raise KeyError(key)
        block, i, j = found
        return block.value(i, j)

    def __contains__(self, key: object) -> bool:
        return key in self.cells or self._locate(key) is not None  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[CellKey]:
        yield from self.cells
        for block in self.blocks:
            for key, _ in block.items():
                yield key

    def __len__(self) -> int:
        return self._len

    def items(self) -> ItemsView[CellKey, CellValue]:
        return _Items(self)

    def blocks_of(self, sheet: str) -> list[Block]:
        """The blocks on ``sheet``."""
        return list(self._by_sheet.get(sheet, ()))

    def with_cells(self, extra: Mapping[CellKey, Any]) -> CellValues:
        """These values with ``extra`` added (or replacing a value); the blocks are shared
        unless a key of ``extra`` falls in one (that block is then copied)."""
        if not extra:
            return self
        cells = dict(self.cells)
        copies: dict[int, Block] = {}  # id of a block -> its copy, made at its first change
        for key, value in extra.items():
            found = self._locate(key)
            if found is None:
                cells[key] = value
                continue
            old, i, j = found
            block = copies.get(id(old))
            if block is None:
                block = copies[id(old)] = Block(old.sheet, old.first_row, old.first_col,
                                                old.numbers.copy(), dict(old.others))
            if type(value) is float and value - value == 0.0:
                block.numbers[i, j] = value
                block.others.pop((i, j), None)
            else:
                block.numbers[i, j] = np.nan
                block.others[i, j] = value
            block.other_rows = frozenset(r for r, _ in block.others)
        blocks = [copies.get(id(block), block) for block in self.blocks]
        return CellValues(cells, blocks)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{b.sheet}!{get_column_letter(b.first_col)}{b.first_row} "
                           f"{b.numbers.shape[0]}x{b.numbers.shape[1]}" for b in self.blocks)
        return f"CellValues({len(self.cells)} cells; blocks: {shapes or 'none'})"


class _Items(ItemsView[CellKey, CellValue]):
    """The items of a :class:`CellValues`, the blocks' taken row by row (not looked up)."""

    _mapping: CellValues

    def __iter__(self) -> Iterator[tuple[CellKey, CellValue]]:
        yield from self._mapping.cells.items()
        for block in self._mapping.blocks:
            yield from block.items()


class SheetValues:
    """One sheet's values as a writer takes them: each cell once (:meth:`pop`, or
    :meth:`take_row` for a row of a block), so that what is left shows (``bool``).

    Parameters
    ----------
    cells : dict
        ``coordinate -> value`` of the single cells (given up to this object).
    blocks : sequence of Block
        The sheet's blocks.
    """

    def __init__(self, cells: dict[str, Any], blocks: Sequence[Block]) -> None:
        self.cells = cells
        self.blocks = tuple(blocks)
        self._taken = [np.zeros(block.numbers.shape, dtype=bool) for block in self.blocks]
        self._left = sum(block.size for block in self.blocks)
        self._spans: dict[tuple[int, ...], tuple[int, int, int] | None] = {}
        for coordinate in cells:  # a single cell over a block cell: the single one is written
            position = _position(coordinate)
            for block, taken in zip(self.blocks, self._taken, strict=True):
                at = None if position is None else block.offsets(*position)
                if at is not None and not taken[at]:
                    taken[at] = True
                    self._left -= 1

    def copy(self) -> SheetValues:
        return SheetValues(dict(self.cells), self.blocks)

    def __bool__(self) -> bool:
        return bool(self.cells) or self._left > 0

    def __len__(self) -> int:
        return len(self.cells) + self._left

    def pop(self, coordinate: str, default: Any) -> Any:
        """The value of ``coordinate``, taken out; ``default`` when there is none (left)."""
        value = self.cells.pop(coordinate, _ABSENT)
        if value is not _ABSENT:
            return value
        position = _position(coordinate)
        if position is None:
            return default
        for block, taken in zip(self.blocks, self._taken, strict=True):
            at = block.offsets(*position)
            if at is not None:
                if taken[at]:
                    return default
                taken[at] = True
                self._left -= 1
                return block.value(*at)
        return default

    def take_numbers(self, row: int, columns: tuple[int, ...]
                     ) -> tuple[Block, int, int, int] | None:
        """As :meth:`take_row` for a row of finite numbers only: the block and the offsets
        (i, j0, j1) of its values, ``block.row(i, j0, j1)``, taken out; else None
        (nothing taken)."""
        return self._take(row, columns, numbers_only=True)

    def take_row(self, row: int, columns: tuple[int, ...]) -> list[Any] | None:
        """The values of the cells at ``row`` and ``columns`` (consecutive, increasing),
        taken out, when they are all cells of one block not yet taken; else None
        (nothing taken)."""
        found = self._take(row, columns, numbers_only=False)
        return None if found is None else found[0].row(*found[1:])

    def _take(self, row: int, columns: tuple[int, ...], *, numbers_only: bool
              ) -> tuple[Block, int, int, int] | None:
        """Mark the cells at ``row`` and ``columns`` taken and give their block and offsets,
        when they are all cells of one block not yet taken (with ``numbers_only``, in a
        row of finite numbers only); else None (nothing taken)."""
        span = self._spans.get(columns, _ABSENT)
        if span is _ABSENT:
            span = self._spans[columns] = self._span(columns)
        if span is None:
            return None
        k, j0, j1 = span
        block, taken = self.blocks[k], self._taken[k]
        i = row - block.first_row
        if not 0 <= i < block.numbers.shape[0] or (numbers_only and i in block.other_rows):
            return None
        line = taken[i, j0:j1]
        if line.any():
            return None
        line[:] = True
        self._left -= j1 - j0
        return block, i, j0, j1

    def _span(self, columns: tuple[int, ...]) -> tuple[int, int, int] | None:
        if not columns or list(columns) != list(range(columns[0], columns[-1] + 1)):
            return None
        for k, block in enumerate(self.blocks):
            j0 = columns[0] - block.first_col
            j1 = columns[-1] + 1 - block.first_col
            if j0 >= 0 and j1 <= block.numbers.shape[1]:
                return k, j0, j1
        return None
