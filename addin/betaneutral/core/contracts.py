"""Futures contract specifications and the conversion of a USD hedge into contracts.

Three contract kinds are modelled:

* **linear** (USDT/USDC-margined perpetuals, CME futures): one contract is
  ``contract_size`` coins; its USD notional is ``contract_size * F``.
* **inverse** (coin-margined): one contract is worth ``contract_size`` USD
  whatever the price; margin and P&L are in the coin.
* **quanto** (e.g. a BTC-settled ETH contract): P&L in the settlement coin is
  ``multiplier * (F_exit - F_entry)`` per contract, so the USD value of one
  contract is ``multiplier * F * BTC price``.

Margin tiers (maintenance brackets) are expressed in the notional unit of the
contract, given by :attr:`ContractSpec.notional_unit`: USD (quote currency) for
linear contracts, the coin for inverse ones and the settlement currency for
quanto ones.

Catalogue values change over time: each entry carries the page its values were
taken from (``source``) and the date they were checked (``checked``). Live
values should be fetched from the exchange before trading.
"""

from __future__ import annotations

import collections
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from betaneutral.core._validate import as_float, choice, in_range, non_negative, positive
from betaneutral.errors import DomainError, InputTypeError, UnknownNameError

__all__ = [
    "CATALOGUE",
    "KINDS",
    "ContractKind",
    "ContractSizing",
    "ContractSpec",
    "MarginTier",
    "active_catalogue",
    "contracts_for_notional",
    "custom_contract",
    "get_contract",
    "inverse_hedge_with_coin_collateral",
    "published_brackets",
    "round_lots",
    "tiers_tuple",
    "use_catalogue",
]

ContractKind = Literal["linear", "inverse", "quanto"]
KINDS: tuple[str, ...] = ("linear", "inverse", "quanto")
#: Notional of the maintenance margin in a liquidation price (see ContractSpec.maintenance_basis).
MAINTENANCE_BASES: tuple[str, ...] = ("mark", "entry")
_ROUNDINGS: tuple[str, ...] = ("nearest", "down", "up")

#: Float noise tolerated on the lot grid, in lots (e.g. 0.1 + 0.2 is 3 lots of 0.1).
_LOT_TOLERANCE = 1e-9


def _positive_or_inf(name: str, value: Any) -> float:
    """A number ``> 0``; ``+inf`` is accepted (an open-ended cap)."""
    if isinstance(value, (float, int)) and not isinstance(value, bool) and value == math.inf:
        return math.inf
    return positive(name, value)


@dataclass(frozen=True)
class MarginTier:
    """One maintenance-margin bracket of a contract.

    All notional quantities are in the contract's notional unit
    (:attr:`ContractSpec.notional_unit`): USD for linear contracts, the coin for
    inverse contracts, the settlement currency for quanto contracts.

    Attributes
    ----------
    notional_floor : float
        Lower edge of the bracket (exclusive, except 0 for the first bracket).
    notional_cap : float
        Upper edge of the bracket (inclusive); ``inf`` for an open-ended bracket.
    maintenance_rate : float
        Maintenance margin rate (MMR) of the bracket, a fraction in [0, 1).
    maintenance_amount : float
        Maintenance amount ("cum" on Binance, "MM deduction" on Bybit) so that the
        maintenance margin ``notional * maintenance_rate - maintenance_amount`` is
        continuous across brackets.
    max_leverage : float
        Highest initial leverage allowed in the bracket (``inf`` when not published).
    """

    notional_floor: float
    notional_cap: float
    maintenance_rate: float
    maintenance_amount: float
    max_leverage: float

    def __post_init__(self) -> None:
        floor = non_negative("notional_floor", self.notional_floor)
        cap = _positive_or_inf("notional_cap", self.notional_cap)
        if cap <= floor:
            raise DomainError(f"notional_cap must be > notional_floor ({floor!r}), got {cap!r}")
        rate = in_range("maintenance_rate", self.maintenance_rate, 0.0, 1.0, high_inclusive=False)
        amount = as_float("maintenance_amount", self.maintenance_amount)
        lev = _positive_or_inf("max_leverage", self.max_leverage)
        object.__setattr__(self, "notional_floor", floor)
        object.__setattr__(self, "notional_cap", cap)
        object.__setattr__(self, "maintenance_rate", rate)
        object.__setattr__(self, "maintenance_amount", amount)
        object.__setattr__(self, "max_leverage", lev)


#: Tables (tuples) that passed :func:`tiers_tuple`, held by reference and matched by
#: identity: a tuple of frozen MarginTier cannot change, so a simulation that calls the
#: margin functions with the same table every day has it checked once.
_CHECKED_TABLES: collections.deque[tuple[MarginTier, ...]] = collections.deque(maxlen=8)


def tiers_tuple(name: str, tiers: Any, *, allow_empty: bool = False) -> tuple[MarginTier, ...]:
    """Check a bracket table: MarginTier items, first floor 0, contiguous, continuous MM."""
    if type(tiers) is tuple:
        for table in _CHECKED_TABLES:
            if table is tiers:
                return tiers
    out = _checked_tiers(name, tiers, allow_empty=allow_empty)
    if type(tiers) is tuple and out:
        _CHECKED_TABLES.append(out)
    return out


