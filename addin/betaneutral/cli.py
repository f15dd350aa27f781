"""The ``betaneutral`` command.

Commands: ``demo``, ``fill``, ``compute``, ``check``, ``tickets``,
``backtest``, ``fetch``, ``refresh``, ``refresh-vba`` and ``build-template``
(``betaneutral COMMAND --help`` describes each). ``--catalogue FILE`` (or the
``BETANEUTRAL_CATALOGUE`` environment variable) makes every command use a catalogue
written by ``fetch contracts`` before the built-in one.

Exit codes: 0 success; 1 data or validation error (including mismatches found
by ``check``); 2 usage error; 3 a file is locked, exists, or cannot be read or
written. Diagnostics go to standard error as one line; a user's mistake never
produces a traceback. Progress messages appear on standard error only when it
is a terminal.

Every target is checked (exists without ``--force``, open in Excel) before any
work is done, and a user's workbook is opened through
:func:`betaneutral.archive.open_workbook` (archive checks, links to other
workbooks dropped, any reader failure reported as a file problem), by way of
:func:`betaneutral.workbook.loader.load_book` where the book is only read. A workbook
that links to other workbooks is computed or checked from a copy without those
links (:func:`betaneutral.archive.copy_without_external_links`), so no output
carries them on.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import gc
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from betaneutral import __version__
from betaneutral.errors import BetaNeutralError
from betaneutral.files import FileProblemError, backup_copy, check_writable_target

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2
EXIT_FILE = 3

DEMO_BOOK = "BetaNeutral-demo.xlsx"


class UsageError(Exception):
    """A mistake in how the command was called (exit code 2, as argparse's own)."""

DEMO_TICKETS = "hedge-tickets.csv"


def _progress(args: argparse.Namespace) -> Callable[[str], None] | None:
    if getattr(args, "quiet", False) or not sys.stderr.isatty():
        return None
    return lambda message: print(f"... {message}", file=sys.stderr, flush=True)


def _every(report: Callable[[str], None], seconds: float) -> Callable[[str], None]:
    """``report``, with the running counts (messages ``evaluated ...``) at most every
    ``seconds``: a large book gives one per array."""
    import time

    last = [-float("inf")]

    def throttled(message: str) -> None:
        if message.startswith("evaluated "):
            now = time.monotonic()
            if now - last[0] < seconds:
                return
            last[0] = now
        report(message)

    return throttled


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:,.6f}" if abs(value) < 10 else f"{value:,.2f}"
    return str(value)


def _compute_book(wb: Any, out: Path, *, force: bool, tickets_csv: Path | None,
                  fmt: str = "tickets", apart: Any = None
                  ) -> tuple[dict[str, Any], list[Any], str | None]:
    """Compute ``wb`` (an openpyxl workbook), write it to ``out`` with values and tickets.

    ``apart``: the rows left out of ``wb`` (:class:`~betaneutral.workbook.bulk.BulkRows`),
    written into the saved file before its values. Returns the summary, the tickets and
    why the hedge figures are errors (None when they are not; then no ticket is made or
    written)."""
    from betaneutral.tickets import write_tickets_csv
    from betaneutral.workbook.cache import write_cached_values
    from betaneutral.workbook.compute import checked_hedge, cyclic_gc_paused
    from betaneutral.workbook.inputs import read_inputs
    from betaneutral.workbook.model import compute_values, read_layout
    from betaneutral.workbook.results import (
        SUMMARY_NAMES,
        book_state,
        book_tickets,
        named_values,
        write_tickets_sheet,
    )

    inputs = read_inputs(wb)
    reasons: dict[Any, str] = {}
    with cyclic_gc_paused():  # as compute does: about half the time of computing a large book
        values = compute_values(inputs, read_layout(wb), reasons=reasons)
    problem = checked_hedge(wb, values, reasons)
    tickets = [] if problem is not None else book_tickets(wb, values, book_state(inputs))
    write_tickets_sheet(wb["Tickets"], tickets)
    from betaneutral.workbook.backtest_sheet import book_backtest_cells

    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".tmp-") as tmp:
        raw = Path(tmp) / f"raw{out.suffix}"
        wb.save(raw)
        if apart is not None:
            from betaneutral.workbook.bulk import write_bulk_rows

            whole = Path(tmp) / f"whole{out.suffix}"
            write_bulk_rows(raw, whole, wb, apart)
            apart.blocks.clear()  # its cells belong to wb
            raw.unlink()
            raw = whole
        from betaneutral.vba.package import finish_saved_workbook

        finish_saved_workbook(raw, wb)  # buttons and label boxes: openpyxl writes no shapes
        summary = named_values(wb, values, [n for n, _ in SUMMARY_NAMES] + ["TargetBeta"])
        plain = book_backtest_cells(wb.sheetnames, inputs)
        del wb, inputs  # freed before the write (cells refer to each other: collected)
        gc.collect()
        write_cached_values(raw, out, values, force=force, plain_values=plain)
    if tickets_csv is not None and problem is None:
        write_tickets_csv(tickets, tickets_csv, fmt=fmt, force=force)  # type: ignore[arg-type]
    return summary, tickets, problem


