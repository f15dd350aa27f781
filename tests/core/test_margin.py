"""Tests of liquidation prices and margin buffers (betaneutral.core.margin)."""

from __future__ import annotations

import dataclasses
import math

import pytest
from exchange_tables import FAQ_COINM_TIERS
from hypothesis import given, settings
from hypothesis import strategies as st

from betaneutral.core.contracts import MarginTier, custom_contract, get_contract
from betaneutral.core.margin import (
    liquidation_price_short,
    maintenance_for_notional,
    margin_buffer,
    max_rally_before_liquidation,
)
from betaneutral.errors import DomainError, InputTypeError, UnknownNameError

USDM = get_contract("BINANCE:BTCUSDT").margin_tiers  # USD notional brackets
COINM = FAQ_COINM_TIERS  # BTC notional brackets of the FAQ


# ----------------------------------------------------------------------------- brackets


def test_binance_usdm_bracket_lookup_matches_the_faq_examples():
    """Binance's FAQ: 264,000 USDT of BTCUSDT has MMR 1%; 500,000 USDT has amount 1,300 USDT."""
    # https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93 (read 2026-11-25)
    assert maintenance_for_notional(264_000.0, USDM)[0] == 0.01
    assert maintenance_for_notional(500_000.0, USDM) == (0.01, pytest.approx(1_300.0))


def test_binance_coinm_bracket_lookup_matches_the_faq_example():
    """Binance's COIN-M FAQ: a 300 BTC BTCUSD position has MMR 12.5% and amount 11.81 BTC."""
    # https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46 (read 2026-11-25)
    rate, amount = maintenance_for_notional(300.0, COINM)
    assert rate == 0.125
    assert amount == pytest.approx(11.81)


def test_bracket_edges_belong_to_the_lower_bracket_and_margin_is_continuous():
    """A notional equal to a cap is in the lower bracket; MM is the same from either side."""
    assert maintenance_for_notional(50_000.0, USDM) == (0.004, 0.0)
    assert maintenance_for_notional(50_000.01, USDM)[0] == 0.005
    assert maintenance_for_notional(0.0, USDM) == (0.004, 0.0)
    for tier in USDM[:-1]:
        cap = tier.notional_cap
        lo, hi = maintenance_for_notional(cap, USDM), maintenance_for_notional(cap * 1.0001, USDM)
        mm_lo = cap * lo[0] - lo[1]
        mm_hi_at_cap = cap * hi[0] - hi[1]
        assert mm_lo == pytest.approx(mm_hi_at_cap, rel=1e-12)
    # beyond the last cap (500M) the last bracket is extended
    assert maintenance_for_notional(6e8, USDM)[0] == 0.5
    assert maintenance_for_notional(1234.0, 0.007) == (0.007, 0.0)


# ----------------------------------------------------------------------------- official examples


def test_bybit_usdt_short_liquidation_example():
    """Bybit's USDT example: 1 BTC short at 8,000 with 40x (MMR 0.5%) liquidates at 8,160."""
    # https://help.bybit.com/hc/en-us/articles/900000181046-Liquidation-Price-USDT-Contract-
    # (read 2026-11-25): "Liquidation Price = 8,000 USDT * (1 + 2.5% - 0.5%) = 8160 USDT".
    # Bybit takes the maintenance margin at the entry value: MM = 8,000 x 0.5% = 40, and
    # isolated margin = 8,000 / 40 = 200, so P = 8,000 + (200 - 40) / 1 = 8,160.
    price = liquidation_price_short(
        get_contract("BYBIT:BTCUSDT"), 1.0, 8_000.0, 200.0, maintenance_basis="entry"
    )
    assert price == pytest.approx(8_160.0, abs=0.005)


def test_linear_liquidation_with_maintenance_at_the_mark_differs_from_bybit_entry_rule():
    """Binance's rule (MM at the liquidation price) gives 8,200 / 1.005 for the same short."""
    # WB + Q (E - P) = Q P MMR  ->  P = (WB + Q E) / (Q (1 + MMR)) = 8,200 / 1.005 = 8,159.20
    price = liquidation_price_short(
        "linear", 1.0, 8_000.0, 200.0, maintenance=0.005, contract_size=1.0
    )
    assert price == pytest.approx(8_200.0 / 1.005, rel=1e-12)
    assert round(price, 2) == 8_159.20


