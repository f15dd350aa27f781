"""Generated blocks kept as arrays, from the worksheet function to the written part.

* ``ROLLING_BETA`` returns its column as a list of one-cell rows (what Excel receives)
  carrying the same values as a float array (:class:`betaneutral.arrayrows.ArrayRows`);
  the result check of :func:`betaneutral.cells.excel_function` works on the array. The
  reference is the list of rows written out by hand, checked by the list path.
* :func:`betaneutral.workbook.model.compute_values` returns a
  :class:`~betaneutral.workbook.cellvalues.CellValues` mapping holding the Rolling block
  as an array; it must answer as a dict of the same cells does.
* :func:`betaneutral.workbook.cache.write_cached_values` writes a block's rows from the
  array. Its reference is the same writer given the same values as a plain dict, cell by
  cell: the two packages must be the same bytes, on real books (the template, a computed
  book, a user's cells on the Rolling sheet, error codes in the block, a block column past
  the last holding).
"""

from __future__ import annotations

import dataclasses
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.formula import ArrayFormula

from betaneutral import cells, udfs
from betaneutral.arrayrows import ArrayRows, column_rows
from betaneutral.errors import BetaNeutralError
from betaneutral.workbook import cache, loader
from betaneutral.workbook.cache import (
    KEEP,
    _rewrite_sheet,
    _splice_sheet,
    sheet_parts,
    workbook_part,
    write_cached_values,
)
from betaneutral.workbook.cellvalues import Block, CellValues, SheetValues
from betaneutral.workbook.compute import compute_workbook
from betaneutral.workbook.inputs import read_inputs
from betaneutral.workbook.model import compute_values, read_layout
from betaneutral.workbook.template import build_workbook
from test_fast_paths import block_cases, c14n, outcome, repack

_FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf, 1e308]))


# ---------------------------------------------------------------- ArrayRows ---
@settings(max_examples=200, deadline=None)
@given(st.lists(_FLOATS, max_size=40))
def test_array_rows_are_the_hand_written_rows(values: list[float]) -> None:
    """The rows are what the function wrote by hand before (NaN as #N/A), and through
    ``excel_function`` the same as that plain list gives (infinities as #NUM!); the array
    and the codes say the same as the rows."""
    by_hand = [["#N/A"] if v != v else [v] for v in values]
    rows = column_rows(np.array(values, dtype=float), "#N/A")
    assert type(rows) is ArrayRows
    assert rows == by_hand
    assert all(type(row) is list for row in rows)

    def as_array() -> Any:
        return column_rows(np.array(values, dtype=float), "#N/A")

    def as_list() -> Any:
        return [list(row) for row in by_hand]

    got = cells.excel_function(as_array)()
    want = cells.excel_function(as_list)()
    assert list(got) == want
    assert [repr(row[0]) for row in got] == [repr(row[0]) for row in want]  # -0.0 kept
    for i, (value,) in enumerate(got):
        if isinstance(value, str):
            assert math.isnan(got.numbers[i, 0])
            assert got.codes[i, 0] == value
        else:
            assert got.numbers[i, 0] == value
            assert (i, 0) not in got.codes


def test_rolling_beta_returns_rows_with_their_array() -> None:
    """ROLLING_BETA's result is its list of rows (#N/A until a window is full) with the
    numbers beside it."""
    rng = np.random.default_rng(5)
    btc = 100 * np.cumprod(1 + rng.normal(0, 0.02, 60))
    asset = 50 * np.cumprod(1 + rng.normal(0, 0.03, 60))
    got = udfs.ROLLING_BETA([[v] for v in asset], [[v] for v in btc], 20)
    assert type(got) is ArrayRows
    assert len(got) == 60
    assert got[:20] == [["#N/A"]] * 20
    assert all(type(row[0]) is float for row in got[20:])
    np.testing.assert_array_equal(got.numbers[20:, 0], [row[0] for row in got[20:]])


# --------------------------------------------------------------- CellValues ---
@pytest.fixture(scope="module")
def sample_values() -> CellValues:
    wb = build_workbook()
    return compute_values(read_inputs(wb), read_layout(wb))


def test_cell_values_answer_as_a_dict_of_the_same_cells(sample_values: CellValues) -> None:
    """Keys, len, in, [], get and items agree; the Rolling block is held as an array."""
    values = sample_values
    assert isinstance(values, CellValues)
    (block,) = values.blocks
    assert block.sheet == "Rolling"
    assert block.numbers.shape == (730, 7)
    as_dict = dict(values.items())
    keys = list(values)
    assert len(keys) == len(set(keys)) == len(values) == len(as_dict)
    assert {k: values[k] for k in keys} == as_dict
    assert all(k in values for k in keys)
    assert ("Rolling", "A2") in values
    assert ("Rolling", "G731") in values
    assert ("Rolling", "H2") not in values
    assert ("Rolling", "A732") not in values
    assert ("Rolling", "$A$2") not in values
    assert values.get(("Rolling", "b5")) is None
    with pytest.raises(KeyError):
        values[("Rolling", "A1000")]
    assert values[("Rolling", "B2")] == "#N/A"  # no window yet
    assert type(values[("Rolling", "B731")]) is float
    assert type(values[("Rolling", "A2")]) is float  # a date as its serial number
    assert values[("Rolling", "B1")] == "ETH"  # a label: a single cell


