"""Hedge scenarios: book, hedge and margin account across a grid of BTC moves.

For each BTC move the table shows the spot book's beta-implied P&L, the short
futures P&L, their sum, and the state of the isolated margin account of the
short (equity, maintenance margin, liquidated or not). It answers the seed's
warning: a hedge can be economically flat and still be liquidated on a rally if
its margin account is under-funded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from betaneutral.core._validate import FloatArray, float_array, non_negative, positive
from betaneutral.core.contracts import ContractSpec, MarginTier
from betaneutral.core.margin import maintenance_for_notional
from betaneutral.core.portfolio import book_arrays
from betaneutral.errors import DomainError, InputTypeError, InsufficientDataError

__all__ = ["SCENARIO_COLUMNS", "hedge_scenarios"]

#: Columns of the table returned by :func:`hedge_scenarios`, in order.
SCENARIO_COLUMNS: tuple[str, ...] = (
    "btc_move",
    "btc_price_usd",
    "unhedged_pnl_usd",
    "hedge_pnl_usd",
    "hedged_pnl_usd",
    "margin_equity",
    "margin_equity_usd",
    "maintenance_margin_usd",
    "liquidated",
)


def _moves(btc_moves: Any) -> FloatArray:
    if btc_moves is None:
        return np.linspace(-0.30, 0.30, 13)
    m = float_array("btc_moves", btc_moves)
    m = m.reshape(1) if m.ndim == 0 else m
    if m.ndim != 1:
        raise InputTypeError(f"btc_moves must be 1-dimensional, got shape {m.shape}")
    if m.size == 0:
        raise InsufficientDataError("btc_moves must contain at least 1 move, got 0")
    bad = np.flatnonzero(np.isnan(m) | (m <= -1.0))
    if bad.size:
        i = int(bad[0])
        raise DomainError(f"btc_moves[{i}] must be > -1 (a price above 0), got {float(m[i])!r}")
    return m


def hedge_scenarios(
    values_usd: Any,
    betas: Any,
    *,
    short_contracts: float,
    spec: ContractSpec,
    entry_price_usd: float,
    collateral: float,
    btc_moves: Any = None,
    maintenance: float | Sequence[MarginTier] | None = None,
    btc_price_usd: float | None = None,
) -> pd.DataFrame:
    """P&L of the book, the hedge and the margin account for a grid of BTC moves.

    Parameters
    ----------
    values_usd : float or array_like of float
        Position values of the spot book in USD; shorts negative.
    betas : float or array_like of float
        Betas to BTC, same length.
    short_contracts : float
        Contracts short, > 0.
    spec : ContractSpec
        The BTC futures contract (linear or inverse, underlying BTC).
    entry_price_usd : float
        Entry price E of the short, USD per BTC, > 0.
    collateral : float
        Isolated wallet balance of the short, >= 0, in the settlement currency:
        USD(T) for linear contracts, BTC for inverse ones.
    btc_moves : array_like of float, optional
        BTC moves, 0.10 = +10 %, each > -1. Default: -30 % to +30 % in 5 % steps.
    maintenance : float or sequence of MarginTier, optional
        Flat maintenance rate or bracket table (USD notional for linear, BTC notional
        for inverse); defaults to ``spec.margin_tiers``.
    btc_price_usd : float, optional
        Current BTC price P0 from which the moves are applied; defaults to
        ``entry_price_usd`` (a hedge opened now).

    Returns
    -------
    pandas.DataFrame
        One row per move, columns :data:`SCENARIO_COLUMNS`:

        * ``btc_move``; ``btc_price_usd`` = P = P0 (1 + move).
        * ``unhedged_pnl_usd`` = sum V_i b_i * move, the beta-implied spot P&L.
        * ``hedge_pnl_usd``: P&L of the short futures from P0 to P, USD (see Notes).
        * ``hedged_pnl_usd`` = unhedged + hedge.
        * ``margin_equity``: equity of the isolated account at P, settlement currency.
        * ``margin_equity_usd``: the same in USD (times P for inverse contracts).
        * ``maintenance_margin_usd``: maintenance margin at P in USD.
        * ``liquidated``: bool, see Notes.

    Raises
    ------
    InputTypeError
        If ``spec`` is not a ContractSpec or an input is not numeric.
    DomainError
        A quanto contract or an underlying other than BTC, a price <= 0, a move <= -1,
        NaN in the book, negative collateral, or no maintenance schedule (the contract
        publishes none and ``maintenance`` is not given).
    InsufficientDataError
        Empty book, mismatched lengths or an empty grid of moves.

    Notes
    -----
    The futures price is assumed to move by the same percentage as BTC (constant
    proportional basis, i.e. zero basis change); basis risk is not modelled.
    Funding and fees are ignored.

    Hedge P&L from P0 to P for N contracts short:

    * linear, S coin per contract: ``N S (P0 - P)`` USD (``N S (E - P)`` when P0 = E);
    * inverse, C USD per contract: ``N C (1/P - 1/P0)`` BTC, converted to USD at P,
      which equals ``N C (1 - P/P0)``. The BTC collateral's own price change is not
      included: count coin collateral as a spot holding with beta 1.

    Margin account (from the entry price E): linear equity ``WB + N S (E - P)`` USD and
    maintenance ``n MMR - cum`` with the USD notional ``n = N S P``; inverse equity
    ``WB + N C (1/P - 1/E)`` BTC and maintenance ``n MMR - cum`` BTC with the coin
    notional ``n = N C / P``. The bracket is the one holding ``n``. Equity and
    maintenance are shown marked at P as if the position were still open, so a
    liquidated row shows how deep under maintenance the account would be.

    Liquidation rule: a scenario is a monotone path from P0 to P. The short is
    liquidated when equity <= maintenance anywhere on the path; since equity minus
    maintenance falls as the price rises, this is checked at ``max(P0, P)``. Once
    liquidated, the position is closed and the whole equity the account held at P0
    is lost: ``hedge_pnl_usd = -max(equity(P0), 0)`` in USD (at P0 for linear contracts;
    the lost BTC at P for inverse ones, consistent with the coin P&L convention).
    With P0 = E this is ``-collateral``: the hedge stops hedging and the spot book's
    gain above the liquidation price is unprotected.

    Examples
    --------
    One 1-BTC linear contract short at 60,000 against 60,000 USD of beta 1, with
    6,000 USD of collateral and 0.5 % maintenance: liquidation near 65,672, so at
    +9.5 % the hedge loses the 6,000 collateral while the book gains 5,700.

    >>> from betaneutral.core.contracts import custom_contract
    >>> spec = custom_contract("linear", 1.0, 0.001, 0.001, maintenance_rate=0.005)
    >>> t = hedge_scenarios(60_000, 1.0, short_contracts=1.0, spec=spec,
    ...                     entry_price_usd=60_000.0, collateral=6_000.0,
    ...                     btc_moves=[-0.1, 0.09, 0.095])
    >>> t["hedge_pnl_usd"].round(6).tolist(), t["liquidated"].tolist()
    ([6000.0, -5400.0, -6000.0], [False, False, True])
    """
    if not isinstance(spec, ContractSpec):
        raise InputTypeError(f"spec must be a ContractSpec, got {type(spec).__name__}")
    if spec.kind not in ("linear", "inverse"):
        raise DomainError(
            f"spec.kind must be 'linear' or 'inverse' for BTC scenarios, got {spec.kind!r}"
        )
    if spec.underlying.upper() != "BTC":
        raise DomainError(
            f"spec.underlying must be 'BTC' for BTC scenarios, got {spec.underlying!r}"
        )
    v, b = book_arrays(values_usd, ("betas", betas))
    n = positive("short_contracts", short_contracts)
    entry = positive("entry_price_usd", entry_price_usd)
    wb = non_negative("collateral", collateral)
    p0 = entry if btc_price_usd is None else positive("btc_price_usd", btc_price_usd)
    moves = _moves(btc_moves)
    if maintenance is None:
        if not spec.margin_tiers:
            raise DomainError(
                f"maintenance must be given: {spec.name} has no published margin tiers"
            )
        maintenance = spec.margin_tiers
    linear = spec.kind == "linear"
    size = spec.contract_size
    dollar_beta = float(np.dot(v, b))

    def equity(p: float) -> float:
        """Account equity in the settlement currency at price p."""
        if linear:
            return wb + n * size * (entry - p)
        return wb + n * size * (1.0 / p - 1.0 / entry)

    def maint(p: float) -> float:
        """Maintenance margin in the settlement currency at price p."""
        notional = n * size * p if linear else n * size / p
        rate, amount = maintenance_for_notional(notional, maintenance)
        return notional * rate - amount

    def liquidated_at(p: float) -> bool:
        return equity(p) <= maint(p)

    rows = []
    for m in moves:
        p = p0 * (1.0 + float(m))
        eq = equity(p)
        mm = maint(p)
        to_usd = 1.0 if linear else p
        liq = liquidated_at(max(p, p0))
        if liq:
            hedge = -max(equity(p0), 0.0) * (1.0 if linear else p)
        elif linear:
            hedge = n * size * (p0 - p)
        else:
            hedge = n * size * (1.0 / p - 1.0 / p0) * p
        unhedged = dollar_beta * float(m)
        rows.append(
            (float(m), p, unhedged, hedge, unhedged + hedge, eq, eq * to_usd, mm * to_usd, liq)
        )
    table = pd.DataFrame.from_records(rows, columns=list(SCENARIO_COLUMNS))
    table["liquidated"] = table["liquidated"].astype(bool)
    return table
