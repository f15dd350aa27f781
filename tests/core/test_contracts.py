"""Tests of contract specifications and hedge sizing (betaneutral.core.contracts)."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
from exchange_tables import FAQ_COINM_TIERS
from hypothesis import given, settings
from hypothesis import strategies as st

from betaneutral.core.contracts import (
    CATALOGUE,
    ContractSpec,
    MarginTier,
    contracts_for_notional,
    custom_contract,
    get_contract,
    inverse_hedge_with_coin_collateral,
)
from betaneutral.errors import DomainError, InputTypeError, UnknownNameError

REQUIRED = {
    "BINANCE:BTCUSDT",
    "BINANCE:BTCUSD_PERP",
    "BYBIT:BTCUSDT",
    "BYBIT:BTCUSD",
    "OKX:BTC-USDT-SWAP",
    "OKX:BTC-USD-SWAP",
    "DERIBIT:BTC-PERPETUAL",
    "BITMEX:XBTUSD",
    "CME:BTC",
    "CME:MBT",
    "BINANCE:ETHUSDT",
    "BINANCE:ETHUSD_PERP",
    "CME:ETH",
    "CME:MET",
}


# ----------------------------------------------------------------------------- catalogue


def test_catalogue_holds_the_required_contracts():
    """The catalogue lists every contract the product promises, keyed by its own name."""
    assert set(CATALOGUE) >= REQUIRED
    for key, spec in CATALOGUE.items():
        assert spec.name == key


def test_catalogue_entries_carry_source_and_check_date():
    """Every catalogue entry names its source page and an ISO check date."""
    for spec in CATALOGUE.values():
        assert spec.source.strip()
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", spec.checked)


def test_catalogue_ccxt_symbols_follow_the_unified_form():
    """Crypto-venue entries use CCXT unified symbols BASE/QUOTE:SETTLE matching their kind."""
    for spec in CATALOGUE.values():
        if spec.exchange == "CME":
            assert spec.ccxt_symbol == ""
            continue
        base, rest = spec.ccxt_symbol.split("/")
        quote, settle = rest.split(":")
        assert base == spec.underlying
        assert settle == spec.settlement_currency
        assert (quote == "USD") == (spec.kind == "inverse")


def test_catalogue_is_read_only():
    """The catalogue mapping and its entries cannot be modified."""
    with pytest.raises(TypeError):
        CATALOGUE["X:Y"] = CATALOGUE["CME:BTC"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CATALOGUE["CME:BTC"].contract_size = 1.0  # type: ignore[misc]


def test_catalogue_contract_sizes_match_the_research_table():
    """Sizes are those of the exchange pages: inverse in USD, linear in coin per contract."""
    expected = {
        "BINANCE:BTCUSDT": ("linear", 1.0, 0.001),
        "BINANCE:BTCUSD_PERP": ("inverse", 100.0, 1.0),
        "BYBIT:BTCUSD": ("inverse", 1.0, 1.0),
        "OKX:BTC-USDT-SWAP": ("linear", 0.01, 1.0),
        "OKX:BTC-USD-SWAP": ("inverse", 100.0, 1.0),
        "DERIBIT:BTC-PERPETUAL": ("inverse", 10.0, 1.0),
        "BITMEX:XBTUSD": ("inverse", 1.0, 100.0),
        "CME:BTC": ("linear", 5.0, 1.0),
        "CME:MBT": ("linear", 0.1, 1.0),
        "BINANCE:ETHUSD_PERP": ("inverse", 10.0, 1.0),
        "CME:ETH": ("linear", 50.0, 1.0),
        "CME:MET": ("linear", 0.1, 1.0),
    }
    for name, (kind, size, step) in expected.items():
        spec = get_contract(name)
        assert (spec.kind, spec.contract_size, spec.quantity_step) == (kind, size, step), name


def test_cme_micro_is_one_fiftieth_of_the_bitcoin_contract():
    """CME says MBT is 1/50 of the five-bitcoin contract (cmegroup.com/activetrader)."""
    # Page read 2026-11-25: "the larger five-bitcoin contract, at 1/50 of the contract size".
    assert get_contract("CME:BTC").contract_size / get_contract("CME:MBT").contract_size == 50


def test_binance_usdm_brackets_reproduce_the_published_maintenance_amounts():
    """The BTCUSDT table gives Binance's published maintenance amount 1,300 USDT at level 3."""
    # Binance "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts",
    # https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93 (read 2026-11-25):
    # "Maintenance Amount on Level 3 = 250,000 * (1% - 0.5%) + 50 USDT = 1,300 USDT".
    tiers = get_contract("BINANCE:BTCUSDT").margin_tiers
    assert tiers[1].maintenance_amount == pytest.approx(50.0)  # 50,000 * (0.5% - 0.4%)
    assert tiers[2].notional_floor == 250_000.0
    assert tiers[2].maintenance_amount == pytest.approx(1_300.0)
    assert tiers[0].max_leverage == 125.0