def test_bybit_inverse_short_liquidation_example_entry_rule():
    """Bybit's inverse example: 60,000 USD short at 50,000, 10x, MMR 0.5% -> 55,248.62."""
    # Bybit "Liquidation Price Calculation under Isolated Mode (Unified Trading Account)",
    # https://bybit.nl/nl-NL/help-center/article/Liquidation-Price-Calculation-under-Isolated-
    # Mode-Unified-Trading-Account (dated 2024-09-10): LP(short) = Qty / [PV - (IM - MM)],
    # PV = 60,000 / 50,000 = 1.2 BTC, IM = 1.2 / 10 = 0.12 BTC, MM = 1.2 x 0.5% = 0.006 BTC.
    # The stored copy of the page stops before its final figure; by the page's formula
    # LP = 60,000 / (1.2 - 0.114) = 60,000 / 1.086 = 55,248.62.
    price = liquidation_price_short(
        get_contract("BYBIT:BTCUSD"), 60_000.0, 50_000.0, 0.12, maintenance_basis="entry"
    )
    assert price == pytest.approx(60_000.0 / 1.086, rel=1e-12)
    assert round(price, 2) == 55_248.62


def test_bybit_inverse_short_liquidation_current_formula():
    """Bybit's current inverse formula (MM at the mark) gives 55,277.78 for that short."""
    # Same article, version "Last updated 2026-05-27" (kbybit.com/en/help-center/article/
    # Liquidation-Price-Calculation-under-Isolated-Mode-Unified-Trading-Account):
    # LP(short) = [PS x (1 - MMR)] / [PS/E - PS/E/Lev - extra/(1 - fee) - MM deduction].
    # 60,000 x 0.995 / (1.2 - 0.12) = 59,700 / 1.08 = 55,277.78 (no extra margin, deduction 0).
    price = liquidation_price_short(get_contract("BYBIT:BTCUSD"), 60_000.0, 50_000.0, 0.12)
    assert price == pytest.approx(59_700.0 / 1.08, rel=1e-12)
    assert round(price, 2) == 55_277.78


def test_bitmex_guide_inverse_loss_is_the_loss_at_stress():
    """BitMEX's example P&L 15,000 x (1/750 - 1/800) = 1.25 XBT is the short's loss at 800."""
    # https://www.bitmex.com/app/perpetualContractsGuideExamples (read 2026-11-25): the long made
    # 1.25 XBT when XBTUSD rose from 750 to 800, so a short of the same size loses 1.25 XBT.
    buf = margin_buffer(15_000.0, 750.0, 800.0 / 750.0 - 1.0, maintenance=0.0, kind="inverse")
    assert buf.loss_at_stress == pytest.approx(1.25, rel=1e-12)
    assert buf.collateral == pytest.approx(1.25, rel=1e-12)
    assert buf.collateral_usd_at_entry == pytest.approx(1.25 * 750.0)


# ----------------------------------------------------------------------------- hand-derived


def test_linear_bracket_is_chosen_at_the_liquidation_notional():
    """4 BTC short at 60,000 with 24,000 USDT: entry in bracket 2, liquidation in bracket 3."""
    # Entry notional 240,000 (bracket 2: 0.5%, cum 50). Trying bracket 2:
    #   P = (24,000 + 50 + 240,000) / (4 x 1.005) = 65,684.08 -> notional 262,736 > 250,000: wrong.
    # Bracket 3 (1%, cum 1,300): P = (24,000 + 1,300 + 240,000) / (4 x 1.01) = 65,668.32,
    #   notional 262,673 in (250,000, 1,000,000]: consistent.
    price = liquidation_price_short(get_contract("BINANCE:BTCUSDT"), 4.0, 60_000.0, 24_000.0)
    assert price == pytest.approx(265_300.0 / 4.04, rel=1e-12)


def test_inverse_bracket_is_chosen_at_the_liquidation_notional():
    """30,000 BTCUSD contracts (3M USD) at 60,000 with 22 BTC: the rally moves the notional down."""
    # Entry coin notional 3,000,000 / 60,000 = 50 BTC (bracket 30-50: 2.5%, cum 0.56).
    # Bracket 4: P = 3e6 x 0.975 / (50 - 22 - 0.56) = 106,596 -> notional 28.14 BTC < 30: wrong.
    # Bracket 3 (20-30 BTC: 1%, cum 0.11): P = 3e6 x 0.99 / (50 - 22 - 0.11) = 106,489.78,
    #   notional 28.17 BTC in (20, 30]: consistent.
    spec = dataclasses.replace(get_contract("BINANCE:BTCUSD_PERP"), margin_tiers=FAQ_COINM_TIERS)
    price = liquidation_price_short(spec, 30_000.0, 60_000.0, 22.0)
    assert price == pytest.approx(2_970_000.0 / 27.89, rel=1e-12)


