"""Layout of the Backtest sheet and the values a backtest run puts in it.

The template (:mod:`betaneutral.workbook.template`) draws the sheet from these
positions: labels, headers, number formats and two line charts over the daily
block. The commands fill it with values (never formulas) through
:func:`backtest_sheet_cells`, so the layout is defined once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from openpyxl.utils import get_column_letter

from betaneutral.backtest_io import (
    SETTING_ROWS,
    SUMMARY_ROWS,
    BacktestRun,
    run_backtest,
)
from betaneutral.bookdata import BookInputs
from betaneutral.errors import BetaNeutralError

__all__ = [
    "DAILY_FIRST_ROW",
    "DAILY_HEADER",
    "POLICY_FIRST_ROW",
    "POLICY_HEADER",
    "POLICY_ROWS",
    "SETTING_ROWS",
    "SHEET",
    "SUMMARY_ROWS",
    "TOURNAMENT_HEADER",
    "backtest_sheet_cells",
    "book_backtest_cells",
    "clear_cells",
    "sheet_cells",
    "unavailable_sheet_cells",
]

SHEET = "Backtest"

SETTINGS_FIRST_ROW = 5

SUMMARY_FIRST_ROW = SETTINGS_FIRST_ROW + len(SETTING_ROWS) + 2

#: Policy table: header row and (column key, label, format), from column D.
POLICY_HEADER_ROW = 4
POLICY_FIRST_ROW = POLICY_HEADER_ROW + 1
POLICY_FIRST_COL = 4  # D
POLICY_ROWS = 8  # three default bands and the book's own, daily and weekly
POLICY_HEADER: tuple[tuple[str, str, str | None], ...] = (
    ("band", "Band", "0.000"),
    ("check", "Checks", None),
    ("realised_beta_hedged", "Realised beta hedged", "0.000"),
    ("realised_beta_unhedged", "Realised beta unhedged", "0.000"),
    ("mean_abs_drift", "Mean |drift|", "0.000"),
    ("volatility_hedged", "Vol hedged", "0.0%"),
    ("variance_ratio", "Variance ratio", "0.000"),
    ("max_drawdown_hedged", "Max DD hedged", "0.0%"),
    ("rebalances", "Rebalances", "0"),
    ("turnover_usd", "Turnover (USD)", "#,##0"),
    ("fees_usd", "Fees (USD)", "#,##0"),
    ("funding_usd", "Funding (USD)", "#,##0"),
    ("net_cost_usd", "Net cost (USD)", "#,##0"),
    ("worst_margin_ratio", "Worst margin ratio", "0.0%"),
    ("top_ups", "Top-ups", "0"),
    ("liquidations", "Liquidations", "0"),
)

#: Daily block (chart data): header row and (daily column, label, format), from column A.
DAILY_HEADER_ROW = SUMMARY_FIRST_ROW + len(SUMMARY_ROWS) + 2
DAILY_FIRST_ROW = DAILY_HEADER_ROW + 1
DAILY_HEADER: tuple[tuple[str, str, str | None], ...] = (
    ("date", "Date", "yyyy-mm-dd"),
    ("cum_unhedged_pnl_usd", "Cumulative P&L unhedged (USD)", "#,##0"),
    ("cum_hedged_pnl_usd", "Cumulative P&L hedged (USD)", "#,##0"),
    ("portfolio_beta_est", "Estimated beta (after trading)", "0.000"),
    ("upper_band", "Target + band", "0.000"),
    ("lower_band", "Target - band", "0.000"),
    ("hedge_contracts", "Contracts short", "#,##0.000"),
    ("margin_equity_usd", "Margin equity (USD)", "#,##0"),
    ("rebalanced", "Rebalanced", None),
)

#: Estimator tournament block (``betaneutral backtest --estimators``), right of the charts:
#: a title, the recommendation in words, best / default / p-value / days, then the table.
#: Written as values, labels included (the template leaves these cells empty).
TOURNAMENT_FIRST_COL = 16  # P
TOURNAMENT_TITLE_ROW = 14
TOURNAMENT_TEXT_ROW = 15
TOURNAMENT_FACTS_ROW = 16
TOURNAMENT_HEADER_ROW = 17
TOURNAMENT_ROWS = 30  # rows 18-47, above the daily block
TOURNAMENT_HEADER: tuple[tuple[str, str], ...] = (
    ("rank", "Rank"),
    ("candidate", "Estimator and window"),
    ("default", "Default"),
    ("variance_ratio", "Variance ratio"),
    ("realised_beta_hedged", "Realised beta hedged"),
    ("realised_beta_hedged_se", "SE"),
    ("mean_abs_drift", "Mean |drift|"),
    ("rebalances", "Trades"),
    ("fees_usd", "Fees (USD)"),
    ("net_cost_usd", "Net cost (USD)"),
    ("note", "Note"),
)
_TOURNAMENT_FACTS = ("Best", "Default", "Diebold-Mariano p", "Days scored")

STATUS_CELL = "A3"
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
CHART_PNL_ANCHOR = "D15"
CHART_BETA_ANCHOR = "D31"


def _cell_value(value: Any) -> Any:
    """A value as a cell holds it: dates as day serials, NaN and None as blank."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):  # an Excel date serial (the cells have date formats)
        return int((value.normalize() - _EXCEL_EPOCH).days)
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN (not defined) and inf (never exposed) are left blank
    return value


