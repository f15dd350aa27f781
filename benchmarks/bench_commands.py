"""Whole commands as processes: ``fill`` against ``compute``, ``backtest BOOK``, ``check``
and a small ``compute`` with its imports.

Each command runs as its own process (``python -m betaneutral.cli ...``), started by a
small launcher that reports the wall time and the peak resident memory of that process
(``ru_maxrss`` read with ``os.wait4``), so this script's own memory is not counted.
Commands that are compared run alternately in the same job, ``--repeat`` times each, and
the ratio is taken from the same run (the machine may be shared: compare ratios, not
seconds across runs).

Cases:

1. ``fill`` from CSV files (``--holdings`` x ``--days``, default 200 x 2,000), then
   ``compute`` of the book it wrote: time and peak of each, and fill / compute.
2. ``fill`` of 300 holdings x ``--days`` (``--large-holdings``): peak memory, to see how
   it grows (``--no-large``: skipped). 400 x 2,000 is not possible: its Benchmark sheet
   (38 MB of XML) is over the archive checks' bound on a part (32 MiB), which every
   command applies to the file it reads or writes.
3. ``backtest BOOK`` of the case-1 book (the replay and the written book share one load).
4. ``check`` of a 50 x 730 book (``--check-holdings``, ``--check-days``): it evaluates
   every formula with the formula engine, which is far slower than computing.
5. ``compute`` of a 20 x 730 book, and a process that only imports what ``compute``
   imports (``import betaneutral.cli, betaneutral.workbook.compute``; the rest of
   the process is the work itself).

The books are the synthetic ones of ``bench_workbook.py`` (the sample's coins and further
synthetic altcoins, daily return ``beta * r_BTC + noise``).

Usage::

    python benchmarks/bench_commands.py [--repeat 3] [--holdings 200] [--days 2000]
        [--large-holdings 300] [--no-large] [--check-holdings 50] [--check-days 730]
        [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench_workbook import synthetic_inputs

ROOT = Path(__file__).resolve().parents[1]
TARGET_FILL_RATIO = 1.0
TARGET_FILL_PEAK_MB = 400.0
TARGET_SMALL_S = 1.0

_LAUNCHER = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(child.pid, 0)
err = child.stderr.read().decode(errors="replace")
print(json.dumps({"seconds": time.perf_counter() - t0, "maxrss_kb": usage.ru_maxrss,
                  "exit": os.waitstatus_to_exitcode(status), "stderr": err[-2000:]}))
"""


