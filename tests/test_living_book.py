"""The living book: a user's edits, made as a person makes them, then the commands.

Every book here is edited the way a portfolio manager edits it: values typed with
openpyxl, or structural edits (sort, insert or delete a row or a column, a plain
save) made by LibreOffice Calc itself (``tests/lo_edit.py`` drives it through UNO, so
references, names and array ranges move as a spreadsheet program moves them). Then
``betaneutral compute`` (or ``tickets``) runs as the user runs it.

The figures are checked against an independent recomputation written here with numpy
from the book's own cells (the dated rows and headed columns of the Benchmark sheet,
the Holdings rows, the Settings values and the Contracts sheet), following the README's
rules: the last close values a holding; beta is the OLS slope of the asset's simple
daily returns on BTC's over the last ``Window`` returns with both present;
``V_hedge = sum(V_i b_i) - target * V_S``; contracts ``V_hedge / (F * size)`` rounded
to the nearest lot step.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from openpyxl.formula.translate import Translator

from betaneutral.cli import EXIT_DATA, EXIT_OK, main
from betaneutral.sample import sample_holdings, sample_prices
from betaneutral.workbook.names import name_destinations
from lo_helpers import make_profile, soffice

HERE = Path(__file__).resolve().parent
SYSTEM_PYTHON = "/usr/bin/python3"
N_DAYS = 200  # the book as filled; 30 more closes are appended by the user


def _uno_available() -> bool:
    if soffice() is None or not Path(SYSTEM_PYTHON).is_file():
        return False
    done = subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True,
                          check=False)
    return done.returncode == 0


UNO = _uno_available()
needs_lo = pytest.mark.skipif(not UNO, reason="LibreOffice with python3-uno is not installed; "
                              "run .ci/install-system-deps")


# ----------------------------------------------------------------- the book ---
@pytest.fixture(scope="module")
def full_prices() -> pd.DataFrame:
    """230 days of the synthetic sample (the book starts with the first 200)."""
    return sample_prices(days=N_DAYS + 30)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory, full_prices: pd.DataFrame) -> Path:
    """A book filled from CSV: four holdings, BTC and ETH, 200 days."""
    root = tmp_path_factory.mktemp("living")
    holdings = sample_holdings()[["asset", "quantity"]].iloc[:4]
    holdings.to_csv(root / "holdings.csv", index=False)
    columns = ["BTC", "ETH", *[a for a in holdings["asset"] if a not in ("BTC", "ETH")]]
    full_prices[columns].iloc[:N_DAYS].to_csv(root / "prices.csv", index_label="date")
    out = root / "book.xlsx"
    assert main(["fill", "--holdings", str(root / "holdings.csv"), "--prices",
                 str(root / "prices.csv"), "-o", str(out), "--quiet"]) == EXIT_OK
    return out


@pytest.fixture
def book(filled: Path, tmp_path: Path) -> Path:
    """A fresh copy of the filled book for one test."""
    return Path(shutil.copy(filled, tmp_path / "book.xlsx"))


def lo_edit(src: Path, dst: Path, *edit: str) -> Path:
    """Make ``edit`` in LibreOffice Calc and save ``dst`` (see ``tests/lo_edit.py``)."""
    profile = make_profile(dst.parent / "lo-profile")
    done = subprocess.run([SYSTEM_PYTHON, str(HERE / "lo_edit.py"), str(profile), str(src),
                           str(dst), *edit], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert dst.is_file(), done.stderr
    return dst


def compute(src: Path, capsys: pytest.CaptureFixture[str] | None = None) -> tuple[int, Path]:
    out = src.with_name(src.stem + "-computed.xlsx")
    code = main(["compute", str(src), "-o", str(out), "--force", "--quiet"])
    return code, out


def _name(wb: openpyxl.Workbook, name: str) -> tuple[str, str]:
    sheet, ref = name_destinations(wb, [name])[name]
    return sheet, ref.replace("$", "")


def _named_cell(wb: openpyxl.Workbook, name: str) -> Any:
    sheet, ref = _name(wb, name)
    return wb[sheet][ref.split(":")[0]]


# ------------------------------------------------------------------ the oracle ---
def _book_data(path: Path) -> dict[str, Any]:
    """Everything the recomputation needs, read from the book's cells by a plain scan."""
    wb = openpyxl.load_workbook(path, data_only=True)
    bench = wb["Benchmark"]
    headers = [c.value for c in bench[1]]
    rows = []
    for r in range(2, bench.max_row + 1):
        day = bench.cell(r, 1).value
        if not isinstance(day, dt.datetime):
            break
        rows.append([bench.cell(r, c + 1).value for c in range(1, len(headers))])
    columns = headers[1:]
    prices = pd.DataFrame(rows, columns=columns, dtype=float)
    hold = wb["Holdings"]
    holdings = []
    for r in range(5, hold.max_row + 1):
        asset = hold.cell(r, 1).value
        if asset is None:
            continue
        holdings.append((asset, float(hold.cell(r, 2).value), r))
    settings = {name: _named_cell(wb, name).value for name in (
        "Window", "MinObs", "TargetBeta", "BetaMethod", "ReturnType", "BenchmarkChoice",
        "HedgeContract", "FuturesPrice", "CurrentContracts")}
    contracts = wb["Contracts"]
    spec = next([c.value for c in row] for row in contracts.iter_rows(min_row=2)
                if row[0].value == settings["HedgeContract"])
    return {"wb": wb, "prices": prices, "holdings": holdings, "settings": settings,
            "spec": spec}


