"""The current futures position and its collateral (``fetch_positions``, ``fetch_balance``).

Needs an API key with read permission only, taken from the environment
(:data:`~betaneutral.marketdata.client.API_KEY_ENV`,
:data:`~betaneutral.marketdata.client.API_SECRET_ENV`); see
:mod:`betaneutral.marketdata.client` for how the key is kept out of every
message, log line and file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from betaneutral.marketdata.client import Client, MarketDataError
from betaneutral.marketdata.venues import open_contract, split_name

__all__ = ["PositionSnapshot", "fetch_position"]


@dataclass(frozen=True)
class PositionSnapshot:
    """A futures position as BetaNeutral counts it.

    Attributes
    ----------
    contract : str
        ``EXCHANGE:SYMBOL``.
    contracts_short : float
        Contracts held, > 0 short, < 0 long, 0 flat (the book's CurrentContracts).
    notional : float or None
        Position notional as the exchange reports it (quote currency for linear
        contracts, the coin for inverse ones).
    entry_price, mark_price, liquidation_price : float or None
        USD per coin, as the exchange reports them.
    margin_mode : str or None
        "isolated" or "cross".
    collateral_currency : str
        The settlement currency.
    collateral_total, collateral_free : float or None
        Wallet balance of the settlement currency, total and free.
    fetched : str
        UTC time of the fetch.
    """

    contract: str
    contracts_short: float
    notional: float | None
    entry_price: float | None
    mark_price: float | None
    liquidation_price: float | None
    margin_mode: str | None
    collateral_currency: str
    collateral_total: float | None
    collateral_free: float | None
    fetched: str


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def fetch_position(contract: str, *, client: Client | None = None,
                   market: dict[str, Any] | None = None,
                   now: datetime | None = None) -> PositionSnapshot:
    """The open position in ``contract`` and the collateral in its settlement currency.

    Raises
    ------
    MarketDataError
        Missing credentials, a key the exchange refuses, an unknown contract, a
        network failure or rate limit after the retries, or an exchange error.
    """
    label, _ = split_name(contract)
    if client is None or market is None:
        client, market = open_contract(contract, credentials=True)
    symbol = market["symbol"]
    positions = client.call(f"{symbol} position", "fetch_positions", [symbol]) or []
    mine = [p for p in positions if isinstance(p, dict) and p.get("symbol") == symbol
            and (_number(p.get("contracts")) or 0.0) != 0.0]
    if len(mine) > 1:
        raise MarketDataError(f"{client.id}: {symbol} has {len(mine)} open positions (hedge "
                              "mode); BetaNeutral reads one net position per contract")
    held = 0.0
    pos: dict[str, Any] = mine[0] if mine else {}
    if pos:
        size = abs(_number(pos.get("contracts")) or 0.0)
        side = str(pos.get("side") or "").lower()
        if side not in ("long", "short"):
            raise MarketDataError(f"{client.id}: {symbol} position has no side (long/short)")
        held = size if side == "short" else -size
    balance = client.call(f"{market.get('settle')} balance", "fetch_balance") or {}
    settle = str(market.get("settle") or "")
    wallet = balance.get(settle) if isinstance(balance, dict) else None
    wallet = wallet if isinstance(wallet, dict) else {}
    fetched = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return PositionSnapshot(
        contract=f"{label}:{str(market['id']).upper()}",
        contracts_short=held,
        notional=_number(pos.get("notional")),
        entry_price=_number(pos.get("entryPrice")),
        mark_price=_number(pos.get("markPrice")),
        liquidation_price=_number(pos.get("liquidationPrice")),
        margin_mode=pos.get("marginMode") if pos else None,
        collateral_currency=settle,
        collateral_total=_number(wallet.get("total")),
        collateral_free=_number(wallet.get("free")),
        fetched=fetched,
    )
