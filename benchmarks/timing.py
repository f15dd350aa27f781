"""Timing helpers shared by the benchmark scripts (run them as ``python benchmarks/X.py``)."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable

import numpy as np
import pandas as pd


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def write_results(path: str, results: object, **meta: object) -> None:
    """Write ``results`` to a JSON file with the versions they were measured with
    (Python, numpy, pandas, the machine) and any further ``meta``."""
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "pandas": pd.__version__, "machine": platform.machine(), **meta}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"meta": info, "results": results}, fh, indent=2)
