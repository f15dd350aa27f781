"""The ``betaneutral`` command.

Commands: ``demo``, ``fill``, ``compute``, ``check``, ``tickets`` and
``build-template`` (``betaneutral COMMAND --help`` describes each).

Exit codes: 0 success; 1 data or validation error (including mismatches found
by ``check``); 2 usage error; 3 a file is locked, exists, or cannot be read or
written. Diagnostics go to standard error as one line; a user's mistake never
produces a traceback. Progress messages appear on standard error only when it
is a terminal.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from betaneutral import __version__
from betaneutral.errors import BetaNeutralError
from betaneutral.files import FileProblemError

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2
EXIT_FILE = 3

DEMO_BOOK = "BetaNeutral-demo.xlsx"
DEMO_TICKETS = "hedge-tickets.csv"


def _progress(args: argparse.Namespace) -> Callable[[str], None] | None:
    if getattr(args, "quiet", False) or not sys.stderr.isatty():
        return None
    return lambda message: print(f"... {message}", file=sys.stderr, flush=True)


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:,.6f}" if abs(value) < 10 else f"{value:,.2f}"
    return str(value)


def _compute_book(wb: Any, out: Path, *, force: bool, tickets_csv: Path | None,
                  fmt: str = "tickets") -> tuple[dict[str, Any], list[Any]]:
    """Compute ``wb`` (an openpyxl workbook), write it to ``out`` with values and tickets."""
    from betaneutral.tickets import write_tickets_csv, write_tickets_sheet
    from betaneutral.workbook.cache import write_cached_values
    from betaneutral.workbook.inputs import read_inputs
    from betaneutral.workbook.model import compute_values, read_layout
    from betaneutral.workbook.results import (
        SUMMARY_NAMES,
        book_state,
        book_tickets,
        named_values,
    )

    inputs = read_inputs(wb)
    values = compute_values(inputs, read_layout(wb))
    tickets = book_tickets(wb, values, book_state(inputs))
    write_tickets_sheet(wb["Tickets"], tickets)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".tmp-") as tmp:
        raw = Path(tmp) / f"raw{out.suffix}"
        wb.save(raw)
        write_cached_values(raw, out, values, force=force)
    if tickets_csv is not None:
        write_tickets_csv(tickets, tickets_csv, fmt=fmt, force=force)  # type: ignore[arg-type]
    summary = named_values(wb, values, [n for n, _ in SUMMARY_NAMES])
    return summary, tickets


def _print_summary(summary: dict[str, Any], tickets: list[Any]) -> None:
    from betaneutral.workbook.results import SUMMARY_NAMES

    width = max(len(label) for _, label in SUMMARY_NAMES)
    for name, label in SUMMARY_NAMES:
        print(f"  {label:<{width}}  {_fmt(summary[name])}")
    if tickets:
        print(f"  {'Orders':<{width}}  " + "; ".join(
            f"{t.side.upper()} {t.amount_contracts:g} {t.symbol} ({t.type}"
            f"{', reduce-only' if t.reduce_only else ''})" for t in tickets))
    else:
        print(f"  {'Orders':<{width}}  none (drift inside the band)")


def cmd_demo(args: argparse.Namespace) -> int:
    """Fill the template with the synthetic sample, compute it, write book and tickets."""
    from betaneutral.sample import SAMPLE_LABEL
    from betaneutral.workbook.template import build_workbook

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = _progress(args)
    if report:
        report("building the workbook from the sample data")
    wb = build_workbook()
    book, csv_path = out_dir / DEMO_BOOK, out_dir / DEMO_TICKETS
    summary, tickets = _compute_book(wb, book, force=args.force, tickets_csv=csv_path)
    print(SAMPLE_LABEL)
    _print_summary(summary, tickets)
    print(f"Wrote {book} and {csv_path}")
    return EXIT_OK


def cmd_fill(args: argparse.Namespace) -> int:
    """Fill a fresh template with the user's CSV inputs and compute it."""
    from betaneutral.workbook.compute import fill_workbook
    from betaneutral.workbook.inputs import read_csv_inputs

    out = Path(args.output)
    if out.suffix.lower() not in (".xlsx", ".xlsm"):
        raise BetaNeutralError(f"output must end in .xlsx or .xlsm, got {out.name!r}")
    inputs = read_csv_inputs(args.holdings, args.prices, args.settings)
    wb = fill_workbook(inputs, macro=out.suffix.lower() == ".xlsm")
    summary, tickets = _compute_book(wb, out, force=args.force, tickets_csv=None)
    _print_summary(summary, tickets)
    print(f"Wrote {out}")
    return EXIT_OK


