"""Compute a BetaNeutral workbook without Excel and store the results in the file.

* :func:`compute_workbook` reads a workbook (possibly edited by a user),
  computes every formula cell for its inputs and writes a copy that holds the
  results as cached values next to the unchanged formulas: any spreadsheet
  shows the numbers, and the formulas stay live for Excel with the add-in.
* :func:`fill_workbook` builds a fresh template filled with given inputs.
* :func:`build_committed_templates` writes the shipped templates (sample data,
  default settings) with their values.

The values come from :func:`betaneutral.workbook.model.compute_values`; they
are valid only for formulas that are the template's, so
:func:`compute_workbook` first checks that every formula of the workbook is
the one the template has for the same inputs. Files are written atomically
(temporary file in the target folder, then ``os.replace``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.formula.translate import Translator
from openpyxl.utils import range_boundaries
from openpyxl.utils.cell import coordinate_from_string

from betaneutral.backtest_io import book_backtest_cells
from betaneutral.errors import DomainError
from betaneutral.workbook.cache import write_cached_values
from betaneutral.workbook.cells import write_text
from betaneutral.workbook.inputs import (
    SETTINGS_NAMES,
    BookInputs,
    name_destinations,
    read_inputs,
)
from betaneutral.workbook.loader import load_book
from betaneutral.workbook.model import compute_values, read_layout
from betaneutral.workbook.results import book_state, book_tickets, tickets_cells
from betaneutral.workbook.template import build_workbook, formula_cells

__all__ = ["build_committed_templates", "compute_workbook", "fill_workbook",
           "template_formulas"]

CellKey = tuple[str, str]

_XLSM_CONTENT_TYPE = b"application/vnd.ms-excel.sheet.macroEnabled.main+xml"


def _name_cell(wb: Workbook, name: str) -> Cell:
    sheet, ref = name_destinations(wb, [name])[name]
    return wb[sheet][ref.split(":")[0]]


def fill_workbook(inputs: BookInputs, *, macro: bool = False) -> Workbook:
    """A fresh template holding ``inputs`` (no cached values).

    Parameters
    ----------
    inputs : BookInputs
        Prices, holdings, settings and current futures position.
    macro : bool, default False
        Build the macro-enabled variant (save it as ``.xlsm``).

    Returns
    -------
    openpyxl.Workbook
        ``build_workbook(prices=..., holdings=...)`` with the settings written
        into the Settings cells (text as text; ``futures_price=None`` keeps the
        last-close formula) and the position into ``CurrentContracts``.

    Raises
    ------
    BetaNeutralError
        As :func:`~betaneutral.workbook.template.build_workbook`.
    """
    holdings = inputs.holdings[["asset", "quantity"]]
    wb = build_workbook(prices=inputs.prices, holdings=holdings, macro=macro)
    for key, name in SETTINGS_NAMES.items():
        value = getattr(inputs.settings, key)
        if value is None:  # futures_price: keep the template's formula
            continue
        cell = _name_cell(wb, name)
        if isinstance(value, str):
            write_text(cell, value)
        else:
            cell.value = value
    _name_cell(wb, "CurrentContracts").value = inputs.current_contracts
    return wb


def _formulas(wb: Workbook) -> dict[tuple[str, str], str]:
    return {(c.sheet, c.coordinate): c.formula for c in formula_cells(wb)}


#: Dates of the shortened books the template's formulas are derived from.
_SHORT_HISTORY = 3
#: Up to this many dates, building the whole template is as quick.
_FULL_BUILD_MAX_DATES = 32


def _shortened(inputs: BookInputs, n_dates: int) -> BookInputs:
    return dataclasses.replace(inputs, prices=inputs.prices.iloc[:n_dates])


def _date_rows(wb: Workbook) -> tuple[int, int]:
    """First and last row of the dates (the ``Dates`` name)."""
    _, ref = name_destinations(wb, ["Dates"])["Dates"]
    _, first, _, last = range_boundaries(ref)
    return first, last


def _stretch(formulas: Mapping[CellKey, str], rows: tuple[int, int],
             n_dates: int) -> dict[CellKey, str]:
    """The formulas of a book with ``n_dates`` dates, from those of a shorter book.

    ``rows`` are the first and last date rows of the shorter book. References to the
    whole date rows (``$C$2:$C$4``) and array ranges over them (``B2:B4``) are
    extended to the new last row, and each single formula on the last date row
    starts a column that repeats it (relative references moved) on every later row.
    """
    first, last = rows
    new_last = first + n_dates - 1
    whole = re.compile(rf"(?<![A-Za-z0-9_.$])(\$[A-Z]{{1,3}}\${first}:\$[A-Z]{{1,3}}\$){last}"
                       r"(?![0-9])")
    span = re.compile(rf"([A-Z]{{1,3}}{first}:[A-Z]{{1,3}}){last}")
    out: dict[CellKey, str] = {}
    for (sheet, coordinate), formula in formulas.items():
        text = whole.sub(rf"\g<1>{new_last}", formula)
        if ":" in coordinate:
            match = span.fullmatch(coordinate)
            out[(sheet, f"{match.group(1)}{new_last}" if match else coordinate)] = text
            continue
        out[(sheet, coordinate)] = text
        col, row = coordinate_from_string(coordinate)
        if row == last:
            translator = Translator(text, origin=coordinate)
            for r in range(last + 1, new_last + 1):
                out[(sheet, f"{col}{r}")] = translator.translate_formula(f"{col}{r}")
    return out


def template_formulas(inputs: BookInputs) -> dict[CellKey, str]:
    """Every formula of the template filled with ``inputs``, by cell or CSE range.

    Parameters
    ----------
    inputs : BookInputs
        The book's inputs.

    Returns
    -------
    dict
        ``(sheet, coordinate or CSE range) -> formula text`` (with ``=``), as
        :func:`~betaneutral.workbook.template.formula_cells` lists them for
        ``fill_workbook(inputs)``.

    Notes
    -----
    Building the template for a long history is slow (openpyxl styles every price
    and rolling-beta cell), and its formulas differ from one history length to
    another only along the date rows. So the template is built for the first 3
    and 4 dates; when the 3-date formulas, extended to 4 dates (:func:`_stretch`),
    are exactly the 4-date ones, the 3-date formulas are extended to the full
    history. Otherwise (and for 32 dates or fewer) the template is built in full.
    """
    n_dates = len(inputs.prices)
    if n_dates <= _FULL_BUILD_MAX_DATES:
        return _formulas(fill_workbook(inputs))
    short = fill_workbook(_shortened(inputs, _SHORT_HISTORY))
    rows = _date_rows(short)
    formulas = _formulas(short)
    step = _formulas(fill_workbook(_shortened(inputs, _SHORT_HISTORY + 1)))
    if rows[1] - rows[0] + 1 != _SHORT_HISTORY or _stretch(formulas, rows,
                                                          _SHORT_HISTORY + 1) != step:
        return _formulas(fill_workbook(inputs))
    return _stretch(formulas, rows, n_dates)


def _check_formulas(wb: Workbook, inputs: BookInputs) -> None:
    """Raise unless every formula of ``wb`` is the template's for ``inputs``."""
    expected = template_formulas(inputs)
    actual = _formulas(wb)
    problems = []
    for key in sorted(set(expected) | set(actual)):
        want, got = expected.get(key), actual.get(key)
        if want == got:
            continue
        where = f"{key[0]}!{key[1]}"
        if want is None:
            problems.append(f"{where} has the formula {got!r}, which the template does not")
        elif got is None:
            problems.append(f"{where} must hold the formula {want!r}, got a value")
        else:
            problems.append(f"{where} must hold the formula {want!r}, got {got!r}")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DomainError("the workbook's formulas must be the template's for its data; "
                          + "; ".join(problems[:3]) + more
                          + ". Rebuild the workbook from the template with this data.")


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (reference counting still frees memory).

    Loading and computing a large book creates millions of long-lived objects
    (openpyxl cells, function arguments); each automatic collection then walks the
    whole heap, which cost about a sixth of the run on a 200-holding, 2,000-day book.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compute_workbook(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
    recalc_on_load: bool = False,
    backtest: Any = None,
) -> Path:
    """Compute every formula of a BetaNeutral workbook and save a copy with the values.

    Parameters
    ----------
    src : path-like
        The workbook (``.xlsx``/``.xlsm``), with the template's layout and
        formulas and the user's inputs.
    dst : path-like
        The output; the source package is copied part by part, only the
        formula cells' cached values (and ``calcPr``) change.
    progress : callable, optional
        Called with a short message at each stage.
    force : bool, default False
        Replace ``dst`` if it exists (``dst`` may then be ``src``).
    recalc_on_load : bool, default False
        Ask Excel to recompute on open (see :mod:`betaneutral.workbook.cache`).
    backtest : betaneutral.backtest_io.BacktestRun, optional
        The run shown on the Backtest sheet; by default the book's own policy
        is replayed (:func:`betaneutral.backtest_io.book_backtest_cells`).

    Returns
    -------
    pathlib.Path
        ``dst``.

    Raises
    ------
    BetaNeutralError
        Unreadable inputs (:func:`~betaneutral.workbook.inputs.read_inputs`),
        or :class:`~betaneutral.errors.DomainError` when a formula differs
        from the template's (the message names the cells).
    betaneutral.files.FileProblemError
        ``dst`` exists without ``force``, is open in Excel or cannot be written.
    """
    def report(message: str) -> None:
        if progress is not None:
            progress(message)

    src_path = Path(src)
    report(f"reading {src_path.name}")
    with _cyclic_gc_paused():
        wb = load_book(src_path)  # the archive checks, then openpyxl (bulk cells apart)
        inputs = read_inputs(wb)
        layout = read_layout(wb)
        report("checking the formulas against the template")
        _check_formulas(wb, inputs)
        report("computing the formula cells")
        values = compute_values(inputs, layout)
    tickets = book_tickets(wb, values, book_state(inputs))
    report("replaying the hedging policy for the Backtest sheet")
    plain = {**tickets_cells(wb, tickets),
             **book_backtest_cells(wb.sheetnames, inputs, backtest)}
    # The loaded workbook is no longer needed; its objects refer to each other, so only
    # the collector frees them. Freed before writing, they no longer add to the peak.
    del wb
    gc.collect()
    report(f"writing {len(values)} values and {len(tickets)} ticket(s) to {Path(dst).name}")
    out = write_cached_values(src_path, dst, values, force=force,
                              recalc_on_load=recalc_on_load, plain_values=plain)
    report("done")
    return out


