"""Build the BetaNeutral workbook template (``.xlsx`` and ``.xlsm``) with openpyxl.

The template holds inputs (yellow), formulas and BetaNeutral worksheet functions
(blue) and no cached values: Excel with the xlwings add-in, or the headless
``betaneutral compute`` step, fills them in. Every formula follows the rules
that keep the workbook computable by every engine the project uses:
workbook-scoped defined names and plain references only; no structured
references, LET, LAMBDA, XLOOKUP, dynamic arrays, volatile functions or
full-column references; INDEX over a single column only; array-returning
functions in fixed CSE (``ArrayFormula``) ranges.

Sheet layout (``N`` holdings, ``T`` daily prices):

* ``Benchmark``: header row 1, dates in A2:A(T+1), one price column per asset
  (BTC, ETH, then the held assets), and the ``Benchmark`` index column last.
* ``Holdings``: header row 4, holdings in rows 5..(4+N), totals in row 5+N.
* ``Stats``: header row 4, one 1x9 ``BETA_STATS`` array per holding from row 5.
* ``Rolling``: header row 1, the dates as a T-row ``{=Dates}`` array in column A,
  then a T-row ``ROLLING_BETA`` array per holding.
* ``Settings``, ``Rebalance``, ``Scenarios``: fixed forms (see :data:`REBALANCE_ROWS`).
  The benchmark choice is the name ``BenchmarkChoice`` (a name equal to a sheet
  name confuses formula engines).
* ``Start``: key figures ``=<name>`` (see :data:`START_FIGURES`).

The defined names listed in :func:`defined_names` are the interface other code
uses to find inputs and outputs.
"""

from __future__ import annotations

import math
import os
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.comments import Comment
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import (
    absolute_coordinate,
    column_index_from_string,
    get_column_letter,
    quote_sheetname,
    range_boundaries,
)
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.table import Table, TableColumn, TableFormula, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from betaneutral.core._validate import as_float, float_array
from betaneutral.errors import (
    DomainError,
    InputTypeError,
    InsufficientDataError,
    UnknownNameError,
)
from betaneutral.safetext import validate_identifier
from betaneutral.sample import SAMPLE_LABEL, SAMPLE_LABEL_CELLS, sample_holdings, sample_prices
from betaneutral.workbook import backtest_sheet as bt
from betaneutral.workbook.book import (
    DEFAULT_FUTURES_PRICE_FORMULA,
    FMT_BETA,
    FMT_INT,
    FMT_PCT,
    FMT_PRICE,
    FMT_QTY,
    FMT_RATE,
    FMT_USD,
    HOLDING_COLUMNS,
    HOLDING_TOTALS,
    HOLDINGS_HEADER_ROW,
    HOLDINGS_TABLE,
    HOLDINGS_TOTAL_ROW,
    PRICES_TABLE,
    REBALANCE,
    REBALANCE_ROWS,
    SECTION_ROWS,
    SHEET_NAMES,
    START_FIGURES,
    TOTAL_LABEL,
    Line,
    Signal,
    holding_row_formulas,
    price_column,
)
from betaneutral.workbook.bulk import BulkColumn, BulkRows
from betaneutral.workbook.cells import write_text
from betaneutral.workbook.names import table_column_name

__all__ = [
    "DEFAULT_FUTURES_PRICE_FORMULA",
    "REBALANCE_ROWS",
    "SHEET_NAMES",
    "START_FIGURES",
    "START_FIGURES_COLUMN",
    "START_FIGURES_FIRST_ROW",
    "TICKET_COLUMNS",
    "UDF_NAMES",
    "ContractRow",
    "FormulaCell",
    "build_workbook",
    "catalogue_rows",
    "defined_names",
    "formula_cells",
    "template_formula_cells",
    "write_contracts_sheet",
    "write_template",
    "xlwings_quickstart_path",
]

#: BetaNeutral worksheet functions the template calls (Excel names).
UDF_NAMES: frozenset[str] = frozenset(
    {
        "BETA_VS_BTC",
        "BETA_STATS",
        "ROLLING_BETA",
        "PORTFOLIO_BETA",
        "HEDGE_NOTIONAL",
        "CONTRACTS_TO_SHORT",
        "CONTRACT_SPEC",
        "REBALANCE_SIGNAL",
        "REBALANCE_ACTION",
        "MARGIN_BUFFER",
        "LIQUIDATION_PRICE",
        "FUNDING_COST",
        "HEDGE_SCENARIOS",
    }
)

#: Header row of the Tickets sheet (row 1, from column A); rows below are written by code.
TICKET_COLUMNS: tuple[str, ...] = (
    "Ticket ID",
    "Created (UTC)",
    "Exchange",
    "Symbol",
    "CCXT symbol",
    "Side",
    "Type",
    "Amount (contracts)",
    "Price",
    "Reduce only",
    "Client order ID",
    "Contract kind",
    "Contract size",
    "Notional (USD)",
    "Reason",
    "Beta before",
    "Beta after",
)

_STATS_COLUMNS = (
    "Beta",
    "Alpha (daily)",
    "R²",
    "SE",
    "HAC SE",
    "t-stat",
    "Obs",
    "CI low (95%)",
    "CI high (95%)",
)
_SCENARIO_COLUMNS = (
    "BTC move",
    "BTC price (USD)",
    "Unhedged P&L (USD)",
    "Hedged P&L (USD)",
    "Liquidated",
)
_SCENARIO_ROWS = 13
_SCENARIO_FIRST_ROW = 5
_SETTINGS_FIRST_ROW = 5
_STATS_FIRST_ROW = 5
_DEFAULT_CONTRACT = "BINANCE:BTCUSDT"
_AUTHOR = "BetaNeutral"

# ---------------------------------------------------------------- styles ---
_NAVY = "1F3864"


def _font(**kwargs: Any) -> Font:
    """A Calibri font (the workbook's body font) with the given attributes."""
    kwargs.setdefault("size", 11)
    return Font(name="Calibri", **kwargs)


_INPUT_FILL = PatternFill("solid", start_color="FFF2CC", end_color="FFF2CC")
_COMPUTED_FILL = PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7")
_HEADER_FILL = PatternFill("solid", start_color=_NAVY, end_color=_NAVY)
_SECTION_FILL = PatternFill("solid", start_color="D9E1F2", end_color="D9E1F2")
_SAMPLE_FILL = PatternFill("solid", start_color="FCE4D6", end_color="FCE4D6")
_BREACH_FILL = PatternFill("solid", start_color="C00000", end_color="C00000")
_HEADER_FONT = _font(bold=True, color="FFFFFF")
_TITLE_FONT = _font(bold=True, size=16, color=_NAVY)
_SUBTITLE_FONT = _font(italic=True, color="595959")
_SECTION_FONT = _font(bold=True, color=_NAVY)
_BOLD = _font(bold=True)
_THIN = Side(style="thin", color="BFBFBF")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_TOTAL_BORDER = Border(top=Side(style="thin", color="000000"),
                       bottom=Side(style="double", color="000000"))
_WRAP = Alignment(wrap_text=True, vertical="top")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)

FMT_DATE = "yyyy-mm-dd"
FMT_BOOL = '"TRUE";"TRUE";"FALSE"'


class FormulaCell(NamedTuple):
    """One formula in the workbook: a single cell, or the range of a CSE array."""

    sheet: str
    coordinate: str
    formula: str


@dataclass(frozen=True)
class ContractRow:
    """One row of the Contracts sheet.

    Attributes
    ----------
    name : str
        Catalogue name, ``EXCHANGE:SYMBOL`` (validated as an identifier).
    kind : str
        Contract kind as the catalogue spells it (e.g. linear or inverse).
    contract_size : float
        Coin per contract (linear) or USD per contract (inverse).
    quantity_step : float
        Order quantity increment, in contracts.
    min_quantity : float
        Smallest order, in contracts.
    maintenance_rate : float or None
        Maintenance margin rate of the first tier (0.004 = 0.4%).
    settlement_currency : str
        Currency of margin and P&L.
    source : str
        Where the figures come from.
    underlying : str
        Asset the contract tracks (BTC for a BTC hedge).
    checked : str
        Date the figures were checked against ``source`` (ISO).
    """

    name: str
    kind: str
    contract_size: float
    quantity_step: float
    min_quantity: float
    maintenance_rate: float | None
    settlement_currency: str
    source: str
    underlying: str = ""
    checked: str = ""


START_FIGURES_FIRST_ROW = 7
START_FIGURES_COLUMN = "C"



# ------------------------------------------------------------ data inputs ---
@dataclass(frozen=True)
class _Data:
    dates: list[Any]
    assets: list[str]  # price columns in sheet order: BTC, ETH, then held assets
    prices: np.ndarray  # shape (T, len(assets)), NaN = missing
    holdings: list[tuple[str, float]]
    is_sample: bool


