"""Which beta hedges best: the hedging policy replayed with each candidate estimator.

Every candidate (an estimator and a window) replays the same policy
(:func:`betaneutral.core.backtest.backtest_hedge`: same book, band, checks,
fees, funding and margin rules) and is scored out of sample on the same days:
from the first day on which every candidate has a hedge to the last day. The
betas of each replay are trailing estimates (row ``t`` uses returns up to
``t``), so every score is out of sample.

The candidate with the smallest mean squared daily hedged return is compared
with the default (the book's own method and window) by a one-sided
Diebold-Mariano test on the daily squared hedged returns with a Newey-West
variance (:func:`betaneutral.core.estimators.diebold_mariano`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from betaneutral.core._validate import choice, in_range, positive_int
from betaneutral.core.backtest import (
    SETTING_DEFAULTS,
    BacktestResult,
    check_replay_settings,
    prepare_replay,
    simulate_policy,
)
from betaneutral.core.beta import ols_beta
from betaneutral.core.contracts import ContractSpec
from betaneutral.core.estimators import ROBUST_METHODS, DieboldMariano, diebold_mariano
from betaneutral.errors import BetaNeutralError, InputTypeError, InsufficientDataError

__all__ = [
    "DEFAULT_ESTIMATORS",
    "DEFAULT_WINDOWS",
    "METHODS",
    "TOURNAMENT_COLUMNS",
    "Tournament",
    "candidate_label",
    "estimator_tournament",
]

DEFAULT_ESTIMATORS: tuple[str, ...] = ("ols", "ewls", "welch", "welch-decay", "vasicek")
DEFAULT_WINDOWS: tuple[int, ...] = (30, 90, 180)
#: Significance level of the recommendation.
ALPHA = 0.05

TOURNAMENT_COLUMNS: tuple[str, ...] = (
    "rank",
    "candidate",
    "method",
    "window",
    "default",
    "variance_ratio",
    "mean_squared_return",
    "realised_beta_hedged",
    "realised_beta_hedged_se",
    "mean_abs_drift",
    "rebalances",
    "fees_usd",
    "slippage_usd",
    "net_cost_usd",
    "note",
)
"""Columns of :attr:`Tournament.table`, in order."""

METHODS = ("ols", "blume", "ewma", *ROBUST_METHODS)


def candidate_label(method: str, window: int | None) -> str:
    """``"ewls 90d"``, or ``"ols all"`` for an expanding window.

    Examples
    --------
    >>> candidate_label("welch-decay", 180), candidate_label("ols", None)
    ('welch-decay 180d', 'ols all')
    """
    return f"{method} {'all' if window is None else f'{window}d'}"


@dataclass(frozen=True)
class Tournament:
    """What the tournament found.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per candidate, best first (columns :data:`TOURNAMENT_COLUMNS`):
        rank (1 = smallest mean squared hedged return; blank for a candidate
        that could not run, whose ``note`` says why), the variance ratio
        ``var(hedged) / var(unhedged)``, the mean squared daily hedged return,
        the hedged book's realised beta and its standard error, mean
        ``|drift|`` at the checks, trades and costs, all over the common days.
    start, end : object
        First and last day of the common evaluation period (returns from the
        day after ``start`` to ``end``).
    days : int
        Daily returns scored.
    best, default : str
        Labels of the winner and of the default candidate.
    test : DieboldMariano or None
        Best vs default on squared hedged returns (None when the best is the
        default).
    recommendation : str
        The finding in words.
    results : dict
        Label to :class:`~betaneutral.core.backtest.BacktestResult`.
    """

    table: pd.DataFrame
    start: object
    end: object
    days: int
    best: str
    default: str
    test: DieboldMariano | None
    recommendation: str
    results: dict[str, BacktestResult]


def _fmt_day(value: object) -> str:
    return f"{value:%Y-%m-%d}" if isinstance(value, pd.Timestamp) else str(value)


def estimator_tournament(
    asset_prices_usd: Any,
    hedge_prices_usd: Any,
    quantities: Any,
    spec: ContractSpec,
    *,
    estimators: Sequence[str] = DEFAULT_ESTIMATORS,
    windows: Sequence[int | None] = DEFAULT_WINDOWS,
    default: tuple[str, int | None] = ("ols", 90),
    band: float = 0.05,
    check: str = "daily",
    progress: Callable[[int, int], None] | None = None,
    **settings: Any,
) -> Tournament:
    """Replay the hedge with every estimator and window and score them out of sample.

    Parameters
    ----------
    asset_prices_usd, hedge_prices_usd, quantities, spec
        As :func:`betaneutral.core.backtest.backtest_hedge`.
    estimators : sequence of str
        Beta methods (``ols``, ``blume``, ``ewma``, ``ewls``, ``welch``,
        ``welch-decay``, ``realised``, ``vasicek``, ``vasicek-<base>``).
    windows : sequence of int or None
        Trailing windows in days (>= 3); None = expanding.
    default : (method, window)
        The candidate the winner is tested against (the book's Settings); it
        is added to the grid when it is not in it.
    band, check
        The policy replayed (as :func:`backtest_hedge`).
    progress : callable, optional
        ``progress(done, total)`` after each candidate.
    **settings
        Other keywords of :func:`backtest_hedge` (``min_obs``, ``fee_bps``,
        ``half_life``, ``intraday``...); ``min_obs`` is capped at each window.

    Returns
    -------
    Tournament

    Raises
    ------
    InputTypeError
        ``method``/``window`` passed as settings, or an empty grid.
    UnknownNameError
        An unknown estimator.
    InsufficientDataError
        No candidate could be replayed, or the candidates share no day.
    BetaNeutralError
        As :func:`backtest_hedge` for the default candidate (other candidates
        that fail are listed with the reason in ``note``).

    Notes
    -----
    Scored on the common days ``t`` (after every candidate's first check):
    hedged return :math:`r_t = P\\&L^{hedged}_t / V_{t-1}`; variance ratio
    :math:`\\mathrm{var}(r^{h}) / \\mathrm{var}(r^{u})`; loss :math:`r_t^2`;
    Diebold-Mariano on :math:`d_t = r_{best,t}^2 - r_{default,t}^2`, one-sided
    p-value :math:`\\Phi(DM)` (small = the best's hedged variance is
    significantly lower). The recommendation switches only when that p-value is
    below 5%.
    """
    check_replay_settings(settings, ("method", "window"))
    methods = list(dict.fromkeys(choice("estimators", m, METHODS) for m in estimators))
    wins = list(dict.fromkeys(None if w is None else positive_int("windows", w, minimum=3)
                              for w in windows))
    if not methods or not wins:
        raise InputTypeError("estimators and windows must each hold at least one value, "
                             "got none")
    d_method = choice("default method", default[0], METHODS)
    d_window = None if default[1] is None else positive_int("default window", default[1],
                                                            minimum=3)
    band_v = in_range("band", band, 0.0, 1.0)
    check_v = choice("check", check, ("daily", "weekly"))
    grid = [(m, w) for m in methods for w in wins]
    if (d_method, d_window) not in grid:
        grid.insert(0, (d_method, d_window))
    full = dict(SETTING_DEFAULTS)
    full.update(settings)
    min_obs = positive_int("min_obs", full["min_obs"], minimum=3)

    results: dict[str, BacktestResult] = {}
    starts: dict[str, int] = {}
    notes: dict[str, str] = {}
    book = None
    default_label = candidate_label(d_method, d_window)
    for i, (m, w) in enumerate(grid):
        label = candidate_label(m, w)
        kw = dict(full, method=m, window=w, min_obs=min_obs if w is None else min(min_obs, w))
        try:
            book = prepare_replay(asset_prices_usd, hedge_prices_usd, quantities, spec, **kw)
            results[label] = simulate_policy(book, band_v, check_v)
            starts[label] = book.start
        except BetaNeutralError as exc:
            if label == default_label:
                raise
            notes[label] = str(exc)
        if progress is not None:
            progress(i + 1, len(grid))
    assert book is not None  # the default ran, or raised
    common = max(starts.values())
    if common >= len(book.dates) - 3:
        raise InsufficientDataError(
            f"asset_prices_usd must leave at least 3 days after every candidate's first "
            f"hedge (day {common + 1} of {len(book.dates)}): shorten the windows")
    bench = book.bench_returns[common + 1:]
    rows: dict[str, dict[str, Any]] = {}
    returns: dict[str, np.ndarray] = {}
    for label, res in results.items():
        daily = res.daily
        value = daily["spot_value_usd"].to_numpy()[common:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            r_h = daily["hedged_pnl_usd"].to_numpy()[common + 1:] / value
            r_u = daily["unhedged_pnl_usd"].to_numpy()[common + 1:] / value
        returns[label] = r_h
        part = daily.iloc[common:]
        checks = part[part["check"]]
        target = float(full["target_beta"])
        ok = np.isfinite(r_h) & np.isfinite(bench)
        beta = se = math.nan
        if ok.sum() >= 3 and np.var(bench[ok]) > 0.0:
            st = ols_beta(r_h[ok], bench[ok], min_obs=3, hac=False)
            beta, se = float(st.beta), float(st.se)
        var_u = float(np.nanvar(r_u, ddof=1))
        fees = float(part["fees_usd"].sum())
        slip = float(part["slippage_usd"].sum())
        rows[label] = {
            "variance_ratio": float(np.nanvar(r_h, ddof=1)) / var_u if var_u > 0 else math.nan,
            "mean_squared_return": float(np.nanmean(r_h * r_h)),
            "realised_beta_hedged": beta,
            "realised_beta_hedged_se": se,
            "mean_abs_drift": float(np.mean(np.abs(checks["beta_before"] - target)))
            if len(checks) else math.nan,
            "rebalances": int(part["rebalanced"].sum()),
            "fees_usd": fees,
            "slippage_usd": slip,
            "net_cost_usd": fees + slip - float(part["funding_usd"].sum())
            + float(part["liquidation_loss_usd"].sum()),
        }
    order = sorted(rows, key=lambda k: (rows[k]["mean_squared_return"], k))
    best = order[0]
    test = None
    if best != default_label:
        test = diebold_mariano(returns[best] ** 2, returns[default_label] ** 2)
    table_rows = []
    for rank, label in enumerate(order, start=1):
        m, w = next((m, w) for m, w in grid if candidate_label(m, w) == label)
        table_rows.append({"rank": rank, "candidate": label, "method": m, "window": w,
                           "default": label == default_label, **rows[label], "note": ""})
    for label, note in notes.items():
        m, w = next((m, w) for m, w in grid if candidate_label(m, w) == label)
        blank = {k: math.nan for k in rows[best]}
        table_rows.append({"rank": None, "candidate": label, "method": m, "window": w,
                           "default": False, **blank, "note": note})
    table = pd.DataFrame(table_rows, columns=list(TOURNAMENT_COLUMNS))
    start, end = book.dates[common], book.dates[-1]
    days = len(book.dates) - 1 - common
    text = _recommendation(best, default_label, rows, test, days, start, end)
    return Tournament(table=table, start=start, end=end, days=days, best=best,
                      default=default_label, test=test, recommendation=text, results=results)


def _recommendation(best: str, default: str, rows: dict[str, dict[str, Any]],
                    test: DieboldMariano | None, days: int, start: object, end: object) -> str:
    period = f"{days} days ({_fmt_day(start)} to {_fmt_day(end)})"
    if test is None:
        return (f"Keep {default}: no other candidate gave the hedged book a lower variance "
                f"over {period}.")
    mb, md = rows[best]["mean_squared_return"], rows[default]["mean_squared_return"]
    cut = 1.0 - mb / md if md > 0 else math.nan
    if test.p_value < ALPHA:
        return (f"Use {best}: its hedged book's mean squared daily return was {cut:.1%} "
                f"lower than with {default} over {period}, a significant difference "
                f"(Diebold-Mariano p = {test.p_value:.3f} < {ALPHA:g}).")
    return (f"Keep {default}: {best} hedged best, its mean squared daily return {cut:.1%} "
            f"lower over {period}, but the difference is not significant (Diebold-Mariano "
            f"p = {test.p_value:.3f} >= {ALPHA:g}).")
