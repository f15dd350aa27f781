"""Headless computation of the workbook (betaneutral.workbook.model and .compute).

Expected numbers come from numpy and hand arithmetic on the sample data, never from
the code under test.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter, range_boundaries

from betaneutral.core.returns import composite_index
from betaneutral.errors import DomainError, InsufficientDataError, UnknownNameError
from betaneutral.files import FileProblemError
from betaneutral.sample import sample_holdings, sample_prices
from betaneutral.vba.sources import vba_project
from betaneutral.workbook import build_workbook, formula_cells
from betaneutral.workbook.compute import (
    build_committed_templates,
    compute_workbook,
    fill_workbook,
)
from betaneutral.workbook.inputs import BookInputs, BookSettings, read_inputs
from betaneutral.workbook.model import compute_values, read_layout
from betaneutral.workbook.names import name_destinations

MIX = "BTC/ETH 50/50"
ERRORS = {"#N/A", "#NUM!", "#DIV/0!", "#VALUE!"}


def expand(wb: openpyxl.Workbook) -> set[tuple[str, str]]:
    """Every cell a formula of ``wb`` fills (CSE ranges cell by cell)."""
    out = set()
    for sheet, ref, _ in formula_cells(wb):
        c1, r1, c2, r2 = range_boundaries(ref)
        out |= {(sheet, f"{get_column_letter(c)}{r}")
                for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
    return out


def name_key(wb: openpyxl.Workbook, name: str) -> tuple[str, str]:
    ((sheet, ref),) = [name_destinations(wb, [name])[name]]
    return sheet, ref.replace("$", "").split(":")[0]


def simple(p: np.ndarray) -> np.ndarray:
    return p[1:] / p[:-1] - 1.0


def slope(y: np.ndarray, x: np.ndarray) -> float:
    """Least-squares slope of y on x with an intercept (numpy)."""
    return float(np.polyfit(x, y, 1)[0])


@pytest.fixture(scope="module")
def book():
    wb = build_workbook()
    inputs = read_inputs(wb)
    layout = read_layout(wb)
    return wb, inputs, layout, compute_values(inputs, layout)


def recompute(book, **changes):
    _, inputs, layout, _ = book
    settings = changes.pop("settings", {})
    new = dataclasses.replace(inputs, settings=dataclasses.replace(inputs.settings, **settings),
                              **changes)
    return compute_values(new, layout)


# Sample facts used below: holdings in rows 5..10 (ETH, SOL, LINK, ADA, XRP, DOGE),
# totals in row 11; prices 730 days; window 90; Rebalance values in column B.
PRICES = sample_prices()
HOLDINGS = sample_holdings()
LAST = PRICES.iloc[-1]


def hand_betas(window: int = 90, kind: str = "simple") -> dict[str, float]:
    btc = PRICES["BTC"].to_numpy()
    rb = simple(btc) if kind == "simple" else np.diff(np.log(btc))
    out = {}
    for asset in HOLDINGS["asset"]:
        p = PRICES[asset].to_numpy()
        ra = simple(p) if kind == "simple" else np.diff(np.log(p))
        out[asset] = slope(ra[-window:], rb[-window:])
    return out


# --------------------------------------------------------------------- coverage ---
def test_computed_cells_are_exactly_the_formula_cells(book) -> None:
    """compute_values returns one value per formula cell (CSE ranges expanded), no more."""
    wb, _, _, values = book
    assert set(values) == expand(wb)
    assert all(isinstance(v, float | int | bool | str) for v in values.values())


def test_a_typed_futures_price_is_an_input_not_a_formula_cell(book) -> None:
    """With a futures price typed in, the Settings cell is no longer computed."""
    wb, inputs, _, _ = book
    new = dataclasses.replace(inputs, settings=dataclasses.replace(inputs.settings,
                                                                  futures_price=50_000.0))
    filled = fill_workbook(new)
    values = compute_values(new, read_layout(filled))
    assert set(values) == expand(filled)
    assert name_key(wb, "FuturesPrice") not in values
    assert values[("Rebalance", "B9")] == 50_000.0


# ------------------------------------------------------------------ key numbers ---
def test_prices_values_and_portfolio_value_by_hand(book) -> None:
    """Price = last close, value = quantity x price, portfolio value = their sum."""
    _, _, _, values = book
    expected_values = []
    for i, (asset, qty) in enumerate(zip(HOLDINGS["asset"], HOLDINGS["quantity"],
                                         strict=True)):
        row = 5 + i
        assert values[("Holdings", f"C{row}")] == LAST[asset]
        assert values[("Holdings", f"D{row}")] == qty * LAST[asset]
        expected_values.append(qty * LAST[asset])
    total = float(np.sum(expected_values))
    assert values[("Holdings", "D3")] == pytest.approx(total, rel=1e-15)
    assert values[("Start", "C7")] == values[("Holdings", "D3")]
    weights = [values[("Holdings", f"E{5 + i}")] for i in range(6)]
    np.testing.assert_allclose(weights, np.array(expected_values) / total, rtol=1e-15)
    assert values[("Holdings", "E3")] == pytest.approx(1.0, abs=1e-15)
    assert values[("Settings", "B13")] == LAST["BTC"]  # default futures price: last BTC close


def test_betas_are_numpy_slopes_of_the_last_90_simple_returns(book) -> None:
    """Beta to BTC is the polyfit slope of the last 90 simple returns; with the BTC
    benchmark the 'vs benchmark' column is the same number."""
    _, _, _, values = book
    for i, (asset, beta) in enumerate(hand_betas().items()):
        assert values[("Holdings", f"G{5 + i}")] == pytest.approx(beta, rel=1e-10), asset
        assert values[("Holdings", f"F{5 + i}")] == values[("Holdings", f"G{5 + i}")]
        assert values[("Stats", f"B{5 + i}")] == pytest.approx(beta, rel=1e-10), asset
    assert values[("Stats", "H5")] == 90  # observations


def test_return_type_and_method_settings_reach_the_betas(book) -> None:
    """Log returns give the slope of log returns; Blume gives 0.67 x OLS + 0.33."""
    logs = recompute(book, settings={"return_type": "log"})
    blume = recompute(book, settings={"beta_method": "blume"})
    for i, (asset, beta) in enumerate(hand_betas(kind="log").items()):
        assert logs[("Holdings", f"G{5 + i}")] == pytest.approx(beta, rel=1e-10), asset
    for i, beta in enumerate(hand_betas().values()):
        assert blume[("Holdings", f"G{5 + i}")] == pytest.approx(0.67 * beta + 0.33, rel=1e-10)


def test_composite_benchmark_chain_by_numpy(book) -> None:
    """The 50/50 index is I0 = BTC0, It = It-1 (1 + 0.5 rBTC + 0.5 rETH), evaluated in that
    order (bit for bit), equal to the core's composite index; with BTC it is the BTC price."""
    _, _, _, values = book
    btc, eth = PRICES["BTC"].to_numpy(), PRICES["ETH"].to_numpy()
    bench = [values[("Benchmark", f"I{2 + t}")] for t in range(len(btc))]
    np.testing.assert_array_equal(bench, btc)
    mixed = recompute(book, settings={"benchmark": MIX})
    expected = [btc[0]]
    for t in range(1, len(btc)):
        expected.append(expected[-1] * (1 + 0.5 * (btc[t] / btc[t - 1] - 1)
                                        + 0.5 * (eth[t] / eth[t - 1] - 1)))
    got = np.array([mixed[("Benchmark", f"I{2 + t}")] for t in range(len(btc))])
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(got, composite_index(np.column_stack([btc, eth])), rtol=1e-12)
    # The 'vs benchmark' beta regresses on the index's returns; 'to BTC' is unchanged.
    eth_beta = slope(simple(eth)[-90:], simple(np.array(expected))[-90:])
    assert mixed[("Holdings", "F5")] == pytest.approx(eth_beta, rel=1e-9)
    assert mixed[("Holdings", "G5")] == values[("Holdings", "G5")]