def _prepare(prices: pd.DataFrame | None, holdings: pd.DataFrame | None, *,
             all_columns: bool = False) -> _Data:
    is_sample = prices is None or holdings is None
    if prices is None:
        prices = sample_prices()
    if holdings is None:
        holdings = sample_holdings()
    if not isinstance(prices, pd.DataFrame):
        raise InputTypeError(f"prices must be a pandas DataFrame, got {type(prices).__name__}")
    if not isinstance(holdings, pd.DataFrame):
        raise InputTypeError(
            f"holdings must be a pandas DataFrame, got {type(holdings).__name__}"
        )
    for col in prices.columns:
        validate_identifier("price column", col)
    for required in ("BTC", "ETH"):
        if required not in prices.columns:
            raise UnknownNameError(
                f"prices must have a {required!r} column, got {list(prices.columns)}"
            )
    if len(prices) < 2:
        raise InsufficientDataError(f"prices must have >= 2 rows, got {len(prices)}")
    try:
        index = pd.DatetimeIndex(prices.index)
    except (TypeError, ValueError):
        raise InputTypeError("prices index must hold dates") from None
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    if not index.is_monotonic_increasing or not index.is_unique:
        raise DomainError("prices index must be strictly increasing dates")

    for col in ("asset", "quantity"):
        if col not in holdings.columns:
            raise UnknownNameError(
                f"holdings must have an {col!r} column, got {list(holdings.columns)}"
            )
    if len(holdings) < 1:
        raise InsufficientDataError("holdings must have >= 1 row, got 0")
    rows: list[tuple[str, float]] = []
    for asset, qty in zip(holdings["asset"], holdings["quantity"], strict=True):
        validate_identifier("asset", asset)
        if asset not in prices.columns:
            raise UnknownNameError(
                f"asset must be one of the price columns {list(prices.columns)}, got {asset!r}"
            )
        rows.append((asset, as_float(f"quantity of {asset}", qty)))

    assets = ["BTC", "ETH"]
    assets += [a for a, _ in rows if a not in assets]
    if all_columns:  # every price column, in the given order after BTC and ETH
        assets = ["BTC", "ETH", *[a for a in prices.columns if a not in ("BTC", "ETH")]]
    assets = list(dict.fromkeys(assets))
    block = float_array("prices", prices[assets].to_numpy(), ndim=2)
    return _Data(
        dates=list(index.to_pydatetime()),
        assets=assets,
        prices=block,
        holdings=rows,
        is_sample=is_sample,
    )


# -------------------------------------------------------------- catalogue ---
def _first_tier_rate(tiers: Any) -> float | None:
    if not tiers:
        return None
    tier = tiers[0]
    for attr in ("maintenance_rate", "mmr", "rate"):
        if hasattr(tier, attr):
            return float(getattr(tier, attr))
        if isinstance(tier, Mapping) and attr in tier:
            return float(tier[attr])
    return None


def catalogue_rows() -> list[ContractRow]:
    """Rows for the Contracts sheet from the catalogue in use
    (:func:`betaneutral.core.contracts.active_catalogue`: the built-in one, and a user's
    catalogue given with ``--catalogue`` or ``BETANEUTRAL_CATALOGUE``).

    Returns
    -------
    list of ContractRow
        One row per catalogue entry, in catalogue order; empty when the
        catalogue module is not available.
    """
    try:
        from betaneutral.core import contracts
    except ImportError:
        return []
    catalogue = contracts.active_catalogue()  # the user's catalogue too, when one is given
    rows = []
    for key, spec in catalogue.items():
        name = getattr(spec, "name", key)
        rows.append(
            ContractRow(
                name=str(name),
                kind=str(spec.kind),
                contract_size=float(spec.contract_size),
                quantity_step=float(spec.quantity_step),
                min_quantity=float(spec.min_quantity),
                maintenance_rate=_first_tier_rate(getattr(spec, "margin_tiers", ())),
                settlement_currency=str(spec.settlement_currency),
                source=str(spec.source),
                underlying=str(getattr(spec, "underlying", "")),
                checked=str(getattr(spec, "checked", "")),
            )
        )
    return rows


# ---------------------------------------------------------------- helpers ---
def _ref(ws: Worksheet, coord: str) -> str:
    return f"{quote_sheetname(ws.title)}!{absolute_coordinate(coord)}"


def _define_text(ws: Worksheet, name: str, text: str) -> None:
    """A defined name with the given text (a structured reference to a table)."""
    ws.parent.defined_names[name] = DefinedName(name, attr_text=text)


def _define(ws: Worksheet, name: str, coord: str) -> None:
    """A defined name over cells of ``ws``."""
    _define_text(ws, name, _ref(ws, coord))


def _add_table(ws: Worksheet, name: str, ref: str, headers: Sequence[str],
               calculated: Mapping[str, str]) -> None:
    """An Excel Table over ``ref`` (header row first) with the columns ``headers``.

    ``calculated`` maps a column to its calculated-column formula (without ``=``),
    written as on the table's first data row: Excel fills it, with its references
    moved, into each row the table grows by. The table has a filter button on each
    header (sorting) and no banding, so that the book's own fills show.
    """
    table = Table(displayName=name, name=name, ref=ref)
    table.tableColumns = [
        TableColumn(id=i + 1, name=header,
                    calculatedColumnFormula=(TableFormula(attr_text=calculated[header])
                                             if header in calculated else None))
        for i, header in enumerate(headers)]
    table.autoFilter = AutoFilter(ref=ref)
    table.tableStyleInfo = TableStyleInfo(name="TableStyleLight1", showFirstColumn=False,
                                          showLastColumn=False, showRowStripes=False,
                                          showColumnStripes=False)
    ws.add_table(table)


class _Formula(str):
    """A formula written by this module (never user text)."""

    __slots__ = ()


def _put(
    ws: Worksheet,
    coord: str,
    value: Any,
    *,
    fill: PatternFill | None = None,
    fmt: str | None = None,
    font: Font | None = None,
    align: Alignment | None = None,
    border: Border | None = None,
) -> None:
    cell = ws[coord]
    if isinstance(value, _Formula):
        cell.value = str(value)
    elif isinstance(value, str):
        write_text(cell, value)  # text is never taken for a formula or an error code
    else:
        cell.value = value
    if fill is not None:
        cell.fill = fill
    if fmt is not None:
        cell.number_format = fmt
    if font is not None:
        cell.font = font
    if align is not None:
        cell.alignment = align
    if border is not None:
        cell.border = border


def _same_style(cell: Any, like: Any) -> None:
    """Give ``cell`` the style of ``like`` (a cell of the same workbook styled already).

    Setting a fill, border or number format looks the object up in the workbook's style
    lists (hashing it) on every cell; the price and rolling-beta blocks hold hundreds of
    thousands of cells sharing a few styles, so each takes a copy of its first cell's
    style indices instead. The workbook written is the same (openpyxl's own
    ``copy(cell._style)``, as in its worksheet copier).
    """
    cell._style = copy(like._style)


def _computed(ws: Worksheet, coord: str, formula: str, fmt: str | None = None) -> None:
    _put(ws, coord, _Formula(formula), fill=_COMPUTED_FILL, fmt=fmt, border=_BOX)


def _array(ws: Worksheet, ref: str, formula: str, fmts: Sequence[str | None] = (),
           apart: BulkRows | None = None) -> None:
    """A CSE array formula over the fixed range ``ref`` (styled cell by cell); with
    ``apart``, the cells after the first row are described there instead."""
    anchor = ref.split(":")[0]
    ws[anchor] = ArrayFormula(ref, formula)
    styles: dict[int, Any] = {}  # column offset -> the style of its first cell
    c1, r1, c2, r2 = range_boundaries(ref)
    made = ref if apart is None else f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r1}"
    for row in ws[made]:
        for j, cell in enumerate(row):
            if j in styles:
                _same_style(cell, styles[j])
                continue
            cell.fill = _COMPUTED_FILL
            cell.border = _BOX
            fmt = fmts[j] if j < len(fmts) else None
            if fmt:
                cell.number_format = fmt
            styles[j] = cell
    if apart is not None:
        apart.add(ws.title, r1 + 1, r2, [BulkColumn(c1 + j, like) for j, like in styles.items()])


def _title(ws: Worksheet, title: str, subtitle: str, col: str = "A") -> None:
    _put(ws, f"{col}1", title, font=_TITLE_FONT)
    _put(ws, f"{col}2", subtitle, font=_SUBTITLE_FONT)
    ws.row_dimensions[1].height = 24


def _header(ws: Worksheet, row: int, labels: Iterable[str], first_col: int = 1) -> None:
    for j, label in enumerate(labels):
        coord = f"{get_column_letter(first_col + j)}{row}"
        _put(ws, coord, label, fill=_HEADER_FILL, font=_HEADER_FONT, align=_CENTER,
             border=_BOX)
    ws.row_dimensions[row].height = 32


def _widths(ws: Worksheet, widths: Mapping[str, float]) -> None:
    for col, width in widths.items():
        ws.column_dimensions[col].width = width


def _print_setup(ws: Worksheet, *, title_rows: str | None = None,
                 landscape: bool = True) -> None:
    if title_rows:
        ws.print_title_rows = title_rows
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.oddFooter.center.text = "&A - page &P of &N"


