"""One description of the book: each computed line's formula and its Python evaluation.

Every line of the Rebalance sheet and every computed column of the Holdings sheet is
one entry here: its label, defined name, number format, note, whether it is an input,
the Excel formula the template writes, and the Python evaluation that the headless
computation runs (:mod:`betaneutral.workbook.model`), side by side. The template
(:mod:`betaneutral.workbook.template`) lays the sheets out from these entries; the
model evaluates them in sheet order (each line reads only lines above it); the
command's summary (:mod:`betaneutral.workbook.results`) and the Start sheet's key
figures are lists of the same names. A rule that is more than arithmetic lives in the
core and reaches both the formula and the evaluation through the same Excel function:
"trade now?" is ``REBALANCE_ACTION`` (:func:`betaneutral.core.rebalance.rebalance_action`),
which the Action line shows and the tickets follow.

Adding a Rebalance line is one :class:`Line` in :data:`REBALANCE`; adding a Holdings
column is one :class:`Column` in :data:`HOLDING_COLUMNS`.

Evaluations receive an :class:`Env`: the values of the lines and names computed so
far (``e.val("TargetContracts")``), the same values as an Excel function receives
them (``e.arg(...)``), the book's value and beta columns as function arguments
(``e.spot``, ``e.betas``) and the hedge contract (``e.contract``). Native formulas are
evaluated with Excel's rules (:mod:`betaneutral.workbook.excel`), function cells by
calling the same function of :mod:`betaneutral.udfs`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from betaneutral import udfs
from betaneutral.workbook.excel import (
    arg,
    div,
    excel_abs,
    excel_if,
    excel_round,
    excel_sum,
    greater,
    is_number,
    mul,
    search_found,
    sub,
)

__all__ = [
    "DEFAULT_FUTURES_PRICE_FORMULA",
    "FMT_BETA",
    "FMT_COLLATERAL",
    "FMT_CONTRACTS",
    "FMT_INT",
    "FMT_PCT",
    "FMT_PRICE",
    "FMT_QTY",
    "FMT_RATE",
    "FMT_USD",
    "HOLDINGS_TABLE",
    "HOLDINGS_TOTAL_ROW",
    "HOLDING_COLUMNS",
    "HOLDING_TOTALS",
    "PRICES_TABLE",
    "REBALANCE",
    "REBALANCE_ROWS",
    "SECTION_ROWS",
    "SHEET_NAMES",
    "START_FIGURES",
    "SUMMARY",
    "TABLE_NAMES",
    "Column",
    "Env",
    "Figure",
    "HoldingsEnv",
    "Line",
    "Section",
    "Signal",
    "from_earlier_release",
    "holding_row_formulas",
    "last_close",
    "price_column",
    "rebalance_lines",
]

FMT_USD = "#,##0"
FMT_BETA = "0.000"
FMT_PCT = "0.0%"
FMT_PRICE = "#,##0.00"
FMT_QTY = "#,##0.00######"
FMT_CONTRACTS = "#,##0.000"
FMT_RATE = "0.0000%"
FMT_INT = "0"

#: Default content of the Settings FuturesPrice cell: the last BTC close.
DEFAULT_FUTURES_PRICE_FORMULA = "=INDEX(BTCPrices,ROWS(BTCPrices))"
#: Collateral in the settlement currency: 2 decimals for stablecoins, 4 below 10 (coin amounts).
FMT_COLLATERAL = "[<10]#,##0.0000;#,##0.00"


class Env(Protocol):
    """What an evaluation reads (see the module notes)."""

    spot: list[list[Any]]
    betas: list[list[Any]]
    contract: list[list[Any]]

    def val(self, name: str) -> Any:
        """The value of a named cell or line as the sheet holds it."""

    def arg(self, name: str) -> Any:
        """The same value as an Excel function receives it."""


# ------------------------------------------------------------------ Rebalance ---
@dataclass(frozen=True)
class Line:
    """One line of the Rebalance sheet: label in A, value in B, note in C.

    Attributes
    ----------
    key : str
        The line's key; its defined name too when ``named``.
    label, note : str
        What the sheet says in A and C.
    formula : str or None
        The Excel formula in B (with ``=``); None for an input.
    evaluate : callable or None
        ``evaluate(env) -> value``: the formula in Python.
    fmt : str or None
        Number format of B.
    named : bool
        Define the name ``key`` over B.
    default : object
        An input's value in a fresh book.
    bold : bool
        Show the value in bold (the figures a user acts on).
    """

    key: str
    label: str
    formula: str | None
    evaluate: Callable[[Env], Any] | None
    fmt: str | None
    note: str
    named: bool = True
    default: Any = None
    bold: bool = False

    @property
    def is_input(self) -> bool:
        return self.formula is None


@dataclass(frozen=True)
class Signal:
    """The rebalance signal: a header row, then one CSE array over B:D of the next row.

    The array's cells are named ``names`` (drift, breach, order notional).
    """

    key: str
    label: str
    headers: tuple[str, ...]
    names: tuple[str, ...]
    formula: str
    evaluate: Callable[[Env], Any]
    fmts: tuple[str | None, ...]
    note: str


@dataclass(frozen=True)
class Section:
    """A titled block of lines; one blank row separates sections."""

    title: str
    lines: tuple[Line | Signal, ...]


def _shown(setting: str, label: str, fmt: str | None) -> Line:
    """A line that shows a Settings value next to the lines that use it."""
    return Line(f"{setting}Shown" if setting != "FundingRate8h" else "FundingRateShown", label,
                f"={setting}", lambda e: e.val(setting), fmt, "From Settings.", named=False)


def _contract_notional(e: Env) -> Any:
    return excel_if(search_found("inverse", e.val("ContractKind")),
                    lambda: e.val("ContractSize"),
                    lambda: mul(e.val("ContractSize"), e.val("FuturesPrice")))


def _order_side(e: Env) -> Any:
    delta = e.val("ContractsDelta")
    return excel_if(greater(delta, 0.0), lambda: "SELL",
                    lambda: excel_if(greater(0.0, delta), lambda: "BUY", lambda: "NONE"))


def _distance(e: Env) -> Any:
    liq = e.val("LiquidationPrice")
    return excel_if(is_number(liq), lambda: sub(div(liq, e.val("FuturesPrice")), 1.0),
                    lambda: liq)


#: The Rebalance sheet, top to bottom (first section title on row 4).
REBALANCE: tuple[Section, ...] = (
    Section("Current position", (
        Line("CurrentContracts", "Current futures position (contracts)", None, None,
             FMT_CONTRACTS, "Input: contracts held now; > 0 short, < 0 long.", default=0),
        Line("HedgeContractShown", "Hedge contract", "=HedgeContract",
             lambda e: e.val("HedgeContract"), None, "From Settings.", named=False),
        Line("ContractKind", "Contract kind", '=CONTRACT_SPEC(HedgeContract,"kind")',
             lambda e: udfs.CONTRACT_SPEC(e.arg("HedgeContract"), "kind"), None,
             "Linear: size in coin. Inverse: size in USD."),
        Line("ContractSize", "Contract size", '=CONTRACT_SPEC(HedgeContract,"contract_size")',
             lambda e: udfs.CONTRACT_SPEC(e.arg("HedgeContract"), "contract_size"),
             "#,##0.########", "Coin per contract (linear) or USD per contract (inverse)."),
        Line("FuturesPriceShown", "Futures price (USD)", "=FuturesPrice",
             lambda e: e.val("FuturesPrice"), FMT_PRICE, "From Settings.", named=False),
        Line("ContractNotionalUSD", "Notional per contract (USD)",
             '=IF(ISNUMBER(SEARCH("inverse",ContractKind)),ContractSize,'
             "ContractSize*FuturesPrice)", _contract_notional, "#,##0.00",
             "Inverse: the USD face value; linear: size x futures price."),
        Line("CurrentHedgeUSD", "Current hedge notional (USD)",
             "=CurrentContracts*ContractNotionalUSD",
             lambda e: mul(e.val("CurrentContracts"), e.val("ContractNotionalUSD")), FMT_USD,
             "> 0 short."),
        Line("CurrentBeta", "Portfolio beta with current hedge",
             "=PORTFOLIO_BETA(HoldingValues,HoldingBetas,CurrentHedgeUSD)",
             lambda e: udfs.PORTFOLIO_BETA(e.spot, e.betas, e.arg("CurrentHedgeUSD")),
             FMT_BETA, "Beta to BTC of spot plus the futures held now."),
    )),
    Section("Hedge sizing", (
        Line("TargetBetaShown", "Target portfolio beta", "=TargetBeta",
             lambda e: e.val("TargetBeta"), FMT_BETA, "From Settings.", named=False),
        Line("TargetHedgeUSD", "Required short notional (USD)",
             "=HEDGE_NOTIONAL(HoldingValues,HoldingBetas,TargetBeta)",
             lambda e: udfs.HEDGE_NOTIONAL(e.spot, e.betas, e.arg("TargetBeta")), FMT_USD,
             "Sum of value x beta minus target x portfolio value."),
        Line("HedgeChangeUSD", "Hedge notional to add (USD)",
             "=HEDGE_NOTIONAL(HoldingValues,HoldingBetas,TargetBeta,CurrentHedgeUSD)",
             lambda e: udfs.HEDGE_NOTIONAL(e.spot, e.betas, e.arg("TargetBeta"),
                                           e.arg("CurrentHedgeUSD")), FMT_USD,
             "Required minus current: > 0 sell more, < 0 buy back."),
        Line("TargetContracts", "Target contracts (short)",
             "=CONTRACTS_TO_SHORT(TargetHedgeUSD,FuturesPrice,HedgeContract)",
             lambda e: udfs.CONTRACTS_TO_SHORT(e.arg("TargetHedgeUSD"), e.arg("FuturesPrice"),
                                               e.contract), FMT_CONTRACTS,
             "Required notional in contracts, rounded to the contract's step.", bold=True),
        Line("ShortNotionalUSD", "Short notional after rounding (USD)",
             "=TargetContracts*ContractNotionalUSD",
             lambda e: mul(e.val("TargetContracts"), e.val("ContractNotionalUSD")), FMT_USD,
             "What the target contracts short."),
        Line("ResidualBeta", "Beta after rounding",
             "=PORTFOLIO_BETA(HoldingValues,HoldingBetas,ShortNotionalUSD)",
             lambda e: udfs.PORTFOLIO_BETA(e.spot, e.betas, e.arg("ShortNotionalUSD")),
             FMT_BETA, "Portfolio beta once the target contracts are held: the target plus "
             "the residual the rounding leaves.", bold=True),
    )),
    Section("Drift and rebalance signal", (
        Signal("Signal", "Rebalance signal", ("Drift (beta)", "Breach", "Order (USD)"),
               ("Drift", "Breach", "OrderNotionalUSD"),
               "=REBALANCE_SIGNAL(HoldingValues,HoldingBetas,CurrentHedgeUSD,TargetBeta,"
               "RebalanceBand)",
               lambda e: udfs.REBALANCE_SIGNAL(e.spot, e.betas, e.arg("CurrentHedgeUSD"),
                                               e.arg("TargetBeta"), e.arg("RebalanceBand")),
               (FMT_BETA, '"TRUE";"TRUE";"FALSE"', FMT_USD),
               "Drift = beta with current hedge - target; breach when |drift| > band; "
               "order > 0 sell."),
        Line("BandShown", "Rebalance band", "=RebalanceBand",
             lambda e: e.val("RebalanceBand"), FMT_BETA, "From Settings.", named=False),
        Line("Action", "Action", "=REBALANCE_ACTION(CurrentContracts,TargetContracts,Breach)",
             lambda e: udfs.REBALANCE_ACTION(e.arg("CurrentContracts"),
                                             e.arg("TargetContracts"), e.arg("Breach")),
             None, "OPEN when no hedge is held yet; then trade only when the band is "
             "breached."),
        Line("ContractsDelta", "Contracts to trade (target - current)",
             "=ROUND(TargetContracts-CurrentContracts,8)",
             lambda e: excel_round(sub(e.val("TargetContracts"), e.val("CurrentContracts")),
                                   8),
             FMT_CONTRACTS, "> 0 sell (short more), < 0 buy back."),
        Line("OrderSide", "Order side", '=IF(ContractsDelta>0,"SELL",IF(ContractsDelta<0,'
             '"BUY","NONE"))', _order_side, None, "Side of the order that restores the "
             "target."),
        Line("OrderContracts", "Order size (contracts)", "=ABS(ContractsDelta)",
             lambda e: excel_abs(e.val("ContractsDelta")), FMT_CONTRACTS,
             "Contracts to trade, always >= 0."),
    )),
    Section("Margin and liquidation", (
        Line("StressMoveShown", "Stress move (BTC rally)", "=StressMove",
             lambda e: e.val("StressMove"), FMT_PCT, "From Settings.", named=False),
        Line("SafetyMultiplierShown", "Safety multiplier", "=SafetyMultiplier",
             lambda e: e.val("SafetyMultiplier"), "0.00", "From Settings.", named=False),
        Line("SettlementCurrency", "Settlement currency",
             '=CONTRACT_SPEC(HedgeContract,"settlement_currency")',
             lambda e: udfs.CONTRACT_SPEC(e.arg("HedgeContract"), "settlement_currency"),
             None, "Currency of the collateral and the margin buffer."),
        Line("MarginBuffer", "Margin buffer (settlement currency)",
             "=MARGIN_BUFFER(ShortNotionalUSD,FuturesPrice,StressMove,HedgeContract,"
             "SafetyMultiplier)",
             lambda e: udfs.MARGIN_BUFFER(e.arg("ShortNotionalUSD"), e.arg("FuturesPrice"),
                                          e.arg("StressMove"), e.contract,
                                          e.arg("SafetyMultiplier")),
             FMT_COLLATERAL, "Collateral for the short to survive the stress move, times "
             "the multiplier.", bold=True),
        Line("LiquidationPrice", "Liquidation price (USD)",
             "=LIQUIDATION_PRICE(TargetContracts,FuturesPrice,MarginBuffer,HedgeContract)",
             lambda e: udfs.LIQUIDATION_PRICE(e.arg("TargetContracts"), e.arg("FuturesPrice"),
                                              e.arg("MarginBuffer"), e.contract),
             FMT_PRICE, "Futures price at which the short would be liquidated.", bold=True),
        Line("LiquidationDistance", "Distance to liquidation",
             "=IF(ISNUMBER(LiquidationPrice),LiquidationPrice/FuturesPrice-1,"
             "LiquidationPrice)", _distance, FMT_PCT,
             "BTC rally that reaches the liquidation price (text if none can)."),
    )),
    Section("Funding (perpetuals)", (
        Line("FundingRateShown", "Funding rate per 8 h", "=FundingRate8h",
             lambda e: e.val("FundingRate8h"), FMT_RATE,
             "From Settings; > 0 means longs pay shorts.", named=False),
        Line("FundingHorizonShown", "Horizon (days)", "=FundingHorizonDays",
             lambda e: e.val("FundingHorizonDays"), FMT_INT, "From Settings.", named=False),
        Line("FundingCostUSD", "Funding over the horizon (USD)",
             "=FUNDING_COST(ShortNotionalUSD,FundingRate8h,FundingHorizonDays*24)",
             lambda e: udfs.FUNDING_COST(e.arg("ShortNotionalUSD"), e.arg("FundingRate8h"),
                                         arg(mul(e.val("FundingHorizonDays"), 24.0))),
             FMT_USD, "Funding the short pays over the horizon; negative: the short "
             "receives it."),
    )),
)
#: Row of the first section's title on the Rebalance sheet.
REBALANCE_FIRST_ROW = 4


def _rows() -> dict[str, int]:
    rows: dict[str, int] = {}
    row = REBALANCE_FIRST_ROW
    for section in REBALANCE:
        rows[f"section:{section.title}"] = row
        for line in section.lines:
            row += 1
            if isinstance(line, Signal):
                rows[f"{line.key}Header"] = row
                row += 1
            rows[line.key] = row
        row += 1  # a blank row before the next section's title
        row += 1
    return rows


_ALL_ROWS = _rows()
#: Rebalance sheet: row of each line (label in A, value in B), from :data:`REBALANCE`.
REBALANCE_ROWS: Mapping[str, int] = {k: v for k, v in _ALL_ROWS.items()
                                     if not k.startswith("section:")}
#: Row of each section title.
SECTION_ROWS: Mapping[str, int] = {k.split(":", 1)[1]: v for k, v in _ALL_ROWS.items()
                                   if k.startswith("section:")}


def rebalance_lines() -> list[Line | Signal]:
    """Every line of :data:`REBALANCE`, top to bottom (the evaluation order)."""
    return [line for section in REBALANCE for line in section.lines]


# -------------------------------------------------------------------- Holdings ---
def price_column(asset_cell: str) -> str:
    """The price column of the asset named in ``asset_cell``, found by name.

    Formulas look their asset's prices up by the name in their own row (not by a
    fixed column), so a row keeps its meaning when holdings are sorted, copied down
    or inserted, and when price columns are added or moved.
    """
    return f"INDEX(PriceBlock,0,MATCH({asset_cell},PriceAssets,0))"


def last_close(asset_cell: str) -> str:
    """The asset's close on the last date; ``#N/A`` when that close is blank (a missing
    close is never valued as 0)."""
    close = f"INDEX(PriceBlock,ROWS(PriceBlock),MATCH({asset_cell},PriceAssets,0))"
    return f'IF({close}="",NA(),{close})'


class HoldingsEnv(Protocol):
    """What a Holdings column's evaluation reads (``i``: the holding's index)."""

    def here(self, letter: str, i: int) -> Any:
        """The value in column ``letter`` of holding ``i`` (inputs and columns left of
        the one evaluated)."""

    def values(self, letter: str) -> list[Any]:
        """The column's values, top to bottom (for ``SUM``)."""

    def column(self, letter: str) -> list[list[Any]]:
        """The column as an Excel function receives a range (a list of one-cell rows)."""

    def val(self, name: str) -> Any:
        """A named cell's value (a total, a setting)."""

    def last_close(self, i: int) -> Any:
        """``INDEX(PriceBlock,ROWS(PriceBlock),MATCH($A<row>,PriceAssets,0))``: the
        holding's close on the last date, None when blank."""

    def beta(self, i: int, benchmark: str) -> Any:
        """``BETA_VS_BTC(<the holding's prices>, <benchmark>, Window, BetaMethod, MinObs,
        ReturnType, <VASICEK_UNIVERSE>)`` with ``benchmark`` "BenchPrices" or "BTCPrices"."""


