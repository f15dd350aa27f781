"""The catalogue entries corrected against the exchanges' published pages (read 2026-12-05)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from betaneutral.core.contracts import get_contract, use_catalogue
from betaneutral.core.margin import maintenance_for_notional
from betaneutral.errors import UnknownNameError


def test_binance_btcusdt_minimum_notional_is_100_usdt():
    """Binance, "USDⓈ-Margined Futures Contract Specifications" (FAQ 360033161972):
    "the Minimum Notional Value for BTCUSDT is 100 USDT" (the 5 USDT rule was 2021's)."""
    # https://www.binance.com/en/support/faq/360033161972
    spec = get_contract("BINANCE:BTCUSDT")
    assert spec.min_notional_usd == 100.0
    assert "100 USDT" in spec.source


def test_binance_btcusd_perp_brackets_follow_the_later_leverage_faq():
    """Binance, "Leverage and Margin in Coin-Margined Futures Contracts" (later version):
    BTCUSD perpetual 125x up to 5 BTC, 100x to 10, 50x to 20, 20x to 50, 10x to 100,
    5x to 200, 4x to 400, 3x to 1,000."""
    # https://www.binance.com/en/support/faq/be2c7d9d95b04a7e8044ed02dd7dfe5c
    tiers = get_contract("BINANCE:BTCUSD_PERP").margin_tiers
    published = [(5, 125), (10, 100), (20, 50), (50, 20), (100, 10), (200, 5), (400, 4),
                 (1_000, 3)]
    assert [(t.notional_cap, t.max_leverage) for t in tiers[:8]] == published
    # Maintenance rates as GET /dapi/v2/leverageBracket returns them (ccxt's recorded
    # response ts/src/test/static/response/binance.json, options.leverageBrackets):
    rates = [0.004, 0.005, 0.01, 0.025, 0.05, 0.10, 0.125, 0.15, 0.25, 0.50]
    assert [t.maintenance_rate for t in tiers] == rates
    # Binance's amount rule: amount_n = floor_n x (rate_n - rate_n-1) + amount_n-1
    # 5 x 0.1% = 0.005; + 10 x 0.5% = 0.055; + 20 x 1.5% = 0.355; + 50 x 2.5% = 1.605 BTC
    assert [t.maintenance_amount for t in tiers[:5]] == pytest.approx(
        [0.0, 0.005, 0.055, 0.355, 1.605])


def test_deribit_btc_perpetual_maintenance_is_1pct_plus_0005pct_per_btc():
    """Deribit support, "11 January 2022": BTC maintenance margin 1% + (size in BTC) x 0.005%."""
    # https://support.deribit.com/hc/en-us/articles/25944826427293-11-January-2022
    tiers = get_contract("DERIBIT:BTC-PERPETUAL").margin_tiers

    def published(n: float) -> float:  # maintenance margin in BTC for n BTC of position
        return n * (0.01 + 0.00005 * n)

    def tabled(n: float) -> float:
        rate, amount = maintenance_for_notional(n, tiers)
        return n * rate - amount

    # exact at the bracket edges, e.g. 100 BTC: 100 x (1% + 0.5%) = 1.5 BTC
    assert tabled(100.0) == pytest.approx(1.5, rel=1e-12)
    for n in (1.0, 7.0, 10.0, 250.0, 1_000.0, 2_500.0, 5_000.0):
        assert tabled(n) == pytest.approx(published(n), rel=1e-12)
    # between edges never below the rule and at most 1.6% above it (up to 5,000 BTC)
    grid = np.linspace(0.01, 5_000.0, 200_001)
    ratio = np.array([tabled(n) for n in grid[::50]]) / published(grid[::50])
    assert ratio.min() >= 1.0 - 1e-12
    assert ratio.max() < 1.016


def test_bybit_btcusdt_tiers_match_the_margin_parameters_page():
    """Bybit, "Margin parameters" (announcement-info/margin-parameters), BTCUSDT: level 1
    0.5% up to 2,000,000 USDT, level 2 0.56% with deduction 1,200, ... level 20 4.5%
    (deduction 1,482,000) up to 80,000,000."""
    # https://www.bybit.com/en/announcement-info/margin-parameters
    tiers = get_contract("BYBIT:BTCUSDT").margin_tiers
    page = [  # (risk limit, max leverage, MMR, MM deduction) as published
        (2_000_000, 100, 0.005, 0), (2_600_000, 90, 0.0056, 1_200),
        (3_200_000, 80, 0.0063, 3_020), (3_800_000, 75, 0.0067, 4_300),
        (4_400_000, 70, 0.0071, 5_820), (5_000_000, 65, 0.0077, 8_460),
        (5_600_000, 55, 0.0091, 15_460), (8_500_000, 50, 0.01, 20_500),
        (10_000_000, 45, 0.013, 46_000), (14_000_000, 40, 0.015, 66_000),
        (20_000_000, 35, 0.016, 80_000), (28_000_000, 30, 0.02, 160_000),
        (38_000_000, 25, 0.025, 300_000), (50_000_000, 20, 0.029, 452_000),
        (55_000_000, 19, 0.03, 502_000), (60_000_000, 18, 0.035, 777_000),
        (65_000_000, 17, 0.036, 837_000), (70_000_000, 16, 0.038, 967_000),
        (75_000_000, 15, 0.04, 1_107_000), (80_000_000, 14, 0.045, 1_482_000),
    ]
    assert len(tiers) == len(page)
    for tier, (cap, lev, rate, deduction) in zip(tiers, page, strict=True):
        assert (tier.notional_cap, tier.max_leverage, tier.maintenance_rate) == (cap, lev, rate)
        assert tier.maintenance_amount == pytest.approx(deduction, abs=1e-6)


def test_user_catalogue_answers_first_and_can_be_removed():
    """use_catalogue: a user entry replaces the built-in one of the same name; None restores."""
    import dataclasses

    built_in = get_contract("BINANCE:BTCUSDT")
    mine = dataclasses.replace(built_in, min_notional_usd=50.0, source="fetched")
    extra = dataclasses.replace(built_in, symbol="SOLUSDT", underlying="SOL")
    try:
        use_catalogue([mine, extra])
        assert get_contract("binance:btcusdt").min_notional_usd == 50.0
        assert get_contract("BINANCE:SOLUSDT").underlying == "SOL"
        with pytest.raises(UnknownNameError, match="BINANCE:SOLUSDT"):
            get_contract("NOWHERE:X")
    finally:
        use_catalogue(None)
    assert get_contract("BINANCE:BTCUSDT") is built_in
    with pytest.raises(UnknownNameError):
        get_contract("BINANCE:SOLUSDT")
    assert math.isinf(get_contract("BINANCE:BTCUSD_PERP").margin_tiers[-1].notional_cap)
