"""The inputs of a BetaNeutral book read from files: CSV prices and holdings, TOML settings.

:func:`read_csv_inputs` reads a holdings CSV, a prices CSV (wide or long) and
an optional settings TOML file into a :class:`~betaneutral.workbook.inputs.BookInputs`.
Errors name the file, the row (1-based, the header is row 1) and the column.
The helpers (:func:`csv_rows`, :func:`parse_dates`, ...) are shared with the
backtest's file readers (:mod:`betaneutral.workbook.history`).

No reader fills gaps: a missing price stays missing (``NaN``).
"""

from __future__ import annotations

import csv
import math
import os
import tomllib
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from betaneutral.core._validate import as_float, positive
from betaneutral.errors import (
    DomainError,
    InputTypeError,
    InsufficientDataError,
    UnknownNameError,
)
from betaneutral.safetext import validate_identifier
from betaneutral.workbook.inputs import (
    SETTINGS_NAMES,
    BookInputs,
    BookSettings,
    located,
    settings_from,
)

__all__ = [
    "AUXILIARY_PRICE_COLUMNS",
    "DATE_COLUMNS",
    "book_inputs",
    "check_row_lengths",
    "csv_number",
    "csv_price",
    "csv_rows",
    "csv_table",
    "csv_where",
    "held_asset",
    "parse_dates",
    "read_book_prices",
    "read_csv_inputs",
    "read_holdings_csv",
    "read_prices_csv",
    "read_settings_toml",
]

DATE_COLUMNS = ("date", "time", "timestamp", "datetime")


def csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(row number, fields) of a CSV file; the header is row 1. UTF-8, BOM allowed."""
    number = 0
    with open(path, newline="", encoding="utf-8-sig") as fh:
        try:
            for number, fields_ in enumerate(csv.reader(fh), start=1):
                if any(f.strip() for f in fields_):  # skip blank lines
                    yield number, fields_
        except UnicodeDecodeError as exc:
            raise InputTypeError(f"{path}: file must be UTF-8 text, got the byte "
                                 f"0x{exc.object[exc.start]:02x} after row {number}") from None
        except csv.Error as exc:
            raise InputTypeError(f"{csv_where(path, number + 1)}: row must be valid CSV, "
                                 f"got an error: {exc}") from None


def csv_table(path: Path, what: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the (row number, fields) body of a CSV file that must not be empty."""
    rows = list(csv_rows(path))
    if not rows:
        raise InsufficientDataError(f"{path}: {what} file must have a header and rows, "
                                    "got an empty file")
    return rows[0][1], rows[1:]


def csv_where(path: Path, row: int, column: str | None = None) -> str:
    return f"{path} row {row}" + ("" if column is None else f", column {column!r}")


def check_row_lengths(path: Path, header: list[str], body: list[tuple[int, list[str]]]
                       ) -> None:
    """Every row of a CSV body has as many fields as the header."""
    for row, fields_ in body:
        if len(fields_) != len(header):
            raise InputTypeError(f"{csv_where(path, row)}: row must have {len(header)} "
                                 f"fields as the header, got {len(fields_)}")


def held_asset(path: Path, row: int, column: str, text: str, price_columns: list[str]) -> str:
    """A holdings file's asset field: an identifier naming one of the price columns."""
    where = csv_where(path, row, column)
    asset = located(where, lambda: validate_identifier("asset", text.strip()))
    if asset not in price_columns:
        raise UnknownNameError(f"{where}: asset must be one of the price columns "
                               f"{price_columns}, got {asset!r}")
    return asset


def csv_price(path: Path, row: int, column: str, symbol: str, text: str) -> float:
    value = csv_number(path, row, column, f"price of {symbol}", text, blank_ok=True)
    if not math.isnan(value):
        located(csv_where(path, row, column), lambda: positive(f"price of {symbol}", value))
    return value


def csv_number(path: Path, row: int, column: str, label: str, text: str, *,
                blank_ok: bool) -> float:
    where = csv_where(path, row, column)
    stripped = text.strip()
    if not stripped:
        if blank_ok:
            return math.nan
        raise InputTypeError(f"{where}: {label} must be a number, got a blank field")
    try:
        value = float(stripped)
    except ValueError:
        raise InputTypeError(f"{where}: {label} must be a number, got {text!r}") from None
    return located(where, lambda: as_float(label, value))


def parse_dates(path: Path, column: str, texts: list[tuple[int, str]]) -> list[pd.Timestamp]:
    """ISO 8601 timestamps as naive UTC dates (tz-aware converted to UTC, then the date)."""
    out = []
    for row, text in texts:
        try:
            stamp = pd.Timestamp(text.strip())
        except (ValueError, TypeError):
            stamp = pd.NaT
        if not text.strip() or stamp is pd.NaT:
            raise InputTypeError(f"{csv_where(path, row, column)}: date must be an ISO 8601 "
                                 f"date or timestamp, got {text!r}")
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        out.append(stamp.tz_localize(None).normalize())
    return out


