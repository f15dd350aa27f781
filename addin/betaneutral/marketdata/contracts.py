"""Contract specifications and leverage tiers from an exchange, as catalogue entries.

For each futures market asked for, the market's contract size, quantity step,
minimum quantity and minimum notional (``load_markets``), and its maintenance
brackets (``fetch_market_leverage_tiers``), become a
:class:`~betaneutral.core.contracts.ContractSpec` whose ``source`` names the
exchange and the endpoints and whose ``checked`` is the UTC date of the fetch.

Units follow the catalogue: tiers are in USD (quote) notional for linear
contracts and in the coin for inverse ones; the quantity step and minimum are
in contracts (Deribit's API counts inverse amounts in USD, divided here by the
contract size). The maintenance amount of each bracket is rebuilt from the
rates with the continuity rule every venue publishes
(``amount_n = floor_n x (rate_n - rate_n-1) + amount_n-1``); where the exchange
also sends its own amount (Binance ``cum``, Bybit ``mmDeduction``) the two must
agree, else the fetch stops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from betaneutral.core.contracts import ContractSpec, MarginTier
from betaneutral.errors import BetaNeutralError
from betaneutral.marketdata.client import Client, MarketDataError, has_credentials, open_client
from betaneutral.marketdata.venues import LABELS, derivative_options, find_market

__all__ = ["PRIVATE_TIERS", "fetch_contract_specs", "spec_from_market", "tiers_from_ccxt"]

#: Exchanges whose leverage-tier endpoint needs an API key (read permission).
PRIVATE_TIERS: tuple[str, ...] = ("binanceusdm", "binancecoinm")
#: Exchanges whose API counts inverse-contract amounts in USD rather than contracts.
_AMOUNT_IN_USD: tuple[str, ...] = ("deribit",)


def _own_amount(info: Any) -> float | None:
    if not isinstance(info, dict):
        return None
    for key in ("cum", "mmDeduction"):
        value = info.get(key)
        if value not in (None, ""):
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def tiers_from_ccxt(name: str, tiers: Sequence[dict[str, Any]]) -> tuple[MarginTier, ...]:
    """Brackets from ccxt's leverage-tier structures (``minNotional``, ``maxNotional``, ...).

    Raises
    ------
    MarketDataError
        Missing numbers, or an exchange amount that contradicts the continuity rule.
    """
    out: list[MarginTier] = []
    amount = 0.0
    prev_rate = None
    for number, tier in enumerate(tiers, start=1):
        floor, cap = tier.get("minNotional"), tier.get("maxNotional")
        rate, lev = tier.get("maintenanceMarginRate"), tier.get("maxLeverage")
        if not all(isinstance(v, (int, float)) for v in (floor, cap, rate)):
            raise MarketDataError(f"{name}: leverage tier {number} must have a floor, a cap and "
                                  f"a maintenance rate, got {floor!r}, {cap!r}, {rate!r}")
        if prev_rate is not None:
            amount = amount + float(floor) * (float(rate) - prev_rate)
        own = _own_amount(tier.get("info"))
        if own is not None and not math.isclose(own, amount, rel_tol=1e-6, abs_tol=1e-6):
            raise MarketDataError(f"{name}: leverage tier {number} has maintenance amount "
                                  f"{own!r} from the exchange, but the rates give {amount!r}")
        try:
            out.append(MarginTier(float(floor), float(cap), float(rate), round(amount, 10),
                                  float(lev) if isinstance(lev, (int, float)) else math.inf))
        except BetaNeutralError as exc:
            raise MarketDataError(f"{name}: leverage tier {number}: {exc}") from None
        prev_rate = float(rate)
    return tuple(out)


def spec_from_market(client: Client, market: dict[str, Any], tiers: tuple[MarginTier, ...],
                     fetched: datetime) -> ContractSpec:
    """The catalogue entry of one ccxt futures market."""
    kind = "linear" if market.get("linear") else "inverse" if market.get("inverse") else None
    if kind is None:
        raise MarketDataError(f"{client.id}: {market.get('id')} is neither linear nor inverse")
    size = float(market.get("contractSize") or 1.0)
    step = (market.get("precision") or {}).get("amount")
    minimum = ((market.get("limits") or {}).get("amount") or {}).get("min")
    if not isinstance(step, (int, float)) or step <= 0:
        raise MarketDataError(f"{client.id}: {market.get('id')} has no quantity step")
    minimum = float(minimum) if isinstance(minimum, (int, float)) else float(step)
    if client.id in _AMOUNT_IN_USD and kind == "inverse":
        step, minimum = step / size, minimum / size
    min_cost = ((market.get("limits") or {}).get("cost") or {}).get("min")
    min_notional = float(min_cost) if kind == "linear" and isinstance(min_cost, (int, float)) \
        else 0.0
    info = market.get("info") or {}
    interval = info.get("fundingInterval") if isinstance(info, dict) else None
    hours = (float(interval) / 60.0 if isinstance(interval, (int, float, str))
             and str(interval).replace(".", "", 1).isdigit() and float(interval) > 0 else 8.0)
    stamp = fetched.strftime("%Y-%m-%dT%H:%M:%SZ")
    return ContractSpec(
        exchange=LABELS.get(client.id, client.id.upper()),
        symbol=str(market["id"]).upper(),
        kind=kind,  # type: ignore[arg-type]
        contract_size=size,
        quantity_step=float(step),
        min_quantity=minimum,
        min_notional_usd=min_notional,
        settlement_currency=str(market.get("settle") or ""),
        underlying=str(market.get("base") or ""),
        ccxt_symbol=str(market.get("symbol") or ""),
        perpetual=bool(market.get("swap")),
        margin_tiers=tiers,
        taker_fee_rate=float(market.get("taker") or 0.0),
        funding_interval_hours=hours if market.get("swap") else None,
        source=(f"{client.id} API through ccxt (load_markets, fetch_market_leverage_tiers), "
                f"fetched {stamp}"),
        checked=fetched.strftime("%Y-%m-%d"),
        expiry=None if market.get("swap") else str(market.get("expiryDatetime") or ""),
        notes=("Fetched from the exchange. Taker fee: ccxt's default tier for the venue, not "
               "the account's. Funding interval: the market's own when it states one, else "
               "8 h (fetch funding shows the real intervals)."
               + ("" if tiers else " No leverage tiers were fetched.")),
    )


def fetch_contract_specs(
    exchange: str,
    symbols: Sequence[str] | None = None,
    *,
    tiers: bool = True,
    client: Client | None = None,
    now: datetime | None = None,
) -> list[ContractSpec]:
    """Catalogue entries for an exchange's futures markets.

    Parameters
    ----------
    exchange : str
        ``binanceusdm``, ``binancecoinm``, ``bybit``, ``okx`` or ``deribit``.
    symbols : sequence of str, optional
        Exchange symbols (``BTCUSDT``, ``BTCUSD_PERP``, ``BTC-PERPETUAL``);
        default the BTC and ETH perpetuals settled in USDT or in the coin.
    tiers : bool, default True
        Fetch the leverage tiers (Binance needs a read-only API key for them).
    client : Client, optional
        An open client (default: opened with the key when Binance tiers need it).
    now : datetime, optional
        The fetch time recorded (default: the clock).

    Raises
    ------
    MarketDataError
        Unknown exchange or symbol, missing key for Binance tiers, a network
        failure or rate limit after the retries, an exchange error, or tiers
        that contradict themselves.
    """
    exchange_id = str(exchange).strip().lower()
    if client is None:
        if exchange_id not in LABELS:
            raise MarketDataError(f"exchange must be one of {sorted(LABELS)} for contracts, got "
                                  f"{exchange!r}")
        private = tiers and exchange_id in PRIVATE_TIERS
        if private and not has_credentials():
            raise MarketDataError(
                f"{exchange_id}: leverage tiers need a read-only API key (set "
                "BETANEUTRAL_API_KEY and BETANEUTRAL_API_SECRET), or give --no-tiers for the "
                "market specifications alone")
        client = open_client(exchange_id, credentials=private,
                             options=derivative_options(exchange_id))
    if tiers and not (client.exchange.has or {}).get("fetchMarketLeverageTiers"):
        raise MarketDataError(f"{client.id}: the exchange gives no leverage tiers through its "
                              "API; give --no-tiers for the market specifications alone")
    markets = client.call("markets", "load_markets")
    if symbols:
        chosen = [find_market(client, markets, str(s).strip().upper()) for s in symbols]
    else:
        chosen = [m for m in markets.values()
                  if m.get("swap") and m.get("active") is not False
                  and m.get("base") in ("BTC", "ETH")
                  and m.get("settle") in ("USDT", m.get("base"))]
        if not chosen:
            raise MarketDataError(f"{client.id}: no BTC or ETH perpetual found")
    fetched = now or datetime.now(UTC)
    specs = []
    for market in chosen:
        table: tuple[MarginTier, ...] = ()
        if tiers:
            raw = client.call(f"{market['id']} leverage tiers", "fetch_market_leverage_tiers",
                              market["symbol"])
            table = tiers_from_ccxt(f"{client.id} {market['id']}", raw or [])
        specs.append(spec_from_market(client, market, table, fetched))
    return specs