def _line_chart(ws: Worksheet, anchor: str, data: Reference, categories: Reference, *,
                title: str, y_title: str, size: tuple[float, float],
                x_title: str | None = None, x_format: str | None = None,
                y_format: str | None = None, plain_lines: bool = False,
                x_labels_low: bool = False) -> None:
    """A native line chart of ``data`` (series titles in its first row) over
    ``categories``, with both axes shown, placed at ``anchor``.

    ``size`` is (height, width) in centimetres; ``plain_lines`` draws straight,
    thin lines (for long daily series); ``x_labels_low`` puts the category labels
    under the plot area instead of on the zero line.
    """
    chart = LineChart()
    chart.title = title
    chart.y_axis.title = y_title
    if x_title is not None:
        chart.x_axis.title = x_title
    if x_format is not None:
        chart.x_axis.number_format = x_format
    if y_format is not None:
        chart.y_axis.number_format = y_format
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.height, chart.width = size
    if x_labels_low:
        chart.x_axis.tickLblPos = "low"
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(categories)
    if plain_lines:
        for series in chart.series:
            series.smooth = False
            series.graphicalProperties.line.width = 15000
    ws.add_chart(chart, anchor)

def _note(text: str, *, width: int = 320, height: int = 130) -> Comment:
    comment = Comment(text, _AUTHOR)
    comment.width = width
    comment.height = height
    return comment


def _section(ws: Worksheet, row: int, text: str, first: str, last: str) -> None:
    for col in range(column_index_from_string(first), column_index_from_string(last) + 1):
        ws.cell(row=row, column=col).fill = _SECTION_FILL
    _put(ws, f"{first}{row}", text, font=_SECTION_FONT)


# ---------------------------------------------------------------- sheets ---
@dataclass(frozen=True)
class _Setting:
    name: str
    label: str
    default: Any
    fmt: str | None
    rule: str
    note: str
    validation: DataValidation


def _list_dv(formula: str) -> DataValidation:
    return DataValidation(type="list", formula1=formula, allow_blank=False)


def _num_dv(kind: str, operator: str, low: str, high: str | None = None) -> DataValidation:
    return DataValidation(type=kind, operator=operator, formula1=low, formula2=high,
                          allow_blank=False)


def _settings_spec(default_contract: str) -> list[_Setting]:
    return [
        _Setting("BenchmarkChoice", "Benchmark", "BTC", None, "BTC | BTC/ETH 50/50",
                 "Market proxy for the 'Beta vs benchmark' column and the rolling betas: "
                 "BTC, or a 50/50 BTC/ETH index rebalanced daily. The hedge itself is "
                 "always sized with betas to BTC, the asset the futures track.",
                 _list_dv('"BTC,BTC/ETH 50/50"')),
        _Setting("ReturnType", "Return type", "simple", None, "simple | log",
                 "Return definition of the Holdings betas (Beta vs benchmark, Beta to "
                 "BTC): simple = P(t)/P(t-1) - 1 (default), log = ln(P(t)/P(t-1)). "
                 "Stats and Rolling always use simple returns.",
                 _list_dv('"simple,log"')),
        _Setting("Window", "Beta window (days)", 90, FMT_INT, "whole number >= 0; 0 = all",
                 "Number of most recent daily returns used for each beta; 0 uses the whole "
                 "history. Short windows react faster but have larger standard errors "
                 "(see Stats).",
                 _num_dv("whole", "greaterThanOrEqual", "0")),
        _Setting("BetaMethod", "Beta method", "ols", None,
                 "ols | blume | ewma | ewls | welch | welch-decay | vasicek | vasicek-ewls "
                 "| vasicek-welch | vasicek-welch-decay",
                 "ols = least-squares slope of asset returns on benchmark returns; "
                 "blume = 0.67 x OLS + 0.33 (pulled toward 1); ewma = exponentially "
                 "weighted, recent days weigh more; ewls = weighted least squares, "
                 "half-life 126 days; welch = OLS after clipping each day's return to "
                 "-2..+4 x BTC's; welch-decay = welch with the ewls weights; vasicek = "
                 "each OLS beta pulled toward the holdings' mean beta, the more the larger "
                 "its standard error (vasicek-<method>: the same for that method's betas; "
                 "needs 3 holdings). "
                 "betaneutral backtest --estimators compares them on this book.",
                 _list_dv('"ols,blume,ewma,ewls,welch,welch-decay,vasicek,vasicek-ewls,'
                          'vasicek-welch,vasicek-welch-decay"')),
        _Setting("MinObs", "Minimum observations", 60, FMT_INT, "whole number >= 3",
                 "Fewest paired daily returns accepted for a beta; with fewer the cell "
                 "shows #N/A instead of an unreliable number.",
                 _num_dv("whole", "greaterThanOrEqual", "3")),
        _Setting("TargetBeta", "Target portfolio beta", 0.0, FMT_BETA, "between -2 and 2",
                 "Portfolio beta to BTC the hedge aims at; 0 = beta neutral.",
                 _num_dv("decimal", "between", "-2", "2")),
        _Setting("RebalanceBand", "Rebalance band (beta)", 0.05, FMT_BETA, "between 0 and 1",
                 "Rebalance when |portfolio beta - target| exceeds this band "
                 "(in beta units, 0.05 = 5 beta points).",
                 _num_dv("decimal", "between", "0", "1")),
        _Setting("HedgeContract", "Hedge contract", default_contract, None,
                 "a name from the Contracts sheet",
                 "Futures contract used for the hedge (EXCHANGE:SYMBOL); pick one whose "
                 "underlying is BTC. The list comes from the name column of the Contracts "
                 "sheet.",
                 _list_dv("ContractNames")),
        _Setting("FuturesPrice", "Futures price (USD)",
                 _Formula(DEFAULT_FUTURES_PRICE_FORMULA),
                 FMT_PRICE, "> 0",
                 "Price of the hedge contract in USD. The default formula takes the last "
                 "BTC close on Benchmark; type the current futures mark price to override.",
                 _num_dv("decimal", "greaterThan", "0")),
        _Setting("StressMove", "Stress move (BTC rally)", 0.30, FMT_PCT, "> -100%",
                 "BTC move the short must survive without liquidation (0.30 = +30%). "
                 "It sizes the margin buffer on Rebalance.",
                 _num_dv("decimal", "greaterThan", "-1")),
        _Setting("SafetyMultiplier", "Safety multiplier", 1.2, "0.00", ">= 1",
                 "Multiplier applied to the margin buffer (1.2 = 20% on top).",
                 _num_dv("decimal", "greaterThanOrEqual", "1")),
        _Setting("FundingRate8h", "Funding rate per 8 h", 0.0001, FMT_RATE,
                 "between -5% and 5%",
                 "Expected perpetual funding rate per 8-hour interval (0.01% is the usual "
                 "baseline). When it is positive, longs pay shorts: the short hedge "
                 "receives funding.",
                 _num_dv("decimal", "between", "-0.05", "0.05")),
        _Setting("FundingHorizonDays", "Funding horizon (days)", 30, FMT_INT, ">= 0",
                 "Horizon of the funding estimate on Rebalance, in days.",
                 _num_dv("decimal", "greaterThanOrEqual", "0")),
        _Setting("RollingWindow", "Rolling beta window (days)", 90, FMT_INT,
                 "whole number >= 3",
                 "Window of the rolling betas on the Rolling sheet, in days. It should be "
                 "at least Minimum observations.",
                 _num_dv("whole", "greaterThanOrEqual", "3")),
    ]


def _validation_text(dv: DataValidation, label: str, rule: str) -> None:
    dv.showErrorMessage = True
    dv.showInputMessage = True
    dv.errorStyle = "stop"
    dv.errorTitle = f"{label}"[:32]
    dv.error = f"{label} must be {rule}."[:255]
    dv.promptTitle = f"{label}"[:32]
    dv.prompt = f"Allowed: {rule}."[:255]


def _settings_formulas() -> dict[str, str]:
    """The Settings values that are formulas (the futures price's last close), by cell."""
    return {f"B{_SETTINGS_FIRST_ROW + i}": str(spec.default)
            for i, spec in enumerate(_settings_spec(_DEFAULT_CONTRACT))
            if isinstance(spec.default, _Formula)}


def _build_settings(ws: Worksheet, default_contract: str) -> None:
    _title(ws, "Settings", "Named inputs used by every formula. Hover a value for its note.")
    _header(ws, _SETTINGS_FIRST_ROW - 1, ("Setting", "Value", "Defined name", "Allowed values"))
    formulas = _settings_formulas()
    for i, spec in enumerate(_settings_spec(default_contract)):
        row = _SETTINGS_FIRST_ROW + i
        value = _Formula(formulas[f"B{row}"]) if f"B{row}" in formulas else spec.default
        _put(ws, f"A{row}", spec.label, font=_BOLD, border=_BOX)
        _put(ws, f"B{row}", value, fill=_INPUT_FILL, fmt=spec.fmt, border=_BOX,
             align=Alignment(horizontal="right"))
        _put(ws, f"C{row}", spec.name, border=_BOX, font=_font(color="595959"))
        _put(ws, f"D{row}", spec.rule, border=_BOX)
        ws[f"B{row}"].comment = _note(spec.note)
        _validation_text(spec.validation, spec.label, spec.rule)
        spec.validation.add(f"B{row}")
        ws.add_data_validation(spec.validation)
        _define(ws, spec.name, f"B{row}")
    _widths(ws, {"A": 30, "B": 22, "C": 22, "D": 36})
    ws.freeze_panes = "A5"
    _print_setup(ws, title_rows="4:4", landscape=False)


