"""The inputs of a BetaNeutral book, read from a workbook or from CSV files.

A book is fully described by its daily prices, its holdings, the Settings
values and the current futures position (:class:`BookInputs`). Everything
else in the workbook is computed from these.

Two readers produce it:

* :func:`read_inputs` reads a BetaNeutral workbook, possibly edited by a user,
  locating every input through the workbook's defined names (``Dates``,
  ``PriceAssets``, ``PriceBlock``, ``HoldingAssets``, ``HoldingQuantities``,
  the Settings names and ``CurrentContracts``). Errors name the sheet, the cell
  and the rule, e.g. ``"Holdings!B7: quantity must be a number, got 'abc'"``.
* :func:`~betaneutral.sources.read_csv_inputs` (in
  :mod:`betaneutral.sources`, importable from here) reads a holdings
  CSV, a prices CSV (wide or long) and an optional settings TOML file. Errors
  name the file, the row (1-based, the header is row 1) and the column.

Neither reader fills gaps: a missing price stays missing (``NaN``), and the
beta estimators drop it pair-wise.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.worksheet import Worksheet

from betaneutral.bookdata import (
    BENCHMARK_CHOICES,
    SETTINGS_NAMES,
    BookInputs,
    BookSettings,
    describe,
    located,
    settings_from,
)
from betaneutral.core._validate import as_float, positive
from betaneutral.errors import (
    DomainError,
    InputTypeError,
    InsufficientDataError,
    UnknownNameError,
)
from betaneutral.safetext import validate_identifier
from betaneutral.workbook.book import DEFAULT_FUTURES_PRICE_FORMULA, SHEET_NAMES
from betaneutral.workbook.loader import price_block
from betaneutral.workbook.names import name_destinations

__all__ = [
    "BENCHMARK_CHOICES",
    "SETTINGS_NAMES",
    "BookInputs",
    "BookSettings",
    "check_book_sheets",
    "date_cell",
    "name_destinations",
    "price_value",
    "read_inputs",
    "read_position",
    "read_settings",
]

# -------------------------------------------------------------- from a workbook ---
_INPUT_NAMES = ("Dates", "PriceAssets", "PriceBlock", "HoldingAssets", "HoldingQuantities",
                "CurrentContracts", *SETTINGS_NAMES.values())


def _block(wb: Workbook, dest: tuple[str, str]) -> tuple[Worksheet, int, int, list[list[Any]]]:
    """Sheet, first row, first column and the cell values of a range."""
    sheet, ref = dest
    ws = wb[sheet]
    c1, r1, c2, r2 = range_boundaries(ref)
    rows = [list(row) for row in ws.iter_rows(min_row=r1, max_row=r2, min_col=c1,
                                              max_col=c2, values_only=True)]
    return ws, r1, c1, rows


def _coord(sheet: str, row: int, col: int) -> str:
    return f"{sheet}!{get_column_letter(col)}{row}"


def _price(name: str, value: Any) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):
        raise InputTypeError(f"{name} must be a number > 0 or blank, got {describe(value)}")
    return positive(name, value)


#: A price cell's value as a float (blank = NaN), or the error naming the rule.
price_value = _price


def _plain_prices(block: list[list[Any]]) -> np.ndarray | None:
    """The block as floats (blank = NaN) when every cell is blank or a finite number > 0.

    None when a cell is anything else (text, a boolean, a date, NaN, an infinity,
    a number <= 0): the caller then checks cell by cell. For a block that passes,
    the result is the one :func:`_price` gives cell by cell.
    """
    blanks = 0
    for row in block:
        for value in row:
            if value is None:
                blanks += 1
            elif type(value) is not float and type(value) is not int:
                return None
    try:
        values = np.array(block, dtype=np.float64)  # None -> NaN
    except (OverflowError, ValueError, TypeError):
        return None
    missing = np.isnan(values)
    present = values[~missing]
    if int(missing.sum()) != blanks or not (np.isfinite(present).all() and (present > 0).all()):
        return None
    return values


def _open(source: str | os.PathLike[str] | Workbook) -> Workbook:
    if isinstance(source, Workbook):
        return source
    from betaneutral.workbook.loader import load_book

    path = Path(source)
    if not path.is_file():
        raise UnknownNameError(f"workbook {str(path)!r} must be an existing file")
    return load_book(path)


def date_cell(where: str, value: Any, previous: dt.datetime | None) -> dt.datetime:
    """A Benchmark date cell's value as a datetime, after ``previous`` (the row above).

    Raises
    ------
    InputTypeError
        The cell is not a date.
    DomainError
        The date is not after the one above it.
    """
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise InputTypeError(f"{where}: date must be a date cell, got {describe(value)}")
    if previous is not None and value <= previous:
        raise DomainError(f"{where}: dates must be strictly increasing, got {value:%Y-%m-%d}"
                          f" after {previous:%Y-%m-%d}")
    return value


def check_book_sheets(wb: Workbook) -> None:
    """Refuse a book missing one of its own sheets (renamed or deleted), naming it."""
    missing = [name for name in SHEET_NAMES if name not in wb.sheetnames]
    if missing:
        raise UnknownNameError(
            f"workbook must have BetaNeutral's sheets {missing} (renamed or deleted? give "
            "them back their names)")


def read_inputs(source: str | os.PathLike[str] | Workbook) -> BookInputs:
    """Read the inputs of a BetaNeutral workbook through its defined names.

    Parameters
    ----------
    source : path-like or openpyxl.Workbook
        An ``.xlsx``/``.xlsm`` file (opened with ``keep_links=False`` and
        formulas as text, after an archive size check), or a workbook already
        loaded with formulas (not ``data_only``).

    Returns
    -------
    BookInputs
        Prices (every column of ``PriceAssets``, in sheet order), holdings,
        settings and the current futures position (blank = 0).

    Raises
    ------
    UnknownNameError
        A required defined name or sheet is missing (the message lists them), an
        asset on Holdings has no price column, or a setting is not an allowed name.
    InputTypeError
        A cell has the wrong type (text, formula or blank where a number is
        required; a non-date date; a bad asset name).
    DomainError
        A number breaks its rule (price <= 0, dates not increasing, a setting
        outside its range).
    InsufficientDataError
        Fewer than 2 dates or no holding.
    betaneutral.archive.UnsafeWorkbookError
        The file fails the archive checks or cannot be read as a workbook.

    Notes
    -----
    Messages start with the cell, e.g. ``"Holdings!B7: quantity must be a number,
    got 'abc'"``. Settings must hold values, except ``FuturesPrice``, which may
    keep the template's formula (read as ``None``).
    """
    wb = _open(source)
    check_book_sheets(wb)
    dest = name_destinations(wb, _INPUT_NAMES)

    # Dates and prices.
    ws, r1, c1, date_rows = _block(wb, dest["Dates"])
    if len(date_rows) < 2:
        raise InsufficientDataError(f"{ws.title}: Dates must hold >= 2 rows, got "
                                    f"{len(date_rows)}")
    dates: list[dt.datetime] = []
    for i, (value,) in enumerate(date_rows):
        dates.append(date_cell(_coord(ws.title, r1 + i, c1), value,
                               dates[-1] if dates else None))

    ws, hr, hc, (header,) = _block(wb, dest["PriceAssets"])
    assets: list[str] = []
    for j, value in enumerate(header):
        where = _coord(ws.title, hr, hc + j)
        asset = located(where, lambda v=value: validate_identifier("asset", v))
        if asset in assets:
            raise DomainError(f"{where}: asset columns must be unique, got {asset!r} twice")
        assets.append(asset)
    for required in ("BTC", "ETH"):
        if required not in assets:
            raise UnknownNameError(f"{ws.title}: price columns must include {required!r}, got "
                                   f"{assets}")

    preloaded = price_block(wb)
    if preloaded is not None and (preloaded.sheet, preloaded.ref) != dest["PriceBlock"]:
        preloaded = None
    if preloaded is not None:
        # read by load_book straight from the file: every cell a number > 0 or blank
        ws, pr, pc, block = wb[preloaded.sheet], 0, 0, preloaded.values
    else:
        ws, pr, pc, block = _block(wb, dest["PriceBlock"])
    if len(block) != len(dates) or len(block[0]) != len(assets):
        raise InsufficientDataError(
            f"{ws.title}: PriceBlock must be {len(dates)} x {len(assets)} (Dates x PriceAssets), "
            f"got {len(block)} x {len(block[0])}")
    values = block if preloaded is not None else _plain_prices(block)
    if values is None:  # some cell is not a plain price: check cell by cell, naming it
        values = np.empty((len(dates), len(assets)))
        for i, row in enumerate(block):
            for j, value in enumerate(row):
                values[i, j] = located(_coord(ws.title, pr + i, pc + j),
                                        lambda v=value, a=assets[j]: _price(f"price of {a}", v))
    prices = pd.DataFrame(values, columns=assets,
                          index=pd.DatetimeIndex(dates, name="date"))

    # Holdings.
    ws, ar, ac, asset_rows = _block(wb, dest["HoldingAssets"])
    qws, qr, qc, qty_rows = _block(wb, dest["HoldingQuantities"])
    if len(asset_rows) != len(qty_rows):
        raise InsufficientDataError("HoldingAssets and HoldingQuantities must have the same "
                                    f"rows, got {len(asset_rows)} and {len(qty_rows)}")
    held: list[str] = []
    quantities: list[float] = []
    for i, ((asset,), (qty,)) in enumerate(zip(asset_rows, qty_rows, strict=True)):
        where = _coord(ws.title, ar + i, ac)
        located(where, lambda v=asset: validate_identifier("asset", v))
        if asset not in assets:
            raise UnknownNameError(f"{where}: asset must be one of the price columns {assets}, "
                                   f"got {asset!r}")
        held.append(asset)
        where = _coord(qws.title, qr + i, qc)
        if isinstance(qty, str) or qty is None:
            raise InputTypeError(f"{where}: quantity must be a number, got {describe(qty)}")
        quantities.append(located(where, lambda v=qty: as_float("quantity", v)))
    if not held:
        raise InsufficientDataError("Holdings: holdings must have >= 1 row, got 0")
    holdings = pd.DataFrame({"asset": held, "quantity": quantities})

    return BookInputs(prices=prices, holdings=holdings, settings=read_settings(wb),
                      current_contracts=read_position(wb))


def read_settings(wb: Workbook) -> BookSettings:
    """The Settings values of a workbook, through their defined names (see
    :func:`read_inputs`)."""
    dest = name_destinations(wb, list(SETTINGS_NAMES.values()))
    raw: dict[str, Any] = {}
    cells: dict[str, str] = {}
    for key, name in SETTINGS_NAMES.items():
        sheet, ref = dest[name]
        cell = wb[sheet][ref.split(":")[0]]
        cells[key] = f"{sheet}!{cell.coordinate}"
        value = cell.value
        if cell.data_type == "f":
            text = str(getattr(value, "text", value))
            if key == "futures_price" and text.replace(" ", "") == DEFAULT_FUTURES_PRICE_FORMULA:
                value = None
            elif key == "futures_price":
                raise InputTypeError(
                    f"{cells[key]}: futures_price must be a number > 0 or the formula "
                    f"{DEFAULT_FUTURES_PRICE_FORMULA}, got {describe(text)}")
            else:
                raise InputTypeError(f"{cells[key]}: {key} must be a value, got "
                                     f"{describe(text)}")
        raw[key] = value
    return settings_from(raw, lambda key: cells[key])


def read_position(wb: Workbook) -> float:
    """The current futures position (``CurrentContracts``; blank = 0)."""
    sheet, ref = name_destinations(wb, ["CurrentContracts"])["CurrentContracts"]
    cell = wb[sheet][ref.split(":")[0]]
    where = f"{sheet}!{cell.coordinate}"
    position = cell.value
    if isinstance(position, str) or cell.data_type == "f":
        raise InputTypeError(f"{where}: current_contracts must be a number, got "
                             f"{describe(str(getattr(position, 'text', position)))}")
    return 0.0 if position is None else located(
        where, lambda: as_float("current_contracts", position))
