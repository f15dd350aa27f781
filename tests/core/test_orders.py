"""Tests of betaneutral.core.orders: hedge tickets from current and target contracts."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from betaneutral.core.contracts import custom_contract, get_contract
from betaneutral.core.orders import HedgeOrder, hedge_orders
from betaneutral.errors import DomainError, InputTypeError, UnknownNameError

BTCUSDT = get_contract("BINANCE:BTCUSDT")  # linear, 1 BTC per unit, step 0.001
BTCUSD_PERP = get_contract("BINANCE:BTCUSD_PERP")  # inverse, 100 USD per contract, step 1


def test_open_from_flat():
    """From no position, a positive target is an opening market sell."""
    [o] = hedge_orders(0.0, 1.234, BTCUSDT, 60_000.0)
    assert o.side == "sell"
    assert o.quantity_contracts == pytest.approx(1.234, abs=1e-12)
    assert o.reason == "open"
    assert o.reduce_only is False
    assert o.order_type == "market"
    assert o.price is None
    # 1.234 BTC * 60,000 USD = 74,040 USD
    assert o.notional_usd == pytest.approx(74_040.0, rel=1e-12)
    assert (o.exchange, o.symbol, o.ccxt_symbol) == ("BINANCE", "BTCUSDT", "BTC/USDT:USDT")
    assert (o.contract_kind, o.contract_size) == ("linear", 1.0)


def test_increase_is_resize_or_rebalance():
    """Adding to a short sells the difference; a breached band labels it rebalance."""
    [o] = hedge_orders(1.5, 1.8, BTCUSDT, 60_000.0)
    assert (o.side, o.reason, o.reduce_only) == ("sell", "resize", False)
    assert o.quantity_contracts == pytest.approx(0.3, abs=1e-12)  # 1.8 - 1.5
    [r] = hedge_orders(1.5, 1.8, BTCUSDT, 60_000.0, drift=0.071, band=0.05,
                       beta_before=0.071, beta_after=0.0)
    assert r.reason == "rebalance"
    assert r.reason_detail.startswith("drift +0.071 > band 0.05")
    assert (r.portfolio_beta_before, r.portfolio_beta_after) == (0.071, 0.0)
    # drift inside the band: still a resize, and the detail says so
    [w] = hedge_orders(1.5, 1.8, BTCUSDT, 60_000.0, drift=0.03, band=0.05)
    assert w.reason == "resize"
    assert "drift +0.030 <= band 0.05" in w.reason_detail


def test_decrease_is_reduce_only_buy():
    """Reducing a short buys the difference reduce-only."""
    [o] = hedge_orders(2.0, 1.25, BTCUSDT, 60_000.0, drift=-0.08, band=0.05)
    assert (o.side, o.reduce_only, o.reason) == ("buy", True, "rebalance")
    assert o.quantity_contracts == pytest.approx(0.75, abs=1e-12)  # 2.0 - 1.25
    assert o.notional_usd == pytest.approx(45_000.0)  # 0.75 * 60,000
    assert o.reason_detail.startswith("drift -0.080 > band 0.05")


def test_close():
    """A target of zero buys back the whole short reduce-only, reason close."""
    [o] = hedge_orders(0.8, 0.0, BTCUSDT, 60_000.0)
    assert (o.side, o.reduce_only, o.reason) == ("buy", True, "close")
    assert o.quantity_contracts == pytest.approx(0.8, abs=1e-12)


def test_negative_target_splits_close_and_open():
    """A net-long target is a reduce-only close of the short followed by an opening buy."""
    close, opening = hedge_orders(1.0, -0.5, BTCUSDT, 60_000.0)
    assert (close.side, close.quantity_contracts, close.reduce_only, close.reason) == (
        "buy", 1.0, True, "close")
    assert (opening.side, opening.quantity_contracts, opening.reduce_only, opening.reason) == (
        "buy", 0.5, False, "open")


def test_long_positions_are_symmetric():
    """With a long hedge, buying adds (not reduce-only) and selling reduces (reduce-only)."""
    [add] = hedge_orders(-1.0, -2.0, BTCUSDT, 60_000.0)
    assert (add.side, add.reduce_only, add.reason) == ("buy", False, "resize")
    [cut] = hedge_orders(-2.0, -1.0, BTCUSDT, 60_000.0)
    assert (cut.side, cut.reduce_only, cut.reason) == ("sell", True, "resize")
    close, opening = hedge_orders(-1.0, 2.0, BTCUSDT, 60_000.0)
    assert (close.side, close.reduce_only, close.reason) == ("sell", True, "close")
    assert (opening.side, opening.reduce_only, opening.quantity_contracts) == ("sell", False, 2.0)


def test_no_order_when_difference_rounds_to_zero():
    """No order is produced when the snapped difference is zero."""
    assert hedge_orders(1.0, 1.0, BTCUSDT, 60_000.0) == []
    # 1.0004 snaps to 1.000 on the 0.001 grid
    assert hedge_orders(1.0, 1.0004, BTCUSDT, 60_000.0) == []
    assert hedge_orders(0.0, 0.0, BTCUSDT, 60_000.0) == []


def test_quantities_snap_to_the_step():
    """Targets off the grid are snapped to the nearest step."""
    # 1.2346 -> 1.235 on the 0.001 grid
    [o] = hedge_orders(0.0, 1.2346, BTCUSDT, 60_000.0)
    assert o.quantity_contracts == pytest.approx(1.235, abs=1e-12)
    # BITMEX:XBTUSD lot 100: 1,049 -> 1,000 ; 1,050 -> 1,100 (ties away from zero)
    xbt = get_contract("BITMEX:XBTUSD")
    assert hedge_orders(0, 1_049, xbt, 60_000.0)[0].quantity_contracts == 1_000.0
    assert hedge_orders(0, 1_050, xbt, 60_000.0)[0].quantity_contracts == 1_100.0


def test_inverse_notional_is_price_independent():
    """Inverse orders are valued at contracts x USD face value, whatever the price."""
    # 1,200 contracts * 100 USD = 120,000 USD at any price
    [o] = hedge_orders(0, 1_200, BTCUSD_PERP, 60_000.0)
    assert o.notional_usd == pytest.approx(120_000.0)
    assert hedge_orders(0, 1_200, BTCUSD_PERP, 90_000.0)[0].notional_usd == pytest.approx(
        120_000.0)
    assert (o.contract_kind, o.contract_size, o.ccxt_symbol) == ("inverse", 100.0, "BTC/USD:BTC")


def test_limit_order_uses_limit_price():
    """A limit order carries its price and is valued at it."""
    [o] = hedge_orders(0, 0.5, BTCUSDT, 60_000.0, order_type="limit", limit_price_usd=61_000.0)
    assert o.order_type == "limit"
    assert o.price == 61_000.0
    assert o.notional_usd == pytest.approx(30_500.0)  # 0.5 * 61,000


def test_order_is_frozen():
    """HedgeOrder is immutable plain data."""
    [o] = hedge_orders(0, 0.5, BTCUSDT, 60_000.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.side = "buy"  # type: ignore[misc]


@settings(max_examples=200, deadline=None)
@given(
    current=st.integers(-5_000, 5_000),
    target=st.integers(-5_000, 5_000),
)
def test_property_orders_reach_target(current, target):
    """Applying the orders' signed quantities to the current position reaches the target."""
    cur, tgt = current / 1_000, target / 1_000  # on the 0.001 grid
    orders = hedge_orders(cur, tgt, BTCUSDT, 50_000.0)
    pos = cur
    for o in orders:
        assert o.quantity_contracts > 0
        assert o.notional_usd > 0
        before = pos
        pos += o.quantity_contracts if o.side == "sell" else -o.quantity_contracts
        if o.reduce_only:  # a reduce-only order never grows or flips the position
            assert abs(pos) <= abs(before) + 1e-12
            assert pos * before >= -1e-18
    assert pos == pytest.approx(tgt, abs=1e-9)
    assert len(orders) == (0 if current == target else 2 if current * target < 0 else 1)


