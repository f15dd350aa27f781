"""The inputs of a BetaNeutral book read from files: CSV prices and holdings, TOML settings.

:func:`read_csv_inputs` reads a holdings CSV, a prices CSV (wide or long) and
an optional settings TOML file into a :class:`~betaneutral.workbook.inputs.BookInputs`.
Errors name the file, the row (1-based, the header is row 1) and the column.
The helpers (:func:`csv_rows`, :func:`parse_dates`, ...) are shared with the
backtest's file readers (:mod:`betaneutral.history`).

No reader fills gaps: a missing price stays missing (``NaN``).
"""

from __future__ import annotations

import csv
import math
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from betaneutral.bookdata import (
    SETTINGS_NAMES,
    BookInputs,
    BookSettings,
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

__all__ = [
    "AUXILIARY_PRICE_COLUMNS",
    "DATE_COLUMNS",
    "DATE_FORMATS",
    "MAX_CSV_BYTES",
    "MAX_CSV_FIELDS",
    "MAX_TOML_BYTES",
    "book_inputs",
    "check_delimiter",
    "check_file_size",
    "check_held_eth",
    "check_row_lengths",
    "check_valuation_closes",
    "csv_number",
    "csv_price",
    "csv_rows",
    "csv_table",
    "csv_where",
    "held_asset",
    "merge_holdings",
    "parse_dates",
    "read_book_prices",
    "read_csv_inputs",
    "read_holdings_csv",
    "read_prices_csv",
    "read_settings_toml",
]

DATE_COLUMNS = ("date", "time", "timestamp", "datetime")


#: Memory bound of the CSV readers: a file is at most this many bytes ...
MAX_CSV_BYTES = 32 * 1024 * 1024
#: ... and this many fields in all (a book of 200 holdings x 2,000 days is 406,000 prices
#: wide, or 1.2 million fields long). Read, a field takes about 100 bytes of memory.
MAX_CSV_FIELDS = 3_000_000
#: A settings file is a few lines.
MAX_TOML_BYTES = 1024 * 1024


def check_file_size(path: Path, limit: int, what: str) -> None:
    """Refuse a file larger than ``limit`` bytes before reading it (the memory bound)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return  # open() reports it as a file problem
    if size > limit:
        raise DomainError(f"{path}: {what} must be at most {limit:,} bytes (the memory bound "
                          f"of the readers), got {size:,}")


def csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(row number, fields) of a CSV file; the header is row 1. UTF-8, BOM allowed.

    Files over :data:`MAX_CSV_BYTES`, or holding more than :data:`MAX_CSV_FIELDS`
    fields, are refused (:class:`DomainError`) before they are read further.
    """
    check_file_size(path, MAX_CSV_BYTES, "a CSV file")
    number = 0
    seen = 0
    with open(path, newline="", encoding="utf-8-sig") as fh:
        try:
            for number, fields_ in enumerate(csv.reader(fh), start=1):
                seen += len(fields_)
                if seen > MAX_CSV_FIELDS:
                    raise DomainError(f"{path}: a CSV file must hold at most "
                                      f"{MAX_CSV_FIELDS:,} fields (the memory bound of the "
                                      f"readers), got more by row {number}")
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
    check_delimiter(path, rows[0][1])
    return rows[0][1], rows[1:]


def check_delimiter(path: Path, header: list[str]) -> None:
    """A header read as one field that holds ``;`` or a tab is another delimiter's file.

    Spreadsheets in locales with a decimal comma export CSV with ``;`` between
    fields (``date;BTC`` then ``2024-01-01;64000,5``); read with ``,`` its rows
    would split inside the numbers, so it is refused with the delimiter named.
    """
    if len(header) != 1:
        return
    for delimiter, name in ((";", "semicolons (';')"), ("\t", "tabs")):
        if delimiter in header[0]:
            raise InputTypeError(
                f"{csv_where(path, 1)}: fields must be separated by commas, got a header "
                f"separated by {name}: {header[0]!r}. This is how spreadsheets with a decimal "
                "comma export CSV; save it with ',' between fields and '.' as the decimal "
                "point (or change the list separator in the system's regional settings)")


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


#: Values of the ``date_format`` option (``--date-format``): ``auto`` reads ISO dates
#: and numeric day/month dates whose order the column itself proves; ``dmy`` and
#: ``mdy`` fix the order of numeric dates; ``iso`` accepts year-first dates only.
DATE_FORMATS: tuple[str, ...] = ("auto", "iso", "dmy", "mdy")

# Year first (ISO 8601 and its '/' and '.' spellings): unambiguous, parsed by pandas.
_YEAR_FIRST = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})((?:[T ].*)?)$")
# Day and month first, in either order, with '.', '-' or '/' and a 2- or 4-digit year,
# optionally followed by a time of day (taken as UTC).
_NUMERIC = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})"
                      r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$")


