"""Funding-rate history of a perpetual, at its real interval (``fetch_funding_rate_history``).

One row per funding payment: its UTC time (rounded to the minute: some venues
stamp a payment a few milliseconds after the hour), the rate paid (> 0: longs
pay shorts), and the hours since the previous payment, which is how the
interval is seen to change (Binance moves contracts between 8 h, 4 h and 1 h).
The first row's interval is the gap to the second payment.

Requests cover windows of ``page - 1`` hours (fewer than ``page`` payments even
at 1-hour funding), so a full page means payments were cut off and stops the fetch.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from betaneutral.marketdata.client import Client, MarketDataError
from betaneutral.marketdata.prices import DEFAULT_DAYS, parse_day
from betaneutral.marketdata.venues import open_contract, split_name

__all__ = ["PAGE_PAYMENTS", "fetch_funding_history"]

#: Payments per request (the exchanges' documented maximum).
PAGE_PAYMENTS: dict[str, int] = {"binanceusdm": 1000, "binancecoinm": 1000, "bybit": 200,
                                 "okx": 100, "deribit": 1000}
_HOUR_MS = 3_600_000
_MAX_PAGES = 100_000


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _payments(client: Client, symbol: str, answer: Any, start: int, end: int
              ) -> list[tuple[int, float]]:
    if not isinstance(answer, list):
        raise MarketDataError(f"{client.id}: {symbol} funding from {_iso(start)}: malformed "
                              "response (not a list); nothing was written")
    out = []
    for entry in answer:
        stamp = entry.get("timestamp") if isinstance(entry, dict) else None
        rate = entry.get("fundingRate") if isinstance(entry, dict) else None
        if not isinstance(stamp, int) or not isinstance(rate, (int, float)) \
                or isinstance(rate, bool) or not np.isfinite(rate) or abs(rate) > 0.05:
            raise MarketDataError(
                f"{client.id}: {symbol} funding from {_iso(start)}: malformed payment "
                f"{client.clean(repr(entry)[:80])} (a time and a rate within +/-5% are "
                "needed); nothing was written")
        if start <= stamp <= end:
            out.append((round(stamp / 60_000) * 60_000, float(rate)))
    return out


def fetch_funding_history(
    contract: str,
    *,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    page_limit: int | None = None,
    client: Client | None = None,
    market: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Funding payments of a perpetual between two UTC dates (inclusive).

    Parameters
    ----------
    contract : str
        Catalogue-style name, ``"BINANCE:BTCUSDT"``, ``"BINANCE:BTCUSD_PERP"``,
        ``"BYBIT:BTCUSDT"``, ...
    since, until : date or ISO text, optional
        First and last UTC day; default the last 730 days up to now.
    page_limit : int, optional
        Payments per request (default :data:`PAGE_PAYMENTS`).
    client, market : optional
        An open client and the contract's market (default: opened from ``contract``).
    now : datetime, optional
        The current time (default: the clock).

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` (naive UTC), ``funding_rate`` and ``interval_hours``,
        one row per payment in time order.

    Raises
    ------
    MarketDataError
        Unknown or delisted contract, not a perpetual, fewer than 2 payments,
        a network failure or rate limit after the retries, an exchange error,
        or a malformed or full (truncated) page.
    """
    split_name(contract)
    clock = now or datetime.now(UTC)
    end_day = parse_day("until", until) + timedelta(days=1) if until is not None else clock
    end = min(int(end_day.timestamp() * 1000), int(clock.timestamp() * 1000))
    start_day = (parse_day("since", since) if since is not None
                 else end_day - timedelta(days=DEFAULT_DAYS))
    start = int(start_day.timestamp() * 1000)
    if start >= end:
        raise MarketDataError(f"since must be before until, got {_iso(start)} and {_iso(end)}")
    if client is None or market is None:
        client, market = open_contract(contract)
    if not market.get("swap"):
        raise MarketDataError(f"{client.id}: {market.get('id')} is not a perpetual; dated "
                              "futures pay no funding")
    symbol = market["symbol"]
    page = page_limit or PAGE_PAYMENTS.get(client.id, 100)
    rows: dict[int, float] = {}
    cursor = start
    for _ in range(_MAX_PAGES):
        if cursor > end:
            break
        window_end = min(end, cursor + (page - 1) * _HOUR_MS - 1)
        answer = client.call(f"{symbol} funding from {_iso(cursor)}",
                             "fetch_funding_rate_history", symbol, cursor, page,
                             {"until": window_end})
        if isinstance(answer, list) and len(answer) >= page:
            raise MarketDataError(f"{client.id}: {symbol} funding from {_iso(cursor)}: a full "
                                  f"page of {page} payments (some may be cut off); nothing "
                                  "was written")
        rows.update(_payments(client, symbol, answer, cursor, window_end))
        cursor = window_end + 1
    if len(rows) < 2:
        raise MarketDataError(f"{client.id}: {symbol} funding: {len(rows)} payment(s) between "
                              f"{_iso(start)} and {_iso(end)}, at least 2 are needed")
    stamps = np.array(sorted(rows), dtype=np.int64)
    gaps = np.diff(stamps) / _HOUR_MS
    intervals = np.concatenate([[gaps[0]], gaps])
    return pd.DataFrame({
        "time": pd.to_datetime(stamps, unit="ms"),
        "funding_rate": [rows[int(t)] for t in stamps],
        "interval_hours": intervals,
    })