def test_binance_coinm_faq_table_reproduces_the_published_maintenance_amounts():
    """The FAQ's own BTCUSD COIN-M table gives its 0.56, 1.81 and 11.81 BTC amounts."""
    # Binance "How to Calculate Liquidation Price of COIN-M Futures Contracts",
    # https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46 (read 2026-11-25):
    # "Level 5 = 50 BTC * (5% - 2.5%) + 0.56 BTC = 1.81 BTC"; 300 BTC -> 12.5% and 11.81 BTC.
    # The FAQ works on an older table (caps 10/20/30/50/... BTC), not today's catalogue entry.
    by_floor = {t.notional_floor: t for t in FAQ_COINM_TIERS}
    assert by_floor[30.0].maintenance_amount == pytest.approx(0.56)
    assert by_floor[50.0].maintenance_amount == pytest.approx(1.81)
    assert by_floor[200.0].maintenance_rate == 0.125
    assert by_floor[200.0].maintenance_amount == pytest.approx(11.81)
    assert get_contract("BINANCE:BTCUSD_PERP").notional_unit == "BTC"


def test_notional_unit_follows_the_kind():
    """Tier notionals are USD for linear, the coin for inverse, the settlement coin for quanto."""
    assert get_contract("BINANCE:BTCUSDT").notional_unit == "USD"
    assert get_contract("BINANCE:ETHUSD_PERP").notional_unit == "ETH"
    quanto = custom_contract("quanto", 1e-6, 1.0, 1.0, underlying="ETH", settlement_currency="BTC")
    assert quanto.notional_unit == "BTC"


def test_get_contract_is_case_insensitive_and_strips():
    """Names are matched without regard to case or surrounding spaces."""
    assert get_contract("  okx:btc-usd-swap ") is CATALOGUE["OKX:BTC-USD-SWAP"]


def test_get_contract_unknown_name_lists_known_names():
    """An unknown name raises UnknownNameError whose message lists the known names."""
    with pytest.raises(UnknownNameError, match=r"name must be one of .*BINANCE:BTCUSDT"):
        get_contract("KRAKEN:PI_XBTUSD")
    with pytest.raises(InputTypeError, match="name must be text"):
        get_contract(42)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- one contract


def test_cme_ether_contract_notional_matches_cme_example():
    """CME's example: at a reference rate of $400 one 50-ether contract is worth $20,000."""
    # https://www.cmegroup.com/education/courses/introduction-to-ether/
    # ether-futures-product-overview.html (read 2026-11-25).
    assert get_contract("CME:ETH").contract_notional_usd(400.0) == 20_000.0


def test_inverse_contract_notional_is_price_independent():
    """An inverse contract is worth its USD size at any price (Binance COIN-M: 100 USD)."""
    # Binance COIN-M specifications, https://www.binance.com/en/support/faq/
    # a4470430e3164c13932be8967961aede: "the contract multiplier for BTC ... is 100 USD".
    spec = get_contract("BINANCE:BTCUSD_PERP")
    assert spec.contract_notional_usd(20_000.0) == spec.contract_notional_usd(90_000.0) == 100.0


def test_quanto_contract_notional_needs_the_btc_price():
    """A quanto contract is worth multiplier x F x BTC price, and needs that BTC price."""
    spec = custom_contract("quanto", 1e-6, 1.0, 1.0, underlying="ETH", settlement_currency="BTC")
    # 0.000001 BTC per $1 x 2,000 $/ETH x 50,000 $/BTC = 100 USD
    assert spec.contract_notional_usd(2_000.0, btc_price_usd=50_000.0) == pytest.approx(100.0)
    with pytest.raises(DomainError, match="btc_price_usd must be given"):
        spec.contract_notional_usd(2_000.0)


# ----------------------------------------------------------------------------- sizing