def test_inverse_short_with_full_coin_collateral_is_never_liquidated():
    """With collateral >= face / entry (1.2 BTC for $60,000 at 50,000) no rally liquidates."""
    spec = get_contract("BYBIT:BTCUSD")
    assert liquidation_price_short(spec, 60_000.0, 50_000.0, 1.2) == math.inf
    assert liquidation_price_short(spec, 60_000.0, 50_000.0, 5.0) == math.inf
    # 1.19 BTC: P = 60,000 x 0.995 / (1.2 - 1.19) = 5,970,000
    assert liquidation_price_short(spec, 60_000.0, 50_000.0, 1.19) == pytest.approx(5_970_000.0)
    assert max_rally_before_liquidation(60_000.0, 50_000.0, 1.2, maintenance=0.005,
                                        kind="inverse") == math.inf


def test_closing_fee_is_reserved_as_extra_maintenance():
    """A 0.04% closing fee adds to the MMR: P = (1,000 + 10,000) / (1 x (1 + 0.005 + 0.0004))."""
    price = liquidation_price_short(
        "linear", 1.0, 10_000.0, 1_000.0, maintenance=0.005, contract_size=1.0, fee_rate=0.0004
    )
    assert price == pytest.approx(11_000.0 / 1.0054, rel=1e-12)
    # inverse: P = N C (1 - MMR - f) / (N C / E - WB) = 10,000 x 0.9946 / (1 - 0.1)
    inv = liquidation_price_short(
        "inverse", 100.0, 10_000.0, 0.1, maintenance=0.005, contract_size=100.0, fee_rate=0.0004
    )
    assert inv == pytest.approx(9_946.0 / 0.9, rel=1e-12)


def test_quanto_liquidation_uses_the_linear_form_in_the_settlement_coin():
    """Quanto: Q = contracts x multiplier; P = (WB + Q E) / (Q (1 + MMR)) with WB in BTC."""
    spec = custom_contract("quanto", 1e-6, 1.0, 1.0, underlying="ETH", settlement_currency="BTC",
                           maintenance_rate=0.01)
    # 10,000 contracts x 1e-6 = 0.01 BTC per $ of ETH; E = 2,000; WB = 4 BTC
    # P = (4 + 0.01 x 2,000) / (0.01 x 1.01) = 24 / 0.0101
    assert liquidation_price_short(spec, 10_000.0, 2_000.0, 4.0) == pytest.approx(24 / 0.0101)


def test_margin_buffer_linear_hand_example():
    """$100,000 short at 50,000, +50% stress, MMR 0.5%: WB = 2 x 75,000 x 1.005 - 100,000."""
    buf = margin_buffer(100_000.0, 50_000.0, 0.5, maintenance=0.005)
    assert buf.stress_price_usd == 75_000.0
    assert buf.loss_at_stress == pytest.approx(50_000.0)  # 2 BTC x 25,000
    assert buf.maintenance_at_stress == pytest.approx(750.0)  # 150,000 x 0.5%
    assert buf.collateral == pytest.approx(50_750.0)
    assert buf.leverage_at_entry == pytest.approx(100_000.0 / 50_750.0)
    doubled = margin_buffer(100_000.0, 50_000.0, 0.5, maintenance=0.005, safety_multiplier=2.0)
    assert doubled.collateral == pytest.approx(101_500.0)
    assert doubled.required == pytest.approx(50_750.0)


def test_margin_buffer_inverse_hand_example_with_fee():
    """$60,000 inverse short at 50,000, +20%: loss 1.2 - 1.0 BTC, MM 0.5% and fee 0.05% of 1 BTC."""
    buf = margin_buffer(60_000.0, 50_000.0, 0.2, maintenance=0.005, kind="inverse",
                        closing_fee_rate=0.0005)
    # notional at 60,000 = 1 BTC; loss = 60,000/50,000 - 1 = 0.2 BTC; MM 0.005; fee 0.0005
    assert buf.notional_at_stress == pytest.approx(1.0)
    assert buf.collateral == pytest.approx(0.2055, rel=1e-12)
    assert buf.collateral_unit == "coin"


