"""The formulas the check of a book expects, given without building the template.

``template_formulas`` (workbook.compute) takes the template's formulas from the functions
each sheet's builder places them from, without an openpyxl workbook. The reference is
always the whole styled build: ``formula_cells(fill_workbook(inputs))`` on the full history,
which writes and styles every cell.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from betaneutral.errors import BetaNeutralError, DomainError, UnknownNameError
from betaneutral.workbook import compute as compute_module
from betaneutral.workbook import formula_cells
from betaneutral.workbook import template as template_module
from betaneutral.workbook.compute import (
    _check_formulas,
    fill_workbook,
    template_formulas,
    user_formula_cells,
)
from betaneutral.workbook.inputs import BookInputs, BookSettings, read_inputs
from betaneutral.workbook.loader import load_book
from betaneutral.workbook.model import compute_values, read_layout
from betaneutral.workbook.template import build_workbook, template_formula_cells


def full_build(inputs: BookInputs) -> dict[tuple[str, str], str]:
    """The reference: every formula of the styled template filled with ``inputs``."""
    return {(c.sheet, c.coordinate): c.formula for c in formula_cells(fill_workbook(inputs))}


def book(n_holdings: int, days: int, *, seed: int = 5, extra_columns: int = 0,
         **settings_: object) -> BookInputs:
    """``n_holdings`` holdings (ETH, then altcoins) on random-walk closes with gaps in ALT1,
    and ``extra_columns`` price columns no holding uses."""
    rng = np.random.default_rng(seed)
    held = ["ETH", *[f"ALT{i}" for i in range(1, n_holdings)]]
    spare = [f"SPARE{i}" for i in range(1, extra_columns + 1)]
    columns = ["BTC", *held, *spare]
    data = {a: np.round(rng.uniform(1, 100) * np.cumprod(1 + rng.normal(0, 0.02, days)), 6)
            for a in columns}
    prices = pd.DataFrame(data, index=pd.date_range("2024-03-01", periods=days, name="date"))
    if "ALT1" in prices and days > 5:
        prices.iloc[[1, days - 2], prices.columns.get_loc("ALT1")] = np.nan
    holdings = pd.DataFrame({"asset": held, "quantity": rng.uniform(1, 50, n_holdings)})
    return BookInputs(prices=prices, holdings=holdings, settings=BookSettings(**settings_))


CASES = {
    "sample book": lambda: read_inputs(build_workbook()),
    "1 holding, 2 dates": lambda: book(1, 2),
    "1 holding, 32 dates": lambda: book(1, 32),
    "1 holding, 33 dates": lambda: book(1, 33),
    "many holdings (60), 45 dates": lambda: book(60, 45),
    "5 holdings, 400 dates, spare price columns": lambda: book(5, 400, extra_columns=3),
    "vasicek method, 3 holdings, 150 dates": lambda: book(3, 150, beta_method="vasicek"),
    "futures price typed in, position held": lambda: dataclasses.replace(
        book(2, 80, futures_price=61_000.0), current_contracts=-3.0),
    "50/50 benchmark, log returns": lambda: book(4, 90, benchmark="BTC/ETH 50/50",
                                                 return_type="log"),
    "holdings listed in another order than the prices": lambda: dataclasses.replace(
        book(4, 40), holdings=pd.DataFrame({"asset": ["ALT3", "ETH", "ALT1", "ALT2"],
                                            "quantity": [1.0, 2.0, 3.0, 4.0]})),
}


@pytest.mark.parametrize("label", list(CASES))
def test_equals_the_full_styled_build(label: str) -> None:
    inputs = CASES[label]()
    assert template_formulas(inputs) == full_build(inputs)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_holdings=st.integers(1, 12), days=st.integers(2, 70), spare=st.integers(0, 2),
       futures_price=st.one_of(st.none(), st.floats(1.0, 1e6)),
       method=st.sampled_from(["ols", "vasicek", "ewma"]))
def test_equals_the_full_styled_build_for_any_shape(n_holdings: int, days: int, spare: int,
                                                    futures_price: float | None,
                                                    method: str) -> None:
    inputs = book(n_holdings, days, extra_columns=spare, futures_price=futures_price,
                  beta_method=method)
    assert template_formulas(inputs) == full_build(inputs)


def test_the_template_alone_equals_its_build() -> None:
    """``template_formula_cells`` with ``build_workbook``'s own arguments (the sample,
    the held columns only) is the build's formulas, the futures-price formula included."""
    built = {(c.sheet, c.coordinate): c.formula for c in formula_cells(build_workbook())}
    assert template_formula_cells() == built
    assert built[("Settings", "B13")] == "=INDEX(BTCPrices,ROWS(BTCPrices))"
    assert ("Settings", "B13") not in template_formula_cells(valued=["FuturesPrice"])


