"""``betaneutral refresh``: a book brought up to date from answers replayed at ccxt's HTTP layer.

The exchanges' answers are in their documented formats (tests/replay_http.py;
Binance USD-M ``GET /fapi/v1/premiumIndex`` as in
developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Mark-Price).
The reference for the refreshed book is ``fill`` run on the full closes written by
hand, with the fetched values given as settings: the two books must hold the same
values, cell for cell.
"""

from __future__ import annotations

import logging
import shutil
import zipfile
from datetime import UTC, datetime

import numpy as np
import openpyxl
import pytest
import requests

from betaneutral.cli import EXIT_DATA, EXIT_FILE, EXIT_OK, main
from betaneutral.workbook.names import name_destinations
from replay_http import (
    DAY_MS,
    HOUR_MS,
    binance_funding,
    binance_spot_routes,
    install,
    recorded,
    sequence,
)

ccxt = pytest.importorskip("ccxt")

JAN1 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
N_BOOK = 120  # days in the book as filled
N_ALL = 130  # days the exchange has (to 2024-05-09)
NOON = datetime(2024, 5, 10, 12, tzinfo=UTC)  # 2024-05-09 is the last complete day
GAP = (125, "SOLUSDT")  # no SOL candle on 2024-05-05
FAKE_KEY = "FAKEKEYrf4Tz8Wq1Lm6Np3Xc9Vb2Hs5Jd7Gk0Ae"
FAKE_SECRET = "FAKESECRETp2Lk7Mj4Nh9Bg1Vf6Cd3Xs8Za5Qw0"


def _table() -> dict[str, dict[int, str]]:
    """Closes as the exchange sends them (text), BTC, ETH and SOL (betas near 1.2 and 1.5),
    with one missing candle."""
    rng = np.random.default_rng(11)
    btc = rng.normal(0, 0.03, N_ALL)
    table = {}
    for symbol, start, beta in (("BTCUSDT", 42_283.58, 1.0), ("ETHUSDT", 2_352.04, 1.2),
                                ("SOLUSDT", 101.63, 1.5)):
        moves = beta * btc + (rng.normal(0, 0.01, N_ALL) if beta != 1.0 else 0.0)
        path = start * np.cumprod(1 + moves)
        table[symbol] = {JAN1 + i * DAY_MS: f"{p:.2f}" for i, p in enumerate(path)}
    del table[GAP[1]][JAN1 + GAP[0] * DAY_MS]
    return table


