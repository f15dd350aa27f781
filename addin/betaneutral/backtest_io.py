"""Run the hedge backtest on a book and write what it found.

Adapter around :mod:`betaneutral.core.backtest`: it turns a book (a workbook's
inputs, or the CSV files of ``betaneutral backtest``) into the core's arrays,
runs the policy comparison, and writes the results as CSV files, as console
lines and as the cells of the workbook's Backtest sheet.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from betaneutral.bookdata import BookInputs, check_holding_values
from betaneutral.core._validate import in_range
from betaneutral.core.backtest import BacktestResult, compare_policies
from betaneutral.core.contracts import get_contract
from betaneutral.core.estimators import DEFAULT_HALF_LIFE
from betaneutral.core.funding import funding_sums_by_period
from betaneutral.core.returns import composite_index
from betaneutral.errors import DomainError, InsufficientDataError
from betaneutral.files import atomic_output, check_writable_target
from betaneutral.safetext import neutralise_text

__all__ = [
    "DEFAULT_BANDS",
    "OUTPUT_FILES",
    "SETTING_ROWS",
    "SUMMARY_ROWS",
    "TOURNAMENT_FILE",
    "BacktestOptions",
    "BacktestRun",
    "policy_bands",
    "read_backtest_csv_inputs",
    "run_backtest",
    "summary_lines",
    "write_backtest_csvs",
]

#: (key, label, number format) of the settings a run replayed: its summary lines, its CSV,
#: and the Backtest sheet's "policy replayed" block.
SETTING_ROWS: tuple[tuple[str, str, str | None], ...] = (
    ("contract", "Hedge contract", None),
    ("benchmark", "Benchmark of the realised betas", None),
    ("window", "Beta window (returns; 0 = all)", "0"),
    ("method", "Beta method", None),
    ("band", "Rebalance band (beta)", "0.000"),
    ("check", "Checks", None),
    ("fee_bps", "Taker fee (bp)", "0.00"),
    ("slippage_bps", "Slippage (bp)", "0.00"),
    ("funding", "Funding", None),
    ("stress_move", "Margin buffer: stress rally", "0%"),
    ("top_up_below", "Top up when rally to liquidation <", "0%"),
)

#: (summary field, label, number format) of a run's results: its summary lines, its CSV, and
#: the Backtest sheet's results block.
SUMMARY_ROWS: tuple[tuple[str, str, str | None], ...] = (
    ("start", "First check", "yyyy-mm-dd"),
    ("end", "Last day", "yyyy-mm-dd"),
    ("days", "Days replayed", "0"),
    ("realised_beta_unhedged", "Realised beta, unhedged", "0.000"),
    ("realised_beta_hedged", "Realised beta, hedged", "0.000"),
    ("realised_beta_hedged_se", "Standard error (hedged)", "0.000"),
    ("mean_abs_drift", "Mean |drift| at checks", "0.000"),
    ("volatility_unhedged", "Volatility, unhedged (ann.)", "0.0%"),
    ("volatility_hedged", "Volatility, hedged (ann.)", "0.0%"),
    ("variance_ratio", "Variance hedged / unhedged", "0.000"),
    ("max_drawdown_unhedged", "Max drawdown, unhedged", "0.0%"),
    ("max_drawdown_hedged", "Max drawdown, hedged", "0.0%"),
    ("pnl_unhedged_usd", "P&L, unhedged (USD)", "#,##0"),
    ("pnl_hedged_usd", "P&L, hedged (USD)", "#,##0"),
    ("rebalances", "Rebalances", "0"),
    ("turnover_usd", "Turnover (USD)", "#,##0"),
    ("turnover_ratio", "Turnover / mean book value", "0.00"),
    ("fees_usd", "Fees (USD)", "#,##0"),
    ("slippage_usd", "Slippage (USD)", "#,##0"),
    ("funding_usd", "Funding received (USD)", "#,##0"),
    ("net_cost_usd", "Net cost (USD)", "#,##0"),
    ("collateral_posted_usd", "Collateral posted (USD)", "#,##0"),
    ("top_ups", "Margin top-ups", "0"),
    ("worst_margin_ratio", "Worst margin ratio", "0.0%"),
    ("min_rally_to_liquidation", "Smallest rally to liquidation", "0.0%"),
    ("liquidations", "Liquidations", "0"),
    ("first_liquidation_date", "First liquidation", "yyyy-mm-dd"),
    ("liquidation_loss_usd", "Margin lost to liquidation (USD)", "#,##0"),
)

#: Bands of the policy table (the run's own band is added when it is not one of them).
DEFAULT_BANDS: tuple[float, ...] = (0.02, 0.05, 0.10)
#: Files written by :func:`write_backtest_csvs`.
OUTPUT_FILES: tuple[str, ...] = ("backtest_daily.csv", "backtest_summary.csv", "policies.csv")
#: Written besides them when estimators are compared (``--estimators``).
TOURNAMENT_FILE = "tournament.csv"


@dataclass(frozen=True)
class BacktestOptions:
    """Policy and cost settings of a run; the book's Settings supply the rest.

    Attributes
    ----------
    band : float or None
        Rebalance band; None takes the book's RebalanceBand.
    check : str
        "daily" or "weekly".
    fee_bps, slippage_bps : float
        Cost per trade, basis points of traded notional.
    top_up_below : float or None
        Rally-to-liquidation threshold of the margin top-ups (None: half the
        Settings stress move).
    basis_annual : float
        Annualised basis earned by a dated future's short.
    estimators : tuple of str, optional
        Beta methods of the estimator tournament (None: no tournament).
    windows : tuple of int, optional
        Windows (days) of the tournament; default the book's window.
    half_life : float
        Half-life in days of the decayed estimators (``ewls``, ``welch-decay``).
    """

    band: float | None = None
    check: str = "daily"
    fee_bps: float = 5.0
    slippage_bps: float = 0.0
    top_up_below: float | None = None
    basis_annual: float = 0.0
    estimators: tuple[str, ...] | None = None
    windows: tuple[int, ...] | None = None
    half_life: float = DEFAULT_HALF_LIFE


@dataclass(frozen=True)
class BacktestRun:
    """One policy's replay, the policy table, and what was used.

    Attributes
    ----------
    result : BacktestResult
        The policy asked for (band, check).
    policies : pandas.DataFrame
        Every band of :data:`DEFAULT_BANDS` (and the run's band) daily and weekly.
    settings : dict
        Keys of :data:`betaneutral.workbook.SETTING_ROWS`.
    target_beta : float
        Target the hedge aimed at.
    tournament : betaneutral.core.tournament.Tournament or None
        The estimator tournament, when estimators were asked for.
    """

    result: BacktestResult
    policies: pd.DataFrame
    settings: dict[str, Any]
    target_beta: float
    tournament: Any = None


def _funding_rates(inputs: BookInputs, funding: pd.Series | None) -> tuple[Any, str]:
    constant = inputs.settings.funding_rate_8h
    if funding is None:
        return constant, f"constant {constant:.4%} per 8 h (Settings)"
    rates = funding.reindex(inputs.prices.index)
    known = int(rates.notna().sum())
    text = f"funding_rate_8h column on {known} of {len(rates)} days"
    if known < len(rates):
        text += f", {constant:.4%} per 8 h (Settings) on the others"
    return rates.fillna(constant).to_numpy(), text


def _history_rates(inputs: BookInputs, history: tuple[pd.DataFrame, str, str],
                   spec: Any) -> tuple[Any, str]:
    """Per-day rates for the core from a funding history, accrued payment by payment.

    The day ``t`` runs from the close of ``t-1`` to the close of ``t``, each close
    taken at the end of its UTC day; its funding is the sum of the rates paid in it
    (3 a day at 8 h, 24 at 1 h). The core accrues ``rate x 24 / h x dt`` per day, so
    that sum is handed over as its average per contract interval ``h``.
    """
    frame, contract, label = history
    if contract.upper() != spec.name.upper():
        raise DomainError(f"funding history must be of the hedge contract {spec.name}, got "
                          f"{contract} ({label})")
    dates = inputs.prices.index
    ends = (dates + pd.Timedelta(days=1)).to_numpy()
    sums, covered = funding_sums_by_period(frame["time"].to_numpy(),
                                           frame["funding_rate"].to_numpy(), ends)
    days = np.diff(((dates - dates[0]) // pd.Timedelta(days=1)).to_numpy(), prepend=0)
    constant = inputs.settings.funding_rate_8h
    per_day = 24.0 / (spec.funding_interval_hours or 8.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(covered, sums / (per_day * days), constant)
    known, total = int(covered.sum()), len(dates) - 1
    text = (f"{contract} funding history ({label}), each payment accrued, on {known} of "
            f"{total} days")
    if known < total:
        text += f"; {constant:.4%} per 8 h (Settings) on the others"
    return rates, text


def _benchmark(inputs: BookInputs) -> tuple[np.ndarray, str]:
    prices = inputs.prices
    if inputs.settings.benchmark.strip().upper() == "BTC":
        return prices["BTC"].to_numpy(), "BTC"
    pair = prices[["BTC", "ETH"]]
    if pair.isna().any().any():
        day = pair.index[pair.isna().any(axis=1)][0]
        raise InsufficientDataError(
            f"prices must have BTC and ETH closes on every date for the BTC/ETH 50/50 "
            f"benchmark, got a gap on {day:%Y-%m-%d}")
    return composite_index(pair.to_numpy()), "BTC/ETH 50/50"


def run_backtest(inputs: BookInputs, options: BacktestOptions = BacktestOptions(), *,
                 funding: pd.Series | None = None, quantities: np.ndarray | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 funding_history: tuple[pd.DataFrame, str, str] | None = None,
                 intraday: Any = None) -> BacktestRun:
    """Replay the book's hedging policy and the policy table.

    Parameters
    ----------
    inputs : BookInputs
        Prices, holdings and Settings (window, method, minimum observations,
        return type, target beta, band, contract, stress move, safety multiplier,
        funding rate).
    options : BacktestOptions
        Band, check frequency and costs.
    funding : pandas.Series, optional
        Funding rates per 8 h by date (missing days take the Settings rate).
    quantities : numpy.ndarray, optional
        Holdings history, one row per price date and one column per holding
        (default: the holdings' fixed quantities).
    progress : callable, optional
        ``progress(done, total)`` after each policy (and each tournament candidate).
    funding_history : (DataFrame, str, str), optional
        A funding history (``time``, ``funding_rate``), its contract and a label
        (the file name), as :func:`betaneutral.marketdata.files.read_funding_csv`
        reads it: each payment is accrued on the day it falls in, days it does
        not cover take the Settings rate. Not with ``funding``.
    intraday : betaneutral.core.intraday.IntradayPrices, optional
        Hourly closes of the holdings and the hedge's underlying, for the betas.

    Returns
    -------
    BacktestRun

    Raises
    ------
    BetaNeutralError
        As :func:`betaneutral.core.backtest.compare_policies`; also a gap in
        the hedge underlying's prices (the date is named).
    """
    s = inputs.settings
    spec = get_contract(s.hedge_contract)
    assets = list(inputs.holdings["asset"])
    prices = inputs.prices
    hedge = prices[spec.underlying]
    if hedge.isna().any():
        day = hedge.index[hedge.isna()][0]
        raise InsufficientDataError(
            f"prices must have a {spec.underlying} close on every date to mark the hedge "
            f"daily, got a gap on {day:%Y-%m-%d}")
    bench, bench_name = _benchmark(inputs)
    if funding_history is not None and funding is not None:
        raise DomainError("funding must come from the prices file's funding_rate_8h column or "
                          "from a funding history, not both")
    rates, funding_text = (_funding_rates(inputs, funding) if funding_history is None
                           else _history_rates(inputs, funding_history, spec))
    band = s.rebalance_band if options.band is None else in_range("band", options.band, 0, 1)
    qty = inputs.holdings["quantity"].to_numpy(dtype=float) if quantities is None \
        else quantities
    common = dict(dates=prices.index, benchmark_prices_usd=bench, min_obs=s.min_obs,
                  return_kind=s.return_type.lower(), target_beta=s.target_beta,
                  fee_bps=options.fee_bps, slippage_bps=options.slippage_bps,
                  funding_rate_8h=rates, basis_annual=options.basis_annual,
                  stress_move=s.stress_move, safety_multiplier=s.safety_multiplier,
                  top_up_below=options.top_up_below, half_life=options.half_life,
                  intraday=intraday)
    table, results = compare_policies(
        prices[assets], hedge.to_numpy(), qty, spec, bands=policy_bands(band),
        checks=("daily", "weekly"), progress=progress, window=s.window or None,
        method=s.beta_method.lower(), **common)
    check = options.check.strip().lower()
    result = results[(band, check)]
    tournament = None
    if options.estimators:
        from betaneutral.core.tournament import estimator_tournament

        tournament = estimator_tournament(
            prices[assets], hedge.to_numpy(), qty, spec, estimators=options.estimators,
            windows=options.windows or (s.window or None,),
            default=(s.beta_method.lower(), s.window or None), band=band, check=check,
            progress=progress, **common)
    if not spec.perpetual:
        funding_text = f"none (dated future); basis {options.basis_annual:.2%} a year"
    settings = {
        "contract": spec.name,
        "benchmark": bench_name,
        "window": s.window,
        "method": s.beta_method if intraday is None else
        f"{s.beta_method}, from {intraday.per_day} returns a day",
        "band": band,
        "check": check,
        "fee_bps": options.fee_bps,
        "slippage_bps": options.slippage_bps,
        "funding": funding_text,
        "stress_move": s.stress_move,
        "top_up_below": (s.stress_move / 2.0 if options.top_up_below is None
                         else options.top_up_below),
    }
    return BacktestRun(result=result, policies=table, settings=settings,
                       target_beta=s.target_beta, tournament=tournament)


def read_backtest_csv_inputs(
    holdings_csv: str | os.PathLike[str],
    prices_csv: str | os.PathLike[str],
    settings_toml: str | os.PathLike[str] | None = None,
    *,
    date_format: str | None = None,
) -> tuple[BookInputs, pd.Series | None, np.ndarray | None]:
    """A book from the backtest's CSV files, with its funding rates and holdings history.

    Parameters
    ----------
    holdings_csv : path-like
        ``asset, quantity[, price]`` (fixed quantities), or ``date, asset,
        quantity`` (a holdings history: each row holds from that date's close
        until the asset's next row; 0 before an asset's first row).
    prices_csv : path-like
        As for ``betaneutral fill``; a wide file may add a ``funding_rate_8h``
        column (average 8-hour rate of each day; blank = use the Settings rate).
    settings_toml : path-like, optional
        Settings, as for ``betaneutral fill``.
    date_format : {"auto", "iso", "dmy", "mdy"}, optional
        How the dates of both files are written
        (:func:`betaneutral.sources.parse_dates`).

    Returns
    -------
    inputs : BookInputs
        With a history, the holdings are each asset's latest quantity.
    funding : pandas.Series or None
        The funding column, when the prices file has one.
    quantities : numpy.ndarray or None
        The holdings history on the price dates, one column per holding.

    Raises
    ------
    BetaNeutralError
        As :func:`betaneutral.workbook.inputs.read_csv_inputs`, and for a
        malformed history or funding column (file, row and column are named).
    """
    from betaneutral import history
    from betaneutral.sources import (
        book_inputs,
        check_held_eth,
        read_book_prices,
        read_csv_inputs,
    )

    funding = history.read_funding_column(prices_csv, date_format)
    if not history.has_date_column(holdings_csv):
        return (read_csv_inputs(holdings_csv, prices_csv, settings_toml,
                                date_format=date_format), funding, None)
    prices = read_book_prices(Path(prices_csv), date_format)
    dated = history.read_holdings_history(holdings_csv, list(prices.columns), date_format)
    assets = list(dict.fromkeys(dated["asset"]))
    quantities = history.quantity_schedule(dated, prices.index, assets)
    check_holding_values(assets, quantities, prices)
    holdings = pd.DataFrame({"asset": assets, "quantity": quantities[-1]})
    check_held_eth(prices, holdings)
    inputs = book_inputs(prices, holdings, settings_toml)
    return inputs, funding, quantities


def policy_bands(band: float) -> Sequence[float]:
    """Bands of the policy table for a run with ``band``: the defaults and ``band``."""
    return sorted({*DEFAULT_BANDS, band})


# --------------------------------------------------------------------------- output


def _csv_value(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and not math.isfinite(value):
        return ""  # undefined (no short held: no rally to liquidation, no margin ratio)
    return value


def _frame_csv(frame: pd.DataFrame) -> str:
    """The frame as CSV text: dates as ISO days, every number finite, blank where undefined."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].where(np.isfinite(out[col]))  # inf -> NaN, written blank
        elif out[col].dtype == object:
            out[col] = [_csv_value(v) for v in out[col]]
    buffer = io.StringIO(newline="")
    out.to_csv(buffer, index=False, lineterminator="\r\n", float_format=None)
    return buffer.getvalue()


def write_backtest_csvs(run: BacktestRun, out_dir: str | os.PathLike[str], *,
                        force: bool = False) -> list[Path]:
    """Write ``backtest_daily.csv``, ``backtest_summary.csv`` and ``policies.csv``.

    Every target is checked before any is written (exists without ``force``,
    open in Excel, folder missing), and each file is written atomically.

    With a tournament, ``tournament.csv`` (:data:`TOURNAMENT_FILE`) is written
    too: its table, then the recommendation and the test as ``#`` lines.

    Returns
    -------
    list of Path
        The files written, in :data:`OUTPUT_FILES` order (then the tournament's).

    Raises
    ------
    FileProblemError
        A target cannot be written.
    """
    folder = Path(out_dir)
    paths = [folder / name for name in OUTPUT_FILES]
    if run.tournament is not None:
        paths.append(folder / TOURNAMENT_FILE)
    for path in paths:
        check_writable_target(path, force=force)
    summary = run.result.summary.as_dict()
    rows = [("setting:" + key, neutralise_text(value) if isinstance(value, str) else value)
            for key, value in ((k, run.settings[k]) for k, _, _ in SETTING_ROWS)]
    rows += list(summary.items())
    texts = [
        _frame_csv(run.result.daily),
        _frame_csv(pd.DataFrame(rows, columns=["metric", "value"])),
        _frame_csv(run.policies),
    ]
    if run.tournament is not None:
        texts.append(tournament_csv(run.tournament))
    for path, text in zip(paths, texts, strict=True):
        with atomic_output(path, force=force, newline="") as (handle, _tmp):
            handle.write(text)
    return paths


def tournament_csv(tournament: Any) -> str:
    """The tournament table as CSV, with the scored period, the test and the recommendation
    in the last rows (``candidate`` column) so that a spreadsheet opens it as one table."""
    text = _frame_csv(tournament.table)
    test = tournament.test
    extra = [
        ("# period", f"{_fmt(tournament.start, None)} to {_fmt(tournament.end, None)}, "
                     f"{tournament.days} daily returns"),
        ("# best", tournament.best),
        ("# default", tournament.default),
        ("# diebold_mariano_p", "" if test is None else repr(test.p_value)),
        ("# diebold_mariano_statistic", "" if test is None else repr(test.statistic)),
        ("# recommendation", tournament.recommendation),
    ]
    buffer = io.StringIO(newline="")
    pd.DataFrame(extra).to_csv(buffer, index=False, header=False, lineterminator="\r\n")
    return text + buffer.getvalue()


def tournament_lines(tournament: Any) -> list[str]:
    """The tournament table and its recommendation as console lines."""
    cols = [("rank", "rank", None), ("candidate", "estimator", None),
            ("variance_ratio", "var ratio", "0.000"),
            ("realised_beta_hedged", "beta hedged", "0.000"),
            ("realised_beta_hedged_se", "SE", "0.000"),
            ("mean_abs_drift", "mean |drift|", "0.000"), ("rebalances", "trades", None),
            ("fees_usd", "fees USD", "#,##0"), ("net_cost_usd", "net cost USD", "#,##0")]
    table = [[label for _, label, _ in cols] + [""]]
    for record in tournament.table.to_dict("records"):
        rank = record["rank"]
        cells = [("-" if rank is None or rank != rank else str(int(rank)))]
        cells += [_fmt(record[key], fmt) for key, _, fmt in cols[1:]]
        note = "default" if record["default"] else ""
        if record["note"]:
            note = "not run: " + str(record["note"])
        table.append([*cells, note])
    widths = [max(len(r[j]) for r in table) for j in range(len(cols))]
    lines = ["", f"Estimators (same book and costs; {tournament.days} days scored, "
                 f"{_fmt(tournament.start, None)} to {_fmt(tournament.end, None)}):"]
    for r in table:
        lines.append("  " + "  ".join(v.rjust(w) for v, w in zip(r, widths, strict=False))
                     + ("  " + r[-1] if r[-1] else ""))
    test = tournament.test
    if test is not None:
        lines.append(f"  Diebold-Mariano, {tournament.best} vs {tournament.default}: "
                     f"statistic {test.statistic:.3f}, one-sided p = {test.p_value:.4f}")
    lines.append("  " + tournament.recommendation)
    return lines


def _fmt(value: Any, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, float) and math.isinf(value):
        return "never exposed"
    if fmt in ("0.0%", "0%"):
        return f"{value:.1%}"
    if fmt == "#,##0":
        return f"{value:,.0f}"
    if fmt == "0.000":
        return f"{value:.3f}"
    if fmt == "0.00":
        return f"{value:.2f}"
    return str(value)


def summary_lines(run: BacktestRun) -> list[str]:
    """The run's summary and its policy table as console lines."""
    summary = run.result.summary.as_dict()
    rows = [(label, _fmt(run.settings[key], fmt))
            for key, label, fmt in SETTING_ROWS]
    rows += [(label, _fmt(summary[key], fmt)) for key, label, fmt in SUMMARY_ROWS]
    width = max(len(label) for label, _ in rows)
    lines = [f"  {label:<{width}}  {text}" for label, text in rows]
    cols = [("band", "band", "0.000"), ("check", "check", None),
            ("realised_beta_hedged", "beta hedged", "0.000"),
            ("mean_abs_drift", "mean |drift|", "0.000"), ("rebalances", "trades", None),
            ("fees_usd", "fees USD", "#,##0"), ("funding_usd", "funding USD", "#,##0"),
            ("net_cost_usd", "net cost USD", "#,##0"),
            ("worst_margin_ratio", "worst margin", "0.0%"),
            ("liquidations", "liquidations", None)]
    table = [[label for _, label, _ in cols]]
    for record in run.policies.to_dict("records"):
        table.append([_fmt(record[key], fmt) for key, _, fmt in cols])
    widths = [max(len(r[j]) for r in table) for j in range(len(cols))]
    lines.append("")
    lines.append("Policies (same book, same costs):")
    for r in table:
        lines.append("  " + "  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)))
    if run.tournament is not None:
        lines += tournament_lines(run.tournament)
    return lines