def _ols_beta(asset: np.ndarray, btc: np.ndarray, window: int, min_obs: int) -> float:
    r_a = asset[1:] / asset[:-1] - 1.0
    r_b = btc[1:] / btc[:-1] - 1.0
    if window:
        r_a, r_b = r_a[-window:], r_b[-window:]
    ok = np.isfinite(r_a) & np.isfinite(r_b)
    x, y = r_b[ok], r_a[ok]
    assert ok.sum() >= min_obs
    return float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())


def assert_book_right(path: Path) -> dict[str, Any]:
    """Every holding's price, value and beta, the portfolio beta, the hedge notional, the
    contracts and the action equal the independent recomputation from the book's cells."""
    data = _book_data(path)
    s, wb, prices = data["settings"], data["wb"], data["prices"]
    assert (s["BetaMethod"], s["ReturnType"], s["BenchmarkChoice"]) == ("ols", "simple", "BTC")
    values, betas = [], []
    hold = wb["Holdings"]
    for asset, qty, r in data["holdings"]:
        price = float(prices[asset].iloc[-1])
        beta = _ols_beta(prices[asset].to_numpy(), prices["BTC"].to_numpy(),
                         int(s["Window"] or 0), int(s["MinObs"]))
        assert hold.cell(r, 3).value == pytest.approx(price, rel=1e-12), asset
        assert hold.cell(r, 4).value == pytest.approx(qty * price, rel=1e-12), asset
        assert hold.cell(r, 7).value == pytest.approx(beta, rel=1e-9), asset
        values.append(qty * price)
        betas.append(beta)
    v, b = np.array(values), np.array(betas)
    assert _named_cell(wb, "PortfolioValue").value == pytest.approx(v.sum(), rel=1e-12)
    assert _named_cell(wb, "PortfolioBeta").value == pytest.approx(v @ b / v.sum(), rel=1e-9)
    hedge = v @ b - float(s["TargetBeta"]) * v.sum()
    assert _named_cell(wb, "TargetHedgeUSD").value == pytest.approx(hedge, rel=1e-9)
    futures = float(prices["BTC"].iloc[-1]) if s["FuturesPrice"] is None else None
    futures = futures or float(_named_cell(wb, "FuturesPrice").value)
    assert futures == pytest.approx(float(prices["BTC"].iloc[-1]))
    _, _, kind, size, step, _min_qty = data["spec"][:6]
    assert kind == "linear"
    lots = np.floor(abs(hedge) / (futures * size) / step + 0.5)
    contracts = np.sign(hedge) * lots * step
    assert _named_cell(wb, "TargetContracts").value == pytest.approx(contracts, abs=1e-9)
    current = float(s["CurrentContracts"] or 0.0)
    breach = bool(_named_cell(wb, "Breach").value)
    drift = (v @ b - current * futures * size) / v.sum() - float(s["TargetBeta"])
    assert _named_cell(wb, "Drift").value == pytest.approx(drift, rel=1e-9, abs=1e-12)
    if current == 0.0:
        expected_action = "OPEN: no hedge yet" if contracts else "HOLD: inside the band"
    else:
        expected_action = "REBALANCE" if breach and contracts != current else \
            "HOLD: inside the band"
    assert _named_cell(wb, "Action").value == expected_action
    return data


def _append_closes(src: Path, dst: Path, prices: pd.DataFrame, start: int, n: int) -> None:
    """Type ``n`` more daily closes under the prices (values only), as a user pastes them."""
    wb = openpyxl.load_workbook(src)
    ws = wb["Benchmark"]
    headers = [c.value for c in ws[1]]
    last = 1 + start
    assert isinstance(ws.cell(last, 1).value, dt.datetime)
    assert ws.cell(last + 1, 1).value is None
    for i in range(n):
        r = last + 1 + i
        ws.cell(r, 1, prices.index[start + i].to_pydatetime()).number_format = "yyyy-mm-dd"
        for j, asset in enumerate(headers[1:], start=2):
            if asset in prices.columns:
                ws.cell(r, j, float(prices[asset].iloc[start + i]))
    wb.save(dst)