def run(args: list[str], *, module: bool = True) -> dict[str, float]:
    """Run ``python -m betaneutral.cli ARGS`` (or ``python ARGS``) as a process: wall
    seconds and peak RSS in MB. Exit 0 or 1 (a check's mismatch) is a result."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "addin"), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, *(["-m", "betaneutral.cli"] if module else []), *args]
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], capture_output=True,
                          text=True, env=env, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if report["exit"] not in (0, 1):
        raise RuntimeError(f"{args[:2]} failed ({report['exit']}): {report['stderr']}")
    return {"seconds": report["seconds"], "peak_mb": report["maxrss_kb"] / 1024.0}


def write_csvs(folder: Path, n_holdings: int, days: int) -> tuple[Path, Path]:
    inputs = synthetic_inputs(n_holdings, days)
    prices = folder / f"prices-{n_holdings}x{days}.csv"
    holdings = folder / f"holdings-{n_holdings}x{days}.csv"
    inputs.prices.to_csv(prices, index_label="date")
    inputs.holdings[["asset", "quantity"]].to_csv(holdings, index=False)
    return holdings, prices


def fill_args(holdings: Path, prices: Path, out: Path) -> list[str]:
    return ["fill", "--holdings", str(holdings), "--prices", str(prices), "-o", str(out),
            "--force", "--quiet"]


def summary(runs: list[dict[str, float]]) -> dict[str, float]:
    seconds = [r["seconds"] for r in runs]
    return {"best_s": min(seconds), "median_s": statistics.median(seconds),
            "peak_mb": max(r["peak_mb"] for r in runs), "runs_s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--holdings", type=int, default=200)
    parser.add_argument("--days", type=int, default=2000)
    parser.add_argument("--large-holdings", type=int, default=300)
    parser.add_argument("--no-large", action="store_true", help="skip the larger fill")
    parser.add_argument("--check-holdings", type=int, default=50)
    parser.add_argument("--check-days", type=int, default=730)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        folder = Path(tmp)
        # 1. fill against compute, alternately.
        h, p = write_csvs(folder, args.holdings, args.days)
        book, computed = folder / "filled.xlsx", folder / "computed.xlsx"
        fills, computes = [], []
        for _ in range(args.repeat):
            fills.append(run(fill_args(h, p, book)))
            computes.append(run(["compute", str(book), "-o", str(computed), "--force",
                                 "--quiet"]))
        fill, compute = summary(fills), summary(computes)
        results["fill_vs_compute"] = {
            "book": f"{args.holdings} x {args.days}", "fill": fill, "compute": compute,
            "ratio_best": fill["best_s"] / compute["best_s"],
            "ratios": [f["seconds"] / c["seconds"] for f, c in zip(fills, computes,
                                                                    strict=True)]}
        # 2. fill of a wider book: memory.
        if not args.no_large:
            h2, p2 = write_csvs(folder, args.large_holdings, args.days)
            results["fill_large"] = {"book": f"{args.large_holdings} x {args.days}",
                                     **summary([run(fill_args(h2, p2, folder / "l.xlsx"))])}
        # 3. backtest of the filled book.
        results["backtest"] = {"book": f"{args.holdings} x {args.days}", **summary(
            [run(["backtest", str(book), "-o", str(folder / "bt"), "--force", "--quiet"])
             for _ in range(args.repeat)])}
        # 4. check of a smaller book.
        hc, pc = write_csvs(folder, args.check_holdings, args.check_days)
        small_book = folder / "check.xlsx"
        run(fill_args(hc, pc, small_book))
        results["check"] = {"book": f"{args.check_holdings} x {args.check_days}",
                            **summary([run(["check", str(small_book)])])}
        # 5. a small compute and its imports, alternately.
        hs, ps = write_csvs(folder, 20, 730)
        small = folder / "small.xlsx"
        run(fill_args(hs, ps, small))
        smalls, imports = [], []
        for _ in range(args.repeat):
            smalls.append(run(["compute", str(small), "-o", str(folder / "s.xlsx"),
                               "--force", "--quiet"]))
            imports.append(run(["-c", "import betaneutral.cli, betaneutral.workbook.compute"],
                               module=False))
        results["small_compute"] = {"book": "20 x 730", "compute": summary(smalls),
                                    "imports_only": summary(imports)}

    fc = results["fill_vs_compute"]
    print(f"{'command (' + fc['book'] + ')':34} {'best s':>8} {'median s':>9} {'peak MB':>8}")
    for label, r in (("fill (CSV -> computed book)", fc["fill"]),
                     ("compute (the filled book)", fc["compute"])):
        print(f"{label:34} {r['best_s']:8.2f} {r['median_s']:9.2f} {r['peak_mb']:8.0f}")
    print(f"fill / compute: {fc['ratio_best']:.2f} (best of each), per run "
          + ", ".join(f"{x:.2f}" for x in fc["ratios"])
          + f"; targets: <= {TARGET_FILL_RATIO:g}, peak < {TARGET_FILL_PEAK_MB:g} MB")
    if "fill_large" in results:
        r = results["fill_large"]
        print(f"{'fill ' + r['book']:34} {r['best_s']:8.2f} {r['median_s']:9.2f} "
              f"{r['peak_mb']:8.0f}")
    for key, label in (("backtest", "backtest BOOK"), ("check", "check")):
        r = results[key]
        print(f"{label + ' (' + r['book'] + ')':34} {r['best_s']:8.2f} {r['median_s']:9.2f} "
              f"{r['peak_mb']:8.0f}")
    sc = results["small_compute"]
    for label, r in (("compute (20 x 730)", sc["compute"]),
                     ("  of which imports (a process)", sc["imports_only"])):
        print(f"{label:34} {r['best_s']:8.2f} {r['median_s']:9.2f} {r['peak_mb']:8.0f}")
    print(f"target: 20 x 730 compute < {TARGET_SMALL_S:g} s")
    if args.json:
        results["meta"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "machine": platform.machine(), "repeat": args.repeat}
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
