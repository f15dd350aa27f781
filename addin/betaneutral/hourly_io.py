"""Hourly closes for ``betaneutral backtest``: read, checked, split into the daily book and
the intraday series of the betas.

A wide prices file whose timestamps put two rows on one UTC day is an intraday
file: ``date`` (or ``time``, ``timestamp``, ``datetime``) then one column per
asset, ISO 8601 timestamps (no zone = UTC). The book is valued at each UTC
day's last close (:func:`betaneutral.core.intraday.daily_closes`); the betas use
the hourly returns up to that close.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from betaneutral.bookdata import BookInputs, located
from betaneutral.core.intraday import IntradayPrices, daily_closes, intraday_prices
from betaneutral.errors import DomainError, InsufficientDataError
from betaneutral.safetext import validate_identifier
from betaneutral.sources import (
    DATE_COLUMNS,
    book_inputs,
    check_row_lengths,
    csv_price,
    csv_table,
    csv_where,
    read_holdings_csv,
)

__all__ = ["hourly_book_inputs", "read_intraday_prices"]


def read_intraday_prices(prices_csv: str | os.PathLike[str]) -> pd.DataFrame | None:
    """The closes of an intraday wide prices file, or None for a daily (or long) file.

    A file is intraday when some timestamp has a time of day and some UTC day
    has more than one row.

    Returns
    -------
    pandas.DataFrame or None
        Closes indexed by naive UTC timestamps (sorted), one column per asset.

    Raises
    ------
    InputTypeError
        A price that cannot be read (file, row and column named); a timestamp
        that cannot be read leaves the file to the daily reader, which names it.
    DomainError
        A price <= 0, a repeated timestamp, or a ``funding_rate_8h`` column
        (daily files only).
    """
    path = Path(prices_csv)
    header, body = csv_table(path, "prices")
    header = [h.strip() for h in header]
    lower = [h.lower() for h in header]
    if not header or lower[0] not in DATE_COLUMNS or {"symbol", "close"} <= set(lower):
        return None
    stamps = []
    for _row, fields_ in body:
        text = fields_[0].strip() if fields_ else ""
        try:
            stamp = pd.Timestamp(text) if text else pd.NaT
        except (ValueError, TypeError):
            stamp = pd.NaT
        if stamp is pd.NaT:
            return None  # the daily reader names the row and the column
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        stamps.append(stamp.tz_localize(None))
    index = pd.DatetimeIndex(stamps)
    if (index == index.normalize()).all() or not index.normalize().has_duplicates:
        return None  # dates only, or one row a day: the daily readers take it
    if "funding_rate_8h" in lower:
        raise DomainError(f"{path}: a funding_rate_8h column must be in a daily prices file, "
                          f"got it in an hourly one")
    check_row_lengths(path, header, body)
    if index.has_duplicates:
        at = index[index.duplicated()][0]
        raise DomainError(f"{path}: timestamps must be unique, got {at:%Y-%m-%d %H:%M} again")
    for name in header[1:]:
        located(csv_where(path, 1, name), lambda n=name: validate_identifier("asset column", n))
    if len(set(header[1:])) != len(header) - 1:
        raise DomainError(f"{path}: asset columns must be unique, got {header[1:]}")
    data = {name: [csv_price(path, row, name, name, fields_[j]) for row, fields_ in body]
            for j, name in enumerate(header) if j > 0}
    return pd.DataFrame(data, index=index).sort_index()


def hourly_book_inputs(holdings_csv: str | os.PathLike[str], closes: pd.DataFrame,
                       settings_toml: str | os.PathLike[str] | None = None,
                       ) -> tuple[BookInputs, IntradayPrices]:
    """The daily book (last close of each UTC day) and the hourly closes of its betas.

    Parameters
    ----------
    holdings_csv : path-like
        ``asset, quantity`` (fixed quantities; a dated holdings history needs
        a daily prices file).
    closes : pandas.DataFrame
        From :func:`read_intraday_prices`; must have BTC and ETH columns.
    settings_toml : path-like, optional

    Returns
    -------
    inputs : BookInputs
        Prices = the daily closes.
    intraday : IntradayPrices
        Hourly closes of the holdings and of BTC (the hedge's underlying).

    Raises
    ------
    UnknownNameError, InsufficientDataError, DomainError
        As :func:`betaneutral.workbook.inputs.read_csv_inputs`; a dated
        holdings file.
    """
    from betaneutral import history

    for required in ("BTC", "ETH"):
        if required not in closes.columns:
            raise InsufficientDataError(f"prices must have a {required!r} column, got "
                                        f"{list(closes.columns)}")
    if history.has_date_column(holdings_csv):
        raise DomainError(f"{holdings_csv}: a holdings history (date column) needs daily "
                          f"prices, got an hourly prices file")
    daily = daily_closes(closes)
    holdings = read_holdings_csv(Path(holdings_csv), list(daily.columns))
    inputs = book_inputs(daily, holdings, settings_toml)
    assets = list(inputs.holdings["asset"])
    return inputs, intraday_prices(closes[assets], closes["BTC"])
