"""A fresh book holding given inputs: the template built for them, settings and position set.

Used by ``betaneutral fill`` (from CSV files) and by the resize of a book that outgrew
its ranges (:func:`betaneutral.workbook.living.resize_book`). The check of a book's own
formulas (:func:`betaneutral.workbook.compute.template_formulas`) takes the same formulas
without building the workbook.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import Cell

from betaneutral.bookdata import SETTINGS_NAMES, BookInputs
from betaneutral.workbook.bulk import BulkRows
from betaneutral.workbook.cells import write_text
from betaneutral.workbook.loader import PriceBlock, keep_price_block
from betaneutral.workbook.names import name_destinations
from betaneutral.workbook.template import build_workbook

__all__ = ["fill_workbook"]


def _plain(prices: pd.DataFrame) -> bool:
    """Whether every price is a finite number > 0 or missing (as the loader's block)."""
    try:
        values = prices.to_numpy(dtype=float)
    except (TypeError, ValueError):
        return False
    present = values[~np.isnan(values)]
    return bool(np.isfinite(present).all() and (present > 0).all())


def _name_cell(wb: Workbook, name: str) -> Cell:
    sheet, ref = name_destinations(wb, [name])[name]
    return wb[sheet][ref.split(":")[0]]


def fill_workbook(inputs: BookInputs, *, macro: bool = False,
                  all_columns: bool = True, apart: BulkRows | None = None) -> Workbook:
    """A fresh template holding ``inputs`` (no cached values).

    Parameters
    ----------
    inputs : BookInputs
        Prices, holdings, settings and current futures position.
    macro : bool, default False
        Build the macro-enabled variant (save it as ``.xlsm``).
    all_columns : bool, default True
        Keep every price column of ``inputs.prices`` (a book's own columns); False
        keeps BTC, ETH and the held assets only (a prices file with more coins).
    apart : BulkRows, optional
        Leave the price rows and the rolling betas after their first row out of the
        workbook (see :func:`~betaneutral.workbook.template.build_workbook`): save it,
        then write them with :func:`~betaneutral.workbook.bulk.write_bulk_rows`. The
        workbook's inputs are still read by
        :func:`~betaneutral.workbook.inputs.read_inputs` (the prices from the block
        kept with :func:`~betaneutral.workbook.loader.keep_price_block`). Used only
        when every price is a number > 0 or missing; otherwise ``apart`` stays empty
        and the workbook is whole.

    Returns
    -------
    openpyxl.Workbook
        ``build_workbook(prices=..., holdings=...)`` with the settings written
        into the Settings cells (text as text; ``futures_price=None`` keeps the
        last-close formula) and the position into ``CurrentContracts``.

    Raises
    ------
    BetaNeutralError
        As :func:`~betaneutral.workbook.template.build_workbook`.
    """
    holdings = inputs.holdings[["asset", "quantity"]]
    if apart is not None and not _plain(inputs.prices):
        apart = None  # a price the book flags cell by cell: every cell made
    wb = build_workbook(prices=inputs.prices, holdings=holdings, macro=macro,
                        all_columns=all_columns, apart=apart)
    if apart is not None and apart.prices is not None:
        sheet, ref = name_destinations(wb, ["PriceBlock"])["PriceBlock"]
        keep_price_block(wb, PriceBlock(sheet, ref, apart.prices))
    for key, name in SETTINGS_NAMES.items():
        value = getattr(inputs.settings, key)
        if value is None:  # futures_price: keep the template's formula
            continue
        cell = _name_cell(wb, name)
        if isinstance(value, str):
            write_text(cell, value)
        else:
            cell.value = value
    _name_cell(wb, "CurrentContracts").value = inputs.current_contracts
    return wb