def test_margin_buffer_is_zero_when_a_fall_needs_no_collateral():
    """A stress that is a fall larger than the maintenance needs no collateral (floored at 0)."""
    buf = margin_buffer(100_000.0, 50_000.0, -0.5, maintenance=0.005)
    assert buf.required < 0
    assert buf.collateral == 0.0


def test_max_rally_inverts_margin_buffer():
    """Posting the buffer for a +35% stress lets the price rally exactly 35% before liquidation."""
    for kind, tiers in (("linear", USDM), ("inverse", COINM)):
        buf = margin_buffer(5_000_000.0, 60_000.0, 0.35, maintenance=tiers, kind=kind)
        rally = max_rally_before_liquidation(
            5_000_000.0, 60_000.0, buf.collateral, maintenance=tiers, kind=kind
        )
        assert rally == pytest.approx(0.35, rel=1e-9)


# ----------------------------------------------------------------------------- properties


def _equity_minus_maintenance(kind, notional_usd, entry, collateral, price, tiers):
    """Equity less maintenance of an isolated short, written from the definitions."""
    if kind == "linear":
        q = notional_usd / entry
        n = q * price
        equity = collateral + q * (entry - price)
    else:
        n = notional_usd / price
        equity = collateral + notional_usd * (1.0 / price - 1.0 / entry)
    rate, amount = maintenance_for_notional(n, tiers)
    return equity - (n * rate - amount)


SCHEDULES = st.sampled_from(["flat", "usdm", "coinm"])


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["linear", "inverse"]),
    schedule=SCHEDULES,
    notional=st.floats(1_000.0, 2e8),
    entry=st.floats(1_000.0, 200_000.0),
    stress=st.floats(0.01, 3.0),
    flat_rate=st.floats(0.001, 0.1),
)
def test_short_survives_exactly_up_to_the_stress_price(
    kind, schedule, notional, entry, stress, flat_rate
):
    """With collateral = margin_buffer the short is liquidated exactly at the stress price."""
    tiers = {"flat": flat_rate, "usdm": USDM, "coinm": COINM}[schedule]
    if (kind == "linear") != (schedule != "coinm"):
        tiers = flat_rate  # tier units must match the kind (USD for linear, coin for inverse)
    buf = margin_buffer(notional, entry, stress, maintenance=tiers, kind=kind)
    contracts = notional / entry if kind == "linear" else notional
    liq = liquidation_price_short(kind, contracts, entry, buf.collateral, maintenance=tiers,
                                  contract_size=1.0)
    assert liq == pytest.approx(buf.stress_price_usd, rel=1e-9)
    below, above = buf.stress_price_usd * (1 - 1e-6), buf.stress_price_usd * (1 + 1e-6)
    assert _equity_minus_maintenance(kind, notional, entry, buf.collateral, below, tiers) > 0
    assert _equity_minus_maintenance(kind, notional, entry, buf.collateral, above, tiers) < 0


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["linear", "inverse"]),
    notional=st.floats(1_000.0, 1e8),
    entry=st.floats(1_000.0, 200_000.0),
    s1=st.floats(-0.99, 5.0),
    s2=st.floats(-0.99, 5.0),
    r1=st.floats(0.0, 0.5),
    r2=st.floats(0.0, 0.5),
)
def test_margin_buffer_is_monotone_in_stress_and_rate(kind, notional, entry, s1, s2, r1, r2):
    """The buffer never falls when the stress move or the maintenance rate rises."""
    lo_s, hi_s = sorted((s1, s2))
    lo_r, hi_r = sorted((r1, r2))
    tol = 1e-9 * notional
    a = margin_buffer(notional, entry, lo_s, maintenance=lo_r, kind=kind).collateral
    b = margin_buffer(notional, entry, hi_s, maintenance=lo_r, kind=kind).collateral
    c = margin_buffer(notional, entry, hi_s, maintenance=hi_r, kind=kind).collateral
    assert a <= b + tol
    assert b <= c + tol
    tiers = USDM if kind == "linear" else COINM
    t_lo = margin_buffer(notional, entry, lo_s, maintenance=tiers, kind=kind).collateral
    t_hi = margin_buffer(notional, entry, hi_s, maintenance=tiers, kind=kind).collateral
    assert t_lo <= t_hi + tol