def clear_cells(n_days: int) -> dict[str, Any]:
    """Every value cell of the sheet mapped to None (the empty sheet of the template)."""
    out: dict[str, Any] = {STATUS_CELL: None}
    for i in range(len(SETTING_ROWS)):
        out[f"B{SETTINGS_FIRST_ROW + i}"] = None
    for i in range(len(SUMMARY_ROWS)):
        out[f"B{SUMMARY_FIRST_ROW + i}"] = None
    for r in range(POLICY_ROWS):
        for j in range(len(POLICY_HEADER)):
            out[f"{get_column_letter(POLICY_FIRST_COL + j)}{POLICY_FIRST_ROW + r}"] = None
    for r in range(n_days):
        for j in range(len(DAILY_HEADER)):
            out[f"{get_column_letter(1 + j)}{DAILY_FIRST_ROW + r}"] = None
    out.update({coord: None for coord in _tournament_coords()})
    return out


def _tcell(col: int, row: int) -> str:
    return f"{get_column_letter(TOURNAMENT_FIRST_COL + col)}{row}"


def _tournament_coords() -> list[str]:
    coords = [_tcell(0, TOURNAMENT_TITLE_ROW), _tcell(0, TOURNAMENT_TEXT_ROW)]
    coords += [_tcell(j, TOURNAMENT_FACTS_ROW) for j in range(2 * len(_TOURNAMENT_FACTS))]
    for r in range(TOURNAMENT_HEADER_ROW, TOURNAMENT_HEADER_ROW + TOURNAMENT_ROWS + 1):
        coords += [_tcell(j, r) for j in range(len(TOURNAMENT_HEADER))]
    return coords


def tournament_cells(tournament: Any) -> dict[str, Any]:
    """The tournament block of a :class:`betaneutral.core.tournament.Tournament`.

    The table is written best first; beyond :data:`TOURNAMENT_ROWS` candidates
    the last row says how many more are in ``tournament.csv``.
    """
    out: dict[str, Any] = {coord: None for coord in _tournament_coords()}
    out[_tcell(0, TOURNAMENT_TITLE_ROW)] = (
        "Which beta hedges best: the policy replayed with each estimator and window, "
        "scored on the same days")
    out[_tcell(0, TOURNAMENT_TEXT_ROW)] = tournament.recommendation
    test = tournament.test
    facts = (tournament.best, tournament.default,
             None if test is None else test.p_value, tournament.days)
    for j, (label, value) in enumerate(zip(_TOURNAMENT_FACTS, facts, strict=True)):
        out[_tcell(2 * j, TOURNAMENT_FACTS_ROW)] = label
        out[_tcell(2 * j + 1, TOURNAMENT_FACTS_ROW)] = _cell_value(value)
    for j, (_, label) in enumerate(TOURNAMENT_HEADER):
        out[_tcell(j, TOURNAMENT_HEADER_ROW)] = label
    records = tournament.table.to_dict("records")
    shown = records if len(records) <= TOURNAMENT_ROWS else records[:TOURNAMENT_ROWS - 1]
    for r, row in enumerate(shown):
        for j, (key, _) in enumerate(TOURNAMENT_HEADER):
            value = row[key]
            if key == "default":
                value = "default" if value else None
            elif key == "note" and not value:
                value = None
            out[_tcell(j, TOURNAMENT_HEADER_ROW + 1 + r)] = _cell_value(value)
    if len(shown) < len(records):
        out[_tcell(1, TOURNAMENT_HEADER_ROW + TOURNAMENT_ROWS)] = (
            f"... {len(records) - len(shown)} more in tournament.csv")
    return out