def _checked_tiers(name: str, tiers: Any, *, allow_empty: bool) -> tuple[MarginTier, ...]:
    if isinstance(tiers, (str, bytes)) or not isinstance(tiers, Sequence):
        raise InputTypeError(f"{name} must be a sequence of MarginTier, got {type(tiers).__name__}")
    out = tuple(tiers)
    if not out:
        if allow_empty:
            return out
        raise DomainError(f"{name} must contain at least one MarginTier, got none")
    for tier in out:
        if not isinstance(tier, MarginTier):
            raise InputTypeError(
                f"{name} must contain only MarginTier items, got {type(tier).__name__}"
            )
    if out[0].notional_floor != 0.0:
        raise DomainError(
            f"{name} must start at notional 0, got a first floor of {out[0].notional_floor!r}"
        )
    if not math.isclose(out[0].maintenance_amount, 0.0, abs_tol=1e-9):
        raise DomainError(
            f"{name} must have maintenance_amount 0 in its first tier, "
            f"got {out[0].maintenance_amount!r}"
        )
    for prev, tier in itertools.pairwise(out):
        if not math.isclose(tier.notional_floor, prev.notional_cap, rel_tol=1e-12):
            raise DomainError(
                f"{name} must be contiguous (each floor equal to the previous cap), "
                f"got floor {tier.notional_floor!r} after cap {prev.notional_cap!r}"
            )
        expected = prev.maintenance_amount + tier.notional_floor * (
            tier.maintenance_rate - prev.maintenance_rate
        )
        scale = max(1.0, abs(expected))
        if not math.isclose(tier.maintenance_amount, expected, rel_tol=1e-6, abs_tol=1e-9 * scale):
            raise DomainError(
                f"{name} must keep the maintenance margin continuous: the tier from "
                f"{tier.notional_floor!r} must have maintenance_amount {expected!r}, "
                f"got {tier.maintenance_amount!r}"
            )
    return out


def published_brackets(rows: Sequence[tuple[float, float, float]]) -> tuple[MarginTier, ...]:
    """Build a bracket table from published ``(cap, maintenance_rate, max_leverage)`` rows.

    Floors are the previous caps and maintenance amounts follow the published rule
    ``amount_n = floor_n * (rate_n - rate_{n-1}) + amount_{n-1}``.
    """
    tiers: list[MarginTier] = []
    floor, prev_rate, amount = 0.0, rows[0][1], 0.0
    for cap, rate, lev in rows:
        amount = round(amount + floor * (rate - prev_rate), 10)
        tiers.append(MarginTier(floor, cap, rate, amount, lev))
        floor, prev_rate = cap, rate
    return tuple(tiers)


@dataclass(frozen=True)
class ContractSpec:
    """Specification of one futures contract.

    Attributes
    ----------
    exchange, symbol : str
        Exchange and exchange symbol; :attr:`name` is ``"EXCHANGE:SYMBOL"``.
    kind : {"linear", "inverse", "quanto"}
        Contract kind (see the module docstring).
    contract_size : float
        Coin per contract for linear contracts, USD per contract for inverse ones,
        settlement-coin multiplier per USD of price for quanto ones.
    quantity_step : float
        Order quantity increment, in contracts (the lot size).
    min_quantity : float
        Smallest order quantity, in contracts.
    min_notional_usd : float
        Smallest order notional in USD (0 where none is published).
    settlement_currency : str
        Currency of margin and P&L ("USDT", "BTC", "USD", ...).
    underlying : str
        Underlying coin ("BTC" or "ETH").
    ccxt_symbol : str
        CCXT unified symbol, e.g. ``"BTC/USDT:USDT"``; empty when CCXT has no market.
    perpetual : bool
        True for perpetual swaps, False for dated futures.
    margin_tiers : tuple of MarginTier
        Maintenance brackets in :attr:`notional_unit`; empty when the venue has no
        published bracket table (CME: margin in USD per contract set by the clearing house).
    taker_fee_rate : float
        Taker fee as a fraction of notional (0 where fees are per contract).
    funding_interval_hours : float or None
        Hours between funding settlements; None for dated futures.
    source : str
        Page(s) the values were taken from.
    checked : str
        ISO date on which the values were checked against ``source``.
    expiry : str or None
        Expiry rule or date for dated futures.
    notes : str
        Caveats (unverified values, unit conventions of the venue's API).
    maintenance_basis : {"mark", "entry"}
        Notional at which the venue takes the maintenance margin in its
        liquidation price: ``"mark"`` (at the liquidation price; Binance, and
        the default) or ``"entry"`` (at the entry price, as Bybit's USDT
        liquidation example). See :func:`betaneutral.core.margin.liquidation_price_short`.
    """

    exchange: str
    symbol: str
    kind: ContractKind
    contract_size: float
    quantity_step: float
    min_quantity: float
    min_notional_usd: float
    settlement_currency: str
    underlying: str
    ccxt_symbol: str
    perpetual: bool
    margin_tiers: tuple[MarginTier, ...]
    taker_fee_rate: float
    funding_interval_hours: float | None
    source: str
    checked: str
    expiry: str | None = None
    notes: str = ""
    maintenance_basis: str = "mark"

    def __post_init__(self) -> None:
        object.__setattr__(self, "maintenance_basis",
                           choice("maintenance_basis", self.maintenance_basis,
                                  MAINTENANCE_BASES))
        for field in ("exchange", "symbol", "settlement_currency", "underlying", "ccxt_symbol"):
            if not isinstance(getattr(self, field), str):
                raise InputTypeError(f"{field} must be text, got {getattr(self, field)!r}")
        object.__setattr__(self, "kind", choice("kind", self.kind, KINDS))
        object.__setattr__(self, "contract_size", positive("contract_size", self.contract_size))
        object.__setattr__(self, "quantity_step", positive("quantity_step", self.quantity_step))
        object.__setattr__(self, "min_quantity", non_negative("min_quantity", self.min_quantity))
        object.__setattr__(
            self, "min_notional_usd", non_negative("min_notional_usd", self.min_notional_usd)
        )
        object.__setattr__(
            self,
            "taker_fee_rate",
            in_range("taker_fee_rate", self.taker_fee_rate, 0.0, 1.0, high_inclusive=False),
        )
        if self.funding_interval_hours is not None:
            object.__setattr__(
                self,
                "funding_interval_hours",
                positive("funding_interval_hours", self.funding_interval_hours),
            )
        object.__setattr__(
            self, "margin_tiers", tiers_tuple("margin_tiers", self.margin_tiers, allow_empty=True)
        )

    @property
    def name(self) -> str:
        """Catalogue name, ``"EXCHANGE:SYMBOL"``."""
        return f"{self.exchange}:{self.symbol}"

    @property
    def notional_unit(self) -> str:
        """Unit of the margin-tier notionals: "USD", the coin, or the settlement currency."""
        if self.kind == "linear":
            return "USD"
        if self.kind == "inverse":
            return self.underlying
        return self.settlement_currency

    def contract_notional_usd(
        self, futures_price_usd: float, *, btc_price_usd: float | None = None
    ) -> float:
        """USD notional of ONE contract at a futures price.

        Parameters
        ----------
        futures_price_usd : float
            Futures (mark) price of the contract's underlying, USD per coin, > 0.
        btc_price_usd : float, optional
            BTC price in USD, required for quanto contracts (settled in BTC).

        Returns
        -------
        float
            USD value of one contract.

        Raises
        ------
        DomainError
            If a price is not > 0, or ``btc_price_usd`` is missing for a quanto contract.

        Notes
        -----
        linear: ``contract_size * F``; inverse: ``contract_size`` (price-independent);
        quanto: ``contract_size * F * BTC``.

        Examples
        --------
        >>> get_contract("CME:ETH").contract_notional_usd(400.0)
        20000.0
        >>> get_contract("BINANCE:BTCUSD_PERP").contract_notional_usd(65000.0)
        100.0
        """
        price = positive("futures_price_usd", futures_price_usd)
        if self.kind == "linear":
            return self.contract_size * price
        if self.kind == "inverse":
            return self.contract_size
        if btc_price_usd is None:
            raise DomainError("btc_price_usd must be given (> 0) for a quanto contract, got None")
        return self.contract_size * price * positive("btc_price_usd", btc_price_usd)


