"""No silent wrong hedge: each reported case, as a new user would meet it, is a test.

Every figure is right (checked against a number computed here from the inputs) or the
command stops with a non-zero exit and a message naming the cause.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from betaneutral import udfs
from betaneutral.cli import EXIT_DATA, EXIT_OK, EXIT_USAGE, _summary_rows, main
from betaneutral.sample import sample_holdings, sample_prices
from betaneutral.workbook.names import name_destinations

ROOT = Path(__file__).resolve().parents[1]


def named(path: Path, *names: str) -> list[object]:
    wb = openpyxl.load_workbook(path, data_only=True)
    out = []
    for name in names:
        ((sheet, ref),) = [name_destinations(wb, [name])[name]]
        out.append(wb[sheet][ref.replace("$", "").split(":")[0]].value)
    return out


def write_book_csvs(folder: Path, prices: pd.DataFrame, holdings: pd.DataFrame,
                    date_format: str = "%Y-%m-%d") -> tuple[Path, Path]:
    p, h = folder / "prices.csv", folder / "holdings.csv"
    prices.to_csv(p, index_label="date", date_format=date_format)
    holdings.to_csv(h, index=False)
    return h, p


@pytest.fixture
def sample_book(tmp_path):
    prices = sample_prices(days=200)
    prices.index = pd.date_range("2024-06-01", periods=200, freq="D")
    return prices, sample_holdings()


# ------------------------------------------------------------------ dates
@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%d.%m.%Y", "%d-%m-%y", "%m/%d/%Y"])
def test_day_first_dates_give_the_iso_book(tmp_path, sample_book, fmt):
    """`01/10/2024` was read as 10 January: the book then valued the wrong closes."""
    prices, holdings = sample_book
    books = []
    for name, f in (("iso", "%Y-%m-%d"), ("other", fmt)):
        folder = tmp_path / name
        folder.mkdir()
        h, p = write_book_csvs(folder, prices, holdings, f)
        assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o",
                     str(folder / "b.xlsx"), "--quiet"]) == EXIT_OK
        books.append(named(folder / "b.xlsx", "PortfolioValue", "TargetContracts"))
    assert books[0] == books[1]
    last = prices.iloc[-1]
    value = float((holdings["quantity"].to_numpy() * last[holdings["asset"]].to_numpy()).sum())
    assert books[0][0] == pytest.approx(value, rel=1e-12)


def test_an_ambiguous_date_column_is_refused(tmp_path, sample_book, capsys):
    prices, holdings = sample_book
    prices = prices.iloc[:12]  # 2024-06-01..12: every day and month <= 12
    h, p = write_book_csvs(tmp_path, prices, holdings, "%d/%m/%Y")
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o",
                 str(tmp_path / "b.xlsx")]) == EXIT_DATA
    err = capsys.readouterr().err
    assert "column 'date'" in err
    assert "'01/06/2024' (row 2)" in err
    assert "--date-format" in err
    assert not (tmp_path / "b.xlsx").exists()


# ------------------------------------------------------------------ valuation date
def test_a_blank_last_close_of_a_holding_is_refused(tmp_path, sample_book, capsys):
    """It was valued at 0 and the hedge came out 20% short, without a warning."""
    prices, holdings = sample_book
    prices.iloc[-1, prices.columns.get_loc("SOL")] = np.nan
    h, p = write_book_csvs(tmp_path, prices, holdings)
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o",
                 str(tmp_path / "b.xlsx")]) == EXIT_DATA
    err = capsys.readouterr().err
    assert "SOL must have a close on the valuation date 2024-12-17" in err
    assert "latest close is 2024-12-16" in err
    assert not (tmp_path / "b.xlsx").exists()


# ------------------------------------------------------------------ margin rule
def test_liquidation_price_with_the_buffer_collateral_is_the_stress_price():
    """83,241 was shown instead of the stress price 83,200 (64,000 x 1.3)."""
    collateral = udfs.MARGIN_BUFFER(121_000, 64_000, 0.3, "BINANCE:BTCUSDT")
    contracts = 121_000 / 64_000
    assert udfs.LIQUIDATION_PRICE(contracts, 64_000, collateral,
                                  "BINANCE:BTCUSDT") == pytest.approx(83_200.0, abs=0.005)


def test_bybit_example_with_the_choice_of_basis():
    row = [["linear", 1, 0.001, 0.001, 0.005]]
    assert udfs.LIQUIDATION_PRICE(1, 8000, 200, row, "entry") == pytest.approx(8_160, abs=0.005)
    assert udfs.CONTRACT_SPEC("BYBIT:BTCUSDT", "maintenance_basis") == "entry"


# ------------------------------------------------------------------ summary lines
def test_summary_prints_ordered_contracts_and_the_residual_against_the_target():
    summary = {"PortfolioValue": 1.0, "PortfolioBeta": 1.0, "HedgeContract": "X",
               "FuturesPrice": 1.0, "TargetHedgeUSD": 1.0, "TargetContracts": 19.174,
               "ResidualBeta": 0.100007, "CurrentContracts": 12.345, "CurrentBeta": 1.0,
               "Drift": 0.0, "Action": "HOLD", "OrderSide": "SELL", "OrderContracts": 6.829,
               "MarginBuffer": 1.0, "SettlementCurrency": "USDT", "LiquidationPrice": 1.0,
               "FundingCostUSD": 1.0, "TargetBeta": 0.1}
    rows = dict(_summary_rows(summary))
    assert rows["Contracts to short"] == "19.174"
    assert rows["Current position (contracts)"] == "12.345"
    assert rows["Portfolio beta after rounding"] == "0.100007"
    assert rows["Residual beta after rounding (vs target)"] == "0.000007"
    coin = dict(_summary_rows({**summary, "MarginBuffer": 12.34567891,
                               "SettlementCurrency": "BTC"}))
    assert coin["Margin buffer (settlement currency)"] == "12.34567891"


def test_fill_summary_residual_is_relative_to_the_target(tmp_path, sample_book, capsys):
    prices, holdings = sample_book
    h, p = write_book_csvs(tmp_path, prices, holdings)
    (tmp_path / "s.toml").write_text("TargetBeta = 0.1\n", encoding="utf-8")
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "--settings",
                 str(tmp_path / "s.toml"), "-o", str(tmp_path / "b.xlsx"), "--quiet"]) == 0
    out = capsys.readouterr().out
    after, contracts = named(tmp_path / "b.xlsx", "ResidualBeta", "TargetContracts")
    line = next(ln for ln in out.splitlines() if "Residual beta after rounding" in ln)
    assert float(line.split()[-1]) == pytest.approx(after - 0.1, abs=5e-7)
    line = next(ln for ln in out.splitlines() if "Contracts to short" in ln)
    assert float(line.split()[-1].replace(",", "")) == contracts


# ------------------------------------------------------------------ backtest files
def test_backtest_daily_csv_is_finite_and_blank_where_undefined(tmp_path, sample_book):
    prices, holdings = sample_book
    h, p = write_book_csvs(tmp_path, prices, holdings)
    assert main(["backtest", "--holdings", str(h), "--prices", str(p), "-o",
                 str(tmp_path / "out"), "--quiet"]) == EXIT_OK
    for name in ("backtest_daily.csv", "backtest_summary.csv", "policies.csv"):
        text = (tmp_path / "out" / name).read_text(encoding="utf-8").lower()
        assert "inf" not in text.replace("info", ""), name
    rows = list(csv.DictReader((tmp_path / "out" / "backtest_daily.csv").open()))
    assert rows[0]["rally_to_liquidation"] == ""  # no short held yet
    assert rows[-1]["rally_to_liquidation"] != ""


# ------------------------------------------------------------------ holdings
def test_repeated_holdings_rows_make_one_holding_row(tmp_path, sample_book):
    prices, _ = sample_book
    holdings = pd.DataFrame({"asset": ["ETH"] * 10_000, "quantity": [1.0] * 10_000})
    h, p = write_book_csvs(tmp_path, prices, holdings)
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o",
                 str(tmp_path / "b.xlsx"), "--quiet"]) == EXIT_OK
    wb = openpyxl.load_workbook(tmp_path / "b.xlsx")
    ((sheet, ref),) = [name_destinations(wb, ["HoldingAssets"])["HoldingAssets"]]
    assert [c[0].value for c in wb[sheet][ref.replace("$", "")]] == ["ETH"]
    assert wb["Rolling"].max_column < 10


def test_quantity_1e308_is_refused_without_warnings(tmp_path, sample_book, capsys):
    prices, _ = sample_book
    holdings = pd.DataFrame({"asset": ["ETH"], "quantity": [1e308]})
    h, p = write_book_csvs(tmp_path, prices, holdings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning fails the test
        assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o",
                     str(tmp_path / "b.xlsx")]) == EXIT_DATA
        assert main(["backtest", "--holdings", str(h), "--prices", str(p), "-o",
                     str(tmp_path / "out")]) == EXIT_DATA
    err = capsys.readouterr().err
    assert err.count("quantity of ETH must keep its value within 1e+18 USD") == 2
    assert not (tmp_path / "out").exists()


def test_quantity_1e308_in_a_workbook_is_refused(tmp_path):
    book = tmp_path / "b.xlsx"
    wb = openpyxl.load_workbook(ROOT / "templates" / "BetaNeutral.xlsx")
    ((sheet, ref),) = [name_destinations(wb, ["HoldingQuantities"])["HoldingQuantities"]]
    wb[sheet][ref.replace("$", "").split(":")[0]].value = 1e308
    wb.save(book)
    done = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m",
                           "betaneutral.cli", "compute", str(book), "-o",
                           str(tmp_path / "o.xlsx")], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT / "addin"), "PATH": "/usr/bin"})
    assert done.returncode == EXIT_DATA, done.stderr
    assert "must keep its value within" in done.stderr
    assert "Warning" not in done.stderr


# ------------------------------------------------------------------ .xlsm into .xlsx
def test_compute_of_an_xlsm_into_an_xlsx_drops_the_macros(tmp_path):
    out = tmp_path / "out.xlsx"
    assert main(["compute", str(ROOT / "BetaNeutral.xlsm"), "-o", str(out), "--quiet"]) == 0
    with zipfile.ZipFile(out) as zf:
        assert not [n for n in zf.namelist() if "vba" in n.lower()]
        types = zf.read("[Content_Types].xml").decode()
        assert "macroEnabled" not in types
        assert "vbaProject" not in zf.read("xl/_rels/workbook.xml.rels").decode()
    oletools = pytest.importorskip("oletools.olevba")
    assert not oletools.VBA_Parser(str(out)).detect_vba_macros()
    # our own compute accepts the result (it refused an .xlsx carrying a VBA project)
    assert main(["compute", str(out), "-o", str(tmp_path / "again.xlsx"), "--quiet"]) == 0


# ------------------------------------------------------------------ settings text
@pytest.mark.parametrize("text", ["\tols", "ols\n", "\rsimple"])
def test_a_control_character_in_a_settings_text_is_refused(tmp_path, sample_book, capsys,
                                                           text):
    prices, holdings = sample_book
    h, p = write_book_csvs(tmp_path, prices, holdings)
    key = "BetaMethod" if "ols" in text else "ReturnType"
    (tmp_path / "s.toml").write_text(f"{key} = {text!r}\n".replace("'", '"'),
                                     encoding="utf-8")
    assert main(["backtest", "--holdings", str(h), "--prices", str(p), "--settings",
                 str(tmp_path / "s.toml"), "-o", str(tmp_path / "out")]) == EXIT_DATA
    assert "without control characters" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_control_character_on_the_settings_sheet_is_refused(tmp_path):
    book = tmp_path / "b.xlsx"
    wb = openpyxl.load_workbook(ROOT / "templates" / "BetaNeutral.xlsx")
    ((sheet, ref),) = [name_destinations(wb, ["BetaMethod"])["BetaMethod"]]
    wb[sheet][ref.replace("$", "")].value = "\tols"
    wb.save(book)
    assert main(["backtest", str(book), "-o", str(tmp_path / "out"), "--quiet"]) == EXIT_DATA


# ------------------------------------------------------------------ command line
@pytest.mark.parametrize("argv", [
    ["compute", "BOOK.xlsx"],
    ["compute", "BOOK.xlsx", "-o", "x.xlsx", "--in-place"],
    ["backtest", "BOOK.xlsx", "--holdings", "h.csv", "--prices", "p.csv", "-o", "out"],
    ["backtest", "--holdings", "h.csv", "-o", "out"],
    ["fill", "--holdings", "h.csv", "--prices", "p.csv", "-o", "book.csv"],
    ["tickets", "BOOK.xlsx", "-o", "x.xlsx"],
])
def test_usage_mistakes_exit_2(tmp_path, argv, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"usage: betaneutral {argv[0]}")
    assert f"betaneutral {argv[0]}: error:" in err


def test_tickets_to_a_workbook_name_is_refused_clearly(tmp_path, capsys):
    assert main(["tickets", str(ROOT / "templates" / "BetaNeutral.xlsx"), "-o",
                 str(tmp_path / "x.xlsx")]) == EXIT_USAGE
    assert "must be a CSV file" in capsys.readouterr().err
    assert not (tmp_path / "x.xlsx").exists()


def test_fill_reports_progress_on_a_terminal_unless_quiet(tmp_path, sample_book, capsys,
                                                        monkeypatch):
    prices, holdings = sample_book
    h, p = write_book_csvs(tmp_path, prices, holdings)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o",
                 str(tmp_path / "a.xlsx")]) == 0
    err = capsys.readouterr().err
    assert "... reading" in err
    assert "... computing" in err
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o",
                 str(tmp_path / "b.xlsx"), "--quiet"]) == 0
    assert "..." not in capsys.readouterr().err


def test_a_semicolon_csv_with_decimal_commas_gets_a_hint(tmp_path, sample_book, capsys):
    prices, holdings = sample_book
    p = tmp_path / "p.csv"
    prices.to_csv(p, index_label="date", sep=";", decimal=",")
    h = tmp_path / "h.csv"
    holdings.to_csv(h, index=False)
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o",
                 str(tmp_path / "b.xlsx")]) == EXIT_DATA
    err = capsys.readouterr().err
    assert "separated by semicolons (';')" in err
    assert "decimal comma" in err


def test_check_names_the_install_command_of_a_clone(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pycel", None)
    assert main(["check", str(ROOT / "templates" / "BetaNeutral.xlsx")]) == EXIT_DATA
    assert 'pip install -e ".[check]"' in capsys.readouterr().err
