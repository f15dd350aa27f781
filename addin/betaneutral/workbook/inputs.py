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
* :func:`read_csv_inputs` reads a holdings CSV, a prices CSV (wide or long) and
  an optional settings TOML file. Errors name the file, the row (1-based, the
  header is row 1) and the column.

Neither reader fills gaps: a missing price stays missing (``NaN``), and the
beta estimators drop it pair-wise.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.worksheet import Worksheet

from betaneutral.core import contracts as contracts_core
from betaneutral.core._validate import (
    _fmt,
    as_float,
    choice,
    in_range,
    non_negative,
    positive,
    positive_int,
)
from betaneutral.errors import (
    BetaNeutralError,
    DomainError,
    InputTypeError,
    InsufficientDataError,
    UnknownNameError,
)
from betaneutral.safetext import validate_identifier
from betaneutral.workbook.loader import price_block
from betaneutral.workbook.template import DEFAULT_FUTURES_PRICE_FORMULA

__all__ = [
    "BENCHMARK_CHOICES",
    "SETTINGS_NAMES",
    "BookInputs",
    "BookSettings",
    "located",
    "price_value",
    "read_csv_inputs",
    "read_inputs",
    "read_position",
    "read_settings",
]

#: Values of the Settings benchmark choice (compared without regard to case, as Excel's ``=``).
BENCHMARK_CHOICES: tuple[str, ...] = ("BTC", "BTC/ETH 50/50")
_RETURN_TYPES = ("simple", "log")
_BETA_METHODS = ("ols", "blume", "ewma", "ewls", "welch", "welch-decay")

#: Field of :class:`BookSettings` -> defined name of its cell on the Settings sheet.
SETTINGS_NAMES: Mapping[str, str] = {
    "benchmark": "BenchmarkChoice",
    "return_type": "ReturnType",
    "window": "Window",
    "beta_method": "BetaMethod",
    "min_obs": "MinObs",
    "target_beta": "TargetBeta",
    "rebalance_band": "RebalanceBand",
    "hedge_contract": "HedgeContract",
    "futures_price": "FuturesPrice",
    "stress_move": "StressMove",
    "safety_multiplier": "SafetyMultiplier",
    "funding_rate_8h": "FundingRate8h",
    "funding_horizon_days": "FundingHorizonDays",
    "rolling_window": "RollingWindow",
}


# ------------------------------------------------------------ settings checks ---
def _text_choice(name: str, value: Any, options: tuple[str, ...]) -> str:
    choice(name, value, options)  # type and membership (spaces ignored)
    return value  # kept as typed: the formulas and functions see the cell as it is


def _benchmark(name: str, value: Any) -> str:
    choice(name, value, BENCHMARK_CHOICES)
    # The template compares the cell with ="BTC", which ignores case but not spaces.
    if value.lower() not in {c.lower() for c in BENCHMARK_CHOICES}:
        raise UnknownNameError(
            f"{name} must be one of {list(BENCHMARK_CHOICES)} without surrounding spaces, "
            f"got {_fmt(value)}")
    return value


def _contract_name(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InputTypeError(f"{name} must be a contract name (text), got {_fmt(value)}")
    try:
        contracts_core.get_contract(value)
    except UnknownNameError:
        raise UnknownNameError(
            f"{name} must be one of {sorted(contracts_core.CATALOGUE)}, got {_fmt(value)}"
        ) from None
    return value


def _optional_price(name: str, value: Any) -> float | None:
    return None if value is None else positive(name, value)


_SETTING_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "benchmark": _benchmark,
    "return_type": lambda n, v: _text_choice(n, v, _RETURN_TYPES),
    "window": lambda n, v: positive_int(n, v, minimum=0),
    "beta_method": lambda n, v: _text_choice(n, v, _BETA_METHODS),
    "min_obs": lambda n, v: positive_int(n, v, minimum=3),
    "target_beta": lambda n, v: in_range(n, v, -2.0, 2.0),
    "rebalance_band": lambda n, v: in_range(n, v, 0.0, 1.0),
    "hedge_contract": _contract_name,
    "futures_price": _optional_price,
    "stress_move": lambda n, v: in_range(n, v, low=-1.0, low_inclusive=False),
    "safety_multiplier": lambda n, v: in_range(n, v, low=1.0),
    "funding_rate_8h": lambda n, v: in_range(n, v, -0.05, 0.05),
    "funding_horizon_days": non_negative,
    "rolling_window": lambda n, v: positive_int(n, v, minimum=3),
}


