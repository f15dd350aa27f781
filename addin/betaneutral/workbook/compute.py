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
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter, range_boundaries

from betaneutral.bookdata import SETTINGS_NAMES, BookInputs
from betaneutral.errors import DomainError
from betaneutral.workbook.backtest_sheet import book_backtest_cells
from betaneutral.workbook.cache import KEEP, write_cached_values
from betaneutral.workbook.excel import normal_formula
from betaneutral.workbook.fill import fill_workbook
from betaneutral.workbook.inputs import read_inputs
from betaneutral.workbook.loader import load_book
from betaneutral.workbook.model import compute_values, read_layout
from betaneutral.workbook.names import name_destinations
from betaneutral.workbook.results import book_state, book_tickets, tickets_cells
from betaneutral.workbook.template import build_workbook, formula_cells, template_formula_cells

__all__ = ["HEDGE_FIGURES", "RISK_FIGURES", "PreparedBook", "build_committed_templates",
           "checked_hedge", "compute_workbook", "cyclic_gc_paused", "fill_workbook",
           "hedge_problem", "prepared_book",
           "template_formulas", "user_formula_cells", "user_values"]

CellKey = tuple[str, str]

_XLSM_CONTENT_TYPE = b"application/vnd.ms-excel.sheet.macroEnabled.main+xml"


