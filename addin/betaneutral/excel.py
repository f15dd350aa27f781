"""What the Start sheet's buttons run (xlwings ``RunPython`` from the BetaNeutral VBA module).

* :func:`export_tickets` writes the hedge tickets of the saved workbook to a
  new CSV file next to it, by the ``betaneutral tickets`` code path
  (:func:`betaneutral.cli.write_book_tickets`): identifiers checked, text
  neutralised, written atomically, never over an existing file.
* :func:`replay_backtest` replays the book's hedging policy (its band, daily
  checks, the default costs: what ``betaneutral compute`` shows) and writes
  the results into the open workbook's Backtest sheet.

Both read the workbook **as saved** (the macro offers to save it first) and
report in an Excel message box. The VBA passes the xlwings version whose VBA
module the workbook carries; a different xlwings in this Python stops the
macro with a message saying which version to install.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from betaneutral.errors import BetaNeutralError
from betaneutral.files import FileProblemError

__all__ = ["check_xlwings_version", "export_tickets", "replay_backtest", "tickets_csv_path"]

_TITLE = "BetaNeutral"


def check_xlwings_version(xlwings_vba: str | None) -> None:
    """Refuse to run when the workbook's xlwings VBA is another version than this Python's.

    Raises
    ------
    BetaNeutralError
        The versions differ; the message names both and the fix.
    """
    import xlwings

    if xlwings_vba is not None and xlwings_vba != xlwings.__version__:
        raise BetaNeutralError(
            f"xlwings version mismatch: the workbook carries the VBA of xlwings {xlwings_vba}, "
            f"this Python has xlwings {xlwings.__version__}. Install the matching version "
            f"(pip install xlwings=={xlwings_vba}), or give the workbook the VBA of "
            f"xlwings {xlwings.__version__} (close it, then run betaneutral refresh-vba on it).")


def _caller(book: Any) -> Any:
    if book is not None:
        return book
    import xlwings

    return xlwings.Book.caller()


def _saved_path(book: Any) -> Path:
    path = Path(book.fullname)
    if not path.is_file():
        raise FileProblemError(f"{path} is not a saved file: save the workbook first")
    return path


def tickets_csv_path(book_path: Path, now: datetime | None = None) -> Path:
    """``<book>-tickets-<UTC yyyymmdd-hhmmss>.csv`` next to the workbook."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    return book_path.with_name(f"{book_path.stem}-tickets-{stamp}.csv")


def _alert(book: Any, message: str) -> None:
    book.app.alert(message, title=_TITLE)


def export_tickets(book: Any = None, *, xlwings_vba: str | None = None,
                   output: str | Path | None = None) -> Path | None:
    """Write the saved workbook's hedge tickets to a new CSV file next to it.

    Parameters
    ----------
    book : xlwings.Book, optional
        The calling workbook (default ``xlwings.Book.caller()``).
    xlwings_vba : str, optional
        Version of the xlwings VBA module in the workbook (passed by the macro).
    output : path-like, optional
        The CSV file (default :func:`tickets_csv_path`); never replaced.

    Returns
    -------
    pathlib.Path or None
        The file written, or None when a problem was reported instead.
    """
    from betaneutral.cli import write_book_tickets

    book = _caller(book)
    try:
        check_xlwings_version(xlwings_vba)
        path = _saved_path(book)
        target = Path(output) if output is not None else tickets_csv_path(path)
        tickets = write_book_tickets(path, target, fmt="tickets", force=False)
    except (BetaNeutralError, FileProblemError, OSError) as exc:
        _alert(book, f"No tickets written: {exc}")
        return None
    _alert(book, f"Wrote {len(tickets)} ticket(s) to {target}" if tickets else
           f"No order: the drift is inside the band. Wrote an empty {target}")
    return target


def _column_runs(cells: Mapping[tuple[str, str], Any]
                 ) -> list[tuple[str, str, int, list[Any]]]:
    """(sheet, column, first row, values) for each run of consecutive cells of a column."""
    from openpyxl.utils.cell import coordinate_from_string

    by_column: dict[tuple[str, str], dict[int, Any]] = {}
    for (sheet, coord), value in cells.items():
        col, row = coordinate_from_string(coord)
        by_column.setdefault((sheet, col), {})[row] = value
    runs = []
    for (sheet, col), rows in sorted(by_column.items()):
        ordered = sorted(rows)
        start = prev = ordered[0]
        values = [rows[start]]
        for r in ordered[1:]:
            if r == prev + 1:
                values.append(rows[r])
            else:
                runs.append((sheet, col, start, values))
                start, values = r, [rows[r]]
            prev = r
        runs.append((sheet, col, start, values))
    return runs


def _excel_value(value: Any) -> Any:
    """A value as xlwings writes it: text that could become a formula is neutralised."""
    import math

    import numpy as np
    import pandas as pd

    from betaneutral.safetext import neutralise_text

    if isinstance(value, str):
        return neutralise_text(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def replay_backtest(book: Any = None, *, xlwings_vba: str | None = None) -> int | None:
    """Replay the saved book's hedging policy into the open workbook's Backtest sheet.

    Returns
    -------
    int or None
        The number of cells written, or None when a problem was reported instead.
    """
    from betaneutral.workbook.backtest_sheet import book_backtest_cells
    from betaneutral.workbook.inputs import read_inputs
    from betaneutral.workbook.loader import load_book

    book = _caller(book)
    try:
        check_xlwings_version(xlwings_vba)
        wb = load_book(_saved_path(book))
        cells = book_backtest_cells(wb.sheetnames, read_inputs(wb))
    except (BetaNeutralError, FileProblemError, OSError) as exc:
        _alert(book, f"Backtest not replayed: {exc}")
        return None
    if not cells:
        _alert(book, "This workbook has no Backtest sheet.")
        return None
    for sheet, col, first, values in _column_runs(cells):
        target = book.sheets[sheet].range(f"{col}{first}")
        if len(values) == 1:
            target.value = _excel_value(values[0])
        else:
            target.options(ndim=2).value = [[_excel_value(v)] for v in values]
    status = cells.get(("Backtest", "A3"))
    _alert(book, str(status) if status else f"Backtest replayed: {len(cells)} cells written.")
    return len(cells)