def test_hedge_contracts_margin_and_funding_by_hand(book) -> None:
    """Required short = sum(value x beta); contracts = notional / price rounded to the
    0.001 lot of BINANCE:BTCUSDT (1 BTC per contract); funding = -notional x rate x 90."""
    _, _, _, values = book
    betas = hand_betas()
    dollar_beta = sum(q * LAST[a] * betas[a] for a, q in zip(HOLDINGS["asset"],
                                                           HOLDINGS["quantity"], strict=True))
    price = LAST["BTC"]
    assert values[("Rebalance", "B16")] == pytest.approx(dollar_beta, rel=1e-9)
    contracts = round(dollar_beta / price / 0.001) * 0.001
    assert values[("Rebalance", "B18")] == pytest.approx(contracts, abs=1e-9)
    assert values[("Start", "C10")] == values[("Rebalance", "B18")]
    short = contracts * 1.0 * price  # linear: contracts x 1 BTC x price
    assert values[("Rebalance", "B19")] == pytest.approx(short, rel=1e-12)
    # Residual beta: (dollar beta - short) / portfolio value.
    value = float(np.sum(HOLDINGS["quantity"].to_numpy() * LAST[HOLDINGS["asset"]].to_numpy()))
    assert values[("Rebalance", "B20")] == pytest.approx((dollar_beta - short) / value,
                                                         abs=1e-9)
    # 30 days = 90 eight-hour intervals at 0.01%; the short receives, so the cost is < 0.
    assert values[("Rebalance", "B42")] == pytest.approx(-short * 0.0001 * 90, rel=1e-12)
    # No position held: the whole target is to sell, and the band (0.05) is breached.
    assert values[("Rebalance", "B27")] == pytest.approx(contracts, abs=1e-9)
    assert values[("Rebalance", "B28")] == "SELL"
    assert values[("Rebalance", "B29")] == values[("Rebalance", "B27")]
    assert values[("Rebalance", "C24")] is True
    assert values[("Rebalance", "B26")] == "OPEN: no hedge yet"  # no position yet
    assert values[("Rebalance", "B24")] == pytest.approx(dollar_beta / value, rel=1e-9)
    assert values[("Rebalance", "B7")] == "linear"
    assert values[("Rebalance", "B10")] == price  # linear: 1 BTC x futures price
    assert values[("Rebalance", "B34")] == "USDT"