@contextlib.contextmanager
def _readable_book(path: Path) -> Iterator[Path]:
    """``path`` once it passes the archive checks; a copy without links to other
    workbooks (in a temporary folder, removed afterwards) when it has such links."""
    from betaneutral.archive import (
        check_workbook_archive,
        copy_without_external_links,
        external_link_parts,
    )

    # The archive checks only: every reader after this one opens the file with
    # open_workbook (or load_book, which ends in it), which reports a file openpyxl
    # cannot read as a file problem.
    check_workbook_archive(path, bulk_sheets=True)
    if not external_link_parts(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="betaneutral-") as tmp:
        unlinked = Path(tmp) / path.name
        removed = copy_without_external_links(path, unlinked)
        print(f"Note: {path.name} links to other workbooks; the links are not followed and "
              f"were left out ({len(removed)} part(s))")
        yield unlinked


#: Summary figures counted in contracts: printed with every digit ordered (19.174, not 19.17).
_CONTRACT_FIGURES = ("TargetContracts", "CurrentContracts", "OrderContracts")
_RESIDUAL_LABEL = "Residual beta after rounding (vs target)"
_USD_LIKE = ("USD", "USDT", "USDC")


def _summary_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of the summary lines.

    ``ResidualBeta`` on the sheet is the portfolio beta once the target
    contracts are held; the residual of the rounding is that beta minus the
    target (0.000007 for 0.100007 at a target of 0.1), printed on its own line.
    """
    from betaneutral.workbook.results import SUMMARY_NAMES

    rows = []
    for name, label in SUMMARY_NAMES:
        value = summary[name]
        if name == "ResidualBeta":
            rows.append((label, _fmt(value)))
            target = summary.get("TargetBeta")
            residual = (value - target if isinstance(value, float)
                        and isinstance(target, (int, float)) and not isinstance(target, bool)
                        else value)
            rows.append((_RESIDUAL_LABEL, _fmt(residual)))
        elif name in _CONTRACT_FIGURES and isinstance(value, float):
            rows.append((label, f"{value:,.10g}"))
        elif (name == "MarginBuffer" and isinstance(value, float)
              and str(summary.get("SettlementCurrency", "")).upper() not in _USD_LIKE):
            rows.append((label, f"{value:,.8f}"))  # coin collateral: to the satoshi
        else:
            rows.append((label, _fmt(value)))
    return rows


@contextlib.contextmanager
def _macro_free_for(book: Path, out: Path) -> Iterator[Path]:
    """``book``, or a copy without its VBA project when ``out`` is an ``.xlsx``.

    Excel refuses an ``.xlsx`` that carries a VBA project or the macro-enabled
    content type, and so does the archive check of every command; computing an
    ``.xlsm`` into an ``.xlsx`` therefore drops the macros.
    """
    from betaneutral.archive import copy_without_macros, has_vba_project

    if out.suffix.lower() != ".xlsx" or not has_vba_project(book):
        yield book
        return
    with tempfile.TemporaryDirectory(prefix="betaneutral-") as tmp:
        plain = Path(tmp) / f"{book.stem}.xlsx"
        copy_without_macros(book, plain)
        print(f"Note: {out.name} is an .xlsx: the VBA project of {book.name} is left out")
        yield plain


def _print_summary(summary: dict[str, Any], tickets: list[Any]) -> None:
    rows = _summary_rows(summary)
    width = max(len(label) for label, _ in rows)
    for label, text in rows:
        print(f"  {label:<{width}}  {text}")
    if tickets:
        print(f"  {'Orders':<{width}}  " + "; ".join(
            f"{t.side.upper()} {t.amount_contracts:.10g} {t.symbol} ({t.type}"
            f"{', reduce-only' if t.reduce_only else ''})" for t in tickets))
    elif any(isinstance(v, str) and v.startswith("#") for v in summary.values()):
        print(f"  {'Orders':<{width}}  none (the book shows error values; see above)")
    else:
        print(f"  {'Orders':<{width}}  none (drift inside the band)")


def cmd_demo(args: argparse.Namespace) -> int:
    """Fill the template with the synthetic sample, compute it, write book and tickets."""
    from betaneutral.sample import SAMPLE_LABEL
    from betaneutral.workbook.template import build_workbook

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    book, csv_path = out_dir / DEMO_BOOK, out_dir / DEMO_TICKETS
    for target in (book, csv_path):  # both, before writing either
        check_writable_target(target, force=args.force)
    report = _progress(args)
    if report:
        report("building the workbook from the sample data")
    wb = build_workbook()
    summary, tickets, problem = _compute_book(wb, book, force=args.force, tickets_csv=csv_path)
    print(SAMPLE_LABEL)
    _print_summary(summary, tickets)
    if problem is not None:
        raise BetaNeutralError(f"wrote {book.name}, but its hedge figures are errors: {problem}")
    print(f"Wrote {book} and {csv_path}")
    return EXIT_OK


def cmd_fill(args: argparse.Namespace) -> int:
    """Fill a fresh template with the user's CSV inputs and compute it."""
    from betaneutral.sources import read_csv_inputs
    from betaneutral.workbook.compute import fill_workbook

    out = Path(args.output)
    if out.suffix.lower() not in (".xlsx", ".xlsm"):
        raise UsageError(f"-o/--output must end in .xlsx or .xlsm, got {out.name!r}")
    check_writable_target(out, force=args.force)
    report = _progress(args)
    if report:
        report(f"reading {args.holdings} and {args.prices}")
    inputs = read_csv_inputs(args.holdings, args.prices, args.settings,
                             date_format=args.date_format)
    if report:
        report(f"filling the template: {len(inputs.holdings)} holding(s) x "
               f"{len(inputs.prices)} day(s)")
    from betaneutral.workbook.bulk import BulkRows

    apart = BulkRows()  # the price and rolling-beta rows: written straight into the file
    macro = out.suffix.lower() == ".xlsm"
    if report:
        report("computing the book and its backtest, writing " + str(out))
    # The workbook is handed over (no reference kept here), to be freed before the write.
    summary, tickets, problem = _compute_book(
        fill_workbook(inputs, macro=macro, all_columns=False, apart=apart), out,
        force=args.force, tickets_csv=None, apart=apart)
    _print_summary(summary, tickets)
    if problem is not None:
        raise BetaNeutralError(f"wrote {out.name}, but its hedge figures are errors: {problem}")
    print(f"Wrote {out}")
    return EXIT_OK


