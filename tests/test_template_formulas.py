"""The template's formulas for a book, given without building it (workbook.compute).

The reference is always the full template build, ``formula_cells(fill_workbook(inputs))``:
an independent path that styles and writes every cell.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from betaneutral.workbook import formula_cells
from betaneutral.workbook.compute import fill_workbook, template_formulas
from betaneutral.workbook.inputs import BookInputs, BookSettings, read_inputs
from betaneutral.workbook.template import build_workbook


def full_build(inputs: BookInputs) -> dict[tuple[str, str], str]:
    return {(c.sheet, c.coordinate): c.formula for c in formula_cells(fill_workbook(inputs))}


def book(n_holdings: int, days: int, *, seed: int = 3) -> BookInputs:
    """BTC, ETH and ``n_holdings - 1`` altcoins with random-walk closes; ALT1 has gaps."""
    rng = np.random.default_rng(seed)
    assets = ["BTC", "ETH", *[f"ALT{i}" for i in range(1, n_holdings)]]
    data = {a: np.round(rng.uniform(1, 100) * np.cumprod(1 + rng.normal(0, 0.02, days)), 6)
            for a in assets}
    prices = pd.DataFrame(data, index=pd.date_range("2025-01-01", periods=days, name="date"))
    if "ALT1" in prices:
        prices.iloc[[3, 40], prices.columns.get_loc("ALT1")] = np.nan
    holdings = pd.DataFrame({"asset": assets[1:], "quantity": rng.uniform(1, 50, n_holdings)})
    return BookInputs(prices=prices, holdings=holdings)


@pytest.mark.parametrize("label", ["sample", "4 holdings x 120 days with gaps",
                                   "futures price typed in", "50/50 benchmark"])
def test_equals_the_full_template_build(label: str) -> None:
    """For each book the derived formulas are exactly those of the full template build."""
    inputs = {
        "sample": lambda: read_inputs(build_workbook()),
        "4 holdings x 120 days with gaps": lambda: book(4, 120),
        "futures price typed in": lambda: dataclasses.replace(
            book(2, 80), settings=BookSettings(futures_price=61_000.0)),
        "50/50 benchmark": lambda: dataclasses.replace(
            book(3, 90), settings=BookSettings(benchmark="BTC/ETH 50/50")),
    }[label]()
    assert template_formulas(inputs) == full_build(inputs)
