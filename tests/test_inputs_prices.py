"""Reading the price block of a workbook (betaneutral.workbook.inputs.read_inputs).

A block of plain prices is read in one step; any other cell makes the reader check
cell by cell, so the error still names the cell and the rule.
"""

from __future__ import annotations

import math

import numpy as np
import openpyxl
import pandas as pd
import pytest

from betaneutral.errors import DomainError, InputTypeError
from betaneutral.workbook import build_workbook
from betaneutral.workbook.inputs import read_inputs


@pytest.fixture
def wb() -> openpyxl.Workbook:
    """BTC in column B, ETH in C, AAA in D; prices from row 2 (4 dates)."""
    dates = pd.date_range("2026-01-01", periods=4, freq="D")
    prices = pd.DataFrame({"BTC": [100.0, 101.0, 99.0, 102.0],
                           "ETH": [10.0, 10.5, 9.5, 10.25],
                           "AAA": [5.0, 5.5, np.nan, 6.0]}, index=dates)
    holdings = pd.DataFrame({"asset": ["AAA"], "quantity": [10.0]})
    return build_workbook(prices=prices, holdings=holdings)


def test_whole_numbers_and_blanks(wb: openpyxl.Workbook) -> None:
    """Whole-number cells read as the same floats and blanks as NaN, column by column."""
    ws = wb["Benchmark"]
    ws["B2"], ws["C5"], ws["D3"] = 100, 11, None
    prices = read_inputs(wb).prices
    assert prices["BTC"].tolist() == [100.0, 101.0, 99.0, 102.0]
    assert prices["ETH"].tolist() == [10.0, 10.5, 9.5, 11.0]
    got = prices["AAA"].tolist()
    assert [got[0], got[3]] == [5.0, 6.0]
    assert math.isnan(got[1])
    assert math.isnan(got[2])
    assert prices.dtypes.tolist() == [np.float64] * 3


@pytest.mark.parametrize(("cell", "value", "error", "message"), [
    ("C3", True, InputTypeError, r"Benchmark!C3: price of ETH must be a number, got True"),
    ("D4", 0, DomainError, r"Benchmark!D4: price of AAA must be > 0, got 0.0"),
    ("B5", float("inf"), DomainError, r"Benchmark!B5: price of BTC must be finite, got inf"),
    ("B2", 10**400, DomainError, r"Benchmark!B2: price of BTC must be finite"),
])
def test_other_cells_are_named(wb: openpyxl.Workbook, cell: str, value: object,
                               error: type, message: str) -> None:
    """A boolean, a zero, an infinity or a number beyond the float range in the block
    raises the cell-by-cell error naming the cell and the rule."""
    wb["Benchmark"][cell] = value
    with pytest.raises(error, match=message):
        read_inputs(wb)