def test_scenario_grid_row_by_hand(book) -> None:
    """Scenario +10%: BTC at 1.1 P, spot P&L = dollar beta x 0.1, hedged = spot P&L minus
    contracts x (1.1 P - P); no row is liquidated below the liquidation price."""
    _, _, _, values = book
    price = LAST["BTC"]
    contracts = values[("Rebalance", "B18")]
    dollar_beta = sum(values[("Holdings", f"H{5 + i}")] for i in range(6))
    row = 5 + 8  # moves -30%, -25%, ..., +30%: +10% is the 9th
    assert values[("Scenarios", f"A{row}")] == pytest.approx(0.10, abs=1e-12)
    assert values[("Scenarios", f"B{row}")] == pytest.approx(1.1 * price, rel=1e-12)
    spot = dollar_beta * 0.10
    assert values[("Scenarios", f"C{row}")] == pytest.approx(spot, rel=1e-9)
    assert values[("Scenarios", f"D{row}")] == pytest.approx(
        spot - contracts * (1.1 * price - price), rel=1e-9)
    liquidation = values[("Rebalance", "B36")]
    for r in range(5, 18):
        btc = values[("Scenarios", f"B{r}")]
        assert values[("Scenarios", f"E{r}")] is bool(max(btc, price) >= liquidation)
    assert values[("Rebalance", "B37")] == pytest.approx(liquidation / price - 1, rel=1e-14)


def test_rolling_dates_are_excel_serial_numbers(book) -> None:
    """The Rolling date column holds the dates as 1900-system serials (days since
    1899-12-30), and the rolling betas are #N/A until a full window."""
    _, _, _, values = book
    first = PRICES.index[0].to_pydatetime()
    assert values[("Rolling", "A2")] == float((first - dt.datetime(1899, 12, 30)).days)
    assert values[("Rolling", "B2")] == "#N/A"
    # Row 92 holds the 91st price: the first window of 90 returns ends there.
    r_eth, r_btc = simple(PRICES["ETH"].to_numpy()), simple(PRICES["BTC"].to_numpy())
    assert values[("Rolling", "B91")] == "#N/A"
    assert values[("Rolling", "B92")] == pytest.approx(slope(r_eth[:90], r_btc[:90]), rel=1e-9)


