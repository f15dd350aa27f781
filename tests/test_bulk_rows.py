"""The price and rolling-beta rows written straight into the saved file (``fill``'s path)
give the package a whole openpyxl build saves, part for part."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from betaneutral.bookdata import BookInputs
from betaneutral.cli import EXIT_OK, main
from betaneutral.sample import sample_holdings, sample_prices
from betaneutral.workbook.bulk import BulkRows, write_bulk_rows
from betaneutral.workbook.fill import fill_workbook
from betaneutral.workbook.inputs import read_inputs
from betaneutral.workbook.template import build_workbook

#: Parts whose bytes hold the time of the save.
_TIMED = {"docProps/core.xml"}


def _parts(path):
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()
                if info.filename not in _TIMED}


def _prices(days: int, *, last_blank: bool = True) -> pd.DataFrame:
    prices = sample_prices(days=days)
    prices.iloc[3, 2] = np.nan  # a missing close: an empty, styled cell
    if last_blank:
        prices.iloc[days - 1, 4] = np.nan  # on the last row too
    return prices


@pytest.mark.parametrize(("days", "macro"), [(40, False), (12, True), (2, False)])
def test_rows_written_apart_give_the_package_of_a_whole_build(tmp_path, days, macro):
    prices = _prices(days) if days > 5 else sample_prices(days=days)
    holdings = sample_holdings()
    whole = tmp_path / "whole.xlsx"
    build_workbook(prices=prices, holdings=holdings, macro=macro).save(whole)
    apart = BulkRows()
    wb = build_workbook(prices=prices, holdings=holdings, macro=macro, apart=apart)
    assert apart.blocks
    assert wb["Rolling"].max_row == 2  # the header and the arrays' first cells
    saved, split = tmp_path / "saved.xlsx", tmp_path / "split.xlsx"
    wb.save(saved)
    write_bulk_rows(saved, split, wb, apart)
    expected, got = _parts(whole), _parts(split)
    assert list(got) == list(expected)
    for name, data in expected.items():
        assert got[name] == data, name


def test_fill_reads_the_prices_kept_apart_as_the_cells_hold_them(tmp_path):
    """read_inputs of the workbook built apart (the block kept with it) equals read_inputs
    of the whole workbook."""
    inputs = BookInputs(prices=_prices(30), holdings=sample_holdings())
    apart = BulkRows()
    got = read_inputs(fill_workbook(inputs, apart=apart))
    assert apart.blocks
    want = read_inputs(fill_workbook(inputs))
    pd.testing.assert_frame_equal(got.prices, want.prices)
    pd.testing.assert_frame_equal(got.holdings, want.holdings)
    assert got.settings == want.settings


def test_a_price_the_book_flags_builds_every_cell(tmp_path):
    """A price <= 0 is reported by read_inputs cell by cell: no row is left apart."""
    prices = sample_prices(days=20)
    prices.iloc[5, 1] = -3.0
    apart = BulkRows()
    wb = fill_workbook(BookInputs(prices=prices, holdings=sample_holdings()), apart=apart)
    assert not apart.blocks
    assert wb["Benchmark"]["C7"].value == -3.0


def test_fill_output_is_what_compute_makes_of_it(tmp_path):
    """The values fill writes are those compute writes for the same file: the prices kept
    apart are the prices in the file."""
    prices = tmp_path / "p.csv"
    _prices(90, last_blank=False).to_csv(prices, index_label="date")
    holdings = tmp_path / "h.csv"
    sample_holdings().to_csv(holdings, index=False)
    filled, computed = tmp_path / "f.xlsx", tmp_path / "c.xlsx"
    assert main(["fill", "--holdings", str(holdings), "--prices", str(prices), "-o",
                 str(filled), "--quiet"]) == EXIT_OK
    assert main(["compute", str(filled), "-o", str(computed), "--quiet"]) == EXIT_OK
    a, b = _parts(filled), _parts(computed)
    assert list(a) == list(b)
    changed = [n for n in a if a[n] != b[n]]
    assert changed in ([], ["xl/worksheets/sheet8.xml"])  # the Tickets sheet's timestamp
