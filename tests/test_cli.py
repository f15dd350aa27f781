"""The betaneutral command, run in-process: outputs, exit codes, and nothing lost on failure."""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import openpyxl
import pytest

from betaneutral.cli import DEMO_BOOK, DEMO_TICKETS, EXIT_DATA, EXIT_FILE, EXIT_OK, EXIT_USAGE, main
from betaneutral.sample import SAMPLE_TICKET_NOTE, sample_holdings, sample_prices
from sample_files import write_sample_csvs


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """One demo run shared by the tests that only read its outputs."""
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--quiet"]) == EXIT_OK
    return out


def test_demo_writes_a_computed_book_and_tickets(demo_dir):
    """The book opens with values in its formula cells, and the CSV holds the opening order."""
    book = openpyxl.load_workbook(demo_dir / DEMO_BOOK, data_only=True)
    prices, holdings = sample_prices(), sample_holdings()
    last = prices.iloc[-1]
    value = float(np.sum(holdings["quantity"].to_numpy() * last[holdings["asset"]].to_numpy()))
    assert book["Holdings"]["D3"].value == pytest.approx(value, rel=1e-12)
    rows = list(csv.DictReader((demo_dir / DEMO_TICKETS).open(newline="", encoding="utf-8")))
    assert len(rows) == 1
    assert rows[0]["side"] == "sell"
    assert rows[0]["reason"].startswith(f"{SAMPLE_TICKET_NOTE}: open")  # sample: labelled
    sheet = book["Tickets"]
    assert sheet["K2"].value == rows[0]["client_order_id"]


def test_demo_summary_matches_an_independent_hedge_computation(tmp_path, capsys):
    """Printed hedge notional = sum(value x beta) with betas from numpy on simple returns."""
    assert main(["demo", "--out", str(tmp_path), "--quiet"]) == EXIT_OK
    out = capsys.readouterr().out
    prices, holdings = sample_prices(), sample_holdings()
    r = prices.pct_change().dropna().iloc[-90:]  # the template's default window is 90
    last = prices.iloc[-1]
    hedge = sum(q * last[a] * np.polyfit(r["BTC"], r[a], 1)[0]
                for a, q in zip(holdings["asset"], holdings["quantity"], strict=True))
    line = next(ln for ln in out.splitlines() if "Hedge notional to short" in ln)
    assert float(line.split()[-1].replace(",", "")) == pytest.approx(hedge, abs=0.01)
    contracts = next(ln for ln in out.splitlines() if "Contracts to short" in ln)
    assert float(contracts.split()[-1]) == pytest.approx(round(hedge / last["BTC"], 3), abs=0.01)


def test_demo_refuses_to_overwrite_without_force(demo_dir, capsys):
    """A second run into the same folder exits 3 and leaves the files byte-identical."""
    before = {p.name: _digest(p) for p in demo_dir.iterdir()}
    assert main(["demo", "--out", str(demo_dir), "--quiet"]) == EXIT_FILE
    err = capsys.readouterr().err
    assert "--force" in err
    assert err.count("\n") == 1
    assert {p.name: _digest(p) for p in demo_dir.iterdir()} == before


def _csv_inputs(tmp_path):
    return write_sample_csvs(tmp_path, 200)


def test_fill_then_compute_then_tickets(tmp_path):
    """fill writes a computed book; compute rewrites it to a new file; tickets exports CSV."""
    h, p = _csv_inputs(tmp_path)
    book = tmp_path / "book.xlsx"
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o", str(book),
                 "--quiet"]) == EXIT_OK
    original = _digest(book)
    out = tmp_path / "out.xlsx"
    assert main(["compute", str(book), "-o", str(out), "--quiet"]) == EXIT_OK
    assert _digest(book) == original  # the input is never modified
    values = openpyxl.load_workbook(out, data_only=True)
    assert values["Rebalance"]["B18"].value == pytest.approx(
        openpyxl.load_workbook(book, data_only=True)["Rebalance"]["B18"].value)
    csv_path = tmp_path / "t.csv"
    assert main(["tickets", str(out), "-o", str(csv_path)]) == EXIT_OK
    assert csv_path.read_text(encoding="utf-8").startswith("ticket_id,")
    native = tmp_path / "binance.csv"
    assert main(["tickets", str(out), "-o", str(native), "--format", "binance-usdm"]) == EXIT_OK
    assert native.read_text(encoding="utf-8").startswith("symbol,side,type,quantity")