# --------------------------------------------------------------------------- catalogue

_CHECKED = "2026-11-25"

_BINANCE_USDM_TIERS_2021 = published_brackets(
    (
        (50_000.0, 0.004, 125.0),
        (250_000.0, 0.005, 100.0),
        (1_000_000.0, 0.01, 50.0),
        (10_000_000.0, 0.025, 20.0),
        (20_000_000.0, 0.05, 10.0),
        (50_000_000.0, 0.10, 5.0),
        (100_000_000.0, 0.125, 4.0),
        (200_000_000.0, 0.15, 3.0),
        (300_000_000.0, 0.25, 2.0),
        (500_000_000.0, 0.50, 1.0),
    )
)

_BINANCE_COINM_BTC_TIERS = published_brackets(
    (
        (5.0, 0.004, 125.0),
        (10.0, 0.005, 100.0),
        (20.0, 0.01, 50.0),
        (50.0, 0.025, 20.0),
        (100.0, 0.05, 10.0),
        (200.0, 0.10, 5.0),
        (400.0, 0.125, 4.0),
        (1_000.0, 0.15, 3.0),
        (1_500.0, 0.25, 2.0),
        (math.inf, 0.50, 1.0),
    )
)

_BYBIT_BTCUSDT_TIERS = published_brackets(
    (
        (2_000_000.0, 0.005, 100.0),
        (2_600_000.0, 0.0056, 90.0),
        (3_200_000.0, 0.0063, 80.0),
        (3_800_000.0, 0.0067, 75.0),
        (4_400_000.0, 0.0071, 70.0),
        (5_000_000.0, 0.0077, 65.0),
        (5_600_000.0, 0.0091, 55.0),
        (8_500_000.0, 0.01, 50.0),
        (10_000_000.0, 0.013, 45.0),
        (14_000_000.0, 0.015, 40.0),
        (20_000_000.0, 0.016, 35.0),
        (28_000_000.0, 0.02, 30.0),
        (38_000_000.0, 0.025, 25.0),
        (50_000_000.0, 0.029, 20.0),
        (55_000_000.0, 0.03, 19.0),
        (60_000_000.0, 0.035, 18.0),
        (65_000_000.0, 0.036, 17.0),
        (70_000_000.0, 0.038, 16.0),
        (75_000_000.0, 0.04, 15.0),
        (80_000_000.0, 0.045, 14.0),
    )
)


def _deribit_btc_tiers() -> tuple[MarginTier, ...]:
    """Deribit's BTC futures maintenance margin ``1% + 0.005% x size in BTC`` as brackets.

    The maintenance margin of ``n`` BTC is ``MM(n) = 0.01 n + 0.00005 n^2``, a
    convex curve. Each bracket ``(a, b]`` is its chord: rate ``0.01 + 0.00005 (a + b)``
    and maintenance amount ``0.00005 a b``, so that ``n * rate - amount`` equals
    ``MM(n)`` at every bracket edge and exceeds it in between by at most
    ``0.00005 (b - a)^2 / 4`` BTC (under 1.6% of MM with these edges). Edges: every
    BTC to 10, every 10 to 100, every 50 to 1,000, every 250 to 5,000 BTC; beyond the
    last edge the last bracket is extended (it understates MM there). The maximum
    leverage is ``1 / IM`` at the bracket's cap, with ``IM = 2% + 0.005% x size``.
    """
    edges = [*range(0, 10), *range(10, 100, 10), *range(100, 1_000, 50),
             *range(1_000, 5_001, 250)]
    tiers = []
    for a, b in itertools.pairwise(edges):
        tiers.append(MarginTier(float(a), float(b), 0.01 + 0.00005 * (a + b),
                                0.00005 * a * b, round(1.0 / (0.02 + 0.00005 * b), 2)))
    return tuple(tiers)


_DERIBIT_BTC_TIERS = _deribit_btc_tiers()


def _single(rate: float, max_leverage: float) -> tuple[MarginTier, ...]:
    return (MarginTier(0.0, math.inf, rate, 0.0, max_leverage),)