@dataclass(frozen=True)
class Column:
    """One column of the Holdings sheet (totals on row 3, header on row 4, a holding per row
    below: the ``HoldingList`` table).

    Attributes
    ----------
    letter : str
        The column.
    header, note : str
        Header text and its note (empty: none).
    name : str
        Defined name over the column's holding rows.
    formula : callable or None
        ``formula(row) -> str``: the formula on a holding's row (the same, relative to
        the row, on every row); None for an input or the asset's name.
    fmt : str
        Number format (the price column takes the asset's own price format).
    total : callable or None
        The totals row's formula, ``total(first, last)`` over the holding rows (over the
        column's name, so that it follows the table).
    evaluate : callable or None
        ``evaluate(env, i) -> value``: the formula in Python for holding ``i``.
    total_evaluate : callable or None
        ``total_evaluate(env) -> value``: the totals row's formula in Python.

    Notes
    -----
    The columns are evaluated left to right, each with its total right after it, so a
    formula may read the columns to its left and their totals.
    """

    letter: str
    header: str
    name: str
    formula: Callable[[int], str] | None
    fmt: str | None
    note: str = ""
    total: Callable[[int, int], str] | None = None
    evaluate: Callable[[HoldingsEnv, int], Any] | None = None
    total_evaluate: Callable[[HoldingsEnv], Any] | None = None