def _two_digit_year(year: str) -> int:
    """A 4-digit year as is; 2 digits as Excel reads them (00-29 -> 20xx, 30-99 -> 19xx)."""
    value = int(year)
    if len(year) == 4:
        return value
    return 2000 + value if value < 30 else 1900 + value


def parse_dates(path: Path, column: str, texts: list[tuple[int, str]],
                date_format: str | None = None) -> list[pd.Timestamp]:
    """Dates of a CSV column as naive UTC days, never guessing the day/month order.

    Parameters
    ----------
    path : Path
        The file (for messages).
    column : str
        The column's header (for messages).
    texts : list of (int, str)
        (row number, field) of each row.
    date_format : {"auto", "iso", "dmy", "mdy"} or None
        None or ``"auto"``: year-first dates (ISO 8601: ``2024-10-13``,
        ``2024-10-13T22:00:00-05:00``, also ``2024/10/13`` and ``2024.10.13``)
        and numeric day/month dates (``13/10/2024``, ``13.10.24``,
        ``10-13-2024``), the order of the latter proven by the column: some
        field above 12 in the first position means day-first, in the second
        month-first. ``"dmy"`` / ``"mdy"`` fix that order; ``"iso"`` accepts
        year-first dates only.

    Returns
    -------
    list of pandas.Timestamp
        Naive dates; a timestamp with a zone is converted to UTC first, one
        without a zone is taken as UTC.

    Raises
    ------
    InputTypeError
        A field is not a date in an accepted form.
    DomainError
        The day/month order is not proven (every numeric date has both fields
        <= 12: the message names the column and two example rows), or the
        column holds both orders, or the date does not exist (31/02/2024).

    Notes
    -----
    Two-digit years follow Excel's rule: 00-29 are 2000-2029, 30-99 are
    1930-1999.
    """
    fmt = "auto" if date_format is None else date_format
    if fmt not in DATE_FORMATS:
        raise UnknownNameError(f"date_format must be one of {list(DATE_FORMATS)}, got {fmt!r}")
    out: list[pd.Timestamp | None] = []
    numeric: list[tuple[int, int, str, re.Match[str]]] = []  # (position, row, text, match)
    for row, text in texts:
        stripped = text.strip()
        where = csv_where(path, row, column)
        year_first = _YEAR_FIRST.match(stripped)
        if year_first:
            y, mo, d, rest = year_first.groups()
            try:
                stamp = pd.Timestamp(f"{y}-{int(mo):02d}-{int(d):02d}{rest}")
            except (ValueError, TypeError):
                stamp = pd.NaT
            if stamp is pd.NaT:
                raise InputTypeError(f"{where}: date must be a valid date, got {text!r}")
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
            out.append(stamp.tz_localize(None).normalize())
            continue
        match = _NUMERIC.match(stripped)
        if match is None or fmt == "iso":
            raise InputTypeError(
                f"{where}: date must be an ISO 8601 date or timestamp (2024-10-13)"
                + ("" if fmt == "iso" else ", or a numeric day/month date such as 13/10/2024 "
                   "or 10/13/2024 ('.', '-' or '/', 2- or 4-digit year)")
                + f", got {text!r}")
        numeric.append((len(out), row, text, match))
        out.append(None)
    if numeric:
        day_first = _day_first(path, column, numeric, fmt)
        for position, row, text, m in numeric:
            first, second = int(m.group(1)), int(m.group(3))
            day, month = (first, second) if day_first else (second, first)
            try:
                stamp = pd.Timestamp(year=_two_digit_year(m.group(4)), month=month, day=day)
            except ValueError:
                order = "day-first" if day_first else "month-first"
                raise DomainError(f"{csv_where(path, row, column)}: date must exist, got "
                                  f"{text!r} (read {order})") from None
            out[position] = stamp
    return out  # type: ignore[return-value]