def _check_package(path: Path, *, macro: bool) -> None:
    with zipfile.ZipFile(path) as zf:
        has_vba = ("xl/vbaProject.bin" in zf.namelist()
                   and _XLSM_CONTENT_TYPE in zf.read("[Content_Types].xml"))
    if has_vba != macro:
        raise DomainError(f"{path.name}: VBA project present must be {macro}, got {has_vba}")


def build_committed_templates(repo_root: str | os.PathLike[str], *,
                              recalc_on_load: bool = False) -> tuple[Path, Path]:
    """Write ``templates/BetaNeutral.xlsx`` and ``BetaNeutral.xlsm`` with computed values.

    Parameters
    ----------
    repo_root : path-like
        Folder that holds (or will hold) ``templates/``.
    recalc_on_load : bool, default False
        Ask Excel to recompute on open (see :mod:`betaneutral.workbook.cache`).

    Returns
    -------
    tuple of pathlib.Path
        The ``.xlsx`` (in ``templates/``) and ``.xlsm`` (in ``repo_root``) written
        (sample data, default settings).

    Raises
    ------
    DomainError
        A built package has (or lacks) the VBA project unexpectedly.

    Notes
    -----
    Each file is built with openpyxl, saved to a temporary folder inside
    ``templates/``, given its cached values by
    :func:`~betaneutral.workbook.cache.write_cached_values` (itself atomic)
    and checked; existing templates are replaced, and a failure leaves them
    as they were.
    """
    folder = Path(repo_root) / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for macro, suffix in ((False, ".xlsx"), (True, ".xlsm")):
        wb = build_workbook(macro=macro)
        inputs = read_inputs(wb)
        values = compute_values(inputs, read_layout(wb))
        # the macro-free template lives in templates/; the .xlsm at the repository root
        target = (Path(repo_root) if macro else folder) / f"BetaNeutral{suffix}"
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".tmp-") as tmp:
            raw = Path(tmp) / f"build{suffix}"
            wb.save(raw)
            from betaneutral.vba.package import finish_saved_workbook

            finish_saved_workbook(raw, wb)  # buttons and label boxes (shapes)
            _check_package(raw, macro=macro)
            write_cached_values(raw, target, values, force=True,
                                recalc_on_load=recalc_on_load,
                                plain_values=book_backtest_cells(wb.sheetnames, inputs))
        written.append(target)
    return written[0], written[1]
