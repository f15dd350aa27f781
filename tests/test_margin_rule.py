"""One margin rule: MARGIN_BUFFER, LIQUIDATION_PRICE and the backtest's top-ups agree.

The reference is the rule itself, stated in the README: with exactly the buffer's
collateral the liquidation price is the stress price. The venue's worked example
(Bybit) is the external reference for the maintenance basis.
"""

from __future__ import annotations

import numpy as np
import pytest

from betaneutral import udfs
from betaneutral.core.backtest import backtest_hedge
from betaneutral.core.contracts import CATALOGUE, get_contract
from betaneutral.core.margin import liquidation_price_short

WITH_TIERS = sorted(name for name, spec in CATALOGUE.items()
                    if spec.margin_tiers and spec.kind in ("linear", "inverse"))


@pytest.mark.parametrize("name", WITH_TIERS)
@pytest.mark.parametrize("notional_usd", [5_000.0, 400_000.0, 3e6, 4e7])
@pytest.mark.parametrize("stress", [0.1, 0.3, 1.0])
def test_buffer_collateral_puts_the_liquidation_price_at_the_stress_price(name, notional_usd,
                                                                          stress):
    spec = get_contract(name)
    entry = 64_000.0
    collateral = udfs.MARGIN_BUFFER(notional_usd, entry, stress, name)
    assert isinstance(collateral, float)
    contracts = (notional_usd / (spec.contract_size * entry) if spec.kind == "linear"
                 else notional_usd / spec.contract_size)
    price = udfs.LIQUIDATION_PRICE(contracts, entry, collateral, name)
    assert price == pytest.approx(entry * (1 + stress), abs=0.005)  # to the cent


@pytest.mark.parametrize("name", WITH_TIERS)
def test_every_catalogue_contract_carries_a_maintenance_basis(name):
    assert get_contract(name).maintenance_basis in ("mark", "entry")
    assert udfs.CONTRACT_SPEC(name, "maintenance_basis") in ("mark", "entry")


def test_bybit_worked_example_on_bybits_basis():
    """Bybit's USDT example: 1 BTC short at 8,000 with 200 USDT (40x, MMR 0.5%) -> 8,160.

    help.bybit.com/hc/en-us/articles/900000181046 (Liquidation Price, USDT contract):
    "Liquidation Price = 8,000 USDT x (1 + 2.5% - 0.5%) = 8160 USDT", maintenance at the
    entry value. The catalogue entry carries that basis.
    """
    spec = get_contract("BYBIT:BTCUSDT")
    assert spec.maintenance_basis == "entry"
    assert liquidation_price_short(spec, 1.0, 8_000.0, 200.0) == pytest.approx(8_160.0,
                                                                                abs=0.005)
    # In Excel, a specification row without fee, on the venue's basis:
    row = [["linear", 1, 0.001, 0.001, 0.005]]
    assert udfs.LIQUIDATION_PRICE(1, 8000, 200, row, "entry") == pytest.approx(8_160.0,
                                                                               abs=0.005)
    assert udfs.LIQUIDATION_PRICE(1, 8000, 200, row, "mark") == pytest.approx(8_200 / 1.005)
    # The catalogue contract reserves its closing taker fee (0.055%), as MARGIN_BUFFER does.
    assert udfs.LIQUIDATION_PRICE(1, 8000, 200, "BYBIT:BTCUSDT") == pytest.approx(
        8_160.0 / 1.00055, abs=0.005)
    assert udfs.LIQUIDATION_PRICE(1, 8000, 200, "BYBIT:BTCUSDT", "nonsense") == "#N/A"


def test_backtest_top_ups_are_the_margin_buffer_with_the_closing_fee():
    """The collateral the backtest posts when it opens the short is MARGIN_BUFFER's."""
    rng = np.random.default_rng(11)
    btc = 30_000.0 * np.cumprod(1 + rng.normal(0, 0.02, 80))
    alt = 10.0 * np.cumprod(1 + 1.3 * (btc[1:] / btc[:-1] - 1))
    res = backtest_hedge(np.r_[10.0, alt][:, None], btc, [10_000.0],
                         get_contract("BINANCE:BTCUSDT"), window=30, min_obs=30,
                         fee_bps=0.0)
    d = res.daily
    day = int(np.flatnonzero(d["rebalanced"].to_numpy())[0])
    price = d.loc[day, "hedge_price_usd"]
    notional = d.loc[day, "hedge_contracts"] * price
    want = udfs.MARGIN_BUFFER(notional, price, 0.3, "BINANCE:BTCUSDT", 1.2)
    assert d.loc[day, "margin_equity"] == pytest.approx(want, rel=1e-12)
    # and its rally to liquidation is the stress rally with the safety multiplier's excess
    liq = udfs.LIQUIDATION_PRICE(d.loc[day, "hedge_contracts"], price, want,
                                 "BINANCE:BTCUSDT")
    assert d.loc[day, "rally_to_liquidation"] == pytest.approx(liq / price - 1, rel=1e-12)
