"""Tests of betaneutral.core.scenarios: book, hedge and margin across BTC moves."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from betaneutral.core.contracts import custom_contract, get_contract
from betaneutral.core.margin import liquidation_price_short
from betaneutral.core.scenarios import SCENARIO_COLUMNS, hedge_scenarios
from betaneutral.errors import DomainError, InputTypeError, InsufficientDataError

LINEAR = custom_contract("linear", 1.0, 0.001, 0.001, maintenance_rate=0.005)
INVERSE = custom_contract("inverse", 100.0, 1.0, 1.0, maintenance_rate=0.005)


def test_linear_by_hand():
    """Linear short: P&L, equity, maintenance and liquidation match the hand arithmetic."""
    t = hedge_scenarios([40_000, 20_000], [1.0, 1.0], short_contracts=1.0, spec=LINEAR,
                        entry_price_usd=60_000.0, collateral=6_000.0,
                        btc_moves=[-0.10, 0.0, 0.09, 0.095])
    assert list(t.columns) == list(SCENARIO_COLUMNS)
    # prices 54,000 / 60,000 / 65,400 / 65,700
    np.testing.assert_allclose(t["btc_price_usd"], [54_000, 60_000, 65_400, 65_700])
    # unhedged = 60,000 * m = -6,000 / 0 / 5,400 / 5,700
    np.testing.assert_allclose(t["unhedged_pnl_usd"], [-6_000, 0, 5_400, 5_700], atol=1e-9)
    # hedge = 1 * (60,000 - P) = 6,000 / 0 / -5,400 ; last row liquidated -> -6,000 collateral
    np.testing.assert_allclose(t["hedge_pnl_usd"], [6_000, 0, -5_400, -6_000], atol=1e-9)
    np.testing.assert_allclose(t["hedged_pnl_usd"], [0, 0, 0, -300], atol=1e-9)
    # equity = 6,000 + (60,000 - P) = 12,000 / 6,000 / 600 / 300
    np.testing.assert_allclose(t["margin_equity"], [12_000, 6_000, 600, 300], atol=1e-9)
    np.testing.assert_allclose(t["margin_equity_usd"], t["margin_equity"])
    # maintenance = 0.005 * P = 270 / 300 / 327 / 328.5 ; liquidated when equity <= MM
    np.testing.assert_allclose(t["maintenance_margin_usd"], [270, 300, 327, 328.5])
    assert t["liquidated"].tolist() == [False, False, False, True]
    assert t["liquidated"].dtype == bool


def test_inverse_by_hand():
    """Inverse short: coin P&L converted at P, coin equity and maintenance by hand."""
    # 600 contracts x 100 USD = 60,000 USD face, E = 60,000, 0.5 BTC collateral
    t = hedge_scenarios(60_000, 1.0, short_contracts=600, spec=INVERSE,
                        entry_price_usd=60_000.0, collateral=0.5,
                        btc_moves=[-0.20, 0.50, 1.0])
    # -20 %: P = 48,000; coin P&L = 60,000 (1/48,000 - 1/60,000) = 1.25 - 1 = 0.25 BTC
    #        -> 0.25 * 48,000 = 12,000 USD; equity 0.75 BTC = 36,000 USD
    #        maintenance 0.005 * 60,000/48,000 = 0.00625 BTC = 300 USD
    # +50 %: P = 90,000; coin P&L = 0.666.. - 1 = -1/3 BTC -> -30,000 USD
    #        equity 0.5 - 1/3 = 1/6 BTC = 15,000 USD; MM 0.005 * 2/3 BTC = 300 USD
    # +100 %: P = 120,000 >= P_liq = 60,000 * 0.995 / (1 - 0.5) = 119,400 -> liquidated,
    #        hedge loses the 0.5 BTC of equity held now, valued at P: -60,000 USD
    np.testing.assert_allclose(t["hedge_pnl_usd"], [12_000, -30_000, -60_000], rtol=1e-12)
    np.testing.assert_allclose(t["margin_equity"], [0.75, 1 / 6, 0.0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(t["margin_equity_usd"][:2], [36_000, 15_000], rtol=1e-12)
    np.testing.assert_allclose(t["maintenance_margin_usd"], [300, 300, 300], rtol=1e-12)
    assert t["liquidated"].tolist() == [False, False, True]
    np.testing.assert_allclose(t["hedged_pnl_usd"][:2], [0.0, 0.0], atol=1e-8)


def test_default_grid():
    """The default grid is -30 % to +30 % in 13 steps of 5 %."""
    t = hedge_scenarios(100_000, 1.2, short_contracts=2.0, spec=get_contract("BINANCE:BTCUSDT"),
                        entry_price_usd=60_000.0, collateral=50_000.0)
    assert len(t) == 13
    np.testing.assert_allclose(t["btc_move"], np.arange(-6, 7) * 0.05, atol=1e-15)
    # dollar beta 120,000: unhedged = 120,000 * m
    np.testing.assert_allclose(t["unhedged_pnl_usd"], 120_000 * t["btc_move"], rtol=1e-12)


def test_current_price_differs_from_entry():
    """Moves start at the current price; equity and liquidation use the entry price."""
    # E = 60,000, P0 = 50,000, 1 BTC short, WB = 1,000 -> equity now 11,000
    t = hedge_scenarios(50_000, 1.0, short_contracts=1.0, spec=LINEAR, entry_price_usd=60_000.0,
                        collateral=1_000.0, btc_price_usd=50_000.0, btc_moves=[0.0, 0.2, 0.3])
    # +20 %: P = 60,000, hedge = 50,000 - 60,000 = -10,000, equity 1,000 > MM 300
    # +30 %: P = 65,000, equity 1,000 - 5,000 < 0 -> liquidated, loses the 11,000 equity
    np.testing.assert_allclose(t["hedge_pnl_usd"], [0, -10_000, -11_000], atol=1e-9)
    np.testing.assert_allclose(t["margin_equity"], [11_000, 1_000, -4_000], atol=1e-9)
    assert t["liquidated"].tolist() == [False, False, True]


def test_liquidated_now_stays_liquidated():
    """A short already under maintenance at the current price is liquidated in every row."""
    # WB = 0, E = 60,000, P0 = 61,000: equity -1,000 < MM; nothing left to lose
    t = hedge_scenarios(61_000, 1.0, short_contracts=1.0, spec=LINEAR, entry_price_usd=60_000.0,
                        collateral=0.0, btc_price_usd=61_000.0, btc_moves=[-0.2, 0.0, 0.2])
    assert t["liquidated"].all()
    np.testing.assert_allclose(t["hedge_pnl_usd"], [0.0, 0.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("name", ["BINANCE:BTCUSDT", "BINANCE:BTCUSD_PERP"])
def test_liquidation_flag_agrees_with_liquidation_price(name):
    """The liquidated flag switches at the liquidation price of the margin module's formula."""
    spec = get_contract(name)
    contracts, collateral = (3.0, 30_000.0) if spec.kind == "linear" else (1_800, 0.3)
    p_liq = liquidation_price_short(spec, contracts, 60_000.0, collateral)
    moves = np.linspace(-0.3, 0.6, 91)
    t = hedge_scenarios(180_000, 1.0, short_contracts=contracts, spec=spec,
                        entry_price_usd=60_000.0, collateral=collateral, btc_moves=moves)
    prices = t["btc_price_usd"].to_numpy()
    away = np.abs(prices - p_liq) > 1e-6 * p_liq
    assert away.sum() >= 85
    assert (t["liquidated"].to_numpy()[away] == (prices[away] >= p_liq)).all()


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    price=st.floats(1_000.0, 200_000.0),
    inverse=st.booleans(),
)
def test_property_perfect_hedge_is_flat(data, price, inverse):
    """Betas of 1 hedged with exactly V_S of futures give ~0 hedged P&L at every move."""
    n = data.draw(st.integers(1, 5))
    values = np.array(data.draw(st.lists(st.floats(100.0, 1e6), min_size=n, max_size=n)))
    v_s = values.sum()
    if inverse:  # face value N C = V_S; collateral >= face / E: never liquidated by a rally
        spec = custom_contract("inverse", 1.0, 1.0, 1.0, maintenance_rate=0.005)
        contracts, collateral = v_s, 2.0 * v_s / price
    else:  # N S P0 = V_S; collateral twice the buffer for a +30 % rally
        spec = custom_contract("linear", 0.01, 1.0, 1.0, maintenance_rate=0.005)
        contracts, collateral = v_s / (0.01 * price), 2.0 * v_s
    t = hedge_scenarios(values, np.ones(n), short_contracts=contracts, spec=spec,
                        entry_price_usd=price, collateral=collateral)
    assert not t["liquidated"].any()
    assert np.abs(t["hedged_pnl_usd"]).max() <= 1e-9 * v_s


