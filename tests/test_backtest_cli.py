"""The backtest command and its adapter: inputs, output files, conventions, the sheet."""

from __future__ import annotations

import hashlib
import re
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

from betaneutral.backtest_io import OUTPUT_FILES
from betaneutral.cli import EXIT_DATA, EXIT_FILE, EXIT_OK, EXIT_USAGE, main
from betaneutral.core.backtest import backtest_hedge
from betaneutral.core.contracts import get_contract
from betaneutral.sample import sample_holdings, sample_prices
from betaneutral.workbook import backtest_sheet as bs
from sample_files import write_sample_csvs

REQUIRED_DAILY = ["date", "hedge_contracts", "portfolio_beta_est", "rebalanced"]


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _csv_inputs(tmp_path, days=240):
    h, p = write_sample_csvs(tmp_path, days)
    return h, p, sample_prices(days=days), sample_holdings()


def _run(tmp_path, *extra):
    h, p, _, _ = _csv_inputs(tmp_path)
    out = tmp_path / "out"
    code = main(["backtest", "--holdings", str(h), "--prices", str(p), "-o", str(out),
                 "--quiet", *extra])
    return code, out


def test_backtest_from_csv_writes_three_files_and_prints_the_summary(tmp_path, capsys):
    """The CSV path writes the three files with the documented columns and prints a summary."""
    code, out = _run(tmp_path)
    assert code == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    daily = pd.read_csv(out / "backtest_daily.csv", parse_dates=["date"])
    assert set(REQUIRED_DAILY) <= set(daily.columns)
    assert len(daily) == 240
    summary = pd.read_csv(out / "backtest_summary.csv")
    assert list(summary.columns) == ["metric", "value"]
    policies = pd.read_csv(out / "policies.csv")
    assert len(policies) == 6
    assert sorted(set(policies["band"])) == [0.02, 0.05, 0.10]
    text = capsys.readouterr().out
    assert "Realised beta, hedged" in text
    assert "Policies" in text


def test_backtest_csv_matches_the_core_on_the_same_inputs(tmp_path):
    """The daily file is the core's replay of the CSV book with the template Settings."""
    code, out = _run(tmp_path)
    assert code == EXIT_OK
    _, _, prices, holdings = _csv_inputs(tmp_path)
    assets = list(holdings["asset"])
    core = backtest_hedge(prices[assets], prices["BTC"].to_numpy(),
                          holdings["quantity"].to_numpy(), get_contract("BINANCE:BTCUSDT"),
                          window=90, min_obs=60, band=0.05, fee_bps=5.0,
                          funding_rate_8h=0.0001).daily
    daily = pd.read_csv(out / "backtest_daily.csv")
    np.testing.assert_array_equal(daily["hedge_contracts"], core["hedge_contracts"])
    np.testing.assert_allclose(daily["cum_hedged_pnl_usd"], core["cum_hedged_pnl_usd"],
                               rtol=1e-12)


def test_funding_column_is_used_day_by_day(tmp_path):
    """A funding_rate_8h column sets each day's funding: notional x rate x 3."""
    h, p, prices, _ = _csv_inputs(tmp_path)
    rates = np.where(np.arange(len(prices)) % 2, 0.0003, -0.0002)
    frame = prices.copy()
    frame["funding_rate_8h"] = rates
    frame.iloc[5, -1] = np.nan  # a blank day takes the Settings rate
    frame.to_csv(p, index_label="date")
    out = tmp_path / "out"
    assert main(["backtest", "--holdings", str(h), "--prices", str(p), "-o", str(out),
                 "--quiet"]) == EXIT_OK
    daily = pd.read_csv(out / "backtest_daily.csv")
    held = daily["hedge_contracts"].shift(1)
    t = int(np.flatnonzero(held.to_numpy() > 0)[3])
    size_btc = get_contract("BINANCE:BTCUSDT").contract_size  # contracts are in BTC
    expected = held[t] * size_btc * daily.loc[t, "hedge_price_usd"] * rates[t] * 3
    assert daily.loc[t, "funding_usd"] == pytest.approx(expected, rel=1e-12)
    funding_row = pd.read_csv(out / "backtest_summary.csv").set_index("metric")
    assert "239 of 240 days" in funding_row.loc["setting:funding", "value"]