def _summed(letter: str, name: str) -> dict[str, Any]:
    """A column's total as ``SUM`` over its holding rows (the column's name, which grows
    with the table): the formula and its evaluation."""
    return {"total": lambda first, last: f"=SUM({name})",
            "total_evaluate": lambda h: excel_sum(h.values(letter))}


#: BETA_VS_BTC's cross-section arguments on the Holdings sheet: the price block, its
#: asset names and the holdings, so a Vasicek beta is shrunk towards the book's own
#: holdings; the block is passed only when the method is a Vasicek one (CHOOSE rather
#: than IF, which a formula engine may apply cell by cell to the block).
VASICEK_UNIVERSE = ('CHOOSE(1+ISNUMBER(SEARCH("vasicek",BetaMethod)),"",PriceBlock),'
                    "PriceAssets,HoldingAssets")


def _beta_column(letter: str, header: str, name: str, benchmark: str, note: str) -> Column:
    """A column of betas to ``benchmark`` (a defined name), its total the portfolio beta."""
    return Column(
        letter, header, name,
        lambda r: f"=BETA_VS_BTC({price_column(f'$A{r}')},{benchmark},Window,BetaMethod,"
        f"MinObs,ReturnType,{VASICEK_UNIVERSE})", FMT_BETA, note,
        total=lambda first, last: f"=PORTFOLIO_BETA(HoldingValues,{name})",
        evaluate=lambda h, i: h.beta(i, benchmark),
        total_evaluate=lambda h: udfs.PORTFOLIO_BETA(h.column("D"), h.column(letter)))


