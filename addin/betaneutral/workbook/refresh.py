"""``betaneutral refresh``: bring a book up to date from the exchanges, then compute it.

:func:`refreshed_copy` reads the book's assets and last date as its sheets hold
them (:func:`~betaneutral.workbook.living.scan_inputs`: closes already typed
under the last date count), fetches

* the complete daily closes after the last date
  (:func:`~betaneutral.marketdata.prices.closes_since`, spot markets, the quote
  currency taken as USD),
* the hedge contract's mark price and current funding rate, converted to 8 h
  (:func:`~betaneutral.marketdata.quote.fetch_futures_quote`, public data),
* the current position in it (:func:`~betaneutral.marketdata.position.fetch_position`,
  with a read-only key from the environment; skipped, saying why, without one),

and only when every fetch succeeded writes a copy of the book with the new
values typed in: the closes as values under the Benchmark sheet's last dated
row (dates as date cells, a missing candle left blank), the mark price into
Settings ``FuturesPrice``, the 8 h rate into ``FundingRate8h`` and the position
into Rebalance ``CurrentContracts``. The command then computes that copy
(:func:`~betaneutral.workbook.compute.compute_workbook`), which grows the book
to the new rows as it does for closes a user types. A fetch that fails leaves
nothing written; the credentials never reach the book or a message.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from betaneutral.errors import DomainError

__all__ = ["refreshed_copy"]


def _clock() -> dt.datetime:  # replaced by the tests
    return dt.datetime.now(dt.UTC)


def _price_columns(ws: Any, header_row: int, skip: set[int], assets: list[str]
                   ) -> dict[str, int]:
    """Column of each asset's header on the prices sheet (the benchmark and dates skipped)."""
    found: dict[str, int] = {}
    for (row, col), cell in ws._cells.items():
        if row == header_row and col not in skip and isinstance(cell.value, str) \
                and cell.value.strip() in assets:
            found.setdefault(cell.value.strip(), col)
    return found


def _pct(rate: float) -> str:
    return f"{rate:.4%}"