def _output_for(args: argparse.Namespace) -> tuple[Path, bool]:
    src = Path(args.book)
    if args.in_place:
        if args.output:
            raise UsageError("give either -o/--output or --in-place, not both")
        return src, True
    if not args.output:
        raise UsageError("an output file is required: -o OUT.xlsx (or --in-place)")
    out = Path(args.output)
    if out.resolve() == src.resolve():
        raise UsageError("the output must differ from the input; use --in-place to "
                         "update the input (a timestamped backup is kept)")
    return out, args.force


def cmd_compute(args: argparse.Namespace) -> int:
    """Compute a (possibly edited) workbook and write its values next to the formulas."""
    from betaneutral.workbook.compute import compute_workbook

    src = Path(args.book)
    out, force = _output_for(args)
    check_writable_target(out, force=force)
    with _readable_book(src) as checked, _macro_free_for(checked, out) as book:
        _compute_into(book, src, out, args, force=force, compute=compute_workbook)
    print(f"Wrote {out}")
    return EXIT_OK


def _compute_into(book: Path, src: Path, out: Path, args: argparse.Namespace, *, force: bool,
                  compute: Callable[..., Any]) -> None:
    """Compute ``book`` into ``out``; with ``--in-place`` keep a backup of ``src`` first."""
    backup = backup_copy(src) if args.in_place else None
    if backup is not None:
        print(f"Backup: {backup}")
    try:
        compute(book, out, progress=_progress(args), force=force, strict=True)
    except BaseException:
        # nothing was replaced: a backup identical to the input is not needed
        if backup is not None and filecmp.cmp(backup, src, shallow=False):
            backup.unlink()
        raise