# --------------------------------------------------------------- input changes ---
def test_changing_a_quantity_moves_values_and_hedge_as_hand_arithmetic(book) -> None:
    """Doubling the ETH quantity adds one ETH value to the portfolio and ETH value x beta
    to the required short; betas are unchanged."""
    _, inputs, _, values = book
    holdings = inputs.holdings.copy()
    holdings.loc[0, "quantity"] *= 2
    changed = recompute(book, holdings=holdings)
    eth_value = values[("Holdings", "D5")]
    assert changed[("Holdings", "D5")] == 2 * eth_value
    assert changed[("Holdings", "D3")] == pytest.approx(values[("Holdings", "D3")]
                                                         + eth_value, rel=1e-15)
    assert changed[("Holdings", "G5")] == values[("Holdings", "G5")]
    assert changed[("Rebalance", "B16")] == pytest.approx(
        values[("Rebalance", "B16")] + eth_value * values[("Holdings", "G5")], rel=1e-12)


def test_changing_a_price_moves_price_value_and_beta(book) -> None:
    """A 10% higher last ETH close shows as the ETH price and value, and the ETH beta is
    the slope of the new returns."""
    _, inputs, _, values = book
    prices = inputs.prices.copy()
    prices.iloc[-1, prices.columns.get_loc("ETH")] *= 1.1
    changed = recompute(book, prices=prices)
    new_last = prices["ETH"].iloc[-1]
    assert changed[("Holdings", "C5")] == new_last
    assert changed[("Holdings", "D5")] == 120.0 * new_last
    beta = slope(simple(prices["ETH"].to_numpy())[-90:], simple(PRICES["BTC"].to_numpy())[-90:])
    assert changed[("Holdings", "G5")] == pytest.approx(beta, rel=1e-10)
    assert changed[("Holdings", "G5")] != values[("Holdings", "G5")]


def test_changing_the_target_beta_reduces_the_short_by_target_x_value(book) -> None:
    """Target 0.5: the required short falls by 0.5 x portfolio value and the drift is the
    current beta minus 0.5."""
    _, _, _, values = book
    changed = recompute(book, settings={"target_beta": 0.5})
    value = values[("Holdings", "D3")]
    assert changed[("Rebalance", "B15")] == 0.5
    assert changed[("Rebalance", "B16")] == pytest.approx(values[("Rebalance", "B16")]
                                                          - 0.5 * value, rel=1e-12)
    contracts = round(changed[("Rebalance", "B16")] / LAST["BTC"] / 0.001) * 0.001
    assert changed[("Rebalance", "B18")] == pytest.approx(contracts, abs=1e-9)
    assert changed[("Rebalance", "B24")] == pytest.approx(values[("Rebalance", "B12")] - 0.5,
                                                          rel=1e-12)


def test_holding_the_target_position_means_no_order(book) -> None:
    """With the target contracts already short, the order is NONE for 0 contracts, the
    current beta is the residual beta, the signal holds; holding 1.5 more means BUY 1.5."""
    _, _, _, values = book
    changed = recompute(book, current_contracts=values[("Rebalance", "B18")])
    assert changed[("Rebalance", "B27")] == 0.0
    assert changed[("Rebalance", "B28")] == "NONE"
    assert changed[("Rebalance", "B29")] == 0.0
    assert changed[("Rebalance", "B12")] == changed[("Rebalance", "B20")]
    assert changed[("Rebalance", "C24")] is False
    assert changed[("Rebalance", "B26")] == "HOLD: inside the band"
    # What is left to add is the rounding: required short minus the short now held.
    assert changed[("Rebalance", "B17")] == pytest.approx(
        changed[("Rebalance", "B16")] - changed[("Rebalance", "B19")], rel=1e-9)
    bought_back = recompute(book, current_contracts=values[("Rebalance", "B18")] + 1.5)
    assert bought_back[("Rebalance", "B28")] == "BUY"
    assert bought_back[("Rebalance", "B29")] == pytest.approx(1.5, abs=1e-9)


