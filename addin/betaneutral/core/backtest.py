"""Walk-forward replay of the beta-neutral hedging policy on a book's own history.

The policy replayed is the one the workbook applies: at each check date, estimate
each holding's beta to the hedge's underlying over a trailing window, compute the
book's beta including the futures short already held, and when it has drifted
outside ``target +/- band`` trade the contracts (on the contract's lot grid) that
bring it back to the target. Between checks the position is held, marked to
market every day, pays or receives funding, and its isolated margin account is
watched: topped up when the rally that would liquidate it gets too small, and
liquidated (all of its margin lost) when its equity falls to the maintenance
margin at a close.

No look-ahead, by construction: every quantity used on day ``t`` is a function of
prices on or before ``t``. Betas come from cumulative sums of present pairs
(:func:`trailing_betas`), whose first ``t + 1`` rows do not depend on any later
row, and the daily loop only ever reads rows ``<= t``.

Timing: decisions and fills are at the daily close. The position decided at the
close of ``t`` earns the futures P&L and funding of ``(t, t + 1]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from betaneutral.core._validate import (
    FloatArray,
    choice,
    float_array,
    in_range,
)
from betaneutral.core.beta import ols_beta
from betaneutral.core.contracts import (
    ContractSpec,
    contracts_for_notional,
    inverse_hedge_with_coin_collateral,
)
from betaneutral.core.estimators import DEFAULT_HALF_LIFE
from betaneutral.core.margin import (
    liquidation_price_short,
    maintenance_for_notional,
    margin_buffer,
)
from betaneutral.core.returns import check_prices, returns_from_prices
from betaneutral.core.trailing import trailing_betas
from betaneutral.errors import (
    DegenerateDataError,
    DomainError,
    InputTypeError,
    InsufficientDataError,
)

__all__ = [
    "DAILY_COLUMNS",
    "POLICY_COLUMNS",
    "SETTING_DEFAULTS",
    "SETTING_KEYS",
    "BacktestResult",
    "BacktestSummary",
    "backtest_hedge",
    "check_replay_settings",
    "compare_policies",
    "prepare_replay",
    "simulate_policy",
    "trailing_betas",
]

CheckFrequency = Literal["daily", "weekly"]
BetaMethod = str  # "ols", "blume", "ewma" or one of estimators.ROBUST_METHODS

DAILY_COLUMNS: tuple[str, ...] = (
    "date",
    "spot_value_usd",
    "dollar_beta_usd",
    "hedge_price_usd",
    "check",
    "beta_before",
    "breach",
    "rebalanced",
    "trade_contracts",
    "hedge_contracts",
    "hedge_notional_usd",
    "portfolio_beta_est",
    "unhedged_pnl_usd",
    "futures_pnl_usd",
    "funding_usd",
    "fees_usd",
    "slippage_usd",
    "liquidation_loss_usd",
    "collateral_revaluation_usd",
    "hedged_pnl_usd",
    "cum_unhedged_pnl_usd",
    "cum_hedged_pnl_usd",
    "margin_equity",
    "margin_equity_usd",
    "maintenance_margin_usd",
    "margin_ratio",
    "rally_to_liquidation",
    "collateral_added_usd",
    "topped_up",
    "liquidated",
)
"""Columns of :attr:`BacktestResult.daily`, in order (see :func:`backtest_hedge`)."""

POLICY_COLUMNS: tuple[str, ...] = (
    "band",
    "check",
    "realised_beta_hedged",
    "realised_beta_unhedged",
    "mean_abs_drift",
    "volatility_hedged",
    "volatility_unhedged",
    "variance_ratio",
    "max_drawdown_hedged",
    "rebalances",
    "turnover_usd",
    "fees_usd",
    "slippage_usd",
    "funding_usd",
    "net_cost_usd",
    "worst_margin_ratio",
    "top_ups",
    "liquidations",
    "first_liquidation_date",
)
"""Columns of the table returned by :func:`compare_policies`."""

_DAYS_PER_YEAR = 365.0


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class BacktestSummary:
    """What one policy did over the whole replay.

    Attributes
    ----------
    band : float
        Rebalance band in beta units.
    check : {"daily", "weekly"}
        How often the book's beta was checked.
    start, end : object
        First day with a hedge decision (every holding has a beta) and last day.
    days : int
        Daily returns in the evaluation period (``start`` excluded).
    realised_beta_hedged, realised_beta_unhedged : float
        Ex post OLS slope of the hedged / unhedged book's daily returns on the
        benchmark's daily returns over the period.
    realised_beta_hedged_se, realised_beta_unhedged_se : float
        Their OLS standard errors.
    mean_abs_drift : float
        Mean over check dates of ``|estimated beta before trading - target|``.
    volatility_hedged, volatility_unhedged : float
        Annualised standard deviation of daily returns (``sqrt(365)``).
    variance_ratio : float
        ``var(hedged) / var(unhedged)`` of daily returns.
    max_drawdown_hedged, max_drawdown_unhedged : float
        Largest fall of the wealth path ``V_0 + cumulative P&L`` from its running
        peak, as a fraction of the peak.
    pnl_hedged_usd, pnl_unhedged_usd : float
        Total P&L over the period.
    rebalances : int
        Days with a trade.
    turnover_usd : float
        Sum of traded USD notional.
    turnover_ratio : float
        ``turnover_usd`` / mean spot value.
    fees_usd, slippage_usd : float
        Trading costs paid (>= 0).
    funding_usd : float
        Net funding (perpetuals) or basis carry (dated futures) received (> 0) by
        the short.
    net_cost_usd : float
        ``fees + slippage - funding + liquidation losses``.
    collateral_posted_usd : float
        USD added to the margin account (initial collateral, rebalances, top-ups),
        valued on the day posted.
    top_ups : int
        Days on which the top-up rule added collateral.
    worst_margin_ratio : float
        Largest ``maintenance margin / margin equity`` at a close (1 = liquidation).
    min_rally_to_liquidation : float
        Smallest rally, as a fraction of the close, that would have liquidated
        the short at a close (inf when never exposed).
    liquidations : int
        Times the short was liquidated.
    first_liquidation_date : object or None
        Date of the first liquidation.
    liquidation_loss_usd : float
        Margin forfeited at liquidations.
    """

    band: float
    check: str
    start: object
    end: object
    days: int
    realised_beta_hedged: float
    realised_beta_hedged_se: float
    realised_beta_unhedged: float
    realised_beta_unhedged_se: float
    mean_abs_drift: float
    volatility_hedged: float
    volatility_unhedged: float
    variance_ratio: float
    max_drawdown_hedged: float
    max_drawdown_unhedged: float
    pnl_hedged_usd: float
    pnl_unhedged_usd: float
    rebalances: int
    turnover_usd: float
    turnover_ratio: float
    fees_usd: float
    slippage_usd: float
    funding_usd: float
    net_cost_usd: float
    collateral_posted_usd: float
    top_ups: int
    worst_margin_ratio: float
    min_rally_to_liquidation: float
    liquidations: int
    first_liquidation_date: object
    liquidation_loss_usd: float

    def as_dict(self) -> dict[str, Any]:
        """Field name to value, in declaration order."""
        return asdict(self)


@dataclass(frozen=True)
class BacktestResult:
    """Daily path and summary of one replayed policy.

    Attributes
    ----------
    daily : pandas.DataFrame
        One row per date, columns :data:`DAILY_COLUMNS`.
    summary : BacktestSummary
        Whole-period figures.
    """

    daily: pd.DataFrame
    summary: BacktestSummary


# --------------------------------------------------------------------------- preparation


@dataclass(frozen=True)
class _Book:
    """Validated inputs and everything that does not depend on the policy."""

    dates: list[Any]
    weekday_key: list[int]
    dt_days: list[float]
    spot_value: list[float]
    dollar_beta: list[float]
    has_beta: list[bool]
    spot_pnl: list[float]
    hedge_price: list[float]
    bench_returns: FloatArray
    funding_8h: list[float]
    start: int
    spec: ContractSpec
    target_beta: float
    rounding: str
    fee_rate: float
    slippage_rate: float
    basis_annual: float
    stress_move: float
    safety_multiplier: float
    top_up_below: float


def _price_matrix(name: str, values: Any) -> tuple[FloatArray, list[str], Any]:
    names: list[str] = []
    index = None
    if isinstance(values, pd.Series):
        values = values.to_frame()
    if isinstance(values, pd.DataFrame):
        names = [str(c) for c in values.columns]
        index = values.index
        bad = [str(d) for d in values.dtypes if d.kind not in "fiu"]
        if bad:
            raise InputTypeError(f"{name} must contain only numbers, got dtype {bad[0]}")
        values = values.to_numpy(dtype=np.float64, na_value=np.nan)
    arr = float_array(name, values)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InputTypeError(f"{name} must be 1- or 2-dimensional, got shape {arr.shape}")
    if not names:
        names = [f"asset {j + 1}" for j in range(arr.shape[1])]
    check_prices(name, arr, names)
    return arr, names, index


def _series(name: str, values: Any, t_len: int, *, complete: bool) -> FloatArray:
    arr = float_array(name, values.to_numpy(dtype=np.float64, na_value=np.nan)
                      if isinstance(values, pd.Series) else values, ndim=1)
    if arr.shape[0] != t_len:
        raise InsufficientDataError(
            f"{name} must have one value per date ({t_len}), got {arr.shape[0]}")
    if complete and np.isnan(arr).any():
        row = int(np.flatnonzero(np.isnan(arr))[0]) + 1
        raise InsufficientDataError(f"{name} must have a value on every date, got a gap at "
                                    f"row {row}")
    return arr


def _returns(prices: FloatArray, kind: str) -> FloatArray:
    """Returns aligned with the prices: row t is the return into t (row 0 is NaN)."""
    r = returns_from_prices(prices, kind=kind)  # type: ignore[arg-type]
    return np.concatenate([np.full((1, *r.shape[1:]), np.nan), r])


def _quantities(values: Any, t_len: int, n_assets: int) -> FloatArray:
    if isinstance(values, (pd.DataFrame, pd.Series)):
        values = values.to_numpy(dtype=np.float64, na_value=np.nan)
    q = float_array("quantities", values)
    if q.ndim == 1:
        if q.shape[0] != n_assets:
            raise InsufficientDataError(
                f"quantities must have one value per asset ({n_assets}), got {q.shape[0]}")
        q = np.broadcast_to(q, (t_len, n_assets))
    elif q.ndim != 2 or q.shape != (t_len, n_assets):
        raise InsufficientDataError(
            f"quantities must have shape ({n_assets},) or ({t_len}, {n_assets}), "
            f"got {q.shape}")
    if np.isnan(q).any():
        raise DomainError("quantities must not contain missing values (NaN)")
    return q


def prepare_replay(asset_prices_usd: Any, hedge_prices_usd: Any, quantities: Any,
             spec: ContractSpec, *, dates: Any, benchmark_prices_usd: Any,
             window: int | None, min_obs: int, method: str, return_kind: str, lam: float,
             half_life: float = DEFAULT_HALF_LIFE, intraday: Any = None,
             target_beta: float, rounding: str, fee_bps: float, slippage_bps: float,
             funding_rate_8h: Any, basis_annual: float, stress_move: float,
             safety_multiplier: float, top_up_below: float | None) -> _Book:
    if not isinstance(spec, ContractSpec):
        raise InputTypeError(f"spec must be a ContractSpec, got {type(spec).__name__}")
    if spec.kind == "quanto":
        raise DomainError(f"spec must be a linear or inverse contract for a backtest, got "
                          f"{spec.name} (quanto)")
    if not spec.margin_tiers:
        raise DomainError(f"spec must have a maintenance margin table for a backtest, got "
                          f"{spec.name} without one (use a custom contract with a rate)")
    basis_annual = in_range("basis_annual", basis_annual, -1.0, 1.0)
    if spec.perpetual and basis_annual != 0.0:
        raise DomainError(f"basis_annual must be 0 for a perpetual (it pays funding "
                          f"instead), got {basis_annual!r} with {spec.name}")
    prices, _, index = _price_matrix("asset_prices_usd", asset_prices_usd)
    t_len, n_assets = prices.shape
    if t_len < 3:
        raise InsufficientDataError(f"asset_prices_usd must have >= 3 dates, got {t_len}")
    hedge = _series("hedge_prices_usd", hedge_prices_usd, t_len, complete=True)
    check_prices("hedge_prices_usd", hedge)
    bench = hedge if benchmark_prices_usd is None else _series(
        "benchmark_prices_usd", benchmark_prices_usd, t_len, complete=False)
    check_prices("benchmark_prices_usd", bench)
    q = _quantities(quantities, t_len, n_assets)
    kind = choice("return_kind", return_kind, ("simple", "log"))

    if dates is None:
        dates = index if isinstance(index, pd.DatetimeIndex) else None
    if dates is not None:
        d = pd.DatetimeIndex(dates)
        if len(d) != t_len:
            raise InsufficientDataError(
                f"dates must have one entry per row ({t_len}), got {len(d)}")
        if not d.is_monotonic_increasing or d.has_duplicates:
            raise DomainError("dates must be strictly increasing")
        date_list: list[Any] = list(d)
        day_number = ((d - d[0]) // pd.Timedelta(days=1)).to_numpy()
        dt = np.diff(day_number, prepend=day_number[0]).astype(np.float64)
    else:
        date_list = list(range(t_len))
        day_number = np.arange(t_len)
        dt = np.ones(t_len)
        dt[0] = 0.0

    if np.ndim(funding_rate_8h) == 0:
        rate = in_range("funding_rate_8h", funding_rate_8h, -0.05, 0.05)
        funding = np.full(t_len, rate)
    else:
        funding = _series("funding_rate_8h", funding_rate_8h, t_len, complete=True)
        if (np.abs(funding) > 0.05).any():
            row = int(np.flatnonzero(np.abs(funding) > 0.05)[0])
            raise DomainError(f"funding_rate_8h must be in [-0.05, 0.05], got "
                              f"{float(funding[row])!r} at row {row + 1}")

    if intraday is None:
        betas = trailing_betas(_returns(prices, kind), _returns(hedge[:, None], kind)[:, 0],
                               window=window, min_obs=min_obs, method=method,  # type: ignore
                               lam=lam, half_life=half_life)
    else:  # hourly closes: the beta at each daily close from the hours up to it
        betas = _intraday_betas(intraday, date_list, n_assets, method=method, window=window,
                                min_obs=min_obs, return_kind=kind, lam=lam,
                                half_life=half_life)
    # Valuation at the last known price (carried forward, which uses only the past).
    last = pd.DataFrame(prices).ffill().to_numpy()
    values = np.nan_to_num(q * last)
    spot_value = values.sum(axis=1)
    has_beta = ~(np.isnan(betas) & (q != 0.0)).any(axis=1)
    dollar_beta = np.where(has_beta, np.nansum(values * np.nan_to_num(betas), axis=1), np.nan)
    price_change = np.nan_to_num(np.diff(last, axis=0, prepend=last[:1]))
    spot_pnl = np.concatenate([[0.0], (q[:-1] * price_change[1:]).sum(axis=1)])
    usable = np.flatnonzero(has_beta & (spot_value > 0.0))
    if usable.size == 0 and has_beta.any():
        raise DomainError(
            "quantities must give the book a spot value > 0 USD on some date with "
            f"betas, got at most {float(np.max(spot_value[has_beta])):.6g} USD: a net short "
            "or empty book has nothing to hedge")
    hedge_moves = np.diff(hedge)
    if usable.size == 0 and not (hedge_moves[~np.isnan(hedge_moves)] != 0.0).any():
        raise DegenerateDataError(
            "hedge_prices_usd must vary to define a beta, got "
            "constant prices")
    if usable.size == 0:
        raise InsufficientDataError(
            f"asset_prices_usd must give every holding a beta on some date (min_obs "
            f"{min_obs}, window {window}), got none: the history is too short or has gaps")
    stress = in_range("stress_move", stress_move, 0.0, None, low_inclusive=False)
    if top_up_below is None:
        top = stress / 2.0
    else:
        top = in_range("top_up_below", top_up_below, 0.0, stress)
    return _Book(
        dates=date_list,
        weekday_key=[int(v) for v in day_number],
        dt_days=dt.tolist(),
        spot_value=spot_value.tolist(),
        dollar_beta=dollar_beta.tolist(),
        has_beta=has_beta.tolist(),
        spot_pnl=spot_pnl.tolist(),
        hedge_price=hedge.tolist(),
        bench_returns=_returns(bench[:, None], "simple")[:, 0],
        funding_8h=funding.tolist(),
        start=int(usable[0]),
        spec=spec,
        target_beta=in_range("target_beta", target_beta, -2.0, 2.0),
        rounding=choice("rounding", rounding, ("nearest", "down", "up")),
        fee_rate=in_range("fee_bps", fee_bps, 0.0, 1000.0) / 1e4,
        slippage_rate=in_range("slippage_bps", slippage_bps, 0.0, 1000.0) / 1e4,
        basis_annual=basis_annual,
        stress_move=stress,
        safety_multiplier=in_range("safety_multiplier", safety_multiplier, 1.0, None),
        top_up_below=top,
    )


def _intraday_betas(intraday: Any, dates: list[Any], n_assets: int, **kw: Any) -> FloatArray:
    from betaneutral.core.intraday import IntradayPrices

    if not isinstance(intraday, IntradayPrices):
        raise InputTypeError(f"intraday must be IntradayPrices, got {type(intraday).__name__}")
    if not dates or not isinstance(dates[0], pd.Timestamp):
        raise InputTypeError("dates must be given (UTC days) to use intraday closes")
    if intraday.asset_prices.shape[1] != n_assets:
        raise InsufficientDataError(f"intraday prices must have one column per holding "
                                    f"({n_assets}), got {intraday.asset_prices.shape[1]}")
    return intraday.daily_betas(dates, **kw)


# --------------------------------------------------------------------------- simulation


def _drawdown(wealth: FloatArray) -> float:
    if wealth.size == 0:
        return 0.0
    peak = np.maximum.accumulate(wealth)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0.0, 1.0 - wealth / peak, 0.0)
    return float(max(dd.max(), 0.0))


def simulate_policy(book: _Book, band: float, check: str) -> BacktestResult:
    spec = book.spec
    linear = spec.kind == "linear"
    size = spec.contract_size
    tiers = spec.margin_tiers
    kind = spec.kind
    hours = spec.funding_interval_hours
    per_day = 24.0 / hours if (spec.perpetual and hours) else 0.0
    t_len = len(book.dates)
    start = book.start
    last_check = -10**9

    def notional_usd(contracts: float, price: float) -> float:
        return contracts * (size * price if linear else size)

    def to_usd(amount: float, price: float) -> float:
        return amount if linear else amount * price

    def from_usd(amount_usd: float, price: float) -> float:
        return amount_usd if linear else amount_usd / price

    # One margin rule (core.margin): maintenance at the contract's tiers plus the closing
    # taker fee, for the liquidation test, the liquidation price and the buffer alike. The
    # position is re-marked at every close, so each close is the entry of the rule.
    close_fee = spec.taker_fee_rate

    def maintenance_usd(contracts: float, price: float) -> float:
        n = contracts * size * price if linear else contracts * size / price
        rate, amount = maintenance_for_notional(n, tiers)
        return to_usd(n * rate - amount + close_fee * n, price)

    def buffer(contracts: float, price: float) -> float:
        return margin_buffer(notional_usd(contracts, price), price, book.stress_move,
                             maintenance=tiers, kind=kind,  # type: ignore[arg-type]
                             safety_multiplier=book.safety_multiplier,
                             closing_fee_rate=close_fee,
                             maintenance_basis=spec.maintenance_basis,  # type: ignore[arg-type]
                             ).collateral

    def liquidation_rally(contracts: float, price: float, collateral: float) -> float:
        liq = liquidation_price_short(spec, contracts, price, max(collateral, 0.0),
                                      fee_rate=close_fee)
        return liq / price - 1.0

    def contracts_for(want_usd: float, price: float) -> float:
        if want_usd <= 0.0:
            return 0.0
        return contracts_for_notional(want_usd, price, spec,
                                      rounding=book.rounding).contracts  # type: ignore

    rows: list[tuple[Any, ...]] = []
    held = 0.0  # contracts short
    equity = 0.0  # margin account, settlement currency
    cum_unhedged = cum_hedged = 0.0
    drift_abs: list[float] = []
    liquidations = top_ups = rebalances = 0
    first_liq: object = None
    turnover = fees_total = slip_total = funding_total = posted = liq_total = 0.0
    worst_ratio = 0.0
    min_rally = math.inf
    hedged_pnl = np.zeros(t_len)

    for t in range(t_len):
        price = book.hedge_price[t]
        active = t >= start
        fut_pnl = fund = liq_loss = fee = slip = added = coin_pnl = 0.0
        # 0. an inverse contract's coin collateral is owned: its revaluation is P&L
        if not linear and t > 0 and equity > 0.0:
            coin_pnl = equity * (price - book.hedge_price[t - 1])
        liquidated = topped = rebalanced = breach = is_check = False
        trade = 0.0
        beta_before = math.nan
        # 1. mark the position held since the last close, and its funding / carry
        if held and t > 0:
            prev = book.hedge_price[t - 1]
            if linear:
                fut_settle = -held * size * (price - prev)
            else:
                fut_settle = held * size * (1.0 / price - 1.0 / prev)
            fut_pnl = to_usd(fut_settle, price)
            dt = book.dt_days[t]
            if spec.perpetual:
                fund = notional_usd(held, price) * book.funding_8h[t] * per_day * dt
            else:
                fund = notional_usd(held, price) * book.basis_annual * dt / _DAYS_PER_YEAR
            equity += fut_settle + from_usd(fund, price)
            # 2. liquidation at the close: equity at or below maintenance
            mm_now = maintenance_usd(held, price)
            if to_usd(equity, price) <= mm_now:
                if equity < 0.0:  # the loss beyond the margin is not charged
                    fut_pnl -= to_usd(equity, price)
                else:
                    liq_loss = to_usd(equity, price)  # the margin left is forfeited
                liq_total += liq_loss
                equity = 0.0
                held = 0.0
                liquidated = True
                liquidations += 1
                if first_liq is None:
                    first_liq = book.dates[t]
        value = book.spot_value[t]
        # 3. the policy: check the book's beta and trade back to the target. With an
        # inverse contract the coin collateral is a BTC holding (beta 1 to the underlying)
        # of the book: it counts in the value, the dollar beta and the short's size.
        coin_usd = 0.0 if linear else max(equity, 0.0) * price
        if active and book.has_beta[t] and value > 0.0:
            is_check = check == "daily" or book.weekday_key[t] - last_check >= 7
        if is_check:
            last_check = book.weekday_key[t]
            owned = value + coin_usd
            beta_before = (book.dollar_beta[t] + coin_usd - notional_usd(held, price)) / owned
            drift = beta_before - book.target_beta
            drift_abs.append(abs(drift))
            breach = abs(drift) > band
            if breach:
                exposure = book.dollar_beta[t] - book.target_beta * owned
                if linear:
                    target = contracts_for(exposure, price)
                else:
                    target = _inverse_target(exposure, held, equity, price, contracts_for,
                                             buffer, notional_usd, book.fee_rate
                                             + book.slippage_rate)
                delta = round(target - held, 12)
                if delta and abs(delta) >= spec.min_quantity * (1.0 - 1e-9):
                    traded_usd = abs(notional_usd(delta, price))
                    fee = traded_usd * book.fee_rate
                    slip = traded_usd * book.slippage_rate
                    equity -= from_usd(fee + slip, price)
                    turnover += traded_usd
                    held = target
                    trade = delta
                    rebalanced = True
                    rebalances += 1
                    if held:
                        need = buffer(held, price)
                        if equity < need:
                            added += need - equity
                            equity = need
        # 4. margin monitoring: top up when the rally to liquidation gets small
        rally = math.inf
        ratio = 0.0
        mm = 0.0
        if held:
            rally = liquidation_rally(held, price, equity)
            if rally < book.top_up_below:
                need = buffer(held, price)
                if equity < need:
                    added += need - equity
                    equity = need
                    topped = True
                    top_ups += 1
                    rally = liquidation_rally(held, price, equity)
            mm = maintenance_usd(held, price)
            eq_usd = to_usd(equity, price)
            ratio = mm / eq_usd if eq_usd > 0.0 else math.inf
            worst_ratio = max(worst_ratio, ratio)
            min_rally = min(min_rally, rally)
        added_usd = to_usd(added, price)
        posted += added_usd
        spot = book.spot_pnl[t] if t > start else 0.0
        if t <= start:
            coin_pnl = 0.0
        pnl = spot + fut_pnl + fund - fee - slip - liq_loss + coin_pnl
        hedged_pnl[t] = pnl
        cum_unhedged += spot
        cum_hedged += pnl
        fees_total += fee
        slip_total += slip
        funding_total += fund
        hedge_usd = notional_usd(held, price)
        coin_usd = 0.0 if linear else max(equity, 0.0) * price
        beta_after = ((book.dollar_beta[t] + coin_usd - hedge_usd) / (value + coin_usd)
                      if book.has_beta[t] and value > 0.0 else math.nan)
        rows.append((
            book.dates[t], value, book.dollar_beta[t], price, is_check, beta_before,
            breach, rebalanced, trade, held, hedge_usd, beta_after, spot, fut_pnl, fund,
            fee, slip, liq_loss, coin_pnl, pnl, cum_unhedged, cum_hedged, equity,
            to_usd(equity, price), mm, ratio, rally, added_usd, topped, liquidated,
        ))

    daily = pd.DataFrame.from_records(rows, columns=list(DAILY_COLUMNS))
    summary = _summarise(book, daily, band, check, drift_abs, rebalances, turnover,
                         fees_total, slip_total, funding_total, posted, top_ups, worst_ratio,
                         min_rally, liquidations, first_liq, liq_total)
    return BacktestResult(daily=daily, summary=summary)


def _inverse_target(exposure_usd: float, held: float, equity: float, price: float,
                    contracts_for: Callable[[float, float], float],
                    buffer: Callable[[float, float], float],
                    notional_usd: Callable[[float, float], float], cost_rate: float) -> float:
    """Contracts of an inverse short that neutralise the book and its own coin collateral.

    The face value is ``exposure + K F`` (:func:`inverse_hedge_with_coin_collateral`)
    with ``K`` the coin the account holds once the trade is done: what it holds now
    less the trade's costs, topped up to the new position's margin buffer. ``K``
    depends on the position through the buffer, so the size is iterated to its
    fixed point on the lot grid (a few steps: the buffer is a fraction of the face).
    """
    target = held
    for _ in range(20):
        cost = abs(notional_usd(target - held, price)) * cost_rate / price
        coin = max(equity - cost, buffer(target, price) if target else 0.0, 0.0)
        face = inverse_hedge_with_coin_collateral(exposure_usd, coin, price) \
            if exposure_usd + coin * price > 0.0 else 0.0
        nxt = contracts_for(face, price)
        if nxt == target:
            break
        target = nxt
    return target


def _summarise(book: _Book, daily: pd.DataFrame, band: float, check: str,
               drift_abs: list[float], rebalances: int, turnover: float, fees: float,
               slippage: float, funding: float, posted: float, top_ups: int,
               worst_ratio: float, min_rally: float, liquidations: int, first_liq: object,
               liq_loss: float) -> BacktestSummary:
    s = book.start
    value = daily["spot_value_usd"].to_numpy()
    owned = value
    if book.spec.kind == "inverse":  # the coin collateral is part of what the user owns
        owned = value + np.maximum(daily["margin_equity_usd"].to_numpy(), 0.0)
    base = value[s:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r_hedged = daily["hedged_pnl_usd"].to_numpy()[s + 1:] / owned[s:-1]
        r_unhedged = daily["unhedged_pnl_usd"].to_numpy()[s + 1:] / base
    bench = book.bench_returns[s + 1:]
    ok = np.isfinite(r_hedged) & np.isfinite(r_unhedged) & np.isfinite(bench)

    def realised(y: FloatArray) -> tuple[float, float]:
        if ok.sum() < 3 or np.var(bench[ok]) == 0.0:
            return math.nan, math.nan
        st = ols_beta(y[ok], bench[ok], min_obs=3)
        return float(st.beta), float(st.se)

    b_h, se_h = realised(r_hedged)
    b_u, se_u = realised(r_unhedged)
    ann = math.sqrt(_DAYS_PER_YEAR)
    var_h = float(np.var(r_hedged[ok], ddof=1)) if ok.sum() > 1 else math.nan
    var_u = float(np.var(r_unhedged[ok], ddof=1)) if ok.sum() > 1 else math.nan
    v0 = value[s]
    wealth_h = v0 + np.cumsum(daily["hedged_pnl_usd"].to_numpy()[s:])
    wealth_u = v0 + np.cumsum(daily["unhedged_pnl_usd"].to_numpy()[s:])
    mean_value = float(np.mean(value[s:]))
    return BacktestSummary(
        band=band,
        check=check,
        start=book.dates[s],
        end=book.dates[-1],
        days=len(book.dates) - 1 - s,
        realised_beta_hedged=b_h,
        realised_beta_hedged_se=se_h,
        realised_beta_unhedged=b_u,
        realised_beta_unhedged_se=se_u,
        mean_abs_drift=float(np.mean(drift_abs)) if drift_abs else math.nan,
        volatility_hedged=math.sqrt(var_h) * ann if var_h == var_h else math.nan,
        volatility_unhedged=math.sqrt(var_u) * ann if var_u == var_u else math.nan,
        variance_ratio=var_h / var_u if var_u and var_u == var_u else math.nan,
        max_drawdown_hedged=_drawdown(wealth_h),
        max_drawdown_unhedged=_drawdown(wealth_u),
        pnl_hedged_usd=float(daily["hedged_pnl_usd"].sum()),
        pnl_unhedged_usd=float(daily["unhedged_pnl_usd"].sum()),
        rebalances=rebalances,
        turnover_usd=turnover,
        turnover_ratio=turnover / mean_value if mean_value > 0.0 else math.nan,
        fees_usd=fees,
        slippage_usd=slippage,
        funding_usd=funding,
        net_cost_usd=fees + slippage - funding + liq_loss,
        collateral_posted_usd=posted,
        top_ups=top_ups,
        worst_margin_ratio=worst_ratio,
        min_rally_to_liquidation=min_rally,
        liquidations=liquidations,
        first_liquidation_date=first_liq,
        liquidation_loss_usd=liq_loss,
    )


# --------------------------------------------------------------------------- public API

def backtest_hedge(
    asset_prices_usd: Any,
    hedge_prices_usd: Any,
    quantities: Any,
    spec: ContractSpec,
    *,
    dates: Any = None,
    benchmark_prices_usd: Any = None,
    window: int | None = 90,
    min_obs: int = 60,
    method: BetaMethod = "ols",
    return_kind: Literal["simple", "log"] = "simple",
    lam: float = 0.94,
    half_life: float = DEFAULT_HALF_LIFE,
    intraday: Any = None,
    target_beta: float = 0.0,
    band: float = 0.05,
    check: CheckFrequency = "daily",
    rounding: Literal["nearest", "down", "up"] = "nearest",
    fee_bps: float = 5.0,
    slippage_bps: float = 0.0,
    funding_rate_8h: float | Sequence[float] | FloatArray = 0.0001,
    basis_annual: float = 0.0,
    stress_move: float = 0.30,
    safety_multiplier: float = 1.2,
    top_up_below: float | None = None,
) -> BacktestResult:
    """Replay the band-rebalanced futures hedge of a book over its price history.

    Parameters
    ----------
    asset_prices_usd : pandas.DataFrame or array_like, shape (T, N)
        Daily closes of the holdings in USD, oldest first; NaN = missing (a
        position is valued at its last known close). A DataFrame with a
        ``DatetimeIndex`` supplies the dates.
    hedge_prices_usd : array_like, shape (T,)
        Daily closes of the hedge contract's underlying (the futures are marked
        at this price), USD per coin, > 0, no gaps.
    quantities : array_like, shape (N,) or (T, N)
        Units held: fixed (default use) or one row per date (a dated holdings
        history; the row of day ``t`` is held from the close of ``t``).
    spec : ContractSpec
        Hedge contract, linear or inverse, with a margin table.
    dates : sequence of dates, optional
        One per row (default: the DataFrame's index, else row numbers).
    benchmark_prices_usd : array_like, shape (T,), optional
        Benchmark of the ex post realised betas (default the hedge prices).
    window : int or None, default 90
        Trailing daily returns per beta; None = all returns up to the date.
    min_obs : int, default 60
        Fewest paired returns for a beta.
    method : str, default "ols"
        Beta estimator: "ols", "blume", "ewma", "ewls", "welch", "welch-decay",
        "realised", "vasicek" or "vasicek-<base>" (see :func:`trailing_betas`).
    return_kind : {"simple", "log"}, default "simple"
        Returns the betas are estimated on.
    lam : float, default 0.94
        EWMA decay.
    half_life : float, default 126
        Half-life in days of the decayed estimators (``ewls``, ``welch-decay``).
    intraday : betaneutral.core.intraday.IntradayPrices, optional
        Intraday (hourly) closes of the holdings and of the hedge's underlying:
        the betas then come from intraday returns up to each daily close
        (``window``, ``min_obs`` and ``half_life`` stay in days); the book is
        still valued and hedged at the daily closes given.
    target_beta : float, default 0
        Portfolio beta the hedge aims at, in [-2, 2].
    band : float, default 0.05
        Rebalance when ``|beta - target| > band``; >= 0.
    check : {"daily", "weekly"}, default "daily"
        Check every date, or every 7 calendar days from the first check.
    rounding : {"nearest", "down", "up"}, default "nearest"
        Rounding of the contracts on the lot grid.
    fee_bps : float, default 5
        Taker fee per trade, basis points of traded notional, in [0, 1000].
    slippage_bps : float, default 0
        Extra cost per trade (fill worse than the close), basis points.
    funding_rate_8h : float or array_like of shape (T,), default 0.0001
        Funding rate per 8 hours (> 0: shorts receive), constant or one per date
        (the average rate of the day ending at that date); perpetuals only.
    basis_annual : float, default 0
        Annualised basis a dated future's short earns as it converges, in
        [-1, 1]; dated contracts only (a perpetual must have 0).
    stress_move : float, default 0.30
        Rally the collateral must survive (the margin buffer), > 0.
    safety_multiplier : float, default 1.2
        Multiplier on the margin buffer, >= 1.
    top_up_below : float, optional
        Top up to the margin buffer when the rally that would liquidate the short
        falls below this fraction; default ``stress_move / 2``.

    Returns
    -------
    BacktestResult
        ``daily``: one row per date with the columns of :data:`DAILY_COLUMNS`:
        spot value and dollar beta, whether it was a check date, the estimated
        beta before trading, breach and rebalance flags, contracts traded and
        held (> 0 short) after the close, hedge notional, estimated beta after
        trading (``portfolio_beta_est``), unhedged (spot) P&L, futures P&L,
        funding, fees, slippage and liquidation losses (USD), hedged P&L and
        both cumulative P&Ls, margin equity (settlement currency and USD),
        maintenance margin, margin ratio, rally to liquidation, collateral added
        and the top-up and liquidation flags. ``summary``: a
        :class:`BacktestSummary`.

    Raises
    ------
    InputTypeError
        Non-numeric prices or quantities, or ``spec`` not a ContractSpec.
    DomainError
        A price <= 0, a setting out of range, a quanto contract or one without a
        margin table, dates not increasing, or a book whose spot value is never
        > 0 (net short or empty) on a date with betas.
    DegenerateDataError
        Constant hedge prices, so that no beta is defined.
    InsufficientDataError
        Mismatched lengths, gaps in the hedge prices, or no date on which every
        holding has a beta.
    UnknownNameError
        Unknown method, return kind, check or rounding.

    Notes
    -----
    Day ``t`` (close), in this order:

    1. Mark: futures P&L of the ``N`` contracts short since ``t-1``: linear
       ``-N S (F_t - F_{t-1})`` USD; inverse ``N C (1/F_t - 1/F_{t-1})`` coin,
       valued at ``F_t``. Funding ``N * notional(F_t) * rate_8h * 24/h * dt``
       (``h`` the funding interval, ``dt`` days elapsed), received by the short
       when positive; dated futures accrue ``notional * basis_annual * dt/365``
       instead. Both go to the margin account.
    2. Liquidation: if the margin equity is at or below the maintenance margin
       of the contract's bracket at ``F_t``, the short is closed and all of the
       equity is lost (an equity deficit is not charged further).
    3. Check (every date, or every 7 days): ``V_S = sum q_i P_i``,
       ``D = sum q_i P_i b_i`` with trailing betas ``b_i`` to the hedge's
       underlying, estimated beta ``(D - H) / V_S`` with ``H`` the hedge
       notional held. If ``|beta - target| > band``, size the hedge notional
       ``D - target * V_S`` in contracts on the lot grid, trade the difference
       (skipped below the minimum quantity; a target under zero holds no hedge)
       and pay ``(fee + slippage) * traded notional`` from the margin account.
       The account is then topped up to the margin buffer of the new position
       (``margin_buffer`` at ``stress_move``, times ``safety_multiplier``).
    4. Monitor: if the rally to the liquidation price is below ``top_up_below``,
       top up to the margin buffer.

    Hedged P&L = spot P&L + futures P&L + funding - fees - slippage - margin
    forfeited. Collateral transfers are not P&L. Daily returns are P&L over the
    previous day's spot value; the realised betas are OLS slopes of those on the
    benchmark's simple returns from the first check date on.

    Assumptions: fills at the close (no partial fills), futures price = the
    underlying's close (no basis for perpetuals), liquidation tested on closes
    only (an intraday spike can liquidate a position this replay keeps), no
    partial liquidation, no withdrawals of excess margin, the coin collateral of
    an inverse contract is outside the book's P&L.

    Examples
    --------
    >>> from betaneutral.core.contracts import get_contract
    >>> rng = np.random.default_rng(1)
    >>> btc = 30_000 * np.cumprod(1 + rng.normal(0, 0.03, 200))
    >>> alt = 10 * np.cumprod(1 + 1.5 * (btc[1:] / btc[:-1] - 1))
    >>> res = backtest_hedge(np.r_[10, alt][:, None], btc, [1_000.0],
    ...                      get_contract("BINANCE:BTCUSDT"), window=30, min_obs=30)
    >>> abs(res.summary.realised_beta_hedged) < 0.05 < res.summary.realised_beta_unhedged
    True
    """
    band_v = in_range("band", band, 0.0, 1.0)
    check_v = choice("check", check, ("daily", "weekly"))
    book = prepare_replay(asset_prices_usd, hedge_prices_usd, quantities, spec, dates=dates,
                    benchmark_prices_usd=benchmark_prices_usd, window=window, min_obs=min_obs,
                    method=method, return_kind=return_kind, lam=lam, half_life=half_life,
                    intraday=intraday, target_beta=target_beta,
                    rounding=rounding, fee_bps=fee_bps, slippage_bps=slippage_bps,
                    funding_rate_8h=funding_rate_8h, basis_annual=basis_annual,
                    stress_move=stress_move, safety_multiplier=safety_multiplier,
                    top_up_below=top_up_below)
    return simulate_policy(book, band_v, check_v)


def check_replay_settings(settings: Mapping[str, Any], varied: Sequence[str]) -> None:
    """Refuse settings a comparison of replays cannot take: one of the ``varied``
    settings given alone (it is given as a list, ``bands`` for ``band``), or a keyword
    :func:`backtest_hedge` does not have."""
    for key in varied:
        if key in settings:
            raise InputTypeError(f"{key} must be given through {key}s, got {key}=")
    unknown = set(settings) - set(SETTING_KEYS)
    if unknown:
        raise InputTypeError(f"settings must be keywords of backtest_hedge, got "
                             f"{sorted(unknown)}")


def compare_policies(
    asset_prices_usd: Any,
    hedge_prices_usd: Any,
    quantities: Any,
    spec: ContractSpec,
    *,
    bands: Sequence[float] = (0.02, 0.05, 0.10),
    checks: Sequence[str] = ("daily", "weekly"),
    progress: Callable[[int, int], None] | None = None,
    **settings: Any,
) -> tuple[pd.DataFrame, dict[tuple[float, str], BacktestResult]]:
    """Replay several band / check-frequency policies on the same book.

    Parameters
    ----------
    asset_prices_usd, hedge_prices_usd, quantities, spec
        As :func:`backtest_hedge`.
    bands : sequence of float, default (0.02, 0.05, 0.10)
        Rebalance bands, each in [0, 1].
    checks : sequence of {"daily", "weekly"}, default ("daily", "weekly")
        Check frequencies.
    progress : callable, optional
        Called as ``progress(done, total)`` after each policy.
    **settings
        Every other keyword of :func:`backtest_hedge` except ``band`` and
        ``check``.

    Returns
    -------
    table : pandas.DataFrame
        One row per (band, check), columns :data:`POLICY_COLUMNS`.
    results : dict
        ``(band, check) -> BacktestResult``.

    Raises
    ------
    As :func:`backtest_hedge`; InputTypeError for an unknown keyword or an
    empty list of bands or checks.

    Notes
    -----
    The betas, spot values and P&L do not depend on the policy and are computed
    once; only the daily position loop runs per policy.
    ``net_cost_usd = fees + slippage - funding + liquidation losses``.

    Examples
    --------
    >>> from betaneutral.core.contracts import get_contract
    >>> rng = np.random.default_rng(2)
    >>> btc = 30_000 * np.cumprod(1 + rng.normal(0, 0.03, 120))
    >>> alt = 10 * np.cumprod(1 + 1.2 * (btc[1:] / btc[:-1] - 1))
    >>> table, _ = compare_policies(np.r_[10, alt][:, None], btc, [1_000.0],
    ...                             get_contract("BINANCE:BTCUSDT"), window=30, min_obs=30)
    >>> table[["band", "check"]].values.tolist()[:2]
    [[0.02, 'daily'], [0.02, 'weekly']]
    """
    check_replay_settings(settings, ("band", "check"))
    band_list = [in_range("bands", b, 0.0, 1.0) for b in bands]
    check_list = [choice("checks", c, ("daily", "weekly")) for c in checks]
    if not band_list or not check_list:
        raise InputTypeError("bands and checks must each hold at least one value, got none")
    full = dict(SETTING_DEFAULTS)
    full.update(settings)
    book = prepare_replay(asset_prices_usd, hedge_prices_usd, quantities, spec, **full)
    results: dict[tuple[float, str], BacktestResult] = {}
    rows = []
    total = len(band_list) * len(check_list)
    for b in band_list:
        for c in check_list:
            res = simulate_policy(book, b, c)
            results[(b, c)] = res
            s = res.summary.as_dict()
            rows.append([s[k] for k in POLICY_COLUMNS])
            if progress is not None:
                progress(len(results), total)
    return pd.DataFrame(rows, columns=list(POLICY_COLUMNS)), results


SETTING_DEFAULTS: dict[str, Any] = {  # the keyword defaults of backtest_hedge (tested)
    "dates": None,
    "benchmark_prices_usd": None,
    "window": 90,
    "min_obs": 60,
    "method": "ols",
    "return_kind": "simple",
    "lam": 0.94,
    "half_life": DEFAULT_HALF_LIFE,
    "intraday": None,
    "target_beta": 0.0,
    "rounding": "nearest",
    "fee_bps": 5.0,
    "slippage_bps": 0.0,
    "funding_rate_8h": 0.0001,
    "basis_annual": 0.0,
    "stress_move": 0.30,
    "safety_multiplier": 1.2,
    "top_up_below": None,
}
SETTING_KEYS = tuple(SETTING_DEFAULTS)