def test_no_workbook_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 730-day book's formulas are given without building any template."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a workbook was built")

    inputs = book(3, 730)
    monkeypatch.setattr(compute_module, "fill_workbook", refuse)
    monkeypatch.setattr(template_module, "build_workbook", refuse)
    monkeypatch.setattr(template_module, "_new_workbook", refuse)
    derived = template_formulas(inputs)
    monkeypatch.undo()
    assert derived == full_build(inputs)
    assert len([k for k in derived if k[0] == "Benchmark"]) == 730


@pytest.mark.parametrize(("prices", "holdings"), [
    (pd.DataFrame({"BTC": [1.0], "ETH": [2.0]}, index=pd.date_range("2024-01-01", periods=1)),
     pd.DataFrame({"asset": ["ETH"], "quantity": [1.0]})),
    (pd.DataFrame({"BTC": [1.0, 2.0], "ETH": [2.0, 3.0]},
                  index=pd.date_range("2024-01-01", periods=2)),
     pd.DataFrame({"asset": ["SOL"], "quantity": [1.0]})),
    (pd.DataFrame({"BTC": [1.0, 2.0], "ETH": [2.0, 3.0]},
                  index=pd.DatetimeIndex(["2024-01-02", "2024-01-01"])),
     pd.DataFrame({"asset": ["ETH"], "quantity": [1.0]})),
])
def test_bad_inputs_are_refused_as_the_build_refuses_them(prices: pd.DataFrame,
                                                         holdings: pd.DataFrame) -> None:
    with pytest.raises(BetaNeutralError) as built:
        build_workbook(prices=prices, holdings=holdings)
    with pytest.raises(BetaNeutralError) as given_:
        template_formula_cells(prices=prices, holdings=holdings)
    assert (type(given_.value), str(given_.value)) == (type(built.value), str(built.value))


def test_an_unknown_valued_name_is_refused() -> None:
    with pytest.raises(BetaNeutralError, match=r"valued must name inputs of one cell.*'Nope'"):
        template_formula_cells(valued=["Nope"])


def test_a_book_with_user_sheets_is_checked_against_the_full_build(tmp_path: Path) -> None:
    """A saved book with the user's own sheet and formulas: the check passes, returns the
    full build's formulas, and the user's cells are the ones left to the formula engine."""
    inputs = book(4, 60, beta_method="vasicek")
    wb = fill_workbook(inputs)
    mine = wb.create_sheet("Mine")
    mine["A1"] = "=PortfolioBeta*2"
    mine["B2"] = "=SUM(Holdings!B5:B8)"
    wb["Holdings"]["L5"] = "=B5*2"  # beside the book's own cells
    path = tmp_path / "mine.xlsx"
    wb.save(path)
    loaded = load_book(path)
    got = read_inputs(loaded)
    expected = _check_formulas(loaded, got)
    assert expected == full_build(inputs)
    values = compute_values(got, read_layout(loaded))
    users = [("Holdings", "L5"), ("Mine", "A1"), ("Mine", "B2")]
    assert sorted(user_formula_cells(loaded, values, {})) == users
    # passing over the book's own formulas (checked) finds the same cells
    assert sorted(user_formula_cells(loaded, values, {}, own=expected)) == users


def test_a_cell_of_the_books_own_left_without_a_value_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The book's own formulas are not looked up one cell at a time for the user's cells:
    if the computation left one of their cells out, the writer refuses the book (it is
    not kept with a stale value)."""
    path = tmp_path / "book.xlsx"
    fill_workbook(book(3, 40)).save(path)
    real = compute_module.compute_values

    def one_short(*args: object, **kwargs: object) -> object:
        values = real(*args, **kwargs)
        del values.cells[("Stats", "C5")]  # a cell kept one by one (not in an array block)
        return values

    monkeypatch.setattr(compute_module, "compute_values", one_short)
    with pytest.raises(UnknownNameError, match=r"every formula cell must have a value.*C5"):
        compute_module.compute_workbook(path, tmp_path / "out.xlsx")
    assert not (tmp_path / "out.xlsx").exists()


def test_a_changed_formula_is_named_with_the_template_formula(tmp_path: Path) -> None:
    inputs = book(3, 40)
    wb = fill_workbook(inputs)
    wb["Benchmark"]["F30"] = "=B30"  # the index column (BTC, ETH, ALT1, ALT2, then F)
    wb["Rebalance"]["B6"] = 1.5
    path = tmp_path / "changed.xlsx"
    wb.save(path)
    loaded = load_book(path)
    with pytest.raises(DomainError) as raised:
        _check_formulas(loaded, read_inputs(loaded))
    message = str(raised.value)
    assert ("Benchmark!F30 must hold the formula '=IF(BenchmarkChoice=\"BTC\",B30,F29*"
            "(1+0.5*(B30/B29-1)+0.5*(C30/C29-1)))', got '=B30'") in message
    assert "Rebalance!B6 must hold the formula" in message
    assert "got a value" in message