# --------------------------------------------------------------------------- errors
def test_bad_inputs_raise():
    """Bad order inputs raise typed errors whose messages name the rule."""
    with pytest.raises(DomainError, match="limit_price_usd must be given"):
        hedge_orders(0, 1, BTCUSDT, 60_000.0, order_type="limit")
    with pytest.raises(DomainError, match="limit_price_usd must be None for a market order"):
        hedge_orders(0, 1, BTCUSDT, 60_000.0, limit_price_usd=60_000.0)
    with pytest.raises(DomainError, match=r"band must be >= 0"):
        hedge_orders(0, 1, BTCUSDT, 60_000.0, drift=0.1, band=-0.05)
    with pytest.raises(DomainError, match=r"futures_price_usd must be > 0"):
        hedge_orders(0, 1, BTCUSDT, 0.0)
    with pytest.raises(UnknownNameError, match="order_type must be one of"):
        hedge_orders(0, 1, BTCUSDT, 60_000.0, order_type="stop")
    with pytest.raises(InputTypeError, match="spec must be a ContractSpec"):
        hedge_orders(0, 1, "BINANCE:BTCUSDT", 60_000.0)  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="current_contracts must be finite"):
        hedge_orders(float("nan"), 1, BTCUSDT, 60_000.0)


def test_opening_below_minimum_quantity_raises():
    """An opening order under the contract's minimum quantity is refused; a reduction is not."""
    spec = custom_contract("linear", 1.0, 0.001, 0.01)
    with pytest.raises(DomainError, match=r"must be >= the minimum quantity 0\.01"):
        hedge_orders(1.0, 1.005, spec, 60_000.0)
    [o] = hedge_orders(1.0, 0.995, spec, 60_000.0)
    assert o.reduce_only is True
    assert o.quantity_contracts == pytest.approx(0.005, abs=1e-12)


def test_hedge_order_validates_fields():
    """HedgeOrder refuses a non-positive quantity and a market order with a price."""
    [o] = hedge_orders(0, 0.5, BTCUSDT, 60_000.0)
    with pytest.raises(DomainError, match="quantity_contracts must be > 0"):
        dataclasses.replace(o, quantity_contracts=0.0)
    with pytest.raises(DomainError, match="price must be None for a market order"):
        dataclasses.replace(o, price=60_000.0)
    assert isinstance(dataclasses.replace(o, reason="close"), HedgeOrder)