def cmd_refresh(args: argparse.Namespace) -> int:
    """Append the closes since the book's last date, set the position, the futures price
    and the funding rate from an exchange, and compute the book."""
    from betaneutral.workbook.compute import compute_workbook
    from betaneutral.workbook.refresh import refreshed_copy

    src = Path(args.book)
    out, force = _output_for(args)
    if out.suffix.lower() != src.suffix.lower():
        raise BetaNeutralError(f"the output must end in {src.suffix} as the input does, got "
                               f"{out.name!r}")
    check_writable_target(out, force=force)  # before any request
    with _readable_book(src) as book, tempfile.TemporaryDirectory(prefix="betaneutral-") as tmp:
        edited = Path(tmp) / src.name
        for line in refreshed_copy(book, edited, exchange=args.exchange, quote=args.quote,
                                   contract=args.contract, position=not args.no_position,
                                   progress=_progress(args)):
            print(line)
        _compute_into(edited, src, out, args, force=force, compute=compute_workbook)
    print(f"Wrote {out}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """Evaluate the workbook's formulas with a formula engine and compare with Python."""
    try:
        from betaneutral.workbook.engine import check_workbook
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BetaNeutralError(str(exc)) from None
    report = _progress(args)
    with _readable_book(Path(args.book)) as book:
        try:
            mismatches = check_workbook(book, rtol=args.rtol,
                                        progress=_every(report, 2.0) if report else None)
        except ImportError as exc:
            raise BetaNeutralError(str(exc)) from None
    if not mismatches:
        print(f"{args.book}: every formula cell agrees with the Python computation")
        return EXIT_OK
    print(f"{'cell':<24} {'expected':>24} {'engine':>24}  reason")
    for m in mismatches[: args.limit]:
        where = f"{m.sheet}!{m.coordinate}"
        print(f"{where:<24} {m.expected!s:>24} {m.actual!s:>24}  {m.reason}")
    more = len(mismatches) - args.limit
    if more > 0:
        print(f"... and {more} more")
    print(f"{len(mismatches)} mismatching cell(s)", file=sys.stderr)
    return EXIT_DATA


def write_book_tickets(book: str | Path, output: str | Path, *, fmt: str = "tickets",
                       force: bool = False) -> list[Any]:
    """Compute a saved workbook's hedge tickets and write them to ``output`` as CSV.

    The ``tickets`` command and the workbook's *Export hedge tickets* button
    (:func:`betaneutral.excel.export_tickets`) both write through here. The
    target is checked (exists without ``force``, open in Excel) before any work.
    """
    from betaneutral.tickets import write_tickets_csv
    from betaneutral.workbook.compute import checked_hedge, prepared_book
    from betaneutral.workbook.model import compute_values, read_layout
    from betaneutral.workbook.results import book_state, book_tickets

    if Path(output).suffix.lower() in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"):
        raise UsageError(f"-o/--output must be a CSV file (tickets.csv), got "
                         f"{Path(output).name!r}; the workbook's Tickets sheet holds the "
                         "same rows")
    check_writable_target(Path(output), force=force)
    # The book is computed here, from its inputs as its sheets hold them: never from the
    # values a spreadsheet last stored in it.
    with _readable_book(Path(book)) as path, prepared_book(path) as prepared:
        if prepared.resized:
            print(f"Note: {Path(book).name} holds data beyond its ranges ("
                  + "; ".join(prepared.resized) + "); the tickets follow all of it (run "
                  "betaneutral compute to resize the file)")
        reasons: dict[Any, str] = {}
        values = compute_values(prepared.inputs, read_layout(prepared.wb), reasons=reasons)
        problem = checked_hedge(prepared.wb, values, reasons)
        if problem is not None:
            raise BetaNeutralError(f"no ticket written: the book's hedge figures are errors: "
                                   f"{problem}")
        tickets = book_tickets(prepared.wb, values, book_state(prepared.inputs))
    write_tickets_csv(tickets, output, fmt=fmt, force=force)  # type: ignore[arg-type]
    return tickets


def cmd_tickets(args: argparse.Namespace) -> int:
    """Write the hedge tickets of a workbook to CSV."""
    tickets = write_book_tickets(args.book, args.output, fmt=args.format, force=args.force)
    print(f"Wrote {len(tickets)} ticket(s) to {args.output}" if tickets else
          f"No order: the drift is inside the band; wrote an empty {args.output}")
    return EXIT_OK


def cmd_backtest(args: argparse.Namespace) -> int:
    """Replay the hedging policy on the book's history; write the daily path and summaries."""
    from betaneutral.backtest_io import (
        OUTPUT_FILES,
        TOURNAMENT_FILE,
        summary_lines,
        write_backtest_csvs,
    )
    from betaneutral.files import check_writable_target

    if args.book and (args.holdings or args.prices or args.settings):
        raise UsageError("give either a workbook or --holdings and --prices, not both")
    if not args.book and not (args.holdings and args.prices):
        raise UsageError("give a workbook, or both --holdings H.csv and --prices P.csv")
    if args.book and args.date_format != "auto":
        raise UsageError("--date-format applies to CSV inputs; a workbook's dates are date "
                         "cells")
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise FileProblemError(f"{out_dir} is a file; -o takes a folder")
    targets = [out_dir / name for name in OUTPUT_FILES]
    if args.estimators:
        targets.append(out_dir / TOURNAMENT_FILE)
    book_out = None
    if args.book:
        src = Path(args.book)
        book_out = out_dir / f"{src.stem}-backtest{src.suffix}"
        targets.append(book_out)
    if out_dir.is_dir():
        for target in targets:  # refuse before any work, and before writing anything
            check_writable_target(target, force=args.force)
    report = _progress(args)
    if report:
        report("reading the book")
    with contextlib.ExitStack() as stack:
        # One checked (and, if it links to other workbooks, unlinked) copy serves both the
        # reading and the written workbook; a file problem is exit 3, as in compute.
        book = (stack.enter_context(_readable_book(Path(args.book))) if args.book
                else None)
        prepared = None
        if book is not None:
            from betaneutral.workbook.compute import prepared_book

            # Read once: the replay and the written workbook share the loaded book.
            prepared = stack.enter_context(prepared_book(book))
        run = _replay(args, prepared.inputs if prepared is not None else None, report)
        out_dir.mkdir(parents=True, exist_ok=True)
        # The workbook first: it is the write most likely to fail, and a failure then
        # leaves every earlier result file as it was.
        book_written = []
        if book is not None and book_out is not None:
            from betaneutral.workbook.compute import compute_workbook

            book_written.append(compute_workbook(book, book_out, force=args.force,
                                                 backtest=run, strict=True,
                                                 prepared=prepared))
    written = write_backtest_csvs(run, out_dir, force=args.force) + book_written
    print("Backtest of the hedging policy")
    for line in summary_lines(run):
        print(line)
    print("Wrote " + ", ".join(str(p) for p in written))
    return EXIT_OK


def _replay(args: argparse.Namespace, book_inputs: Any,
            report: Callable[[str], None] | None) -> Any:
    """The backtest run of the book (its inputs, as the sheets hold them) or of the CSV
    inputs."""
    from betaneutral.backtest_io import BacktestOptions, read_backtest_csv_inputs, run_backtest
    from betaneutral.hourly_io import hourly_book_inputs, read_intraday_prices

    funding = quantities = history = intraday = None
    if args.funding_csv:
        from betaneutral.marketdata.files import read_funding_csv

        history = (*read_funding_csv(args.funding_csv), Path(args.funding_csv).name)
    if book_inputs is not None:
        inputs = book_inputs
    else:
        closes = read_intraday_prices(args.prices)
        if closes is not None:  # hourly closes: a daily book, hourly betas
            inputs, intraday = hourly_book_inputs(args.holdings, closes, args.settings)
        else:
            inputs, funding, quantities = read_backtest_csv_inputs(
                args.holdings, args.prices, args.settings, date_format=args.date_format)
    options = BacktestOptions(band=args.band, check=args.check, fee_bps=args.fee_bps,
                              slippage_bps=args.slippage_bps, top_up_below=args.top_up_below,
                              basis_annual=args.basis, estimators=args.estimators,
                              windows=args.windows, half_life=args.half_life)
    progress = (lambda done, total: report(f"replay {done} of {total} done")) \
        if report else None
    return run_backtest(inputs, options, funding=funding, quantities=quantities,
                        progress=progress, funding_history=history, intraday=intraday)


def _estimator_list(text: str) -> tuple[str, ...]:
    from betaneutral.core.tournament import METHODS

    names = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    bad = [n for n in names if n not in METHODS]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"estimators must be a comma-separated list of {', '.join(METHODS)}; got "
            f"{text!r}")
    return names


