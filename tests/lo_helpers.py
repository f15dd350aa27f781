"""LibreOffice headless as an independent formula engine for the workbook tests.

LibreOffice cannot call the Python worksheet functions, so the workbook it gets
holds each function cell's Python value as a constant (:func:`freeze_function_cells`);
every native formula stays and is recalculated by LibreOffice.

By default LibreOffice does not recalculate an ``.xlsx`` on load (setting
``OOXMLRecalcMode`` = 1, "never"): it shows the cached values. A throwaway user
profile whose ``registrymodifications.xcu`` sets ``OOXMLRecalcMode`` (and
``ODFRecalcMode``) to 0, "always", forces the recalculation. A fresh profile per
test session also keeps concurrent runs from colliding on one profile.
Conversion runs under ``timeout -s KILL``: soffice has been seen ignoring SIGTERM.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.worksheet.formula import ArrayFormula

from betaneutral import udfs
from betaneutral.workbook.engine import formula_functions

Cell = tuple[str, str]

_RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode"
 oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode"
 oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

_FUNCTION_NAMES = frozenset(udfs.UDF_NAMES)


def soffice() -> str | None:
    """Path of the ``soffice`` executable, or None when LibreOffice is not installed."""
    return shutil.which("soffice")


def make_profile(directory: Path) -> Path:
    """Create a LibreOffice user profile that recalculates every file on load."""
    user = directory / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(_RECALC_ALWAYS, encoding="utf-8")
    return directory


def recalculate(sources: Iterable[Path], outdir: Path, profile: Path, *,
                timeout_s: int = 240) -> tuple[list[Path], float]:
    """Open, recalculate and save each file as ``.xlsx`` in ``outdir`` with one soffice run.

    Returns the output paths (same file names) and the wall time in seconds.
    """
    sources = [Path(s) for s in sources]
    outdir.mkdir(parents=True, exist_ok=True)
    exe = soffice()
    assert exe is not None, "soffice is not installed"
    command = ["timeout", "-s", "KILL", str(timeout_s), exe,
               f"-env:UserInstallation={profile.resolve().as_uri()}",
               "--headless", "--norestore", "--nolockcheck",
               "--convert-to", "xlsx", "--outdir", str(outdir), *map(str, sources)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    outputs = [outdir / (s.stem + ".xlsx") for s in sources]
    missing = [p.name for p in outputs if not p.is_file()]
    if done.returncode != 0 or missing:
        raise RuntimeError(f"soffice failed (exit {done.returncode}, missing {missing}):\n"
                           f"{done.stdout}\n{done.stderr}")
    return outputs, elapsed


def _is_function_formula(text: Any) -> bool:
    return (isinstance(text, str) and text.startswith("=")
            and bool(formula_functions(text) & _FUNCTION_NAMES))


def freeze_function_cells(src: Path, dst: Path, values: Mapping[Cell, Any]) -> set[Cell]:
    """Copy ``src`` to ``dst`` with every BetaNeutral-function cell replaced by its value.

    A CSE array calling a function is replaced cell by cell. Error codes are
    written as error cells, so formulas that use them propagate the error.
    Returns the cells replaced; every other formula is kept.
    """
    wb = load_workbook(src)
    frozen: set[Cell] = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                text = value.text if isinstance(value, ArrayFormula) else value
                if not _is_function_formula(text):
                    continue
                targets = ([c for r in ws[value.ref] for c in r]
                           if isinstance(value, ArrayFormula) else [cell])
                for target in targets:
                    key = (ws.title, target.coordinate)
                    constant = values[key]
                    # openpyxl reads a string that is an error code as an error cell.
                    target.value = constant
                    if isinstance(constant, str) and target.data_type == "f":
                        target.data_type = "s"  # text that starts with "=" stays text
                    frozen.add(key)
    wb.save(dst)
    return frozen


def inject_cached_values(src: Path, dst: Path, values: Mapping[Cell, float]) -> None:
    """Copy ``src`` to ``dst`` with ``values`` stored as the cached results of formula cells.

    Edits the sheet XML of a file written by openpyxl (sheet ``i`` of the
    workbook is ``xl/worksheets/sheet{i}.xml``): the empty ``<v>`` after each
    cell's ``<f>`` gets the number. Every other part is copied unchanged.
    """
    sheet_names = load_workbook(src, read_only=True).sheetnames
    pending = dict(values)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            for (sheet, coordinate), value in values.items():
                if item.filename != f"xl/worksheets/sheet{sheet_names.index(sheet) + 1}.xml":
                    continue
                pattern = rf'(<c r="{coordinate}"[^>]*>\s*<f[^>]*>[^<]*</f>)<v\s*/?>(</v>)?'
                data, n = re.subn(pattern.encode(), rb"\g<1><v>" + repr(value).encode()
                                  + b"</v>", data)
                if n == 1:
                    del pending[(sheet, coordinate)]
            zout.writestr(item, data)
    assert not pending, f"no formula cell with an empty cached value at {sorted(pending)}"


def read_values(path: Path, cells: Iterable[Cell]) -> dict[Cell, Any]:
    """Cached values of ``cells`` in a file saved by LibreOffice (openpyxl ``data_only``)."""
    wb = load_workbook(path, data_only=True)
    try:
        return {(sheet, coord): wb[sheet][coord].value for sheet, coord in cells}
    finally:
        wb.close()


def synthetic_book(n_holdings: int, days: int, *, seed: int) -> tuple[Any, Any]:
    """Synthetic daily prices and holdings (shared with ``test_engine.py``).

    BTC follows a random walk; ETH and ``n_holdings - 1`` altcoins ``ALT1..`` have
    returns ``beta_i * r_BTC + noise``. ALT1 (when present) misses a few prices
    inside the history, and the last holding is a short (negative quantity).
    Returns ``(prices, holdings)`` as :func:`betaneutral.workbook.template.build_workbook`
    takes them.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    assets = ["BTC", "ETH", *[f"ALT{i}" for i in range(1, n_holdings)]]
    btc = rng.normal(0.0, 0.03, days - 1)
    data = {}
    for asset in assets:
        beta = 1.0 if asset == "BTC" else rng.uniform(0.5, 1.8)
        noise = 0.0 if asset == "BTC" else rng.normal(0.0, 0.03, days - 1)
        path = np.concatenate([[1.0], np.cumprod(1.0 + beta * btc + noise)])
        data[asset] = np.round(rng.uniform(0.05, 5_000.0) * path, 6)
    prices = pd.DataFrame(data, index=pd.date_range(end="2026-06-30", periods=days, freq="D",
                                                    name="date"))
    if "ALT1" in prices:
        gaps = rng.choice(np.arange(5, days - 5), size=4, replace=False)
        prices.iloc[gaps, prices.columns.get_loc("ALT1")] = np.nan
    quantities = np.round(rng.uniform(10.0, 5_000.0, n_holdings), 3)
    quantities[-1] = -quantities[-1]
    holdings = pd.DataFrame({"asset": assets[1:], "quantity": quantities})
    return prices, holdings
