"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

#: Not a test module: a script run by LibreOffice's Python (it imports ``uno``), which
#: --doctest-modules would otherwise import.
collect_ignore = ["lo_edit.py"]

#: Real Coin Metrics prices (CC BY-NC 4.0), read in place and never copied into the project.
COINMETRICS = Path(__file__).resolve().parents[2] / "shared" / "data" / "coinmetrics-2020"


@pytest.fixture(scope="session")
def coinmetrics_prices() -> pd.DataFrame:
    """Daily USD closes of 18 coins (Coin Metrics community data), or skip when absent."""
    path = COINMETRICS / "prices_usd_daily_wide.csv"
    if not path.is_file():
        pytest.skip(f"real price data not available at {path}")
    return pd.read_csv(path, index_col="date", parse_dates=True)


@pytest.fixture(scope="session")
def coinmetrics_btc_raw() -> pd.DataFrame:
    """Coin Metrics' own BTC file with its vendor-computed metrics, or skip when absent."""
    path = COINMETRICS / "raw" / "btc.csv"
    if not path.is_file():
        pytest.skip(f"real price data not available at {path}")
    raw = pd.read_csv(path, parse_dates=["time"])
    return raw.set_index("time")