# ------------------------------------------------------------ a day in the life ---
@needs_lo
def test_a_day_in_the_life(book: Path, full_prices: pd.DataFrame, tmp_path: Path) -> None:
    """Fill, then as separate saved edits: 30 new closes, a new holding (asset and quantity
    only), a sort of the holdings in LibreOffice, a plain LibreOffice save, a sheet of the
    user's own reading our cells. After each, compute succeeds and the figures equal the
    independent recomputation; check passes; LibreOffice agrees with the cached values."""
    code, current = compute(book)
    assert code == EXIT_OK
    assert_book_right(current)

    step1 = tmp_path / "1-closes.xlsx"
    _append_closes(current, step1, full_prices, N_DAYS, 30)
    code, current = compute(step1)
    assert code == EXIT_OK
    data = assert_book_right(current)
    assert len(data["prices"]) == N_DAYS + 30
    eth = next(r for a, _, r in data["holdings"] if a == "ETH")
    assert data["wb"]["Holdings"].cell(eth, 3).value == full_prices["ETH"].iloc[-1]

    step2 = tmp_path / "2-holding.xlsx"
    wb = openpyxl.load_workbook(current)
    hold = wb["Holdings"]
    under = max(r for r in range(5, hold.max_row + 1) if hold.cell(r, 1).value) + 1
    hold.cell(under, 1, "BTC")  # spot BTC held too, typed under the list
    hold.cell(under, 2, 3.5)
    wb.save(step2)
    code, current = compute(step2)
    assert code == EXIT_OK
    assert [a for a, _, _ in assert_book_right(current)["holdings"]][-1] == "BTC"

    step3 = lo_edit(current, tmp_path / "3-sorted.xlsx", "sort", "Holdings", "A5:I9", "A")
    code, current = compute(step3)
    assert code == EXIT_OK
    held = [a for a, _, _ in assert_book_right(current)["holdings"]]
    assert held == sorted(held)

    step4 = lo_edit(current, tmp_path / "4-resaved.xlsx", "resave")
    code, current = compute(step4)
    assert code == EXIT_OK
    assert_book_right(current)

    step5 = tmp_path / "5-own-sheet.xlsx"
    wb = openpyxl.load_workbook(current)
    mine = wb.create_sheet("My view")
    mine["A1"] = "Hedge in BTC"
    mine["B1"] = "=TargetHedgeUSD/FuturesPrice"
    mine["A2"] = "Half the book"
    mine["B2"] = "=Holdings!D3/2"  # the totals, above the list
    wb.save(step5)
    code, current = compute(step5)
    assert code == EXIT_OK
    data = assert_book_right(current)
    wb = data["wb"]
    formulas = openpyxl.load_workbook(current)
    assert formulas["My view"]["B1"].value == "=TargetHedgeUSD/FuturesPrice"  # kept as typed
    assert wb["My view"]["B1"].value == pytest.approx(  # refreshed by the formula engine
        _named_cell(wb, "TargetHedgeUSD").value / _named_cell(wb, "FuturesPrice").value)
    assert wb["My view"]["B2"].value == pytest.approx(wb["Holdings"]["D3"].value / 2)

    assert main(["check", str(current)]) == EXIT_OK
    _libreoffice_agrees(current, tmp_path)


def _libreoffice_agrees(path: Path, tmp_path: Path) -> None:
    """LibreOffice recalculating the book's native formulas (function cells frozen to
    their cached values) gives the cached values."""
    from lo_helpers import freeze_function_cells, read_values, recalculate

    cached = openpyxl.load_workbook(path, data_only=True)
    values = {(ws.title, c.coordinate): c.value for ws in cached.worksheets
              for row in ws.iter_rows() for c in row if c.value is not None}
    frozen_path = tmp_path / "frozen.xlsx"
    frozen = freeze_function_cells(path, frozen_path, values)
    outputs, _ = recalculate([frozen_path], tmp_path / "lo-out", make_profile(tmp_path / "p2"))
    native = [key for key in values if key not in frozen and key[0] in (
        "Holdings", "Rebalance", "Benchmark", "Start")]
    formulas = openpyxl.load_workbook(path)
    native = [k for k in native if formulas[k[0]][k[1]].data_type == "f"]
    assert len(native) > 250
    got = read_values(outputs[0], native)
    for key in native:
        want = values[key]
        if isinstance(want, float):
            assert got[key] == pytest.approx(want, rel=1e-9), key
        else:
            assert got[key] == want, key


# ------------------------------------------------------------ edits and outcomes ---
def _set(src: Path, dst: Path, edits: dict[tuple[str, str], Any]) -> Path:
    wb = openpyxl.load_workbook(src)
    for (sheet, coord), value in edits.items():
        wb[sheet][coord] = value
    wb.save(dst)
    return dst


def _copy_down_holding(src: Path, dst: Path, asset: str, qty: float) -> Path:
    """A new holding under the list with the last holding row's formulas copied down
    (Excel's fill handle moves relative references)."""
    wb = openpyxl.load_workbook(src)
    ws = wb["Holdings"]
    last = max(r for r in range(5, ws.max_row + 1) if ws.cell(r, 1).value is not None)
    new = last + 1
    ws.cell(new, 1, asset)
    ws.cell(new, 2, qty)
    for col in "CDEFGHI":
        formula = ws[f"{col}{last}"].value
        ws[f"{col}{new}"] = Translator(formula, origin=f"{col}{last}").translate_formula(
            f"{col}{new}")
    wb.save(dst)
    return dst


