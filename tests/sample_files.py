"""The synthetic sample as the CSV files a user hands to ``fill`` and ``backtest``."""

from __future__ import annotations

from pathlib import Path

from betaneutral.sample import sample_holdings, sample_prices


def write_sample_csvs(folder: Path, days: int) -> tuple[Path, Path]:
    """Write ``holdings.csv`` and ``prices.csv`` (``days`` daily closes) into ``folder``;
    return their paths, holdings first."""
    holdings, prices = folder / "holdings.csv", folder / "prices.csv"
    sample_prices(days=days).to_csv(prices, index_label="date")
    sample_holdings().to_csv(holdings, index=False)
    return holdings, prices