#: The Holdings sheet's columns, left to right, with their totals.
HOLDING_COLUMNS: tuple[Column, ...] = (
    Column("A", "Asset", "HoldingAssets", None, None),
    Column("B", "Quantity", "HoldingQuantities", None, FMT_QTY,
           "Units of each asset held (input). Shorts are negative."),
    Column("C", "Price (USD)", "HoldingPrices", lambda r: f"={last_close(f'$A{r}')}",
           FMT_PRICE, "Last price of the asset on the Benchmark sheet.",
           evaluate=lambda h, i: "#N/A" if h.last_close(i) is None else h.last_close(i)),
    Column("D", "Value (USD)", "HoldingValues", lambda r: f"=B{r}*C{r}", FMT_USD,
           evaluate=lambda h, i: mul(h.here("B", i), h.here("C", i)),
           **_summed("D", "HoldingValues")),
    Column("E", "Weight", "HoldingWeights", lambda r: f"=D{r}/PortfolioValue", FMT_PCT,
           evaluate=lambda h, i: div(h.here("D", i), h.val("PortfolioValue")),
           **_summed("E", "HoldingWeights")),
    _beta_column("F", "Beta vs benchmark", "HoldingBenchBetas", "BenchPrices",
                 "Beta of the asset's daily returns to the benchmark chosen on Settings."),
    _beta_column("G", "Beta to BTC", "HoldingBetas", "BTCPrices",
                 "Beta to BTC: used to size the hedge, since the futures track BTC."),
    Column("H", "Dollar beta (USD)", "HoldingDollarBetas", lambda r: f"=D{r}*G{r}", FMT_USD,
           "Value x beta to BTC: the USD of BTC exposure the holding carries.",
           evaluate=lambda h, i: mul(h.here("D", i), h.here("G", i)),
           **_summed("H", "HoldingDollarBetas")),
    Column("I", "Share of beta", "HoldingBetaShares", lambda r: f"=H{r}/DollarBeta", FMT_PCT,
           "Holding's share of the book's dollar beta.",
           evaluate=lambda h, i: div(h.here("H", i), h.val("DollarBeta")),
           **_summed("I", "HoldingBetaShares")),
)
#: Defined names of the totals row's cells (value, the two portfolio betas, dollar beta).
HOLDING_TOTALS: Mapping[str, str] = {"D": "PortfolioValue", "F": "PortfolioBenchBeta",
                                     "G": "PortfolioBeta", "H": "DollarBeta"}