def _window_list(text: str) -> tuple[int | None, ...]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if not values or any(v < 0 or 0 < v < 3 for v in values):
        raise argparse.ArgumentTypeError(
            f"windows must be comma-separated whole numbers >= 3 (0 = all history), got "
            f"{text!r}")
    return tuple(v or None for v in values)  # type: ignore[misc]


def _half_life(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0.0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"half-life must be a number of days > 0, got "
                                         f"{text!r}")
    return value


def cmd_build_template(args: argparse.Namespace) -> int:
    """Regenerate templates/BetaNeutral.xlsx and BetaNeutral.xlsm from code."""
    from betaneutral.workbook.compute import build_committed_templates

    root = Path(args.root)
    for target in (root / "templates" / "BetaNeutral.xlsx", root / "BetaNeutral.xlsm"):
        if target.parent.is_dir():  # both, before replacing either (open in Excel?)
            check_writable_target(target, force=True)
    xlsx, xlsm = build_committed_templates(root)
    from betaneutral.files import atomic_output
    from betaneutral.vba.sources import LICENCE_FILE, licence_text

    with atomic_output(root / LICENCE_FILE, force=True, newline="\n") as (handle, _tmp):
        handle.write(licence_text())  # the notice the .xlsm's Start sheet names
    print(f"Wrote {xlsx}, {xlsm} and {root / LICENCE_FILE}")
    return EXIT_OK