# --------------------------------------------------------------------------- errors
def test_bad_inputs_raise():
    """Bad scenario inputs raise typed errors naming the rule."""
    kw = dict(short_contracts=1.0, spec=LINEAR, entry_price_usd=60_000.0, collateral=1_000.0)
    with pytest.raises(DomainError, match=r"btc_moves\[1\] must be > -1"):
        hedge_scenarios(1_000, 1.0, btc_moves=[0.1, -1.0], **kw)
    with pytest.raises(InsufficientDataError, match="btc_moves must contain at least 1"):
        hedge_scenarios(1_000, 1.0, btc_moves=[], **kw)
    with pytest.raises(InsufficientDataError, match="betas must have the same length"):
        hedge_scenarios([1_000, 2_000], [1.0], **kw)
    with pytest.raises(DomainError, match=r"values_usd\[0\] \(position 0\)"):
        hedge_scenarios([np.nan], [1.0], **kw)
    with pytest.raises(DomainError, match="short_contracts must be > 0"):
        hedge_scenarios(1_000, 1.0, **{**kw, "short_contracts": 0.0})
    with pytest.raises(DomainError, match="collateral must be >= 0"):
        hedge_scenarios(1_000, 1.0, **{**kw, "collateral": -1.0})
    with pytest.raises(InputTypeError, match="spec must be a ContractSpec"):
        hedge_scenarios(1_000, 1.0, **{**kw, "spec": "BINANCE:BTCUSDT"})