def _append_with_index_formula(src: Path, dst: Path, prices: pd.DataFrame) -> Path:
    """Closes typed under the prices and the benchmark column's formula copied down."""
    _append_closes(src, dst, prices, N_DAYS, 5)
    wb = openpyxl.load_workbook(dst)
    ws = wb["Benchmark"]
    bench_col = next(c.column_letter for c in ws[1] if c.value == "Benchmark")
    last = 1 + N_DAYS
    for r in range(last + 1, last + 6):
        ws[f"{bench_col}{r}"] = Translator(ws[f"{bench_col}{last}"].value,
                                           origin=f"{bench_col}{last}").translate_formula(
            f"{bench_col}{r}")
    wb.save(dst)
    return dst


def _price_column(src: Path, dst: Path, prices: pd.DataFrame, asset: str, *,
                  lo_insert_before: str | None = None) -> Path:
    """A new coin's price column: typed to the right of the sheet, or into a column
    LibreOffice inserted between the price columns."""
    if lo_insert_before is not None:
        src = lo_edit(src, dst.with_name("inserted.xlsx"), "insert-column", "Benchmark",
                      lo_insert_before)
    wb = openpyxl.load_workbook(src)
    ws = wb["Benchmark"]
    col = (openpyxl.utils.column_index_from_string(lo_insert_before) if lo_insert_before
           else ws.max_column + 1)
    ws.cell(1, col, asset)
    for i in range(N_DAYS):
        ws.cell(2 + i, col, float(prices[asset].iloc[i]))
    hold = wb["Holdings"]
    under = max(r for r in range(5, hold.max_row + 1) if hold.cell(r, 1).value) + 1
    hold.cell(under, 1, asset)
    hold.cell(under, 2, 1000.0)
    wb.save(dst)
    return dst


def _edit(name: str, book: Path, prices: pd.DataFrame, tmp: Path) -> Path:
    """Make the named edit on ``book``; return the edited file."""
    out = tmp / f"{name}.xlsx"
    wb = openpyxl.load_workbook(book)
    window = _name(wb, "Window")
    position = _name(wb, "CurrentContracts")
    if name == "closes-appended":
        _append_closes(book, out, prices, N_DAYS, 30)
    elif name == "closes-appended-with-index-formula":
        _append_with_index_formula(book, out, prices)
    elif name == "holding-typed-under-the-list":
        _set(book, out, {("Holdings", "A9"): "ETH", ("Holdings", "B9"): 5.0})
    elif name == "holding-with-formulas-copied-down":
        _copy_down_holding(book, out, "ETH", 5.0)
    elif name == "holdings-sorted":
        lo_edit(book, out, "sort", "Holdings", "A5:I8", "B", "desc")
    elif name == "holding-row-deleted":
        lo_edit(book, out, "delete-row", "Holdings", "6")
    elif name == "holding-row-inserted-and-typed":
        lo_edit(book, tmp / "ins.xlsx", "insert-row", "Holdings", "7")
        _set(tmp / "ins.xlsx", out, {("Holdings", "A7"): "BTC", ("Holdings", "B7"): 1.0})
    elif name == "blank-price-column-inserted":
        lo_edit(book, out, "insert-column", "Benchmark", "D")
    elif name == "price-column-inserted-and-held":
        _price_column(book, out, prices, "XRP", lo_insert_before="D")
    elif name == "price-column-appended-and-held":
        _price_column(book, out, prices, "DOGE")
    elif name == "settings-changed":
        _set(book, out, {window: 120})
    elif name == "position-entered":
        _set(book, out, {position: 10.0})
    elif name == "saved-by-libreoffice":
        lo_edit(book, out, "resave")
    elif name == "own-sheet-with-formulas":
        wb.create_sheet("Notes")["B2"] = "=PortfolioBeta*2"
        wb.save(out)
    elif name == "own-formula-beside-ours":
        wb["Holdings"]["K5"] = "=D5*2"
        wb["Rebalance"]["G5"] = "my comment"
        wb.save(out)
    elif name == "note-beside-a-holding-then-growth":
        wb["Holdings"]["K6"] = "watch this one"
        wb["Holdings"]["A9"] = "BTC"
        wb["Holdings"]["B9"] = 1.0
        wb.save(out)
    elif name == "own-formula-in-a-book-cell":
        wb["Holdings"]["D6"] = "=B6*C6*2"
        wb.save(out)
    elif name == "book-formula-deleted":
        wb["Rebalance"][_name(wb, "TargetContracts")[1]] = 7.5
        wb.save(out)
    elif name == "sheet-renamed":
        wb["Stats"].title = "MyStats"
        wb.save(out)
    elif name == "sheet-deleted":
        del wb["Scenarios"]
        wb.save(out)
    elif name == "text-under-the-dates":
        _set(book, out, {("Benchmark", f"A{N_DAYS + 2}"): "n/a"})
    elif name == "prices-below-a-blank-row":
        _set(book, out, {("Benchmark", f"A{N_DAYS + 3}"): dt.datetime(2030, 1, 1),
                         ("Benchmark", f"B{N_DAYS + 3}"): 1.0})
    elif name == "holding-without-prices":
        _set(book, out, {("Holdings", "A9"): "NOPE", ("Holdings", "B9"): 1.0})
    elif name == "quantity-as-text":
        _set(book, out, {("Holdings", "B6"): "lots"})
    elif name == "blank-last-close":
        _set(book, out, {("Benchmark", f"D{N_DAYS + 1}"): None})
    elif name == "window-below-min-obs":
        _set(book, out, {window: 30})
    else:  # pragma: no cover - a typo in the table
        raise AssertionError(name)
    return out


