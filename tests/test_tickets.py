"""Hedge tickets: CSV round trip, deterministic ids, injection safety, atomic writes, CCXT."""

from __future__ import annotations

import csv
import dataclasses
import zipfile
from datetime import UTC, datetime

import openpyxl
import pandas as pd
import pytest

from betaneutral.core.contracts import get_contract
from betaneutral.core.orders import HedgeOrder, hedge_orders
from betaneutral.errors import InputTypeError
from betaneutral.files import FileProblemError
from betaneutral.tickets import (
    TICKET_COLUMNS,
    book_fingerprint,
    make_tickets,
    read_tickets,
    to_ccxt_call,
    write_tickets_csv,
)
from betaneutral.workbook.results import write_tickets_sheet

NOW = datetime(2026, 11, 25, 9, 30, 15, tzinfo=UTC)
SPEC = get_contract("BINANCE:BTCUSDT")


def orders():
    """A resize sell and a reduce-only buy, as the hedging core produces them."""
    sell = hedge_orders(1.0, 1.891, SPEC, 64_000.0, beta_before=0.45, beta_after=0.0002,
                        drift=0.45, band=0.05)
    buy = hedge_orders(2.5, 1.891, SPEC, 64_000.0, beta_before=-0.3, beta_after=0.0002,
                       drift=-0.3, band=0.05, order_type="limit", limit_price_usd=63_950.5)
    return [*sell, *buy]


@pytest.fixture
def tickets():
    return make_tickets(orders(), book_fingerprint({"ETH": 120.0, "px": 64_000.0}), created=NOW)


def test_ticket_fields_follow_the_orders(tickets):
    """Side words, positive amounts, blank price for market, limit price kept, UTC ISO time."""
    sell, buy = tickets
    assert (sell.side, sell.type, sell.reduce_only, sell.price) == ("sell", "market", False, None)
    assert sell.amount_contracts == pytest.approx(0.891)
    assert (buy.side, buy.type, buy.reduce_only, buy.price) == ("buy", "limit", True, 63_950.5)
    assert buy.amount_contracts == pytest.approx(0.609)
    assert sell.created_utc == "2026-11-25T09:30:15Z"
    assert sell.reason.startswith("rebalance")
    assert sell.ccxt_symbol == "BTC/USDT:USDT"


def test_csv_round_trip_with_stdlib_csv_and_pandas(tickets, tmp_path):
    """Reading the file back with csv and with pandas gives exactly the tickets, types included."""
    path = tmp_path / "tickets.csv"
    write_tickets_csv(tickets, path)
    assert read_tickets(path) == tickets
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == TICKET_COLUMNS
    df = pd.read_csv(path)
    assert df["amount_contracts"].dtype == "float64"
    assert df["price"].dtype == "float64"
    assert df["reduce_only"].dtype == bool
    assert df["amount_contracts"].tolist() == [t.amount_contracts for t in tickets]
    assert pd.isna(df["price"][0])
    assert df["price"][1] == 63_950.5
    assert df["client_order_id"].tolist() == [t.client_order_id for t in tickets]


def test_numbers_are_plain_round_trip_text(tmp_path):
    """No thousands separator, '.' decimal point, enough digits to read back the same float."""
    order = HedgeOrder(exchange="BINANCE", symbol="BTCUSDT", ccxt_symbol="BTC/USDT:USDT",
                       side="sell", quantity_contracts=1234.567, order_type="market", price=None,
                       reduce_only=False, notional_usd=1234567.8912345679, reason="open",
                       reason_detail="", portfolio_beta_before=0.1 + 0.2,
                       portfolio_beta_after=None, contract_kind="linear", contract_size=1.0)
    (t,) = make_tickets([order], "x", created=NOW)
    path = tmp_path / "t.csv"
    write_tickets_csv([t], path)
    text = path.read_text(encoding="utf-8")
    assert ",1234.567," in text
    assert ",1234567.8912345679," in text
    assert ",0.30000000000000004," in text
    assert read_tickets(path)[0] == t


def test_client_ids_are_deterministic_per_book_state():
    """Same state: same ids (even at another time); another state: new ids; all unique."""
    a = make_tickets(orders(), book_fingerprint({"q": 1}), created=NOW)
    b = make_tickets(orders(), book_fingerprint({"q": 1}), created=datetime(2027, 1, 1, tzinfo=UTC))
    c = make_tickets(orders(), book_fingerprint({"q": 2}), created=NOW)
    assert [t.client_order_id for t in a] == [t.client_order_id for t in b]
    assert {t.client_order_id for t in a}.isdisjoint(t.client_order_id for t in c)
    assert len({t.client_order_id for t in a}) == len(a)
    assert all(len(t.client_order_id) <= 36 for t in a)


PAYLOADS = {
    "cmd": ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    "hyperlink": ('=HYPERLINK("http://x.example","y")', '\'=HYPERLINK("http://x.example","y")'),
    "at-sum": ("@SUM(1+1)", "'@SUM(1+1)"),
    "plus": ("+1", "'+1"),
    "minus": ("-1+1", "'-1+1"),
    "tab": ("\t=1+1", "'\t=1+1"),
    "cr": ("\r=1+1", "'\r=1+1"),
    "lf": ("\n=1+1", "'\n=1+1"),
    "nul": ("=1\x00+1", "'=1+1"),
}


def _order_with(**fields):
    base = {"exchange": "BINANCE", "symbol": "BTCUSDT", "ccxt_symbol": "BTC/USDT:USDT",
            "side": "sell", "quantity_contracts": 1.0, "order_type": "market", "price": None,
            "reduce_only": False, "notional_usd": 64_000.0, "reason": "open",
            "reason_detail": "", "portfolio_beta_before": 1.0, "portfolio_beta_after": 0.0,
            "contract_kind": "linear", "contract_size": 1.0}
    base.update(fields)
    return HedgeOrder(**base)


