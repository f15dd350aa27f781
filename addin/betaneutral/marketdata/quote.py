"""The hedge contract's mark price and current funding rate, public data (no key needed).

A perpetual's mark price and its current funding rate come from ccxt's
``fetch_funding_rate`` (Binance USD-M ``GET /fapi/v1/premiumIndex``: ``markPrice``
and ``lastFundingRate``, the rate of the funding period under way, per
developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Mark-Price;
COIN-M ``GET /dapi/v1/premiumIndex``). The rate is per funding interval, which
is not 8 h on every contract (Binance moves contracts to 4 h or 1 h): the
interval is read from the contract's own recent payments (the gap between its
last two, :func:`~betaneutral.marketdata.funding.fetch_funding_history`), and
the rate is converted to the book's 8 h equivalent::

    rate_8h = rate * 8 / interval_hours

(a constant rate paid every ``interval_hours`` hours pays ``8 / interval_hours``
times in 8 hours). A dated future pays no funding: its mark price comes from
ccxt's ``fetch_mark_price`` or ``fetch_ticker`` and no rate is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from betaneutral.marketdata.client import Client, MarketDataError
from betaneutral.marketdata.venues import open_contract, split_name

__all__ = ["BOOK_INTERVAL_HOURS", "FuturesQuote", "fetch_futures_quote"]

#: The interval of the book's funding rate (the Settings ``FundingRate8h``), hours.
BOOK_INTERVAL_HOURS = 8.0
#: Days of payments read to see the contract's current funding interval.
_INTERVAL_LOOKBACK_DAYS = 3
#: Largest funding rate accepted, per interval and per 8 h (the Settings rule, +/-5%).
_MAX_RATE = 0.05


@dataclass(frozen=True)
class FuturesQuote:
    """The mark price and funding of a futures contract.

    Attributes
    ----------
    contract : str
        ``EXCHANGE:SYMBOL``.
    mark_price : float
        USD per coin (> 0).
    funding_rate : float or None
        Current rate per funding interval (> 0: longs pay shorts); None for a
        dated future.
    interval_hours : float or None
        The contract's funding interval, from its last two payments.
    funding_rate_8h : float or None
        ``funding_rate * 8 / interval_hours``, the book's ``FundingRate8h``.
    """

    contract: str
    mark_price: float
    funding_rate: float | None
    interval_hours: float | None
    funding_rate_8h: float | None


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _mark(client: Client, symbol: str, answer: Any) -> float:
    raw = answer.get("markPrice") if isinstance(answer, dict) else None
    if isinstance(raw, str):  # some ccxt ticker parsers keep the exchange's text
        try:
            raw = float(raw)
        except ValueError:
            raw = None
    mark = _number(raw)
    if mark is None or mark <= 0:
        raise MarketDataError(f"{client.id}: {symbol} mark price: the exchange sent no positive "
                              "mark price; nothing was written")
    return mark


def fetch_futures_quote(contract: str, *, client: Client | None = None,
                        market: dict[str, Any] | None = None,
                        now: datetime | None = None) -> FuturesQuote:
    """The mark price of ``contract`` and, for a perpetual, its funding rate per 8 h.

    Parameters
    ----------
    contract : str
        Catalogue-style name, ``"BINANCE:BTCUSDT"``, ``"BINANCE:BTCUSD_PERP"``, ...
    client, market : optional
        An open client and the contract's market (default: opened from ``contract``).
    now : datetime, optional
        The current time (default: the clock), for the window of recent payments.

    Returns
    -------
    FuturesQuote

    Raises
    ------
    MarketDataError
        Unknown or delisted contract, no mark price, a rate outside +/-5% (per
        interval or per 8 h), a network failure or rate limit after the
        retries, or an exchange error.
    """
    label, _ = split_name(contract)
    if client is None or market is None:
        client, market = open_contract(contract)
    symbol = market["symbol"]
    name = f"{label}:{str(market['id']).upper()}"
    if not market.get("swap"):
        method = "fetch_mark_price" if (getattr(client.exchange, "has", None) or {}).get(
            "fetchMarkPrice") else "fetch_ticker"
        answer = client.call(f"{symbol} mark price", method, symbol)
        return FuturesQuote(name, _mark(client, symbol, answer), None, None, None)
    answer = client.call(f"{symbol} mark price and funding rate", "fetch_funding_rate", symbol)
    mark = _mark(client, symbol, answer)
    rate = _number(answer.get("fundingRate")) if isinstance(answer, dict) else None
    if rate is None or abs(rate) > _MAX_RATE:
        raise MarketDataError(f"{client.id}: {symbol} funding rate must be a number within "
                              f"+/-5%, got {client.clean(repr(answer.get('fundingRate')))[:40]}; "
                              "nothing was written")
    from betaneutral.marketdata.funding import fetch_funding_history

    clock = now or datetime.now(UTC)
    history = fetch_funding_history(contract, since=clock - timedelta(days=_INTERVAL_LOOKBACK_DAYS),
                                    client=client, market=market, now=clock)
    interval = float(history["interval_hours"].iloc[-1])
    if not interval > 0:
        raise MarketDataError(f"{client.id}: {symbol} funding interval must be > 0 hours, got "
                              f"{interval:g}")
    rate_8h = rate * BOOK_INTERVAL_HOURS / interval
    if abs(rate_8h) > _MAX_RATE:
        raise MarketDataError(f"{client.id}: {symbol} funding rate {rate:.6%} per {interval:g} h "
                              f"is {rate_8h:.4%} per 8 h, outside the book's +/-5%")
    return FuturesQuote(name, mark, rate, interval, rate_8h)