COMPUTES = "computes"
#: edit -> documented outcome: "computes" (figures equal the recomputation) or the text
#: the refusal (exit 1, nothing written for tickets) names.
EDITS: dict[str, str] = {
    "closes-appended": COMPUTES,
    "closes-appended-with-index-formula": COMPUTES,
    "holding-typed-under-the-list": COMPUTES,
    "holding-with-formulas-copied-down": COMPUTES,
    "holdings-sorted": COMPUTES,
    "holding-row-deleted": COMPUTES,
    "holding-row-inserted-and-typed": COMPUTES,
    "blank-price-column-inserted": COMPUTES,
    "price-column-inserted-and-held": COMPUTES,
    "price-column-appended-and-held": COMPUTES,
    "settings-changed": COMPUTES,
    "position-entered": COMPUTES,
    "saved-by-libreoffice": COMPUTES,
    "own-sheet-with-formulas": COMPUTES,
    "own-formula-beside-ours": COMPUTES,
    "note-beside-a-holding-then-growth": COMPUTES,
    "own-formula-in-a-book-cell": "Holdings!D6 must hold the formula '=B6*C6'",
    "book-formula-deleted": "must hold the formula '=CONTRACTS_TO_SHORT(",
    "sheet-renamed": "sheets ['Stats']",
    "sheet-deleted": "sheets ['Scenarios']",
    "text-under-the-dates": f"Benchmark!A{N_DAYS + 2}: date must be a date cell",
    "prices-below-a-blank-row": f"Benchmark!A{N_DAYS + 3}: dates must be contiguous",
    "holding-without-prices": "Holdings!A9: asset must be one of the price columns",
    "quantity-as-text": "Holdings!B6: quantity must be a number",
    "blank-last-close": "has no close on the valuation date",
    "window-below-min-obs": "min_obs",
}
_NEEDS_LO = {"holdings-sorted", "holding-row-deleted", "holding-row-inserted-and-typed",
             "blank-price-column-inserted", "price-column-inserted-and-held",
             "saved-by-libreoffice"}


@pytest.mark.parametrize("edit", [
    pytest.param(name, marks=[needs_lo] if name in _NEEDS_LO else [], id=name)
    for name in EDITS])