#: Columns of a wide prices file that are not prices: read by the backtest
#: (:mod:`betaneutral.workbook.history`), skipped by the book readers.
AUXILIARY_PRICE_COLUMNS: tuple[str, ...] = ("funding_rate_8h",)


def read_prices_csv(path: Path) -> pd.DataFrame:
    header, body = csv_table(path, "prices")
    header = [h.strip() for h in header]
    lower = [h.lower() for h in header]
    long = {"date", "symbol", "close"} <= set(lower)
    cells: dict[tuple[pd.Timestamp, str], float] = {}
    first_row: dict[tuple[pd.Timestamp, str], int] = {}
    symbols: list[str] = []
    if long:
        i_date, i_sym, i_close = (lower.index(k) for k in ("date", "symbol", "close"))
        check_row_lengths(path, header, body)
        dates = parse_dates(path, header[i_date], [(r, f[i_date]) for r, f in body])
        for (row, fields_), date in zip(body, dates, strict=True):
            where = csv_where(path, row, header[i_sym])
            symbol = located(where, lambda f=fields_: validate_identifier(
                "symbol", f[i_sym].strip()))
            value = csv_price(path, row, header[i_close], symbol, fields_[i_close])
            key = (date, symbol)
            if key in cells:
                raise DomainError(f"{csv_where(path, row)}: (date, symbol) must be unique, got "
                                  f"{date:%Y-%m-%d} {symbol} again (first in row "
                                  f"{first_row[key]})")
            cells[key], first_row[key] = value, row
            if symbol not in symbols:
                symbols.append(symbol)
    else:
        if lower[0] not in DATE_COLUMNS:
            raise UnknownNameError(
                f"{csv_where(path, 1, header[0])}: the first column must be the date "
                f"({' or '.join(DATE_COLUMNS)}), or the file must have the columns date, "
                f"symbol, close; got {header}")
        columns: list[int] = []
        for j, name in enumerate(header[1:], start=1):
            if name.lower() in AUXILIARY_PRICE_COLUMNS:
                continue
            where = csv_where(path, 1, name)
            located(where, lambda n=name: validate_identifier("asset column", n))
            if name in symbols:
                raise DomainError(f"{where}: asset columns must be unique, got {name!r} twice")
            symbols.append(name)
            columns.append(j)
        check_row_lengths(path, header, body)
        dates = parse_dates(path, header[0], [(r, f[0]) for r, f in body])
        for (row, fields_), date in zip(body, dates, strict=True):
            if (date, symbols[0]) in cells:
                raise DomainError(f"{csv_where(path, row, header[0])}: dates must be unique "
                                  f"UTC days, got {date:%Y-%m-%d} again (first in row "
                                  f"{first_row[(date, symbols[0])]})")
            for j, symbol in zip(columns, symbols, strict=True):
                cells[(date, symbol)] = csv_price(path, row, symbol, symbol, fields_[j])
                first_row[(date, symbol)] = row
    index = pd.DatetimeIndex(sorted({d for d, _ in cells}), name="date")
    frame = pd.DataFrame(np.nan, index=index, columns=symbols)
    for (date, symbol), value in cells.items():
        frame.at[date, symbol] = value
    return frame


def read_holdings_csv(path: Path, price_columns: list[str]) -> pd.DataFrame:
    header, body = csv_table(path, "holdings")
    lower = [h.strip().lower() for h in header]
    for required in ("asset", "quantity"):
        if required not in lower:
            raise UnknownNameError(f"{csv_where(path, 1)}: holdings must have the columns "
                                   f"asset, quantity[, price], got {header}")
    unknown = [h for h in lower if h not in ("asset", "quantity", "price")]
    if unknown or len(set(lower)) != len(lower):
        raise UnknownNameError(f"{csv_where(path, 1)}: holdings columns must be asset, "
                               f"quantity[, price] once each, got {header}")
    i_asset, i_qty = lower.index("asset"), lower.index("quantity")
    i_price = lower.index("price") if "price" in lower else None
    assets, quantities, marks = [], [], []
    check_row_lengths(path, header, body)
    for row, fields_ in body:
        assets.append(held_asset(path, row, header[i_asset], fields_[i_asset], price_columns))
        quantities.append(csv_number(path, row, header[i_qty], "quantity", fields_[i_qty],
                                      blank_ok=False))
        if i_price is not None:
            mark = csv_number(path, row, header[i_price], "price", fields_[i_price],
                               blank_ok=True)
            if not math.isnan(mark):
                located(csv_where(path, row, header[i_price]),
                         lambda m=mark: positive("price", m))
            marks.append(mark)
    if not assets:
        raise InsufficientDataError(f"{path}: holdings must have >= 1 row, got 0")
    data: dict[str, Any] = {"asset": assets, "quantity": quantities}
    if i_price is not None:
        data["price"] = marks
    return pd.DataFrame(data)