def _day_first(path: Path, column: str, numeric: list[tuple[int, int, str, re.Match[str]]],
               fmt: str) -> bool:
    """Whether the numeric dates of a column are day-first, proven by the column or fixed."""
    if fmt in ("dmy", "mdy"):
        return fmt == "dmy"
    day_first = [(row, text) for _, row, text, m in numeric if int(m.group(1)) > 12]
    month_first = [(row, text) for _, row, text, m in numeric if int(m.group(3)) > 12]
    where = f"{path}, column {column!r}"
    if day_first and month_first:
        (r1, t1), (r2, t2) = day_first[0], month_first[0]
        raise DomainError(f"{where}: dates must all be day-first or all month-first, got "
                          f"{t1!r} (row {r1}, day-first) and {t2!r} (row {r2}, month-first)")
    if day_first or month_first:
        return bool(day_first)
    examples = " and ".join(f"{text!r} (row {row})" for _, row, text, _ in numeric[:2])
    raise DomainError(
        f"{where}: the day/month order of the dates must be clear, got only dates whose day "
        f"and month are both <= 12, such as {examples}; give --date-format dmy "
        "(day-first) or mdy (month-first), or write the dates as ISO 8601 (2024-10-13)")


#: Columns of a wide prices file that are not prices: read by the backtest
#: (:mod:`betaneutral.history`), skipped by the book readers.
AUXILIARY_PRICE_COLUMNS: tuple[str, ...] = ("funding_rate_8h",)


def _plain_prices(fields_: list[str], columns: list[int]) -> list[float] | None:
    """A row's prices when each field is blank or a finite number > 0 (as
    :func:`csv_price` reads them, without a location for every field), else None."""
    texts = [fields_[j] for j in columns]
    try:
        values = [float(t) if t.strip() else math.nan for t in texts]
    except ValueError:
        return None
    for value, text in zip(values, texts, strict=True):
        if not (0.0 < value < math.inf) and (value == value or text.strip()):
            return None
    return values