#: Sheets of the template, in tab order.
SHEET_NAMES: tuple[str, ...] = (
    "Start",
    "Settings",
    "Holdings",
    "Stats",
    "Rolling",
    "Rebalance",
    "Scenarios",
    "Tickets",
    "Backtest",
    "Benchmark",
    "Contracts",
    "xlwings.conf",
)


#: The totals row sits above the list, so that a holding typed under the list joins it
#: (an Excel Table grows with a row typed under it, not with one typed under a totals row).
HOLDINGS_TOTAL_ROW = 3
HOLDINGS_HEADER_ROW = 4
TOTAL_LABEL = "Total / portfolio"
#: The Excel Tables over the Holdings list and over the Benchmark sheet's prices; the
#: names of their columns (``HoldingValues`` is ``HoldingList[Value (USD)]``) grow with them.
HOLDINGS_TABLE = "HoldingList"
PRICES_TABLE = "Prices"
#: The defined names written as structured references to those tables.
TABLE_NAMES: tuple[str, ...] = ("Dates", "BTCPrices", "ETHPrices", "BenchPrices",
                                "PriceAssets", "PriceBlock",
                                *(c.name for c in HOLDING_COLUMNS))


def holding_row_formulas(row: int) -> dict[str, tuple[str, str | None]]:
    """Formula and number format of each computed column of a Holdings row."""
    return {c.letter: (c.formula(row), c.fmt) for c in HOLDING_COLUMNS if c.formula}


