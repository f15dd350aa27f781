"""Liquidation price and margin buffer of a short futures hedge.

Scope: isolated margin, one-way position mode, one short position. The wallet
balance WB of the isolated position is the collateral posted for it, in the
settlement currency (USD for linear contracts, the coin for inverse contracts,
the settlement coin for quanto contracts).

Maintenance margin is tiered by position notional: in the bracket holding the
notional ``n``, ``MM = n * MMR - cum`` (``cum`` is the maintenance amount), which
is continuous in ``n``. By default (``maintenance_basis="mark"``, Binance's rule
and Bybit's current one) the bracket and the margin are taken at the notional at
the liquidation price. ``maintenance_basis="entry"`` computes the maintenance
margin once, at the entry notional, as in Bybit's earlier published formulas.
A catalogue contract carries its venue's basis (``ContractSpec.maintenance_basis``),
which :func:`liquidation_price_short` uses unless told otherwise.

One rule for the buffer and the liquidation price: :func:`margin_buffer` with a
basis and a closing fee rate gives the collateral with which
:func:`liquidation_price_short`, given the same basis and fee rate, returns
exactly the stress price.

An optional taker fee for closing the position is reserved as extra maintenance:
``fee = fee_rate * notional at the liquidation price``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from betaneutral.core._validate import as_float, choice, in_range, non_negative, positive
from betaneutral.core.contracts import (
    KINDS,
    MAINTENANCE_BASES,
    ContractSpec,
    MarginTier,
    tiers_tuple,
)
from betaneutral.errors import DomainError, InputTypeError

__all__ = [
    "MarginBuffer",
    "liquidation_price_short",
    "maintenance_for_notional",
    "margin_buffer",
    "max_rally_before_liquidation",
]

Maintenance = float | Sequence[MarginTier]
_BASES: tuple[str, ...] = MAINTENANCE_BASES


def _schedule(maintenance: object) -> tuple[MarginTier, ...]:
    """A bracket table from a flat rate or a sequence of tiers."""
    if isinstance(maintenance, (int, float)) and not isinstance(maintenance, bool):
        rate = in_range("maintenance", maintenance, 0.0, 1.0, high_inclusive=False)
        return (MarginTier(0.0, math.inf, rate, 0.0, math.inf),)
    if isinstance(maintenance, (str, bytes, bool)) or maintenance is None:
        raise InputTypeError(
            f"maintenance must be a rate or a sequence of MarginTier, got {maintenance!r}"
        )
    return tiers_tuple("maintenance", maintenance)


def _tier_for(notional: float, tiers: tuple[MarginTier, ...]) -> MarginTier:
    """Bracket with ``floor < notional <= cap`` (the first for 0, the last beyond its cap)."""
    for tier in tiers:
        if notional <= tier.notional_cap:
            return tier
    return tiers[-1]


def maintenance_for_notional(
    notional: float, tiers_or_rate: float | Sequence[MarginTier]
) -> tuple[float, float]:
    """Maintenance margin rate and amount of the bracket holding a position notional.

    Parameters
    ----------
    notional : float
        Position notional, >= 0, in the tiers' unit (USD for linear contracts, coin
        for inverse ones).
    tiers_or_rate : float or sequence of MarginTier
        Bracket table, or a flat maintenance rate in [0, 1) (amount 0).

    Returns
    -------
    tuple of float
        ``(maintenance_rate, maintenance_amount)``; the maintenance margin is
        ``notional * rate - amount``.

    Raises
    ------
    DomainError
        If the notional is negative, a rate is outside [0, 1) or the table is not
        contiguous and continuous.
    InputTypeError
        If ``tiers_or_rate`` is neither a number nor a sequence of MarginTier.

    Notes
    -----
    A notional belongs to the bracket with ``floor < notional <= cap`` (Binance's
    "0 < Position <= 50,000" convention). Above the last cap the last bracket is
    extended: the exchange would refuse such a position, which is not checked here.

    Examples
    --------
    >>> from betaneutral.core.contracts import get_contract
    >>> tiers = get_contract("BINANCE:BTCUSDT").margin_tiers
    >>> maintenance_for_notional(500_000.0, tiers)
    (0.01, 1300.0)
    >>> maintenance_for_notional(10_000.0, 0.005)
    (0.005, 0.0)
    """
    n = non_negative("notional", notional)
    tier = _tier_for(n, _schedule(tiers_or_rate))
    return tier.maintenance_rate, tier.maintenance_amount


def _liq_mark(
    kind: str, size: float, entry: float, wb: float, tiers: tuple[MarginTier, ...], fee: float
) -> float:
    """Liquidation price with maintenance at the liquidation notional (see module notes)."""
    if kind == "inverse":
        face = size  # N * C, USD
        coin_at_entry = face / entry

        # equity - maintenance as a function of the coin notional n = face / P
        def gap(n: float, t: MarginTier) -> float:
            return wb - coin_at_entry + n * (1.0 - t.maintenance_rate - fee) + t.maintenance_amount

        if gap(0.0, tiers[0]) >= 0.0:
            return math.inf
        for i, tier in enumerate(tiers):
            if i == len(tiers) - 1 or gap(tier.notional_cap, tier) >= 0.0:
                n = (coin_at_entry - wb - tier.maintenance_amount) / (
                    1.0 - tier.maintenance_rate - fee
                )
                return face / n
    # linear and quanto: Q = size (coin, or multiplier x contracts), notional n = Q P
    q = size

    def gap_lin(n: float, t: MarginTier) -> float:
        return wb + q * entry - n * (1.0 + t.maintenance_rate + fee) + t.maintenance_amount

    for i, tier in enumerate(tiers):
        if i == len(tiers) - 1 or gap_lin(tier.notional_cap, tier) <= 0.0:
            n = (wb + tier.maintenance_amount + q * entry) / (1.0 + tier.maintenance_rate + fee)
            return n / q
    raise AssertionError("unreachable: the last bracket always holds the root")


def _liq_entry(
    kind: str, size: float, entry: float, wb: float, tiers: tuple[MarginTier, ...], fee: float
) -> float:
    """Liquidation price with maintenance fixed at the entry notional."""
    if kind == "inverse":
        face = size
        n_entry = face / entry
        tier = _tier_for(n_entry, tiers)
        mm = n_entry * tier.maintenance_rate - tier.maintenance_amount
        denom = n_entry - wb + mm
        return math.inf if denom <= 0.0 else face * (1.0 - fee) / denom
    n_entry = size * entry
    tier = _tier_for(n_entry, tiers)
    mm = n_entry * tier.maintenance_rate - tier.maintenance_amount
    return (wb + n_entry - mm) / (size * (1.0 + fee))


def _check_fee(fee_rate: float, tiers: tuple[MarginTier, ...]) -> float:
    fee = in_range("fee_rate", fee_rate, 0.0, 1.0, high_inclusive=False)
    worst = max(t.maintenance_rate for t in tiers)
    if worst + fee >= 1.0:
        raise DomainError(
            f"maintenance rate + fee_rate must be < 1, got {worst!r} + {fee!r}"
        )
    return fee


def liquidation_price_short(
    spec_or_kind: ContractSpec | Literal["linear", "inverse", "quanto"],
    contracts: float,
    entry_price_usd: float,
    collateral: float,
    *,
    maintenance: float | Sequence[MarginTier] | None = None,
    contract_size: float | None = None,
    fee_rate: float = 0.0,
    maintenance_basis: Literal["mark", "entry"] | None = None,
) -> float:
    """Mark price at which an isolated short futures position is liquidated.

    Parameters
    ----------
    spec_or_kind : ContractSpec or {"linear", "inverse", "quanto"}
        The contract, or its kind (then ``contract_size`` and ``maintenance`` are required).
    contracts : float
        Number of contracts short, > 0.
    entry_price_usd : float
        Entry price E, USD per coin, > 0.
    collateral : float
        Isolated wallet balance WB >= 0 in the settlement currency: USD for linear,
        coin for inverse, settlement coin for quanto contracts.
    maintenance : float or sequence of MarginTier, optional
        Flat maintenance rate or bracket table; defaults to the spec's ``margin_tiers``.
    contract_size : float, optional
        Overrides (or, with a kind, supplies) the contract size: coin per contract
        (linear), USD per contract (inverse), multiplier (quanto).
    fee_rate : float, default 0
        Taker fee reserved for closing the position, fraction of notional.
    maintenance_basis : {"mark", "entry"}, optional
        Notional at which the maintenance margin is computed (see module notes);
        default the spec's ``maintenance_basis``, ``"mark"`` with a kind.

    Returns
    -------
    float
        Liquidation price in USD per coin; ``inf`` when a rally never liquidates the
        position (inverse contracts with collateral of at least the face value in coin).
        A value at or below the entry price means the position is under-margined
        already at entry.

    Raises
    ------
    InputTypeError
        If ``spec_or_kind`` is neither a ContractSpec nor text, or ``maintenance``
        has the wrong type.
    UnknownNameError
        If the kind or the basis is unknown.
    DomainError
        If a number is out of its domain, or no maintenance schedule is available.

    Notes
    -----
    Linear (and quanto, in the settlement coin), ``Q = contracts * contract_size``:
    liquidation when ``WB + Q (E - P) = Q P (MMR + f) - cum``, so

    ``P = (WB + cum + Q E) / (Q (1 + MMR + f))``

    with MMR and cum of the bracket holding the notional ``Q P``. The brackets are
    scanned in order and the first whose cap already violates the margin holds the
    root; equity minus maintenance is monotone in P, so the root is unique.

    Inverse, face value ``N C`` USD: equity ``WB + N C (1/P - 1/E)`` coin,
    maintenance ``(N C / P)(MMR + f) - cum`` coin, so

    ``P = N C (1 - MMR - f) / (N C / E - WB - cum)``

    with the bracket holding the coin notional ``N C / P``. If ``WB >= N C / E``
    (the first bracket has ``cum = 0``) the denominator never reaches 0 and a rally
    cannot liquidate the short: ``inf`` is returned. A 1x short of an inverse
    contract against coin collateral is a synthetic USD balance.

    With ``maintenance_basis="entry"`` the maintenance margin MM_E is computed at the
    entry notional: linear ``P = (WB + Q E - MM_E) / (Q (1 + f))``, inverse
    ``P = N C (1 - f) / (N C / E - WB + MM_E)``.

    Examples
    --------
    >>> round(liquidation_price_short("linear", 1.0, 8_000.0, 200.0,
    ...                               maintenance=0.005, contract_size=1.0), 2)
    8159.2
    >>> liquidation_price_short("inverse", 1.0, 50_000.0, 2.0,
    ...                         maintenance=0.005, contract_size=60_000.0)
    inf
    """
    if isinstance(spec_or_kind, ContractSpec):
        kind = spec_or_kind.kind
        size = spec_or_kind.contract_size
        if maintenance is None:
            if not spec_or_kind.margin_tiers:
                raise DomainError(
                    f"maintenance must be given: {spec_or_kind.name} has no published "
                    "margin tiers"
                )
            maintenance = spec_or_kind.margin_tiers
    elif isinstance(spec_or_kind, str):
        kind = choice("spec_or_kind", spec_or_kind, KINDS)
        if contract_size is None:
            raise DomainError("contract_size must be given (> 0) with a contract kind, got None")
        if maintenance is None:
            raise DomainError("maintenance must be given with a contract kind, got None")
        size = 0.0
    else:
        raise InputTypeError(
            f"spec_or_kind must be a ContractSpec or a kind name, got {type(spec_or_kind).__name__}"
        )
    if contract_size is not None:
        size = positive("contract_size", contract_size)
    n_contracts = positive("contracts", contracts)
    entry = positive("entry_price_usd", entry_price_usd)
    wb = non_negative("collateral", collateral)
    if maintenance_basis is None:
        maintenance_basis = (spec_or_kind.maintenance_basis  # type: ignore[assignment]
                             if isinstance(spec_or_kind, ContractSpec) else "mark")
    basis = choice("maintenance_basis", maintenance_basis, _BASES)
    tiers = _schedule(maintenance)
    fee = _check_fee(fee_rate, tiers)
    solve = _liq_mark if basis == "mark" else _liq_entry
    return solve(kind, n_contracts * size, entry, wb, tiers, fee)


@dataclass(frozen=True)
class MarginBuffer:
    """Collateral that keeps an isolated short alive up to a stress price.

    Amounts are in the settlement currency (USD for linear contracts, the coin for
    inverse ones) unless the name says USD.

    Attributes
    ----------
    kind : str
        "linear" or "inverse".
    collateral : float
        Collateral to post: ``max(required, 0) * safety_multiplier``.
    collateral_unit : str
        "USD" (linear) or "coin" (inverse).
    collateral_usd_at_entry : float
        ``collateral`` valued at the entry price.
    required : float
        ``loss_at_stress + maintenance_at_stress + closing_fee_at_stress`` (may be
        negative for a stress that is a fall).
    entry_price_usd, stress_price_usd : float
        Entry price E and stress price ``E (1 + stress_move)``.
    notional_at_stress : float
        Position notional at the stress price (USD for linear, coin for inverse).
    loss_at_stress : float
        Loss of the short at the stress price.
    maintenance_rate_at_stress, maintenance_amount_at_stress : float
        Bracket of the maintenance notional (the stress notional; the entry
        notional with ``maintenance_basis="entry"``).
    maintenance_at_stress : float
        ``notional_at_stress * rate - amount``.
    closing_fee_at_stress : float
        ``closing_fee_rate * notional_at_stress``.
    safety_multiplier : float
        Multiplier applied to the requirement.
    leverage_at_entry : float
        ``short_notional_usd / collateral_usd_at_entry`` (inf with no collateral, 0 with
        no position).
    """

    kind: str
    collateral: float
    collateral_unit: str
    collateral_usd_at_entry: float
    required: float
    entry_price_usd: float
    stress_price_usd: float
    notional_at_stress: float
    loss_at_stress: float
    maintenance_rate_at_stress: float
    maintenance_amount_at_stress: float
    maintenance_at_stress: float
    closing_fee_at_stress: float
    safety_multiplier: float
    leverage_at_entry: float


def margin_buffer(
    short_notional_usd: float,
    entry_price_usd: float,
    stress_move: float,
    *,
    maintenance: float | Sequence[MarginTier],
    kind: Literal["linear", "inverse"] = "linear",
    safety_multiplier: float = 1.0,
    closing_fee_rate: float = 0.0,
    maintenance_basis: Literal["mark", "entry"] = "mark",
) -> MarginBuffer:
    """Collateral an isolated short needs to survive a rally of ``stress_move``.

    Parameters
    ----------
    short_notional_usd : float
        USD notional of the short at entry, >= 0 (for inverse contracts, the face
        value ``N C``).
    entry_price_usd : float
        Entry price E, USD per coin, > 0.
    stress_move : float
        Price move to survive, ``0.30`` = +30 %; must be > -1.
    maintenance : float or sequence of MarginTier
        Flat maintenance rate or bracket table (USD notional for linear, coin for inverse).
    kind : {"linear", "inverse"}, default "linear"
        Contract kind.
    safety_multiplier : float, default 1
        Multiplier >= 1 applied to the requirement.
    closing_fee_rate : float, default 0
        Taker fee reserved for closing at the stress price, fraction of notional.
    maintenance_basis : {"mark", "entry"}, default "mark"
        Notional of the maintenance margin: at the stress price (``"mark"``) or
        at entry (``"entry"``), as :func:`liquidation_price_short`.

    Returns
    -------
    MarginBuffer
        Collateral (settlement currency) and its components.

    Raises
    ------
    DomainError
        If ``stress_move <= -1``, ``safety_multiplier < 1`` or another number is out
        of its domain.
    UnknownNameError
        If ``kind`` is not "linear" or "inverse".

    Notes
    -----
    Stress price ``P_s = E (1 + s)``. Linear, ``Q = V / E`` coins:

    ``WB = Q P_s (1 + MMR(P_s) + f) - Q E - cum(P_s)``

    = loss ``Q (P_s - E)`` + maintenance ``Q P_s MMR - cum`` + fee ``f Q P_s``.

    Inverse, face ``V`` USD, coin notional ``n_s = V / P_s``:

    ``WB = (V/E - V/P_s) + n_s MMR(n_s) - cum(n_s) + f n_s``  (coin)

    = loss in coin + maintenance + fee at the stress price. With
    ``maintenance_basis="entry"`` the maintenance term is taken at the entry
    notional instead (``Q E MMR - cum``, or ``V/E MMR - cum`` coin). In every case
    posting exactly ``WB`` puts the liquidation price of
    :func:`liquidation_price_short` (same basis, ``fee_rate = closing_fee_rate``)
    at ``P_s``. The requirement is floored at 0 and
    then multiplied by ``safety_multiplier``.

    Examples
    --------
    >>> b = margin_buffer(100_000.0, 50_000.0, 0.5, maintenance=0.005)
    >>> round(b.collateral, 2), b.stress_price_usd
    (50750.0, 75000.0)
    """
    value = non_negative("short_notional_usd", short_notional_usd)
    entry = positive("entry_price_usd", entry_price_usd)
    move = in_range("stress_move", stress_move, -1.0, None, low_inclusive=False)
    canon = choice("kind", kind, ("linear", "inverse"))
    mult = in_range("safety_multiplier", safety_multiplier, 1.0, None)
    tiers = _schedule(maintenance)
    fee = in_range("closing_fee_rate", closing_fee_rate, 0.0, 1.0, high_inclusive=False)
    basis = choice("maintenance_basis", maintenance_basis, _BASES)
    stress = entry * (1.0 + move)

    if canon == "linear":
        q = value / entry
        notional = q * stress
        loss = q * (stress - entry)
    else:
        notional = value / stress
        loss = value / entry - notional
    mm_notional = notional if basis == "mark" else (value if canon == "linear" else value / entry)
    tier = _tier_for(mm_notional, tiers)
    mm = mm_notional * tier.maintenance_rate - tier.maintenance_amount
    fee_amount = fee * notional
    required = loss + mm + fee_amount
    collateral = max(required, 0.0) * mult
    usd = collateral if canon == "linear" else collateral * entry
    if not (math.isfinite(collateral) and math.isfinite(usd)):
        raise DomainError(f"the margin buffer must be finite, got {collateral!r} for "
                          f"short_notional_usd {value!r} at entry {entry!r} (beyond the float "
                          f"range)")
    return MarginBuffer(
        kind=canon,
        collateral=collateral,
        collateral_unit="USD" if canon == "linear" else "coin",
        collateral_usd_at_entry=usd,
        required=required,
        entry_price_usd=entry,
        stress_price_usd=stress,
        notional_at_stress=notional,
        loss_at_stress=loss,
        maintenance_rate_at_stress=tier.maintenance_rate,
        maintenance_amount_at_stress=tier.maintenance_amount,
        maintenance_at_stress=mm,
        closing_fee_at_stress=fee_amount,
        safety_multiplier=mult,
        leverage_at_entry=(0.0 if value == 0.0 else math.inf) if usd == 0.0 else value / usd,
    )


def max_rally_before_liquidation(
    short_notional_usd: float,
    entry_price_usd: float,
    collateral: float,
    *,
    maintenance: float | Sequence[MarginTier],
    kind: Literal["linear", "inverse"] = "linear",
    closing_fee_rate: float = 0.0,
    maintenance_basis: Literal["mark", "entry"] = "mark",
) -> float:
    """How far the price can rally before an isolated short is liquidated.

    Parameters
    ----------
    short_notional_usd : float
        USD notional (inverse: face value) of the short at entry, > 0.
    entry_price_usd : float
        Entry price E, USD per coin, > 0.
    collateral : float
        Isolated wallet balance, >= 0: USD for linear, coin for inverse contracts.
    maintenance : float or sequence of MarginTier
        Flat maintenance rate or bracket table.
    kind : {"linear", "inverse"}, default "linear"
        Contract kind.
    closing_fee_rate : float, default 0
        Taker fee reserved for closing, fraction of notional.
    maintenance_basis : {"mark", "entry"}, default "mark"
        See :func:`liquidation_price_short`.

    Returns
    -------
    float
        ``P_liq / E - 1`` (0.30 = the short survives a 30 % rally); ``inf`` when no
        rally liquidates it; <= 0 when it is under-margined at entry.

    Raises
    ------
    DomainError
        If a number is out of its domain.
    UnknownNameError
        If ``kind`` or ``maintenance_basis`` is unknown.

    Notes
    -----
    The inverse question of :func:`margin_buffer`: the position is sized as
    ``Q = V / E`` coins of a 1-coin linear contract, or ``V`` one-dollar inverse
    contracts, and :func:`liquidation_price_short` gives ``P_liq``.

    Examples
    --------
    >>> round(max_rally_before_liquidation(100_000.0, 50_000.0, 50_750.0,
    ...                                    maintenance=0.005), 12)
    0.5
    >>> max_rally_before_liquidation(100_000.0, 50_000.0, 2.0, maintenance=0.005,
    ...                              kind="inverse")
    inf
    """
    value = positive("short_notional_usd", short_notional_usd)
    entry = positive("entry_price_usd", entry_price_usd)
    canon = choice("kind", kind, ("linear", "inverse"))
    size = 1.0
    contracts = value / entry if canon == "linear" else value
    liq = liquidation_price_short(
        canon,  # type: ignore[arg-type]
        contracts,
        entry,
        as_float("collateral", collateral),
        maintenance=maintenance,
        contract_size=size,
        fee_rate=closing_fee_rate,
        maintenance_basis=maintenance_basis,
    )
    return math.inf if math.isinf(liq) else liq / entry - 1.0