def test_bitmex_guide_example_contracts_and_coin_value():
    """BitMEX's guide: 15,000 XBTUSD contracts at 750 USD are worth 20 XBT."""
    # https://www.bitmex.com/app/perpetualContractsGuideExamples (read 2026-11-25):
    # "XBT Entry Value = 15,000 Contracts * 1 USD * 1/750 = 20 XBT".
    sizing = contracts_for_notional(15_000.0, 750.0, get_contract("BITMEX:XBTUSD"))
    assert sizing.contracts == 15_000.0
    assert sizing.hedged_notional_usd / 750.0 == pytest.approx(20.0)
    assert sizing.residual_notional_usd == 0.0


def test_bybit_inverse_example_position_value():
    """Bybit's example: 60,000 USD of BTCUSD at 50,000 is 60,000 contracts worth 1.2 BTC."""
    # Bybit "Liquidation Price Calculation under Isolated Mode (Unified Trading Account)",
    # https://bybit.nl/nl-NL/help-center/article/Liquidation-Price-Calculation-under-Isolated-
    # Mode-Unified-Trading-Account (2024-09-10): "Position Value = 60,000 / 50,000 = 1.2 BTC".
    sizing = contracts_for_notional(60_000.0, 50_000.0, get_contract("BYBIT:BTCUSD"))
    assert sizing.contracts == 60_000.0
    assert sizing.hedged_notional_usd / 50_000.0 == pytest.approx(1.2)


def test_binance_coinm_contracts_are_notional_over_100_usd_at_any_price():
    """With 100 USD contracts, $1,000,000 is 10,000 contracts whatever the price."""
    spec = get_contract("BINANCE:BTCUSD_PERP")
    for price in (25_000.0, 60_000.0, 120_000.0):
        assert contracts_for_notional(1_000_000.0, price, spec).contracts == 10_000.0


def test_linear_contracts_are_notional_over_price_times_size():
    """Linear: N = V / (F x S); $1,000,000 at 62,500 is 16 BTC or 1,600 OKX 0.01-BTC contracts."""
    assert contracts_for_notional(1e6, 62_500.0, get_contract("BINANCE:BTCUSDT")).contracts == 16.0
    okx = contracts_for_notional(1e6, 62_500.0, get_contract("OKX:BTC-USDT-SWAP"))
    assert okx.contracts == 1_600.0
    # CME: 1e6 / (62,500 x 5) = 3.2 -> 3 contracts, residual 1e6 - 3 x 312,500 = 62,500
    cme = contracts_for_notional(1e6, 62_500.0, get_contract("CME:BTC"))
    assert (cme.contracts, cme.residual_notional_usd) == (3.0, 62_500.0)


def test_quanto_contracts_use_the_btc_price():
    """Quanto: N = V / (F x m x BTC); $100,000 of 100-USD contracts is 1,000 contracts."""
    spec = custom_contract("quanto", 1e-6, 1.0, 1.0, underlying="ETH", settlement_currency="BTC")
    sizing = contracts_for_notional(100_000.0, 2_000.0, spec, btc_price_usd=50_000.0)
    assert sizing.contracts == pytest.approx(1_000.0)
    with pytest.raises(DomainError, match="btc_price_usd must be given"):
        contracts_for_notional(100_000.0, 2_000.0, spec)


def test_residual_and_residual_beta():
    """Residual = notional - hedged; residual beta = residual / portfolio value, else None."""
    spec = get_contract("BINANCE:BTCUSD_PERP")
    s = contracts_for_notional(1_000_050.0, 65_000.0, spec, portfolio_value_usd=2_000_000.0)
    # 10,000.5 contracts -> 10,001 (tie away from zero); hedged 1,000,100; residual -50
    assert s.contracts_exact == pytest.approx(10_000.5)
    assert s.contracts == 10_001.0
    assert s.residual_notional_usd == pytest.approx(-50.0)
    assert s.residual_beta == pytest.approx(-50.0 / 2_000_000.0)
    assert contracts_for_notional(1_000_050.0, 65_000.0, spec).residual_beta is None


def test_rounding_modes_and_sign():
    """'down' trades fewer contracts and 'up' more, by magnitude; the sign follows the notional."""
    spec = get_contract("BINANCE:BTCUSD_PERP")  # 100 USD contracts
    assert contracts_for_notional(1_234.0, 1.0, spec, rounding="down").contracts == 12.0
    assert contracts_for_notional(1_234.0, 1.0, spec, rounding="up").contracts == 13.0
    assert contracts_for_notional(1_234.0, 1.0, spec, rounding="nearest").contracts == 12.0
    assert contracts_for_notional(-1_234.0, 1.0, spec, rounding="down").contracts == -12.0
    assert contracts_for_notional(-1_234.0, 1.0, spec, rounding="up").contracts == -13.0
    assert contracts_for_notional(-1_250.0, 1.0, spec).contracts == -13.0  # tie away from zero
    assert contracts_for_notional(0.0, 1.0, spec).contracts == 0.0