_BINANCE_USDM_SPECS = "https://www.binance.com/en/support/faq/360033161972"
_BINANCE_COINM_SPECS = "https://www.binance.com/en/support/faq/a4470430e3164c13932be8967961aede"
_BINANCE_COINM_LEVERAGE = "https://www.binance.com/en/support/faq/be2c7d9d95b04a7e8044ed02dd7dfe5c"
_BYBIT_USDT_LIQ = "https://help.bybit.com/hc/en-us/articles/900000181046"
_BYBIT_INVERSE_LIQ = "https://help.bybit.com/hc/en-us/articles/360039261334"
_CME_MICRO = (
    "https://www.cmegroup.com/markets/cryptocurrencies/"
    "micro-cryptocurrency-futures-and-options.html"
)
_OKX_SOURCE = (
    "OKX GET /api/v5/public/instruments, field ctVal (values as quoted in the "
    "crypto-contract-value crate docs, https://docs.rs/crate/crypto-contract-value/1.0.1)"
)
_UNVERIFIED_FEE = "taker fee is the regular (non-VIP) tier as commonly published, not re-checked"

_SPECS: tuple[ContractSpec, ...] = (
    ContractSpec(
        exchange="BINANCE",
        symbol="BTCUSDT",
        kind="linear",
        contract_size=1.0,
        quantity_step=0.001,
        min_quantity=0.001,
        min_notional_usd=100.0,
        settlement_currency="USDT",
        underlying="BTC",
        ccxt_symbol="BTC/USDT:USDT",
        perpetual=True,
        margin_tiers=_BINANCE_USDM_TIERS_2021,
        taker_fee_rate=0.0005,
        funding_interval_hours=8.0,
        source=(
            f"{_BINANCE_USDM_SPECS} (contract unit; 'the Minimum Notional Value for BTCUSDT "
            "is 100 USDT', read 2026-12-05); "
            "https://www.binance.com/en/support/announcement/86cf9aa472574b8cb2e05bb751c2a9a6 "
            "(BTCUSDT brackets from 2021-03-18); "
            "https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93 "
            "(maintenance amount rule)"
        ),
        checked=_CHECKED,
        notes=(
            "Quantity is in BTC (one 'contract' = 1 BTC). Brackets are the 2021-03-18 table; "
            "Binance changes brackets and the minimum notional without notice: fetch "
            "GET /fapi/v1/leverageBracket and exchangeInfo before trading. " + _UNVERIFIED_FEE
        ),
    ),
    ContractSpec(
        exchange="BINANCE",
        symbol="BTCUSD_PERP",
        kind="inverse",
        contract_size=100.0,
        quantity_step=1.0,
        min_quantity=1.0,
        min_notional_usd=0.0,
        settlement_currency="BTC",
        underlying="BTC",
        ccxt_symbol="BTC/USD:BTC",
        perpetual=True,
        margin_tiers=_BINANCE_COINM_BTC_TIERS,
        taker_fee_rate=0.0005,
        funding_interval_hours=8.0,
        source=(
            f"{_BINANCE_COINM_SPECS} (100 USD multiplier); {_BINANCE_COINM_LEVERAGE} "
            "(BTCUSD perpetual: 125x up to 5 BTC, 100x to 10, 50x to 20, 20x to 50, 10x to "
            "100, 5x to 200, 4x to 400, 3x to 1,000; read 2026-12-05); maintenance rates "
            "0.4/0.5/1/2.5/5/10/12.5/15/25/50% from floors 0/5/10/20/50/100/200/400/1,000/"
            "1,500 BTC as GET /dapi/v2/leverageBracket returns them (recorded in ccxt's "
            "ts/src/test/static/response/binance.json); "
            "https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93 "
            "(maintenance amount rule)"
        ),
        checked=_CHECKED,
        notes=(
            "Brackets in BTC notional. Binance's COIN-M liquidation FAQ works its examples "
            "on an older table (caps 10 / 20 / 30 BTC); brackets change: fetch "
            "GET /dapi/v2/leverageBracket. " + _UNVERIFIED_FEE
        ),
    ),
    ContractSpec(
        exchange="BINANCE",
        symbol="ETHUSDT",
        kind="linear",
        contract_size=1.0,
        quantity_step=0.001,
        min_quantity=0.001,
        min_notional_usd=5.0,
        settlement_currency="USDT",
        underlying="ETH",
        ccxt_symbol="ETH/USDT:USDT",
        perpetual=True,
        margin_tiers=_single(0.005, 100.0),
        taker_fee_rate=0.0005,
        funding_interval_hours=8.0,
        source=_BINANCE_USDM_SPECS,
        checked=_CHECKED,
        notes=(
            "Quantity in ETH. Single tier: 0.5% is the first-bracket rate of Binance's "
            "2021 ETHUSDT table, not verified against the current table; larger positions "
            "carry higher rates (fetch GET /fapi/v1/leverageBracket). " + _UNVERIFIED_FEE
        ),
    ),
    ContractSpec(
        exchange="BINANCE",
        symbol="ETHUSD_PERP",
        kind="inverse",
        contract_size=10.0,
        quantity_step=1.0,
        min_quantity=1.0,
        min_notional_usd=0.0,
        settlement_currency="ETH",
        underlying="ETH",
        ccxt_symbol="ETH/USD:ETH",
        perpetual=True,
        margin_tiers=_single(0.005, 100.0),
        taker_fee_rate=0.0005,
        funding_interval_hours=8.0,
        source=(
            f"{_BINANCE_COINM_SPECS} (altcoin multiplier 10 USD); "
            "https://www.binance.com/en/support/announcement/9c6a1766be424fccacd2549db3d61a3f "
            "(first ETHUSD bracket 0.50% up to 100 ETH, 2021)"
        ),
        checked=_CHECKED,
        notes=(
            "Single tier in ETH notional: first 2021 bracket only; fetch "
            "GET /dapi/v2/leverageBracket for the current table. " + _UNVERIFIED_FEE
        ),
    ),
    ContractSpec(
        exchange="BYBIT",
        symbol="BTCUSDT",
        kind="linear",
        contract_size=1.0,
        quantity_step=0.001,
        min_quantity=0.001,
        min_notional_usd=0.0,
        settlement_currency="USDT",
        underlying="BTC",
        ccxt_symbol="BTC/USDT:USDT",
        perpetual=True,
        margin_tiers=_BYBIT_BTCUSDT_TIERS,
        taker_fee_rate=0.00055,
        funding_interval_hours=8.0,
        source=(
            "https://www.bybit.com/en/announcement-info/margin-parameters (BTCUSDT risk "
            "limits: 0.5% up to 2,000,000 USDT, then 0.56% with deduction 1,200 and rising "
            "to 4.5% at 80,000,000; read 2026-12-05); "
            f"{_BYBIT_USDT_LIQ} (0.5% MMR in the worked examples)"
        ),
        checked="2026-12-05",
        maintenance_basis="entry",  # the page's example takes MM at the entry value
        notes=(
            "Quantity in BTC. Tier notionals in USDT (risk limit); beyond the last "
            "published level (80,000,000) the last rate is extended. Step/minimum as "
            "commonly listed, not re-checked. " + _UNVERIFIED_FEE
        ),
    ),
    ContractSpec(
        exchange="BYBIT",
        symbol="BTCUSD",
        kind="inverse",
        contract_size=1.0,
        quantity_step=1.0,
        min_quantity=1.0,
        min_notional_usd=0.0,
        settlement_currency="BTC",
        underlying="BTC",
        ccxt_symbol="BTC/USD:BTC",
        perpetual=True,
        margin_tiers=_single(0.005, 100.0),
        taker_fee_rate=0.00055,
        funding_interval_hours=8.0,
        source=(
            f"{_BYBIT_INVERSE_LIQ} (minimum MMR 0.5% for BTC); Bybit help centre, "
            "'Introduction to Inverse Perpetual Contract' (minimum order 1 USD per contract)"
        ),
        checked=_CHECKED,
        notes="Single tier at the base risk-limit MMR, in BTC notional. " + _UNVERIFIED_FEE,
    ),
    ContractSpec(
        exchange="OKX",
        symbol="BTC-USDT-SWAP",
        kind="linear",
        contract_size=0.01,
        quantity_step=1.0,
        min_quantity=1.0,
        min_notional_usd=0.0,
        settlement_currency="USDT",
        underlying="BTC",
        ccxt_symbol="BTC/USDT:USDT",
        perpetual=True,
        margin_tiers=_single(0.005, 100.0),
        taker_fee_rate=0.0005,
        funding_interval_hours=8.0,
        source=_OKX_SOURCE,
        checked=_CHECKED,
        notes=(
            "ctVal 0.01 BTC. Whole-contract lots assumed (OKX may allow fractional lots: "
            "check lotSz/minSz). Maintenance rate 0.5% is a placeholder, not verified: "
            "fetch GET /api/v5/public/position-tiers. " + _UNVERIFIED_FEE
        ),
    ),
    ContractSpec(
        exchange="OKX",
        symbol="BTC-USD-SWAP",
        kind="inverse",
        contract_size=100.0,
        quantity_step=1.0,
        min_quantity=1.0,
        min_notional_usd=0.0,
        settlement_currency="BTC",
        underlying="BTC",
        ccxt_symbol="BTC/USD:BTC",
        perpetual=True,
        margin_tiers=_single(0.005, 100.0),
        taker_fee_rate=0.0005,
        funding_interval_hours=8.0,
        source=_OKX_SOURCE,
        checked=_CHECKED,
        notes=(
            "ctVal 100 USD. Maintenance rate 0.5% is a placeholder, not verified: fetch "
            "GET /api/v5/public/position-tiers. " + _UNVERIFIED_FEE
        ),
    ),
    ContractSpec(
        exchange="DERIBIT",
        symbol="BTC-PERPETUAL",
        kind="inverse",
        contract_size=10.0,
        quantity_step=1.0,
        min_quantity=1.0,
        min_notional_usd=0.0,
        settlement_currency="BTC",
        underlying="BTC",
        ccxt_symbol="BTC/USD:BTC",
        perpetual=True,
        margin_tiers=_DERIBIT_BTC_TIERS,
        taker_fee_rate=0.0005,
        funding_interval_hours=8.0,
        source=(
            "https://legacy.deribit.com/pages/docs/futures (contract size 10 USD); "
            "https://support.deribit.com/hc/en-us/articles/25944826427293-11-January-2022 "
            "(BTC maintenance margin 1% + 0.005% per BTC of position, initial 2% + 0.005% "
            "per BTC, from 2022-01-11; read 2026-12-05)"
        ),
        checked="2026-12-05",
        notes=(
            "Deribit's API takes amounts in USD (multiples of 10 = contracts x 10). Deribit "
            "funding accrues continuously. The maintenance rule 1% + 0.005% x BTC size is "
            "held as chord brackets in BTC notional, exact at each edge and at most 1.6% "
            "above it in between (see _deribit_btc_tiers). "
            "Fee: 0.05% taker as on Deribit's legacy contract pages."
        ),
    ),
    ContractSpec(
        exchange="BITMEX",
        symbol="XBTUSD",
        kind="inverse",
        contract_size=1.0,
        quantity_step=100.0,
        min_quantity=100.0,
        min_notional_usd=0.0,
        settlement_currency="BTC",
        underlying="BTC",
        ccxt_symbol="BTC/USD:BTC",
        perpetual=True,
        margin_tiers=_single(0.005, 100.0),
        taker_fee_rate=0.00075,
        funding_interval_hours=8.0,
        source=(
            "https://www.bitmex.com/app/inversePerpetualsGuide (1 USD multiplier); "
            "https://blog.bitmex.com/site_announcement/important-lot-size-change-on-xbtusd-"
            "swap-and-futures-moving-to-100-lot-size-effective-8-june/ (lot size 100); "
            "https://blog.bitmex.com/maintenance-margin-change-for-xbt-inverse-futures "
            "(0.5% base MM of XBT inverse futures, 2024)"
        ),
        checked=_CHECKED,
        notes=(
            "Single tier: 0.5% is the 2024 base maintenance margin of BitMEX's XBT inverse "
            "futures, used here for XBTUSD too (not verified for the swap); risk limits raise "
            "it with size. " + _UNVERIFIED_FEE
        ),
    ),
    ContractSpec(
        exchange="CME",
        symbol="BTC",
        kind="linear",
        contract_size=5.0,
        quantity_step=1.0,
        min_quantity=1.0,
        min_notional_usd=0.0,
        settlement_currency="USD",
        underlying="BTC",
        ccxt_symbol="",
        perpetual=False,
        margin_tiers=(),
        taker_fee_rate=0.0,
        funding_interval_hours=None,
        source=(
            "https://www.cmegroup.com/activetrader/microbitcoin (MBT is 1/50 of the "
            "five-bitcoin BTC contract)"
        ),
        checked=_CHECKED,
        expiry="monthly; trading ends 4 p.m. London time on the last Friday of the month",
        notes=(
            "Cash-settled to the CME CF Bitcoin Reference Rate. No bracket table: margins "
            "are USD per contract set by CME Clearing and collected by the broker (pass "
            "maintenance explicitly). Fees are USD per contract, not a rate (0 here)."
        ),
    ),
    ContractSpec(
        exchange="CME",
        symbol="MBT",
        kind="linear",
        contract_size=0.1,
        quantity_step=1.0,
        min_quantity=1.0,
        min_notional_usd=0.0,
        settlement_currency="USD",
        underlying="BTC",
        ccxt_symbol="",
        perpetual=False,
        margin_tiers=(),
        taker_fee_rate=0.0,
        funding_interval_hours=None,
        source=f"{_CME_MICRO} (contract unit 0.10 bitcoin)",
        checked=_CHECKED,
        expiry="monthly; trading ends 4 p.m. London time on the last Friday of the month",
        notes="Micro Bitcoin. No bracket table (see CME:BTC). Fees per contract (0 here).",
    ),
    ContractSpec(
        exchange="CME",
        symbol="ETH",
        kind="linear",
        contract_size=50.0,
        quantity_step=1.0,
        min_quantity=1.0,
        min_notional_usd=0.0,
        settlement_currency="USD",
        underlying="ETH",
        ccxt_symbol="",
        perpetual=False,
        margin_tiers=(),
        taker_fee_rate=0.0,
        funding_interval_hours=None,
        source=(
            "https://www.cmegroup.com/education/courses/introduction-to-ether/"
            "ether-futures-product-overview.html (50 ether per contract)"
        ),
        checked=_CHECKED,
        expiry="monthly; trading ends on the last Friday of the contract month",
        notes="Cash-settled to the CME CF Ether-Dollar Reference Rate. No bracket table.",
    ),
    ContractSpec(
        exchange="CME",
        symbol="MET",
        kind="linear",
        contract_size=0.1,
        quantity_step=1.0,
        min_quantity=1.0,
        min_notional_usd=0.0,
        settlement_currency="USD",
        underlying="ETH",
        ccxt_symbol="",
        perpetual=False,
        margin_tiers=(),
        taker_fee_rate=0.0,
        funding_interval_hours=None,
        source=f"{_CME_MICRO} (contract unit 0.1 ether)",
        checked=_CHECKED,
        expiry="monthly; trading ends on the last Friday of the contract month",
        notes="Micro Ether. No bracket table (see CME:ETH). Fees per contract (0 here).",
    ),
)