def _formulas(wb: Workbook) -> dict[tuple[str, str], str]:
    return {(c.sheet, c.coordinate): c.formula for c in formula_cells(wb)}


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
    No workbook is built: the template's sheets place their formulas from functions
    that give them without styling a cell
    (:func:`~betaneutral.workbook.template.template_formula_cells`), for the whole
    history at once. As :func:`~betaneutral.workbook.fill.fill_workbook` does, every
    price column is kept, and the settings given (not None) and the current position
    are values over the template's cells: a futures price typed in replaces the
    last-close formula.
    """
    valued = [name for key, name in SETTINGS_NAMES.items()
              if getattr(inputs.settings, key) is not None]
    return template_formula_cells(prices=inputs.prices,
                                  holdings=inputs.holdings[["asset", "quantity"]],
                                  all_columns=True, valued=[*valued, "CurrentContracts"])


#: A reference into another workbook: ``[1]Sheet1!A1`` or ``'[other.xlsx]Sheet1'!A1``.
_OTHER_WORKBOOK = re.compile(r"(?<![A-Za-z0-9_\]])\[\d+\]|'\[[^\]]+\]")


def _blank(wb: Workbook, key: CellKey) -> bool:
    """Whether the cell (the first of a range) holds nothing."""
    from openpyxl.utils.cell import coordinate_to_tuple

    row, col = coordinate_to_tuple(key[1].split(":")[0])
    cell = wb[key[0]]._cells.get((row, col))
    return cell is None or cell.value is None


def _check_formulas(wb: Workbook, inputs: BookInputs, *,
                    missing: list[str] | None = None) -> dict[CellKey, str]:
    """Raise unless every formula the template has for ``inputs`` is in ``wb`` as it is.

    Other formulas are the user's (their own cells and sheets) and are kept, unless they
    refer to another workbook (whose links are left out). A formula cell of the book's
    left blank (a row inserted inside a block) is listed in ``missing`` when it is given,
    to be restored by resizing, instead of refused. Returns the template's formulas.
    """
    expected = template_formulas(inputs)
    actual = _formulas(wb)
    problems = []
    for key, got in sorted(actual.items()):
        if key not in expected and _OTHER_WORKBOOK.search(got):
            problems.append(f"{key[0]}!{key[1]} has the formula {got!r}, which refers to "
                            "another workbook (links to other workbooks are not followed)")
    for key in sorted(expected):
        want, got = expected[key], actual.get(key)
        if want == got or (got is not None and normal_formula(want) == normal_formula(got)):
            continue
        where = f"{key[0]}!{key[1]}"
        if got is None and missing is not None and _blank(wb, key):
            missing.append(f"{where}: the book's formula is missing (an inserted row?)")
            continue
        if got is None:
            problems.append(f"{where} must hold the formula {want!r}, got a value")
        else:
            problems.append(f"{where} must hold the formula {want!r}, got {got!r}")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise DomainError("the workbook's formulas must be the template's for its data; "
                          + "; ".join(problems[:3]) + more
                          + ". Only the book's own formulas are checked: put your own "
                          "formulas in other cells or on your own sheets.")
    return expected


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


#: Public name of :func:`_cyclic_gc_paused` (``fill`` computes its book under it too).
cyclic_gc_paused = _cyclic_gc_paused


@dataclasses.dataclass
class PreparedBook:
    """A book ready to compute: its file, the workbook read from it and its inputs.

    Attributes
    ----------
    path : pathlib.Path
        The file the values are written next to: the user's own, or (when the data
        outgrew the book's ranges) the resized copy in a temporary folder.
    wb : openpyxl.Workbook
        The workbook read from ``path`` (with :func:`load_book`: not for saving).
    inputs : BookInputs
        Its inputs.
    resized : tuple of str
        Why the book was resized (:func:`~betaneutral.workbook.living.book_growth`);
        empty when it was computed as it is.
    own : dict
        The book's own formulas, checked to be the template's (:func:`template_formulas`):
        ``(sheet, cell or CSE range) -> formula``.
    """

    path: Path
    wb: Workbook
    inputs: BookInputs
    resized: tuple[str, ...] = ()
    own: dict[CellKey, str] = dataclasses.field(default_factory=dict)


def _same_vba(src: Path, built: Path) -> None:
    """Give the resized ``.xlsm`` the user's own VBA project (the template's is a default)."""
    with zipfile.ZipFile(src) as zin:
        if "xl/vbaProject.bin" not in zin.namelist():
            return
        project = zin.read("xl/vbaProject.bin")
    tmp = built.with_name(built.stem + ".vba" + built.suffix)
    with zipfile.ZipFile(built) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = project if info.filename == "xl/vbaProject.bin" else zin.read(info)
            zout.writestr(info, data)
    os.replace(tmp, built)


@contextlib.contextmanager
def prepared_book(src: str | os.PathLike[str], *,
                  progress: Callable[[str], None] | None = None) -> Iterator[PreparedBook]:
    """The book of ``src`` as it must be computed, following the data its sheets hold.

    Parameters
    ----------
    src : path-like
        The user's workbook.
    progress : callable, optional
        Called with a short message at each stage.

    Yields
    ------
    PreparedBook
        When the sheets hold exactly what the book's names cover, the file itself;
        otherwise (closes typed under the prices, a holding under the list, a new
        price column, a blank row or column inside) a copy rebuilt for the data with
        the user's sheets, names, notes and formulas carried over
        (:func:`~betaneutral.workbook.living.resize_book`), in a temporary folder
        removed afterwards.

    Raises
    ------
    BetaNeutralError
        An input that cannot be read (named), a sheet of the book renamed or deleted,
        or one of the book's own formulas changed (the cell and the formula
        expected are named; in a resized book, the formula expected where the cell
        was before the resize).
    """
    from betaneutral.archive import open_workbook
    from betaneutral.workbook.living import (
        Growth,
        book_growth,
        check_book_sheets,
        resize_book,
        scan_inputs,
    )

    def report(message: str) -> None:
        if progress is not None:
            progress(message)

    src_path = Path(src)
    report(f"reading {src_path.name}")
    with _cyclic_gc_paused():
        wb = load_book(src_path)  # the archive checks, then openpyxl (bulk cells apart)
        check_book_sheets(wb)
        growth = book_growth(wb)
        if not growth:
            inputs = read_inputs(wb)
            report("checking the book's own formulas")
            missing: list[str] = []
            own = _check_formulas(wb, inputs, missing=missing)
            growth = Growth(tuple(missing[:1]))
    if not growth:
        book = PreparedBook(src_path, wb, inputs, own=own)
        del wb  # the caller may free the workbook (del book.wb): not held here too
        yield book
        return
    del wb
    report("the sheets hold more than the book's ranges (" + "; ".join(growth.reasons)
           + "): resizing the book to its data")
    macro = src_path.suffix.lower() == ".xlsm"
    with _cyclic_gc_paused():
        old = open_workbook(src_path)  # in full: the user's content is carried over
        inputs = scan_inputs(old)
        new = resize_book(old, inputs, macro=macro)
    del old
    from betaneutral.vba.package import finish_saved_workbook

    with tempfile.TemporaryDirectory(prefix="betaneutral-") as tmp:
        resized = Path(tmp) / f"resized{src_path.suffix}"
        new.save(resized)
        finish_saved_workbook(resized, new)  # buttons and label boxes: openpyxl writes no shapes
        del new
        if macro:
            _same_vba(src_path, resized)
        with _cyclic_gc_paused():
            wb = load_book(resized)
            inputs = read_inputs(wb)
            own = _check_formulas(wb, inputs)
        book = PreparedBook(resized, wb, inputs, growth.reasons, own)
        del wb
        yield book


#: The Rebalance and Holdings figures a hedge order is made from, in the order a failure
#: propagates (an error in an earlier one explains the later ones).
HEDGE_FIGURES: tuple[str, ...] = (
    "HoldingPrices", "HoldingValues", "HoldingBetas", "PortfolioValue", "PortfolioBeta",
    "FuturesPrice", "ContractNotionalUSD", "CurrentHedgeUSD", "CurrentBeta", "TargetHedgeUSD",
    "TargetContracts", "ShortNotionalUSD", "ResidualBeta", "Drift", "Breach", "Action",
    "ContractsDelta", "OrderSide", "OrderContracts",
)
#: Figures of the hedge's risk, not of its size: an error there (a margin buffer for a
#: long hedge, which the stress rally does not define) is reported, and the order stands.
RISK_FIGURES: tuple[str, ...] = ("MarginBuffer", "LiquidationPrice")


def hedge_problem(wb: Workbook, values: Mapping[CellKey, Any],
                  reasons: Mapping[CellKey, str], *,
                  figures: tuple[str, ...] = HEDGE_FIGURES) -> str | None:
    """Why the book's hedge cannot be trusted, or None when every hedge figure is a value.

    Parameters
    ----------
    wb : openpyxl.Workbook
        The computed book (its names say where the figures are).
    values : mapping
        The computed values (:func:`~betaneutral.workbook.model.compute_values`).
    reasons : mapping
        The causes it reported for error values.
    figures : tuple of str, default HEDGE_FIGURES
        The defined names to look at, in the order errors propagate
        (:data:`RISK_FIGURES` for the margin figures).

    Returns
    -------
    str or None
        ``"Holdings!C7 is #N/A: ETH has no close on the valuation date ..."``: the
        first hedge figure (in the order errors propagate) that is an error, with
        the first known cause among the figures up to it.
    """
    from betaneutral.cells import EXCEL_ERRORS

    dest = name_destinations(wb, [n for n in figures if n in wb.defined_names])
    first_error = None
    for name in figures:
        if name not in dest:
            continue
        sheet, ref = dest[name]
        c1, r1, c2, r2 = range_boundaries(ref)
        for row in range(r1, r2 + 1):
            for col in range(c1, c2 + 1):
                key = (sheet, f"{get_column_letter(col)}{row}")
                value = values.get(key)
                if not (isinstance(value, str) and value in EXCEL_ERRORS):
                    continue
                if first_error is None:
                    first_error = f"{sheet}!{key[1]} ({name}) is {value}"
                if key in reasons:
                    return f"{first_error}: {reasons[key]}"
    return first_error


def checked_hedge(wb: Workbook, values: Mapping[CellKey, Any],
                  reasons: Mapping[CellKey, str]) -> str | None:
    """Why no order may be made from the book (:func:`hedge_problem`), or None.

    When the order's figures are values but a margin figure (:data:`RISK_FIGURES`) is an
    error, that is printed as a warning on standard error and the order stands.
    """
    problem = hedge_problem(wb, values, reasons)
    if problem is None:
        risk = hedge_problem(wb, values, reasons, figures=RISK_FIGURES)
        if risk is not None:
            print(f"Warning: {risk}", file=sys.stderr)
    return problem


def compute_workbook(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
    recalc_on_load: bool = False,
    backtest: Any = None,
    strict: bool = False,
    prepared: PreparedBook | None = None,
) -> Path:
    """Compute every formula of a BetaNeutral workbook and save a copy with the values.

    Parameters
    ----------
    src : path-like
        The workbook (``.xlsx``/``.xlsm``) with the user's data, possibly grown,
        sorted or edited (:func:`prepared_book`).
    dst : path-like
        The output; the source package is copied part by part, only the
        formula cells' cached values (and ``calcPr``) change. When the data
        outgrew the book's ranges, the copy is of the resized book.
    progress : callable, optional
        Called with a short message at each stage.
    force : bool, default False
        Replace ``dst`` if it exists (``dst`` may then be ``src``).
    recalc_on_load : bool, default False
        Ask Excel to recompute on open (see :mod:`betaneutral.workbook.cache`).
    backtest : betaneutral.backtest_io.BacktestRun, optional
        The run shown on the Backtest sheet; by default the book's own policy
        is replayed (:func:`betaneutral.workbook.backtest_sheet.book_backtest_cells`).
    strict : bool, default False
        After writing, raise when a hedge figure is an error (:func:`hedge_problem`).
    prepared : PreparedBook, optional
        ``prepared_book(src)`` already entered by the caller (the book is then not read
        again); its workbook is released here.

    Returns
    -------
    pathlib.Path
        ``dst``.

    Raises
    ------
    BetaNeutralError
        As :func:`prepared_book`; with ``strict``, a
        :class:`~betaneutral.errors.DomainError` naming the first hedge figure that
        is an error and its cause (the book is written first, showing the codes).
    betaneutral.files.FileProblemError
        ``dst`` exists without ``force``, is open in Excel or cannot be written.

    Notes
    -----
    Formulas that are not the book's own (the user's, on their sheets or beside
    ours) keep their formula; their values are computed by the formula engine
    (:func:`user_values`) where it can, and otherwise kept as the file has them,
    the copy then asking Excel to recalculate on open.
    """
    def report(message: str) -> None:
        if progress is not None:
            progress(message)

    with (contextlib.nullcontext(prepared) if prepared is not None
          else prepared_book(src, progress=progress)) as book:
        report("computing the formula cells")
        reasons: dict[CellKey, str] = {}
        with _cyclic_gc_paused():
            values = compute_values(book.inputs, read_layout(book.wb), reasons=reasons)
        problem = checked_hedge(book.wb, values, reasons)
        tickets = ([] if problem is not None
                   else book_tickets(book.wb, values, book_state(book.inputs)))
        report("replaying the hedging policy for the Backtest sheet")
        plain = {**tickets_cells(book.wb, tickets),
                 **book_backtest_cells(book.wb.sheetnames, book.inputs, backtest)}
        users = user_formula_cells(book.wb, values, plain, own=book.own)
        if users:
            report(f"refreshing {len(users)} formula cell(s) of your own")
        fresh = user_values(book.path, users) if users else {}
        stale = [key for key in users if key not in fresh]
        # The loaded workbook is no longer needed; its objects refer to each other, so
        # only the collector frees them. Freed before writing, they no longer add to the
        # peak.
        del book.wb
        gc.collect()
        report(f"writing {len(values)} values and {len(tickets)} ticket(s) to "
               f"{Path(dst).name}")
        out = write_cached_values(book.path, dst,
                                  values.with_cells({**fresh, **dict.fromkeys(stale, KEEP)}),
                                  force=force, recalc_on_load=recalc_on_load or bool(stale),
                                  plain_values=plain)
    if strict and problem is not None:
        raise DomainError(f"wrote {Path(dst).name}, but its hedge figures are errors: "
                          f"{problem}")
    report("done")
    return out


def user_values(path: Path, cells: list[CellKey]) -> dict[CellKey, Any]:
    """The user's formula cells evaluated by the formula engine (pycel, the ``check``
    extra), from the book's inputs; the cells it cannot evaluate are left out.

    Returns an empty mapping when pycel is not installed or the book holds a function
    it does not implement: those cells keep their values, and Excel recalculates
    them on open.
    """
    import math

    try:
        from betaneutral.workbook.engine import evaluate_compiler, load_compiler

        xl = load_compiler(path)
        got = evaluate_compiler(xl, cells=cells)
    except Exception:
        return {}
    out = {}
    for key, value in got.items():
        if isinstance(value, bool | str) or (isinstance(value, int | float)
                                             and math.isfinite(value)):
            out[key] = value
    return out


def user_formula_cells(wb: Workbook, values: Mapping[CellKey, Any],
                       plain: Mapping[CellKey, Any], *,
                       own: Mapping[CellKey, str] | None = None) -> list[CellKey]:
    """Formula cells (array ranges expanded) the book does not compute: the user's.

    ``own`` (:attr:`PreparedBook.own`) are the book's own formulas, checked to be the
    template's: each of their cells has a computed value
    (:func:`~betaneutral.workbook.model.compute_values` computes every cell of the
    template's formulas, and the writer refuses a formula cell without a value), so they
    are passed over without expanding their ranges (400,000 rolling-beta cells on a book
    of 200 holdings and 2,000 days).
    """
    own = own or {}
    out = []
    for cell in formula_cells(wb):
        if (cell.sheet, cell.coordinate) in own:
            continue
        if ":" in cell.coordinate:
            c1, r1, c2, r2 = range_boundaries(cell.coordinate)
            keys = [(cell.sheet, f"{get_column_letter(c)}{r}")
                    for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)]
        else:
            keys = [(cell.sheet, cell.coordinate)]
        out.extend(k for k in keys if k not in values and k not in plain)
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
    from betaneutral.vba.package import finish_saved_workbook

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
            finish_saved_workbook(raw, wb)  # buttons and label boxes (shapes)
            _check_package(raw, macro=macro)
            write_cached_values(raw, target, values, force=True,
                                recalc_on_load=recalc_on_load,
                                plain_values=book_backtest_cells(wb.sheetnames, inputs))
        written.append(target)
    return written[0], written[1]