def backtest_sheet_cells(*, settings: Mapping[str, Any], summary: Mapping[str, Any],
                         policies: pd.DataFrame, daily: pd.DataFrame, target_beta: float,
                         n_days: int, status: str, tournament: Any = None) -> dict[str, Any]:
    """Coordinates of the Backtest sheet mapped to the values of one run.

    Parameters
    ----------
    settings : mapping
        Keys of :data:`SETTING_ROWS` to what the run used.
    summary : mapping
        :class:`betaneutral.core.backtest.BacktestSummary` fields.
    policies : pandas.DataFrame
        The policy table (at most :data:`POLICY_ROWS` rows are shown).
    daily : pandas.DataFrame
        The run's daily frame; at most ``n_days`` rows are written.
    target_beta : float
        Target of the band lines.
    n_days : int
        Rows of the daily block in the template (the rest are cleared).
    status : str
        One line for the status cell (what was run, or why nothing was).
    tournament : betaneutral.core.tournament.Tournament, optional
        The estimator tournament, shown right of the charts (the block is
        cleared without one).

    Returns
    -------
    dict
        Coordinate to value; None clears a cell.
    """
    out = clear_cells(n_days)
    out[STATUS_CELL] = status
    for i, (key, _, _) in enumerate(SETTING_ROWS):
        out[f"B{SETTINGS_FIRST_ROW + i}"] = _cell_value(settings.get(key))
    for i, (key, _, _) in enumerate(SUMMARY_ROWS):
        out[f"B{SUMMARY_FIRST_ROW + i}"] = _cell_value(summary.get(key))
    for r, row in enumerate(policies.head(POLICY_ROWS).to_dict("records")):
        for j, (key, _, _) in enumerate(POLICY_HEADER):
            coord = f"{get_column_letter(POLICY_FIRST_COL + j)}{POLICY_FIRST_ROW + r}"
            out[coord] = _cell_value(row[key])
    band = float(settings.get("band", 0.0))
    for r, row in enumerate(daily.head(n_days).to_dict("records")):
        row = dict(row)
        row["upper_band"] = target_beta + band
        row["lower_band"] = target_beta - band
        for j, (key, _, _) in enumerate(DAILY_HEADER):
            out[f"{get_column_letter(1 + j)}{DAILY_FIRST_ROW + r}"] = _cell_value(row[key])
    if tournament is not None:
        out.update(tournament_cells(tournament))
    return out


def sheet_cells(run: BacktestRun, n_days: int) -> dict[tuple[str, str], Any]:
    """``(sheet, coordinate) -> value`` for the Backtest sheet of a book."""
    summary = run.result.summary
    status = (f"Replayed {summary.start:%Y-%m-%d} to {summary.end:%Y-%m-%d}: band "
              f"{run.settings['band']:.3f}, {run.settings['check']} checks, "
              f"{run.settings['fee_bps']:g} bp fee." if isinstance(summary.start, pd.Timestamp)
              else "Replayed.")
    cells = backtest_sheet_cells(
        settings=run.settings, summary=summary.as_dict(), policies=run.policies,
        daily=run.result.daily, target_beta=run.target_beta, n_days=n_days, status=status,
        tournament=run.tournament)
    return {(SHEET, coord): value for coord, value in cells.items()}


def unavailable_sheet_cells(reason: str, n_days: int) -> dict[tuple[str, str], Any]:
    """The Backtest sheet cleared, with ``reason`` in its status cell."""
    cells = clear_cells(n_days)
    cells[STATUS_CELL] = f"Backtest not available: {reason}"
    return {(SHEET, coord): value for coord, value in cells.items()}


def book_backtest_cells(sheetnames: Sequence[str], inputs: BookInputs,
                        run: BacktestRun | None = None) -> dict[tuple[str, str], Any]:
    """Values of a book's Backtest sheet: ``run``, or the book's own policy by default.

    The default run uses the book's band, daily checks and the default costs
    (:class:`BacktestOptions`). A book that cannot be replayed (a contract
    without a margin table, say) gets the reason in the sheet's status cell
    instead of an error; a book without a Backtest sheet gets nothing.
    """
    if SHEET not in sheetnames:
        return {}
    n_days = len(inputs.prices)
    if run is None:
        try:
            run = run_backtest(inputs)
        except BetaNeutralError as exc:
            return unavailable_sheet_cells(str(exc), n_days)
    return sheet_cells(run, n_days)