def test_rolling_columns_are_the_functions_results(sample_values: CellValues) -> None:
    """Each Rolling column is what ROLLING_BETA returns for its holding."""
    wb = build_workbook()
    inputs = read_inputs(wb)
    bench = [[v] for v in inputs.prices["BTC"]]
    for j, (letter, asset) in enumerate(zip("BCDEFG", inputs.holdings["asset"], strict=True)):
        rows = udfs.ROLLING_BETA([[v] for v in inputs.prices[asset]], bench,
                                 float(inputs.settings.rolling_window),
                                 float(inputs.settings.min_obs))
        got = [sample_values[("Rolling", f"{letter}{r}")] for r in range(2, 732)]
        assert got == [row[0] for row in rows], (j, asset)


def test_with_cells_adds_and_replaces(sample_values: CellValues) -> None:
    """Added cells join; a value given for a block cell replaces it in a copy of the
    block, leaving the original untouched."""
    values = sample_values
    more = values.with_cells({("Rolling", "J5"): 1.5, ("Rolling", "B731"): "#N/A",
                              ("Rolling", "C2"): 2.0})
    assert more[("Rolling", "J5")] == 1.5
    assert more[("Rolling", "B731")] == "#N/A"
    assert more[("Rolling", "C2")] == 2.0
    assert len(more) == len(values) + 1
    assert type(values[("Rolling", "B731")]) is float
    assert values[("Rolling", "C2")] == "#N/A"
    assert values.with_cells({}) is values


def test_sheet_values_give_each_cell_once() -> None:
    """Rows of a block and single cells are each taken once; what is left shows."""
    block = Block("S", 2, 2, np.array([[1.0, np.nan], [3.0, 4.0]]), {(0, 1): "#N/A"})
    left = SheetValues({"A1": 9.0, "C3": 7.0}, [block])  # C3 is a block cell: C3 wins
    assert left.take_row(2, (2, 3)) == [1.0, "#N/A"]
    assert left.take_row(2, (2, 3)) is None  # taken already
    assert left.take_row(3, (2, 3)) is None  # C3 is the single cell's
    assert left.pop("B3", None) == 3.0
    assert left.pop("C3", None) == 7.0
    assert left.pop("B3", None) is None
    assert left.take_row(4, (2, 3)) is None
    assert left.take_row(2, (2, 4)) is None
    assert bool(left)
    row_of_numbers = SheetValues({}, [block])
    assert row_of_numbers.take_numbers(2, (2, 3)) is None  # it holds a code
    assert row_of_numbers.take_numbers(3, (2, 3)) == (block, 1, 0, 2)
    assert row_of_numbers.take_numbers(3, (2, 3)) is None  # taken already
    assert row_of_numbers.take_row(2, (2, 3)) == [1.0, "#N/A"]
    assert not row_of_numbers
    with pytest.raises(ValueError, match="finite"):  # a NaN that stands for no value
        Block("S", 1, 1, np.array([[np.nan]]), {})
    assert left.pop("A1", None) == 9.0
    assert not left


# ------------------------------------------------- the writer, block vs cells ---
def _both_ways(src: Path, folder: Path, values: CellValues, monkeypatch,
               **kwargs: Any) -> tuple[bytes, bytes, int]:
    """The package written from the blocks and from the same values as a plain dict,
    and the number of block rows taken whole."""
    taken = []

    def counting(method: Any) -> Any:
        def counted(self: SheetValues, row: int, columns: tuple[int, ...]) -> Any:
            got = method(self, row, columns)
            taken.append(got is not None)
            return got
        return counted

    for name in ("take_row", "take_numbers"):  # rows of numbers, rows with codes
        monkeypatch.setattr(SheetValues, name, counting(getattr(SheetValues, name)))
    a = write_cached_values(src, folder / "blocks.xlsx", values, force=True, **kwargs)
    b = write_cached_values(src, folder / "cells.xlsx", dict(values.items()), force=True,
                            **kwargs)
    return a.read_bytes(), b.read_bytes(), sum(taken)


def _saved(wb: openpyxl.Workbook, path: Path) -> Path:
    wb.save(path)
    return path


