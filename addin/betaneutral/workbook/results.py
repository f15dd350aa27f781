"""Reading a computed workbook's outputs by name, and the hedge orders they imply.

The computed values of :func:`betaneutral.workbook.model.compute_values` are
keyed by cell; the workbook's defined names say which cell holds what. This
module reads the headline numbers (for the command's summary) and turns the
Rebalance sheet's numbers into hedge orders and tickets.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from openpyxl import Workbook

from betaneutral.core.contracts import get_contract
from betaneutral.core.orders import HedgeOrder, hedge_orders
from betaneutral.tickets import Ticket, book_fingerprint, make_tickets
from betaneutral.workbook.inputs import name_destinations

__all__ = ["SUMMARY_NAMES", "book_orders", "book_state", "book_tickets", "named_values",
           "tickets_cells"]

CellKey = tuple[str, str]

#: Headline outputs, in the order the command prints them: (defined name, label).
SUMMARY_NAMES: tuple[tuple[str, str], ...] = (
    ("PortfolioValue", "Portfolio value (USD)"),
    ("PortfolioBeta", "Portfolio beta to BTC (unhedged)"),
    ("HedgeContract", "Hedge contract"),
    ("FuturesPrice", "Futures price (USD)"),
    ("TargetHedgeUSD", "Hedge notional to short (USD)"),
    ("TargetContracts", "Contracts to short"),
    ("ResidualBeta", "Portfolio beta after rounding"),
    ("CurrentContracts", "Current position (contracts)"),
    ("CurrentBeta", "Portfolio beta with current hedge"),
    ("Drift", "Drift from target"),
    ("Action", "Action"),
    ("OrderSide", "Order side"),
    ("OrderContracts", "Order size (contracts)"),
    ("MarginBuffer", "Margin buffer (settlement currency)"),
    ("SettlementCurrency", "Settlement currency"),
    ("LiquidationPrice", "Liquidation price (USD)"),
    ("FundingCostUSD", "Hedge funding cost over the horizon (USD, < 0 = income)"),
)


def named_values(wb: Workbook, values: Mapping[CellKey, Any], names: list[str]
                 ) -> dict[str, Any]:
    """Value of each named cell: the computed value for a formula, else the cell's input."""
    out = {}
    for name, (sheet, ref) in name_destinations(wb, names).items():
        key = (sheet, ref.split(":")[0])
        out[name] = values[key] if key in values else wb[sheet][key[1]].value
    return out


def book_orders(wb: Workbook, values: Mapping[CellKey, Any]) -> list[HedgeOrder]:
    """Orders that restore the target, or none when the drift is inside the band.

    When the book has no hedge yet, or the rebalance signal breaches the band,
    the orders move the position from ``CurrentContracts`` to
    ``TargetContracts``; the reason carries the drift and the band.
    """
    v = named_values(wb, values, ["HedgeContract", "FuturesPrice", "CurrentContracts",
                                  "TargetContracts", "CurrentBeta", "ResidualBeta", "Drift",
                                  "Breach", "RebalanceBand"])
    for key in ("FuturesPrice", "TargetContracts", "CurrentBeta", "Drift"):
        if isinstance(v[key], str):  # an error code from the sheet: nothing can be ordered
            return []
    current = float(v["CurrentContracts"] or 0.0)
    if current != 0.0 and v["Breach"] is not True:
        return []
    return hedge_orders(
        current, float(v["TargetContracts"]), get_contract(str(v["HedgeContract"])),
        float(v["FuturesPrice"]), beta_before=float(v["CurrentBeta"]),
        beta_after=None if isinstance(v["ResidualBeta"], str) else float(v["ResidualBeta"]),
        drift=float(v["Drift"]), band=float(v["RebalanceBand"]))


def book_state(inputs: Any) -> dict[str, Any]:
    """The book state that identifies a batch of orders (see ``book_fingerprint``):
    holdings and quantities, the last date and prices, the settings and the position."""
    import dataclasses

    last = inputs.prices.iloc[-1]
    return {
        "holdings": [[str(a), float(q)] for a, q in
                     zip(inputs.holdings["asset"], inputs.holdings["quantity"], strict=True)],
        "last_date": str(inputs.prices.index[-1]),
        "last_prices": {str(k): float(v) for k, v in last.items()},
        "settings": dataclasses.asdict(inputs.settings),
        "current_contracts": float(inputs.current_contracts),
    }


def tickets_cells(wb: Workbook, tickets: list[Ticket]) -> dict[CellKey, Any]:
    """``(sheet, coordinate) -> value`` that puts ``tickets`` on the Tickets sheet."""
    from betaneutral.tickets import tickets_sheet_cells

    cells = tickets_sheet_cells(tickets, used_rows=wb["Tickets"].max_row)
    return {("Tickets", coord): value for coord, value in cells.items()}


def book_tickets(wb: Workbook, values: Mapping[CellKey, Any], state: Mapping[str, Any], *,
                 created: datetime | None = None) -> list[Ticket]:
    """Tickets for :func:`book_orders`, with client ids derived from the book ``state``."""
    return make_tickets(book_orders(wb, values), book_fingerprint(state), created=created)