#: Read-only catalogue of common BTC and ETH contracts, keyed by ``"EXCHANGE:SYMBOL"``.
CATALOGUE: Mapping[str, ContractSpec] = MappingProxyType({s.name: s for s in _SPECS})


def get_contract(name: str) -> ContractSpec:
    """Look a contract up in the catalogue by ``"EXCHANGE:SYMBOL"``.

    Parameters
    ----------
    name : str
        Catalogue name; case-insensitive, surrounding spaces ignored.

    Returns
    -------
    ContractSpec
        The catalogue entry.

    Raises
    ------
    InputTypeError
        If ``name`` is not text.
    UnknownNameError
        If the name is not in the catalogue (the message lists the known names).

    Notes
    -----
    The catalogue holds values checked on the date in each entry's ``checked``
    field; exchanges change them, so fetch live values before trading.

    Examples
    --------
    >>> get_contract(" binance:btcusdt ").name
    'BINANCE:BTCUSDT'
    >>> get_contract("DERIBIT:BTC-PERPETUAL").contract_size
    10.0
    """
    if not isinstance(name, str):
        raise InputTypeError(f"name must be text, got {name!r}")
    key = name.strip().upper()
    spec = _USER_CATALOGUE.get(key) or CATALOGUE.get(key)
    if spec is None:
        raise UnknownNameError(
            f"name must be one of {sorted({*CATALOGUE, *_USER_CATALOGUE})}, got {name!r}"
        )
    return spec


