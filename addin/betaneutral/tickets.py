"""Hedge tickets: the orders to place, exported to CSV.

A ticket is a :class:`betaneutral.core.orders.HedgeOrder` plus what an
execution desk needs to place and track it: a ticket id, a creation time (UTC,
ISO 8601) and a client order id. The columns map one-to-one onto CCXT's
``create_order(symbol, type, side, amount, price, params)`` (``params`` takes
``reduceOnly`` and ``clientOrderId``) and onto exchange batch-order fields.

Safety rules (OWASP CSV injection, ASVS 5.0 V1.2.10):

* numbers are written as numbers ('.' decimal point, no thousands separator,
  Python's shortest round-trip representation); sides are words and amounts
  are positive;
* identifier fields (exchange, symbol, CCXT symbol, client order id) are
  validated against a strict pattern and the export is refused on a mismatch;
* free text (the reason) has control characters removed and a leading
  ``= + - @``, tab, CR or LF neutralised with a single quote;
* the file is written with the stdlib ``csv`` module's ``excel`` dialect,
  atomically, and never over an existing file unless asked.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from betaneutral.core.orders import HedgeOrder
from betaneutral.errors import InputTypeError
from betaneutral.files import atomic_output
from betaneutral.safetext import neutralise_text, validate_identifier

__all__ = [
    "BINANCE_USDM_COLUMNS",
    "TICKET_COLUMNS",
    "Ticket",
    "book_fingerprint",
    "make_tickets",
    "read_tickets",
    "ticket_rows",
    "tickets_sheet_cells",
    "to_ccxt_call",
    "write_tickets_csv",
    ]

#: Client order ids: Binance accepts ``^[.A-Z:/a-z0-9_-]{1,36}$``; ours are a subset.
_CLIENT_ID_PATTERN = r"^BN-[0-9A-F]{24}$"
_SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9._:/-]{0,63}$"

TICKET_COLUMNS: tuple[str, ...] = (
    "ticket_id", "created_utc", "exchange", "symbol", "ccxt_symbol", "side", "type",
    "amount_contracts", "price", "reduce_only", "client_order_id", "contract_kind",
    "contract_size", "notional_usd", "reason", "beta_before", "beta_after",
)
#: Binance USD-M ``POST /fapi/v1/batchOrders`` order fields.
BINANCE_USDM_COLUMNS: tuple[str, ...] = (
    "symbol", "side", "type", "quantity", "price", "reduceOnly", "newClientOrderId",
)
_NUMBER_COLUMNS = ("amount_contracts", "price", "contract_size", "notional_usd", "beta_before",
                   "beta_after")
_FREE_TEXT_COLUMNS = ("reason", "created_utc", "ticket_id", "side", "type", "contract_kind")


def _safe_values(ticket: Ticket) -> dict[str, Any]:
    """The ticket's fields as written: identifiers re-validated, free text neutralised."""
    d = asdict(ticket)
    for col in ("exchange", "symbol"):
        validate_identifier(col, d[col], _SYMBOL_PATTERN)
    if d["ccxt_symbol"]:
        validate_identifier("ccxt_symbol", d["ccxt_symbol"], _SYMBOL_PATTERN)
    validate_identifier("client_order_id", d["client_order_id"], _CLIENT_ID_PATTERN)
    for col in _FREE_TEXT_COLUMNS:
        d[col] = neutralise_text(d[col])
    return d


@dataclass(frozen=True)
class Ticket:
    """One order to place, with its identifiers (see :data:`TICKET_COLUMNS`)."""

    ticket_id: str
    created_utc: str
    exchange: str
    symbol: str
    ccxt_symbol: str
    side: Literal["sell", "buy"]
    type: Literal["market", "limit"]
    amount_contracts: float
    price: float | None
    reduce_only: bool
    client_order_id: str
    contract_kind: str
    contract_size: float
    notional_usd: float
    reason: str
    beta_before: float | None
    beta_after: float | None