def test_rounding_is_robust_to_float_noise():
    """0.3 of a 0.1 step is 3 lots in every mode although 0.3/0.1 = 2.9999999999999996."""
    spec = custom_contract("linear", 1.0, 0.1, 0.1)
    assert 0.3 / 0.1 < 3.0  # the float noise being guarded against
    assert (0.1 + 0.2) / 0.1 > 3.0
    for notional in (0.3, 0.1 + 0.2):
        for mode in ("nearest", "down", "up"):
            sizing = contracts_for_notional(notional, 1.0, spec, rounding=mode)
            assert sizing.contracts == 0.3, (notional, mode)


def test_below_minimum_quantity_sets_contracts_to_zero():
    """A quantity rounding under the minimum is zeroed and flagged; the residual is the notional."""
    xbt = get_contract("BITMEX:XBTUSD")  # lot 100 contracts of 1 USD
    small = contracts_for_notional(40.0, 60_000.0, xbt)
    assert (small.contracts, small.below_minimum, small.residual_notional_usd) == (0.0, True, 40.0)
    assert contracts_for_notional(149.0, 60_000.0, xbt).contracts == 100.0
    assert contracts_for_notional(150.0, 60_000.0, xbt).contracts == 200.0
    spec = custom_contract("linear", 1.0, 0.001, 0.01)  # step 0.001 BTC, minimum 0.01 BTC
    s = contracts_for_notional(0.005 * 60_000.0, 60_000.0, spec)
    assert (s.contracts, s.below_minimum) == (0.0, True)
    assert not contracts_for_notional(0.01 * 60_000.0, 60_000.0, spec).below_minimum


def test_below_minimum_notional_is_flagged_only():
    """An order under the venue's minimum notional (100 USDT for BTCUSDT) is flagged, not zeroed."""
    spec = get_contract("BINANCE:BTCUSDT")
    s = contracts_for_notional(60.0, 60_000.0, spec)  # 0.001 BTC x 60,000 = 60 USDT < 100
    assert (s.contracts, s.below_min_notional, s.below_minimum) == (0.001, True, False)
    assert not contracts_for_notional(120.0, 60_000.0, spec).below_min_notional


@settings(max_examples=200, deadline=None)
@given(
    notional=st.floats(-1e9, 1e9, allow_nan=False),
    price=st.floats(1.0, 1e6),
    step=st.sampled_from([0.001, 0.01, 0.1, 1.0, 100.0]),
    kind=st.sampled_from(["linear", "inverse"]),
    size=st.sampled_from([0.01, 0.1, 1.0, 5.0, 10.0, 100.0]),
)
def test_nearest_rounding_leaves_at_most_half_a_step(notional, price, step, kind, size):
    """Nearest rounding never leaves more than half a lot step unhedged, in contract units."""
    spec = custom_contract(kind, size, step, step)
    s = contracts_for_notional(notional, price, spec)
    assert abs(s.contracts - s.contracts_exact) <= step / 2 * (1 + 1e-9) + 1e-9 * abs(
        s.contracts_exact
    )
    assert s.contracts == 0.0 or math.copysign(1.0, s.contracts) == math.copysign(1.0, notional)


@settings(max_examples=100, deadline=None)
@given(notional=st.floats(0.0, 1e8), price=st.floats(1.0, 1e6))
def test_down_never_overhedges_and_up_never_underhedges(notional, price):
    """'down' keeps |contracts| <= |exact| and 'up' keeps |contracts| >= |exact| (within noise)."""
    spec = custom_contract("linear", 1.0, 0.001, 0.0)
    down = contracts_for_notional(notional, price, spec, rounding="down")
    up = contracts_for_notional(notional, price, spec, rounding="up")
    tol = 1e-9 * 0.001 + 1e-12 * down.contracts_exact
    assert down.contracts <= down.contracts_exact + tol
    assert up.contracts >= up.contracts_exact - tol
    assert up.contracts - down.contracts <= 0.001 * (1 + 1e-9) + tol


# ----------------------------------------------------------------------------- coin collateral


def test_inverse_hedge_with_coin_collateral_formula():
    """The face value to short is V + K x F: 100,000 + 0.5 x 60,000 = 130,000 USD."""
    assert inverse_hedge_with_coin_collateral(100_000.0, 0.5, 60_000.0) == 130_000.0
    assert inverse_hedge_with_coin_collateral(100_000.0, 0.0, 60_000.0) == 100_000.0


