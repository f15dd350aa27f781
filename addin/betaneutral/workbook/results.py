"""Reading a computed workbook's outputs by name, and the hedge orders they imply.

The computed values of :func:`betaneutral.workbook.model.compute_values` are
keyed by cell; the workbook's defined names say which cell holds what. This
module reads the headline numbers (for the command's summary) and turns the
Rebalance sheet's numbers into hedge orders and tickets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook

from betaneutral.core.contracts import get_contract
from betaneutral.core.orders import HedgeOrder, hedge_orders
from betaneutral.core.rebalance import ACTION_HOLD, rebalance_action
from betaneutral.tickets import Ticket, book_fingerprint, make_tickets, tickets_sheet_cells
from betaneutral.workbook.book import SUMMARY
from betaneutral.workbook.cells import write_text
from betaneutral.workbook.names import name_destinations

__all__ = ["SUMMARY_NAMES", "book_orders", "book_state", "book_tickets", "named_values",
           "tickets_cells", "write_tickets_sheet"]

CellKey = tuple[str, str]

#: Headline outputs, in the order the command prints them: (defined name, label), from
#: the book's description (:data:`betaneutral.workbook.book.SUMMARY`).
SUMMARY_NAMES: tuple[tuple[str, str], ...] = SUMMARY


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

    The decision is :func:`betaneutral.core.rebalance.rebalance_action`, the rule the
    sheet's ``Action`` line shows: when the book has no hedge yet, or the rebalance
    signal breaches the band, the orders move the position from ``CurrentContracts`` to
    ``TargetContracts``; the reason carries the drift and the band.
    """
    v = named_values(wb, values, ["HedgeContract", "FuturesPrice", "CurrentContracts",
                                  "TargetContracts", "CurrentBeta", "ResidualBeta", "Drift",
                                  "Breach", "RebalanceBand"])
    for key in ("FuturesPrice", "TargetContracts", "CurrentBeta", "Drift"):
        if isinstance(v[key], str):  # an error code from the sheet: nothing can be ordered
            return []
    current = float(v["CurrentContracts"] or 0.0)
    if not isinstance(v["Breach"], bool):
        return []
    if rebalance_action(current, float(v["TargetContracts"]), v["Breach"]) == ACTION_HOLD:
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
    cells = tickets_sheet_cells(tickets, used_rows=wb["Tickets"].max_row)
    return {("Tickets", coord): value for coord, value in cells.items()}


def book_tickets(wb: Workbook, values: Mapping[CellKey, Any], state: Mapping[str, Any], *,
                 created: datetime | None = None) -> list[Ticket]:
    """Tickets for :func:`book_orders`, with client ids derived from the book ``state``."""
    from betaneutral.sample import SAMPLE_TICKET_NOTE, is_sample_state

    note = SAMPLE_TICKET_NOTE if is_sample_state(state) else None  # synthetic: say so
    return make_tickets(book_orders(wb, values), book_fingerprint(state), created=created,
                        note=note)


def write_tickets_sheet(ws: Any, tickets: Sequence[Ticket], *, first_row: int = 2) -> None:
    """Write the tickets below the Tickets sheet's header (same columns as the CSV).

    Text goes through :func:`betaneutral.workbook.cells.write_text`, so no
    value can become a formula or an error cell; numbers stay numbers. Rows
    left over from a previous, longer list are cleared.
    """
    for coord, value in tickets_sheet_cells(tickets, used_rows=ws.max_row,
                                            first_row=first_row).items():
        if isinstance(value, str):
            write_text(ws[coord], value)
        else:
            ws[coord].value = value