def book_fingerprint(state: Mapping[str, Any]) -> str:
    """A stable hash of the book state the orders were computed from.

    ``state`` holds plain values (holdings and quantities, last prices,
    settings, current position); the same state gives the same fingerprint in
    any run, and any change to it gives another.
    """
    blob = json.dumps(state, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _reason(order: HedgeOrder) -> str:
    return f"{order.reason}: {order.reason_detail}" if order.reason_detail else order.reason


def make_tickets(orders: Sequence[HedgeOrder], fingerprint: str, *,
                 created: datetime | None = None, note: str | None = None) -> list[Ticket]:
    """Tickets for ``orders`` computed from the book state ``fingerprint``.

    ``note``, when given, starts every ticket's reason (``"<note>: <reason>"``):
    tickets computed from the synthetic sample say so in every row.

    The client order id hashes the book state, the order's position in the
    list and its fields, so exporting the same book state twice yields the same
    ids (an exchange rejects the duplicate), while a different state yields new
    ones. The creation time does not enter the id.

    Raises
    ------
    InputTypeError
        An identifier field does not match its strict pattern.
    """
    stamp = (created or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    created_text = stamp.isoformat().replace("+00:00", "Z")
    tickets = []
    for i, order in enumerate(orders, start=1):
        digest = hashlib.sha256(
            f"{fingerprint}|{i}|{order.exchange}|{order.symbol}|{order.side}|"
            f"{order.quantity_contracts!r}|{order.reduce_only}".encode()).hexdigest().upper()
        tickets.append(Ticket(
            ticket_id=f"T{i:02d}-{digest[:8]}",
            created_utc=created_text,
            exchange=validate_identifier("exchange", order.exchange, _SYMBOL_PATTERN),
            symbol=validate_identifier("symbol", order.symbol, _SYMBOL_PATTERN),
            ccxt_symbol=(validate_identifier("ccxt_symbol", order.ccxt_symbol, _SYMBOL_PATTERN)
                         if order.ccxt_symbol else ""),
            side=order.side,
            type=order.order_type,
            amount_contracts=float(order.quantity_contracts),
            price=None if order.price is None else float(order.price),
            reduce_only=bool(order.reduce_only),
            client_order_id=validate_identifier("client_order_id", f"BN-{digest[:24]}",
                                                _CLIENT_ID_PATTERN),
            contract_kind=order.contract_kind,
            contract_size=float(order.contract_size),
            notional_usd=float(order.notional_usd),
            reason=neutralise_text(f"{note}: {_reason(order)}" if note else _reason(order)),
            beta_before=order.portfolio_beta_before,
            beta_after=order.portfolio_beta_after,
        ))
    return tickets


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputTypeError(f"ticket numbers must be finite, got {value!r}")
        return repr(value)
    return value


def ticket_rows(tickets: Iterable[Ticket], fmt: Literal["tickets", "binance-usdm"] = "tickets"
                ) -> tuple[tuple[str, ...], list[list[Any]]]:
    """Header and rows for ``fmt``; numbers as round-trip text, blanks as ''."""
    rows = []
    if fmt == "tickets":
        for t in tickets:
            d = _safe_values(t)
            rows.append([_cell(d[c]) for c in TICKET_COLUMNS])
        return TICKET_COLUMNS, rows
    if fmt == "binance-usdm":
        for t in tickets:
            _safe_values(t)
            if t.exchange != "BINANCE" or t.contract_kind != "linear":
                raise InputTypeError(
                    f"format binance-usdm needs Binance USD-M (linear) tickets, got "
                    f"{t.exchange}:{t.symbol} ({t.contract_kind})")
            rows.append([t.symbol, t.side.upper(), t.type.upper(), _cell(t.amount_contracts),
                         _cell(t.price), "true" if t.reduce_only else "false",
                         t.client_order_id])
        return BINANCE_USDM_COLUMNS, rows
    raise InputTypeError(f"format must be one of ['tickets', 'binance-usdm'], got {fmt!r}")


def write_tickets_csv(tickets: Sequence[Ticket], path: str | os.PathLike[str], *,
                      fmt: Literal["tickets", "binance-usdm"] = "tickets",
                      force: bool = False) -> None:
    """Write the tickets as CSV (stdlib ``excel`` dialect), atomically.

    Raises
    ------
    FileProblemError
        The file exists and ``force`` is False, or it cannot be written.
    InputTypeError
        A ticket does not fit the format.
    """
    header, rows = ticket_rows(tickets, fmt)  # validate before touching the disk
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, dialect="excel")
    writer.writerow(header)
    writer.writerows(rows)
    with atomic_output(path, force=force, newline="") as (handle, _tmp):
        handle.write(buffer.getvalue())


def read_tickets(path: str | os.PathLike[str]) -> list[Ticket]:
    """Read a tickets CSV written by :func:`write_tickets_csv` back into tickets."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, dialect="excel")
        out = []
        for row in reader:
            values: dict[str, Any] = dict(row)
            for col in _NUMBER_COLUMNS:
                values[col] = float(row[col]) if row[col] != "" else None
            values["reduce_only"] = row["reduce_only"] == "True"
            out.append(Ticket(**values))
        return out


def to_ccxt_call(ticket: Ticket) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Arguments of ``exchange.create_order(symbol, type, side, amount, price, params)``."""
    params: dict[str, Any] = {"clientOrderId": ticket.client_order_id}
    if ticket.reduce_only:
        params["reduceOnly"] = True
    return (ticket.ccxt_symbol, ticket.type, ticket.side, ticket.amount_contracts,
            ticket.price, params), {}


def tickets_sheet_cells(tickets: Sequence[Ticket], *, used_rows: int, first_row: int = 2
                        ) -> dict[str, Any]:
    """Coordinate -> value for the Tickets sheet rows (same columns as the CSV).

    Rows from ``first_row`` up to ``used_rows`` that the new tickets do not
    fill are cleared (``None``). Text is neutralised; numbers stay numbers.
    """
    from openpyxl.utils import get_column_letter

    out: dict[str, Any] = {}
    last = max(used_rows, first_row + len(tickets) - 1)
    for r in range(first_row, last + 1):
        for c in range(1, len(TICKET_COLUMNS) + 1):
            out[f"{get_column_letter(c)}{r}"] = None
    for r, ticket in enumerate(tickets, start=first_row):
        d = _safe_values(ticket)
        for c, col in enumerate(TICKET_COLUMNS, start=1):
            out[f"{get_column_letter(c)}{r}"] = d[col]
    return out