def read_prices_csv(path: Path, date_format: str | None = None) -> pd.DataFrame:
    """Daily closes of a wide or long prices CSV, sorted by date (see :func:`read_csv_inputs`).

    The prices go straight into one float array (blank = NaN), so the memory is
    the text of the file plus 8 bytes a price.
    """
    header, body = csv_table(path, "prices")
    header = [h.strip() for h in header]
    lower = [h.lower() for h in header]
    long = {"date", "symbol", "close"} <= set(lower)
    symbols: list[str] = []
    if long:
        i_date, i_sym, i_close = (lower.index(k) for k in ("date", "symbol", "close"))
        check_row_lengths(path, header, body)
        dates = parse_dates(path, header[i_date], [(r, f[i_date]) for r, f in body],
                            date_format)
        first_row: dict[tuple[pd.Timestamp, str], int] = {}
        column_of: dict[str, int] = {}
        cols, closes = [], []
        for (row, fields_), date in zip(body, dates, strict=True):
            where = csv_where(path, row, header[i_sym])
            symbol = located(where, lambda f=fields_: validate_identifier(
                "symbol", f[i_sym].strip()))
            value = csv_price(path, row, header[i_close], symbol, fields_[i_close])
            key = (date, symbol)
            if key in first_row:
                raise DomainError(f"{csv_where(path, row)}: (date, symbol) must be unique, got "
                                  f"{date:%Y-%m-%d} {symbol} again (first in row "
                                  f"{first_row[key]})")
            first_row[key] = row
            if symbol not in column_of:
                column_of[symbol] = len(symbols)
                symbols.append(symbol)
            cols.append(column_of[symbol])
            closes.append(value)
        index = pd.DatetimeIndex(sorted(set(dates)), name="date")
        values = np.full((len(index), len(symbols)), np.nan)
        values[index.get_indexer(pd.DatetimeIndex(dates)), cols] = closes
        return pd.DataFrame(values, index=index, columns=symbols)
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
    dates = parse_dates(path, header[0], [(r, f[0]) for r, f in body], date_format)
    values = np.full((len(body), len(symbols)), np.nan)
    first_day: dict[pd.Timestamp, int] = {}
    for i, ((row, fields_), date) in enumerate(zip(body, dates, strict=True)):
        if date in first_day:
            raise DomainError(f"{csv_where(path, row, header[0])}: dates must be unique "
                              f"UTC days, got {date:%Y-%m-%d} again (first in row "
                              f"{first_day[date]})")
        first_day[date] = row
        plain = _plain_prices(fields_, columns)
        if plain is not None:
            values[i] = plain
            continue
        for k, j in enumerate(columns):  # a field to report: checked one by one, named
            values[i, k] = csv_price(path, row, symbols[k], symbols[k], fields_[j])
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date"), columns=symbols)
    return frame.sort_index(kind="stable")


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
    return merge_holdings(assets, quantities, marks if i_price is not None else None)


def merge_holdings(assets: list[str], quantities: list[float],
                   marks: list[float] | None = None) -> pd.DataFrame:
    """One row per asset, in order of first appearance, with the summed quantity.

    A book is sized per asset, so an asset listed twice is one holding: merging
    before any sheet is sized keeps the workbook as wide as the distinct assets
    (a file repeating ``ETH,1`` 50,000 times is one row of 50,000 ETH). The
    ``price`` kept for reference is the first one given for the asset.

    Raises
    ------
    DomainError
        A summed quantity beyond the float range.
    """
    order: dict[str, int] = {}
    total: list[float] = []
    mark: list[float] = []
    for i, asset in enumerate(assets):
        j = order.get(asset)
        if j is None:
            order[asset] = len(total)
            total.append(quantities[i])
            mark.append(marks[i] if marks is not None else math.nan)
        else:
            total[j] = total[j] + quantities[i]
            if marks is not None and math.isnan(mark[j]):
                mark[j] = marks[i]
    for asset, j in order.items():
        if not math.isfinite(total[j]):
            raise DomainError(f"quantity of {asset} must be a finite number once its rows are "
                              f"summed, got {total[j]!r}")
    data: dict[str, Any] = {"asset": list(order), "quantity": total}
    if marks is not None:
        data["price"] = mark
    return pd.DataFrame(data)


def _normal_key(key: str) -> str:
    return key.lower().replace("_", "")


_TOML_KEYS: dict[str, str] = {
    **{_normal_key(f): f for f in SETTINGS_NAMES},
    **{_normal_key(n): f for f, n in SETTINGS_NAMES.items()},
    "currentcontracts": "current_contracts",
}