# ----------------------------------------------------------------- errors ---
def test_function_errors_propagate_through_the_book(book) -> None:
    """Too few observations: every beta is #N/A, and so is everything built on them,
    while values and weights stay numbers."""
    changed = recompute(book, settings={"min_obs": 1000, "window": 0})
    for i in range(6):
        row = 5 + i
        assert changed[("Holdings", f"G{row}")] == "#N/A"
        assert changed[("Holdings", f"H{row}")] == "#N/A"  # =D*G
        assert changed[("Holdings", f"I{row}")] == "#N/A"
        assert isinstance(changed[("Holdings", f"E{row}")], float)
        assert {changed[("Stats", f"{c}{row}")] for c in "BCDEFGHIJ"} == {"#N/A"}
    for key in ("H3", "I3", "G3"):
        assert changed[("Holdings", key)] == "#N/A"
    for row in (12, 16, 18, 19, 20, 26, 27, 28, 29, 35, 36, 37, 42):
        assert changed[("Rebalance", f"B{row}")] == "#N/A", row
    assert {changed[("Scenarios", f"{c}{r}")] for c in "ABCDE" for r in range(5, 18)} == {
        "#N/A"}
    assert changed[("Start", "C8")] == "#N/A"
    assert isinstance(changed[("Start", "C7")], float)


def test_a_blank_price_follows_excel_rules(book) -> None:
    """A blank BTC close is 0 in the formulas: the BTC-benchmark cell shows 0 (so the
    'vs benchmark' betas are #NUM!), the 50/50 chain takes r = -1 there and then divides
    by zero (#DIV/0! onwards); the 'to BTC' betas skip the gap."""
    inputs = book[1]
    prices = inputs.prices.copy()
    t = 700
    prices.iloc[t, 0] = np.nan  # BTC
    btc_mode = recompute(book, prices=prices)
    assert btc_mode[("Benchmark", f"I{2 + t}")] == 0.0
    assert btc_mode[("Holdings", "F5")] == "#NUM!"
    assert isinstance(btc_mode[("Holdings", "G5")], float)
    mixed = recompute(book, prices=prices, settings={"benchmark": MIX})
    btc, eth = PRICES["BTC"].to_numpy(), PRICES["ETH"].to_numpy()
    previous = mixed[("Benchmark", f"I{1 + t}")]
    expected = previous * (1 + 0.5 * (0 / btc[t - 1] - 1) + 0.5 * (eth[t] / eth[t - 1] - 1))
    assert mixed[("Benchmark", f"I{2 + t}")] == expected
    assert {mixed[("Benchmark", f"I{2 + s}")] for s in range(t + 1, len(btc))} == {"#DIV/0!"}
    assert mixed[("Holdings", "F5")] == "#DIV/0!"
    assert mixed[("Holdings", "F3")] == "#DIV/0!"


def test_inputs_must_match_the_layout(book) -> None:
    """Inputs whose holdings, price columns or dates differ from the workbook's are refused."""
    _, inputs, layout, _ = book
    with pytest.raises(UnknownNameError, match="holdings"):
        compute_values(dataclasses.replace(inputs, holdings=inputs.holdings.iloc[:2]), layout)
    with pytest.raises(UnknownNameError, match="price columns"):
        compute_values(dataclasses.replace(inputs, prices=inputs.prices.iloc[:, ::-1]), layout)
    with pytest.raises(InsufficientDataError, match="dates"):
        compute_values(dataclasses.replace(inputs, prices=inputs.prices.iloc[:-1]), layout)


# ------------------------------------------------------- workbooks and files ---
def small_inputs(**settings) -> BookInputs:
    dates = pd.date_range("2026-01-01", periods=40, freq="D", name="date")
    rng = np.random.default_rng(3)
    btc = 100.0 * np.cumprod(1 + rng.normal(0, 0.02, 40))
    prices = pd.DataFrame({"BTC": btc, "ETH": 10.0 * np.cumprod(1 + rng.normal(0, 0.03, 40)),
                           "AAA": 5.0 * np.cumprod(1 + rng.normal(0, 0.04, 40))}, index=dates)
    holdings = pd.DataFrame({"asset": ["AAA", "ETH"], "quantity": [100.0, -3.0]})
    return BookInputs(prices=prices, holdings=holdings,
                      settings=BookSettings(window=0, min_obs=10, rolling_window=10,
                                            **settings),
                      current_contracts=0.5)


def test_fill_workbook_round_trips_the_inputs() -> None:
    """A filled template reads back as the same prices, holdings, settings and position."""
    inputs = small_inputs(benchmark=MIX, target_beta=0.25, futures_price=123.5)
    back = read_inputs(fill_workbook(inputs))
    pd.testing.assert_frame_equal(back.prices, inputs.prices, check_freq=False)
    pd.testing.assert_frame_equal(back.holdings, inputs.holdings)
    assert back.settings == inputs.settings
    assert back.current_contracts == 0.5