def test_template_block_path_is_the_cell_path(tmp_path: Path, monkeypatch) -> None:
    wb = build_workbook()
    values = compute_values(read_inputs(wb), read_layout(wb))
    a, b, rows = _both_ways(_saved(wb, tmp_path / "t.xlsx"), tmp_path, values, monkeypatch)
    assert a == b
    assert rows >= 729  # every block row but the anchors' row, from the array


def test_computed_book_block_path_is_the_cell_path(tmp_path: Path, monkeypatch) -> None:
    """A book compute wrote (every Rolling cell holding a value) written again."""
    src = _saved(build_workbook(), tmp_path / "t.xlsx")
    computed = compute_workbook(src, tmp_path / "c.xlsx")
    wb = openpyxl.load_workbook(computed)
    values = compute_values(read_inputs(wb), read_layout(wb))
    a, b, rows = _both_ways(computed, tmp_path, values, monkeypatch)
    assert a == b
    assert rows >= 729


def test_user_cells_on_the_rolling_sheet(tmp_path: Path, monkeypatch) -> None:
    """A user's formula and input beside the block, and a user's value for a block cell,
    are written as the cell path writes them."""
    wb = build_workbook()
    ws = wb["Rolling"]
    ws["J5"] = "=B5*2"
    ws["J6"] = 3.0
    ws["K3"] = "=1+1"
    values = compute_values(read_inputs(wb), read_layout(wb))
    src = _saved(wb, tmp_path / "t.xlsx")
    mine = values.with_cells({("Rolling", "J5"): KEEP, ("Rolling", "K3"): 2})
    a, b, rows = _both_ways(src, tmp_path, mine, monkeypatch,
                            plain_values={("Rolling", "J6"): 4.0})
    assert a == b
    assert rows >= 726
    replaced = values.with_cells({("Rolling", "J5"): 1.0, ("Rolling", "K3"): 2,
                                  ("Rolling", "C100"): "#VALUE!"})
    a, b, _ = _both_ways(src, tmp_path, replaced, monkeypatch)
    assert a == b
    got = openpyxl.load_workbook(tmp_path / "blocks.xlsx", data_only=True)["Rolling"]
    assert got["C100"].value == "#VALUE!"
    assert got["J5"].value == 1.0


def test_error_codes_fill_the_block(tmp_path: Path, monkeypatch) -> None:
    """A rolling window longer than the prices makes every block cell an error code."""
    wb = build_workbook()
    inputs = read_inputs(wb)
    bad = dataclasses.replace(inputs, settings=dataclasses.replace(inputs.settings,
                                                                   rolling_window=5000))
    values = compute_values(bad, read_layout(wb))
    codes = {values[("Rolling", f"{c}{r}")] for c in "BCDEFG" for r in range(2, 732)}
    assert len(codes) == 1
    assert codes <= set(cells.EXCEL_ERRORS)
    a, b, rows = _both_ways(_saved(wb, tmp_path / "t.xlsx"), tmp_path, values, monkeypatch)
    assert a == b
    assert rows >= 729


def test_a_block_column_past_the_last_holding(tmp_path: Path, monkeypatch) -> None:
    """A Rolling block one column wider than the holdings shows #REF! there (label and
    column), written as the cell path writes it."""
    wb = build_workbook()
    ws = wb["Rolling"]
    ws["H1"] = "=INDEX(HoldingAssets,7)"
    ws["H2"] = ArrayFormula("H2:H731", ws["G2"].value.text.replace("G$1", "H$1"))
    wb.defined_names["RollingBetas"].attr_text = "'Rolling'!$B$2:$H$731"
    values = compute_values(read_inputs(wb), read_layout(wb))
    assert values[("Rolling", "H1")] == "#REF!"
    assert {values[("Rolling", f"H{r}")] for r in range(2, 732)} == {"#REF!"}
    a, b, rows = _both_ways(_saved(wb, tmp_path / "t.xlsx"), tmp_path, values, monkeypatch)
    assert a == b
    assert rows >= 729


def test_a_block_the_part_does_not_match_goes_to_the_tree_path(tmp_path: Path,
                                                                monkeypatch) -> None:
    """Values for a block wider than the part's array ranges: both paths refuse alike."""
    wb = build_workbook()
    values = compute_values(read_inputs(wb), read_layout(wb))
    (block,) = values.blocks
    wider = CellValues(values.cells, [Block(block.sheet, block.first_row, block.first_col,
                                            np.hstack([block.numbers, block.numbers[:, :1]]),
                                            block.others)])
    src = _saved(wb, tmp_path / "t.xlsx")
    with pytest.raises(cache.UnknownNameError, match="hold no formula"):
        write_cached_values(src, tmp_path / "a.xlsx", wider)
    with pytest.raises(cache.UnknownNameError, match="hold no formula"):
        write_cached_values(src, tmp_path / "b.xlsx", dict(wider.items()))


