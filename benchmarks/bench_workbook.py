"""Speed and memory of computing a whole workbook headless (``betaneutral compute``).

Cases (ratios measured in one run, same machine, same files):

3. The template filled with synthetic books of 20 holdings x 730 days and
   200 holdings x 2,000 days, computed end to end as ``betaneutral compute
   BOOK -o OUT`` does (:func:`betaneutral.workbook.compute.compute_workbook`:
   load, read inputs, check the formulas, compute, write the values), against

   (a) the formula engine of the tests, pycel
       (:func:`betaneutral.workbook.engine.evaluate_workbook`: load and evaluate
       every formula cell, nothing saved), and
   (b) LibreOffice headless, forced to recalculate on load and saving ``.xlsx``
       (the approach of ``tests/lo_helpers.py``). LibreOffice recalculates the
       native formulas (the benchmark index chain, the Holdings arithmetic and
       sums, the Rebalance lines and the Start figures); it cannot call the
       BetaNeutral functions, so every cell that uses one becomes ``#NAME?``.
       The script counts both kinds of cells in LibreOffice's output.

   Ours and pycel are timed in this process (best of ``--repeat``); pycel on the
   large book runs once in a child process under ``--pycel-timeout``. The
   ``betaneutral compute`` command is also run as a child process to report
   its wall time and peak resident memory (``ru_maxrss`` of that process, read
   with ``os.wait4`` by a small launcher process). A per-stage breakdown follows
   the same steps as ``compute_workbook`` (fastest of ``--repeat`` runs per stage).

Floor: on each book as ``compute`` wrote it (every formula cell holding its value),
``betaneutral compute`` and ``benchmarks/bench_floor.py`` (python-calamine reads
the whole book, numpy computes the bulk numbers, rustpy-xlsxwriter writes the same
cells) take turns as whole processes, imports included; the ratio of the fastest
of each is reported (target 1.5x). Needs the ``bench`` extra; ``--no-floor``
leaves it out.

Scaling: compute time against the number of holdings (2,000 days) and the
number of days (50 holdings), with a least-squares line through the points.

The books are the synthetic sample of :mod:`betaneutral.sample` (BTC, ETH and
its five altcoins), extended with further synthetic altcoins built the same way
(daily return ``beta * r_BTC + noise``), written to a temporary folder.

Usage::

    python benchmarks/bench_workbook.py [--json results.json] [--repeat 3]
        [--pycel-timeout 1800] [--no-pycel-large] [--no-libreoffice] [--no-scaling]
        [--no-floor]
    python benchmarks/bench_workbook.py --grid [--repeat 2] [--json grid.json] [--books DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from betaneutral.sample import sample_holdings, sample_prices
from betaneutral.workbook.compute import compute_workbook, fill_workbook
from betaneutral.workbook.inputs import BookInputs
from timing import best_of

ROOT = Path(__file__).resolve().parents[1]
TARGET_SPEEDUP = 10.0
TARGET_LARGE_S = 2.0
TARGET_PEAK_MB = 500.0
TARGET_FLOOR_RATIO = 1.5


# ------------------------------------------------------------------ the books ---
def synthetic_inputs(n_holdings: int, days: int, *, seed: int = 1) -> BookInputs:
    """A book of ``n_holdings`` spot holdings with ``days`` daily closes.

    The first holdings are the sample's (ETH and its altcoins, with the sample
    quantities); further holdings ``ALT001..`` get returns
    ``beta * r_BTC + e`` (beta uniform in [0.5, 1.8], e ~ N(0, 0.03)) on the
    sample's own BTC returns, and quantities worth 10k-1M USD at the last close.
    """
    prices = sample_prices(days)
    holdings = sample_holdings().iloc[:n_holdings]
    extra = n_holdings - len(holdings)
    if extra > 0:
        rng = np.random.default_rng(seed)
        r_btc = prices["BTC"].pct_change().to_numpy()[1:]
        columns = {}
        quantities = []
        for i in range(1, extra + 1):
            returns = rng.uniform(0.5, 1.8) * r_btc + rng.normal(0.0, 0.03, days - 1)
            path = rng.uniform(0.05, 500.0) * np.concatenate([[1.0], np.cumprod(1 + returns)])
            columns[f"ALT{i:03d}"] = np.round(path, 6)
            quantities.append(float(f"{rng.uniform(1e4, 1e6) / path[-1]:.6g}"))
        prices = pd.concat([prices, pd.DataFrame(columns, index=prices.index)], axis=1)
        holdings = pd.concat([holdings, pd.DataFrame({"asset": list(columns),
                                                      "quantity": quantities})],
                             ignore_index=True)
    keep = ["BTC", "ETH", *[a for a in holdings["asset"] if a != "ETH"]]
    return BookInputs(prices=prices[keep], holdings=holdings.reset_index(drop=True))


def write_book(folder: Path, n_holdings: int, days: int) -> Path:
    path = folder / f"book-{n_holdings}x{days}.xlsx"
    if not path.exists():
        fill_workbook(synthetic_inputs(n_holdings, days)).save(path)
    return path


# ------------------------------------------------------------------- timing ---
# Runs a command and reports its wall time and peak RSS. A process forked from this
# (large) benchmark process would count this process's memory as its own peak
# (ru_maxrss survives exec), so a small launcher process starts the command.
_LAUNCHER = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
child = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"seconds": time.perf_counter() - t0, "maxrss_kb": usage.ru_maxrss,
                  "exit": os.waitstatus_to_exitcode(status)}))
"""


