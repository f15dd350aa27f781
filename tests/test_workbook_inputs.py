"""Reading a book's inputs from a workbook or from CSV files (betaneutral.workbook.inputs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from betaneutral.archive import UnsafeWorkbookError
from betaneutral.bookdata import SETTINGS_NAMES, BookInputs, BookSettings
from betaneutral.errors import DomainError, InputTypeError, UnknownNameError
from betaneutral.sample import sample_holdings, sample_prices
from betaneutral.sources import read_csv_inputs
from betaneutral.workbook import build_workbook
from betaneutral.workbook.inputs import read_inputs
from betaneutral.workbook.names import name_destinations


def name_cell(wb: openpyxl.Workbook, name: str):
    ((sheet, ref),) = [name_destinations(wb, [name])[name]]
    return wb[sheet][ref.replace("$", "").split(":")[0]]


def small_book() -> tuple[pd.DataFrame, pd.DataFrame]:
    dates = pd.date_range("2026-01-01", periods=6, freq="D")
    prices = pd.DataFrame({"BTC": [100.0, 101, 99, 102, 103, 104],
                           "ETH": [10.0, 10.2, 9.9, 10.1, 10.4, 10.3],
                           "AAA": [5.0, 5.1, np.nan, 5.3, 5.2, 5.5]}, index=dates)
    holdings = pd.DataFrame({"asset": ["AAA", "ETH"], "quantity": [100.0, -3.0]})
    return prices, holdings


@pytest.fixture
def small_wb() -> openpyxl.Workbook:
    prices, holdings = small_book()
    return build_workbook(prices=prices, holdings=holdings)


# ------------------------------------------------------------------ workbook ---
def test_sample_workbook_reads_back_its_data() -> None:
    """The sample template reads back as the sample prices (BTC, ETH, held assets), the
    sample holdings, the default settings and no position."""
    wb = build_workbook()
    got = read_inputs(wb)
    columns = list(dict.fromkeys(["BTC", "ETH", *sample_holdings()["asset"]]))
    expected = sample_prices()[columns]
    np.testing.assert_array_equal(got.prices.to_numpy(), expected.to_numpy())
    assert list(got.prices.index) == list(expected.index)
    pd.testing.assert_frame_equal(got.holdings, sample_holdings())
    assert got.settings == BookSettings()
    assert got.settings.futures_price is None
    assert got.current_contracts == 0.0


def test_settings_defaults_are_the_template_defaults() -> None:
    """Every BookSettings default equals the value of its Settings cell in the template."""
    wb = build_workbook()
    for field, name in SETTINGS_NAMES.items():
        cell = name_cell(wb, name)
        default = getattr(BookSettings(), field)
        if field == "futures_price":
            assert default is None
            assert cell.value == "=INDEX(BTCPrices,ROWS(BTCPrices))"
        else:
            assert cell.value == default, field


def test_saved_file_reads_like_the_workbook(small_wb, tmp_path: Path) -> None:
    """Reading the saved file gives what reading the workbook object gives; a blank price
    is NaN, not filled."""
    path = tmp_path / "book.xlsx"
    small_wb.save(path)
    from_file, in_memory = read_inputs(path), read_inputs(small_wb)
    pd.testing.assert_frame_equal(from_file.prices, in_memory.prices)
    assert np.isnan(from_file.prices.loc["2026-01-03", "AAA"])
    assert from_file.settings == in_memory.settings


def test_user_edits_are_read(small_wb) -> None:
    """Edited quantities, settings, a typed futures price and the position are read."""
    small_wb["Holdings"]["B6"] = 7.5
    name_cell(small_wb, "TargetBeta").value = 0.2
    name_cell(small_wb, "BenchmarkChoice").value = "btc/eth 50/50"
    name_cell(small_wb, "FuturesPrice").value = 105.5
    name_cell(small_wb, "CurrentContracts").value = -2
    got = read_inputs(small_wb)
    assert got.holdings["quantity"].tolist() == [100.0, 7.5]
    assert got.settings.target_beta == 0.2
    assert got.settings.benchmark == "btc/eth 50/50"  # kept as typed; Excel's = ignores case
    assert got.settings.futures_price == 105.5
    assert got.current_contracts == -2.0


@pytest.mark.parametrize(
    ("edit", "error", "message"),
    [
        (lambda wb: wb["Holdings"].__setitem__("B6", "abc"), InputTypeError,
         "Holdings!B6: quantity must be a number, got 'abc'"),
        (lambda wb: wb["Holdings"].__setitem__("B5", None), InputTypeError,
         "Holdings!B5: quantity must be a number, got a blank cell"),
        (lambda wb: wb["Holdings"].__setitem__("B5", "=2*3"), InputTypeError,
         r"Holdings!B5: quantity must be a number, got the formula '=2\*3'"),
        (lambda wb: wb["Benchmark"].__setitem__("D4", "n/a"), InputTypeError,
         "Benchmark!D4: price of AAA must be a number > 0 or blank, got 'n/a'"),
        (lambda wb: wb["Benchmark"].__setitem__("B3", -1.0), DomainError,
         r"Benchmark!B3: price of BTC must be > 0, got -1.0"),
        (lambda wb: wb["Benchmark"].__setitem__("A4", "2026-01-02"), InputTypeError,
         "Benchmark!A4: date must be a date cell, got '2026-01-02'"),
        (lambda wb: wb["Benchmark"]["A4"].__setattr__("value", wb["Benchmark"]["A2"].value),
         DomainError, "Benchmark!A4: dates must be strictly increasing"),
        (lambda wb: name_cell(wb, "Window").__setattr__("value", 2.5), DomainError,
         r"Settings!B7: window must be a whole number, got 2.5"),
        (lambda wb: name_cell(wb, "TargetBeta").__setattr__("value", 3), DomainError,
         r"Settings!B10: target_beta must be in \[-2, 2\], got 3.0"),
        (lambda wb: name_cell(wb, "BenchmarkChoice").__setattr__("value", " BTC"),
         UnknownNameError, "Settings!B5: benchmark must be one of .* without surrounding"),
        (lambda wb: name_cell(wb, "BetaMethod").__setattr__("value", "median"),
         UnknownNameError,
         r"Settings!B8: beta_method must be one of \['ols', 'blume', 'ewma', 'ewls', 'welch', "
         r"'welch-decay', 'vasicek', 'vasicek-ewls', 'vasicek-welch', "
         r"'vasicek-welch-decay'\]"),
        (lambda wb: name_cell(wb, "HedgeContract").__setattr__("value", "NOPE:BTC"),
         UnknownNameError, "Settings!B12: hedge_contract must be one of .*BINANCE:BTCUSDT"),
        (lambda wb: name_cell(wb, "MinObs").__setattr__("value", None), InputTypeError,
         "Settings!B9: min_obs must be given, got a blank cell"),
        (lambda wb: name_cell(wb, "FuturesPrice").__setattr__("value", "=B2*2"),
         InputTypeError, "Settings!B13: futures_price must be a number > 0 or the formula"),
        (lambda wb: name_cell(wb, "StressMove").__setattr__("value", "=0.1+0.2"),
         InputTypeError, "Settings!B14: stress_move must be a value, got the formula"),
        (lambda wb: name_cell(wb, "CurrentContracts").__setattr__("value", "two"),
         InputTypeError, "Rebalance!B5: current_contracts must be a number, got 'two'"),
        (lambda wb: wb["Holdings"].__setitem__("A6", "ZZZ"), UnknownNameError,
         "Holdings!A6: asset must be one of the price columns"),
    ],
)
def test_bad_cells_name_sheet_cell_and_rule(small_wb, edit, error, message) -> None:
    """A bad input cell raises the typed error whose message names the sheet, the cell
    and the rule."""
    edit(small_wb)
    with pytest.raises(error, match=message):
        read_inputs(small_wb)


def test_missing_names_and_sheets_are_named(small_wb) -> None:
    """A missing defined name, or a name pointing at a deleted sheet, raises
    UnknownNameError naming it."""
    del small_wb.defined_names["Window"]
    with pytest.raises(UnknownNameError, match=r"names \['Window'\]"):
        read_inputs(small_wb)
    prices, holdings = small_book()
    wb = build_workbook(prices=prices, holdings=holdings)
    wb.remove(wb["Settings"])
    with pytest.raises(UnknownNameError, match=r"sheets \['Settings'\]"):
        read_inputs(wb)


def test_a_file_that_is_not_a_workbook(tmp_path: Path) -> None:
    """A missing file or a file that is not a zip package raises a typed error."""
    with pytest.raises(UnknownNameError, match="existing file"):
        read_inputs(tmp_path / "nope.xlsx")
    fake = tmp_path / "fake.xlsx"
    fake.write_text("date,BTC\n")
    with pytest.raises(UnsafeWorkbookError, match="not a zip"):
        read_inputs(fake)


def test_book_settings_check_their_values() -> None:
    """BookSettings built in Python applies the same rules (message names the field)."""
    with pytest.raises(DomainError, match="rolling_window must be >= 3, got 2"):
        BookSettings(rolling_window=2)
    with pytest.raises(DomainError, match="safety_multiplier must be >= 1"):
        BookSettings(safety_multiplier=0.5)
    with pytest.raises(DomainError, match="futures_price must be > 0"):
        BookSettings(futures_price=0.0)
    assert dataclasses.replace(BookSettings(), return_type="LOG").return_type == "LOG"


# ----------------------------------------------------------------------- CSV ---
def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


HOLDINGS_CSV = "asset,quantity\nAAA,100\nETH,-3\n"
WIDE_CSV = (
    "date,BTC,ETH,AAA,XYZ\n"
    "2026-01-01,100,10,5,1\n"
    "2026-01-02T00:00:00Z,101,10.2,5.1,1\n"
    "2026-01-02T22:00:00-05:00,99,9.9,,1\n"  # 03:00 UTC on 2026-01-03
    "2026-01-04 00:00,102,10.1,5.3,1\n"
)
LONG_CSV = (
    "symbol,date,close\n"
    "BTC,2026-01-01,100\nETH,2026-01-01,10\nAAA,2026-01-01,5\n"
    "ETH,2026-01-02,10.2\nBTC,2026-01-02,101\nAAA,2026-01-02,5.1\n"
    "BTC,2026-01-03T03:00:00+00:00,99\nETH,2026-01-03,9.9\n"
    "BTC,2026-01-04,102\nETH,2026-01-04,10.1\nAAA,2026-01-04,5.3\n"
)
EXPECTED = pd.DataFrame(
    {"BTC": [100.0, 101, 99, 102], "ETH": [10.0, 10.2, 9.9, 10.1],
     "AAA": [5.0, 5.1, np.nan, 5.3]},
    index=pd.DatetimeIndex(pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03",
                                           "2026-01-04"]), name="date"))


def test_wide_csv_with_utc_timestamps(tmp_path: Path) -> None:
    """Wide prices: zoned timestamps are converted to UTC days (22:00 at -05:00 is the
    next UTC day), naive ones are UTC; a blank is NaN; unheld columns are dropped and the
    columns are BTC, ETH, then the holdings."""
    got = read_csv_inputs(write(tmp_path / "h.csv", HOLDINGS_CSV),
                          write(tmp_path / "p.csv", WIDE_CSV))
    pd.testing.assert_frame_equal(got.prices, EXPECTED)
    assert got.prices.index.tz is None
    pd.testing.assert_frame_equal(got.holdings, pd.DataFrame({"asset": ["AAA", "ETH"],
                                                              "quantity": [100.0, -3.0]}))
    assert got.settings == BookSettings()


def test_long_csv_equals_wide(tmp_path: Path) -> None:
    """Long prices (date, symbol, close in any order) give the same table; a missing
    (date, symbol) pair is NaN, not filled."""
    got = read_csv_inputs(write(tmp_path / "h.csv", HOLDINGS_CSV),
                          write(tmp_path / "p.csv", LONG_CSV))
    pd.testing.assert_frame_equal(got.prices, EXPECTED)


def test_holdings_price_column_and_settings_toml(tmp_path: Path) -> None:
    """An optional holdings price column is kept; TOML keys may be field or defined names,
    absent keys keep the defaults."""
    holdings = write(tmp_path / "h.csv", "Asset,Quantity,Price\nAAA,100,5.4\nETH,-3,\n")
    settings = write(tmp_path / "s.toml", 'TargetBeta = 0.25\nbeta_method = "blume"\n'
                     "futures_price = 101.5\ncurrent_contracts = 1.5\n")
    got = read_csv_inputs(holdings, write(tmp_path / "p.csv", WIDE_CSV), settings)
    assert got.holdings["price"].iloc[0] == 5.4
    assert np.isnan(got.holdings["price"].iloc[1])
    assert got.settings == BookSettings(target_beta=0.25, beta_method="blume",
                                        futures_price=101.5)
    assert got.current_contracts == 1.5


@pytest.mark.parametrize(
    ("holdings", "prices", "error", "message"),
    [
        (HOLDINGS_CSV, WIDE_CSV.replace("10.2,5.1", "abc,5.1"), InputTypeError,
         r"p.csv row 3, column 'ETH': price of ETH must be a number, got 'abc'"),
        (HOLDINGS_CSV, WIDE_CSV.replace("10.2,5.1", "-10.2,5.1"), DomainError,
         r"p.csv row 3, column 'ETH': price of ETH must be > 0, got -10.2"),
        (HOLDINGS_CSV, WIDE_CSV.replace("10.2,5.1", "nan,5.1"), DomainError,
         r"p.csv row 3, column 'ETH': price of ETH must be finite"),
        (HOLDINGS_CSV, WIDE_CSV.replace("2026-01-04 00:00", "04/01/26 x"), InputTypeError,
         r"p.csv row 5, column 'date': date must be an ISO 8601"),
        (HOLDINGS_CSV, WIDE_CSV.replace("2026-01-04 00:00", "2026-01-03T20:00:00Z"),
         DomainError, r"p.csv row 5, column 'date': dates must be unique UTC days, got "
                      r"2026-01-03 again \(first in row 4\)"),
        (HOLDINGS_CSV, WIDE_CSV.replace(",1\n2026-01-04", "\n2026-01-04"), InputTypeError,
         r"p.csv row 4: row must have 5 fields"),
        (HOLDINGS_CSV, WIDE_CSV.replace("BTC,ETH", "BTC,eth"), InputTypeError,
         r"p.csv row 1, column 'eth': asset column must match"),
        (HOLDINGS_CSV, WIDE_CSV.replace("BTC,ETH,AAA", "BTC,ETC,AAA"), UnknownNameError,
         r"prices must have a 'ETH' column"),
        (HOLDINGS_CSV, LONG_CSV + "BTC,2026-01-04,103\n", DomainError,
         r"p.csv row 13: \(date, symbol\) must be unique, got 2026-01-04 BTC again "
         r"\(first in row 10\)"),
        ("asset,quantity\nAAA,\n", WIDE_CSV, InputTypeError,
         r"h.csv row 2, column 'quantity': quantity must be a number, got a blank field"),
        ("asset,quantity\nAAA,1\nQQQ,2\n", WIDE_CSV, UnknownNameError,
         r"h.csv row 3, column 'asset': asset must be one of the price columns"),
        ("asset,qty\nAAA,1\n", WIDE_CSV, UnknownNameError,
         r"h.csv row 1: holdings must have the columns asset, quantity"),
        ("asset,quantity\n", WIDE_CSV, Exception, r"h.csv: holdings must have >= 1 row"),
    ],
)
def test_csv_errors_name_file_row_and_column(tmp_path: Path, holdings, prices, error,
                                             message) -> None:
    """Bad CSV fields raise typed errors naming the file, the row (header = row 1) and
    the column."""
    with pytest.raises(error, match=message):
        read_csv_inputs(write(tmp_path / "h.csv", holdings), write(tmp_path / "p.csv", prices))


@pytest.mark.parametrize(
    ("toml", "error", "message"),
    [
        ("target = 0.1\n", UnknownNameError, r"s.toml: key 'target' must be one of"),
        ("window = -1\n", DomainError, r"s.toml: key 'window': window must be >= 0, got -1"),
        ('benchmark = "ETH"\n', UnknownNameError, r"s.toml: key 'benchmark': benchmark must"),
        ("window = 1\nWindow = 2\n", DomainError, r"s.toml: key 'Window' sets window again"),
        ("window = \n", InputTypeError, r"s.toml: settings must be valid TOML"),
        ('current_contracts = "x"\n', InputTypeError,
         r"s.toml: key 'current_contracts': current_contracts must be a number"),
    ],
)
def test_toml_errors_name_file_and_key(tmp_path: Path, toml, error, message) -> None:
    """Unknown keys, repeated keys, invalid TOML and out-of-rule values name the file and key."""
    with pytest.raises(error, match=message):
        read_csv_inputs(write(tmp_path / "h.csv", HOLDINGS_CSV),
                        write(tmp_path / "p.csv", WIDE_CSV), write(tmp_path / "s.toml", toml))


def test_book_inputs_type_checks() -> None:
    """BookInputs refuses non-DataFrame prices and a non-numeric position."""
    prices, holdings = small_book()
    with pytest.raises(InputTypeError, match="prices must be a pandas DataFrame"):
        BookInputs(prices=prices.to_dict(), holdings=holdings)
    with pytest.raises(InputTypeError, match="current_contracts must be a number"):
        BookInputs(prices=prices, holdings=holdings, current_contracts="1")