def _normal_key(key: str) -> str:
    return key.lower().replace("_", "")


_TOML_KEYS: dict[str, str] = {
    **{_normal_key(f): f for f in SETTINGS_NAMES},
    **{_normal_key(n): f for f, n in SETTINGS_NAMES.items()},
    "currentcontracts": "current_contracts",
}


def read_settings_toml(path: Path) -> tuple[BookSettings, float]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputTypeError(f"{path}: settings must be valid TOML, got an error: {exc}") from None
    except UnicodeDecodeError:
        raise InputTypeError(f"{path}: settings must be UTF-8 text, got bytes that are "
                             "not") from None
    raw: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in data.items():
        target = _TOML_KEYS.get(_normal_key(key))
        if target is None:
            raise UnknownNameError(
                f"{path}: key {key!r} must be one of {[*SETTINGS_NAMES, 'current_contracts']} "
                "(or the Settings defined names)")
        if target in raw:
            raise DomainError(f"{path}: key {key!r} sets {target} again (also {origin[target]!r})")
        raw[target], origin[target] = value, key
    current = raw.pop("current_contracts", 0.0)
    current = located(f"{path}: key {origin.get('current_contracts')!r}",
                       lambda: as_float("current_contracts", current))
    defaults = {f.name: getattr(BookSettings(), f.name) for f in fields(BookSettings)}
    settings = settings_from({**defaults, **raw},
                              lambda key: f"{path}: key {origin.get(key, key)!r}")
    return settings, current


def read_csv_inputs(
    holdings_csv: str | os.PathLike[str],
    prices_csv: str | os.PathLike[str],
    settings_toml: str | os.PathLike[str] | None = None,
) -> BookInputs:
    """Read a book from CSV files and an optional settings TOML file.

    Parameters
    ----------
    holdings_csv : path-like
        Header ``asset,quantity`` with an optional ``price`` column (any order,
        any case). ``asset`` must be a price column; ``quantity`` in units
        (< 0 short); ``price`` (USD, > 0 or blank) is kept in ``holdings`` for
        reference only: the workbook values holdings at the last close.
    prices_csv : path-like
        Daily closes in USD, either *wide* (first column ``date``, then one
        column per asset) or *long* (columns ``date``, ``symbol``, ``close``).
        A wide file's ``funding_rate_8h`` column is not a price and is skipped
        (the backtest reads it).
        Blank = missing price (never filled). Must include BTC and ETH.
    settings_toml : path-like, optional
        Top-level keys named as the :class:`BookSettings` fields or the
        Settings defined names (case and underscores ignored, e.g.
        ``target_beta`` or ``TargetBeta``), plus ``current_contracts``. Absent
        keys take the template defaults; ``futures_price`` absent = last BTC
        close.

    Returns
    -------
    BookInputs
        Prices restricted to BTC, ETH and the held assets (in that order),
        sorted by date.

    Raises
    ------
    InputTypeError
        A field is not a number/date/identifier, or a row has the wrong
        number of fields, or the TOML is invalid.
    DomainError
        A price <= 0, a setting out of range, or a repeated date (or date and
        symbol).
    UnknownNameError
        Unknown columns or keys, an asset without prices, BTC or ETH missing.
    InsufficientDataError
        Empty files, fewer than 2 dates or no holding.

    Notes
    -----
    Dates are ISO 8601 dates or timestamps. A timestamp without a zone is
    taken as UTC; one with a zone or offset is converted to UTC. The UTC
    calendar day is kept as a naive date (``2024-01-01T22:00:00-05:00`` is
    2024-01-02), so two rows on the same UTC day are an error. Error messages
    name the file, the row (1-based, the header is row 1) and the column.
    """
    prices = read_book_prices(Path(prices_csv))
    holdings = read_holdings_csv(Path(holdings_csv), list(prices.columns))
    return book_inputs(prices, holdings, settings_toml)


def read_book_prices(path: Path) -> pd.DataFrame:
    """A prices CSV that can carry a book: BTC and ETH columns, at least 2 dates."""
    prices = read_prices_csv(path)
    for required in ("BTC", "ETH"):
        if required not in prices.columns:
            raise UnknownNameError(f"{path}: prices must have a {required!r} column, "
                                   f"got {list(prices.columns)}")
    if len(prices) < 2:
        raise InsufficientDataError(f"{path}: prices must have >= 2 dates, got {len(prices)}")
    return prices


def book_inputs(prices: pd.DataFrame, holdings: pd.DataFrame,
                 settings_toml: str | os.PathLike[str] | None) -> BookInputs:
    """The book of CSV files: prices of BTC, ETH and the holdings, and the settings."""
    columns = list(dict.fromkeys(["BTC", "ETH", *holdings["asset"]]))
    if settings_toml is None:
        settings, current = BookSettings(), 0.0
    else:
        settings, current = read_settings_toml(Path(settings_toml))
    return BookInputs(prices=prices[columns], holdings=holdings, settings=settings,
                      current_contracts=current)