def cmd_refresh_vba(args: argparse.Namespace) -> int:
    """Write a BetaNeutral .xlsm's VBA project again from the installed xlwings."""
    import shutil
    import zipfile

    from betaneutral.archive import check_workbook_archive
    from betaneutral.files import atomic_output
    from betaneutral.vba.package import refreshed_vba_project
    from betaneutral.vba.sources import xlwings_version

    book = Path(args.book)
    if book.suffix.lower() != ".xlsm":
        raise BetaNeutralError(f"the workbook must be an .xlsm, got {book.name!r}")
    check_writable_target(book, force=True)  # open in Excel?
    check_workbook_archive(book)
    try:
        current, new = refreshed_vba_project(book)
    except ValueError as exc:
        raise BetaNeutralError(str(exc)) from None
    if current == new:
        print(f"{book}: its VBA project is already xlwings {xlwings_version()}'s")
        return EXIT_OK
    backup = backup_copy(book)
    print(f"Backup: {backup}")
    with zipfile.ZipFile(backup) as src, \
            atomic_output(book, force=True, mode="wb", encoding=None) as (handle, _tmp), \
            zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            if info.filename == "xl/vbaProject.bin":
                out.writestr(info, new)
            else:
                with src.open(info) as part, out.open(info, "w") as dst:
                    shutil.copyfileobj(part, dst)
    print(f"Wrote the VBA project of xlwings {xlwings_version()} into {book}")
    return EXIT_OK


def _tolerance(text: str) -> float:
    """A finite number >= 0 (argparse type: anything else is a usage error)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _count(text: str) -> int:
    """A whole number >= 0 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text!r}")
    return value


