"""What the Vasicek beta method costs a workbook: ``ols`` against ``vasicek`` books.

With ``BetaMethod`` = ``vasicek`` every Holdings beta cell passes the price block to
``BETA_VS_BTC`` (the cross-section of the book). For each book size the script fills the
template (synthetic books of :mod:`bench_workbook`) once per method and times

* the headless computation (:func:`betaneutral.workbook.model.compute_values`, best of
  ``--repeat``), which hands every row the same immutable block, so the function computes
  the cross-section once per book;
* the formula engine of ``betaneutral check`` (:func:`betaneutral.workbook.engine.check_workbook`,
  once), which calls the function with a fresh copy of the block in every row.

Usage::

    python benchmarks/bench_vasicek.py [--repeat 3] [--sizes 20x730,60x1000] [--no-pycel]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from bench_workbook import synthetic_inputs
from betaneutral.workbook.compute import fill_workbook
from betaneutral.workbook.model import compute_values, read_layout
from timing import best_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="20x730,60x1000,200x2000")
    parser.add_argument("--no-pycel", action="store_true")
    args = parser.parse_args()
    print("| book | method | compute (model) | check (pycel) |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes.split(","):
            n, days = (int(v) for v in size.split("x"))
            base = synthetic_inputs(n, days)
            for method in ("ols", "vasicek"):
                inputs = dataclasses.replace(base, settings=dataclasses.replace(
                    base.settings, beta_method=method))
                wb = fill_workbook(inputs)
                layout = read_layout(wb)
                model = best_of(lambda inputs=inputs, layout=layout:
                                compute_values(inputs, layout), args.repeat)
                check = "-"
                if not args.no_pycel:
                    from betaneutral.workbook import engine
                    from betaneutral.workbook.compute import compute_workbook

                    src = Path(folder) / f"{size}-{method}.xlsx"
                    wb.save(src)
                    out = compute_workbook(src, Path(folder) / f"{size}-{method}-done.xlsx")
                    t0 = time.perf_counter()
                    assert engine.check_workbook(out) == []
                    check = f"{time.perf_counter() - t0:.1f} s"
                print(f"| {n} holdings x {days:,} days | {method} | {model:.2f} s | {check} |",
                      flush=True)


if __name__ == "__main__":
    main()