def run_child(command: list[str], *, timeout: float | None = None) -> tuple[float, float, str]:
    """Run ``command``; (wall seconds, peak RSS in MB of that process, its output).

    Raises TimeoutError (after killing it) when it runs longer than ``timeout``.
    """
    with tempfile.TemporaryFile() as out:
        launcher = subprocess.Popen([sys.executable, "-c", _LAUNCHER, *command], stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            launcher.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
            raise TimeoutError(f"{command[:3]} exceeded {timeout:g} s") from None
        out.seek(0)
        text = out.read().decode(errors="replace")
    report = json.loads(text.strip().splitlines()[-1])
    if launcher.returncode != 0 or report["exit"] != 0:
        raise RuntimeError(f"{command[:3]} failed ({report['exit']}):\n{text}")
    return report["seconds"], report["maxrss_kb"] / 1024.0, text


_PYCEL_CHILD = """
import json, sys, time
from betaneutral.workbook.engine import evaluate_workbook
t0 = time.perf_counter()
values = evaluate_workbook(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t0, "cells": len(values)}))
"""


def pycel_in_child(book: Path, timeout: float) -> tuple[float | None, float]:
    """pycel's load + evaluate time measured inside a child; None when it timed out."""
    try:
        _, peak, text = run_child([sys.executable, "-c", _PYCEL_CHILD, str(book)],
                                  timeout=timeout)
    except TimeoutError:
        return None, float("nan")
    line = next(x for x in reversed(text.strip().splitlines()) if '"cells"' in x)
    return float(json.loads(line)["seconds"]), peak


def libreoffice(books: list[Path], folder: Path, repeat: int) -> dict[str, Any]:
    """LibreOffice recalculation time per book (warm profile), and what it computed."""
    sys.path.insert(0, str(ROOT / "tests"))
    import lo_helpers  # the tests' way of driving soffice

    if lo_helpers.soffice() is None:
        return {}
    profile = lo_helpers.make_profile(folder / "lo-profile")
    lo_helpers.recalculate(books[:1], folder / "lo-warm", profile)  # profile creation
    out: dict[str, Any] = {}
    for book in books:
        times = []
        for k in range(repeat):
            (result,), seconds = lo_helpers.recalculate([book], folder / f"lo-{k}", profile,
                                                        timeout_s=1800)
            times.append(seconds)
        out[book.name] = {"seconds": min(times), "cells": _lo_cells(book, result)}
    return out


def _lo_cells(book: Path, result: Path) -> dict[str, int]:
    """Formula cells of ``book`` that LibreOffice computed to a value, and to #NAME?."""
    from openpyxl import load_workbook
    from openpyxl.utils import range_boundaries

    from betaneutral.workbook.template import formula_cells

    formulas = load_workbook(book)
    values = load_workbook(result, data_only=True)
    computed = unknown = 0
    for cell in formula_cells(formulas):
        c1, r1, c2, r2 = range_boundaries(cell.coordinate)
        for row in values[cell.sheet].iter_rows(min_row=r1, max_row=r2, min_col=c1,
                                                max_col=c2, values_only=True):
            for value in row:
                if value == "#NAME?":
                    unknown += 1
                else:
                    computed += 1
    return {"computed": computed, "name_error": unknown}


def stages(book: Path, out: Path) -> dict[str, float]:
    """Wall time of each step of ``compute_workbook`` (same calls, same order)."""
    from betaneutral.workbook.backtest_sheet import book_backtest_cells
    from betaneutral.workbook.cache import write_cached_values
    from betaneutral.workbook.compute import _check_formulas
    from betaneutral.workbook.inputs import read_inputs
    from betaneutral.workbook.loader import load_book
    from betaneutral.workbook.model import compute_values, read_layout
    from betaneutral.workbook.results import book_state, book_tickets, tickets_cells

    times: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(label: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        times[label] = now - t0
        t0 = now

    gc.disable()  # as compute_workbook does from the load to the computed values
    try:
        wb = load_book(book)  # the archive checks, the bulk cells, then openpyxl
        lap("load")
        inputs = read_inputs(wb)
        layout = read_layout(wb)
        lap("read inputs")
        _check_formulas(wb, inputs)
        lap("check formulas")
        values = compute_values(inputs, layout)
        lap("compute values")
    finally:
        gc.enable()
    tickets = book_tickets(wb, values, book_state(inputs))
    plain = {**tickets_cells(wb, tickets), **book_backtest_cells(wb.sheetnames, inputs, None)}
    lap("tickets, backtest")
    del wb  # as compute_workbook does before writing
    gc.collect()
    write_cached_values(book, out, values, force=True, plain_values=plain)
    lap("write values")
    return times


def best_stages(book: Path, out: Path, repeat: int) -> dict[str, float]:
    """The fastest of ``repeat`` runs of each stage, each run started after a full
    collection (so that objects left by an earlier measurement, such as pycel's, do
    not slow the collector down inside a stage)."""
    runs = []
    for _ in range(repeat):
        gc.collect()
        runs.append(stages(book, out))
    return {label: min(run[label] for run in runs) for label in runs[0]}


def against_floor(book: Path, folder: Path, repeat: int) -> dict[str, Any] | None:
    """``betaneutral compute`` against the floor script (``bench_floor.py``), both as
    whole processes, taking turns ``repeat`` times on the same book: the book as
    ``compute`` wrote it (every formula cell with its value, so both read the whole
    book and rewrite every value). None when the ``bench`` extra is not installed."""
    try:
        import python_calamine  # noqa: F401
        import rustpy_xlsxwriter  # noqa: F401
    except ImportError:
        return None
    computed = folder / f"computed-{book.name}"
    compute_workbook(book, computed, force=True)
    ours, floors, peaks, floor_peaks = [], [], [], []
    for _ in range(repeat):
        wall, peak, _ = run_child([sys.executable, "-m", "betaneutral.cli", "compute",
                                   str(computed), "-o", str(folder / "again.xlsx"), "--force",
                                   "--quiet"])
        ours.append(wall)
        peaks.append(peak)
        wall, peak, _ = run_child([sys.executable, str(ROOT / "benchmarks" / "bench_floor.py"),
                                   str(computed), str(folder / "floor.xlsx")])
        floors.append(wall)
        floor_peaks.append(peak)
    return {"compute_s": min(ours), "floor_s": min(floors), "ratio": min(ours) / min(floors),
            "compute_peak_mb": max(peaks), "floor_peak_mb": max(floor_peaks),
            "all_compute_s": ours, "all_floor_s": floors}


# -------------------------------------------------------------------- cases ---
def case3(folder: Path, repeat: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    from betaneutral.workbook.engine import evaluate_workbook

    sizes = [(20, 730), (200, 2000)]
    books = {size: write_book(folder, *size) for size in sizes}
    lo = {} if args.no_libreoffice else libreoffice(list(books.values()), folder, repeat)
    rows = []
    for (n, days), book in books.items():
        out = folder / f"out-{n}x{days}.xlsx"
        ours = best_of(lambda b=book, o=out: compute_workbook(b, o, force=True), repeat)
        cli_times, peaks = [], []
        for _ in range(repeat):
            wall, peak, _ = run_child([sys.executable, "-m", "betaneutral.cli", "compute",
                                       str(book), "-o", str(out), "--force", "--quiet"])
            cli_times.append(wall)
            peaks.append(peak)
        floor = against_floor(book, folder, repeat) if not args.no_floor else None
        if days <= 1000:
            pycel = best_of(lambda b=book: evaluate_workbook(b), repeat)
            pycel_how = f"in process, best of {repeat}"
        elif args.no_pycel_large:
            pycel, pycel_how = None, "skipped"
        else:
            pycel, _ = pycel_in_child(book, args.pycel_timeout)
            pycel_how = ("child process, once" if pycel is not None
                         else f"timed out after {args.pycel_timeout:g} s")
        lo_row = lo.get(book.name, {})
        rows.append({
            "book": f"{n} holdings x {days} days", "ours_s": ours,
            "cli_wall_s": min(cli_times), "cli_peak_rss_mb": max(peaks),
            "pycel_s": pycel, "pycel_how": pycel_how,
            "pycel_speedup": None if pycel is None else pycel / ours,
            "pycel_timeout_s": args.pycel_timeout if pycel is None else None,
            "libreoffice_s": lo_row.get("seconds"),
            "libreoffice_speedup": (lo_row["seconds"] / ours) if lo_row else None,
            "libreoffice_cells": lo_row.get("cells"),
            "stages_s": best_stages(book, out, repeat),
            "floor": floor,
        })
    return rows


def scaling(folder: Path, repeat: int) -> dict[str, Any]:
    series = {"holdings": [(n, 2000) for n in (10, 50, 100, 200)],
              "days": [(50, d) for d in (250, 500, 1000, 2000)]}
    out: dict[str, Any] = {}
    for label, sizes in series.items():
        points = []
        for n, days in sizes:
            book = write_book(folder, n, days)
            dst = folder / f"scale-{n}x{days}.xlsx"
            seconds = best_of(lambda b=book, d=dst: compute_workbook(b, d, force=True), repeat)
            points.append({"holdings": n, "days": days, "seconds": seconds})
        x = np.array([p[label] for p in points], dtype=float)
        y = np.array([p["seconds"] for p in points])
        slope, intercept = np.polyfit(x, y, 1)
        fitted = slope * x + intercept
        r2 = 1.0 - float(((y - fitted) ** 2).sum()) / float(((y - y.mean()) ** 2).sum())
        out[label] = {"points": points, "slope_s_per_unit": float(slope),
                      "intercept_s": float(intercept), "r_squared": r2}
    return out


#: The grid of ``--grid`` (holdings x days): a subset of 50-1,000 holdings x 500-4,000 days.
GRID = [(50, 500), (50, 2000), (50, 4000), (200, 500), (200, 2000), (200, 4000),
        (400, 2000), (1000, 500), (1000, 2000)]


def grid(folder: Path, repeat: int, sizes: list[tuple[int, int]], *,
         keep: bool = False) -> dict[str, Any]:
    """``betaneutral compute`` as a process on each book (recompute of a computed book):
    fastest wall time and peak RSS of ``repeat`` runs; the memory per holding-day is the
    least-squares slope of the peak against holdings x days. With ``keep`` the computed
    books stay in ``folder`` and are used again by a later run (building the largest
    takes minutes)."""
    from betaneutral.archive import UnsafeWorkbookError
    from betaneutral.errors import BetaNeutralError

    points, refused = [], []
    for n, days in sizes:
        computed = folder / f"computed-book-{n}x{days}.xlsx"
        if not (keep and computed.exists()):
            book = write_book(folder, n, days)
            try:
                compute_workbook(book, computed, force=True)
            except (BetaNeutralError, UnsafeWorkbookError) as exc:  # a part over the bound
                refused.append({"holdings": n, "days": days, "reason": str(exc)})
                print(f"grid: {n} x {days}: refused: {exc}", flush=True)
                continue
            finally:
                book.unlink()  # the books of the grid are large: one at a time on disk
        walls, peaks = [], []
        for _ in range(repeat):
            wall, peak, _ = run_child([sys.executable, "-m", "betaneutral.cli", "compute",
                                       str(computed), "-o", str(folder / "grid-out.xlsx"),
                                       "--force", "--quiet"])
            walls.append(wall)
            peaks.append(peak)
        if not keep:
            computed.unlink()
        points.append({"holdings": n, "days": days, "seconds": min(walls),
                       "peak_mb": max(peaks)})
        print(f"grid: {n} x {days}: {min(walls):.2f} s, {max(peaks):.0f} MB", flush=True)
    x = np.array([p["holdings"] * p["days"] for p in points], dtype=float)
    y = np.array([p["peak_mb"] for p in points])
    slope, intercept = np.polyfit(x, y, 1) if len(points) > 1 else (float("nan"), y[0])
    return {"points": points, "kb_per_holding_day": float(slope) * 1024.0,
            "base_mb": float(intercept), "refused": refused}


# --------------------------------------------------------------------- output ---
def _fmt(value: float | None, spec: str = "9.2f") -> str:
    return f"{'-':>9}" if value is None else format(value, spec)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def _soffice_version() -> str:
    try:
        done = subprocess.run(["soffice", "--version"], capture_output=True, text=True,
                              timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "absent"
    return done.stdout.strip() or "absent"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pycel-timeout", type=float, default=1800.0,
                        help="seconds allowed to pycel on the large book (default 1800)")
    parser.add_argument("--no-pycel-large", action="store_true",
                        help="do not run pycel on the 200 x 2,000 book")
    parser.add_argument("--no-libreoffice", action="store_true")
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--sizes", nargs="*", default=None, metavar="NxDAYS",
                        help="with --grid: these books only, e.g. 200x4000 1000x500")
    parser.add_argument("--grid", action="store_true",
                        help="only the grid of books (50-1,000 holdings x 500-4,000 days): "
                             "compute as a process, wall time and peak memory")
    parser.add_argument("--books", metavar="DIR",
                        help="with --grid: keep the computed books in DIR and use them again")
    parser.add_argument("--no-floor", action="store_true",
                        help="do not run the floor script (bench_floor.py) beside compute")
    args = parser.parse_args()

    if args.grid:
        sizes = ([tuple(int(v) for v in size.split("x")) for size in args.sizes]
                 if args.sizes else GRID)
        if args.books:
            Path(args.books).mkdir(parents=True, exist_ok=True)
            result = grid(Path(args.books), args.repeat, sizes, keep=True)
        else:
            with tempfile.TemporaryDirectory(prefix="bench-workbook-") as tmp:
                result = grid(Path(tmp), args.repeat, sizes)
        print(f"memory: {result['kb_per_holding_day']:.3f} KB per holding-day "
              f"+ {result['base_mb']:.0f} MB (least squares over the grid)")
        if args.json:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump({"grid": result}, fh, indent=2)
        return
    with tempfile.TemporaryDirectory(prefix="bench-workbook-") as tmp:
        folder = Path(tmp)
        rows = case3(folder, args.repeat, args)
        scale = None if args.no_scaling else scaling(folder, args.repeat)

    print(f"{'case 3: compute the workbook':30} {'ours s':>9} {'pycel s':>9} {'x':>7} "
          f"{'LO s':>9} {'x':>7} {'CLI s':>9} {'peak MB':>8}")
    for r in rows:
        pycel = r["pycel_s"]
        timed_out = ">" + format(r["pycel_timeout_s"] or 0, "g")
        pycel_text = _fmt(pycel) if pycel is not None else f"{timed_out:>9}"
        print(f"{r['book']:30} {r['ours_s']:9.2f} {pycel_text} "
              f"{_fmt(r['pycel_speedup'], '6.1f')}x {_fmt(r['libreoffice_s'])} "
              f"{_fmt(r['libreoffice_speedup'], '6.1f')}x {r['cli_wall_s']:9.2f} "
              f"{r['cli_peak_rss_mb']:8.0f}")
    print(f"targets: >= {TARGET_SPEEDUP:g}x both; 200 x 2,000 CLI < {TARGET_LARGE_S:g} s; "
          f"peak < {TARGET_PEAK_MB:g} MB")
    for r in rows:
        if r["libreoffice_cells"]:
            c = r["libreoffice_cells"]
            print(f"LibreOffice, {r['book']}: {c['computed']} formula cells with a value, "
                  f"{c['name_error']} #NAME? (cells calling BetaNeutral functions)")
        print(f"pycel, {r['book']}: {r['pycel_how']}")
    for r in rows:
        f = r["floor"]
        if f:
            print(f"floor, {r['book']} (recompute of a computed book, processes): compute "
                  f"{f['compute_s']:.2f} s / floor {f['floor_s']:.2f} s = {f['ratio']:.2f}x "
                  f"(target <= {TARGET_FLOOR_RATIO:g}x); peak {f['compute_peak_mb']:.0f} MB "
                  f"vs {f['floor_peak_mb']:.0f} MB")
    print()
    print(f"{'stages of compute_workbook (s)':30} " + " ".join(f"{r['book']:>28}" for r in rows))
    for stage in rows[0]["stages_s"]:
        print(f"{stage:30} " + " ".join(f"{r['stages_s'][stage]:28.2f}" for r in rows))
    if scale:
        print()
        for label, unit in (("holdings", "holding"), ("days", "day")):
            s = scale[label]
            print(f"{'scaling vs ' + label:30} {'seconds':>9} {'s per ' + unit:>14}")
            for p in s["points"]:
                print(f"{p['holdings']:>5} holdings x {p['days']:>5} days   {p['seconds']:9.2f} "
                      f"{p['seconds'] / p[label]:14.5f}")
            print(f"least squares: {s['slope_s_per_unit'] * 1e3:.2f} ms per {unit} "
                  f"+ {s['intercept_s']:.2f} s, R^2 = {s['r_squared']:.4f}")
    if args.json:
        meta = {"python": platform.python_version(), "machine": platform.machine(),
                "system": platform.system(), "cpus": os.cpu_count(),
                "numpy": np.__version__, "pandas": pd.__version__,
                "openpyxl": _version("openpyxl"), "lxml": _version("lxml"),
                "pycel": _version("pycel"), "libreoffice": _soffice_version(),
                "repeat": args.repeat}
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"meta": meta, "case3": rows, "scaling": scale}, fh, indent=2)


if __name__ == "__main__":
    main()