def read_settings_toml(path: Path) -> tuple[BookSettings, float]:
    check_file_size(path, MAX_TOML_BYTES, "a settings file")
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
    *,
    date_format: str | None = None,
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
        Blank = missing price (never filled). Must include BTC (and ETH for the
        BTC/ETH 50/50 benchmark; without it the book gets a blank ETH column).
    settings_toml : path-like, optional
        Top-level keys named as the :class:`BookSettings` fields or the
        Settings defined names (case and underscores ignored, e.g.
        ``target_beta`` or ``TargetBeta``), plus ``current_contracts``. Absent
        keys take the template defaults; ``futures_price`` absent = last BTC
        close.
    date_format : {"auto", "iso", "dmy", "mdy"}, optional
        How the dates are written (see :func:`parse_dates`); default ``auto``.

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
        A price <= 0, a setting out of range, a repeated date (or date and
        symbol), dates whose day/month order the file does not prove, or a
        holding without a close on the valuation date (the last date).
    UnknownNameError
        Unknown columns or keys, an asset without prices, BTC missing, ETH missing
        with the 50/50 benchmark.
    InsufficientDataError
        Empty files, fewer than 2 dates or no holding.

    Notes
    -----
    Dates are ISO 8601 dates or timestamps, or numeric day/month dates whose
    order the column proves or ``date_format`` fixes (:func:`parse_dates`). A
    timestamp without a zone is taken as UTC; one with a zone or offset is
    converted to UTC. The UTC calendar day is kept as a naive date
    (``2024-01-01T22:00:00-05:00`` is 2024-01-02), so two rows on the same UTC
    day are an error. A holdings file listing an asset more than once is read
    as one row with the summed quantity. Error messages name the file, the
    row (1-based, the header is row 1) and the column.
    """
    prices = read_book_prices(Path(prices_csv), date_format)
    holdings = read_holdings_csv(Path(holdings_csv), list(prices.columns))
    check_held_eth(prices, holdings)
    check_valuation_closes(Path(prices_csv), prices, holdings)
    return book_inputs(prices, holdings, settings_toml)


def check_held_eth(prices: pd.DataFrame, holdings: pd.DataFrame) -> None:
    """ETH held needs ETH prices: the blank column :func:`read_book_prices` adds is none."""
    if prices.attrs.get("no_eth") and "ETH" in set(holdings["asset"]):
        columns = [c for c in prices.columns if c != "ETH"]
        raise UnknownNameError(f"{prices.attrs['no_eth']}: prices must have a 'ETH' column "
                               f"(ETH is held), got {columns}")


def check_valuation_closes(path: Path, prices: pd.DataFrame, holdings: pd.DataFrame) -> None:
    """Every holding with a quantity has a close on the valuation date, the last date.

    A holding is valued at its close on the book's last date; a blank there
    would value it at nothing and shrink the hedge, so it is refused, naming
    the asset, the date and its latest close before it.

    Raises
    ------
    DomainError
        A held asset (quantity != 0) has no close on the last date.
    """
    last_row = prices.iloc[-1]
    day = prices.index[-1]
    for asset, qty in zip(holdings["asset"], holdings["quantity"], strict=True):
        if qty != 0.0 and math.isnan(float(last_row[asset])):
            known = prices[asset].dropna()
            before = (f"its latest close is {known.index[-1]:%Y-%m-%d}" if len(known)
                      else "it has no close at all")
            raise DomainError(
                f"{path}: {asset} must have a close on the valuation date {day:%Y-%m-%d} "
                f"(the last date of the prices), got a blank; {before}. Add the close, or "
                "end the prices on a date every holding has")


def read_book_prices(path: Path, date_format: str | None = None) -> pd.DataFrame:
    """A prices CSV that can carry a book: a BTC column, at least 2 dates.

    Without an ETH column the book gets a blank one (ETH is only needed for the
    BTC/ETH 50/50 benchmark, which :func:`book_inputs` then refuses); ``attrs["no_eth"]``
    records it.
    """
    prices = read_prices_csv(path, date_format)
    if "BTC" not in prices.columns:
        raise UnknownNameError(f"{path}: prices must have a 'BTC' column, "
                               f"got {list(prices.columns)}")
    if "ETH" not in prices.columns:
        prices.insert(list(prices.columns).index("BTC") + 1, "ETH", np.nan)
        prices.attrs["no_eth"] = str(path)
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
    if prices.attrs.get("no_eth") and settings.benchmark.upper() != "BTC":
        raise UnknownNameError(f"{prices.attrs['no_eth']}: the benchmark {settings.benchmark!r} "
                               "needs ETH prices, and the file has no 'ETH' column (add it, "
                               "or use the BTC benchmark)")
    return BookInputs(prices=prices[columns], holdings=holdings, settings=settings,
                      current_contracts=current)