def test_each_edit_computes_or_is_refused_naming_the_cell(
        edit: str, book: Path, full_prices: pd.DataFrame, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Each user edit has its documented outcome: the book computes and every figure
    equals the recomputation (and tickets order what the sheet says), or compute and
    tickets exit 1 naming the cause, and tickets writes no order."""
    code, computed = compute(book)
    assert code == EXIT_OK
    edited = _edit(edit, computed, full_prices, tmp_path)
    capsys.readouterr()
    code, out = compute(edited)
    err = capsys.readouterr().err
    tickets = tmp_path / "tickets.csv"
    tickets_code = main(["tickets", str(edited), "-o", str(tickets), "--force"])
    tickets_err = capsys.readouterr().err
    if EDITS[edit] == COMPUTES:
        assert code == EXIT_OK, err
        data = assert_book_right(out)
        assert tickets_code == EXIT_OK, tickets_err
        _tickets_match_the_sheet(tickets, data["wb"])
        return
    assert code == EXIT_DATA
    assert EDITS[edit] in err, err
    assert tickets_code == EXIT_DATA
    assert EDITS[edit] in tickets_err, tickets_err
    assert not tickets.exists()


def _tickets_match_the_sheet(tickets: Path, wb: openpyxl.Workbook) -> None:
    rows = pd.read_csv(tickets)
    action = _named_cell(wb, "Action").value
    if action.startswith("HOLD"):
        assert rows.empty
        return
    side = _named_cell(wb, "OrderSide").value
    assert rows["side"].str.upper().tolist()[0] == side
    assert rows["amount_contracts"].sum() == pytest.approx(
        _named_cell(wb, "OrderContracts").value)


def test_growth_keeps_the_users_content_in_place(book: Path, tmp_path: Path) -> None:
    """A note beside a holding follows its holding when the book is resized (a holding
    inserted above it in LibreOffice); the user's own formulas are kept, with a reference
    to a moved holding moved along, and refreshed."""
    code, computed = compute(book)
    wb = openpyxl.load_workbook(computed)
    wb["Holdings"]["K6"] = "watch this one"
    mine = wb.create_sheet("Mine")
    mine["A1"] = "=Holdings!D3"  # the totals row's value (above the list: it stays)
    mine["A2"] = "=Holdings!D8"  # the last holding's value
    wb["Holdings"]["A9"] = "BTC"
    wb["Holdings"]["B9"] = 1.0
    wb.save(tmp_path / "grown.xlsx")
    code, out = compute(tmp_path / "grown.xlsx")
    assert code == EXIT_OK
    result = openpyxl.load_workbook(out)
    hold = result["Holdings"]
    assert hold["K6"].value == "watch this one"
    assert hold["A6"].value == wb["Holdings"]["A6"].value
    assert hold["A3"].value == "Total / portfolio"
    assert hold["A9"].value == "BTC"
    assert result["Mine"]["A1"].value == "=Holdings!D3"
    values = openpyxl.load_workbook(out, data_only=True)
    assert values["Mine"]["A1"].value == pytest.approx(values["Holdings"]["D3"].value)
    assert values["Mine"]["A2"].value == pytest.approx(values["Holdings"]["D8"].value)


def test_the_first_hedge_is_ordered_on_the_sheet_and_in_the_tickets(
        book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No position, a target beta just above the book's: the sheet says OPEN and the
    ticket buys exactly the contracts the sheet shows (the two once disagreed: HOLD on
    the sheet, a buy in the tickets)."""
    code, computed = compute(book)
    wb = openpyxl.load_workbook(computed, data_only=True)
    beta = _named_cell(wb, "PortfolioBeta").value
    target = round(beta + 0.004, 3)
    edited = _set(computed, tmp_path / "target.xlsx", {_name(wb, "TargetBeta"): target})
    code, out = compute(edited)
    assert code == EXIT_OK
    result = openpyxl.load_workbook(out, data_only=True)
    assert abs(_named_cell(result, "Drift").value) < 0.05  # inside the band
    assert _named_cell(result, "Action").value == "OPEN: no hedge yet"
    assert _named_cell(result, "OrderSide").value == "BUY"
    tickets = tmp_path / "t.csv"
    assert main(["tickets", str(edited), "-o", str(tickets)]) == EXIT_OK
    _tickets_match_the_sheet(tickets, result)
    assert assert_book_right(out)


def test_no_order_from_error_figures(book: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A blank last BTC close: compute writes the book (the codes show where) and exits 1
    with the cause; tickets writes nothing and says why, not 'inside the band'."""
    code, computed = compute(book)
    edited = _set(computed, tmp_path / "blank-btc.xlsx",
                  {("Benchmark", f"B{N_DAYS + 1}"): None})
    capsys.readouterr()
    code, out = compute(edited)
    err = capsys.readouterr().err
    assert code == EXIT_DATA
    assert out.exists()
    assert "hedge figures are errors" in err
    assert "futures_price" in err
    tickets = tmp_path / "t.csv"
    assert main(["tickets", str(edited), "-o", str(tickets)]) == EXIT_DATA
    captured = capsys.readouterr()
    assert "no ticket written" in captured.err
    assert "inside the band" not in captured.out
    assert not tickets.exists()


def test_the_system_python_can_drive_libreoffice() -> None:
    """The structural edits need LibreOffice's UNO bridge; say so when it is missing."""
    if not UNO:
        pytest.skip("LibreOffice with python3-uno is not installed; run .ci/install-system-deps")
    assert sys.version_info >= (3, 11)


def test_a_resized_xlsm_keeps_its_vba_and_buttons(filled: Path, full_prices: pd.DataFrame,
                                                  tmp_path: Path) -> None:
    """Closes typed into an .xlsm: the resized book keeps the VBA project and the Start
    sheet's buttons (shapes with a macro), which openpyxl alone would not write."""
    import zipfile

    from betaneutral.cli import main as run

    book = tmp_path / "book.xlsm"
    holdings = filled.parent / "holdings.csv"
    prices = filled.parent / "prices.csv"
    assert run(["fill", "--holdings", str(holdings), "--prices", str(prices), "-o", str(book),
                "--quiet"]) == EXIT_OK

    def buttons(path: Path) -> tuple[int, bool]:
        with zipfile.ZipFile(path) as z:
            shapes = sum(z.read(n).count(b"macro=") for n in z.namelist()
                         if n.startswith("xl/drawings/drawing"))
            return shapes, "xl/vbaProject.bin" in z.namelist()

    wb = openpyxl.load_workbook(book, keep_vba=True)
    ws = wb["Benchmark"]
    headers = [c.value for c in ws[1]]
    for i in range(3):
        row = N_DAYS + 2 + i
        ws.cell(row, 1, full_prices.index[N_DAYS + i].to_pydatetime())
        for j, asset in enumerate(headers[1:-1], start=2):
            ws.cell(row, j, float(full_prices[asset].iloc[N_DAYS + i]))
    wb.save(tmp_path / "grown.xlsm")
    out = tmp_path / "grown-computed.xlsm"
    assert run(["compute", str(tmp_path / "grown.xlsm"), "-o", str(out), "--quiet"]) == EXIT_OK
    assert buttons(out) == buttons(book)
    assert buttons(out)[0] >= 2
    assert_book_right(out)


def test_holdings_names_shrunk_by_a_deleted_row_do_not_break_tickets(
        book: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A row deleted by a program that shrank only some of the Holdings names (here
    HoldingAssets loses its last row): tickets follows the rows the sheet holds, with no
    traceback, and orders what compute computes."""
    from openpyxl.workbook.defined_name import DefinedName

    code, computed = compute(book)
    wb = openpyxl.load_workbook(computed)
    sheet, ref = _name(wb, "HoldingAssets")
    first, last = ref.split(":")
    shrunk = f"{sheet}!${first[0]}${first[1:]}:${last[0]}${int(last[1:]) - 1}"
    wb.defined_names["HoldingAssets"] = DefinedName("HoldingAssets", attr_text=shrunk)
    wb.save(tmp_path / "shrunk.xlsx")
    tickets = tmp_path / "t.csv"
    assert main(["tickets", str(tmp_path / "shrunk.xlsx"), "-o", str(tickets)]) == EXIT_OK
    code, out = compute(tmp_path / "shrunk.xlsx")
    assert code == EXIT_OK
    data = assert_book_right(out)
    assert len(data["holdings"]) == 4
    _tickets_match_the_sheet(tickets, data["wb"])


# ------------------------------------------------------------- growth in Excel ---
def _excel_grows(src: Path, dst: Path, rows: dict[str, dict[str, Any]]) -> Path:
    """The file Excel saves after a row is typed directly under a table, for each table
    in ``rows`` (table -> the typed cells by column name): the table's range one row
    longer, the typed values, and each calculated column's formula in the new row with
    its references moved from the table's first data row, where the formula is written
    (ECMA-376 Part 1, 18.5.1.1 ``calculatedColumnFormula``). Nothing else changes: no
    name is edited."""
    wb = openpyxl.load_workbook(src)
    for ws in wb.worksheets:
        for table in ws.tables.values():
            if table.displayName not in rows:
                continue
            typed = rows[table.displayName]
            c1, r1, c2, r2 = openpyxl.utils.range_boundaries(table.ref)
            new = r2 + 1
            for j, column in enumerate(table.tableColumns):
                col = openpyxl.utils.get_column_letter(c1 + j)
                if column.calculatedColumnFormula is not None:
                    formula = "=" + column.calculatedColumnFormula.attr_text
                    ws[f"{col}{new}"] = Translator(formula, origin=f"{col}{r1 + 1}"
                                                   ).translate_formula(f"{col}{new}")
                elif column.name in typed:
                    ws[f"{col}{new}"] = typed[column.name]
            table.ref = (f"{openpyxl.utils.get_column_letter(c1)}{r1}:"
                         f"{openpyxl.utils.get_column_letter(c2)}{new}")
            table.autoFilter.ref = table.ref
    wb.save(dst)
    return dst


@pytest.fixture
def grown_in_excel(book: Path, full_prices: pd.DataFrame, tmp_path: Path) -> Path:
    """The filled book after a day's closes are typed under the prices and a BTC holding
    under the list, in Excel: the tables grow, no name is touched."""
    code, computed = compute(book)
    assert code == EXIT_OK
    day = full_prices.index[N_DAYS]
    headers = [c.value for c in openpyxl.load_workbook(computed)["Benchmark"][1]]
    closes = {"Date": day.to_pydatetime(),
              **{a: float(full_prices[a].iloc[N_DAYS]) for a in headers[1:-1]}}
    return _excel_grows(computed, tmp_path / "grown-in-excel.xlsx",
                        {"Prices": closes, "HoldingList": {"Asset": "BTC", "Quantity": 3.5}})


def test_the_names_are_the_tables_columns(book: Path) -> None:
    """The price and holdings names are structured references to the two tables (so they
    grow with them in Excel), the holdings totals sit above the list, and the tables carry
    the calculated columns Excel fills into a new row."""
    wb = openpyxl.load_workbook(book)
    prices, holdings = wb["Benchmark"].tables["Prices"], wb["Holdings"].tables["HoldingList"]
    assert prices.ref == f"A1:G{N_DAYS + 1}"
    assert holdings.ref == "A4:I8"
    assert wb.defined_names["Dates"].attr_text == "Prices[Date]"
    assert wb.defined_names["PriceBlock"].attr_text == "Prices[[BTC]:[ADA]]"
    assert wb.defined_names["HoldingValues"].attr_text == "HoldingList[Value (USD)]"
    assert wb["Holdings"]["D3"].value == "=SUM(HoldingValues)"
    calculated = {c.name: c.calculatedColumnFormula.attr_text
                  for c in holdings.tableColumns if c.calculatedColumnFormula is not None}
    # each is the first data row's own formula, without "="
    assert calculated == {c.name: wb["Holdings"].cell(5, j + 1).value[1:]
                          for j, c in enumerate(holdings.tableColumns)
                          if c.name not in ("Asset", "Quantity")}
    (bench,) = [c for c in prices.tableColumns if c.calculatedColumnFormula is not None]
    assert bench.name == "Benchmark"
    third = wb["Benchmark"]["G3"].value  # the chained index on a row that has a row above
    assert "=" + bench.calculatedColumnFormula.attr_text == Translator(
        third, origin="G3").translate_formula("G2")


@needs_lo
def test_libreoffice_reads_the_names_over_the_grown_tables(grown_in_excel: Path,
                                                           full_prices: pd.DataFrame,
                                                           tmp_path: Path) -> None:
    """LibreOffice, recalculating the book Excel grew, sees the new close and the new
    holding in the native formulas: every holding is valued at the new close, the new
    row's price and value are BTC's, the portfolio value sums five holdings, and the
    benchmark column has the new row. No name was edited."""
    from lo_helpers import recalculate

    (out,), _ = recalculate([grown_in_excel], tmp_path / "lo", make_profile(tmp_path / "p"))
    got = openpyxl.load_workbook(out, data_only=True)
    hold, bench = got["Holdings"], got["Benchmark"]
    close = full_prices.iloc[N_DAYS]
    quantities = {}
    for r in range(5, 10):
        asset, qty = hold.cell(r, 1).value, hold.cell(r, 2).value
        quantities[asset] = qty
        assert hold.cell(r, 3).value == pytest.approx(close[asset], rel=1e-12), asset
        assert hold.cell(r, 4).value == pytest.approx(qty * close[asset], rel=1e-12), asset
    assert list(quantities)[-1] == "BTC"
    total = sum(q * close[a] for a, q in quantities.items())
    assert hold["D3"].value == pytest.approx(total, rel=1e-12)
    assert bench[f"G{N_DAYS + 2}"].value == pytest.approx(close["BTC"], rel=1e-12)


def test_check_and_compute_follow_the_grown_tables(grown_in_excel: Path) -> None:
    """The formula engine of ``check`` evaluates the book Excel grew (names over the grown
    tables) as the Python computation does, and ``compute`` values it at the new close with
    the new holding in the hedge, equal to the independent recomputation; the book it
    writes has its tables, names and blocks sized to the data."""
    pytest.importorskip("pycel")
    from betaneutral.workbook.engine import check_workbook

    assert check_workbook(grown_in_excel) == []
    code, out = compute(grown_in_excel)
    assert code == EXIT_OK
    data = assert_book_right(out)
    assert len(data["prices"]) == N_DAYS + 1
    assert [a for a, _, _ in data["holdings"]][-1] == "BTC"
    wb = openpyxl.load_workbook(out)
    assert wb["Holdings"].tables["HoldingList"].ref == "A4:I9"
    assert wb["Benchmark"].tables["Prices"].ref == f"A1:G{N_DAYS + 2}"
    assert _name(wb, "BetaStats")[1] == "B5:J9"


@needs_lo
def test_a_libreoffice_save_gets_the_calculated_columns_back(book: Path,
                                                             tmp_path: Path) -> None:
    """LibreOffice keeps the tables and the names but not the calculated columns (so Excel
    would leave a row typed under the list without formulas); ``compute`` puts them back."""
    saved = lo_edit(book, tmp_path / "saved.xlsx", "resave")
    table = openpyxl.load_workbook(saved)["Holdings"].tables["HoldingList"]
    assert all(c.calculatedColumnFormula is None for c in table.tableColumns)
    code, out = compute(saved)
    assert code == EXIT_OK
    wb = openpyxl.load_workbook(out)
    table = wb["Holdings"].tables["HoldingList"]
    assert sum(c.calculatedColumnFormula is not None for c in table.tableColumns) == 7
    assert wb.defined_names["HoldingValues"].attr_text == "HoldingList[Value (USD)]"
    assert_book_right(out)


# ------------------------------------------------------------ earlier releases ---
EARLIER_RELEASE = HERE / "data" / "books" / "earlier-release.xlsx"


def test_a_book_of_the_previous_release_is_upgraded(tmp_path: Path) -> None:
    """The previous release's template (fixed-range names, the totals under the list as
    ``=SUM(D5:D10)``, betas without the cross-section arguments), computed: it is resized
    into this release's book (tables, the totals above the list, today's formulas) and
    its figures equal the independent recomputation."""
    old = openpyxl.load_workbook(EARLIER_RELEASE)
    assert not old["Holdings"].tables
    assert old["Holdings"]["D11"].value == "=SUM(D5:D10)"
    book = Path(shutil.copy(EARLIER_RELEASE, tmp_path / "old.xlsx"))
    code, out = compute(book)
    assert code == EXIT_OK
    wb = openpyxl.load_workbook(out)
    assert wb["Holdings"].tables["HoldingList"].ref == "A4:I10"
    assert wb["Holdings"]["D3"].value == "=SUM(HoldingValues)"
    assert wb["Holdings"]["D11"].value is None
    assert "PriceBlock),PriceAssets,HoldingAssets)" in wb["Holdings"]["G5"].value
    assert_book_right(out)


@pytest.mark.parametrize(("cell", "changed"), [
    ("D11", "=SUM(D5:D9)"),  # a total that leaves a holding out is the user's change
    ("G6", "=BETA_VS_BTC(INDEX(PriceBlock,0,MATCH($A6,PriceAssets,0)),BTCPrices,60,"
           "BetaMethod,MinObs,ReturnType)"),
])
def test_a_changed_formula_of_the_previous_release_is_still_refused(
        tmp_path: Path, cell: str, changed: str) -> None:
    """Only the previous release's own forms are taken as the book's: the same book with
    one of them changed by its user is refused, naming the cell."""
    wb = openpyxl.load_workbook(EARLIER_RELEASE)
    wb["Holdings"][cell] = changed
    wb.save(tmp_path / "old.xlsx")
    out = tmp_path / "out.xlsx"
    code = main(["compute", str(tmp_path / "old.xlsx"), "-o", str(out), "--quiet"])
    assert code == EXIT_DATA
    assert not out.exists()