#: Entries of the user's catalogue (see :func:`use_catalogue`), consulted before CATALOGUE.
_USER_CATALOGUE: dict[str, ContractSpec] = {}


def active_catalogue() -> dict[str, ContractSpec]:
    """The catalogue :func:`get_contract` answers from: the built-in entries, with the
    user's (:func:`use_catalogue`) replacing those of the same name and added after them.

    Returns
    -------
    dict
        Name -> specification, built-in order first.

    Examples
    --------
    >>> "BINANCE:BTCUSDT" in active_catalogue()
    True
    """
    merged = dict(CATALOGUE)
    merged.update(_USER_CATALOGUE)
    return merged


def use_catalogue(specs: Sequence[ContractSpec] | None) -> None:
    """Make :func:`get_contract` answer from a user's catalogue first (None: built-in only).

    Parameters
    ----------
    specs : sequence of ContractSpec or None
        Entries (e.g. fetched from an exchange) that replace the built-in entry of
        the same name and add new names; None or empty restores the built-in catalogue.

    Raises
    ------
    InputTypeError
        If an item is not a ContractSpec.

    Examples
    --------
    >>> spec = custom_contract("linear", 1.0, 0.001, 0.001)
    >>> use_catalogue([spec]); get_contract("custom:custom").source
    'user'
    >>> use_catalogue(None); "CUSTOM:CUSTOM" in CATALOGUE
    False
    """
    entries = list(specs or ())
    for spec in entries:
        if not isinstance(spec, ContractSpec):
            raise InputTypeError(f"specs must contain only ContractSpec items, got "
                                 f"{type(spec).__name__}")
    _USER_CATALOGUE.clear()
    _USER_CATALOGUE.update({spec.name.upper(): spec for spec in entries})