@dataclass(frozen=True)
class BookSettings:
    """The values of the Settings sheet (defaults = the template's).

    Text settings keep the spelling they were given (the workbook's formulas
    and functions see the cell as typed); every value is checked against the
    rule the Settings sheet states.

    Attributes
    ----------
    benchmark : str
        ``"BTC"`` or ``"BTC/ETH 50/50"`` (any case): benchmark of the
        "Beta vs benchmark" column and the rolling betas. Name ``BenchmarkChoice``.
    return_type : str
        ``"simple"`` or ``"log"``: returns of the Holdings betas.
    window : int
        Most recent daily returns per beta; 0 = the whole history.
    beta_method : str
        ``"ols"``, ``"blume"``, ``"ewma"``, ``"ewls"``, ``"welch"`` or
        ``"welch-decay"`` (see :mod:`betaneutral.core.estimators`).
    min_obs : int
        Fewest paired returns accepted for a beta (>= 3).
    target_beta : float
        Portfolio beta the hedge aims at, in [-2, 2].
    rebalance_band : float
        Rebalance band in beta units, in [0, 1].
    hedge_contract : str
        Catalogue name of the hedge contract, e.g. ``"BINANCE:BTCUSDT"``.
    futures_price : float or None
        Futures price in USD (> 0); None keeps the template's formula, the
        last BTC close.
    stress_move : float
        BTC rally the short must survive (0.30 = +30%), > -1.
    safety_multiplier : float
        Multiplier on the margin buffer, >= 1.
    funding_rate_8h : float
        Funding rate per 8 hours, in [-0.05, 0.05].
    funding_horizon_days : float
        Horizon of the funding estimate in days, >= 0.
    rolling_window : int
        Window of the rolling betas in days, >= 3.
    """

    benchmark: str = "BTC"
    return_type: str = "simple"
    window: int = 90
    beta_method: str = "ols"
    min_obs: int = 60
    target_beta: float = 0.0
    rebalance_band: float = 0.05
    hedge_contract: str = "BINANCE:BTCUSDT"
    futures_price: float | None = None
    stress_move: float = 0.30
    safety_multiplier: float = 1.2
    funding_rate_8h: float = 0.0001
    funding_horizon_days: float = 30
    rolling_window: int = 90

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _SETTING_CHECKS[f.name](f.name,
                                                                   getattr(self, f.name)))


@dataclass(frozen=True, eq=False)
class BookInputs:
    """Everything a BetaNeutral book is computed from.

    Attributes
    ----------
    prices : pandas.DataFrame
        Daily closes in USD: a ``DatetimeIndex`` named ``date`` (naive, UTC
        dates), columns ``BTC``, ``ETH``, then the held assets in holdings
        order; ``NaN`` = missing price (never filled).
    holdings : pandas.DataFrame
        Columns ``asset`` (a price column) and ``quantity`` (units; < 0 short);
        from CSV also ``price`` when given (see :func:`read_csv_inputs`).
    settings : BookSettings
        The Settings values.
    current_contracts : float
        Contracts of the hedge contract held now (> 0 short, < 0 long).
    """

    prices: pd.DataFrame
    holdings: pd.DataFrame
    settings: BookSettings = field(default_factory=BookSettings)
    current_contracts: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.prices, pd.DataFrame):
            raise InputTypeError(
                f"prices must be a pandas DataFrame, got {type(self.prices).__name__}")
        if not isinstance(self.holdings, pd.DataFrame):
            raise InputTypeError(
                f"holdings must be a pandas DataFrame, got {type(self.holdings).__name__}")
        if not isinstance(self.settings, BookSettings):
            raise InputTypeError(
                f"settings must be a BookSettings, got {type(self.settings).__name__}")
        object.__setattr__(self, "current_contracts",
                           as_float("current_contracts", self.current_contracts))


def _located(where: str, check: Callable[[], Any]) -> Any:
    """Run ``check``; prefix the message of a BetaNeutral error with ``where``."""
    try:
        return check()
    except BetaNeutralError as exc:
        raise type(exc)(f"{where}: {exc}") from None


#: Public name of :func:`_located` (other modules of the package use it).
located = _located


def _describe(value: Any) -> str:
    if value is None:
        return "a blank cell"
    if isinstance(value, str) and value.startswith("="):
        return f"the formula {value!r}"
    return _fmt(value)


def _required(name: str, value: Any) -> Any:
    if value is None:
        raise InputTypeError(f"{name} must be given, got a blank cell")
    return value