def _price_format(values: np.ndarray) -> str:
    """Number format with decimals suited to the size of the prices."""
    finite = np.abs(values[np.isfinite(values)])
    level = float(np.median(finite)) if finite.size else 1.0
    if level >= 10:
        return "#,##0.00"
    if level >= 1:
        return "#,##0.0000"
    return "#,##0.000000"


def _index_formula(bench_col: str, row: int) -> str:
    """The benchmark index on a row after the first."""
    return (f'=IF(BenchmarkChoice="BTC",B{row},{bench_col}{row - 1}*'
            f"(1+0.5*(B{row}/B{row - 1}-1)+0.5*(C{row}/C{row - 1}-1)))")


def _benchmark_formulas(data: _Data) -> dict[str, str]:
    """The benchmark index column, by cell: the first BTC close, then the chained index."""
    first, last = 2, len(data.dates) + 1
    bench_col = get_column_letter(2 + len(data.assets))
    out = {f"{bench_col}{first}": f"=B{first}"}
    out.update((f"{bench_col}{row}", _index_formula(bench_col, row))
               for row in range(first + 1, last + 1))
    return out


def _build_benchmark(ws: Worksheet, data: _Data, apart: BulkRows | None = None
                     ) -> dict[str, str]:
    """Prices and the benchmark index; returns asset -> absolute column range.

    With ``apart``, the prices and index formulas after the first row are described
    there instead of made as cells (the dates are cells on every row).
    """
    t = len(data.dates)
    first, last = 2, t + 1
    bench_col = get_column_letter(2 + len(data.assets))
    fmts = [_price_format(data.prices[:, j]) for j in range(len(data.assets))]
    formulas = _benchmark_formulas(data)
    _header(ws, 1, ["Date", *data.assets, "Benchmark"])
    ws.row_dimensions[1].height = 20
    styled: dict[int, Any] = {}  # column -> its first cell (the others share its style)
    for i, (day, prices) in enumerate(zip(data.dates, data.prices.tolist(), strict=True)):
        row = first + i
        cell = ws.cell(row=row, column=1, value=day)
        if i:
            _same_style(cell, styled[1])
        else:
            cell.number_format = FMT_DATE
            cell.fill = _INPUT_FILL
            styled[1] = cell
        if i and apart is not None:
            continue
        for j, value in enumerate(prices):
            cell = ws.cell(row=row, column=2 + j,
                           value=None if math.isnan(value) else value)
            if i:
                _same_style(cell, styled[2 + j])
                continue
            cell.number_format = fmts[j]
            cell.fill = _INPUT_FILL
            styled[2 + j] = cell
        cell = ws[f"{bench_col}{row}"]
        cell.value = formulas[f"{bench_col}{row}"]
        if i:
            _same_style(cell, styled[0])
        else:
            cell.number_format = fmts[0]
            cell.fill = _COMPUTED_FILL
            styled[0] = cell
    if apart is not None:
        apart.prices = data.prices
        apart.add(ws.title, first + 1, last, [
            *(BulkColumn(2 + j, styled[2 + j], values=data.prices[1:, j])
              for j in range(len(data.assets))),
            BulkColumn(2 + len(data.assets), styled[0],
                       formula=lambda row: formulas[f"{bench_col}{row}"])])
    ws[f"{bench_col}1"].comment = _note(
        "Equals the BTC price when Settings > Benchmark is BTC. Otherwise a 50/50 BTC/ETH "
        "index rebalanced daily: I(t) = I(t-1) x (1 + 0.5 r_BTC(t) + 0.5 r_ETH(t)), "
        "starting at the first BTC price."
    )
    ranges = {}
    for j, asset in enumerate(data.assets):
        col = get_column_letter(2 + j)
        ranges[asset] = f"Benchmark!${col}${first}:${col}${last}"
    # The chained index's formula as a calculated column: written for the first data
    # row, with its references relative to that row (Excel fills it into each new row).
    chained = _index_formula(bench_col, first)[1:]
    headers = ["Date", *data.assets, "Benchmark"]
    _add_table(ws, PRICES_TABLE, f"A1:{bench_col}{last}", headers, {"Benchmark": chained})
    last_asset = table_column_name(data.assets[-1])
    _define_text(ws, "Dates", f"{PRICES_TABLE}[Date]")
    _define_text(ws, "BTCPrices", f"{PRICES_TABLE}[BTC]")
    _define_text(ws, "ETHPrices", f"{PRICES_TABLE}[ETH]")
    _define_text(ws, "BenchPrices", f"{PRICES_TABLE}[Benchmark]")
    _define_text(ws, "PriceAssets", f"{PRICES_TABLE}[[#Headers],[BTC]:[{last_asset}]]")
    _define_text(ws, "PriceBlock", f"{PRICES_TABLE}[[BTC]:[{last_asset}]]")
    _widths(ws, {"A": 12})
    for j in range(len(data.assets) + 1):
        ws.column_dimensions[get_column_letter(2 + j)].width = 14
    ws.freeze_panes = "B2"
    _print_setup(ws, title_rows="1:1")
    return ranges


def _holdings_formulas(data: _Data) -> dict[str, str]:
    """The computed columns of each holding row and the totals, by cell."""
    first, last = HOLDINGS_HEADER_ROW + 1, HOLDINGS_HEADER_ROW + len(data.holdings)
    out = {}
    for row in range(first, last + 1):
        out.update((f"{col}{row}", formula)
                   for col, (formula, _) in holding_row_formulas(row).items())
    for column in HOLDING_COLUMNS:
        if column.total is not None:
            out[f"{column.letter}{HOLDINGS_TOTAL_ROW}"] = column.total(first, last)
    return out


def _build_holdings(ws: Worksheet, data: _Data) -> None:
    """The Holdings sheet from :data:`~betaneutral.workbook.book.HOLDING_COLUMNS`."""
    n = len(data.holdings)
    first, last = HOLDINGS_HEADER_ROW + 1, HOLDINGS_HEADER_ROW + n
    total = HOLDINGS_TOTAL_ROW
    formulas = _holdings_formulas(data)
    _title(ws, "Holdings", "Spot book: enter quantities (yellow). Betas use the Settings "
           "window, method and minimum observations.")
    _header(ws, HOLDINGS_HEADER_ROW, [c.header for c in HOLDING_COLUMNS])
    for i, (asset, qty) in enumerate(data.holdings):
        row = first + i
        _put(ws, f"A{row}", asset, font=_BOLD, border=_BOX)
        _put(ws, f"B{row}", qty, fill=_INPUT_FILL, fmt=FMT_QTY, border=_BOX)
        fmt = _price_format(data.prices[:, data.assets.index(asset)])
        for col, (_, number_format) in holding_row_formulas(row).items():
            _computed(ws, f"{col}{row}", formulas[f"{col}{row}"],
                      fmt if col == "C" else number_format)
    _put(ws, f"A{total}", TOTAL_LABEL, font=_BOLD)
    for column in HOLDING_COLUMNS:
        if column.total is not None:
            coord = f"{column.letter}{total}"
            _computed(ws, coord, formulas[coord], column.fmt)
            ws[coord].font = _BOLD
        if column.note and column.letter != "A":
            ws[f"{column.letter}{HOLDINGS_HEADER_ROW}"].comment = _note(column.note, height=80)
        _define_text(ws, column.name,
                     f"{HOLDINGS_TABLE}[{table_column_name(column.header)}]")
    _add_table(ws, HOLDINGS_TABLE,
               f"A{HOLDINGS_HEADER_ROW}:{HOLDING_COLUMNS[-1].letter}{last}",
               [c.header for c in HOLDING_COLUMNS],
               {c.header: c.formula(first)[1:] for c in HOLDING_COLUMNS if c.formula})
    for column in HOLDING_COLUMNS:
        ws[f"{column.letter}{total}"].border = _TOTAL_BORDER
    for letter, name in HOLDING_TOTALS.items():
        _define(ws, name, f"{letter}{total}")
    _widths(ws, {"A": 18, "B": 16, "C": 14, "D": 16, "E": 10, "F": 12, "G": 12, "H": 18,
                 "I": 11})
    ws.freeze_panes = "B5"
    _print_setup(ws, title_rows="4:4")


def _asset_formula(i: int) -> str:
    """The name of the ``i``-th holding (from 0), read from Holdings."""
    return f"=INDEX(HoldingAssets,{i + 1})"


def _stats_formulas(data: _Data) -> dict[str, str]:
    """Each holding's name and its ``BETA_STATS`` array, by cell or array range."""
    out = {}
    for i in range(len(data.holdings)):
        row = _STATS_FIRST_ROW + i
        out[f"A{row}"] = _asset_formula(i)
        out[f"B{row}:J{row}"] = (f"=BETA_STATS({price_column(f'$A{row}')},BTCPrices,Window,"
                                 "MinObs)")
    return out


