"""LibreOffice, an independent engine, computes the template's native formulas as Python does.

Each workbook is copied with every BetaNeutral-function cell frozen to its
Python value (LibreOffice cannot call the functions); LibreOffice headless then
recalculates every native formula (a throwaway profile forces recalculation on
load) and saves the file; the values it stored must equal
:func:`betaneutral.workbook.model.compute_values` for every native formula cell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter, range_boundaries

from betaneutral.workbook.engine import compare
from betaneutral.workbook.inputs import read_inputs
from betaneutral.workbook.model import compute_values, read_layout
from betaneutral.workbook.names import name_destinations
from betaneutral.workbook.template import build_workbook
from lo_helpers import (
    freeze_function_cells,
    inject_cached_values,
    make_profile,
    read_values,
    recalculate,
    soffice,
    synthetic_book,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed; "
                       "run .ci/install-system-deps"),
]

RTOL = 1e-9
Cell = tuple[str, str]


def _python_values(path: Path) -> dict[Cell, Any]:
    wb = load_workbook(path)
    return compute_values(read_inputs(wb), read_layout(wb))


def _cells(wb: Workbook, name: str) -> list[Cell]:
    """The cells of a defined name, in reading order."""
    sheet, ref = name_destinations(wb, [name])[name]
    c1, r1, c2, r2 = range_boundaries(ref.replace("$", ""))
    return [(sheet, f"{get_column_letter(c)}{r}") for r in range(r1, r2 + 1)
            for c in range(c1, c2 + 1)]


def _changed_sample(path: Path) -> None:
    """The sample with a new target beta, quantity, ETH price, futures position and benchmark."""
    wb = build_workbook()
    changes = [
        (_cells(wb, "TargetBeta")[0], 0.5),
        (_cells(wb, "BenchmarkChoice")[0], "BTC/ETH 50/50"),  # the composite index
        (_cells(wb, "HoldingQuantities")[2], 12_345.0),
        (_cells(wb, "ETHPrices")[-30], 2_500.0),  # inside the 90-day beta window
        (_cells(wb, "CurrentContracts")[0], 3.0),  # contracts already short
    ]
    for (sheet, coordinate), value in changes:
        wb[sheet][coordinate].value = value
    wb.save(path)


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Build the books, freeze their function cells, recalculate all in one soffice run."""
    root = tmp_path_factory.mktemp("libreoffice")
    books = {"sample": root / "sample.xlsx", "generated": root / "generated.xlsx",
             "changed": root / "changed.xlsx"}
    build_workbook().save(books["sample"])
    prices, holdings = synthetic_book(5, 300, seed=21)
    build_workbook(prices=prices, holdings=holdings).save(books["generated"])
    _changed_sample(books["changed"])

    cases: dict[str, Any] = {}
    frozen_paths = []
    for label, path in books.items():
        expected = _python_values(path)
        frozen_path = root / f"{label}_frozen.xlsx"
        frozen = freeze_function_cells(path, frozen_path, expected)
        cases[label] = (expected, frozen)
        frozen_paths.append(frozen_path)
    profile = make_profile(root / "profile")
    outputs, seconds = recalculate(frozen_paths, root / "out", profile)
    return {"cases": cases, "outputs": dict(zip(books, outputs, strict=True)),
            "seconds": seconds}


@pytest.mark.parametrize("label", ["sample", "generated", "changed"])
def test_native_formulas_equal_python(recalculated: dict[str, Any], label: str) -> None:
    """Every native formula cell recalculated by LibreOffice equals the Python value."""
    expected, frozen = recalculated["cases"][label]
    native = {key: value for key, value in expected.items() if key not in frozen}
    assert len(native) > 100  # Benchmark chain, Holdings, Rebalance, Rolling dates, Start
    assert len(frozen) > 50  # every function cell (Stats, Rolling, Scenarios arrays included)
    actual = read_values(recalculated["outputs"][label], native)
    mismatches = compare(native, actual, rtol=RTOL)
    assert not mismatches, "\n".join(map(str, mismatches[:20]))


def test_changed_inputs_change_native_results(recalculated: dict[str, Any]) -> None:
    """The changed book's native results differ from the sample's: LibreOffice recalculated."""
    sample, _ = recalculated["cases"]["sample"]
    changed, frozen = recalculated["cases"]["changed"]
    lo_sample = read_values(recalculated["outputs"]["sample"], [k for k in sample
                                                                if k not in frozen])
    lo_changed = read_values(recalculated["outputs"]["changed"], list(lo_sample))
    wb = load_workbook(recalculated["outputs"]["sample"])
    keys = [_cells(wb, "PortfolioValue")[0], _cells(wb, "BenchPrices")[-1],
            _cells(wb, "CurrentHedgeUSD")[0], _cells(wb, "ContractsDelta")[0]]
    for key in keys:
        assert lo_changed[key] != lo_sample[key], key
        assert lo_changed[key] == pytest.approx(changed[key], rel=RTOL)


def test_recalculation_on_load_is_forced(tmp_path: Path) -> None:
    """With the throwaway profile stale cached values are recomputed; by default they are kept."""
    clean, stale_path = tmp_path / "clean.xlsx", tmp_path / "stale.xlsx"
    wb = build_workbook()
    wb.save(clean)
    stale = {_cells(wb, "HoldingValues")[0]: 1.5, _cells(wb, "BenchPrices")[400]: 2.5}
    inject_cached_values(clean, stale_path, stale)
    expected = _python_values(clean)

    forced, _ = recalculate([stale_path], tmp_path / "forced", make_profile(tmp_path / "p1"))
    assert compare({k: expected[k] for k in stale}, read_values(forced[0], stale)) == []

    # Control: a fresh profile without the setting (LibreOffice's default, never recalculate).
    (tmp_path / "p2").mkdir()
    kept, _ = recalculate([stale_path], tmp_path / "kept", tmp_path / "p2")
    assert read_values(kept[0], stale) == stale
