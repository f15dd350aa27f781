"""Hedge tickets: the orders that move a futures hedge from its current size to a target.

Positions are counted in contracts with the product's sign convention: > 0 is a
SHORT position (the normal state of a hedge), < 0 a long one. Orders are plain
data (:class:`HedgeOrder`); exporting them is left to the adapters. The fields
follow the arguments of CCXT's ``create_order(symbol, type, side, amount, price,
params={"reduceOnly": ...})``, with ``amount`` in contracts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from betaneutral.core._validate import as_float, choice, non_negative, positive
from betaneutral.core.contracts import ContractSpec, round_lots
from betaneutral.errors import DomainError, InputTypeError

__all__ = ["HedgeOrder", "hedge_orders"]

Side = Literal["sell", "buy"]
OrderType = Literal["market", "limit"]
Reason = Literal["open", "resize", "close", "rebalance"]
_SIDES = ("sell", "buy")
_ORDER_TYPES = ("market", "limit")
_REASONS = ("open", "resize", "close", "rebalance")


@dataclass(frozen=True)
class HedgeOrder:
    """One futures order of a hedge ticket.

    Attributes
    ----------
    exchange, symbol : str
        Venue and exchange symbol of the contract.
    ccxt_symbol : str
        CCXT unified symbol (empty when CCXT has no market for the contract).
    side : {"sell", "buy"}
        "sell" adds to a short (or reduces a long), "buy" reduces a short (or adds to a long).
    quantity_contracts : float
        Order size in contracts, > 0, on the contract's quantity grid.
    order_type : {"market", "limit"}
        Order type.
    price : float or None
        Limit price in USD per coin; None for a market order.
    reduce_only : bool
        True when the order may only reduce an existing position.
    notional_usd : float
        USD notional of the order, > 0 (at the limit price for a limit order, at the
        reference futures price for a market order).
    reason : {"open", "resize", "close", "rebalance"}
        Why the order exists.
    reason_detail : str
        Human-readable detail, e.g. ``"drift +0.071 > band 0.05; short 1.2 -> 1.3"``.
    portfolio_beta_before, portfolio_beta_after : float or None
        Portfolio beta before and after the whole ticket, when known.
    contract_kind : str
        "linear", "inverse" or "quanto".
    contract_size : float
        Coin per contract (linear), USD per contract (inverse) or multiplier (quanto).
    """

    exchange: str
    symbol: str
    ccxt_symbol: str
    side: Side
    quantity_contracts: float
    order_type: OrderType
    price: float | None
    reduce_only: bool
    notional_usd: float
    reason: Reason
    reason_detail: str
    portfolio_beta_before: float | None
    portfolio_beta_after: float | None
    contract_kind: str
    contract_size: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", choice("side", self.side, _SIDES))
        object.__setattr__(self, "order_type", choice("order_type", self.order_type, _ORDER_TYPES))
        object.__setattr__(self, "reason", choice("reason", self.reason, _REASONS))
        object.__setattr__(
            self, "quantity_contracts", positive("quantity_contracts", self.quantity_contracts)
        )
        object.__setattr__(self, "notional_usd", positive("notional_usd", self.notional_usd))
        if self.order_type == "market":
            if self.price is not None:
                raise DomainError(f"price must be None for a market order, got {self.price!r}")
        else:
            object.__setattr__(self, "price", positive("price", self.price))
        if not isinstance(self.reduce_only, bool):
            raise InputTypeError(f"reduce_only must be True or False, got {self.reduce_only!r}")


def _snap(contracts: float, spec: ContractSpec) -> float:
    """Round a signed contract count to the nearest point of the quantity grid."""
    exact_lots = abs(contracts) / spec.quantity_step
    if not math.isfinite(exact_lots):
        raise DomainError(f"contracts must be a finite number of lots of "
                          f"{spec.quantity_step!r}, got {contracts!r}")
    lots = round_lots(exact_lots, "nearest")
    magnitude = round(lots * spec.quantity_step, 12)
    if magnitude == 0.0:
        return 0.0
    return magnitude if contracts > 0 else -magnitude


def _fmt_contracts(x: float) -> str:
    return f"{x:.12g}"


def hedge_orders(
    current_contracts: float,
    target_contracts: float,
    spec: ContractSpec,
    futures_price_usd: float,
    *,
    beta_before: float | None = None,
    beta_after: float | None = None,
    drift: float | None = None,
    band: float | None = None,
    order_type: Literal["market", "limit"] = "market",
    limit_price_usd: float | None = None,
    btc_price_usd: float | None = None,
) -> list[HedgeOrder]:
    """Orders that move a futures hedge from its current to its target size.

    Parameters
    ----------
    current_contracts : float
        Contracts held now; > 0 short (the normal hedge), < 0 long.
    target_contracts : float
        Contracts wanted; same sign convention (e.g. ``ContractSizing.contracts``).
    spec : ContractSpec
        The contract traded.
    futures_price_usd : float
        Reference futures price, USD per coin, > 0 (values market orders).
    beta_before, beta_after : float, optional
        Portfolio beta before and after the ticket, copied onto every order.
    drift, band : float, optional
        Beta drift from target and the rebalance band (>= 0). When both are given and
        ``|drift| > band``, resizes are labelled "rebalance"; the drift is written into
        ``reason_detail`` whenever it is given.
    order_type : {"market", "limit"}, default "market"
        Order type of every order.
    limit_price_usd : float, optional
        Limit price (> 0), required for limit orders and refused for market orders.
    btc_price_usd : float, optional
        BTC price in USD, needed only to value quanto contracts.

    Returns
    -------
    list of HedgeOrder
        Zero, one or two orders (two when the position crosses zero). Empty when the
        difference rounds to zero contracts.

    Raises
    ------
    InputTypeError
        If ``spec`` is not a ContractSpec or a number is not numeric.
    DomainError
        Non-finite numbers, a price <= 0, a negative band, a limit order without a
        limit price (or a market order with one), or a quantity under the contract's
        minimum for an order that opens or adds to a position.
    UnknownNameError
        If ``order_type`` is not "market" or "limit".

    Notes
    -----
    Both counts are first snapped to the nearest multiple of ``spec.quantity_step``;
    the order quantity is the difference of the snapped counts, so it lies on the grid.

    With ``c`` current and ``t`` target (short > 0):

    * ``c = 0 < t``: sell ``t``, reason "open".
    * ``0 < c < t``: sell ``t - c``, "resize" (or "rebalance").
    * ``0 < t < c``: buy ``c - t`` reduce-only, "resize" (or "rebalance").
    * ``t = 0 < c``: buy ``c`` reduce-only, "close".
    * ``t < 0 < c`` (the target is net long futures, e.g. for a book with negative
      dollar beta): split into a reduce-only buy of ``c`` ("close") followed by an
      opening buy of ``|t|`` ("open"), so that reduce-only is never set on an order
      that opens exposure and each order is valid on its own. Long positions are
      handled symmetrically (sell to reduce them, reduce-only).

    An order that opens or adds to a position below ``spec.min_quantity`` raises
    :class:`DomainError` (the venue would reject it). Reduce-only orders are
    issued for any non-zero quantity. ``spec.min_notional_usd`` is not checked here
    (:func:`~betaneutral.core.contracts.contracts_for_notional` flags it).

    Examples
    --------
    >>> from betaneutral.core.contracts import get_contract
    >>> spec = get_contract("BINANCE:BTCUSDT")
    >>> [o] = hedge_orders(1.5, 1.8, spec, 60_000.0, drift=0.071, band=0.05)
    >>> o.side, o.quantity_contracts, o.reason, round(o.notional_usd, 6)
    ('sell', 0.3, 'rebalance', 18000.0)
    >>> [(o.side, o.quantity_contracts, o.reduce_only, o.reason)
    ...  for o in hedge_orders(1.0, -0.5, spec, 60_000.0)]
    [('buy', 1.0, True, 'close'), ('buy', 0.5, False, 'open')]
    """
    if not isinstance(spec, ContractSpec):
        raise InputTypeError(f"spec must be a ContractSpec, got {type(spec).__name__}")
    cur = _snap(as_float("current_contracts", current_contracts), spec)
    tgt = _snap(as_float("target_contracts", target_contracts), spec)
    ref_price = positive("futures_price_usd", futures_price_usd)
    otype = choice("order_type", order_type, _ORDER_TYPES)
    if otype == "limit":
        if limit_price_usd is None:
            raise DomainError("limit_price_usd must be given (> 0) for a limit order, got None")
        price: float | None = positive("limit_price_usd", limit_price_usd)
    else:
        if limit_price_usd is not None:
            raise DomainError(
                f"limit_price_usd must be None for a market order, got {limit_price_usd!r}"
            )
        price = None
    b_before = None if beta_before is None else as_float("beta_before", beta_before)
    b_after = None if beta_after is None else as_float("beta_after", beta_after)
    drift_v = None if drift is None else as_float("drift", drift)
    band_v = None if band is None else non_negative("band", band)
    breached = drift_v is not None and band_v is not None and abs(drift_v) > band_v

    per_contract = spec.contract_notional_usd(
        ref_price if price is None else price, btc_price_usd=btc_price_usd
    )
    move = f"short {_fmt_contracts(cur)} -> {_fmt_contracts(tgt)} contracts"
    if drift_v is None:
        detail = move
    elif band_v is None:
        detail = f"drift {drift_v:+.3f}; {move}"
    else:
        rel = ">" if breached else "<="
        detail = f"drift {drift_v:+.3f} {rel} band {band_v:g}; {move}"
    resize: Reason = "rebalance" if breached else "resize"

    def make(side: Side, qty: float, reduce_only: bool, reason: Reason) -> HedgeOrder:
        qty = round(qty, 12)
        if not reduce_only and qty < spec.min_quantity * (1.0 - 1e-9):
            raise DomainError(
                f"order quantity must be >= the minimum quantity {spec.min_quantity:g} of "
                f"{spec.name}, got {qty:g}"
            )
        return HedgeOrder(
            exchange=spec.exchange,
            symbol=spec.symbol,
            ccxt_symbol=spec.ccxt_symbol,
            side=side,
            quantity_contracts=qty,
            order_type=otype,  # type: ignore[arg-type]
            price=price,
            reduce_only=reduce_only,
            notional_usd=qty * per_contract,
            reason=reason,
            reason_detail=detail,
            portfolio_beta_before=b_before,
            portfolio_beta_after=b_after,
            contract_kind=spec.kind,
            contract_size=spec.contract_size,
        )

    if tgt == cur:
        return []
    # the position crosses zero: close the old side, then open the new one
    if cur * tgt < 0.0:
        flip: Side = "buy" if cur > 0 else "sell"
        return [make(flip, abs(cur), True, "close"), make(flip, abs(tgt), False, "open")]
    side: Side = "sell" if tgt > cur else "buy"
    qty = abs(tgt - cur)
    if cur == 0.0:
        return [make(side, qty, False, "open")]
    if tgt == 0.0:
        return [make(side, qty, True, "close")]
    increasing = abs(tgt) > abs(cur)
    return [make(side, qty, not increasing, resize)]