def test_holdings_history_changes_the_quantities_on_its_dates(tmp_path):
    """A dated holdings file holds each quantity from its date until the asset's next row."""
    h, p, prices, _ = _csv_inputs(tmp_path)
    d1, d2 = prices.index[0], prices.index[150]
    h.write_text(f"date,asset,quantity\n{d1:%Y-%m-%d},ETH,100\n{d1:%Y-%m-%d},SOL,2000\n"
                 f"{d2:%Y-%m-%d},ETH,300\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["backtest", "--holdings", str(h), "--prices", str(p), "-o", str(out),
                 "--quiet"]) == EXIT_OK
    daily = pd.read_csv(out / "backtest_daily.csv")
    for t, eth in ((149, 100.0), (150, 300.0), (200, 300.0)):
        expected = eth * prices["ETH"].iloc[t] + 2000.0 * prices["SOL"].iloc[t]
        assert daily.loc[t, "spot_value_usd"] == pytest.approx(expected, rel=1e-12)
    # The day after the change earns the new quantity on ETH.
    move = 300.0 * (prices["ETH"].iloc[151] - prices["ETH"].iloc[150]) + 2000.0 * (
        prices["SOL"].iloc[151] - prices["SOL"].iloc[150])
    assert daily.loc[151, "unhedged_pnl_usd"] == pytest.approx(move, rel=1e-9)


def test_existing_outputs_are_kept_without_force(tmp_path, capsys):
    """A second run without --force exits 3 and changes nothing; --force replaces."""
    code, out = _run(tmp_path)
    assert code == EXIT_OK
    before = {p.name: _digest(p) for p in out.iterdir()}
    (out / "backtest_summary.csv").unlink()  # one target missing, the others present
    code, _ = _run(tmp_path)
    assert code == EXIT_FILE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--force" in err
    assert not (out / "backtest_summary.csv").exists()
    assert {p.name: _digest(p) for p in out.iterdir()} == {
        k: v for k, v in before.items() if k != "backtest_summary.csv"}
    code, _ = _run(tmp_path, "--force")
    assert code == EXIT_OK