@pytest.mark.parametrize("payload", list(PAYLOADS))
@pytest.mark.parametrize("field", ["exchange", "symbol", "ccxt_symbol"])
def test_identifier_fields_refuse_injection_payloads(field, payload):
    """A payload in an identifier field stops the export with a typed error naming the field."""
    with pytest.raises(InputTypeError, match=field):
        make_tickets([_order_with(**{field: PAYLOADS[payload][0]})], "x", created=NOW)


@pytest.mark.parametrize("payload", list(PAYLOADS))
def test_free_text_is_neutralised_in_csv_and_xlsx(payload, tickets, tmp_path):
    """A payload in the reason lands as inert text in the CSV and as a string cell in the xlsx."""
    raw, expected = PAYLOADS[payload]
    hostile = dataclasses.replace(tickets[0], reason=raw)
    path = tmp_path / "t.csv"
    write_tickets_csv([hostile], path)
    assert read_tickets(path)[0].reason == expected
    wb = openpyxl.Workbook()
    write_tickets_sheet(wb.active, [hostile])
    xpath = tmp_path / "t.xlsx"
    wb.save(xpath)
    with zipfile.ZipFile(xpath) as zf:
        assert "<f>" not in zf.read("xl/worksheets/sheet1.xml").decode()
    cell = openpyxl.load_workbook(xpath).active.cell(
        row=2, column=TICKET_COLUMNS.index("reason") + 1)
    assert cell.value == expected
    assert cell.data_type == "s"


@pytest.mark.parametrize("payload", list(PAYLOADS))
def test_payload_inside_an_order_reason_keeps_the_reason_first(payload):
    """Built from an order, the reason starts with its word; control characters are removed."""
    (t,) = make_tickets([_order_with(reason="open", reason_detail=PAYLOADS[payload][0])], "x",
                        created=NOW)
    assert t.reason.startswith("open: ")
    assert "\x00" not in t.reason


def test_existing_file_is_not_overwritten_without_force(tickets, tmp_path):
    """An existing export is kept unless --force; with force it is replaced."""
    path = tmp_path / "tickets.csv"
    path.write_text("keep me", encoding="utf-8")
    with pytest.raises(FileProblemError, match="exists"):
        write_tickets_csv(tickets, path)
    assert path.read_text(encoding="utf-8") == "keep me"
    write_tickets_csv(tickets, path, force=True)
    assert read_tickets(path) == tickets


def test_failed_export_leaves_no_partial_file(tickets, tmp_path, monkeypatch):
    """A crash at the final rename leaves neither the target nor a temporary file."""
    import betaneutral.files as files

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_tickets_csv(tickets, tmp_path / "tickets.csv")
    assert list(tmp_path.iterdir()) == []


def test_open_workbook_lock_file_blocks_the_write(tickets, tmp_path):
    """Excel's ~$ owner file next to the target means it is open: the write is refused."""
    (tmp_path / "~$tickets.csv").write_text("owner", encoding="utf-8")
    with pytest.raises(FileProblemError, match="open in Excel"):
        write_tickets_csv(tickets, tmp_path / "tickets.csv")


def test_binance_usdm_format_matches_the_request_ccxt_builds(tickets, tmp_path):
    """Each ticket's CCXT call produces the same Binance USD-M order as our native CSV row."""
    ccxt = pytest.importorskip("ccxt")
    ex = ccxt.binanceusdm()
    ex.set_markets([{
        "id": "BTCUSDT", "symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT",
        "settle": "USDT", "baseId": "BTC", "quoteId": "USDT", "settleId": "USDT",
        "type": "swap", "spot": False, "margin": False, "swap": True, "future": False,
        "option": False, "active": True, "contract": True, "linear": True, "inverse": False,
        "contractSize": 1.0, "expiry": None, "precision": {"amount": 0.001, "price": 0.1},
        "limits": {"amount": {"min": 0.001, "max": 1000}, "price": {"min": 0.1, "max": 1e7},
                   "cost": {"min": 5, "max": None}},
        "info": {"symbol": "BTCUSDT", "contractType": "PERPETUAL",
                 "orderTypes": ["LIMIT", "MARKET"]},
    }])
    path = tmp_path / "binance.csv"
    write_tickets_csv(tickets, path, fmt="binance-usdm")
    native = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    for ticket, row in zip(tickets, native, strict=True):
        args, kwargs = to_ccxt_call(ticket)
        request = ex.create_order_request(*args, **kwargs)  # builds the request, sends nothing
        assert request["symbol"] == row["symbol"]
        assert request["side"] == row["side"]
        assert request["type"] == row["type"]
        assert float(request["quantity"]) == float(row["quantity"])
        assert request["newClientOrderId"] == row["newClientOrderId"]
        assert bool(request.get("reduceOnly", False)) == (row["reduceOnly"] == "true")
        if row["price"]:
            assert float(request["price"]) == float(row["price"])
        else:
            assert "price" not in request


def test_binance_format_refuses_other_contracts(tmp_path):
    """An inverse or non-Binance ticket cannot be written in the Binance USD-M column set."""
    inverse = get_contract("BINANCE:BTCUSD_PERP")
    t = make_tickets(hedge_orders(0, 10, inverse, 64_000.0), "x", created=NOW)
    with pytest.raises(InputTypeError, match="binance-usdm"):
        write_tickets_csv(t, tmp_path / "x.csv", fmt="binance-usdm")
    assert not (tmp_path / "x.csv").exists()
