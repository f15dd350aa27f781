"""Which ccxt exchange and market a catalogue name ``EXCHANGE:SYMBOL`` refers to."""

from __future__ import annotations

from typing import Any

from betaneutral.marketdata.client import Client, MarketDataError, open_client

__all__ = ["VENUES", "derivative_options", "open_contract", "split_name"]

#: Catalogue exchange label -> ccxt exchange ids holding its futures.
VENUES: dict[str, tuple[str, ...]] = {
    "BINANCE": ("binanceusdm", "binancecoinm"),
    "BYBIT": ("bybit",),
    "OKX": ("okx",),
    "DERIBIT": ("deribit",),
}
#: ccxt id -> catalogue exchange label.
LABELS: dict[str, str] = {cid: label for label, ids in VENUES.items() for cid in ids}


def split_name(name: str) -> tuple[str, str]:
    """``"BINANCE:BTCUSDT"`` -> ``("BINANCE", "BTCUSDT")``, or a MarketDataError."""
    text = str(name).strip().upper()
    label, sep, symbol = text.partition(":")
    if not sep or not symbol or label not in VENUES:
        raise MarketDataError(f"contract must be EXCHANGE:SYMBOL with EXCHANGE one of "
                              f"{sorted(VENUES)}, got {name!r}")
    return label, symbol


def derivative_options(exchange_id: str) -> dict[str, Any]:
    """ccxt options that load only the futures markets and no wallet endpoints."""
    types = {"binanceusdm": ["linear"], "binancecoinm": ["inverse"],
             "bybit": ["linear", "inverse"], "okx": ["swap", "future"]}.get(exchange_id)
    options: dict[str, Any] = {"fetchCurrencies": False, "fetchMargins": False}
    if types:
        options["fetchMarkets"] = {"types": types}
    return options


def _exchange_for(label: str, symbol: str) -> str:
    if label == "BINANCE":  # COIN-M symbols carry an underscore (BTCUSD_PERP, BTCUSD_250627)
        return "binancecoinm" if "_" in symbol else "binanceusdm"
    return VENUES[label][0]


def find_market(client: Client, markets: dict[str, Any], symbol: str) -> dict[str, Any]:
    """The futures market whose exchange id is ``symbol``, or a MarketDataError."""
    by_id = getattr(client.exchange, "markets_by_id", None) or {}
    found = [m for m in by_id.get(symbol, []) if m.get("contract")]
    if not found:
        found = [m for m in markets.values() if m.get("id") == symbol and m.get("contract")]
    if not found:
        raise MarketDataError(f"{client.id}: {symbol} is not listed (an unknown or delisted "
                              "contract); nothing was written")
    market = found[0]
    if market.get("active") is False:
        raise MarketDataError(f"{client.id}: {symbol} is delisted or suspended (the exchange "
                              "lists it as inactive); nothing was written")
    return market


def open_contract(name: str, *, credentials: bool = False, retries: int = 3
                  ) -> tuple[Client, dict[str, Any]]:
    """An open client on the contract's exchange and the contract's ccxt market.

    Raises
    ------
    MarketDataError
        A malformed name, an unknown venue or symbol, a delisted contract, or
        a failure loading the markets.
    """
    label, symbol = split_name(name)
    exchange_id = _exchange_for(label, symbol)
    client = open_client(exchange_id, credentials=credentials, retries=retries,
                         options=derivative_options(exchange_id))
    markets = client.call("markets", "load_markets")
    return client, find_market(client, markets, symbol)
