"""Rebalance trigger: has the hedged book drifted away from its target beta?

Prices move every day, so the book's dollar beta ``sum V_i b_i`` drifts away from
the hedge that was sized for it. The rule checked here is the usual band rule:
rebalance when ``|beta_p - target| > band`` (for example 0.05), and then trade
the USD amount that brings ``beta_p`` back to the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from betaneutral.core._validate import as_float, non_negative
from betaneutral.core.portfolio import book_arrays, hedge_notional
from betaneutral.errors import DomainError, InputTypeError

__all__ = ["ACTION_HOLD", "ACTION_OPEN", "ACTION_REBALANCE", "RebalanceSignal", "rebalance_action",
           "rebalance_signal"]

#: Actions of :func:`rebalance_action`, as the Rebalance sheet shows them.
ACTION_OPEN = "OPEN: no hedge yet"
ACTION_REBALANCE = "REBALANCE"
ACTION_HOLD = "HOLD: inside the band"


@dataclass(frozen=True)
class RebalanceSignal:
    """Where the hedged book stands against its target beta.

    Attributes
    ----------
    portfolio_beta : float
        Beta of the book including the current hedge, ``(sum V_i b_i - H) / V_S``.
    drift : float
        ``portfolio_beta - target_beta``.
    breach : bool
        ``|drift| > band`` (strictly; a drift exactly on the band is not a breach).
    order_notional_usd : float
        USD of futures to trade to restore the target: > 0 short more (sell),
        < 0 buy back. Equal to ``drift * V_S``. Reported whether or not the band
        is breached.
    drift_se : float or None
        Standard error of the portfolio beta estimate from the per-holding beta
        standard errors, ``sqrt(sum (w_i se_i)^2)``; None when none were given.
    exceeds_se : bool or None
        ``|drift| > drift_se``; None when no standard errors were given.
    """

    portfolio_beta: float
    drift: float
    breach: bool
    order_notional_usd: float
    drift_se: float | None
    exceeds_se: bool | None


def rebalance_signal(
    values_usd: Any,
    betas: Any,
    current_hedge_usd: float,
    *,
    target_beta: float = 0.0,
    band: float = 0.05,
    beta_se: Any = None,
) -> RebalanceSignal:
    """Check the hedged book's beta against its target and size the correcting trade.

    Parameters
    ----------
    values_usd : float or array_like of float
        Current position values in USD; shorts negative.
    betas : float or array_like of float
        Betas to BTC (the hedge instrument), same length.
    current_hedge_usd : float
        USD notional of the futures hedge held now (> 0 short), at current prices.
    target_beta : float, default 0
        Portfolio beta the hedge aims at.
    band : float, default 0.05
        Tolerated ``|drift|`` before rebalancing; must be >= 0.
    beta_se : float or array_like of float, optional
        Standard error of each holding's beta (>= 0), same length as ``values_usd``.

    Returns
    -------
    RebalanceSignal
        Hedged beta, drift, breach flag, the order notional that restores the
        target, and the drift's standard error when ``beta_se`` is given.

    Raises
    ------
    DomainError
        ``band < 0``, a negative ``beta_se``, NaN in the book (the position index is
        named), or a non-finite scalar.
    InsufficientDataError
        Empty book or mismatched lengths (``betas`` or ``beta_se``).
    DegenerateDataError
        ``V_S = sum V_i <= 0``.

    Notes
    -----
    beta_p = (sum V_i b_i - H) / V_S ; drift = beta_p - target ; breach = |drift| > band

    order_notional_usd = (sum V_i b_i - target V_S) - H = drift * V_S

    drift_se = sqrt(sum_i (w_i se_i)^2) with w_i = V_i / V_S. This assumes the
    estimation errors of the holdings' betas are independent and that the hedge's
    own beta (1) is known exactly. Betas estimated on the same benchmark window
    have correlated errors when the holdings' residuals are correlated (altcoins
    usually are, positively), so for a long book this figure understates the true
    uncertainty.

    Why the SE matters: a 90-day daily beta of a typical altcoin to BTC has a
    standard error of roughly 0.07-0.15, larger than a 0.05 band. A breach with
    ``exceeds_se`` False may be estimation noise rather than real drift; a desk may
    choose to trade only when both ``breach`` and ``exceeds_se`` hold (or when
    ``|drift|`` exceeds a multiple of ``drift_se``), to avoid churning the hedge.

    Examples
    --------
    Dollar beta 116,000, hedge 110,000, V_S 100,000: beta_p = 0.06 > 0.05, so short
    6,000 USD more.

    >>> s = rebalance_signal([50_000, 30_000, 20_000], [1.0, 1.2, 1.5], 110_000)
    >>> round(s.drift, 12), s.breach, round(s.order_notional_usd, 6)
    (0.06, True, 6000.0)
    """
    band_v = non_negative("band", band)
    if beta_se is None:
        v, b = book_arrays(values_usd, ("betas", betas))
        se = None
    else:
        v, b, se = book_arrays(values_usd, ("betas", betas), ("beta_se", beta_se))
        neg = np.flatnonzero(se < 0.0)
        if neg.size:
            i = int(neg[0])
            raise DomainError(f"beta_se[{i}] (position {i}) must be >= 0, got {float(se[i])!r}")
    current = as_float("current_hedge_usd", current_hedge_usd)
    target = as_float("target_beta", target_beta)
    hn = hedge_notional(v, b, target_beta=target, current_hedge_usd=current)
    v_s = hn.portfolio_value_usd
    beta_p = (float(np.dot(v, b)) - current) / v_s
    drift = beta_p - target
    if se is None:
        drift_se = None
        exceeds = None
    else:
        drift_se = float(np.sqrt(np.sum((v / v_s * se) ** 2)))
        exceeds = bool(abs(drift) > drift_se)
    return RebalanceSignal(
        portfolio_beta=beta_p,
        drift=drift,
        breach=bool(abs(drift) > band_v),
        order_notional_usd=hn.change_usd,
        drift_se=drift_se,
        exceeds_se=exceeds,
    )


def rebalance_action(current_contracts: float, target_contracts: float, breach: bool) -> str:
    """Whether the hedge is traded now: the one rule the sheet and the tickets share.

    Parameters
    ----------
    current_contracts : float
        Contracts held now (> 0 short, 0 = no hedge yet).
    target_contracts : float
        Contracts the target beta needs, on the contract's lot grid.
    breach : bool
        Whether the drift breaches the band (:func:`rebalance_signal`).

    Returns
    -------
    str
        :data:`ACTION_OPEN` when no hedge is held and the target is not zero (the
        first hedge is placed whatever the drift: the band is a tolerance around a
        hedge, not a reason to stay unhedged); :data:`ACTION_REBALANCE` when a
        hedge is held, the band is breached and the target differs from what is
        held; :data:`ACTION_HOLD` otherwise.

    Raises
    ------
    DomainError
        A non-finite number of contracts.
    InputTypeError
        ``breach`` is not a boolean.

    Notes
    -----
    trade = (current = 0 and target != 0) or (current != 0 and breach and target != current)

    Examples
    --------
    >>> rebalance_action(0.0, 7.684, False)
    'OPEN: no hedge yet'
    >>> rebalance_action(7.5, 7.684, False)
    'HOLD: inside the band'
    >>> rebalance_action(7.5, 7.684, True)
    'REBALANCE'
    """
    current = as_float("current_contracts", current_contracts)
    target = as_float("target_contracts", target_contracts)
    if not isinstance(breach, bool | np.bool_):
        raise InputTypeError(f"breach must be TRUE or FALSE, got {breach!r}")
    if current == 0.0:
        return ACTION_OPEN if target != 0.0 else ACTION_HOLD
    if bool(breach) and target != current:
        return ACTION_REBALANCE
    return ACTION_HOLD