def test_compute_workbook_writes_values_for_an_edited_workbook(tmp_path: Path) -> None:
    """A user edits a quantity and the target beta; the computed copy shows value =
    quantity x last price and the hedge for the new target, formulas unchanged."""
    inputs = small_inputs()
    src = tmp_path / "book.xlsx"
    wb = fill_workbook(inputs)
    wb["Holdings"]["B5"] = 250.0
    wb[name_key(wb, "TargetBeta")[0]][name_key(wb, "TargetBeta")[1]] = 0.1
    wb.save(src)
    messages: list[str] = []
    out = compute_workbook(src, tmp_path / "out.xlsx", progress=messages.append)
    assert messages[-1] == "done"
    got = openpyxl.load_workbook(out, data_only=True)
    last_aaa = inputs.prices["AAA"].iloc[-1]
    last_eth = inputs.prices["ETH"].iloc[-1]
    assert got["Holdings"]["D5"].value == 250.0 * last_aaa
    value = 250.0 * last_aaa - 3.0 * last_eth
    assert got["Holdings"]["D3"].value == pytest.approx(value, rel=1e-15)
    betas = [got["Holdings"][f"G{r}"].value for r in (5, 6)]
    dollar_beta = 250.0 * last_aaa * betas[0] - 3.0 * last_eth * betas[1]
    assert got["Rebalance"]["B16"].value == pytest.approx(dollar_beta - 0.1 * value, rel=1e-12)
    formulas = openpyxl.load_workbook(out)
    assert {(c.sheet, c.coordinate, c.formula) for c in formula_cells(formulas)} == {
        (c.sheet, c.coordinate, c.formula) for c in formula_cells(openpyxl.load_workbook(src))}
    blank = [k for k in expand(formulas) if got[k[0]][k[1]].value is None]
    assert blank == []


def test_compute_workbook_refuses_foreign_formulas_and_overwrites(tmp_path: Path) -> None:
    """A formula that is not the template's is refused naming the cell; an existing output
    is not replaced without force."""
    src = tmp_path / "book.xlsx"
    wb = fill_workbook(small_inputs())
    wb["Holdings"]["D6"] = "=B6*C6*2"
    wb.save(src)
    with pytest.raises(DomainError, match=r"Holdings!D6 must hold the formula '=B6\*C6'"):
        compute_workbook(src, tmp_path / "out.xlsx")
    assert not (tmp_path / "out.xlsx").exists()
    fill_workbook(small_inputs()).save(src)
    (tmp_path / "out.xlsx").write_bytes(b"old")
    with pytest.raises(FileProblemError, match="exists"):
        compute_workbook(src, tmp_path / "out.xlsx")
    assert (tmp_path / "out.xlsx").read_bytes() == b"old"
    compute_workbook(src, tmp_path / "out.xlsx", force=True)
    assert zipfile.is_zipfile(tmp_path / "out.xlsx")


def test_build_committed_templates(tmp_path: Path) -> None:
    """Both templates are written with a cached value in every formula cell, the .xlsm
    carries the generated VBA project, and no temporary file is left."""
    xlsx, xlsm = build_committed_templates(tmp_path)
    assert sorted(p.name for p in (tmp_path / "templates").iterdir()) == ["BetaNeutral.xlsx"]
    assert xlsm == tmp_path / "BetaNeutral.xlsm"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["BetaNeutral.xlsm", "templates"]
    for path in (xlsx, xlsm):
        got = openpyxl.load_workbook(path, data_only=True)
        formulas = openpyxl.load_workbook(path)
        cells = expand(formulas)
        assert len(cells) > 6000
        assert all(got[s][c].value is not None for s, c in cells)
        # Spot check against hand arithmetic: portfolio value = sum(quantity x last price).
        total = float(np.sum(HOLDINGS["quantity"].to_numpy()
                             * LAST[HOLDINGS["asset"]].to_numpy()))
        assert got["Holdings"]["D3"].value == pytest.approx(total, rel=1e-15)
    with zipfile.ZipFile(xlsm) as zf:
        assert zf.read("xl/vbaProject.bin") == vba_project([f"Sheet{i}" for i in range(1, 13)])
    assert not math.isnan(got["Holdings"]["G5"].value)