# ----------------------------------------------------------------------------- bad inputs


def test_bad_inputs_raise_typed_errors_naming_the_rule():
    """Stress <= -100%, multiplier < 1, bad prices, rates, kinds and types raise typed errors."""
    with pytest.raises(DomainError, match="stress_move must be > -1"):
        margin_buffer(1e5, 50_000.0, -1.0, maintenance=0.005)
    with pytest.raises(DomainError, match="safety_multiplier must be >= 1"):
        margin_buffer(1e5, 50_000.0, 0.3, maintenance=0.005, safety_multiplier=0.5)
    with pytest.raises(DomainError, match="entry_price_usd must be > 0"):
        margin_buffer(1e5, 0.0, 0.3, maintenance=0.005)
    with pytest.raises(DomainError, match="entry_price_usd must be > 0"):
        liquidation_price_short("linear", 1.0, -1.0, 100.0, maintenance=0.005, contract_size=1.0)
    with pytest.raises(DomainError, match=r"maintenance must be in \[0, 1\)"):
        margin_buffer(1e5, 50_000.0, 0.3, maintenance=1.0)
    with pytest.raises(UnknownNameError, match="kind must be one of"):
        margin_buffer(
            1e5, 50_000.0, 0.3, maintenance=0.005, kind="quanto"  # type: ignore[arg-type]
        )
    with pytest.raises(UnknownNameError, match="spec_or_kind must be one of"):
        liquidation_price_short("options", 1.0, 1.0, 1.0, maintenance=0.005, contract_size=1.0)
    with pytest.raises(UnknownNameError, match="maintenance_basis must be one of"):
        liquidation_price_short(get_contract("BYBIT:BTCUSD"), 1.0, 1.0, 1.0,
                                maintenance_basis="index")  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="contracts must be > 0"):
        liquidation_price_short(get_contract("BYBIT:BTCUSD"), 0.0, 50_000.0, 1.0)
    with pytest.raises(DomainError, match="contract_size must be > 0"):
        liquidation_price_short("linear", 1.0, 1.0, 1.0, maintenance=0.005, contract_size=0.0)
    with pytest.raises(DomainError, match="contract_size must be given"):
        liquidation_price_short("linear", 1.0, 1.0, 1.0, maintenance=0.005)
    with pytest.raises(DomainError, match="has no published margin tiers"):
        liquidation_price_short(get_contract("CME:BTC"), 1.0, 60_000.0, 1e5)
    with pytest.raises(DomainError, match="collateral must be >= 0"):
        liquidation_price_short(get_contract("BYBIT:BTCUSD"), 1.0, 50_000.0, -1.0)
    with pytest.raises(InputTypeError, match="maintenance must be a rate or a sequence"):
        margin_buffer(1e5, 50_000.0, 0.3, maintenance="0.5%")  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match="spec_or_kind must be a ContractSpec"):
        liquidation_price_short(3, 1.0, 1.0, 1.0)  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="notional must be >= 0"):
        maintenance_for_notional(-1.0, USDM)
    with pytest.raises(DomainError, match="must start at notional 0"):
        maintenance_for_notional(1.0, [MarginTier(5.0, 10.0, 0.01, 0.0, 10.0)])
    with pytest.raises(DomainError, match="maintenance rate \\+ fee_rate must be < 1"):
        liquidation_price_short("inverse", 1.0, 1.0, 0.0, maintenance=0.6, contract_size=1.0,
                                fee_rate=0.5)


def test_a_checked_table_is_not_trusted_for_an_equal_but_different_list():
    """Tables already checked are recognised by identity only: after a valid tuple has been
    used, a list with a broken continuity, and a new tuple equal to the broken list, are
    still refused; the valid table keeps giving its own bracket."""
    good = (MarginTier(0.0, 100.0, 0.01, 0.0, 50.0), MarginTier(100.0, 300.0, 0.02, 1.0, 20.0))
    broken = [good[0], MarginTier(100.0, 300.0, 0.02, 5.0, 20.0)]
    for _ in range(3):  # 200 lies in the second bracket: rate 2%, amount 1
        assert maintenance_for_notional(200.0, good) == (0.02, 1.0)
    with pytest.raises(DomainError, match="continuous"):
        maintenance_for_notional(200.0, broken)
    with pytest.raises(DomainError, match="continuous"):
        maintenance_for_notional(200.0, tuple(broken))