def _build_stats(ws: Worksheet, data: _Data) -> None:
    n = len(data.holdings)
    first, last = _STATS_FIRST_ROW, _STATS_FIRST_ROW - 1 + n
    formulas = _stats_formulas(data)
    _title(ws, "Beta statistics (OLS, to BTC)", "One BETA_STATS array per holding: daily "
           "returns over the Settings window; intervals at 95%.")
    _header(ws, 4, ("Asset", *_STATS_COLUMNS))
    fmts = (FMT_BETA, "0.0000%", FMT_BETA, "0.0000", "0.0000", "0.00", FMT_INT, FMT_BETA,
            FMT_BETA)
    for i in range(n):
        row = first + i
        _put(ws, f"A{row}", _Formula(formulas[f"A{row}"]), font=_BOLD, border=_BOX)
        _array(ws, f"B{row}:J{row}", formulas[f"B{row}:J{row}"], fmts)
    ws["F4"].comment = _note("Heteroskedasticity- and autocorrelation-consistent (Newey-West) "
                             "standard error of beta.", height=70)
    _define(ws, "BetaStats", f"B{first}:J{last}")
    _widths(ws, {"A": 18, **{get_column_letter(c): 12 for c in range(2, 11)}})
    ws.freeze_panes = "B5"
    _print_setup(ws, title_rows="4:4")


def _rolling_formulas(data: _Data) -> dict[str, str]:
    """The dates array, and each holding's name and ``ROLLING_BETA`` array, by cell or
    array range."""
    first, last = 2, len(data.dates) + 1
    out = {f"A{first}:A{last}": "=Dates"}
    for j in range(len(data.holdings)):
        col = get_column_letter(2 + j)
        out[f"{col}1"] = _asset_formula(j)  # the header follows Holdings
        out[f"{col}{first}:{col}{last}"] = (f"=ROLLING_BETA({price_column(f'{col}$1')},"
                                            "BenchPrices,RollingWindow,MinObs)")
    return out


def _build_rolling(ws: Worksheet, data: _Data, apart: BulkRows | None = None) -> None:
    t = len(data.dates)
    first, last = 2, t + 1
    n = len(data.holdings)
    formulas = _rolling_formulas(data)
    _header(ws, 1, ["Date", *[asset for asset, _ in data.holdings]])
    ws.row_dimensions[1].height = 20
    _array(ws, f"A{first}:A{last}", formulas[f"A{first}:A{last}"], (FMT_DATE,), apart)
    for j in range(n):
        col = get_column_letter(2 + j)
        ws[f"{col}1"].value = formulas[f"{col}1"]
        _array(ws, f"{col}{first}:{col}{last}", formulas[f"{col}{first}:{col}{last}"],
               (FMT_BETA,), apart)
    ws["A1"].comment = _note("Rolling betas to the benchmark chosen on Settings, over "
                             "Settings > Rolling beta window; empty until enough days.",
                             height=80)
    last_col = get_column_letter(1 + n)
    _define(ws, "RollingBetas", f"B{first}:{last_col}{last}")
    _line_chart(ws, f"{get_column_letter(n + 3)}2",
                Reference(ws, min_col=2, max_col=1 + n, min_row=1, max_row=last),
                Reference(ws, min_col=1, min_row=first, max_row=last),
                title="Rolling beta to the benchmark", y_title="Beta", size=(12, 26),
                x_title="Date", x_format="yyyy-mm", plain_lines=True)
    _widths(ws, {"A": 12, **{get_column_letter(c): 11 for c in range(2, n + 2)}})
    ws.freeze_panes = "B2"
    _print_setup(ws, title_rows="1:1")


def _signal_ref(line: Signal) -> str:
    """The array range of a signal line: its names side by side from column B."""
    row = REBALANCE_ROWS[line.key]
    return f"B{row}:{get_column_letter(1 + len(line.names))}{row}"


def _rebalance_formulas() -> dict[str, str]:
    """Each computed line's formula (a signal's array), by cell or array range."""
    out = {}
    for section in REBALANCE:
        for line in section.lines:
            if isinstance(line, Signal):
                out[_signal_ref(line)] = line.formula
            elif not line.is_input:
                out[f"B{REBALANCE_ROWS[line.key]}"] = line.formula
    return out


def _build_rebalance(ws: Worksheet) -> None:
    """The Rebalance sheet from :data:`~betaneutral.workbook.book.REBALANCE`."""
    r = REBALANCE_ROWS
    formulas = _rebalance_formulas()
    _title(ws, "Rebalance", "Hedge sizing, drift against the band, the restoring order, "
           "margin and funding. Positive contracts and notionals mean short.")
    grey = _font(color="595959")
    for section in REBALANCE:
        _section(ws, SECTION_ROWS[section.title], section.title, "A", "E")
        for line in section.lines:
            row = r[line.key]
            if isinstance(line, Signal):
                _header(ws, r[f"{line.key}Header"], line.headers, first_col=2)
                _put(ws, f"A{row}", line.label, border=_BOX)
                _array(ws, _signal_ref(line), formulas[_signal_ref(line)], line.fmts)
                ws[f"C{row}"].alignment = Alignment(horizontal="center")
                _put(ws, f"E{row}", line.note, font=grey)
                for j, name in enumerate(line.names):
                    _define(ws, name, f"{get_column_letter(2 + j)}{row}")
                continue
            assert isinstance(line, Line)
            _put(ws, f"A{row}", line.label, border=_BOX)
            if line.is_input:
                _put(ws, f"B{row}", line.default, fill=_INPUT_FILL, fmt=line.fmt, border=_BOX)
            else:
                _computed(ws, f"B{row}", formulas[f"B{row}"], line.fmt)
            if line.bold:
                ws[f"B{row}"].font = _BOLD
            _put(ws, f"C{row}", line.note, font=grey)
            if line.named:
                _define(ws, line.key, f"B{row}")

    sig = r["Signal"]
    red = FormulaRule(formula=[f"N($C${sig})=1"], fill=_BREACH_FILL,
                      font=Font(bold=True, color="FFFFFF"), stopIfTrue=False)
    ws.conditional_formatting.add(f"B{sig}:D{sig}", red)
    ws.conditional_formatting.add(f"B{r['Action']}:B{r['OrderContracts']}", red)
    dv = DataValidation(type="decimal", operator="between", formula1="-1E+12",
                        formula2="1E+12", allow_blank=False)
    _validation_text(dv, "Current futures position", "a number of contracts (> 0 short)")
    dv.add(f"B{r['CurrentContracts']}")
    ws.add_data_validation(dv)
    ws[f"B{r['CurrentContracts']}"].comment = _note(
        "Contracts of the hedge contract you hold now: > 0 short, < 0 long, 0 none.",
        height=70)
    _widths(ws, {"A": 38, "B": 18, "C": 14, "D": 16, "E": 44})
    ws.freeze_panes = "A4"
    _print_setup(ws)


def _scenarios_formulas() -> dict[str, str]:
    """The ``HEDGE_SCENARIOS`` array, by its range."""
    first, last = _SCENARIO_FIRST_ROW, _SCENARIO_FIRST_ROW - 1 + _SCENARIO_ROWS
    return {f"A{first}:E{last}": "=HEDGE_SCENARIOS(HoldingValues,HoldingBetas,TargetContracts,"
                                 "FuturesPrice,MarginBuffer,HedgeContract)"}


def _build_scenarios(ws: Worksheet) -> None:
    first, last = _SCENARIO_FIRST_ROW, _SCENARIO_FIRST_ROW - 1 + _SCENARIO_ROWS
    _title(ws, "Scenarios", "P&L for instant BTC moves, each holding moving by its beta; the "
           "hedge is the target contracts with the margin buffer posted.")
    _header(ws, 4, _SCENARIO_COLUMNS)
    _array(ws, f"A{first}:E{last}", _scenarios_formulas()[f"A{first}:E{last}"],
           (FMT_PCT, FMT_PRICE, FMT_USD, FMT_USD, FMT_BOOL))
    for row in range(first, last + 1):
        ws[f"E{row}"].alignment = Alignment(horizontal="center")
    ws["E4"].comment = _note("TRUE where the short would be liquidated at that BTC price.",
                             height=60)
    _define(ws, "ScenarioTable", f"A{first}:E{last}")
    _line_chart(ws, "G4", Reference(ws, min_col=3, max_col=4, min_row=4, max_row=last),
                Reference(ws, min_col=1, min_row=first, max_row=last),
                title="P&L with and without the hedge", y_title="P&L (USD)", size=(9, 18),
                x_title="BTC move", x_format="0%", y_format="#,##0",
                x_labels_low=True)  # move labels under the plot, not on the zero line
    _widths(ws, {"A": 11, "B": 16, "C": 18, "D": 18, "E": 12})
    ws.freeze_panes = "A5"
    _print_setup(ws, title_rows="4:4")


