"""Compute the value of every formula cell of a BetaNeutral workbook, in Python.

:func:`compute_values` evaluates the template's formulas for a book's inputs
without a formula engine and returns one value per formula cell (CSE arrays
expanded cell by cell), exactly as the formulas give them, so that they can be
stored as cached values next to the formulas (:mod:`betaneutral.workbook.cache`).

How the values are obtained:

* Cells calling a BetaNeutral worksheet function call the same function of
  :mod:`betaneutral.udfs` with the argument cells as Excel passes them through
  xlwings (a range as a list of rows, a blank as ``None``, numbers as
  ``float``, error cells as their code), so the result is the function's own,
  including its error codes (``"#N/A"``, ...). The functions call the core.
  They are pure, so two cells with the same call share one evaluation: with the
  BTC benchmark the benchmark column equals the BTC column cell for cell, and a
  holding's "beta vs benchmark" is its "beta to BTC".
* Native formulas (``=B5*C5``, ``INDEX(col,ROWS(col))``, ``SUM``, ``IF``, the
  composite benchmark chain, ...) are evaluated with Excel's rules, in the
  formula's own order of operations so the floating-point results are the ones
  Excel computes: a blank cell is 0 in arithmetic and as a formula's result,
  division by zero is ``#DIV/0!``, an error operand propagates (the left one
  first), ``SUM`` adds left to right skipping text and blanks and stops at the
  first error, text compares without regard to case.
* Array formulas fill their fixed range as Excel does: a single value fills
  every cell, a single row or column is repeated, missing cells are ``#N/A``.

A worksheet function's error code is treated as an error value downstream
(``=D5*G5`` with ``G5 = "#N/A"`` gives ``#N/A``), which is what a workbook
holding real error cells computes and what the cached file shows. Classic VBA
user-defined functions cannot return a real error, so Excel with the xlwings
add-in shows the code as text there and arithmetic on it gives ``#VALUE!``.

Where the cells are comes from the workbook's defined names (:func:`read_layout`),
the interface the template documents, plus the fixed rows of
:data:`~betaneutral.workbook.template.REBALANCE_ROWS` and
:data:`~betaneutral.workbook.template.START_FIGURES`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from openpyxl import Workbook
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, to_excel

from betaneutral import cells, udfs
from betaneutral.arrayrows import ArrayRows
from betaneutral.bookdata import SETTINGS_NAMES, BookInputs
from betaneutral.errors import InsufficientDataError, UnknownNameError
from betaneutral.workbook import excel
from betaneutral.workbook.book import (
    HOLDING_COLUMNS,
    REBALANCE_ROWS,
    START_FIGURES,
    Signal,
    rebalance_lines,
)
from betaneutral.workbook.cellvalues import Block, CellValues
from betaneutral.workbook.names import name_destinations
from betaneutral.workbook.template import START_FIGURES_COLUMN, START_FIGURES_FIRST_ROW

__all__ = ["CellKey", "CellValue", "Layout", "compute_values", "read_layout"]

#: A computed cell value: number, boolean, text, or an Excel error code such as ``"#N/A"``.
CellValue = float | int | bool | str
#: (sheet name, cell coordinate without ``$``), e.g. ``("Holdings", "D5")``.
CellKey = tuple[str, str]

_LAYOUT_NAMES = (
    "Dates", "BTCPrices", "ETHPrices", "BenchPrices", "PriceAssets", "PriceBlock",
    "HoldingAssets", "HoldingQuantities", "HoldingPrices", "HoldingValues", "HoldingWeights",
    "HoldingBenchBetas", "HoldingBetas", "HoldingDollarBetas", "HoldingBetaShares",
    "PortfolioValue", "PortfolioBenchBeta", "PortfolioBeta", "DollarBeta", "BetaStats",
    "RollingBetas", "ScenarioTable", "CurrentContracts", "ContractKind", "ContractSize",
    "ContractNotionalUSD", "CurrentHedgeUSD", "CurrentBeta", "TargetHedgeUSD", "HedgeChangeUSD",
    "TargetContracts", "ShortNotionalUSD", "ResidualBeta", "Drift", "Breach",
    "OrderNotionalUSD", "Action", "ContractsDelta", "OrderSide", "OrderContracts",
    "SettlementCurrency", "MarginBuffer", "LiquidationPrice", "LiquidationDistance",
    "FundingCostUSD", *SETTINGS_NAMES.values(),
)


@dataclass(frozen=True)
class Layout:
    """Where a BetaNeutral workbook keeps its inputs and formulas.

    Attributes
    ----------
    names : Mapping[str, tuple[str, str]]
        Defined name -> (sheet, range without ``$``), for every name the
        computation uses.
    price_assets : tuple of str
        Asset of each price column (the ``PriceAssets`` header), in sheet order.
    holding_assets : tuple of str
        Asset of each Holdings row (``HoldingAssets``).
    date1904 : bool
        The workbook counts dates from 1904 (Mac Excel), not 1900.
    start_sheet : str
        Sheet holding the key figures (:data:`~betaneutral.workbook.template.START_FIGURES`).
    """

    names: Mapping[str, tuple[str, str]]
    price_assets: tuple[str, ...]
    holding_assets: tuple[str, ...]
    date1904: bool = False
    start_sheet: str = "Start"

    def bounds(self, name: str) -> tuple[str, int, int, int, int]:
        """(sheet, first column, first row, last column, last row) of a name."""
        sheet, ref = self.names[name]
        c1, r1, c2, r2 = range_boundaries(ref)
        return sheet, c1, r1, c2, r2

    def grid(self, name: str) -> list[list[CellKey]]:
        """The cells of a name, as rows of (sheet, coordinate)."""
        sheet, c1, r1, c2, r2 = self.bounds(name)
        return [[(sheet, f"{get_column_letter(c)}{r}") for c in range(c1, c2 + 1)]
                for r in range(r1, r2 + 1)]

    def cell(self, name: str) -> CellKey:
        """The first cell of a name."""
        return self.grid(name)[0][0]

    def column(self, name: str) -> list[CellKey]:
        """The cells of a single-column name, top to bottom."""
        return [row[0] for row in self.grid(name)]

    def rebalance(self, key: str) -> CellKey:
        """The value cell of a Rebalance line (see ``REBALANCE_ROWS``)."""
        sheet, col, _, _, _ = self.bounds("CurrentContracts")
        return sheet, f"{get_column_letter(col)}{REBALANCE_ROWS[key]}"


def read_layout(wb: Workbook) -> Layout:
    """The layout of a BetaNeutral workbook, from its defined names.

    Parameters
    ----------
    wb : openpyxl.Workbook
        A workbook built by :func:`~betaneutral.workbook.template.build_workbook`,
        possibly edited and re-saved (loaded with formulas, not ``data_only``).

    Returns
    -------
    Layout
        The names' ranges, the price and holding assets, the date system.

    Raises
    ------
    UnknownNameError
        A required name or sheet is missing, or a named Rebalance line is not on
        the row the template puts it (the workbook is not the template's).
    """
    names = name_destinations(wb, _LAYOUT_NAMES)
    if "Start" not in wb.sheetnames:
        raise UnknownNameError("workbook must have the sheet 'Start'; it is missing")
    sheet = names["CurrentContracts"][0]
    for key, row in REBALANCE_ROWS.items():
        if key in names and (names[key][0] != sheet
                             or range_boundaries(names[key][1])[1] != row):
            raise UnknownNameError(f"name {key} must be on {sheet} row {row} as in the template, "
                                   f"got {names[key][0]}!{names[key][1]}")
    header_sheet, header_ref = names["PriceAssets"]
    price_assets = tuple(str(c.value) for row in wb[header_sheet][header_ref] for c in row)
    hold_sheet, hold_ref = names["HoldingAssets"]
    held = wb[hold_sheet][hold_ref]
    held_cells = held if isinstance(held, tuple) else ((held,),)
    holding_assets = tuple(str(row[0].value) for row in held_cells)
    return Layout(names=names, price_assets=price_assets, holding_assets=holding_assets,
                  date1904=wb.epoch == CALENDAR_MAC_1904)


# ----------------------------------------------------------- Excel semantics ---
# Excel's rules for native formulas (betaneutral.workbook.excel), under the short names
# this module uses.
_is_error = excel.is_error
_is_number = excel.is_number
_result = excel.as_result
_add, _sub, _mul, _div = excel.add, excel.sub, excel.mul, excel.div
_sum = excel.excel_sum
_if = excel.excel_if
_equal, _greater = excel.equal, excel.greater
_search_found = excel.search_found
_round, _abs = excel.excel_round, excel.excel_abs
_fit, _arg = excel.fit, excel.arg


# ------------------------------------------------------------------ the model ---
_ABSENT = object()


class _Book:
    """Cell values (inputs and computed) keyed by (sheet, coordinate).

    The price block is kept as rows of floats (``prices``: sheet, first row, first
    column, rows; NaN for a blank) and looked up by position, not stored cell by cell.
    """

    def __init__(self, prices: tuple[str, int, int, list[list[float]]],
                 messages: list[tuple[str, str, str]] | None = None) -> None:
        self.cells: dict[CellKey, Any] = {}
        self.out: dict[CellKey, CellValue] = {}
        self.prices = prices
        self.messages = messages if messages is not None else []  # the functions' reasons
        self.reasons: dict[CellKey, str] = {}
        self._read = 0  # messages already given to a cell
        self.blocks: list[Block] = []  # generated blocks no formula reads, as arrays

    def put(self, key: CellKey, value: Any, reason: str | None = None) -> None:
        value = _result(value)
        self.cells[key] = value
        self.out[key] = value
        if len(self.messages) > self._read:  # the function that gave this value said why
            if reason is None and _is_error(value):
                reason = self.messages[-1][2]
            self._read = len(self.messages)
        if reason is not None and _is_error(value):
            self.reasons[key] = reason

    def get(self, key: CellKey) -> Any:
        value = self.cells.get(key, _ABSENT)
        return self._price(key) if value is _ABSENT else value

    def _price(self, key: CellKey) -> float | None:
        """The price-block cell at ``key``: its price, None for a blank or another cell."""
        sheet, first_row, first_col, rows = self.prices
        if key[0] != sheet:
            return None
        row, col = coordinate_to_tuple(key[1])
        i, j = row - first_row, col - first_col
        if not (0 <= i < rows.shape[0] and 0 <= j < rows.shape[1]):
            return None
        value = float(rows[i, j])
        return None if math.isnan(value) else value

    def col(self, keys: Sequence[CellKey]) -> list[list[Any]]:
        """A column as a function argument: a list of one-cell rows."""
        return [[_arg(self.get(k))] for k in keys]

    def col_values(self, keys: Sequence[CellKey]) -> list[Any]:
        """The cells of a column as a function receives them, flat (see :meth:`col`)."""
        return [_arg(self.get(k)) for k in keys]

    def put_array(self, grid: Sequence[Sequence[CellKey]], result: Any) -> None:
        """Store an array formula's result over its range."""
        values = _fit(result, len(grid), len(grid[0]))  # already as the cells show them
        if len(self.messages) > self._read:
            if any(_is_error(v) for row in values for v in row):
                self.reasons[grid[0][0]] = self.messages[-1][2]
            self._read = len(self.messages)
        cells, out = self.cells, self.out
        for keys, row in zip(grid, values, strict=True):
            cells.update(zip(keys, row, strict=True))
            out.update(zip(keys, row, strict=True))

    def column_block(self, result: Any, n_rows: int
                     ) -> tuple[np.ndarray, dict[int, CellValue]]:
        """A function's column result over ``n_rows`` cells as :func:`_fit` gives it, as
        (floats, NaN where not a finite float; the other values by row), for
        :meth:`put_block`. Only as results: no formula reads these cells."""
        self._read = len(self.messages)
        if type(result) is ArrayRows and result.numbers.shape == (n_rows, 1):
            return result.numbers[:, 0], {i: code for (i, _), code in result.codes.items()}
        values = [row[0] for row in _fit(result, n_rows, 1)]
        numbers = np.array([v if type(v) is float else math.nan for v in values], dtype=float)
        return numbers, {i: v for i, v in enumerate(values) if type(v) is not float}

    def put_block(self, sheet: str, first_row: int, first_col: int,
                  columns: Sequence[tuple[np.ndarray, dict[int, CellValue]]]) -> None:
        """Store columns from :meth:`column_block`, side by side from ``first_col``, as one
        block (results only)."""
        numbers = np.empty((len(columns[0][0]), len(columns)), dtype=float)
        others: dict[tuple[int, int], CellValue] = {}
        for j, (column, column_others) in enumerate(columns):
            numbers[:, j] = column
            others.update(((i, j), v) for i, v in column_others.items())
        self.blocks.append(Block(sheet, first_row, first_col, numbers, others))


class _PriceColumns(Mapping[str, list[Any]]):
    """The price columns as a function receives them (a blank as None), by asset.

    Each column is made when it is asked for, from the block's array: a list per
    function call (freed with the call) instead of the whole block held as Python
    floats while the book is computed.
    """

    def __init__(self, assets: Sequence[str], block: np.ndarray) -> None:
        if len(assets) != block.shape[1]:
            raise ValueError(f"{len(assets)} price assets for {block.shape[1]} columns")
        self._index = {asset: j for j, asset in enumerate(assets)}
        self._block = block

    def __getitem__(self, asset: str) -> list[Any]:
        column = self._block[:, self._index[asset]]
        values = column.tolist()
        if np.isnan(column).any():
            values = [None if v != v else v for v in values]  # v != v: NaN
        return values

    def last(self, asset: str) -> Any:
        """The column's last cell (its close on the valuation date)."""
        value = float(self._block[-1, self._index[asset]])
        return None if math.isnan(value) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


@dataclass
class _Env:
    """What a Rebalance line's evaluation reads (:class:`betaneutral.workbook.book.Env`)."""

    val: Callable[[str], Any]
    arg: Callable[[str], Any]
    spot: list[list[Any]]
    betas: list[list[Any]]
    contract: list[list[Any]]


class _HoldingsEnv:
    """What a Holdings column's evaluation reads
    (:class:`~betaneutral.workbook.book.HoldingsEnv`)."""

    def __init__(self, book: _Book, layout: Layout, inputs: BookInputs,
                 column_values: _PriceColumns, btc_values: list[Any],
                 bench_values: list[Any], bench_is_btc: bool,
                 arg: Callable[[str], Any]) -> None:
        self.book, self.layout, self.inputs = book, layout, inputs
        self.assets = list(inputs.holdings["asset"])
        self.column_values = column_values
        self.benchmarks = {"BTCPrices": btc_values, "BenchPrices": bench_values}
        self.bench_is_btc = bench_is_btc
        self.arg = arg
        self.cells = {c.letter: layout.column(c.name) for c in HOLDING_COLUMNS}
        self._betas: dict[tuple[int, str], Any] = {}
        self._block: tuple[Any, tuple[tuple[str, ...]], tuple[tuple[str], ...]] | None = None

    def here(self, letter: str, i: int) -> Any:
        return self.book.get(self.cells[letter][i])

    def values(self, letter: str) -> list[Any]:
        return [self.book.get(k) for k in self.cells[letter]]

    def column(self, letter: str) -> list[list[Any]]:
        return self.book.col(self.cells[letter])

    def val(self, name: str) -> Any:
        return self.book.get(self.layout.cell(name))

    def last_close(self, i: int) -> Any:
        return self.column_values.last(self.assets[i])

    def beta(self, i: int, benchmark: str) -> Any:
        # The functions are pure: with the benchmark equal to BTC cell for cell, the
        # "vs benchmark" call has the "to BTC" call's arguments, so they share one result.
        if benchmark == "BenchPrices" and self.bench_is_btc:
            benchmark = "BTCPrices"
        key = (i, benchmark)
        if key not in self._betas:
            arg = self.arg
            self._betas[key] = udfs.BETA_VS_BTC(
                _rows(self.column_values[self.assets[i]]), _rows(self.benchmarks[benchmark]),
                arg("Window"), arg("BetaMethod"), arg("MinObs"), arg("ReturnType"),
                *self._universe())
        return self._betas[key]

    def _universe(self) -> tuple[Any, tuple[tuple[str, ...]], tuple[tuple[str], ...]]:
        """The cross-section arguments (:data:`~betaneutral.workbook.book.VASICEK_UNIVERSE`):
        the price block only when the method is a Vasicek one, else "" (the same immutable
        arguments for every row, so the function computes the cross-section once)."""
        if self._block is None:
            vasicek = _search_found("vasicek", self.val("BetaMethod"))
            self._block = ((tuple(tuple(None if v != v else v for v in row)  # v != v: NaN
                                  for row in self.book.prices[3].tolist()) if vasicek else ""),
                           (tuple(self.layout.price_assets),),
                           tuple((a,) for a in self.assets))
        return self._block

    def reason(self, letter: str, i: int) -> str | None:
        """Why a column's value is an error when the cause is an input, not a function."""
        if letter == "C" and self.last_close(i) is None:
            asset = self.assets[i]
            sheet, col, _, _, last_row = self.layout.bounds("PriceBlock")
            where = (f"{sheet}!{get_column_letter(col + self.layout.price_assets.index(asset))}"
                     f"{last_row}")
            return (f"{asset} has no close on the valuation date "
                    f"{self.inputs.prices.index[-1]:%Y-%m-%d} ({where} is blank); a holding "
                    "is never valued at 0: type the close")
        if letter in ("F", "G"):  # a shared estimate: its reason goes with it
            other = self.cells["G" if letter == "F" else "F"][i]
            return self.book.reasons.get(other) if self.bench_is_btc else None
        return None


def _rows(values: Sequence[Any]) -> list[list[Any]]:
    """A fresh column argument (a list of one-cell rows) from flat cell values."""
    return [[v] for v in values]


def _same_cells(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """Whether two columns hold the same values of the same types (0.0 and -0.0 differ)."""
    return len(a) == len(b) and all(type(x) is type(y) and repr(x) == repr(y)
                                    for x, y in zip(a, b, strict=True))


def _check_inputs(inputs: BookInputs, layout: Layout) -> None:
    if tuple(inputs.prices.columns) != layout.price_assets:
        raise UnknownNameError(f"inputs' price columns {list(inputs.prices.columns)} must be "
                               f"the workbook's {list(layout.price_assets)}")
    n_dates = len(layout.column("Dates"))
    if len(inputs.prices) != n_dates:
        raise InsufficientDataError(f"inputs must have {n_dates} dates as the workbook, got "
                                    f"{len(inputs.prices)}")
    if tuple(inputs.holdings["asset"]) != layout.holding_assets:
        raise UnknownNameError(f"inputs' holdings {list(inputs.holdings['asset'])} must be the "
                               f"workbook's {list(layout.holding_assets)}")


def compute_values(inputs: BookInputs, layout: Layout, *,
                   reasons: dict[CellKey, str] | None = None) -> CellValues:
    """Value of every formula cell of the workbook for the given inputs.

    Parameters
    ----------
    inputs : BookInputs
        Prices, holdings, settings and current position; its price columns,
        dates and holdings must match the workbook's (``layout``).
    layout : Layout
        Where the workbook's cells are (:func:`read_layout`).
    reasons : dict, optional
        Filled with ``(sheet, coordinate) -> why`` for the error values whose cause
        is known: the message of the function that returned the code (it names the
        parameter, the value and the rule), or the input that made a native formula
        an error (a blank close on the valuation date).

    Returns
    -------
    CellValues
        A mapping ``(sheet, coordinate) -> value`` for every formula cell, every cell of
        a CSE array range included; ``Settings`` ``FuturesPrice`` only when it
        holds the default formula (``inputs.settings.futures_price is None``).
        Values are ``float``/``int``/``bool``/``str``; errors are their codes
        (``"#N/A"``); dates (the Rolling date column) are Excel serial numbers
        in the workbook's date system. The Rolling block (dates and rolling betas)
        is held as an array (:class:`~betaneutral.workbook.cellvalues.CellValues`).

    Raises
    ------
    UnknownNameError
        Price columns or holdings differ from the workbook's.
    InsufficientDataError
        The number of dates differs from the workbook's.

    Notes
    -----
    Function cells call :mod:`betaneutral.udfs` with the argument cells;
    native formulas follow Excel's rules (module notes). For example the
    benchmark column is ``I_0 = BTC_0``, ``I_t = BTC_t`` (benchmark BTC) or
    ``I_t = I_{t-1} * (1 + 0.5 (BTC_t/BTC_{t-1} - 1) + 0.5 (ETH_t/ETH_{t-1} - 1))``,
    evaluated in that order.
    """
    _check_inputs(inputs, layout)
    with cells.error_messages() as messages:
        book = _compute(inputs, layout, messages)
    if reasons is not None:
        reasons.update(book.reasons)
    return CellValues(book.out, book.blocks)


def _compute(inputs: BookInputs, layout: Layout, messages: list[tuple[str, str, str]]
             ) -> _Book:
    price_sheet, price_col, price_row, _, _ = layout.bounds("PriceBlock")
    price_block = inputs.prices.to_numpy(dtype=float)
    book = _Book((price_sheet, price_row, price_col, price_block), messages)
    s = inputs.settings

    # ---- inputs
    for key, qty in zip(layout.column("HoldingQuantities"), inputs.holdings["quantity"],
                        strict=True):
        book.cells[key] = float(qty)
    for field_name, name in SETTINGS_NAMES.items():
        book.cells[layout.cell(name)] = getattr(s, field_name)
    book.cells[layout.cell("CurrentContracts")] = float(inputs.current_contracts)

    def val(name: str) -> Any:
        return book.get(layout.cell(name))

    def arg(name: str) -> Any:
        return _arg(val(name))

    contract = [[arg("HedgeContract")]]

    # ---- Settings: default futures price = last BTC close
    btc = layout.column("BTCPrices")
    eth = layout.column("ETHPrices")
    if s.futures_price is None:
        book.put(layout.cell("FuturesPrice"), _result(book.get(btc[-1])))

    # ---- Benchmark index column
    bench = layout.column("BenchPrices")
    is_btc = _equal(val("BenchmarkChoice"), "BTC")
    book.put(bench[0], book.get(btc[0]))
    for t in range(1, len(bench)):
        b, b0, c, c0 = (book.get(k) for k in (btc[t], btc[t - 1], eth[t], eth[t - 1]))
        prev = book.get(bench[t - 1])
        book.put(bench[t], _if(
            is_btc, lambda b=b: b,
            lambda b=b, b0=b0, c=c, c0=c0, prev=prev: _mul(prev, _add(
                _add(1.0, _mul(0.5, _sub(_div(b, b0), 1.0))),
                _mul(0.5, _sub(_div(c, c0), 1.0))))))

    # ---- Holdings
    # Each function call gets its own argument lists, built from these flat values
    # (the price columns as a function receives them: a blank as None).
    column_values = _PriceColumns(layout.price_assets, price_block)
    bench_values, btc_values = book.col_values(bench), book.col_values(btc)
    # The functions are pure: with the benchmark equal to BTC cell for cell, a holding's
    # "beta vs benchmark" call has the same arguments as its "beta to BTC" call.
    bench_is_btc = _same_cells(bench_values, btc_values)
    env = _HoldingsEnv(book, layout, inputs, column_values, btc_values, bench_values,
                       bench_is_btc, arg)
    total_sheet, _, total_row, _, _ = layout.bounds("PortfolioValue")
    for column in HOLDING_COLUMNS:
        if column.evaluate is not None:
            for i, key in enumerate(env.cells[column.letter]):
                book.put(key, column.evaluate(env, i), reason=env.reason(column.letter, i))
        if column.total_evaluate is not None:
            book.put((total_sheet, f"{column.letter}{total_row}"), column.total_evaluate(env))
    spot = book.col(env.cells["D"])
    betas = book.col(env.cells["G"])

    # ---- Stats and Rolling: labels =INDEX(HoldingAssets,i), then one call per holding.
    # The blocks have the size they have in the file: a book whose tables Excel grew has
    # more holdings or dates than its blocks until it is resized; a block row or column
    # past the last holding shows INDEX's #REF!, as Excel shows it.
    stats_sheet, stats_col, stats_row, _, _ = layout.bounds("BetaStats")
    roll_sheet, roll_col, roll_row, _, _ = layout.bounds("RollingBetas")
    held = list(inputs.holdings["asset"])

    def label(i: int) -> str:
        return held[i] if i < len(held) else "#REF!"

    for i, row in enumerate(layout.grid("BetaStats")):
        book.put((stats_sheet, f"{get_column_letter(stats_col - 1)}{stats_row + i}"), label(i))
        book.put_array([row], udfs.BETA_STATS(
            _rows(column_values[held[i]]), _rows(btc_values), arg("Window"), arg("MinObs"))
            if i < len(held) else "#REF!")
    _, _, _, roll_last_col, roll_last_row = layout.bounds("RollingBetas")
    n_days, n_rolling = roll_last_row - roll_row + 1, roll_last_col - roll_col + 1
    epoch = CALENDAR_MAC_1904 if layout.date1904 else CALENDAR_WINDOWS_1900
    serials = []
    for day in inputs.prices.index:
        stamp = day.to_pydatetime() if hasattr(day, "to_pydatetime") else day
        if not isinstance(stamp, dt.datetime):
            stamp = dt.datetime(stamp.year, stamp.month, stamp.day)
        serials.append([float(to_excel(stamp, epoch))])
    # The dates ({=Dates} over the block's rows) and the rolling betas, one column per
    # holding, are kept as one array block: no formula reads them.
    columns = [book.column_block(serials, n_days)]
    for j in range(n_rolling):
        book.put((roll_sheet, f"{get_column_letter(roll_col + j)}{roll_row - 1}"), label(j))
        columns.append(book.column_block(udfs.ROLLING_BETA(
            _rows(column_values[held[j]]), _rows(bench_values), arg("RollingWindow"),
            arg("MinObs")) if j < len(held) else "#REF!", n_days))
    book.put_block(roll_sheet, roll_row, roll_col - 1, columns)

    # ---- Rebalance: each line of the description, top to bottom
    rebalance_env = _Env(val, arg, spot, betas, contract)
    for line in rebalance_lines():
        if isinstance(line, Signal):
            sig_sheet, sc1, sr, _, _ = layout.bounds(line.names[0])
            book.put_array([[(sig_sheet, f"{get_column_letter(sc1 + j)}{sr}")
                             for j in range(len(line.names))]], line.evaluate(rebalance_env))
        elif line.evaluate is not None:
            book.put(layout.rebalance(line.key), line.evaluate(rebalance_env))

    # ---- Scenarios
    book.put_array(layout.grid("ScenarioTable"), udfs.HEDGE_SCENARIOS(
        spot, betas, arg("TargetContracts"), arg("FuturesPrice"), arg("MarginBuffer"),
        contract))

    # ---- Start
    for i, (_, name, _, _) in enumerate(START_FIGURES):
        book.put((layout.start_sheet, f"{START_FIGURES_COLUMN}{START_FIGURES_FIRST_ROW + i}"),
                 val(name))
    return book