def _add_date_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--date-format", choices=["auto", "iso", "dmy", "mdy"], default="auto",
                   help="how the CSV dates are written: auto (default: ISO 8601, or day/month "
                   "dates whose order the file proves with a day above 12), iso, dmy "
                   "(13/10/2024), mdy (10/13/2024)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="betaneutral",
        description="Neutralise a crypto book's beta to BTC with short futures.",
    )
    parser.add_argument("--version", action="version", version=f"betaneutral {__version__}")
    parser.add_argument("--catalogue", help="contract catalogue written by 'fetch contracts', "
                        "used before the built-in one (default: $BETANEUTRAL_CATALOGUE)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], text: str
            ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(func=func, usage=p.format_usage)
        return p

    p = add("demo", cmd_demo, "Run the whole job on the built-in synthetic sample: write a "
            "computed workbook and the hedge tickets, and print a summary.")
    p.add_argument("--out", default="demo-output", help="folder to write to (default: "
                   "demo-output)")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress messages")

    p = add("fill", cmd_fill, "Fill a fresh copy of the template with your holdings and "
            "prices (CSV) and compute it.")
    p.add_argument("--holdings", required=True, help="CSV: asset, quantity[, price]")
    p.add_argument("--prices", required=True, help="CSV: wide (date + one column per asset) "
                   "or long (date, symbol, close); dates in UTC")
    p.add_argument("--settings", help="TOML file with Settings values")
    _add_date_format(p)
    p.add_argument("-o", "--output", required=True, help="workbook to write (.xlsx or .xlsm)")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    p.add_argument("--quiet", action="store_true", help="no progress messages")

    p = add("compute", cmd_compute, "Compute a (possibly edited) workbook and write the results "
            "as cached values next to its formulas.")
    p.add_argument("book", help="the workbook to read (never modified unless --in-place)")
    p.add_argument("-o", "--output", help="workbook to write")
    p.add_argument("--in-place", action="store_true",
                   help="update the input itself, keeping a timestamped backup")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    p.add_argument("--quiet", action="store_true", help="no progress messages")

    p = add("check", cmd_check, "Evaluate the workbook's formulas with a formula engine and "
            "compare every computed cell with the Python results.")
    p.add_argument("book", help="the workbook to check")
    p.add_argument("--rtol", type=_tolerance, default=1e-9,
                   help="relative tolerance (default 1e-9)")
    p.add_argument("--limit", type=_count, default=50, help="mismatches to list (default 50)")
    p.add_argument("--quiet", action="store_true", help="no progress messages")

    p = add("tickets", cmd_tickets, "Write the hedge orders of a workbook to CSV.")
    p.add_argument("book", help="the workbook")
    p.add_argument("-o", "--output", required=True, help="CSV file to write")
    p.add_argument("--format", choices=["tickets", "binance-usdm"], default="tickets",
                   help="column set: BetaNeutral tickets (default) or Binance USD-M batch "
                   "orders")
    p.add_argument("--force", action="store_true", help="replace an existing file")

    p = add("backtest", cmd_backtest, "Replay the hedging policy on the book's own price "
            "history (fees, funding, margin account) and compare rebalance bands.")
    p.add_argument("book", nargs="?", help="a BetaNeutral workbook (or give --holdings and "
                   "--prices)")
    p.add_argument("--holdings", help="CSV: asset, quantity (fixed) or date, asset, quantity "
                   "(a holdings history)")
    p.add_argument("--prices", help="CSV of daily closes as for fill; a wide file may add a "
                   "funding_rate_8h column")
    p.add_argument("--funding-csv", help="funding history of the hedge perpetual written by "
                   "'fetch funding' (accrued payment by payment instead of a constant rate)")
    p.add_argument("--settings", help="TOML file with Settings values (with CSV inputs)")
    _add_date_format(p)
    p.add_argument("--band", type=float, help="rebalance band in beta (default: the book's "
                   "Settings, 0.05 in the template)")
    p.add_argument("--check", choices=["daily", "weekly"], default="daily",
                   help="how often the beta is checked (default daily)")
    p.add_argument("--fee-bps", type=float, default=5.0, help="taker fee per trade, basis "
                   "points of notional (default 5)")
    p.add_argument("--slippage-bps", type=float, default=0.0, help="extra cost per trade, "
                   "basis points (default 0)")
    p.add_argument("--top-up-below", type=float, help="top up the margin when the rally to "
                   "liquidation falls below this fraction (default: half the stress move)")
    p.add_argument("--basis", type=float, default=0.0, help="annualised basis earned by a "
                   "dated future's short (dated contracts only; default 0)")
    p.add_argument("--estimators", type=_estimator_list, help="compare beta estimators: "
                   "comma-separated methods, e.g. ols,ewls,welch,welch-decay,vasicek "
                   "(also blume, ewma, realised, vasicek-<base>); writes tournament.csv")
    p.add_argument("--windows", type=_window_list, help="windows in days of the estimator "
                   "comparison, e.g. 30,90,180; 0 = all history (default: the book's window)")
    p.add_argument("--half-life", type=_half_life, default=126.0, help="half-life in days of "
                   "the decayed estimators ewls and welch-decay (default 126, about four "
                   "months)")
    p.add_argument("-o", "--output", required=True, help="folder to write the results to")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress messages")

    from betaneutral.marketdata.commands import add_fetch_parser

    add_fetch_parser(sub, add)

    p = add("refresh-vba", cmd_refresh_vba, "Write a BetaNeutral .xlsm's VBA project (xlwings "
            "module, function wrappers, button macros) again from the installed xlwings, "
            "keeping a timestamped backup.")
    p.add_argument("book", help="the .xlsm to update in place")

    p = add("refresh", cmd_refresh, "Bring a book up to date from an exchange (read-only): "
            "append the daily closes since its last date, set the futures (mark) price, the "
            "funding rate per 8 h and the current position, and compute it.")
    p.add_argument("book", help="the workbook to refresh (never modified unless --in-place)")
    p.add_argument("-o", "--output", help="workbook to write")
    p.add_argument("--in-place", action="store_true",
                   help="update the input itself, keeping a timestamped backup")
    p.add_argument("--exchange", default="binance", help="spot exchange of the closes: "
                   "binance (default), bybit or okx")
    p.add_argument("--quote", default="USDT", help="quote currency of the closes (default "
                   "USDT), taken as USD")
    p.add_argument("--contract", help="hedge contract EXCHANGE:SYMBOL whose mark price, "
                   "funding and position are read (default: the book's HedgeContract)")
    p.add_argument("--no-position", action="store_true", help="leave CurrentContracts as it "
                   "is (the position needs a read-only key in BETANEUTRAL_API_KEY and "
                   "BETANEUTRAL_API_SECRET; without them it is left as it is too)")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    p.add_argument("--quiet", action="store_true", help="no progress messages")

    p = add("build-template", cmd_build_template, "Regenerate templates/BetaNeutral.xlsx and "
            "BetaNeutral.xlsm from code.")
    p.add_argument("--root", default=".", help="repository root (default: current folder)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``betaneutral`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return _run(func, args)
    except UsageError as exc:  # reported as argparse reports its own: usage, then the error
        print(args.usage(), end="", file=sys.stderr)
        print(f"betaneutral {args.command}: error: " + " ".join(str(exc).split()),
              file=sys.stderr)
        return EXIT_USAGE


def _run(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; known errors become one line on standard error and an exit code."""
    try:
        with warnings.catch_warnings():  # openpyxl's notes would break the one-line rule
            warnings.filterwarnings("ignore", module=r"openpyxl(\.|$)")
            from betaneutral.marketdata.files import install_catalogue_from_environment

            with _user_catalogue(install_catalogue_from_environment(args.catalogue)):
                return func(args)
    except FileProblemError as exc:
        _error(str(exc))
        return EXIT_FILE
    except BetaNeutralError as exc:
        _error(str(exc))
        return EXIT_DATA
    except OverflowError as exc:  # a number beyond the float range in the inputs
        _error(f"a number in the inputs is too large to compute with ({exc})")
        return EXIT_DATA
    except OSError as exc:
        _error(f"{exc.filename or ''}: {exc.strerror or exc}")
        return EXIT_FILE


@contextlib.contextmanager
def _user_catalogue(path: Path | None) -> Iterator[None]:
    """Say which catalogue is used; restore the built-in one afterwards."""
    if path is not None:
        print(f"Contracts: the catalogue {path} first, the built-in one otherwise",
              file=sys.stderr)
    try:
        yield
    finally:
        if path is not None:
            from betaneutral.core.contracts import use_catalogue

            use_catalogue(None)


def _error(message: str) -> None:
    """The one-line diagnostic (line breaks inside a message become spaces)."""
    print("betaneutral: error: " + " ".join(message.split()), file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