def _build_tickets(ws: Worksheet) -> None:
    _header(ws, 1, TICKET_COLUMNS)
    formats = {"B": "yyyy-mm-dd hh:mm:ss", "H": "#,##0.########", "I": FMT_PRICE,
               "M": "#,##0.########", "N": FMT_USD, "P": FMT_BETA, "Q": FMT_BETA}
    widths = {"A": 22, "B": 20, "C": 11, "D": 16, "E": 18, "F": 7, "G": 8, "H": 12, "I": 12,
              "J": 8, "K": 31, "L": 12, "M": 11, "N": 14, "O": 110, "P": 10, "Q": 10}
    _widths(ws, widths)
    for col, fmt in formats.items():
        ws.column_dimensions[col].number_format = fmt
    ws["A1"].comment = _note("Hedge tickets are written below this header by the "
                             "betaneutral command; one row per order.", height=60)
    _define(ws, "TicketHeader", f"A1:{get_column_letter(len(TICKET_COLUMNS))}1")
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(TICKET_COLUMNS))}1"
    _print_setup(ws, title_rows="1:1")


def _build_backtest(ws: Worksheet, data: _Data) -> None:
    """Labels, formats and charts of the Backtest sheet; the commands write its values."""
    n_days = len(data.dates)
    _title(ws, "Backtest", "The hedging policy replayed on this book's price history: "
           "filled by betaneutral compute and betaneutral backtest (values, not formulas).")
    _put(ws, bt.STATUS_CELL, "Not run yet: run betaneutral compute on this workbook.",
         font=_SUBTITLE_FONT)
    _section(ws, bt.SETTINGS_FIRST_ROW - 1, "Policy replayed", "A", "B")
    for i, (_, label, fmt) in enumerate(bt.SETTING_ROWS):
        row = bt.SETTINGS_FIRST_ROW + i
        _put(ws, f"A{row}", label)
        _put(ws, f"B{row}", None, fmt=fmt, fill=_COMPUTED_FILL, border=_BOX)
    _section(ws, bt.SUMMARY_FIRST_ROW - 1, "Results of the policy replayed", "A", "B")
    for i, (_, label, fmt) in enumerate(bt.SUMMARY_ROWS):
        row = bt.SUMMARY_FIRST_ROW + i
        _put(ws, f"A{row}", label)
        _put(ws, f"B{row}", None, fmt=fmt, fill=_COMPUTED_FILL, border=_BOX)
    _header(ws, bt.POLICY_HEADER_ROW, [label for _, label, _ in bt.POLICY_HEADER],
            first_col=bt.POLICY_FIRST_COL)
    for r in range(bt.POLICY_ROWS):
        for j, (_, _, fmt) in enumerate(bt.POLICY_HEADER):
            coord = f"{get_column_letter(bt.POLICY_FIRST_COL + j)}{bt.POLICY_FIRST_ROW + r}"
            _put(ws, coord, None, fmt=fmt, fill=_COMPUTED_FILL, border=_BOX)
    ws.cell(row=bt.POLICY_HEADER_ROW, column=bt.POLICY_FIRST_COL).comment = _note(
        "Each row replays the same book with another band or check frequency: compare the "
        "realised beta (how neutral the book stayed) with the net cost (fees and slippage "
        "less funding received).", height=90)
    _header(ws, bt.DAILY_HEADER_ROW, [label for _, label, _ in bt.DAILY_HEADER])
    for j, (_, _, fmt) in enumerate(bt.DAILY_HEADER):
        if fmt:
            col = get_column_letter(1 + j)
            for row in range(bt.DAILY_FIRST_ROW, bt.DAILY_FIRST_ROW + n_days):
                ws[f"{col}{row}"].number_format = fmt
    first, last = bt.DAILY_FIRST_ROW, bt.DAILY_FIRST_ROW + n_days - 1
    dates = Reference(ws, min_col=1, min_row=first, max_row=last)
    for anchor, title, y_title, y_fmt, cols in (
        (bt.CHART_PNL_ANCHOR, "Cumulative P&L: hedged and unhedged book", "USD", "#,##0",
         (2, 3)),
        (bt.CHART_BETA_ANCHOR, "Estimated portfolio beta and the rebalance band", "Beta",
         "0.00", (4, 6)),
    ):
        _line_chart(ws, anchor, Reference(ws, min_col=cols[0], max_col=cols[1],
                                          min_row=bt.DAILY_HEADER_ROW, max_row=last),
                    dates, title=title, y_title=y_title, size=(7.5, 24), x_format="yyyy-mm",
                    y_format=y_fmt, plain_lines=True,
                    x_labels_low=True)  # dates under the plot, not on the zero line
    _widths(ws, {"A": 34, "B": 16, **{get_column_letter(bt.POLICY_FIRST_COL + j): 12
                                      for j in range(len(bt.POLICY_HEADER))}})
    ws.column_dimensions["C"].width = 12
    for row in (bt.POLICY_HEADER_ROW, bt.DAILY_HEADER_ROW):
        ws.row_dimensions[row].height = 47  # three lines of the header font
    ws.freeze_panes = "A4"
    _print_setup(ws)


def write_contracts_sheet(ws: Worksheet, rows: Sequence[ContractRow]) -> None:
    """Fill ``ws`` as the Contracts sheet and define ``ContractNames``/``ContractTable``.

    Parameters
    ----------
    ws : openpyxl.worksheet.worksheet.Worksheet
        An empty sheet of the template workbook.
    rows : sequence of ContractRow
        Catalogue entries; names are validated as identifiers, free text is
        neutralised.

    Raises
    ------
    InputTypeError
        If a name is not a valid identifier.
    """
    _header(ws, 1, ("Name", "Underlying", "Kind", "Contract size", "Quantity step",
                    "Min quantity", "Maintenance rate (first tier)", "Settlement", "Checked",
                    "Source"))
    qty_fmt = "#,##0.########"
    for i, row in enumerate(rows):
        r = 2 + i
        values: list[tuple[Any, str | None]] = [
            (validate_identifier("contract name", row.name), None),
            (row.underlying, None),
            (row.kind, None),
            (row.contract_size, qty_fmt),
            (row.quantity_step, qty_fmt),
            (row.min_quantity, qty_fmt),
            (row.maintenance_rate, "0.00%"),
            (row.settlement_currency, None),
            (row.checked, None),
            (row.source, None),
        ]
        for j, (value, fmt) in enumerate(values):
            _put(ws, f"{get_column_letter(1 + j)}{r}", value, fill=_INPUT_FILL, fmt=fmt,
                 font=_BOLD if j == 0 else None, border=_BOX,
                 align=_WRAP if j == len(values) - 1 else Alignment(vertical="top"))
        ws.row_dimensions[r].height = 15 * max(1, math.ceil(len(row.source) / 85))
    last = 1 + max(len(rows), 1)
    _define(ws, "ContractNames", f"A2:A{last}")
    _define(ws, "ContractTable", f"A2:J{last}")
    ws["D1"].comment = _note("Linear contracts: coin per contract. Inverse contracts: USD per "
                             "contract.", height=60)
    ws["A1"].comment = _note("Catalogue of futures contracts. The Settings > Hedge contract "
                             "list reads this column; hedge BTC beta with a BTC contract. "
                             "Values change over time: check them with the exchange.", height=90)
    _widths(ws, {"A": 26, "B": 11, "C": 9, "D": 13, "E": 13, "F": 13, "G": 15, "H": 11,
                 "I": 11, "J": 90})
    ws.freeze_panes = "B2"
    _print_setup(ws, title_rows="1:1")


def _build_conf(ws: Worksheet) -> None:
    entries: list[tuple[str, Any, str]] = [
        ("UDF Modules", "betaneutral.udfs", "Python module whose functions are imported."),
        ("Debug UDFs", False, "TRUE only to debug the functions from a Python IDE."),
        ("Use UDF Server", False, "FALSE: a fresh Python process per Excel session."),
        ("Show Console", False, "TRUE shows the Python console window (Windows)."),
    ]
    for i, (key, value, note) in enumerate(entries):
        row = 1 + i
        _put(ws, f"A{row}", key, font=_BOLD)
        if value is not None:
            _put(ws, f"B{row}", value, fill=_INPUT_FILL,
                 fmt=FMT_BOOL if isinstance(value, bool) else None)
        else:
            ws[f"B{row}"].fill = _INPUT_FILL
        _put(ws, f"C{row}", note, font=_font(color="595959"))
    # No Interpreter_Win/Interpreter_Mac rows: a key here, even with an empty value,
    # overrides the interpreter chosen in the xlwings ribbon.
    _put(ws, "A9", "Keys must stay in column A from A1 with no blank row between them; "
         "xlwings reads this sheet by its name. The Python interpreter is not set here but "
         "in the xlwings ribbon tab (Interpreter).", font=_SUBTITLE_FONT)
    _widths(ws, {"A": 18, "B": 40, "C": 55})
    _print_setup(ws, landscape=False)


def _paragraph(ws: Worksheet, row: int, text: str, *, first: str = "B", last: str = "H",
               chars_per_line: int = 135, font: Font | None = None) -> None:
    ws.merge_cells(f"{first}{row}:{last}{row}")
    _put(ws, f"{first}{row}", text, align=_WRAP, font=font)
    lines = max(1, math.ceil(len(text) / chars_per_line))
    ws.row_dimensions[row].height = 15.5 * lines + 2


def _start_formulas() -> dict[str, str]:
    """The key figures, ``=<name>``, by cell."""
    return {f"{START_FIGURES_COLUMN}{START_FIGURES_FIRST_ROW + i}": f"={name}"
            for i, (_, name, _, _) in enumerate(START_FIGURES)}


