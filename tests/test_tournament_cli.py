"""``betaneutral backtest --estimators``: the file, the console table, the Backtest sheet, and
hourly closes end to end."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest

from betaneutral.backtest_io import OUTPUT_FILES, TOURNAMENT_FILE
from betaneutral.cli import EXIT_DATA, EXIT_OK, EXIT_USAGE, main
from betaneutral.core.backtest import backtest_hedge
from betaneutral.core.contracts import get_contract
from betaneutral.core.intraday import daily_closes, intraday_prices
from betaneutral.core.tournament import TOURNAMENT_COLUMNS, estimator_tournament
from betaneutral.sample import sample_holdings, sample_prices
from betaneutral.workbook import backtest_sheet as bs
from sample_files import write_sample_csvs

ESTIMATORS = "ols,ewls,welch,welch-decay,vasicek"


def _csv_inputs(tmp_path, days=300):
    h, p = write_sample_csvs(tmp_path, days)
    return h, p, sample_prices(days=days), sample_holdings()


def test_tournament_file_and_console_match_the_core(tmp_path, capsys):
    h, p, prices, holdings = _csv_inputs(tmp_path)
    out = tmp_path / "out"
    assert main(["backtest", "--holdings", str(h), "--prices", str(p), "-o", str(out),
                 "--estimators", ESTIMATORS, "--windows", "30,90,180", "--quiet"]) == EXIT_OK
    assert sorted(f.name for f in out.iterdir()) == sorted([*OUTPUT_FILES, TOURNAMENT_FILE])
    table = pd.read_csv(out / TOURNAMENT_FILE, comment="#")
    assert tuple(table.columns) == TOURNAMENT_COLUMNS
    assert len(table) == 15
    assets = list(holdings["asset"])
    core = estimator_tournament(
        prices[assets], prices["BTC"].to_numpy(), holdings["quantity"].to_numpy(),
        get_contract("BINANCE:BTCUSDT"), estimators=ESTIMATORS.split(","),
        windows=[30, 90, 180], default=("ols", 90), dates=prices.index, min_obs=60,
        fee_bps=5.0, funding_rate_8h=0.0001)
    assert table["candidate"].tolist() == core.table["candidate"].tolist()
    np.testing.assert_allclose(table["variance_ratio"], core.table["variance_ratio"],
                               rtol=1e-12)
    text = (out / TOURNAMENT_FILE).read_text(encoding="utf-8")
    rec = [line for line in text.splitlines() if line.startswith("# recommendation,")]
    assert len(rec) == 1
    assert core.recommendation in rec[0]
    printed = capsys.readouterr().out
    assert "Estimators (same book and costs" in printed
    assert core.recommendation in printed
    if core.test is not None:
        assert f"p = {core.test.p_value:.4f}" in printed


def test_tournament_on_the_backtest_sheet_and_cleared_without_one(tmp_path):
    h, p, _, _ = _csv_inputs(tmp_path)
    book = tmp_path / "book.xlsx"
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o", str(book),
                 "--quiet"]) == EXIT_OK
    out = tmp_path / "res"
    assert main(["backtest", str(book), "-o", str(out), "--estimators", "ols,ewls,welch",
                 "--windows", "30,90", "--quiet"]) == EXIT_OK
    filled = out / "book-backtest.xlsx"
    ws = openpyxl.load_workbook(filled, data_only=True)[bs.SHEET]
    col = bs.TOURNAMENT_FIRST_COL
    table = pd.read_csv(out / TOURNAMENT_FILE, comment="#")
    text = ws.cell(bs.TOURNAMENT_TEXT_ROW, col).value
    assert text.startswith(("Use ", "Keep "))
    header = [ws.cell(bs.TOURNAMENT_HEADER_ROW, col + j).value
              for j in range(len(bs.TOURNAMENT_HEADER))]
    assert header == [label for _, label in bs.TOURNAMENT_HEADER]
    first = bs.TOURNAMENT_HEADER_ROW + 1
    assert [ws.cell(first + r, col + 1).value for r in range(len(table))] == \
        table["candidate"].tolist()
    assert ws.cell(first, col + 3).value == pytest.approx(table["variance_ratio"].iloc[0],
                                                          rel=1e-12)
    # compute on the filled book replays the book's own policy only: the block is cleared
    again = tmp_path / "again.xlsx"
    assert main(["compute", str(filled), "-o", str(again), "--quiet"]) == EXIT_OK
    ws2 = openpyxl.load_workbook(again, data_only=True)[bs.SHEET]
    assert ws2.cell(bs.TOURNAMENT_TEXT_ROW, col).value is None
    assert ws2.cell(first, col + 1).value is None


@pytest.mark.parametrize(("argv", "needle"), [
    (["--estimators", "ols,bogus"], "estimators must be"),
    (["--estimators", "ols", "--windows", "2"], "windows must be"),
    (["--estimators", "ols", "--half-life", "0"], "half-life must be"),
])
def test_bad_tournament_options_are_usage_errors(tmp_path, capsys, argv, needle):
    h, p, _, _ = _csv_inputs(tmp_path, days=120)
    assert main(["backtest", "--holdings", str(h), "--prices", str(p), "-o",
                 str(tmp_path / "o"), "--quiet", *argv]) == EXIT_USAGE
    assert needle in capsys.readouterr().err


def _hourly_files(tmp_path, days=150):
    rng = np.random.default_rng(7)
    hours = days * 24
    rb = rng.normal(0.0, 0.006, hours - 1)
    moves = {"BTC": rb, "ETH": 1.2 * rb + rng.normal(0, 0.004, hours - 1),
             "SOL": 1.6 * rb + rng.normal(0, 0.006, hours - 1)}
    times = pd.date_range("2024-01-01", periods=hours, freq="h")
    closes = pd.DataFrame({k: 100 * np.cumprod(np.r_[1.0, 1.0 + v]) for k, v in moves.items()},
                          index=times)
    p = tmp_path / "hourly.csv"
    closes.set_axis(times.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(p, index_label="time")
    h = tmp_path / "holdings.csv"
    h.write_text("asset,quantity\nETH,100\nSOL,300\n", encoding="utf-8")
    return h, p, closes


def test_hourly_closes_end_to_end(tmp_path):
    """An hourly prices file: the book is valued at each day's last close, the betas come
    from the hourly returns (the core replay with the same intraday prices)."""
    h, p, closes = _hourly_files(tmp_path)
    out = tmp_path / "out"
    assert main(["backtest", "--holdings", str(h), "--prices", str(p), "-o", str(out),
                 "--estimators", "ols,realised", "--windows", "30", "--quiet"]) == EXIT_OK
    daily = pd.read_csv(out / "backtest_daily.csv")
    closes_daily = daily_closes(closes)
    assert len(daily) == 150
    core = backtest_hedge(closes_daily[["ETH", "SOL"]], closes_daily["BTC"].to_numpy(),
                          [100.0, 300.0], get_contract("BINANCE:BTCUSDT"),
                          dates=closes_daily.index, window=90, min_obs=60,
                          intraday=intraday_prices(closes[["ETH", "SOL"]], closes["BTC"]))
    np.testing.assert_allclose(daily["dollar_beta_usd"], core.daily["dollar_beta_usd"],
                               rtol=1e-12)
    np.testing.assert_array_equal(daily["hedge_contracts"], core.daily["hedge_contracts"])
    summary = pd.read_csv(out / "backtest_summary.csv").set_index("metric")["value"]
    assert summary["setting:method"] == "ols, from 24 returns a day"
    table = pd.read_csv(out / TOURNAMENT_FILE, comment="#")
    assert set(table["candidate"]) == {"ols 30d", "realised 30d", "ols 90d"}


def test_hourly_file_with_a_holdings_history_is_refused(tmp_path, capsys):
    _, p, _ = _hourly_files(tmp_path, days=10)
    h = tmp_path / "hist.csv"
    h.write_text("date,asset,quantity\n2024-01-01,ETH,1\n", encoding="utf-8")
    assert main(["backtest", "--holdings", str(h), "--prices", str(p), "-o",
                 str(tmp_path / "o"), "--quiet"]) == EXIT_DATA
    assert "needs daily prices" in capsys.readouterr().err