def custom_contract(
    kind: ContractKind,
    contract_size: float,
    quantity_step: float,
    min_quantity: float,
    *,
    maintenance_rate: float = 0.005,
    symbol: str = "CUSTOM",
    underlying: str = "BTC",
    settlement_currency: str | None = None,
    min_notional_usd: float = 0.0,
    taker_fee_rate: float = 0.0,
    perpetual: bool = True,
    funding_interval_hours: float | None = 8.0,
    max_leverage: float = math.inf,
    ccxt_symbol: str = "",
    maintenance_basis: str = "mark",
) -> ContractSpec:
    """Describe a contract that is not in the catalogue (exchange ``"CUSTOM"``).

    Parameters
    ----------
    kind : {"linear", "inverse", "quanto"}
        Contract kind.
    contract_size : float
        Coin per contract (linear), USD per contract (inverse) or settlement-coin
        multiplier (quanto); > 0.
    quantity_step : float
        Order quantity increment in contracts, > 0.
    min_quantity : float
        Smallest order quantity in contracts, >= 0.
    maintenance_rate : float, default 0.005
        Flat maintenance margin rate (one open-ended tier with maintenance amount 0).
    symbol, underlying : str
        Labels; the underlying coin defaults to "BTC".
    settlement_currency : str, optional
        Defaults to "USD" (linear), the underlying (inverse) or "BTC" (quanto).
    min_notional_usd, taker_fee_rate, perpetual, funding_interval_hours, max_leverage, ccxt_symbol
        As in :class:`ContractSpec`.
    maintenance_basis : {"mark", "entry"}, default "mark"
        As in :class:`ContractSpec`.

    Returns
    -------
    ContractSpec
        The specification, with ``source="user"`` and ``checked=""``.

    Raises
    ------
    UnknownNameError
        If ``kind`` is not a known contract kind.
    DomainError
        If a size, step, minimum or rate is out of its domain.

    Notes
    -----
    The single tier is ``MarginTier(0, inf, maintenance_rate, 0, max_leverage)``.

    Examples
    --------
    >>> spec = custom_contract("inverse", 10.0, 1.0, 1.0, maintenance_rate=0.01)
    >>> spec.name, spec.settlement_currency, spec.margin_tiers[0].maintenance_rate
    ('CUSTOM:CUSTOM', 'BTC', 0.01)
    """
    canon = choice("kind", kind, KINDS)
    rate = in_range("maintenance_rate", maintenance_rate, 0.0, 1.0, high_inclusive=False)
    if settlement_currency is None:
        settlement_currency = {"linear": "USD", "inverse": underlying, "quanto": "BTC"}[canon]
    return ContractSpec(
        exchange="CUSTOM",
        symbol=symbol,
        kind=canon,  # type: ignore[arg-type]
        contract_size=contract_size,
        quantity_step=quantity_step,
        min_quantity=min_quantity,
        min_notional_usd=min_notional_usd,
        settlement_currency=settlement_currency,
        underlying=underlying,
        ccxt_symbol=ccxt_symbol,
        perpetual=bool(perpetual),
        margin_tiers=(MarginTier(0.0, math.inf, rate, 0.0, max_leverage),),
        taker_fee_rate=taker_fee_rate,
        funding_interval_hours=funding_interval_hours if perpetual else None,
        source="user",
        checked="",
        maintenance_basis=maintenance_basis,
    )


# --------------------------------------------------------------------------- sizing


@dataclass(frozen=True)
class ContractSizing:
    """Contracts to trade for a USD hedge notional, and what rounding leaves over.

    Attributes
    ----------
    contracts : float
        Contracts to trade, signed like the notional (> 0: short), on the quantity
        grid; 0 when the rounded quantity is under the minimum quantity.
    contracts_exact : float
        Unrounded contracts, ``notional / contract notional``.
    hedged_notional_usd : float
        USD notional of ``contracts``.
    residual_notional_usd : float
        ``notional_usd - hedged_notional_usd`` (> 0: under-hedged short).
    residual_beta : float or None
        ``residual_notional_usd / portfolio_value_usd`` when a portfolio value was
        given, else None.
    below_minimum : bool
        True when a non-zero exact quantity rounded under ``min_quantity`` (contracts
        were set to 0).
    below_min_notional : bool
        True when the order's USD notional is non-zero but under the venue's minimum
        order notional (the exchange would reject it; contracts are left as computed).
    """

    contracts: float
    contracts_exact: float
    hedged_notional_usd: float
    residual_notional_usd: float
    residual_beta: float | None
    below_minimum: bool
    below_min_notional: bool