def test_unsupported_contracts_raise():
    """Quanto or non-BTC contracts and contracts without a margin table are refused."""
    kw = dict(short_contracts=1.0, entry_price_usd=60_000.0, collateral=1_000.0)
    quanto = custom_contract("quanto", 0.000001, 1.0, 1.0)
    with pytest.raises(DomainError, match=r"spec\.kind must be 'linear' or 'inverse'"):
        hedge_scenarios(1_000, 1.0, spec=quanto, **kw)
    with pytest.raises(DomainError, match=r"spec\.underlying must be 'BTC'"):
        hedge_scenarios(1_000, 1.0, spec=get_contract("BINANCE:ETHUSDT"), **kw)
    with pytest.raises(DomainError, match="maintenance must be given"):
        hedge_scenarios(1_000, 1.0, spec=get_contract("CME:MBT"), **kw)
    # with an explicit rate the CME contract works: 1 MBT = 0.1 BTC = 6,000 USD at 60,000,
    # maintenance 0.1 * 6,000 = 600 USD < 1,000 USD collateral
    t = hedge_scenarios(1_000, 1.0, spec=get_contract("CME:MBT"), maintenance=0.1,
                        btc_moves=[0.0], **kw)
    assert t["maintenance_margin_usd"].iloc[0] == pytest.approx(600.0)
    assert not t["liquidated"].iloc[0]