def _build_start(ws: Worksheet, data: _Data, *, macro: bool) -> None:
    _widths(ws, {"A": 2, "B": 34, "C": 20, "D": 16, "E": 16, "F": 16, "G": 16, "H": 16})
    _put(ws, "B2", "BetaNeutral", font=_font(bold=True, size=22, color=_NAVY))
    _put(ws, "B3", "Neutralise a crypto book's beta to BTC by shorting BTC futures.",
         font=_font(italic=True, size=12, color="595959"))
    ws.row_dimensions[2].height = 30
    label = SAMPLE_LABEL if data.is_sample else "Data: supplied by the user."
    ws.merge_cells("B4:H4")
    _put(ws, "B4", label, fill=_SAMPLE_FILL if data.is_sample else None,
         font=_font(bold=True, size=14, color="C00000" if data.is_sample else _NAVY),
         align=Alignment(horizontal="center", vertical="center"))
    ws.row_dimensions[4].height = 26

    row = START_FIGURES_FIRST_ROW - 1
    _section(ws, row, "Key figures", "B", "H")
    formulas = _start_formulas()
    for label_text, _, fmt, sheet in START_FIGURES:
        row += 1
        _put(ws, f"B{row}", label_text, border=_BOX)
        _computed(ws, f"{START_FIGURES_COLUMN}{row}", formulas[f"{START_FIGURES_COLUMN}{row}"],
                  fmt)
        _put(ws, f"D{row}", f"see {sheet}", font=_font(color="595959"))

    sections: list[tuple[str, list[str]]] = [
        ("What this workbook does", [
            "It estimates each holding's beta to BTC from daily prices, sizes the short BTC "
            "futures position that brings the book's beta to a target (0 = beta neutral), "
            "and checks that hedge: rounding to whole contracts, drift against a rebalance "
            "band, margin buffer and liquidation price, funding, and P&L under BTC moves.",
            "What remains after the hedge is the part of the book's return that BTC does "
            "not explain (alpha), plus basis and the error in the estimated betas.",
            "Formula cells show values once calculated: by Excel with the functions "
            "enabled (below), or by the headless command, which stores the results in "
            "the file next to the formulas.",
        ]),
        ("The four steps", [
            "1. Assess: enter quantities on Holdings and prices on Benchmark; choose the "
            "benchmark, window and method on Settings. Read each beta, the portfolio beta "
            "and each holding's share of it; Stats and Rolling show how precise and how "
            "stable the betas are.",
            "2. Size: choose the target beta and the hedge contract on Settings. Rebalance "
            "shows the required short notional, the contracts to short and the residual "
            "beta left by rounding.",
            "3. Execute: place the order shown on Rebalance (side and contracts); the "
            "betaneutral command writes it to Tickets. Post at least the margin buffer as "
            "collateral and note the liquidation price.",
            "4. Maintain: update prices and the current position daily. The rebalance "
            "signal turns red when the drift from the target leaves the band; Scenarios "
            "shows P&L with and without the hedge, and the funding line the carry.",
        ]),
        ("Enabling the worksheet functions", [
            "Excel on Windows: install Python with betaneutral (it installs the xlwings "
            "version the workbook's VBA is written for), run 'xlwings addin install', set "
            "the Python that has betaneutral installed in the xlwings ribbon tab, "
            "Interpreter box (the workbook does not override it), then open "
            "BetaNeutral.xlsm and enable macros: its VBA already wraps every BetaNeutral "
            "function, so the formulas work without Import Functions. The .xlsx has no "
            "VBA: click xlwings > Import Functions there (this needs 'Trust access to the "
            "VBA project object model') and save it as .xlsm.",
            "Any system, no add-in: run 'betaneutral compute' on this file; it calculates "
            "every formula and stores the results next to the formulas, so any spreadsheet "
            "shows them while the formulas stay live for Excel with the add-in.",
            "Macro security: Office blocks macros in files from the internet. Unblock the "
            "file (Properties > Unblock) or keep it in a Trusted Location; never enable "
            "all macros.",
        ]),
    ]
    for heading, paragraphs in sections:
        row += 2
        _section(ws, row, heading, "B", "H")
        for text in paragraphs:
            row += 1
            _paragraph(ws, row, text)

    row += 2
    _section(ws, row, "Legend", "B", "H")
    legend = [
        ("Input", _INPUT_FILL, None, "Your values: quantities, prices, settings, position."),
        ("Computed", _COMPUTED_FILL, None, "Formulas and BetaNeutral functions; do not "
         "overwrite."),
        ("Header", _HEADER_FILL, _HEADER_FONT, "Column headers."),
    ]
    for text, fill, font, meaning in legend:
        row += 1
        _put(ws, f"B{row}", text, fill=fill, font=font, border=_BOX,
             align=Alignment(horizontal="center"))
        _put(ws, f"C{row}", meaning)

    row += 2
    _section(ws, row, "Sheets", "B", "H")
    guide = [
        ("Settings", "Named settings used by every formula."),
        ("Holdings", "The book: quantities, prices, values, betas, dollar beta, shares."),
        ("Stats", "Regression statistics of each beta to BTC (R², standard errors, interval)."),
        ("Rolling", "Rolling betas to the benchmark, with a chart."),
        ("Rebalance", "Sizing, residual beta, drift signal, order, margin, funding."),
        ("Scenarios", "P&L with and without the hedge for BTC moves, with a chart."),
        ("Tickets", "Hedge tickets written by the betaneutral command."),
        ("Benchmark", "Daily prices (input) and the benchmark index."),
        ("Contracts", "Futures contract catalogue (size, step, margin, source)."),
        ("xlwings.conf", "Settings read by the xlwings add-in."),
    ]
    for sheet, meaning in guide:
        row += 1
        cell = ws[f"B{row}"]
        _put(ws, f"B{row}", sheet, font=_font(bold=True, color="0563C1", underline="single"))
        cell.hyperlink = Hyperlink(ref=cell.coordinate, location=f"{quote_sheetname(sheet)}!A1",
                                   display=sheet)
        _put(ws, f"C{row}", meaning)

    if macro:
        row += 2
        _section(ws, row, "Buttons (macros)", "B", "H")
        row += 1
        _paragraph(ws, row, "The buttons beside the key figures run BetaNeutral's Python on the "
                   "saved file (you are asked to save first): Export hedge tickets writes a "
                   "new CSV file next to the workbook, as the betaneutral tickets command "
                   "does; Replay the policy fills the Backtest sheet. No macro runs when "
                   "the workbook opens.")
        row += 2
        _section(ws, row, "Third-party notice", "B", "H")
        row += 1
        _paragraph(ws, row, "This macro-enabled copy embeds the VBA module of xlwings, "
                   "distributed under the BSD 3-clause licence: Copyright (C) 2014 - present, "
                   "Zoomer Analytics GmbH. All rights reserved. The licence text and its "
                   "disclaimer ship with this template in XLWINGS-LICENSE.txt. Its "
                   "Dictionary class module is VBA-Dictionary by Tim Hall (MIT licence, "
                   "in the module's header).")
    ws.sheet_view.showGridLines = False
    _print_setup(ws, landscape=False)


# ------------------------------------------------------------- public API ---
def xlwings_quickstart_path() -> Path:
    """Path of ``quickstart_standalone.xlsm`` inside the installed xlwings package."""
    import xlwings

    return Path(xlwings.__file__).parent / "quickstart_standalone.xlsm"


def _new_workbook(macro: bool) -> Workbook:
    if not macro:
        wb = Workbook()
        wb.remove(wb.active)
        return wb
    wb = load_workbook(xlwings_quickstart_path(), keep_vba=True)
    for name in ("Sheet1", "_xlwings.conf"):
        if name in wb.sheetnames:
            wb.remove(wb[name])
    if wb.sheetnames:
        raise RuntimeError(f"unexpected sheets in the xlwings quickstart: {wb.sheetnames}")
    return wb




def _label_sample(sheets: Mapping[str, Worksheet]) -> None:
    """The synthetic-sample label on the sheets of sample data, and in every printed header."""
    for name, coord in SAMPLE_LABEL_CELLS.items():
        _put(sheets[name], coord, SAMPLE_LABEL, font=_font(bold=True, color="C00000"))
    for ws in sheets.values():
        ws.oddHeader.center.text = SAMPLE_LABEL