def refreshed_copy(
    book: Path,
    edited: Path,
    *,
    exchange: str = "binance",
    quote: str = "USDT",
    contract: str | None = None,
    position: bool = True,
    progress: Callable[[str], None] | None = None,
) -> list[str]:
    """Fetch what ``book`` lacks and save it, with the new values typed in, as ``edited``.

    Parameters
    ----------
    book : pathlib.Path
        The user's workbook (already through the archive checks).
    edited : pathlib.Path
        Where the edited copy is saved (a temporary file; same suffix as ``book``).
    exchange, quote : str
        Spot exchange and quote currency of the closes (:func:`closes_since`).
    contract : str, optional
        The hedge contract, ``EXCHANGE:SYMBOL``; default the book's ``HedgeContract``.
        Another one than the book's is written to ``HedgeContract`` too.
    position : bool, default True
        Fetch the position (needs the API key variables; without them the
        position is left as it is, and the lines say so).
    progress : callable, optional
        Called with a short message before each fetch.

    Returns
    -------
    list of str
        What was fetched and set, one line each, for the user.

    Raises
    ------
    MarketDataError
        A fetch failed; nothing was saved.
    BetaNeutralError
        The book cannot be read (the cell named), the contract is not in the
        catalogue, or a cell the closes go into already holds something.
    """
    from betaneutral.archive import open_workbook
    from betaneutral.core.contracts import get_contract
    from betaneutral.marketdata.client import API_KEY_ENV, API_SECRET_ENV, has_credentials
    from betaneutral.marketdata.position import fetch_position
    from betaneutral.marketdata.prices import closes_since
    from betaneutral.marketdata.quote import BOOK_INTERVAL_HOURS, fetch_futures_quote
    from betaneutral.marketdata.venues import VENUES, split_name
    from betaneutral.workbook.living import scan_inputs
    from betaneutral.workbook.names import name_destinations

    def report(message: str) -> None:
        if progress is not None:
            progress(message)

    report(f"reading {book.name}")
    wb = open_workbook(book, keep_vba=book.suffix.lower() == ".xlsm")
    inputs = scan_inputs(wb)
    assets = [str(a) for a in inputs.prices.columns]
    last_date = inputs.prices.index[-1].to_pydatetime()
    hedge = (contract or inputs.settings.hedge_contract).strip().upper()
    get_contract(hedge)  # in the catalogue, before any request
    # A book hedged on a venue BetaNeutral does not read (CME, BitMEX) still gets its closes.
    on_venue = contract is not None or hedge.partition(":")[0] in VENUES
    if on_venue:
        split_name(hedge)  # a malformed --contract is refused before any request
    fetch_pos = position and has_credentials() and on_venue

    # Everything is fetched before anything is written.
    now = _clock()
    report(f"fetching the closes after {last_date:%Y-%m-%d} from {exchange}")
    closes = closes_since(exchange, assets, last_date, quote=quote, now=now)
    futures = None
    if on_venue:
        report(f"fetching the mark price and funding rate of {hedge}")
        futures = fetch_futures_quote(hedge, now=now)
    snap = None
    if fetch_pos:
        report(f"fetching the position in {hedge}")
        snap = fetch_position(hedge, now=now)

    lines: list[str] = []
    dest = name_destinations(wb, ["Dates", "PriceAssets", "BenchPrices", "CurrentContracts",
                                  "FuturesPrice", "FundingRate8h", "HedgeContract"])

    def cell(name: str) -> Any:
        sheet, ref = dest[name]
        return wb[sheet][ref.split(":")[0]]

    # The closes, as values under the last dated row.
    ws = wb[dest["Dates"][0]]
    date_col = cell("Dates").column
    first_row = cell("Dates").row
    header_row = cell("PriceAssets").row
    bench_col = cell("BenchPrices").column
    columns = _price_columns(ws, header_row, {date_col, bench_col}, assets)
    last_row = first_row + len(inputs.prices) - 1
    above = {c: ws.cell(last_row, c).number_format for c in (date_col, *columns.values())}
    blanks = 0
    for i, (stamp, row) in enumerate(closes.iterrows(), start=1):
        r = last_row + i
        targets = [date_col, *(columns[a] for a in assets)]
        for c in targets:
            held = ws._cells.get((r, c))
            if held is not None and held.value is not None:
                raise DomainError(f"{ws.title}!{held.coordinate}: refresh types the close of "
                                  f"{stamp:%Y-%m-%d} here, but the cell holds {held.value!r} "
                                  "(clear it, or move it elsewhere)")
        day = ws.cell(r, date_col, dt.datetime(stamp.year, stamp.month, stamp.day))
        day.number_format = above[date_col]
        for asset in assets:
            value = float(row[asset.upper()])
            if math.isnan(value):
                blanks += 1
                continue  # no candle: the cell stays blank
            ws.cell(r, columns[asset], value).number_format = above[columns[asset]]
    if len(closes):
        lines.append(f"Closes: {len(closes)} new day(s) from {exchange} "
                     f"({closes.index[0]:%Y-%m-%d} to {closes.index[-1]:%Y-%m-%d} UTC) of "
                     f"{', '.join(assets)}; closes in {quote.upper()}, taken as USD; "
                     f"{blanks} missing candle(s) left blank")
    else:
        lines.append(f"Closes: the book is up to date (last date {last_date:%Y-%m-%d}; no "
                     "complete day after it yet); nothing to append")

    if hedge != inputs.settings.hedge_contract.strip().upper():
        cell("HedgeContract").value = hedge
        lines.append(f"Hedge contract: set to {hedge} (was {inputs.settings.hedge_contract})")
    if futures is None:
        lines.append(f"Futures price and funding rate: {hedge} is not traded on an exchange "
                     f"BetaNeutral reads ({', '.join(VENUES)}); FuturesPrice and "
                     "FundingRate8h left as they are (give --contract to read another "
                     "contract)")
    else:
        cell("FuturesPrice").value = futures.mark_price
        lines.append(f"Futures price: {futures.mark_price:,.2f} USD, the mark price of "
                     f"{futures.contract}")
        if futures.funding_rate_8h is None or futures.interval_hours is None:
            lines.append(f"Funding rate: {futures.contract} is a dated future and pays no "
                         f"funding; FundingRate8h left at "
                         f"{_pct(inputs.settings.funding_rate_8h)}")
        else:
            cell("FundingRate8h").value = futures.funding_rate_8h
            line = (f"Funding rate: {_pct(futures.funding_rate_8h)} per 8 h, the current rate "
                    f"of {futures.contract}")
            if futures.interval_hours != BOOK_INTERVAL_HOURS:
                line += (f", {_pct(futures.funding_rate or 0.0)} per "
                         f"{futures.interval_hours:g} h, converted to 8 h (x "
                         f"{BOOK_INTERVAL_HOURS / futures.interval_hours:g})")
            lines.append(line)
    if snap is not None:
        cell("CurrentContracts").value = snap.contracts_short
        side = ("short" if snap.contracts_short > 0 else "long" if snap.contracts_short < 0
                else "flat")
        lines.append(f"Position: {abs(snap.contracts_short):g} contract(s) {side} of "
                     f"{snap.contract} (fetched {snap.fetched})")
    else:
        why = ("--no-position" if not position else
               f"{hedge} is not on an exchange BetaNeutral reads" if not on_venue else
               f"no API key in the environment ({API_KEY_ENV}, {API_SECRET_ENV})")
        lines.append(f"Position: not fetched ({why}); CurrentContracts left at "
                     f"{inputs.current_contracts:g}")
    report(f"saving the refreshed copy of {book.name}")
    wb.save(edited)
    return lines