def round_lots(lots: float, rounding: str) -> int:
    """Whole number of lots for a non-negative lot count, robust to float noise."""
    if rounding == "nearest":
        return math.floor(lots + 0.5 + _LOT_TOLERANCE)
    if rounding == "down":
        return math.floor(lots + _LOT_TOLERANCE)
    return math.ceil(lots - _LOT_TOLERANCE)


def contracts_for_notional(
    notional_usd: float,
    futures_price_usd: float,
    spec: ContractSpec,
    *,
    rounding: Literal["nearest", "down", "up"] = "nearest",
    portfolio_value_usd: float | None = None,
    btc_price_usd: float | None = None,
) -> ContractSizing:
    """Number of contracts for a USD hedge notional, rounded to the lot grid.

    Parameters
    ----------
    notional_usd : float
        Hedge notional in USD; > 0 means short this much (negative: long).
    futures_price_usd : float
        Futures price of the contract's underlying, USD per coin, > 0.
    spec : ContractSpec
        The contract.
    rounding : {"nearest", "down", "up"}, default "nearest"
        Rounding of the magnitude on the ``quantity_step`` grid: "down" trades fewer
        contracts (toward zero), "up" more (away from zero), "nearest" the closest
        lot with ties away from zero.
    portfolio_value_usd : float, optional
        Spot portfolio value V_S (> 0) used to express the residual as beta.
    btc_price_usd : float, optional
        BTC price in USD, required for quanto contracts.

    Returns
    -------
    ContractSizing
        Contracts, exact contracts, hedged and residual notional, residual beta, flags.

    Raises
    ------
    InputTypeError
        If ``spec`` is not a ContractSpec.
    DomainError
        If a price is not > 0 or ``portfolio_value_usd`` is not > 0.
    UnknownNameError
        If ``rounding`` is not one of the options.

    Notes
    -----
    Exact contracts: linear ``N = V / (F * S)``; inverse ``N = V / C`` (independent
    of price); quanto ``N = V / (F * m * B)`` with B the BTC price. A quanto hedge
    has a cross exposure: its USD value moves with both F and B, so the sizing is
    only right at the current BTC price and must be refreshed as BTC moves.

    Rounding works on lots ``N / step`` with a tolerance of 1e-9 lot, so that e.g.
    0.3 / 0.1 (2.9999999999999996 lots) is 3 lots. ``residual_beta`` is
    ``(V - N_rounded * contract notional) / V_S``.

    Examples
    --------
    >>> s = contracts_for_notional(1_000_050.0, 65_000.0, get_contract("BINANCE:BTCUSD_PERP"))
    >>> s.contracts, s.residual_notional_usd
    (10001.0, -50.0)
    >>> contracts_for_notional(0.3 * 65_000, 65_000.0, get_contract("CME:MBT")).contracts
    3.0
    """
    if not isinstance(spec, ContractSpec):
        raise InputTypeError(f"spec must be a ContractSpec, got {type(spec).__name__}")
    value = as_float("notional_usd", notional_usd)
    mode = choice("rounding", rounding, _ROUNDINGS)
    per_contract = spec.contract_notional_usd(futures_price_usd, btc_price_usd=btc_price_usd)
    pv = None
    if portfolio_value_usd is not None:
        pv = positive("portfolio_value_usd", portfolio_value_usd)

    exact = value / per_contract
    if not math.isfinite(exact):
        raise DomainError(f"notional_usd / contract notional must be a finite number of "
                          f"contracts, got {value!r} / {per_contract!r}")
    step = spec.quantity_step
    lots = round_lots(abs(exact) / step, mode)
    magnitude = round(lots * step, 12)
    below_minimum = exact != 0.0 and magnitude < spec.min_quantity * (1.0 - _LOT_TOLERANCE)
    if below_minimum:
        magnitude = 0.0
    contracts = math.copysign(magnitude, value) if magnitude else 0.0
    hedged = contracts * per_contract
    residual = value - hedged
    return ContractSizing(
        contracts=contracts,
        contracts_exact=exact,
        hedged_notional_usd=hedged,
        residual_notional_usd=residual,
        residual_beta=None if pv is None else residual / pv,
        below_minimum=below_minimum,
        below_min_notional=0.0 < abs(hedged) < spec.min_notional_usd,
    )


def inverse_hedge_with_coin_collateral(
    hedge_notional_usd: float, collateral_btc: float, futures_price_usd: float
) -> float:
    """USD face value of inverse contracts to short when the margin is posted in BTC.

    Parameters
    ----------
    hedge_notional_usd : float
        Beta exposure to neutralise, in USD (V = beta x V_S; > 0 is a long exposure).
    collateral_btc : float
        BTC posted as margin for the inverse short, K >= 0.
    futures_price_usd : float
        Futures price F, USD per BTC, > 0.

    Returns
    -------
    float
        Contract face value to short, in USD: ``V + K * F``. Divide by the contract
        size (USD per contract) for the number of contracts.

    Raises
    ------
    DomainError
        If ``collateral_btc`` < 0 or the price is not > 0.

    Notes
    -----
    The collateral is itself long BTC. A short of face value V' (USD) in inverse
    contracts entered at F gains ``V' (1/P - 1/F)`` BTC, so the USD value of the
    margin account at price P is

    ``P * (K + V'/P - V'/F) = V' + P * (K - V'/F)``.

    With ``V' = V + K F`` this is ``V' - P * V / F``: the account's BTC delta is
    exactly ``-V / F`` BTC (``-V`` USD at F), the hedge asked for, at every price.
    The part ``K F`` of the short turns the collateral into a synthetic USD balance.
    Equivalently, count the collateral as a spot holding with beta 1 and short V + K F.

    Examples
    --------
    >>> inverse_hedge_with_coin_collateral(100_000.0, 0.5, 60_000.0)
    130000.0
    """
    value = as_float("hedge_notional_usd", hedge_notional_usd)
    k = non_negative("collateral_btc", collateral_btc)
    price = positive("futures_price_usd", futures_price_usd)
    return value + k * price