# ------------------------------------------------------------- earlier releases ---
_EARLIER_TOTAL = re.compile(r"^=SUM\(\$?([A-Z]{1,3})\$?(\d+):\$?\1\$?(\d+)\)$",
                            re.IGNORECASE)
_EARLIER_BETA = re.compile(r"^(=BETA_VS_BTC\(.*,(?:BTCPrices|BenchPrices),Window,BetaMethod,"
                           r"MinObs,ReturnType)\)$", re.IGNORECASE)


def from_earlier_release(formula: str, first: int, last: int) -> str:
    """One of the book's own formulas as the previous release wrote it, rewritten as this
    release writes it, so that a book of the previous release is resized, not refused as
    changed by its user.

    Parameters
    ----------
    formula : str
        A formula of the book's own, as the old book holds it.
    first, last : int
        The old book's first and last holding rows.

    Returns
    -------
    str
        ``formula`` with the previous release's forms rewritten, any other formula as
        it is:

        * a Holdings total summed the list's rows, ``=SUM(D5:D10)`` over exactly
          ``first``..``last``; it sums the column's name now (``=SUM(HoldingValues)``),
          which grows with the table;
        * a Holdings beta had no cross-section arguments (``...,MinObs,ReturnType)``);
          it ends with :data:`VASICEK_UNIVERSE` now.
    """
    total = _EARLIER_TOTAL.match(formula)
    if total is not None and (int(total.group(2)), int(total.group(3))) == (first, last):
        for column in HOLDING_COLUMNS:
            summed = f"=SUM({column.name})"
            if (column.letter == total.group(1).upper() and column.total is not None
                    and column.total(first, last) == summed):
                return summed
    beta = _EARLIER_BETA.match(formula)
    if beta is not None:
        return f"{beta.group(1)},{VASICEK_UNIVERSE})"
    return formula


