"""Built-in sample data: a synthetic book and its synthetic price history.

The prices are **synthetic** (generated from a fixed seed), not market data:
they exist so that every surface of the product (the ``demo`` command, the
template workbook, the tests) has a realistic, reproducible input. Each
altcoin's daily simple return is built as ``r_i = beta_i * r_BTC + e_i`` with
Gaussian idiosyncratic noise, so the true betas are known (:data:`TRUE_BETAS`).
Dates are UTC calendar days (crypto trades every day), one close per day at
00:00 UTC.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "SAMPLE_LABEL",
    "SAMPLE_LABEL_CELLS",
    "SAMPLE_TICKET_NOTE",
    "TRUE_BETAS",
    "is_sample_state",
    "sample_funding_rates",
    "sample_holdings",
    "sample_prices",
]

SAMPLE_LABEL = "SYNTHETIC SAMPLE DATA (generated, not market prices)"
#: Start of the reason of every ticket computed from the sample's prices.
SAMPLE_TICKET_NOTE = "SYNTHETIC SAMPLE DATA, not an order to place"

#: The betas to BTC used to generate each asset's daily simple returns.
TRUE_BETAS: dict[str, float] = {
    "ETH": 1.10,
    "SOL": 1.40,
    "LINK": 1.20,
    "ADA": 1.15,
    "XRP": 0.90,
    "DOGE": 1.30,
}

_START_PRICE = {"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 140.0, "LINK": 15.0,
                "ADA": 0.45, "XRP": 0.55, "DOGE": 0.12}
_IDIO_VOL = {"ETH": 0.018, "SOL": 0.035, "LINK": 0.032, "ADA": 0.028, "XRP": 0.030,
             "DOGE": 0.040}
_QUANTITY = {"ETH": 120.0, "SOL": 10_000.0, "LINK": 3_000.0, "ADA": 300_000.0,
             "XRP": 250_000.0, "DOGE": 1_200_000.0}


def sample_prices(
    days: int = 730, *, end: str = "2026-10-31", seed: int = 20_260_101
) -> pd.DataFrame:
    """Synthetic daily closes in USD for BTC, ETH and four altcoins.

    Parameters
    ----------
    days : int
        Number of daily closes (returns = ``days - 1``).
    end : str
        Last date (UTC), ISO format.
    seed : int
        Seed of the generator; the same seed gives the same prices.

    Returns
    -------
    pandas.DataFrame
        Index ``date`` (daily, UTC-naive dates), one float column per asset,
        ``BTC`` first.
    """
    rng = np.random.default_rng(seed)
    n = days - 1
    btc = rng.normal(0.0, 0.028, n)
    rets = {"BTC": btc}
    for asset, beta in TRUE_BETAS.items():
        rets[asset] = beta * btc + rng.normal(0.0, _IDIO_VOL[asset], n)
    index = pd.date_range(end=pd.Timestamp(end), periods=days, freq="D", name="date")
    data = {}
    for asset, r in rets.items():
        path = np.concatenate([[1.0], np.cumprod(1.0 + r)])
        data[asset] = np.round(_START_PRICE[asset] * path, 6 if _START_PRICE[asset] < 1 else 4)
    return pd.DataFrame(data, index=index)


def sample_holdings() -> pd.DataFrame:
    """The synthetic book: one row per spot holding (``asset``, ``quantity``)."""
    return pd.DataFrame({"asset": list(_QUANTITY), "quantity": list(_QUANTITY.values())})


def sample_funding_rates(index: pd.DatetimeIndex, *, seed: int = 7) -> pd.Series:
    """Synthetic daily-average 8-hour funding rates for a BTC perpetual.

    Mostly positive around 0.01% per 8 h (the usual baseline), with spells of
    negative funding, as BTC funding has historically behaved.
    """
    rng = np.random.default_rng(seed)
    x = np.empty(len(index))
    level = 0.0001
    for i in range(len(index)):
        level = 0.0001 + 0.9 * (level - 0.0001) + rng.normal(0.0, 0.00004)
        x[i] = level
    return pd.Series(np.round(x, 8), index=index, name="funding_rate_8h")


@functools.lru_cache(maxsize=1)
def _sample_last() -> tuple[str, dict[str, float]]:
    prices = sample_prices()
    return str(prices.index[-1]), {str(k): float(v) for k, v in prices.iloc[-1].items()}


def is_sample_state(state: Mapping[str, Any]) -> bool:
    """Whether a book state (``betaneutral.workbook.results.book_state``) is priced by the sample.

    True when its last date and its last BTC and ETH prices are the synthetic
    sample's: orders computed from it are then labelled synthetic, whatever the
    quantities are.
    """
    last_date, last_prices = _sample_last()
    prices = state.get("last_prices") or {}
    return (state.get("last_date") == last_date
            and all(prices.get(a) == last_prices[a] for a in ("BTC", "ETH")))


#: Where each sheet shows the synthetic-sample label (a free cell near its top left).
#: Rolling, Benchmark and Tickets have a header in row 1: they get a label box (a shape)
#: right of their columns instead (:func:`betaneutral.vba.package.finish_package`).
SAMPLE_LABEL_CELLS: dict[str, str] = {
    "Settings": "A3", "Holdings": "D1", "Stats": "A3", "Rebalance": "A3", "Scenarios": "A3",
    "Backtest": "D1",
}
