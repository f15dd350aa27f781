"""Closes from an exchange's candles (``fetch_ohlcv``), in the wide layout ``fill`` reads.

One row per UTC day (or hour), labelled with the candle's opening time; one
column per asset, BTC and ETH always first. The close of a day is the last
trade price of that UTC day in the quote currency (USDT by default), which
BetaNeutral takes as USD. A candle the exchange does not have stays blank: it
is never forward-filled (a filled price fakes a zero return). Only complete
candles are kept (the current day's candle is still moving).

Candles are fetched page by page from ``since``; each page starts one candle
after the last one received, until ``until`` (inclusive) or the last complete
candle. A page that goes backwards, holds a candle off the UTC grid or a close
that is not a positive number stops the fetch with an error; nothing is
returned or written then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from betaneutral.marketdata.client import Client, MarketDataError, open_client
from betaneutral.safetext import validate_identifier

__all__ = ["ALWAYS", "TIMEFRAMES", "closes_since", "fetch_closes", "parse_day"]

#: Candle length of each supported timeframe, milliseconds.
TIMEFRAMES: dict[str, int] = {"1d": 86_400_000, "1h": 3_600_000}
#: Columns every prices file has (the workbook needs both for its benchmarks).
ALWAYS: tuple[str, ...] = ("BTC", "ETH")
#: Exchanges whose spot markets give the closes.
PRICE_EXCHANGES: tuple[str, ...] = ("binance", "bybit", "okx")
#: Default history, days (two years of daily closes).
DEFAULT_DAYS = 730
_MAX_PAGES = 10_000
#: Candles per request when none is given (the exchanges' documented maximum pages).
PAGE_CANDLES: dict[str, int] = {"binance": 1000, "bybit": 1000, "okx": 100}


def parse_day(name: str, text: str | date | datetime) -> datetime:
    """A UTC date or timestamp as an aware datetime (a date is its 00:00 UTC).

    Raises
    ------
    MarketDataError
        When the text is not an ISO 8601 date or timestamp.
    """
    if isinstance(text, datetime):
        stamp = text
    elif isinstance(text, date):
        stamp = datetime(text.year, text.month, text.day)
    else:
        try:
            stamp = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
        except ValueError:
            raise MarketDataError(f"{name} must be an ISO 8601 date (YYYY-MM-DD), got "
                                  f"{text!r}") from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _ms(stamp: datetime) -> int:
    return int(stamp.timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _columns(assets: Sequence[str]) -> list[str]:
    out: list[str] = []
    for raw in [*ALWAYS, *assets]:
        name = validate_identifier("asset", str(raw).strip().upper())
        if name not in out:
            out.append(name)
    return out


def _market(client: Client, markets: dict[str, Any], symbol: str) -> dict[str, Any]:
    market = markets.get(symbol)
    if market is None:
        raise MarketDataError(f"{client.id}: {symbol} is not listed (an unknown or delisted "
                              "symbol); nothing was written")
    if market.get("active") is False:
        raise MarketDataError(f"{client.id}: {symbol} is delisted or suspended (the exchange "
                              "lists it as inactive); nothing was written")
    return market


def _page_candles(client: Client, symbol: str, page: Any, cursor: int, step: int
                  ) -> list[tuple[int, float]]:
    """(open time, close) of a page, checked: ascending, on the grid, from the cursor on."""
    if not isinstance(page, list):
        raise MarketDataError(f"{client.id}: {symbol} candles from {_iso(cursor)}: malformed "
                              "response (not a list of candles); nothing was written")
    out: list[tuple[int, float]] = []
    last = cursor - 1
    for candle in page:
        ok = isinstance(candle, (list, tuple)) and len(candle) >= 5
        stamp = candle[0] if ok else None
        if not ok or not isinstance(stamp, int) or stamp <= last or stamp < cursor \
                or (stamp - cursor) % step:
            raise MarketDataError(
                f"{client.id}: {symbol} candles from {_iso(cursor)}: malformed page (a "
                f"candle out of order or off the {step // 3_600_000} h UTC grid: "
                f"{client.clean(repr(candle)[:80])}); nothing was written")
        close = candle[4]
        if close is None:
            value = math.nan
        elif isinstance(close, (int, float)) and not isinstance(close, bool) \
                and math.isfinite(close) and close > 0:
            value = float(close)
        else:
            raise MarketDataError(f"{client.id}: {symbol} close at {_iso(stamp)} must be a "
                                  f"positive number, got {close!r}; nothing was written")
        out.append((stamp, value))
        last = stamp
    return out


def _fetch_symbol(client: Client, symbol: str, timeframe: str, start: int, end: int,
                  page_limit: int | None) -> dict[int, float]:
    """Closes of one market in windows of ``page`` candles from ``start`` to ``end``.

    Each request names both ends of its window (``since`` and ccxt's ``until``), so a
    window inside a gap (or before the listing) is empty without ending the fetch, and
    an exchange that answers with its newest candles first (Bybit) pages the same way.
    """
    step = TIMEFRAMES[timeframe]
    page = page_limit or PAGE_CANDLES.get(client.id, 500)
    closes: dict[int, float] = {}
    cursor = start
    for _ in range(_MAX_PAGES):
        if cursor >= end:
            return closes
        window_end = min(end, cursor + page * step)
        answer = client.call(f"{symbol} {timeframe} candles from {_iso(cursor)}", "fetch_ohlcv",
                             symbol, timeframe, cursor, page, {"until": window_end - 1})
        candles = _page_candles(client, symbol, answer, cursor, step)
        closes.update((t, c) for t, c in candles if t < window_end)
        cursor = window_end
    raise MarketDataError(f"{client.id}: {symbol} candles: more than {_MAX_PAGES} pages; "
                          "nothing was written")


def fetch_closes(
    exchange: str,
    assets: Sequence[str],
    *,
    quote: str = "USDT",
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    timeframe: str = "1d",
    page_limit: int | None = None,
    client: Client | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Closes of BTC, ETH and ``assets`` against ``quote`` on an exchange's spot markets.

    Parameters
    ----------
    exchange : str
        ccxt id of one of :data:`PRICE_EXCHANGES`.
    assets : sequence of str
        Coins (``"SOL"``); BTC and ETH are always included, first.
    quote : str, default "USDT"
        Quote currency of the markets (``ASSET/QUOTE``), taken as USD.
    since, until : date or ISO text, optional
        First and last UTC day (or hour) included; default the last
        :data:`DEFAULT_DAYS` days up to the last complete candle.
    timeframe : {"1d", "1h"}, default "1d"
        Candle length.
    page_limit : int, optional
        Candles asked per request (default: the exchange's default page).
    client : Client, optional
        An open client (default: :func:`~betaneutral.marketdata.client.open_client`).
    now : datetime, optional
        The current time (default: the clock); candles not complete by then are left out.

    Returns
    -------
    pandas.DataFrame
        Index ``date`` (naive UTC opening times), one float column per asset,
        NaN where the exchange has no candle.

    Raises
    ------
    MarketDataError
        Unknown exchange, timeframe or symbol, a delisted market, a network
        failure or rate limit after the retries, an exchange error or a
        malformed page.
    """
    if timeframe not in TIMEFRAMES:
        raise MarketDataError(f"timeframe must be one of {list(TIMEFRAMES)}, got {timeframe!r}")
    if str(exchange).strip().lower() not in PRICE_EXCHANGES:
        raise MarketDataError(f"exchange must be one of {list(PRICE_EXCHANGES)} for prices, "
                              f"got {exchange!r}")
    step = TIMEFRAMES[timeframe]
    quote_id = validate_identifier("quote", str(quote).strip().upper())
    columns = _columns(assets)
    clock = now or datetime.now(UTC)
    last_complete = (_ms(clock) // step) * step  # candles opening before this are complete
    end = last_complete
    if until is not None:  # inclusive: a date is the whole UTC day, a time its candle
        whole_day = not isinstance(until, datetime) and len(str(until).strip()) <= 10
        limit = _ms(parse_day("until", until)) // step * step
        end = min(end, limit + (TIMEFRAMES["1d"] if whole_day else step))
    start_stamp = (parse_day("since", since) if since is not None
                   else datetime.fromtimestamp(end / 1000, tz=UTC) - timedelta(days=DEFAULT_DAYS))
    start = -(-_ms(start_stamp) // step) * step  # first candle opening at or after since
    if start >= end:
        raise MarketDataError(f"since must be before until and the last complete candle, got "
                              f"{_iso(start)} and {_iso(end)}")
    client = client or open_client(exchange, options={"fetchMarkets": {"types": ["spot"]}})
    markets = client.call("markets", "load_markets")
    if timeframe not in (getattr(client.exchange, "timeframes", None) or TIMEFRAMES):
        raise MarketDataError(f"{client.id}: timeframe {timeframe} is not offered")
    symbols = {asset: f"{asset}/{quote_id}" for asset in columns}
    for symbol in symbols.values():
        _market(client, markets, symbol)
    series = {asset: _fetch_symbol(client, symbol, timeframe, start, end, page_limit)
              for asset, symbol in symbols.items()}
    stamps = sorted({t for closes in series.values() for t in closes})
    if not stamps:
        raise MarketDataError(f"{client.id}: no complete {timeframe} candle of "
                              f"{', '.join(symbols.values())} between {_iso(start)} and "
                              f"{_iso(end)}; nothing was written")
    index = pd.DatetimeIndex(pd.to_datetime(stamps, unit="ms"), name="date")
    data = {asset: np.array([series[asset].get(t, np.nan) for t in stamps], dtype=float)
            for asset in columns}
    return pd.DataFrame(data, index=index, columns=columns)


def closes_since(
    exchange: str,
    assets: Sequence[str],
    since: str | date | datetime,
    *,
    quote: str = "USDT",
    until: str | date | datetime | None = None,
    timeframe: str = "1d",
    client: Client | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """The closes a book whose last row is ``since`` lacks: the days after it, complete ones.

    Parameters
    ----------
    exchange, assets, quote, until, timeframe, client, now
        As :func:`fetch_closes`.
    since : date or ISO text
        The book's last date (UTC); it is not fetched again.

    Returns
    -------
    pandas.DataFrame
        As :func:`fetch_closes`; empty (no rows, the same columns) when no
        candle after ``since`` is complete yet.

    Raises
    ------
    MarketDataError
        As :func:`fetch_closes`.
    """
    step = TIMEFRAMES.get(timeframe, TIMEFRAMES["1d"])
    first = parse_day("since", since) + timedelta(milliseconds=step)
    clock = now or datetime.now(UTC)
    if _ms(first) + step > _ms(clock):
        return pd.DataFrame(columns=_columns(assets),
                            index=pd.DatetimeIndex([], name="date"), dtype=float)
    return fetch_closes(exchange, assets, quote=quote, since=first, until=until,
                        timeframe=timeframe, client=client, now=now)