def build_workbook(
    *,
    prices: pd.DataFrame | None = None,
    holdings: pd.DataFrame | None = None,
    macro: bool = False,
    all_columns: bool = False,
    apart: BulkRows | None = None,
) -> Workbook:
    """Build the template workbook, filled with the sample data by default.

    Parameters
    ----------
    prices : pandas.DataFrame, optional
        Daily closes in USD: a date index and one column per asset; must contain
        ``BTC`` and ``ETH`` and every held asset. Defaults to
        :func:`betaneutral.sample.sample_prices`.
    holdings : pandas.DataFrame, optional
        Columns ``asset`` and ``quantity``. Defaults to
        :func:`betaneutral.sample.sample_holdings`.
    macro : bool, default False
        Start from xlwings' ``quickstart_standalone.xlsm`` (VBA kept) so that the
        workbook can be saved as ``.xlsm``.
    all_columns : bool, default False
        Keep every price column (BTC and ETH first, then the others in their
        order); by default only BTC, ETH and the held assets.
    apart : BulkRows, optional
        Leave the rows of the price block and of the rolling betas after their first
        out of the workbook and describe them here, to be written into the saved file
        by :func:`~betaneutral.workbook.bulk.write_bulk_rows` (the file is then the
        one saved without ``apart``). The workbook alone is incomplete: save it, then
        write the rows, before anything reads the file.

    Returns
    -------
    openpyxl.Workbook
        The workbook, ready to save (``.xlsm`` when ``macro`` is True).

    Raises
    ------
    InputTypeError
        Wrong input types, or asset names that are not valid identifiers.
    UnknownNameError
        BTC or ETH prices missing, or a held asset without prices.
    InsufficientDataError
        Fewer than 2 prices or no holdings.
    DomainError
        Dates not strictly increasing, or infinite prices.
    """
    data = _prepare(prices, holdings, all_columns=all_columns)
    contracts = catalogue_rows()
    names = [row.name for row in contracts]
    default_contract = _DEFAULT_CONTRACT if _DEFAULT_CONTRACT in names or not names else names[0]

    wb = _new_workbook(macro)
    sheets = {name: wb.create_sheet(name) for name in SHEET_NAMES}
    _build_start(sheets["Start"], data, macro=macro)
    _build_settings(sheets["Settings"], default_contract)
    _build_benchmark(sheets["Benchmark"], data, apart)
    _build_holdings(sheets["Holdings"], data)
    _build_stats(sheets["Stats"], data)
    _build_rolling(sheets["Rolling"], data, apart)
    _build_rebalance(sheets["Rebalance"])
    _build_scenarios(sheets["Scenarios"])
    _build_tickets(sheets["Tickets"])
    _build_backtest(sheets["Backtest"], data)
    write_contracts_sheet(sheets["Contracts"], contracts)
    _build_conf(sheets["xlwings.conf"])

    if data.is_sample:
        _label_sample(sheets)
    for name in ("Settings", "Holdings"):
        sheets[name].sheet_properties.tabColor = "FFC000"
    sheets["Start"].sheet_properties.tabColor = _NAVY
    sheets["xlwings.conf"].sheet_properties.tabColor = "A6A6A6"
    if macro:
        # Give every sheet a VBA code name, as Excel expects in a workbook with a VBA project.
        for i, ws in enumerate(wb.worksheets, start=1):
            ws.sheet_properties.codeName = f"Sheet{i}"
        from betaneutral.vba.package import attach_vba_project

        attach_vba_project(wb)  # the xlwings module, the function wrappers, the macros
    wb.active = 0
    wb.properties.creator = _AUTHOR
    wb.properties.lastModifiedBy = _AUTHOR
    wb.properties.title = "BetaNeutral workbook"
    wb.calculation.fullCalcOnLoad = True
    return wb


def defined_names(wb: Workbook) -> dict[str, str]:
    """Workbook-scoped defined names of ``wb`` mapped to their references."""
    return {name: dn.attr_text for name, dn in wb.defined_names.items()}


def formula_cells(wb: Workbook) -> list[FormulaCell]:
    """Every formula of ``wb``: (sheet, coordinate or CSE range, formula text with ``=``)."""
    out = []
    for ws in wb.worksheets:
        # The cells the sheet holds, row by row. (iter_rows would create a blank cell at
        # every gap of the used range: many on a book loaded without its bulk cells.)
        cells = ws._cells
        for key in sorted(cells):
            cell = cells[key]
            if cell.data_type != "f":
                continue
            value = cell.value
            if isinstance(value, ArrayFormula):
                out.append(FormulaCell(ws.title, value.ref, value.text))
            else:
                out.append(FormulaCell(ws.title, cell.coordinate, str(value)))
    return out


def _sheet_formulas(data: _Data) -> dict[str, dict[str, str]]:
    """Every formula the sheets of the template hold for ``data``: sheet -> cell or CSE
    range -> formula. Each sheet's builder places its formulas from the same function."""
    return {
        "Start": _start_formulas(),
        "Settings": _settings_formulas(),
        "Benchmark": _benchmark_formulas(data),
        "Holdings": _holdings_formulas(data),
        "Stats": _stats_formulas(data),
        "Rolling": _rolling_formulas(data),
        "Rebalance": _rebalance_formulas(),
        "Scenarios": _scenarios_formulas(),
    }


def _input_cells() -> dict[str, tuple[str, str]]:
    """The cell of each named input of one cell: the Settings values and the Rebalance
    input lines."""
    cells = {spec.name: ("Settings", f"B{_SETTINGS_FIRST_ROW + i}")
             for i, spec in enumerate(_settings_spec(_DEFAULT_CONTRACT))}
    for section in REBALANCE:
        for line in section.lines:
            if isinstance(line, Line) and line.is_input and line.named:
                cells[line.key] = ("Rebalance", f"B{REBALANCE_ROWS[line.key]}")
    return cells


def template_formula_cells(
    *,
    prices: pd.DataFrame | None = None,
    holdings: pd.DataFrame | None = None,
    all_columns: bool = False,
    valued: Iterable[str] = (),
) -> dict[tuple[str, str], str]:
    """Every formula of :func:`build_workbook` for the same inputs, without building it.

    Parameters
    ----------
    prices, holdings, all_columns
        As :func:`build_workbook` (the same checks of the prices and holdings, with the
        same errors).
    valued : iterable of str
        Named inputs of one cell (a Settings value such as ``FuturesPrice``, a Rebalance
        input such as ``CurrentContracts``) to be given a value over the template's:
        their formula, if they have one, is left out.

    Returns
    -------
    dict
        ``(sheet, coordinate or CSE range) -> formula text`` (with ``=``): what
        ``formula_cells(build_workbook(...))`` lists. Each sheet's builder takes every
        formula it places from the same function of its sheet (by its cell: a builder
        placing a formula elsewhere fails), and adds the fills, formats, notes, charts
        and names; ``tests/test_formula_check.py`` compares the two on many books.

    Raises
    ------
    BetaNeutralError
        As :func:`build_workbook`.
    UnknownNameError
        A name of ``valued`` that is not a named input of one cell.
    """
    data = _prepare(prices, holdings, all_columns=all_columns)
    out = {(sheet, ref): formula
           for sheet, formulas in _sheet_formulas(data).items()
           for ref, formula in formulas.items()}
    cells = _input_cells()
    for name in valued:
        if name not in cells:
            raise UnknownNameError(f"valued must name inputs of one cell {sorted(cells)}, "
                                   f"got {name!r}")
        out.pop(cells[name], None)
    return out


_XLSM_CONTENT_TYPE = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"


def _verify(path: Path, *, macro: bool) -> None:
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        content_types = zf.read("[Content_Types].xml").decode("utf-8")
    has_vba = "xl/vbaProject.bin" in names and _XLSM_CONTENT_TYPE in content_types
    if has_vba != macro:
        raise RuntimeError(f"{path.name}: VBA project present = {has_vba}, expected {macro}")
    wb = load_workbook(path, read_only=True, keep_vba=macro, keep_links=False)
    try:
        if tuple(wb.sheetnames) != SHEET_NAMES:
            raise RuntimeError(f"{path.name}: sheets {wb.sheetnames}, expected {SHEET_NAMES}")
    finally:
        wb.close()


def _atomic_save(wb: Workbook, target: Path, *, macro: bool) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        wb.save(tmp)
        from betaneutral.vba.package import finish_saved_workbook

        finish_saved_workbook(tmp, wb)  # buttons and label boxes: shapes openpyxl cannot write
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        _verify(tmp, macro=macro)
        # mkstemp creates the file as 0600; give it the mode a normal save would have.
        if target.exists():
            mode = target.stat().st_mode & 0o777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_template(path_xlsx: str | os.PathLike[str],
                   path_xlsm: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Build the sample-filled template and save it as ``.xlsx`` and ``.xlsm``.

    Each file is written to a temporary file in the target folder, checked
    (sheets, VBA part and content type) and then moved into place atomically.

    Parameters
    ----------
    path_xlsx : path-like
        Target of the macro-free workbook; must end in ``.xlsx``.
    path_xlsm : path-like
        Target of the macro-enabled workbook (xlwings VBA embedded); must end in
        ``.xlsm``.

    Returns
    -------
    tuple of pathlib.Path
        The two paths written.

    Raises
    ------
    DomainError
        If a path has the wrong extension.
    """
    out_xlsx, out_xlsm = Path(path_xlsx), Path(path_xlsm)
    for label, path, suffix in (("path_xlsx", out_xlsx, ".xlsx"),
                                ("path_xlsm", out_xlsm, ".xlsm")):
        if path.suffix.lower() != suffix:
            raise DomainError(f"{label} must end with {suffix!r}, got {str(path)!r}")
    _atomic_save(build_workbook(macro=False), out_xlsx, macro=False)
    _atomic_save(build_workbook(macro=True), out_xlsm, macro=True)
    return out_xlsx, out_xlsm