def test_a_part_written_in_pieces_is_the_part_written_whole(tmp_path: Path,
                                                            monkeypatch) -> None:
    """Sheet parts written from their edits in small pieces give the package that writing
    each rewritten part whole (``writestr``) gives, byte for byte."""
    src = _saved(build_workbook(), tmp_path / "t.xlsx")
    computed = compute_workbook(src, tmp_path / "c.xlsx")
    wb = openpyxl.load_workbook(computed)
    values = compute_values(read_inputs(wb), read_layout(wb))
    monkeypatch.setattr(cache, "_CHUNK", 100)
    pieces = write_cached_values(computed, tmp_path / "pieces.xlsx", values).read_bytes()
    monkeypatch.setattr(cache, "_STREAMED_PART", 0)  # every part joined, then writestr
    whole = write_cached_values(computed, tmp_path / "whole.xlsx", values).read_bytes()
    assert pieces == whole


# ------------------------------------- rows matched by the previous row's shape ---
@settings(max_examples=150, deadline=None)
@given(block_cases())
def test_rows_matched_by_shape_are_the_tree_path(case) -> None:
    """With every row of two or more array cells matched against the previous row's
    shape, the splice still gives the tree path's part (generated blocks of
    tests/test_fast_paths.py, whose rows are shorter than the shape's threshold)."""
    data, values, plain = case
    tree = outcome(lambda: _rewrite_sheet(data, "S", values, plain))
    saved = cache._SHAPE_CELLS
    cache._SHAPE_CELLS = 2
    try:
        got = _splice_sheet(data, values, plain)
    finally:
        cache._SHAPE_CELLS = saved
    if tree[0] != "ok":
        assert got is None, tree
    else:
        assert got is not None
        assert c14n(got) == c14n(tree[1])


@pytest.mark.parametrize("edit", ["as computed", "a text in a block row", "a row left short"])
def test_shapes_change_nothing_on_a_computed_book(edit: str, tmp_path: Path,
                                                  monkeypatch) -> None:
    """On a computed book (and the same with a row that differs from the one before it),
    the writer and the loader's reduction give the same bytes with rows matched by shape
    as with every row read cell by cell."""
    src = _saved(build_workbook(), tmp_path / "t.xlsx")
    computed = compute_workbook(src, tmp_path / "c.xlsx")
    with zipfile.ZipFile(computed) as zf:
        part = sheet_parts(zf, workbook_part(zf))["Rolling"]
        data = zf.read(part)
    if edit == "a text in a block row":
        def as_text(cell: re.Match[bytes]) -> bytes:
            attributes = re.sub(rb'\st="[^"]*"', b"", cell.group(1))
            return b'<c r="D40"' + attributes + b' t="str"><v>x</v></c>'

        data = re.sub(rb'<c r="D40"([^>]*?)(?:/>|>.*?</c>)', as_text, data, count=1)
    elif edit == "a row left short":
        data = re.sub(rb'<c r="G41"[^>]*?(/>|>.*?</c>)', b"", data, count=1)
    book = repack(computed, tmp_path / "e.xlsx", {part: data})
    wb = openpyxl.load_workbook(book)
    values = compute_values(read_inputs(wb), read_layout(wb))
    written, reduced = [], []
    for cells_for_shape in (2, 10**9):
        monkeypatch.setattr(cache, "_SHAPE_CELLS", cells_for_shape)
        monkeypatch.setattr(loader, "_SHAPE_CELLS", cells_for_shape)
        out = tmp_path / f"w{cells_for_shape}.xlsx"
        try:
            written.append(write_cached_values(book, out, values).read_bytes())
        except BetaNeutralError as exc:
            written.append(str(exc))
        got = loader._reduce_sheet(data, None, (1, 1, 16384, 1048576))
        reduced.append(None if got is None else got[0])
    assert written[0] == written[1]
    assert reduced[0] == reduced[1]
    assert reduced[0] is not None


def test_the_loaded_workbook_is_freed_before_writing(tmp_path: Path) -> None:
    """When compute writes the values, no openpyxl workbook of the book is left alive
    (the book's context no longer holds it once the caller lets it go)."""
    import gc

    from openpyxl.workbook.workbook import Workbook

    src = _saved(build_workbook(), tmp_path / "t.xlsx")
    alive = []

    def workbooks() -> int:
        gc.collect()
        return sum(isinstance(o, Workbook) for o in gc.get_objects())

    def progress(message: str) -> None:
        if message.startswith("writing"):
            alive.append(workbooks())

    before = workbooks()  # other tests' workbooks the process may still hold
    compute_workbook(src, tmp_path / "c.xlsx", progress=progress)
    assert alive == [before]