def test_inverse_hedge_with_coin_collateral_leaves_exactly_the_hedge_delta():
    """Collateral plus the short (BitMEX P&L formula) moves like a short of V/F BTC at any price."""
    # Inverse P&L per BitMEX's guide: contracts x multiplier x (1/entry - 1/exit) for a long,
    # so a short of face value W gains W (1/P - 1/F) BTC.
    v, k, f = 100_000.0, 0.5, 60_000.0
    w = inverse_hedge_with_coin_collateral(v, k, f)
    for p in (30_000.0, 60_000.0, 90_000.0, 150_000.0):
        account_usd = p * (k + w * (1.0 / p - 1.0 / f))
        linear_short_usd = k * f - (v / f) * (p - f)  # K F posted, short V/F BTC from F
        assert account_usd == pytest.approx(linear_short_usd, rel=1e-12)


# ----------------------------------------------------------------------------- validation


def _spec(**overrides):
    base = get_contract("CME:MBT")
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(ContractSpec)}
    fields.update(overrides)
    return ContractSpec(**fields)


def test_spec_validation_names_the_rule():
    """Bad sizes, steps, minimums and kinds raise typed errors naming the rule."""
    with pytest.raises(DomainError, match="contract_size must be > 0"):
        _spec(contract_size=0.0)
    with pytest.raises(DomainError, match="contract_size must be > 0"):
        custom_contract("linear", -1.0, 1.0, 1.0)
    with pytest.raises(DomainError, match="quantity_step must be > 0"):
        _spec(quantity_step=0.0)
    with pytest.raises(DomainError, match="min_quantity must be >= 0"):
        _spec(min_quantity=-1.0)
    with pytest.raises(UnknownNameError, match="kind must be one of"):
        _spec(kind="options")
    with pytest.raises(UnknownNameError, match="kind must be one of"):
        custom_contract("perpetual", 1.0, 1.0, 1.0)  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="contract_size must be a number"):
        _spec(contract_size="5")


def test_margin_tier_validation_names_the_rule():
    """Tiers need cap > floor and a rate in [0, 1); tables must be contiguous and continuous."""
    with pytest.raises(DomainError, match="notional_cap must be > notional_floor"):
        MarginTier(10.0, 10.0, 0.01, 0.0, 10.0)
    with pytest.raises(DomainError, match=r"maintenance_rate must be in \[0, 1\)"):
        MarginTier(0.0, 10.0, 1.0, 0.0, 10.0)
    t1 = MarginTier(0.0, 100.0, 0.01, 0.0, 50.0)
    with pytest.raises(DomainError, match="must be contiguous"):
        _spec(margin_tiers=(t1, MarginTier(200.0, 300.0, 0.02, 1.0, 20.0)))
    with pytest.raises(DomainError, match="continuous"):
        _spec(margin_tiers=(t1, MarginTier(100.0, 300.0, 0.02, 5.0, 20.0)))
    # 100 x (2% - 1%) + 0 = 1: the continuous amount is accepted
    assert _spec(margin_tiers=(t1, MarginTier(100.0, 300.0, 0.02, 1.0, 20.0))).margin_tiers


def test_sizing_bad_inputs_raise_typed_errors():
    """Non-positive prices, unknown rounding and a non-spec raise typed errors naming the rule."""
    spec = get_contract("BINANCE:BTCUSDT")
    with pytest.raises(DomainError, match="futures_price_usd must be > 0"):
        contracts_for_notional(1e6, 0.0, spec)
    with pytest.raises(DomainError, match="futures_price_usd must be > 0"):
        contracts_for_notional(1e6, -5.0, get_contract("BINANCE:BTCUSD_PERP"))
    with pytest.raises(UnknownNameError, match="rounding must be one of"):
        contracts_for_notional(1e6, 60_000.0, spec, rounding="banker")  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="spec must be a ContractSpec"):
        contracts_for_notional(1e6, 60_000.0, "BINANCE:BTCUSDT")  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="portfolio_value_usd must be > 0"):
        contracts_for_notional(1e6, 60_000.0, spec, portfolio_value_usd=0.0)
    with pytest.raises(DomainError, match="notional_usd must be finite"):
        contracts_for_notional(math.nan, 60_000.0, spec)
    with pytest.raises(DomainError, match="collateral_btc must be >= 0"):
        inverse_hedge_with_coin_collateral(1e5, -1.0, 60_000.0)
