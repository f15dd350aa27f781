"""Market data from the exchanges, read-only, through ccxt.

An adapter like the workbook and ticket layers: it fetches closes, funding-rate
histories, contract specifications with their leverage tiers, and the current
futures position, and turns them into the files and objects the rest of
BetaNeutral reads (a wide prices CSV for ``fill``, a funding CSV for
``backtest``, a user catalogue for :func:`betaneutral.core.contracts.get_contract`).

Nothing here places, changes or cancels an order: only ccxt's ``fetch_*`` and
``load_markets`` methods are called. ccxt is an optional dependency
(``pip install "betaneutral[market]"``) imported only when a fetch runs; the
file readers (:mod:`betaneutral.marketdata.files`) work without it.

Modules: :mod:`~betaneutral.marketdata.client` (exchange construction, bounded
retries, error messages, credentials), :mod:`~betaneutral.marketdata.prices`,
:mod:`~betaneutral.marketdata.funding`, :mod:`~betaneutral.marketdata.contracts`,
:mod:`~betaneutral.marketdata.position`, :mod:`~betaneutral.marketdata.quote` (mark price
and current funding rate), :mod:`~betaneutral.marketdata.files` and
:mod:`~betaneutral.workbook.refresh` (``betaneutral refresh``: a book brought up to date).
"""

from __future__ import annotations

from betaneutral.marketdata.client import MarketDataError

__all__ = ["MarketDataError", "closes_since"]


def closes_since(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`betaneutral.marketdata.prices.closes_since` (imported lazily)."""
    from betaneutral.marketdata.prices import closes_since as _closes_since

    return _closes_since(*args, **kwargs)