def _csv_by_hand(table: dict[str, dict[int, str]], days: int, path):
    lines = ["date,BTC,ETH,SOL"]
    for i in range(days):
        t = JAN1 + i * DAY_MS
        day = datetime.fromtimestamp(t / 1000, tz=UTC).strftime("%Y-%m-%d")
        lines.append(",".join([day, *(table[s].get(t, "") for s in
                                      ("BTCUSDT", "ETHUSDT", "SOLUSDT"))]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _payments(interval_hours: int, rate: str) -> list[tuple[int, str]]:
    """Funding payments every ``interval_hours`` hours over the five days before NOON."""
    step = interval_hours * HOUR_MS
    end = int(NOON.timestamp() * 1000)
    return [(t, rate) for t in range((end - 5 * DAY_MS) // step * step, end, step)]


def _routes(table, *, interval_hours: int = 8, position=None) -> dict[str, object]:
    routes = binance_spot_routes(table)
    routes.update({
        "fapi.binance.com/fapi/v1/exchangeInfo": recorded("binance_fapi_v1_exchangeInfo.json"),
        "fapi.binance.com/fapi/v1/premiumIndex":
        recorded("binance_fapi_v1_premiumIndex_BTCUSDT.json"),
        "fapi.binance.com/fapi/v1/fundingRate":
        binance_funding("BTCUSDT", _payments(interval_hours, "0.00005000")),
        "fapi.binance.com/fapi/v1/leverageBracket":
        recorded("binance_fapi_v1_leverageBracket.json"),
        "fapi.binance.com/fapi/v3/positionRisk":
        position or recorded("binance_fapi_v3_positionRisk.json"),
        "fapi.binance.com/fapi/v3/account": recorded("binance_fapi_v3_account.json"),
    })
    return routes


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A book filled from the first 120 days (ETH and SOL held), and the files it came from."""
    root = tmp_path_factory.mktemp("refresh")
    table = _table()
    (root / "holdings.csv").write_text("asset,quantity\nETH,10\nSOL,200\n", encoding="utf-8")
    prices = _csv_by_hand(table, N_BOOK, root / "prices.csv")
    book = root / "book.xlsx"
    assert main(["fill", "--holdings", str(root / "holdings.csv"), "--prices", str(prices),
                 "-o", str(book), "--quiet"]) == EXIT_OK
    return root, table, book


@pytest.fixture
def setup(filled, tmp_path, monkeypatch):
    root, table, book = filled
    from betaneutral.workbook import refresh

    monkeypatch.setattr(refresh, "_clock", lambda: NOON)
    monkeypatch.delenv("BETANEUTRAL_API_KEY", raising=False)
    monkeypatch.delenv("BETANEUTRAL_API_SECRET", raising=False)
    return root, table, shutil.copy(book, tmp_path / "book.xlsx")


def _values(path) -> dict[tuple[str, str], object]:
    wb = openpyxl.load_workbook(path, data_only=True)
    return {(ws.title, c.coordinate): c.value for ws in wb for row in ws.iter_rows()
            for c in row if c.value is not None}


def _same_book(a, b, *, ulps: bool = False) -> None:
    """The two books hold the same cells and values (``ulps``: floats within 4e-16)."""
    va, vb = _values(a), _values(b)
    created = ("Tickets", "B2")  # when the tickets were made: seconds apart
    assert va.pop(created)[:10] == vb.pop(created)[:10]
    assert {k for k in va if k not in vb} == set()
    assert {k for k in vb if k not in va} == set()
    if ulps:
        vb = {k: pytest.approx(v, rel=4e-16, abs=0) if isinstance(v, float) else v
              for k, v in vb.items()}
    assert va == vb


def _named(path, name: str) -> object:
    wb = openpyxl.load_workbook(path, data_only=True)
    sheet, ref = name_destinations(wb, [name])[name]
    return wb[sheet][ref.replace("$", "").split(":")[0]].value


def test_refresh_gains_the_new_days_and_equals_the_book_filled_by_hand(
        setup, tmp_path, monkeypatch, capsys):
    """10 new days (SOL's missing candle blank), the mark price and the 8 h funding rate:
    the refreshed book holds the values of the book fill makes from all 130 days by hand."""
    root, table, book = setup
    session = install(monkeypatch, _routes(table))
    out = tmp_path / "refreshed.xlsx"
    assert main(["refresh", str(book), "-o", str(out), "--exchange", "binance",
                 "--quiet"]) == EXIT_OK
    printed = capsys.readouterr()
    assert "Closes: 10 new day(s) from binance (2024-04-30 to 2024-05-09 UTC)" in printed.out
    assert "1 missing candle(s) left blank" in printed.out
    assert "Futures price: 64,987.30 USD, the mark price of BINANCE:BTCUSDT" in printed.out
    assert "Funding rate: 0.0050% per 8 h, the current rate of BINANCE:BTCUSDT" in printed.out
    assert ("Position: not fetched (no API key in the environment (BETANEUTRAL_API_KEY, "
            "BETANEUTRAL_API_SECRET)); CurrentContracts left at 0") in printed.out
    assert session.count("positionRisk") == 0
    wb = openpyxl.load_workbook(out, data_only=True)
    bench = wb["Benchmark"]
    assert bench.cell(1 + N_ALL, 1).value == datetime(2024, 5, 9)
    assert bench.cell(2 + N_ALL, 1).value is None
    sol = [c.value for c in bench[1]].index("SOL") + 1
    assert bench.cell(2 + GAP[0], sol).value is None  # never filled
    # the reference: fill from the 130 days written by hand, the fetched values as settings
    settings = tmp_path / "settings.toml"
    settings.write_text("futures_price = 64987.3\nfunding_rate_8h = 0.00005\n",
                        encoding="utf-8")
    by_hand = tmp_path / "by-hand.xlsx"
    assert main(["fill", "--holdings", str(root / "holdings.csv"), "--prices",
                 str(_csv_by_hand(table, N_ALL, tmp_path / "all.csv")), "--settings",
                 str(settings), "-o", str(by_hand), "--quiet"]) == EXIT_OK
    # fill writes the Tickets sheet's beta_before from its in-memory book, which can
    # differ from a computation of the saved file in the last bit; every other cell is
    # equal, and the hand-filled book computed from its file is equal throughout
    _same_book(out, by_hand, ulps=True)
    recomputed = tmp_path / "by-hand-computed.xlsx"
    assert main(["compute", str(by_hand), "-o", str(recomputed), "--quiet"]) == EXIT_OK
    _same_book(out, recomputed)
    # the user's book is untouched
    assert _named(book, "FuturesPrice") != 64987.3
    assert openpyxl.load_workbook(book)["Benchmark"].cell(2 + N_BOOK, 1).value is None


def test_a_4h_funding_rate_is_converted_to_8h_saying_so(setup, tmp_path, monkeypatch, capsys):
    """0.005% per 4 h paid twice in 8 h: 0.01% per 8 h in FundingRate8h."""
    _, table, book = setup
    install(monkeypatch, _routes(table, interval_hours=4))
    out = tmp_path / "refreshed.xlsx"
    assert main(["refresh", str(book), "-o", str(out), "--no-position", "--quiet"]) == EXIT_OK
    printed = capsys.readouterr().out
    assert ("Funding rate: 0.0100% per 8 h, the current rate of BINANCE:BTCUSDT, 0.0050% per "
            "4 h, converted to 8 h (x 2)") in printed
    assert "Position: not fetched (--no-position)" in printed
    assert _named(out, "FundingRate8h") == pytest.approx(0.0001, rel=1e-12)


def test_the_position_is_set_and_the_credentials_reach_no_output(setup, tmp_path, monkeypatch,
                                                                 capsys, caplog):
    """A read-only key in the environment: the position is set (1.25 short); the key and the
    secret appear in no workbook, message or log record, also when the key is refused."""
    _, table, book = setup
    monkeypatch.setenv("BETANEUTRAL_API_KEY", FAKE_KEY)
    monkeypatch.setenv("BETANEUTRAL_API_SECRET", FAKE_SECRET)
    caplog.set_level(logging.DEBUG)
    session = install(monkeypatch, _routes(table))
    out = tmp_path / "refreshed.xlsx"
    assert main(["refresh", str(book), "-o", str(out), "--quiet"]) == EXIT_OK
    printed = capsys.readouterr()
    signed = [c for c in session.calls if c[1].endswith("positionRisk")]
    assert signed[0][3].get("X-MBX-APIKEY") == FAKE_KEY  # the key was used
    assert "Position: 1.25 contract(s) short of BINANCE:BTCUSDT" in printed.out
    assert _named(out, "CurrentContracts") == 1.25
    # a refused key, echoed by the exchange: one line, the key removed, nothing written
    install(monkeypatch, _routes(table, position=(401, {
        "code": -2015, "msg": f"Invalid API-key {FAKE_KEY}, IP, or permissions for action."})))
    refused = tmp_path / "refused.xlsx"
    assert main(["refresh", str(book), "-o", str(refused), "--quiet"]) == EXIT_DATA
    failed = capsys.readouterr()
    assert "the API key was refused" in failed.err
    assert "<redacted>" in failed.err
    assert not refused.exists()
    with zipfile.ZipFile(out) as zf:
        package = b"".join(zf.read(n) for n in zf.namelist()).decode("utf-8", "replace")
    haystacks = {"workbook": package, "stdout": printed.out + failed.out,
                 "stderr": printed.err + failed.err,
                 "log": "\n".join(r.getMessage() for r in caplog.records)}
    for where, text in haystacks.items():
        for secret in (FAKE_KEY, FAKE_SECRET):
            assert secret not in text, where
            assert secret[:16] not in text, where


@pytest.mark.parametrize("broken", ["klines", "premiumIndex", "fundingRate"])
def test_a_failed_fetch_writes_nothing(setup, tmp_path, monkeypatch, capsys, broken):
    """A network failure on any fetch: exit 1, one line, no output, no backup, the book as
    it was (also with --in-place)."""
    _, table, book = setup
    routes = _routes(table)
    key = next(k for k in routes if k.endswith(broken))
    routes[key] = requests.exceptions.ConnectionError("[Errno 111] Connection refused")
    install(monkeypatch, routes)
    out = tmp_path / "refreshed.xlsx"
    before = book.read_bytes()
    assert main(["refresh", str(book), "-o", str(out), "--quiet"]) == EXIT_DATA
    assert main(["refresh", str(book), "--in-place", "--quiet"]) == EXIT_DATA
    err = capsys.readouterr().err
    assert err.count("\n") == 2
    assert err.count("network failure after 4 attempts") == 2
    assert not out.exists()
    assert book.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.xlsx"]


def test_an_up_to_date_book_is_said_so_and_still_computed(setup, tmp_path, monkeypatch,
                                                          capsys):
    """At noon on the day after the book's last date, no day is complete: no request for
    candles, the prices and figures set, the book computed (--in-place keeps a backup)."""
    from betaneutral.workbook import refresh

    _, table, book = setup
    monkeypatch.setattr(refresh, "_clock", lambda: datetime(2024, 4, 30, 12, tzinfo=UTC))
    routes = _routes(table)
    routes["fapi.binance.com/fapi/v1/fundingRate"] = sequence(binance_funding(
        "BTCUSDT", [(JAN1 + h * HOUR_MS, "0.00005000") for h in range(0, 24 * 130, 8)]))
    session = install(monkeypatch, routes)
    assert main(["refresh", str(book), "--in-place", "--no-position", "--quiet"]) == EXIT_OK
    printed = capsys.readouterr().out
    assert ("Closes: the book is up to date (last date 2024-04-29; no complete day after it "
            "yet); nothing to append") in printed
    assert "Backup: " in printed
    assert session.count("klines") == 0
    assert _named(book, "FuturesPrice") == 64987.3
    bench = openpyxl.load_workbook(book)["Benchmark"]
    assert bench.cell(1 + N_BOOK, 1).value == datetime(2024, 4, 29)
    assert bench.cell(2 + N_BOOK, 1).value is None
    assert len(list(tmp_path.glob("book.*.bak.xlsx"))) == 1


def test_refresh_refuses_an_existing_output_and_a_closes_cell_in_use(setup, tmp_path,
                                                                     monkeypatch, capsys):
    _, table, book = setup
    session = install(monkeypatch, _routes(table))
    out = tmp_path / "exists.xlsx"
    out.write_bytes(b"mine")
    assert main(["refresh", str(book), "-o", str(out), "--quiet"]) == EXIT_FILE
    assert session.calls == []  # refused before any request
    assert out.read_bytes() == b"mine"
    for bad in ("KRAKEN:XBTUSD", "BINANCEBTCUSDT"):
        assert main(["refresh", str(book), "-o", str(tmp_path / "bad.xlsx"), "--contract",
                     bad, "--quiet"]) == EXIT_DATA
        assert bad in capsys.readouterr().err
    assert session.calls == []
    assert not (tmp_path / "bad.xlsx").exists()
    wb = openpyxl.load_workbook(book)
    wb["Benchmark"].cell(3 + N_BOOK, 2, "my note")  # where the second new close goes
    noted = tmp_path / "noted.xlsx"
    wb.save(noted)
    target = tmp_path / "noted-out.xlsx"
    assert main(["refresh", str(noted), "-o", str(target), "--quiet"]) == EXIT_DATA
    err = capsys.readouterr().err
    assert f"Benchmark!B{3 + N_BOOK}: refresh types the close of 2024-05-01 here" in err
    assert not target.exists()


def _dapi_routes(table, *, dated: bool = False) -> dict[str, object]:
    """Binance COIN-M: exchangeInfo (with a dated quarter when asked), premiumIndex as
    documented (a list; one symbol when asked for one), the perpetual's 8 h payments."""
    info = recorded("binance_dapi_v1_exchangeInfo.json")
    if dated:
        quarter = dict(info["symbols"][0], symbol="BTCUSD_250627",
                       contractType="CURRENT_QUARTER", deliveryDate=1751011200000)
        info["symbols"].append(quarter)
    marks = recorded("binance_dapi_v1_premiumIndex.json")
    routes = binance_spot_routes(table)
    routes.update({
        "dapi.binance.com/dapi/v1/exchangeInfo": info,
        "dapi.binance.com/dapi/v1/premiumIndex":
        lambda q: [m for m in marks if m["symbol"] == q.get("symbol", m["symbol"])],
        "dapi.binance.com/dapi/v1/fundingRate":
        binance_funding("BTCUSD_PERP", _payments(8, "0.00010000")),
    })
    return routes


def test_another_contract_is_read_and_set_as_the_hedge_contract(setup, tmp_path, monkeypatch,
                                                                 capsys):
    """--contract BINANCE:BTCUSD_PERP (COIN-M): its mark price and 8 h rate, and the book's
    HedgeContract set to it."""
    _, table, book = setup
    session = install(monkeypatch, _dapi_routes(table))
    out = tmp_path / "coinm.xlsx"
    assert main(["refresh", str(book), "-o", str(out), "--contract", "BINANCE:BTCUSD_PERP",
                 "--no-position", "--quiet"]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "Hedge contract: set to BINANCE:BTCUSD_PERP (was BINANCE:BTCUSDT)" in printed
    assert "Futures price: 64,993.81 USD, the mark price of BINANCE:BTCUSD_PERP" in printed
    assert "Funding rate: 0.0100% per 8 h, the current rate of BINANCE:BTCUSD_PERP" in printed
    assert session.count("fapi/v1/premiumIndex") == 0
    assert (_named(out, "HedgeContract"), _named(out, "FuturesPrice"),
            _named(out, "FundingRate8h")) == ("BINANCE:BTCUSD_PERP", 64993.81, 0.0001)


def test_a_dated_future_sets_the_mark_price_and_leaves_the_funding_rate(
        setup, tmp_path, monkeypatch, capsys):
    """A quarterly future from a user catalogue: fetch_mark_price, no funding."""
    import dataclasses

    from betaneutral.core.contracts import get_contract
    from betaneutral.marketdata.files import write_catalogue

    _, table, book = setup
    quarter = dataclasses.replace(get_contract("BINANCE:BTCUSD_PERP"), symbol="BTCUSD_250627",
                                  ccxt_symbol="BTC/USD:BTC-250627", perpetual=False,
                                  funding_interval_hours=None, expiry="2025-06-27")
    catalogue = write_catalogue([quarter], tmp_path / "mine.json",
                                fetched="2024-05-10T00:00:00Z", exchange="binancecoinm")
    session = install(monkeypatch, _dapi_routes(table, dated=True))
    out = tmp_path / "dated.xlsx"
    assert main(["--catalogue", str(catalogue), "refresh", str(book), "-o", str(out),
                 "--contract", "BINANCE:BTCUSD_250627", "--no-position", "--quiet"]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "Futures price: 66,120.50 USD, the mark price of BINANCE:BTCUSD_250627" in printed
    assert ("Funding rate: BINANCE:BTCUSD_250627 is a dated future and pays no funding; "
            "FundingRate8h left at 0.0100%") in printed
    assert session.count("fundingRate") == 0
    assert _named(out, "FuturesPrice") == 66120.5


def test_a_book_hedged_off_the_exchanges_gets_its_closes_only(setup, tmp_path, monkeypatch,
                                                             capsys):
    """HedgeContract CME:BTC: the closes are appended; price, funding and position are left
    as they are, saying why; no futures request is made."""
    _, table, book = setup
    wb = openpyxl.load_workbook(book)
    sheet, ref = name_destinations(wb, ["HedgeContract"])["HedgeContract"]
    wb[sheet][ref.replace("$", "")] = "CME:BTC"
    cme = tmp_path / "cme.xlsx"
    wb.save(cme)
    monkeypatch.setenv("BETANEUTRAL_API_KEY", FAKE_KEY)
    monkeypatch.setenv("BETANEUTRAL_API_SECRET", FAKE_SECRET)
    session = install(monkeypatch, _routes(table))
    out = tmp_path / "cme-out.xlsx"
    assert main(["refresh", str(cme), "-o", str(out), "--quiet"]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "Closes: 10 new day(s)" in printed
    assert "CME:BTC is not traded on an exchange BetaNeutral reads" in printed
    assert "Position: not fetched (CME:BTC is not on an exchange BetaNeutral reads)" in printed
    assert not [c for c in session.calls if "fapi" in c[1]]


def test_closes_typed_by_the_user_count_and_an_xlsm_keeps_its_vba(filled, tmp_path,
                                                                  monkeypatch, capsys):
    """A macro book with 3 closes typed under its last date: refresh fetches from the day
    after the last typed one; the VBA project is carried over unchanged."""
    root, table, _ = filled
    from betaneutral.workbook import refresh

    monkeypatch.setattr(refresh, "_clock", lambda: NOON)
    xlsm = tmp_path / "book.xlsm"
    assert main(["fill", "--holdings", str(root / "holdings.csv"), "--prices",
                 str(root / "prices.csv"), "-o", str(xlsm), "--quiet"]) == EXIT_OK
    wb = openpyxl.load_workbook(xlsm, keep_vba=True)
    bench = wb["Benchmark"]
    for i in range(N_BOOK, N_BOOK + 3):
        t = JAN1 + i * DAY_MS
        bench.cell(2 + i, 1, datetime.fromtimestamp(t / 1000, tz=UTC).replace(tzinfo=None))
        for c, s in ((2, "BTCUSDT"), (3, "ETHUSDT"), (4, "SOLUSDT")):
            assert bench.cell(1, c).value == s[:-4]
            bench.cell(2 + i, c, float(table[s][t]))
    typed = tmp_path / "typed.xlsm"
    wb.save(typed)
    install(monkeypatch, _routes(table))
    out = tmp_path / "refreshed.xlsm"
    assert main(["refresh", str(typed), "-o", str(out), "--no-position", "--quiet"]) == EXIT_OK
    assert "Closes: 7 new day(s) from binance (2024-05-03 to 2024-05-09 UTC)" in \
        capsys.readouterr().out
    values = openpyxl.load_workbook(out, data_only=True)["Benchmark"]
    assert values.cell(1 + N_ALL, 1).value == datetime(2024, 5, 9)
    assert values.cell(1 + N_ALL, 2).value == float(table["BTCUSDT"][JAN1 + 129 * DAY_MS])
    with zipfile.ZipFile(xlsm) as a, zipfile.ZipFile(out) as b:
        assert b.read("xl/vbaProject.bin") == a.read("xl/vbaProject.bin")