def test_compute_in_place_keeps_a_backup(tmp_path):
    """--in-place updates the book and keeps a byte-identical timestamped backup."""
    h, p = _csv_inputs(tmp_path)
    book = tmp_path / "book.xlsx"
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o", str(book),
                 "--quiet"]) == EXIT_OK
    original = _digest(book)
    assert main(["compute", str(book), "--in-place", "--quiet"]) == EXIT_OK
    backups = list(tmp_path.glob("book.*.bak.xlsx"))
    assert len(backups) == 1
    assert _digest(backups[0]) == original


@pytest.mark.parametrize("argv_tail", [["-o", "same"], []])
def test_compute_output_rules(tmp_path, argv_tail, capsys):
    """The output must be given and differ from the input (else --in-place)."""
    h, p = _csv_inputs(tmp_path)
    book = tmp_path / "book.xlsx"
    main(["fill", "--holdings", str(h), "--prices", str(p), "-o", str(book), "--quiet"])
    tail = [str(book) if a == "same" else a for a in argv_tail]
    assert main(["compute", str(book), *tail]) == EXIT_USAGE  # a usage mistake, as documented
    err = capsys.readouterr().err
    assert err.startswith("usage: betaneutral compute")
    assert "betaneutral compute: error:" in err


def test_bad_csv_is_a_one_line_data_error_and_writes_nothing(tmp_path, capsys):
    """A text quantity stops fill with exit 1, a message naming file/row/column, no output."""
    h, p = _csv_inputs(tmp_path)
    h.write_text("asset,quantity\nETH,abc\n", encoding="utf-8")
    out = tmp_path / "book.xlsx"
    assert main(["fill", "--holdings", str(h), "--prices", str(p), "-o", str(out)]) == EXIT_DATA
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "holdings.csv" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["holdings.csv", "prices.csv"]


def test_not_a_workbook_is_refused_with_exit_3(tmp_path, capsys):
    """A CSV passed where a workbook is expected is refused before parsing."""
    fake = tmp_path / "fake.xlsx"
    fake.write_text("date,BTC\n", encoding="utf-8")
    assert main(["tickets", str(fake), "-o", str(tmp_path / "t.csv")]) == EXIT_FILE
    assert "not a zip" in capsys.readouterr().err


def test_usage_error_exits_2(capsys):
    """An unknown command or a missing required option is a usage error."""
    assert main(["no-such-command"]) == EXIT_USAGE
    assert main(["fill", "--holdings", "h.csv"]) == EXIT_USAGE
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", ["demo", "fill", "compute", "check", "tickets",
                                 "refresh-vba", "build-template"])
def test_help_on_every_command(cmd, capsys):
    """--help works on every command."""
    assert main([cmd, "--help"]) == EXIT_OK
    assert "usage:" in capsys.readouterr().out


def test_compute_refreshes_the_tickets_sheet(tmp_path):
    """Before the hedge the sheet matches the CSV; once it is in place compute clears it."""
    h, p = _csv_inputs(tmp_path)
    book = tmp_path / "book.xlsx"
    main(["fill", "--holdings", str(h), "--prices", str(p), "-o", str(book), "--quiet"])
    csv_path = tmp_path / "t.csv"
    assert main(["tickets", str(book), "-o", str(csv_path)]) == EXIT_OK
    (row,) = list(csv.DictReader(csv_path.open(newline="", encoding="utf-8")))
    sheet = openpyxl.load_workbook(book)["Tickets"]
    assert sheet["K2"].value == row["client_order_id"]
    assert sheet["H2"].value == pytest.approx(float(row["amount_contracts"]))
    # the user places the order and records the position: the drift is now inside the band
    edited = tmp_path / "edited.xlsx"
    wb = openpyxl.load_workbook(book)
    wb["Rebalance"]["B5"].value = float(row["amount_contracts"])
    wb.save(edited)
    out = tmp_path / "out.xlsx"
    assert main(["compute", str(edited), "-o", str(out), "--quiet"]) == EXIT_OK
    after = openpyxl.load_workbook(out)["Tickets"]
    assert all(after.cell(row=2, column=c).value is None for c in range(1, 18))
    assert openpyxl.load_workbook(out, data_only=True)["Rebalance"]["B26"].value.startswith(
        "HOLD")
