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
* :func:`~betaneutral.workbook.sources.read_csv_inputs` (in
  :mod:`betaneutral.workbook.sources`, importable from here) reads a holdings
  CSV, a prices CSV (wide or long) and an optional settings TOML file. Errors
  name the file, the row (1-based, the header is row 1) and the column.

Neither reader fills gaps: a missing price stays missing (``NaN``), and the
beta estimators drop it pair-wise.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Mapping, Sequence
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
            value = getattr(self, f.name)
            if isinstance(value, str) and any(ord(c) < 32 or ord(c) == 127 for c in value):
                # a tab or line break the checks below would strip, but the text is kept
                # as typed and would reach the CSV files and sheets the commands write
                raise InputTypeError(f"{f.name} must be text without control characters "
                                     f"(tab, line break), got {value!r}")
            object.__setattr__(self, f.name, _SETTING_CHECKS[f.name](f.name, value))


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
        if {"asset", "quantity"} <= set(self.holdings.columns):
            check_holding_values(list(self.holdings["asset"]),
                                 self.holdings["quantity"].to_numpy(dtype=float), self.prices)


#: Largest USD value of one holding at any close (10^18 USD, about ten thousand times the
#: world's yearly output): beyond it a quantity is a typo, and sums of values and squares
#: would leave the float range (a quantity of 1e308 would make every figure infinite).
MAX_HOLDING_VALUE_USD = 1e18


def check_holding_values(assets: Sequence[str], quantities: np.ndarray,
                         prices: pd.DataFrame) -> None:
    """Each holding's value at every close stays within :data:`MAX_HOLDING_VALUE_USD`.

    Parameters
    ----------
    assets : sequence of str
        The held assets (price columns; others are not checked here).
    quantities : numpy.ndarray, shape (N,) or (T, N)
        Units held: fixed, or one row per date.
    prices : pandas.DataFrame
        Closes in USD, one column per asset.

    Raises
    ------
    DomainError
        A quantity is not finite, or its value at its highest close is beyond the bound.
    """
    q = np.abs(np.atleast_2d(np.asarray(quantities, dtype=float)))
    for j, asset in enumerate(assets):
        column = q[:, j]
        if not np.isfinite(column).all():
            raise DomainError(f"quantity of {asset} must be finite, got {column.max()!r}")
        if asset not in prices.columns:
            continue
        known = prices[asset].to_numpy(dtype=float)
        known = known[~np.isnan(known)]
        top = float(known.max()) if known.size else 0.0
        biggest = float(column.max())
        if biggest and top and biggest > MAX_HOLDING_VALUE_USD / top:
            value = biggest * top
            worth = (f"a value of {value:.3g} USD" if math.isfinite(value)
                     else "a value beyond the float range")
            raise DomainError(
                f"quantity of {asset} must keep its value within {MAX_HOLDING_VALUE_USD:.0e} "
                f"USD at every close, got {biggest:g} units at up to {top:g} USD ({worth}): "
                "check the quantity's unit")


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


# ------------------------------------------------ public names for the file readers ---
#: Used by :mod:`betaneutral.workbook.sources`, which reads books from CSV and TOML files.
settings_from = _settings_from

#: Names that moved to :mod:`betaneutral.workbook.sources`, still importable from here.
_FROM_SOURCES = ("AUXILIARY_PRICE_COLUMNS", "read_csv_inputs")


def __getattr__(name: str) -> Any:
    """Names in :mod:`.sources`, imported on first use (sources imports this module)."""
    if name in _FROM_SOURCES:
        from betaneutral.workbook import sources

        return getattr(sources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