@pytest.mark.parametrize(("argv", "code", "needle"), [
    (["--band", "-0.1"], EXIT_DATA, "band must be in [0, 1]"),
    (["--fee-bps", "nan"], EXIT_DATA, "fee_bps must be finite"),
    (["--top-up-below", "0.9"], EXIT_DATA, "top_up_below must be in"),
    (["--check", "monthly"], EXIT_USAGE, "invalid choice"),
    (["--band", "abc"], EXIT_USAGE, "invalid float value"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, argv, code, needle):
    """Out-of-range options name the rule (exit 1); malformed ones are usage errors (exit 2)."""
    got, out = _run(tmp_path, *argv)
    assert got == code
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_inputs_must_be_a_book_or_both_csvs(tmp_path, capsys):
    """A workbook and CSVs together, or a lone CSV, are refused with one line."""
    h, p, _, _ = _csv_inputs(tmp_path)
    assert main(["backtest", "--holdings", str(h), "-o", str(tmp_path / "o")]) == EXIT_USAGE
    assert main(["backtest", "book.xlsx", "--prices", str(p), "-o",
                 str(tmp_path / "o")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("betaneutral backtest: error:") == 2
    assert err.count("usage: betaneutral backtest") == 2
    assert "--holdings" in err


def test_too_short_a_history_is_a_data_error(tmp_path, capsys):
    """Fewer days than the minimum observations: exit 1 with the reason."""
    h, p, _, _ = _csv_inputs(tmp_path, days=40)
    out = tmp_path / "out"
    assert main(["backtest", "--holdings", str(h), "--prices", str(p), "-o",
                 str(out)]) == EXIT_DATA
    assert "too short" in capsys.readouterr().err
    assert not out.exists()


def test_backtest_of_a_workbook_fills_its_backtest_sheet(tmp_path):
    """With a workbook, the book is written again with the Backtest sheet of the run."""
    h, p, _, _ = _csv_inputs(tmp_path)
    book = tmp_path / "book.xlsx"
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o", str(book),
                 "--quiet"]) == EXIT_OK
    original = _digest(book)
    out = tmp_path / "res"
    assert main(["backtest", str(book), "--band", "0.1", "--check", "weekly", "-o", str(out),
                 "--quiet"]) == EXIT_OK
    assert _digest(book) == original
    filled = out / "book-backtest.xlsx"
    ws = openpyxl.load_workbook(filled, data_only=True)[bs.SHEET]
    summary = pd.read_csv(out / "backtest_summary.csv").set_index("metric")["value"]
    row = {key: bs.SUMMARY_FIRST_ROW + i for i, (key, _, _) in enumerate(bs.SUMMARY_ROWS)}
    assert ws[f"B{row['realised_beta_hedged']}"].value == pytest.approx(
        float(summary["realised_beta_hedged"]), rel=1e-12)
    assert ws[f"B{row['rebalances']}"].value == int(summary["rebalances"])
    settings = {key: bs.SETTINGS_FIRST_ROW + i for i, (key, _, _) in enumerate(bs.SETTING_ROWS)}
    assert ws[f"B{settings['check']}"].value == "weekly"
    assert ws[f"B{settings['band']}"].value == 0.1
    daily = pd.read_csv(out / "backtest_daily.csv")
    last = bs.DAILY_FIRST_ROW + len(daily) - 1
    assert ws[f"C{last}"].value == pytest.approx(daily["cum_hedged_pnl_usd"].iloc[-1])
    # The formulas' values are there too, as compute writes them.
    assert isinstance(openpyxl.load_workbook(filled, data_only=True)["Holdings"]["D5"].value,
                      float)


def test_compute_fills_the_backtest_sheet_and_keeps_native_charts(tmp_path):
    """compute fills the sheet with the book's own policy; the two line charts survive."""
    h, p, _, _ = _csv_inputs(tmp_path)
    book = tmp_path / "book.xlsx"
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o", str(book),
                 "--quiet"]) == EXIT_OK
    out = tmp_path / "computed.xlsx"
    assert main(["compute", str(book), "-o", str(out), "--quiet"]) == EXIT_OK
    ws = openpyxl.load_workbook(out, data_only=True)[bs.SHEET]
    assert ws[bs.STATUS_CELL].value.startswith("Replayed")
    band_row = bs.SETTINGS_FIRST_ROW + [k for k, _, _ in bs.SETTING_ROWS].index("band")
    assert ws[f"B{band_row}"].value == 0.05
    with zipfile.ZipFile(out) as zf:
        charts = [zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/charts/")]
    backtest_charts = [c for c in charts if "Backtest!" in c or "'Backtest'!" in c]
    assert len(backtest_charts) == 2
    assert all(re.search(r"<(c:)?lineChart>", c) for c in backtest_charts)  # native charts
    first, last = bs.DAILY_FIRST_ROW, bs.DAILY_FIRST_ROW + 239
    assert any(f"$A${first}:$A${last}" in c for c in backtest_charts)


def test_a_book_the_backtest_cannot_replay_still_computes(tmp_path):
    """A hedge contract without a margin table (CME) cannot be replayed: the book is still
    computed and the Backtest sheet says why."""
    h, p, _, _ = _csv_inputs(tmp_path)
    settings = tmp_path / "s.toml"
    settings.write_text('HedgeContract = "CME:MBT"\n', encoding="utf-8")
    book = tmp_path / "book.xlsx"
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "--settings",
                 str(settings), "-o", str(book), "--quiet"]) == EXIT_OK
    ws = openpyxl.load_workbook(book, data_only=True)[bs.SHEET]
    assert ws[bs.STATUS_CELL].value.startswith("Backtest not available")
    assert "CME:MBT" in ws[bs.STATUS_CELL].value
    assert openpyxl.load_workbook(book, data_only=True)["Rebalance"]["B18"].value is not None