def _output_for(args: argparse.Namespace) -> tuple[Path, bool]:
    src = Path(args.book)
    if args.in_place:
        if args.output:
            raise BetaNeutralError("give either -o/--output or --in-place, not both")
        return src, True
    if not args.output:
        raise BetaNeutralError("an output file is required: -o OUT.xlsx (or --in-place)")
    out = Path(args.output)
    if out.resolve() == src.resolve():
        raise BetaNeutralError("the output must differ from the input; use --in-place to "
                               "update the input (a timestamped backup is kept)")
    return out, args.force


def cmd_compute(args: argparse.Namespace) -> int:
    """Compute a (possibly edited) workbook and write its values next to the formulas."""
    from betaneutral.workbook.compute import compute_workbook

    src = Path(args.book)
    out, force = _output_for(args)
    if args.in_place:
        from betaneutral.files import backup_copy

        backup = backup_copy(src)
        print(f"Backup: {backup}")
    compute_workbook(src, out, progress=_progress(args), force=force)
    print(f"Wrote {out}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """Evaluate the workbook's formulas with a formula engine and compare with Python."""
    from betaneutral.archive import check_workbook_archive

    check_workbook_archive(args.book)
    try:
        from betaneutral.workbook.engine import check_workbook
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise BetaNeutralError(str(exc)) from None
    try:
        mismatches = check_workbook(args.book, rtol=args.rtol)
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


def cmd_tickets(args: argparse.Namespace) -> int:
    """Write the hedge tickets of a workbook to CSV."""
    from openpyxl import load_workbook

    from betaneutral.archive import check_workbook_archive
    from betaneutral.tickets import write_tickets_csv
    from betaneutral.workbook.inputs import read_inputs
    from betaneutral.workbook.model import compute_values, read_layout
    from betaneutral.workbook.results import book_state, book_tickets

    check_workbook_archive(args.book)
    wb = load_workbook(args.book, keep_links=False)
    inputs = read_inputs(wb)
    values = compute_values(inputs, read_layout(wb))
    tickets = book_tickets(wb, values, book_state(inputs))
    write_tickets_csv(tickets, args.output, fmt=args.format, force=args.force)
    print(f"Wrote {len(tickets)} ticket(s) to {args.output}" if tickets else
          f"No order: the drift is inside the band; wrote an empty {args.output}")
    return EXIT_OK


def cmd_build_template(args: argparse.Namespace) -> int:
    """Regenerate templates/BetaNeutral.xlsx and BetaNeutral.xlsm from code."""
    from betaneutral.workbook.compute import build_committed_templates

    xlsx, xlsm = build_committed_templates(args.root)
    print(f"Wrote {xlsx} and {xlsm}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="betaneutral",
        description="Neutralise a crypto book's beta to BTC with short futures.",
    )
    parser.add_argument("--version", action="version", version=f"betaneutral {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], text: str
            ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(func=func)
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
    p.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance (default 1e-9)")
    p.add_argument("--limit", type=int, default=50, help="mismatches to list (default 50)")

    p = add("tickets", cmd_tickets, "Write the hedge orders of a workbook to CSV.")
    p.add_argument("book", help="the workbook")
    p.add_argument("-o", "--output", required=True, help="CSV file to write")
    p.add_argument("--format", choices=["tickets", "binance-usdm"], default="tickets",
                   help="column set: BetaNeutral tickets (default) or Binance USD-M batch "
                   "orders")
    p.add_argument("--force", action="store_true", help="replace an existing file")

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
        return func(args)
    except FileProblemError as exc:
        print(f"betaneutral: error: {exc}", file=sys.stderr)
        return EXIT_FILE
    except BetaNeutralError as exc:
        print(f"betaneutral: error: {exc}", file=sys.stderr)
        return EXIT_DATA
    except OSError as exc:
        print(f"betaneutral: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FILE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