def _settings_from(raw: Mapping[str, Any], where: Callable[[str], str]) -> BookSettings:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key != "futures_price":
            _located(where(key), lambda k=key, v=value: _required(k, v))
        if isinstance(value, str) and value.startswith("="):
            raise InputTypeError(f"{where(key)}: {key} must be a value, got {_describe(value)}")
        values[key] = _located(where(key), lambda k=key, v=value: _SETTING_CHECKS[k](k, v))
    return BookSettings(**values)


# -------------------------------------------------------------- from a workbook ---
_INPUT_NAMES = ("Dates", "PriceAssets", "PriceBlock", "HoldingAssets", "HoldingQuantities",
                "CurrentContracts", *SETTINGS_NAMES.values())


def name_destinations(wb: Workbook, names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Defined name -> (sheet, range without ``$``); missing names or sheets raise."""
    missing = [n for n in names if n not in wb.defined_names]
    if missing:
        raise UnknownNameError(f"workbook must define the names {missing}; they are missing "
                               "(is this a BetaNeutral workbook?)")
    out: dict[str, tuple[str, str]] = {}
    absent_sheets: list[str] = []
    for name in names:
        dests = list(wb.defined_names[name].destinations)
        if len(dests) != 1:
            raise UnknownNameError(f"name {name} must refer to one range, got "
                                   f"{wb.defined_names[name].attr_text!r}")
        sheet, ref = dests[0]
        if sheet not in wb.sheetnames:
            absent_sheets.append(sheet)
        out[name] = (sheet, ref.replace("$", ""))
    if absent_sheets:
        raise UnknownNameError(f"workbook must have the sheets {sorted(set(absent_sheets))}; "
                               "they are missing")
    return out


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
        raise InputTypeError(f"{name} must be a number > 0 or blank, got {_describe(value)}")
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
    dest = name_destinations(wb, _INPUT_NAMES)

    # Dates and prices.
    ws, r1, c1, date_rows = _block(wb, dest["Dates"])
    if len(date_rows) < 2:
        raise InsufficientDataError(f"{ws.title}: Dates must hold >= 2 rows, got "
                                    f"{len(date_rows)}")
    dates: list[dt.datetime] = []
    for i, (value,) in enumerate(date_rows):
        where = _coord(ws.title, r1 + i, c1)
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day)
        if not isinstance(value, dt.datetime):
            raise InputTypeError(f"{where}: date must be a date cell, got {_describe(value)}")
        if dates and value <= dates[-1]:
            raise DomainError(f"{where}: dates must be strictly increasing, got {value:%Y-%m-%d}"
                              f" after {dates[-1]:%Y-%m-%d}")
        dates.append(value)

    ws, hr, hc, (header,) = _block(wb, dest["PriceAssets"])
    assets: list[str] = []
    for j, value in enumerate(header):
        where = _coord(ws.title, hr, hc + j)
        asset = _located(where, lambda v=value: validate_identifier("asset", v))
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
                values[i, j] = _located(_coord(ws.title, pr + i, pc + j),
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
        _located(where, lambda v=asset: validate_identifier("asset", v))
        if asset not in assets:
            raise UnknownNameError(f"{where}: asset must be one of the price columns {assets}, "
                                   f"got {asset!r}")
        held.append(asset)
        where = _coord(qws.title, qr + i, qc)
        if isinstance(qty, str) or qty is None:
            raise InputTypeError(f"{where}: quantity must be a number, got {_describe(qty)}")
        quantities.append(_located(where, lambda v=qty: as_float("quantity", v)))
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
                    f"{DEFAULT_FUTURES_PRICE_FORMULA}, got {_describe(text)}")
            else:
                raise InputTypeError(f"{cells[key]}: {key} must be a value, got "
                                     f"{_describe(text)}")
        raw[key] = value
    return _settings_from(raw, lambda key: cells[key])


def read_position(wb: Workbook) -> float:
    """The current futures position (``CurrentContracts``; blank = 0)."""
    sheet, ref = name_destinations(wb, ["CurrentContracts"])["CurrentContracts"]
    cell = wb[sheet][ref.split(":")[0]]
    where = f"{sheet}!{cell.coordinate}"
    position = cell.value
    if isinstance(position, str) or cell.data_type == "f":
        raise InputTypeError(f"{where}: current_contracts must be a number, got "
                             f"{_describe(str(getattr(position, 'text', position)))}")
    return 0.0 if position is None else _located(
        where, lambda: as_float("current_contracts", position))


# ------------------------------------------------------------------ from CSV ---
_DATE_COLUMNS = ("date", "time", "timestamp", "datetime")


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
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
            raise InputTypeError(f"{_csv_where(path, number + 1)}: row must be valid CSV, "
                                 f"got an error: {exc}") from None


def _csv_table(path: Path, what: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the (row number, fields) body of a CSV file that must not be empty."""
    rows = list(_csv_rows(path))
    if not rows:
        raise InsufficientDataError(f"{path}: {what} file must have a header and rows, "
                                    "got an empty file")
    return rows[0][1], rows[1:]


def _csv_where(path: Path, row: int, column: str | None = None) -> str:
    return f"{path} row {row}" + ("" if column is None else f", column {column!r}")


def _check_row_lengths(path: Path, header: list[str], body: list[tuple[int, list[str]]]
                       ) -> None:
    """Every row of a CSV body has as many fields as the header."""
    for row, fields_ in body:
        if len(fields_) != len(header):
            raise InputTypeError(f"{_csv_where(path, row)}: row must have {len(header)} "
                                 f"fields as the header, got {len(fields_)}")


def _held_asset(path: Path, row: int, column: str, text: str, price_columns: list[str]) -> str:
    """A holdings file's asset field: an identifier naming one of the price columns."""
    where = _csv_where(path, row, column)
    asset = _located(where, lambda: validate_identifier("asset", text.strip()))
    if asset not in price_columns:
        raise UnknownNameError(f"{where}: asset must be one of the price columns "
                               f"{price_columns}, got {asset!r}")
    return asset


def _csv_price(path: Path, row: int, column: str, symbol: str, text: str) -> float:
    value = _csv_number(path, row, column, f"price of {symbol}", text, blank_ok=True)
    if not math.isnan(value):
        _located(_csv_where(path, row, column), lambda: positive(f"price of {symbol}", value))
    return value


def _csv_number(path: Path, row: int, column: str, label: str, text: str, *,
                blank_ok: bool) -> float:
    where = _csv_where(path, row, column)
    stripped = text.strip()
    if not stripped:
        if blank_ok:
            return math.nan
        raise InputTypeError(f"{where}: {label} must be a number, got a blank field")
    try:
        value = float(stripped)
    except ValueError:
        raise InputTypeError(f"{where}: {label} must be a number, got {text!r}") from None
    return _located(where, lambda: as_float(label, value))


def _parse_dates(path: Path, column: str, texts: list[tuple[int, str]]) -> list[pd.Timestamp]:
    """ISO 8601 timestamps as naive UTC dates (tz-aware converted to UTC, then the date)."""
    out = []
    for row, text in texts:
        try:
            stamp = pd.Timestamp(text.strip())
        except (ValueError, TypeError):
            stamp = pd.NaT
        if not text.strip() or stamp is pd.NaT:
            raise InputTypeError(f"{_csv_where(path, row, column)}: date must be an ISO 8601 "
                                 f"date or timestamp, got {text!r}")
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        out.append(stamp.tz_localize(None).normalize())
    return out


#: Columns of a wide prices file that are not prices: read by the backtest
#: (:mod:`betaneutral.workbook.history`), skipped by the book readers.
AUXILIARY_PRICE_COLUMNS: tuple[str, ...] = ("funding_rate_8h",)


def _read_prices_csv(path: Path) -> pd.DataFrame:
    header, body = _csv_table(path, "prices")
    header = [h.strip() for h in header]
    lower = [h.lower() for h in header]
    long = {"date", "symbol", "close"} <= set(lower)
    cells: dict[tuple[pd.Timestamp, str], float] = {}
    first_row: dict[tuple[pd.Timestamp, str], int] = {}
    symbols: list[str] = []
    if long:
        i_date, i_sym, i_close = (lower.index(k) for k in ("date", "symbol", "close"))
        _check_row_lengths(path, header, body)
        dates = _parse_dates(path, header[i_date], [(r, f[i_date]) for r, f in body])
        for (row, fields_), date in zip(body, dates, strict=True):
            where = _csv_where(path, row, header[i_sym])
            symbol = _located(where, lambda f=fields_: validate_identifier(
                "symbol", f[i_sym].strip()))
            value = _csv_price(path, row, header[i_close], symbol, fields_[i_close])
            key = (date, symbol)
            if key in cells:
                raise DomainError(f"{_csv_where(path, row)}: (date, symbol) must be unique, got "
                                  f"{date:%Y-%m-%d} {symbol} again (first in row "
                                  f"{first_row[key]})")
            cells[key], first_row[key] = value, row
            if symbol not in symbols:
                symbols.append(symbol)
    else:
        if lower[0] not in _DATE_COLUMNS:
            raise UnknownNameError(
                f"{_csv_where(path, 1, header[0])}: the first column must be the date "
                f"({' or '.join(_DATE_COLUMNS)}), or the file must have the columns date, "
                f"symbol, close; got {header}")
        columns: list[int] = []
        for j, name in enumerate(header[1:], start=1):
            if name.lower() in AUXILIARY_PRICE_COLUMNS:
                continue
            where = _csv_where(path, 1, name)
            _located(where, lambda n=name: validate_identifier("asset column", n))
            if name in symbols:
                raise DomainError(f"{where}: asset columns must be unique, got {name!r} twice")
            symbols.append(name)
            columns.append(j)
        _check_row_lengths(path, header, body)
        dates = _parse_dates(path, header[0], [(r, f[0]) for r, f in body])
        for (row, fields_), date in zip(body, dates, strict=True):
            if (date, symbols[0]) in cells:
                raise DomainError(f"{_csv_where(path, row, header[0])}: dates must be unique "
                                  f"UTC days, got {date:%Y-%m-%d} again (first in row "
                                  f"{first_row[(date, symbols[0])]})")
            for j, symbol in zip(columns, symbols, strict=True):
                cells[(date, symbol)] = _csv_price(path, row, symbol, symbol, fields_[j])
                first_row[(date, symbol)] = row
    index = pd.DatetimeIndex(sorted({d for d, _ in cells}), name="date")
    frame = pd.DataFrame(np.nan, index=index, columns=symbols)
    for (date, symbol), value in cells.items():
        frame.at[date, symbol] = value
    return frame


def _read_holdings_csv(path: Path, price_columns: list[str]) -> pd.DataFrame:
    header, body = _csv_table(path, "holdings")
    lower = [h.strip().lower() for h in header]
    for required in ("asset", "quantity"):
        if required not in lower:
            raise UnknownNameError(f"{_csv_where(path, 1)}: holdings must have the columns "
                                   f"asset, quantity[, price], got {header}")
    unknown = [h for h in lower if h not in ("asset", "quantity", "price")]
    if unknown or len(set(lower)) != len(lower):
        raise UnknownNameError(f"{_csv_where(path, 1)}: holdings columns must be asset, "
                               f"quantity[, price] once each, got {header}")
    i_asset, i_qty = lower.index("asset"), lower.index("quantity")
    i_price = lower.index("price") if "price" in lower else None
    assets, quantities, marks = [], [], []
    _check_row_lengths(path, header, body)
    for row, fields_ in body:
        assets.append(_held_asset(path, row, header[i_asset], fields_[i_asset], price_columns))
        quantities.append(_csv_number(path, row, header[i_qty], "quantity", fields_[i_qty],
                                      blank_ok=False))
        if i_price is not None:
            mark = _csv_number(path, row, header[i_price], "price", fields_[i_price],
                               blank_ok=True)
            if not math.isnan(mark):
                _located(_csv_where(path, row, header[i_price]),
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


def _read_settings_toml(path: Path) -> tuple[BookSettings, float]:
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
    current = _located(f"{path}: key {origin.get('current_contracts')!r}",
                       lambda: as_float("current_contracts", current))
    defaults = {f.name: getattr(BookSettings(), f.name) for f in fields(BookSettings)}
    settings = _settings_from({**defaults, **raw},
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
    prices = _read_book_prices(Path(prices_csv))
    holdings = _read_holdings_csv(Path(holdings_csv), list(prices.columns))
    return _book_inputs(prices, holdings, settings_toml)


def _read_book_prices(path: Path) -> pd.DataFrame:
    """A prices CSV that can carry a book: BTC and ETH columns, at least 2 dates."""
    prices = _read_prices_csv(path)
    for required in ("BTC", "ETH"):
        if required not in prices.columns:
            raise UnknownNameError(f"{path}: prices must have a {required!r} column, "
                                   f"got {list(prices.columns)}")
    if len(prices) < 2:
        raise InsufficientDataError(f"{path}: prices must have >= 2 dates, got {len(prices)}")
    return prices


def _book_inputs(prices: pd.DataFrame, holdings: pd.DataFrame,
                 settings_toml: str | os.PathLike[str] | None) -> BookInputs:
    """The book of CSV files: prices of BTC, ETH and the holdings, and the settings."""
    columns = list(dict.fromkeys(["BTC", "ETH", *holdings["asset"]]))
    if settings_toml is None:
        settings, current = BookSettings(), 0.0
    else:
        settings, current = _read_settings_toml(Path(settings_toml))
    return BookInputs(prices=prices[columns], holdings=holdings, settings=settings,
                      current_contracts=current)
