"""Dated inputs the backtest reads besides a book: funding rates and a holdings history.

Both come from the CSV files of ``betaneutral backtest``:

* a ``funding_rate_8h`` column in a wide prices file: the day's average 8-hour
  funding rate of the hedge perpetual (blank = not known that day);
* a ``date`` column in the holdings file, which turns it into a history: each
  row ``date, asset, quantity`` sets the quantity held from that day's close
  until the asset's next row.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from betaneutral.bookdata import located
from betaneutral.core._validate import in_range
from betaneutral.errors import (
    DomainError,
    InsufficientDataError,
    UnknownNameError,
)
from betaneutral.sources import (
    AUXILIARY_PRICE_COLUMNS,
    check_row_lengths,
    csv_number,
    csv_rows,
    csv_table,
    csv_where,
    held_asset,
    parse_dates,
)

__all__ = ["has_date_column", "quantity_schedule", "read_funding_column",
           "read_holdings_history"]

_FUNDING = AUXILIARY_PRICE_COLUMNS[0]
_DATE_NAMES = ("date", "time")


def read_funding_column(prices_csv: str | os.PathLike[str],
                        date_format: str | None = None) -> pd.Series | None:
    """The ``funding_rate_8h`` column of a wide prices file, or None when it has none.

    Returns
    -------
    pandas.Series or None
        Rates per 8 hours indexed by UTC date (naive); NaN where blank.

    Raises
    ------
    InputTypeError
        A field is not a number or a date is not ISO 8601.
    DomainError
        A rate outside [-0.05, 0.05] (the file, row and column are named).
    """
    path = Path(prices_csv)
    rows = list(csv_rows(path))
    if not rows:
        return None
    header = [h.strip() for h in rows[0][1]]
    lower = [h.lower() for h in header]
    if _FUNDING not in lower or lower[0] not in _DATE_NAMES:
        return None
    col = lower.index(_FUNDING)
    body = [(r, f) for r, f in rows[1:] if len(f) == len(header)]
    dates = parse_dates(path, header[0], [(r, f[0]) for r, f in body], date_format)
    values = []
    for row, fields_ in body:
        rate = csv_number(path, row, header[col], "funding rate", fields_[col], blank_ok=True)
        if not math.isnan(rate):
            located(csv_where(path, row, header[col]),
                     lambda v=rate: in_range("funding_rate_8h", v, -0.05, 0.05))
        values.append(rate)
    return pd.Series(values, index=pd.DatetimeIndex(dates, name="date"), name=_FUNDING)


def has_date_column(holdings_csv: str | os.PathLike[str]) -> bool:
    """True when a holdings file has a ``date`` column (a holdings history)."""
    for _, header in csv_rows(Path(holdings_csv)):
        return "date" in [h.strip().lower() for h in header]
    return False


def read_holdings_history(holdings_csv: str | os.PathLike[str],
                          price_columns: list[str],
                          date_format: str | None = None) -> pd.DataFrame:
    """A dated holdings file: columns ``date``, ``asset``, ``quantity`` (any order, any case).

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (naive UTC day), ``asset``, ``quantity``, sorted by date.

    Raises
    ------
    UnknownNameError
        Missing or unknown columns, or an asset that is not a price column.
    InputTypeError
        A field is not a number, a date or an identifier.
    DomainError
        The same asset twice on one date.
    InsufficientDataError
        No rows.
    """
    path = Path(holdings_csv)
    header, body = csv_table(path, "holdings")
    lower = [h.strip().lower() for h in header]
    if sorted(lower) != ["asset", "date", "quantity"]:
        raise UnknownNameError(f"{csv_where(path, 1)}: a holdings history must have the "
                               f"columns date, asset, quantity once each, got {header}")
    i_date, i_asset, i_qty = (lower.index(k) for k in ("date", "asset", "quantity"))
    check_row_lengths(path, header, body)
    dates = parse_dates(path, header[i_date], [(r, f[i_date]) for r, f in body],
                        date_format)
    out, seen = [], {}
    for (row, fields_), date in zip(body, dates, strict=True):
        asset = held_asset(path, row, header[i_asset], fields_[i_asset], price_columns)
        if (date, asset) in seen:
            raise DomainError(f"{csv_where(path, row)}: (date, asset) must be unique, got "
                              f"{date:%Y-%m-%d} {asset} again (first in row "
                              f"{seen[(date, asset)]})")
        seen[(date, asset)] = row
        qty = csv_number(path, row, header[i_qty], "quantity", fields_[i_qty], blank_ok=False)
        out.append((date, asset, qty))
    if not out:
        raise InsufficientDataError(f"{path}: holdings must have >= 1 row, got 0")
    frame = pd.DataFrame(out, columns=["date", "asset", "quantity"])
    return frame.sort_values("date", kind="stable").reset_index(drop=True)


def quantity_schedule(history: pd.DataFrame, dates: pd.DatetimeIndex,
                      assets: list[str]) -> np.ndarray:
    """Quantities held at each date's close, one column per asset.

    A row of ``history`` dated ``d`` applies from the first price date on or
    after ``d`` until the asset's next row; before an asset's first row its
    quantity is 0.

    Raises
    ------
    InsufficientDataError
        A history row is dated after the last price date.
    """
    last = dates[-1]
    late = history[history["date"] > last]
    if len(late):
        raise InsufficientDataError(
            f"holdings history must be dated on or before the last price date "
            f"{last:%Y-%m-%d}, got {late['date'].iloc[0]:%Y-%m-%d}")
    out = np.zeros((len(dates), len(assets)))
    for j, asset in enumerate(assets):
        rows = history[history["asset"] == asset]
        for date, qty in zip(rows["date"], rows["quantity"], strict=True):
            out[dates.searchsorted(date):, j] = qty
    return out