# ------------------------------------------------------------ Start and summary ---
@dataclass(frozen=True)
class Figure:
    """A headline figure: on the Start sheet (``label``), in the command's summary
    (``summary``), or both."""

    name: str
    label: str | None
    summary: str | None
    fmt: str | None = None
    sheet: str = "Rebalance"


FIGURES: tuple[Figure, ...] = (
    Figure("PortfolioValue", "Portfolio value (USD)", "Portfolio value (USD)", FMT_USD,
           "Holdings"),
    Figure("PortfolioBeta", "Portfolio beta to BTC (unhedged)",
           "Portfolio beta to BTC (unhedged)", FMT_BETA, "Holdings"),
    Figure("HedgeContract", None, "Hedge contract", sheet="Settings"),
    Figure("FuturesPrice", None, "Futures price (USD)", sheet="Settings"),
    Figure("TargetHedgeUSD", None, "Hedge notional to short (USD)"),
    Figure("TargetContracts", "Target contracts (short)", "Contracts to short",
           FMT_CONTRACTS),
    Figure("ResidualBeta", "Beta after rounding", "Portfolio beta after rounding", FMT_BETA),
    Figure("CurrentContracts", None, "Current position (contracts)"),
    Figure("CurrentBeta", "Beta with current hedge", "Portfolio beta with current hedge",
           FMT_BETA),
    Figure("Drift", None, "Drift from target"),
    Figure("Action", "Action", "Action"),
    Figure("OrderSide", None, "Order side"),
    Figure("OrderContracts", None, "Order size (contracts)"),
    Figure("MarginBuffer", "Margin buffer (settlement currency)",
           "Margin buffer (settlement currency)", FMT_COLLATERAL),
    Figure("SettlementCurrency", None, "Settlement currency"),
    Figure("LiquidationPrice", "Liquidation price (USD)", "Liquidation price (USD)",
           FMT_PRICE),
    Figure("FundingCostUSD", None, "Hedge funding cost over the horizon (USD, < 0 = income)"),
)
_START_ORDER = ("PortfolioValue", "PortfolioBeta", "CurrentBeta", "TargetContracts",
                "ResidualBeta", "Action", "MarginBuffer", "LiquidationPrice")
#: Start sheet key figures: (label, defined name shown, number format, source sheet).
START_FIGURES: tuple[tuple[str, str, str | None, str], ...] = tuple(
    (f.label, f.name, f.fmt, f.sheet) for name in _START_ORDER
    for f in FIGURES if f.name == name and f.label is not None)
#: The command's summary lines: (defined name, label), in the order printed.
SUMMARY: tuple[tuple[str, str], ...] = tuple((f.name, f.summary) for f in FIGURES
                                             if f.summary is not None)
