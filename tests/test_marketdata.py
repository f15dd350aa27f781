"""Market data from the exchanges, replayed offline at ccxt's HTTP layer (tests/replay_http.py).

Every test runs ccxt's own request building, parsing and error mapping on
responses in the exchanges' documented formats; no network is used.
"""

from __future__ import annotations

import json
import logging
import math
import zipfile
from datetime import UTC, datetime

import numpy as np
import openpyxl
import pandas as pd
import pytest
import requests

from betaneutral.cli import EXIT_DATA, EXIT_OK, main
from betaneutral.core.contracts import get_contract, use_catalogue
from betaneutral.core.margin import maintenance_for_notional
from betaneutral.marketdata import MarketDataError
from betaneutral.marketdata.contracts import fetch_contract_specs
from betaneutral.marketdata.files import load_catalogue, read_funding_csv, write_catalogue
from betaneutral.marketdata.funding import fetch_funding_history
from betaneutral.marketdata.prices import closes_since, fetch_closes
from betaneutral.sources import read_csv_inputs
from replay_http import (
    DAY_MS,
    HOUR_MS,
    binance_funding,
    binance_spot_routes,
    bybit_spot_routes,
    install,
    recorded,
    sequence,
)

ccxt = pytest.importorskip("ccxt")

JAN1 = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
LATER = datetime(2024, 6, 1, tzinfo=UTC)


def _closes(days: int = 10, gap_day: int | None = 4) -> dict[str, dict[int, str]]:
    """Recorded closes (exchange text) of BTC, ETH and SOL; SOL has no candle on gap_day."""
    rng = np.random.default_rng(7)
    table = {}
    for symbol, start in (("BTCUSDT", 42_283.58), ("ETHUSDT", 2_352.04), ("SOLUSDT", 101.63)):
        path = start * np.cumprod(1 + rng.normal(0, 0.03, days))
        table[symbol] = {JAN1 + i * DAY_MS: f"{p:.2f}" for i, p in enumerate(path)}
    if gap_day is not None:
        del table["SOLUSDT"][JAN1 + gap_day * DAY_MS]
    return table


def _expected(table: dict[str, dict[int, str]]) -> pd.DataFrame:
    stamps = sorted({t for closes in table.values() for t in closes})
    return pd.DataFrame(
        {asset: [float(table[f"{asset}USDT"][t]) if t in table[f"{asset}USDT"] else math.nan
                 for t in stamps] for asset in ("BTC", "ETH", "SOL")},
        index=pd.DatetimeIndex(pd.to_datetime(stamps, unit="ms"), name="date"))


# ----------------------------------------------------------------------------- prices


@pytest.mark.parametrize("routes", [binance_spot_routes, bybit_spot_routes],
                         ids=["binance", "bybit"])
def test_prices_page_over_several_requests_and_leave_a_gap_blank(monkeypatch, routes):
    """10 days in pages of 3 candles: 4 requests per coin; SOL's missing day stays NaN."""
    table = _closes()
    session = install(monkeypatch, routes(table))
    exchange = "binance" if routes is binance_spot_routes else "bybit"
    frame = fetch_closes(exchange, ["sol"], since="2024-01-01", until="2024-01-10",
                         page_limit=3, now=LATER)
    pd.testing.assert_frame_equal(frame, _expected(table))
    assert session.count("klines" if exchange == "binance" else "kline") == 3 * 4
    assert math.isnan(frame.loc["2024-01-05", "SOL"])  # never forward-filled
    assert list(frame.columns) == ["BTC", "ETH", "SOL"]  # BTC and ETH always, first


def test_binance_rate_limit_then_success_is_retried(monkeypatch):
    """A 429 answer (Binance -1003) is retried after a wait, then the page is used."""
    table = _closes()
    routes = binance_spot_routes(table)
    routes["api.binance.com/api/v3/klines"] = sequence(
        (429, {"code": -1003, "msg": "Too many requests; current limit of IP is 6000 "
               "requests per minute."}), routes["api.binance.com/api/v3/klines"])
    session = install(monkeypatch, routes)
    frame = fetch_closes("binance", ["SOL"], since="2024-01-01", until="2024-01-10", now=LATER)
    pd.testing.assert_frame_equal(frame, _expected(table))
    assert [c[1] for c in session.calls if c[0] == "SLEEP"] == ["1.0"]


def test_bybit_rate_limit_then_success_is_retried(monkeypatch):
    """Bybit's retCode 10006 ("Too many visits") is a rate limit: retried, then used."""
    table = _closes()
    routes = bybit_spot_routes(table)
    routes["api.bybit.com/v5/market/kline"] = sequence(
        {"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {},
         "time": 1733385600000}, routes["api.bybit.com/v5/market/kline"])
    install(monkeypatch, routes)
    frame = fetch_closes("bybit", ["SOL"], since="2024-01-01", until="2024-01-10", now=LATER)
    pd.testing.assert_frame_equal(frame, _expected(table))


def test_persistent_rate_limit_stops_after_bounded_retries_and_writes_nothing(
        monkeypatch, tmp_path, capsys):
    """Retries are bounded (3 after the first attempt); the command writes no file."""
    routes = binance_spot_routes(_closes())
    routes["api.binance.com/api/v3/klines"] = (429, {"code": -1003, "msg": "Too many requests"})
    session = install(monkeypatch, routes)
    out = tmp_path / "prices.csv"
    code = main(["fetch", "prices", "--exchange", "binance", "--assets", "SOL", "--since",
                 "2024-01-01", "--until", "2024-01-10", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_DATA
    assert not out.exists()
    assert session.count("klines") == 4
    assert err.count("\n") == 1
    assert "rate limit reached after 4 attempts" in err
    assert "https://" not in err
    assert "nothing was written" in err


@pytest.mark.parametrize("routes", [binance_spot_routes, bybit_spot_routes],
                         ids=["binance", "bybit"])
def test_network_failure_is_one_line_and_writes_nothing(monkeypatch, tmp_path, capsys, routes):
    """A refused connection on every attempt: exit 1, one line, no file, no URL."""
    table = routes(_closes())
    key = next(k for k in table if k.endswith("kline") or k.endswith("klines"))
    table[key] = requests.exceptions.ConnectionError("[Errno 111] Connection refused")
    install(monkeypatch, table)
    out = tmp_path / "prices.csv"
    exchange = "binance" if routes is binance_spot_routes else "bybit"
    code = main(["fetch", "prices", "--exchange", exchange, "--since", "2024-01-01",
                 "--until", "2024-01-10", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_DATA
    assert not out.exists()
    assert err.count("\n") == 1
    assert "network failure after 4 attempts" in err
    assert "http" not in err.lower().replace("betaneutral", "")


@pytest.mark.parametrize(("exchange", "routes"), [("binance", binance_spot_routes),
                                                   ("bybit", bybit_spot_routes)])
def test_delisted_and_unknown_symbols_are_named(monkeypatch, exchange, routes):
    """LUNA is listed as inactive (Binance BREAK, Bybit Closed); XYZ is not listed at all."""
    install(monkeypatch, routes(_closes()))
    with pytest.raises(MarketDataError, match=r"LUNA/USDT is delisted or suspended"):
        fetch_closes(exchange, ["SOL", "LUNA"], since="2024-01-01", until="2024-01-10",
                     now=LATER)
    with pytest.raises(MarketDataError, match=r"XYZ/USDT is not listed"):
        fetch_closes(exchange, ["XYZ"], since="2024-01-01", until="2024-01-10", now=LATER)


def test_exchange_error_is_not_retried_and_keeps_the_exchange_words(monkeypatch):
    """Binance -1121 (400): one attempt, the exchange's message kept, the URL removed."""
    routes = binance_spot_routes(_closes())
    routes["api.binance.com/api/v3/klines"] = (400, {"code": -1121, "msg": "Invalid symbol."})
    session = install(monkeypatch, routes)
    with pytest.raises(MarketDataError) as info:
        fetch_closes("binance", [], since="2024-01-01", until="2024-01-10", now=LATER)
    assert session.count("klines") == 1
    assert "Invalid symbol" in str(info.value)
    assert "api.binance.com" not in str(info.value)


def test_partial_page_is_an_error(monkeypatch, tmp_path):
    """A truncated body (a cut connection) is retried, then reported; no file is written."""
    routes = binance_spot_routes(_closes())
    routes["api.binance.com/api/v3/klines"] = (200, '[[1704067200000,"42283.58","44184.1')
    install(monkeypatch, routes)
    out = tmp_path / "p.csv"
    assert main(["fetch", "prices", "--since", "2024-01-01", "--until", "2024-01-10", "-o",
                 str(out)]) == EXIT_DATA
    assert not out.exists()
    with pytest.raises(MarketDataError, match="malformed"):
        fetch_closes("binance", [], since="2024-01-01", until="2024-01-10", now=LATER)


def test_the_current_candle_is_left_out_and_closes_since_starts_after_the_last_date(
        monkeypatch):
    """At noon on Jan 10 the Jan 10 candle is still moving; closes_since(Jan 7) is 8 and 9."""
    table = _closes()
    install(monkeypatch, binance_spot_routes(table))
    noon = datetime(2024, 1, 10, 12, tzinfo=UTC)
    frame = fetch_closes("binance", [], since="2024-01-01", now=noon)
    assert frame.index[-1] == pd.Timestamp("2024-01-09")
    newer = closes_since("binance", ["SOL"], "2024-01-07", now=noon)
    assert list(newer.index) == [pd.Timestamp("2024-01-08"), pd.Timestamp("2024-01-09")]
    assert newer.loc["2024-01-09", "SOL"] == float(table["SOLUSDT"][JAN1 + 8 * DAY_MS])
    assert closes_since("binance", ["SOL"], "2024-01-09", now=noon).empty


def test_fetched_prices_fill_the_same_book_as_the_closes_written_by_hand(monkeypatch, tmp_path):
    """fetch prices -> fill gives the book that fill makes of the same closes typed by hand."""
    table = _closes(days=130, gap_day=40)
    install(monkeypatch, binance_spot_routes(table))
    fetched = tmp_path / "fetched.csv"
    assert main(["fetch", "prices", "--assets", "SOL", "--since", "2024-01-01", "--until",
                 "2024-05-09", "-o", str(fetched)]) == EXIT_OK
    lines = ["date,BTC,ETH,SOL"]
    for i in range(130):
        t = JAN1 + i * DAY_MS
        day = datetime.fromtimestamp(t / 1000, tz=UTC).strftime("%Y-%m-%d")
        lines.append(",".join([day, *(table[s].get(t, "") for s in
                                      ("BTCUSDT", "ETHUSDT", "SOLUSDT"))]))
    by_hand = tmp_path / "by_hand.csv"
    by_hand.write_text("\n".join(lines) + "\n", encoding="utf-8")
    holdings = tmp_path / "holdings.csv"
    holdings.write_text("asset,quantity\nETH,10\nSOL,200\n", encoding="utf-8")
    a = read_csv_inputs(holdings, fetched)
    b = read_csv_inputs(holdings, by_hand)
    pd.testing.assert_frame_equal(a.prices, b.prices, check_exact=True)
    books = []
    for prices in (fetched, by_hand):
        out = tmp_path / f"{prices.stem}.xlsx"
        assert main(["fill", "--holdings", str(holdings), "--prices", str(prices), "-o",
                     str(out), "--quiet"]) == EXIT_OK
        wb = openpyxl.load_workbook(out, data_only=True)
        books.append({(ws.title, c.coordinate): c.value for ws in wb for row in ws.iter_rows()
                      for c in row if c.value is not None})
    created = ("Tickets", "B2")  # when the tickets were made: seconds apart
    assert books[0].pop(created)[:10] == books[1].pop(created)[:10]
    assert books[0] == books[1]


# ----------------------------------------------------------------------------- funding


def _funding_8h_then_1h() -> list[tuple[int, str]]:
    """8-hour payments of 0.01% to 2024-01-03 08:00, then hourly payments of 0.002%."""
    out = [(JAN1 + h * HOUR_MS + 3, "0.00010000") for h in range(0, 57, 8)]  # 00:00 .. 03 08:00
    out += [(JAN1 + h * HOUR_MS, "0.00002000") for h in range(57, 24 * 5 + 1)]
    return out


def test_funding_history_pages_and_follows_the_interval_change(monkeypatch, tmp_path):
    """Binance USD-M: windows of 24 payments; 8 h then 1 h intervals; ms noise rounded off."""
    session = install(monkeypatch, {
        "fapi.binance.com/fapi/v1/exchangeInfo": recorded("binance_fapi_v1_exchangeInfo.json"),
        "fapi.binance.com/fapi/v1/fundingRate": binance_funding("BTCUSDT",
                                                                _funding_8h_then_1h())})
    history = fetch_funding_history("BINANCE:BTCUSDT", since="2024-01-01", until="2024-01-05",
                                    page_limit=24, now=LATER)
    assert session.count("fundingRate") == 6  # 121 hours in windows of 23 hours
    assert history["time"].iloc[0] == pd.Timestamp("2024-01-01 00:00")
    assert history["time"].iloc[7] == pd.Timestamp("2024-01-03 08:00")
    assert history["interval_hours"].iloc[:8].tolist() == [8.0] * 8
    assert history["interval_hours"].iloc[8:].tolist() == [1.0] * (len(history) - 8)
    assert history["funding_rate"].iloc[-1] == 0.00002
    out = tmp_path / "funding.csv"
    assert main(["fetch", "funding", "--contract", "BINANCE:BTCUSDT", "--since", "2024-01-01",
                 "--until", "2024-01-05", "-o", str(out)]) == EXIT_OK
    frame, contract = read_funding_csv(out)
    assert contract == "BINANCE:BTCUSDT"
    pd.testing.assert_frame_equal(frame, history)


def test_coinm_funding_history_and_a_dated_contract_refused(monkeypatch):
    """Binance COIN-M BTCUSD_PERP funding through /dapi/v1/fundingRate."""
    payments = [(JAN1 + h * HOUR_MS, "-0.00005000") for h in range(0, 48, 8)]
    install(monkeypatch, {
        "dapi.binance.com/dapi/v1/exchangeInfo": recorded("binance_dapi_v1_exchangeInfo.json"),
        "dapi.binance.com/dapi/v1/fundingRate": binance_funding("BTCUSD_PERP", payments)})
    history = fetch_funding_history("BINANCE:BTCUSD_PERP", since="2024-01-01",
                                    until="2024-01-02", now=LATER)
    assert history["funding_rate"].tolist() == [-0.00005] * 6
    assert history["interval_hours"].tolist() == [8.0] * 6
    with pytest.raises(MarketDataError, match="BTCUSD_250627 is not listed"):
        fetch_funding_history("BINANCE:BTCUSD_250627", since="2024-01-01", now=LATER)


def test_backtest_accrues_each_funding_payment_of_an_8h_then_1h_history(tmp_path):
    """Hand-checked: day funding = contracts held x close x the rates paid in that day.

    Payments: 0.01% at 00, 08, 16 h until 2024-03-11 08:00, then 0.002% every hour.
    A day runs from the previous close (its 24:00) to its own close, end included:
    2024-03-10: 08:00, 16:00 and 03-11 00:00 -> 3 x 0.0001 = 0.0003;
    2024-03-11: 08:00 (8 h) and 09:00 ... 24:00 (16 hourly) -> 0.0001 + 16 x 0.00002 = 0.00042;
    2024-03-12: 24 hourly payments -> 0.00048.
    """
    from betaneutral.backtest_io import read_backtest_csv_inputs, run_backtest

    rng = np.random.default_rng(3)
    days = pd.date_range("2024-01-01", periods=90, freq="D")
    btc = 40_000 * np.cumprod(1 + rng.normal(0, 0.02, 90))
    eth = 2_000 * np.cumprod(1 + 1.2 * (np.r_[1, btc[1:] / btc[:-1]] - 1))
    prices = tmp_path / "prices.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "BTC": btc, "ETH": eth}).to_csv(
        prices, index=False)
    holdings = tmp_path / "holdings.csv"
    holdings.write_text("asset,quantity\nETH,100\n", encoding="utf-8")
    switch = pd.Timestamp("2024-03-11 08:00")
    times = list(pd.date_range("2023-12-31 16:00", switch, freq="8h"))
    times += list(pd.date_range(switch + pd.Timedelta(hours=1), "2024-03-31 00:00", freq="h"))
    rates = [0.0001 if t <= switch else 0.00002 for t in times]
    funding = tmp_path / "funding.csv"
    funding.write_text("time,contract,funding_rate,interval_hours\n" + "".join(
        f"{t:%Y-%m-%dT%H:%M:%SZ},BINANCE:BTCUSDT,{r},8\n" for t, r in zip(times, rates,
                                                                          strict=True)),
        encoding="utf-8")
    inputs, _, _ = read_backtest_csv_inputs(holdings, prices)
    frame, contract = read_funding_csv(funding)
    run = run_backtest(inputs, funding_history=(frame, contract, funding.name))
    daily = run.result.daily.set_index("date")
    held_before = daily["hedge_contracts"].shift(1)
    per_day = daily["funding_usd"] / (held_before * pd.Series(btc, index=days))
    assert per_day["2024-03-10"] == pytest.approx(0.0003, rel=1e-9)
    assert per_day["2024-03-11"] == pytest.approx(0.00042, rel=1e-9)
    assert per_day["2024-03-12"] == pytest.approx(0.00048, rel=1e-9)
    assert per_day["2024-03-05"] == pytest.approx(0.0003, rel=1e-9)
    assert run.settings["funding"].startswith("BINANCE:BTCUSDT funding history (funding.csv)")
    assert "on 89 of 89 days" in run.settings["funding"]


def test_backtest_command_names_the_funding_file(tmp_path, capsys):
    """backtest --funding-csv: the summary's Funding line names the contract and the file."""
    days = pd.date_range("2024-01-01", periods=100, freq="D")
    rng = np.random.default_rng(5)
    btc = 40_000 * np.cumprod(1 + rng.normal(0, 0.02, 100))
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "BTC": btc,
                  "ETH": btc / 20 * np.cumprod(1 + rng.normal(0, 0.01, 100))}).to_csv(
        tmp_path / "p.csv", index=False)
    (tmp_path / "h.csv").write_text("asset,quantity\nETH,50\n", encoding="utf-8")
    times = pd.date_range("2024-01-01 08:00", "2024-02-15", freq="8h")
    (tmp_path / "f.csv").write_text("time,contract,funding_rate,interval_hours\n" + "".join(
        f"{t:%Y-%m-%dT%H:%M:%SZ},BINANCE:BTCUSDT,0.0001,8\n" for t in times), encoding="utf-8")
    assert main(["backtest", "--holdings", str(tmp_path / "h.csv"), "--prices",
                 str(tmp_path / "p.csv"), "--funding-csv", str(tmp_path / "f.csv"), "-o",
                 str(tmp_path / "out"), "--quiet"]) == EXIT_OK
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "funding history" in x)
    assert "BINANCE:BTCUSDT funding history (f.csv)" in line
    assert "0.0100% per 8 h (Settings) on the others" in line  # the file ends on Feb 15


# ----------------------------------------------------------------------------- contracts


def _usdm_routes() -> dict[str, object]:
    return {"fapi.binance.com/fapi/v1/exchangeInfo": recorded("binance_fapi_v1_exchangeInfo.json"),
            "fapi.binance.com/fapi/v1/leverageBracket":
            recorded("binance_fapi_v1_leverageBracket.json")}


def test_fetched_binance_tiers_reproduce_the_published_bracket_example(monkeypatch):
    """BTCUSDT from GET /fapi/v1/leverageBracket: Binance's published table and FAQ example.

    Binance, "Updates to Leverage and Margin Tiers" (2021-03-18),
    https://www.binance.com/en/support/announcement/86cf9aa472574b8cb2e05bb751c2a9a6:
    0-50,000 USDT 125x 0.40%; 50,000-250,000 100x 0.50%; 250,000-1,000,000 50x 1.00% ...
    FAQ https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93:
    "Maintenance Amount on Level 3 = 250,000 * (1% - 0.5%) + 50 USDT = 1,300 USDT".
    """
    monkeypatch.setenv("BETANEUTRAL_API_KEY", "k-test")
    monkeypatch.setenv("BETANEUTRAL_API_SECRET", "s-test")
    install(monkeypatch, _usdm_routes())
    (spec,) = fetch_contract_specs("binanceusdm", ["BTCUSDT"], now=LATER)
    tiers = spec.margin_tiers
    assert [(t.notional_floor, t.notional_cap, t.maintenance_rate, t.max_leverage)
            for t in tiers[:3]] == [(0.0, 50_000.0, 0.004, 125.0),
                                    (50_000.0, 250_000.0, 0.005, 100.0),
                                    (250_000.0, 1_000_000.0, 0.01, 50.0)]
    assert tiers[2].maintenance_amount == pytest.approx(1_300.0)
    assert maintenance_for_notional(264_000.0, tiers)[0] == 0.01
    assert maintenance_for_notional(500_000.0, tiers) == (0.01, pytest.approx(1_300.0))
    # the same brackets as the built-in entry's 2021 table
    assert tiers == get_contract("BINANCE:BTCUSDT").margin_tiers
    assert (spec.name, spec.kind, spec.contract_size, spec.quantity_step, spec.min_quantity,
            spec.min_notional_usd) == ("BINANCE:BTCUSDT", "linear", 1.0, 0.001, 0.001, 100.0)
    assert spec.checked == "2024-06-01"
    assert "fetched 2024-06-01T00:00:00Z" in spec.source


def test_fetched_coinm_tiers_are_in_btc_and_match_the_catalogue(monkeypatch):
    """BTCUSD_PERP from GET /dapi/v2/leverageBracket: qty brackets in BTC, 100 USD contracts."""
    monkeypatch.setenv("BETANEUTRAL_API_KEY", "k-test")
    monkeypatch.setenv("BETANEUTRAL_API_SECRET", "s-test")
    install(monkeypatch, {
        "dapi.binance.com/dapi/v1/exchangeInfo": recorded("binance_dapi_v1_exchangeInfo.json"),
        "dapi.binance.com/dapi/v2/leverageBracket":
        recorded("binance_dapi_v2_leverageBracket.json")})
    (spec,) = fetch_contract_specs("binancecoinm", ["BTCUSD_PERP"], now=LATER)
    built_in = get_contract("BINANCE:BTCUSD_PERP")
    assert (spec.kind, spec.contract_size, spec.quantity_step, spec.settlement_currency) == (
        "inverse", 100.0, 1.0, "BTC")
    fetched = [(t.notional_floor, t.maintenance_rate, t.maintenance_amount, t.max_leverage)
               for t in spec.margin_tiers]
    expected = [(t.notional_floor, t.maintenance_rate, t.maintenance_amount, t.max_leverage)
                for t in built_in.margin_tiers]
    assert np.allclose(fetched, expected, rtol=1e-12, atol=1e-12)


def test_fetched_bybit_tiers_match_the_published_margin_parameters(monkeypatch):
    """BYBIT BTCUSDT from /v5/market/risk-limit (public): the page's 20 levels, deductions too."""
    install(monkeypatch, {
        "api.bybit.com/v5/market/instruments-info":
        recorded("bybit_v5_market_instruments-info_linear.json"),
        "api.bybit.com/v5/market/risk-limit": recorded("bybit_v5_market_risk-limit_BTCUSDT.json")})
    (spec,) = fetch_contract_specs("bybit", ["BTCUSDT"], now=LATER)
    assert spec.margin_tiers == get_contract("BYBIT:BTCUSDT").margin_tiers
    assert (spec.min_notional_usd, spec.funding_interval_hours) == (5.0, 8.0)


def test_binance_tiers_without_a_key_ask_for_one_and_no_tiers_works(monkeypatch):
    monkeypatch.delenv("BETANEUTRAL_API_KEY", raising=False)
    monkeypatch.delenv("BETANEUTRAL_API_SECRET", raising=False)
    install(monkeypatch, _usdm_routes())
    with pytest.raises(MarketDataError, match="BETANEUTRAL_API_KEY and BETANEUTRAL_API_SECRET"):
        fetch_contract_specs("binanceusdm", ["BTCUSDT"], now=LATER)
    (spec,) = fetch_contract_specs("binanceusdm", ["BTCUSDT"], tiers=False, now=LATER)
    assert spec.margin_tiers == ()
    assert "No leverage tiers" in spec.notes


def test_tiers_whose_amounts_contradict_the_rates_are_refused(monkeypatch):
    monkeypatch.setenv("BETANEUTRAL_API_KEY", "k-test")
    monkeypatch.setenv("BETANEUTRAL_API_SECRET", "s-test")
    routes = _usdm_routes()
    body = recorded("binance_fapi_v1_leverageBracket.json")
    body[0]["brackets"][2]["cum"] = 1_250.0
    routes["fapi.binance.com/fapi/v1/leverageBracket"] = body
    install(monkeypatch, routes)
    with pytest.raises(MarketDataError, match=r"tier 3 has maintenance amount 1250\.0"):
        fetch_contract_specs("binanceusdm", ["BTCUSDT"], now=LATER)


def test_user_catalogue_file_round_trips_and_the_commands_use_it(monkeypatch, tmp_path,
                                                                  capsys):
    """fetch contracts -> JSON with the fetch date -> --catalogue: get_contract answers from it."""
    install(monkeypatch, {
        "api.bybit.com/v5/market/instruments-info":
        recorded("bybit_v5_market_instruments-info_linear.json"),
        "api.bybit.com/v5/market/risk-limit": recorded("bybit_v5_market_risk-limit_BTCUSDT.json")})
    out = tmp_path / "catalogue.json"
    assert main(["fetch", "contracts", "--exchange", "bybit", "--symbols", "BTCUSDT", "-o",
                 str(out)]) == EXIT_OK
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["fetched"].endswith("Z")
    assert document["exchange"] == "bybit"
    (spec,) = load_catalogue(out)
    assert spec.name == "BYBIT:BTCUSDT"
    assert spec.min_notional_usd == 5.0
    # a changed copy, to see which one the command uses
    document["contracts"][0]["min_notional_usd"] = 7.0
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps(document), encoding="utf-8")
    seen = {}

    def fake_fill(args):
        seen["spec"] = get_contract("BYBIT:BTCUSDT")
        return EXIT_OK

    import betaneutral.cli as cli

    monkeypatch.setattr(cli, "cmd_fill", fake_fill)
    capsys.readouterr()
    assert main(["--catalogue", str(mine), "fill", "--holdings", "h", "--prices", "p", "-o",
                 "x.xlsx"]) == EXIT_OK
    assert seen["spec"].min_notional_usd == 7.0
    assert f"the catalogue {mine}" in capsys.readouterr().err
    assert get_contract("BYBIT:BTCUSDT").min_notional_usd == 0.0  # built-in restored
    monkeypatch.setenv("BETANEUTRAL_CATALOGUE", str(mine))
    assert main(["fill", "--holdings", "h", "--prices", "p", "-o", "x.xlsx"]) == EXIT_OK
    assert seen["spec"].min_notional_usd == 7.0
    use_catalogue(None)


def test_a_broken_catalogue_entry_is_named(tmp_path):
    spec = get_contract("BINANCE:BTCUSDT")
    path = write_catalogue([spec], tmp_path / "c.json", fetched="2024-06-01T00:00:00Z",
                           exchange="binanceusdm")
    document = json.loads(path.read_text(encoding="utf-8"))
    document["contracts"][0]["contract_size"] = -1
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(Exception, match=r"c.json: contract 1: contract_size must be > 0"):
        load_catalogue(path)


# ----------------------------------------------------------------------------- position


FAKE_KEY = "FAKEKEYbn7Qw2Lr9Zt5Xy1Uv3Ps8Mn4Hk6Jd0Gf"
FAKE_SECRET = "FAKESECRETq8Wz3Ne5Rt7Yu1Io9Pa2Sd4Fg6Hj0Kl"


def _position_routes(answer_position=None):
    routes = {"fapi.binance.com/fapi/v1/exchangeInfo":
              recorded("binance_fapi_v1_exchangeInfo.json"),
              "fapi.binance.com/fapi/v1/leverageBracket":
              recorded("binance_fapi_v1_leverageBracket.json"),
              "fapi.binance.com/fapi/v3/positionRisk":
              answer_position or recorded("binance_fapi_v3_positionRisk.json"),
              "fapi.binance.com/fapi/v3/account": recorded("binance_fapi_v3_account.json")}
    return routes


def _secrets_in(text: str) -> list[str]:
    found = [s for s in (FAKE_KEY, FAKE_SECRET) if s in text]
    return found + [s[:16] for s in (FAKE_KEY, FAKE_SECRET) if s[:16] in text]


def test_fake_credentials_appear_in_no_file_log_message_or_workbook(monkeypatch, tmp_path,
                                                                     capsys, caplog):
    """The key reaches the exchange (a header) and nothing else: files, logs, output, errors."""
    monkeypatch.setenv("BETANEUTRAL_API_KEY", FAKE_KEY)
    monkeypatch.setenv("BETANEUTRAL_API_SECRET", FAKE_SECRET)
    caplog.set_level(logging.DEBUG)  # every logger, ccxt's included
    session = install(monkeypatch, _position_routes())
    settings = tmp_path / "position.toml"
    assert main(["fetch", "position", "--contract", "BINANCE:BTCUSDT", "-o",
                 str(settings)]) == EXIT_OK
    printed = capsys.readouterr()
    # the key was used: sent as Binance's X-MBX-APIKEY header on the signed requests
    signed = [c for c in session.calls if c[1].endswith("positionRisk")]
    assert signed
    assert signed[0][3].get("X-MBX-APIKEY") == FAKE_KEY
    assert "signature" in signed[0][2]
    text = settings.read_text(encoding="utf-8")
    assert 'hedge_contract = "BINANCE:BTCUSDT"' in text
    assert "current_contracts = 1.25" in text
    assert "futures_price = 65000.0" in text
    assert "1.25 contract(s) short" in printed.out
    assert "38,750 USDT" in printed.out
    # the position's settings fill a workbook
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    rng = np.random.default_rng(9)
    btc = 40_000 * np.cumprod(1 + rng.normal(0, 0.02, 120))
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "BTC": btc, "ETH": btc / 18}).to_csv(
        tmp_path / "p.csv", index=False)
    (tmp_path / "h.csv").write_text("asset,quantity\nETH,40\n", encoding="utf-8")
    book = tmp_path / "book.xlsx"
    assert main(["fill", "--holdings", str(tmp_path / "h.csv"), "--prices",
                 str(tmp_path / "p.csv"), "--settings", str(settings), "-o", str(book),
                 "--quiet"]) == EXIT_OK
    # a refused key: the error message and its chain
    install(monkeypatch, _position_routes(
        (401, {"code": -2015, "msg": f"Invalid API-key {FAKE_KEY}, IP, or permissions for "
               "action."})))
    from betaneutral.marketdata.position import fetch_position

    with pytest.raises(MarketDataError) as info:
        fetch_position("BINANCE:BTCUSDT")
    chain, exc = [], info.value
    while exc is not None:
        chain.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    assert "the API key was refused" in chain[0]
    assert len(chain) == 1
    assert main(["fetch", "position", "--contract", "BINANCE:BTCUSDT"]) == EXIT_DATA
    printed_error = capsys.readouterr()
    haystacks = {
        "settings file": text,
        "workbook": b"".join(zipfile.ZipFile(book).read(n) for n in
                             zipfile.ZipFile(book).namelist()).decode("utf-8", "replace"),
        "stdout": printed.out + printed_error.out,
        "stderr": printed.err + printed_error.err,
        "log": "\n".join(r.getMessage() for r in caplog.records),
        "exceptions": "\n".join(chain),
        "other files": "".join(p.read_text(encoding="utf-8", errors="replace")
                               for p in tmp_path.rglob("*") if p.is_file()
                               and p.suffix in (".csv", ".toml", ".json")),
    }
    assert {where: _secrets_in(hay) for where, hay in haystacks.items()} == {
        where: [] for where in haystacks}
    assert "<redacted>" in printed_error.err  # the exchange echoed the key; it was removed


def test_position_needs_the_key_variables(monkeypatch, capsys):
    monkeypatch.delenv("BETANEUTRAL_API_KEY", raising=False)
    monkeypatch.setenv("BETANEUTRAL_API_SECRET", FAKE_SECRET)
    install(monkeypatch, _position_routes())
    assert main(["fetch", "position", "--contract", "BINANCE:BTCUSDT"]) == EXIT_DATA
    err = capsys.readouterr().err
    assert "set the environment variable(s) BETANEUTRAL_API_KEY" in err
    assert FAKE_SECRET not in err


def test_a_flat_account_reads_as_zero_contracts(monkeypatch):
    monkeypatch.setenv("BETANEUTRAL_API_KEY", FAKE_KEY)
    monkeypatch.setenv("BETANEUTRAL_API_SECRET", FAKE_SECRET)
    flat = recorded("binance_fapi_v3_positionRisk.json")
    flat[0].update(positionAmt="0.000", notional="0", isolatedMargin="0")
    install(monkeypatch, _position_routes(flat))
    from betaneutral.marketdata.position import fetch_position

    snap = fetch_position("BINANCE:BTCUSDT")
    # ccxt's total is Binance's margin balance (wallet + unrealised P&L), free its available
    assert (snap.contracts_short, snap.collateral_total, snap.collateral_free) == (
        0.0, 38_750.0, 13_875.0)


def test_only_read_methods_can_be_called(monkeypatch):
    install(monkeypatch, binance_spot_routes(_closes()))
    from betaneutral.marketdata.client import open_client

    client = open_client("binance")
    with pytest.raises(MarketDataError, match="create_order is not a read method"):
        client.call("an order", "create_order", "BTC/USDT", "market", "sell", 1.0)


def test_excel_functions_use_the_catalogue_named_in_the_environment(monkeypatch, tmp_path):
    """BETANEUTRAL_CATALOGUE: CONTRACT_SPEC answers from it; a broken file shows its reason."""
    import dataclasses

    import betaneutral.udfs as udfs

    mine = dataclasses.replace(get_contract("BINANCE:BTCUSDT"), min_notional_usd=42.0)
    path = write_catalogue([mine], tmp_path / "c.json", fetched="2024-06-01T00:00:00Z",
                           exchange="binanceusdm")
    monkeypatch.setenv("BETANEUTRAL_CATALOGUE", str(path))
    monkeypatch.setattr(udfs, "_CATALOGUE_STATE", [])
    try:
        assert udfs.CONTRACT_SPEC("BINANCE:BTCUSDT", "min_notional_usd") == 42.0
        broken = tmp_path / "broken.json"
        broken.write_text("{", encoding="utf-8")
        monkeypatch.setenv("BETANEUTRAL_CATALOGUE", str(broken))
        monkeypatch.setattr(udfs, "_CATALOGUE_STATE", [])
        assert udfs.CONTRACT_SPEC("BINANCE:BTCUSDT", "kind") == "#VALUE!"
    finally:
        use_catalogue(None)


def test_deribit_without_tiers_in_its_api_says_so_before_any_request(monkeypatch):
    session = install(monkeypatch, {})
    with pytest.raises(MarketDataError, match="deribit: the exchange gives no leverage tiers"):
        fetch_contract_specs("deribit", ["BTC-PERPETUAL"], now=LATER)
    assert session.calls == []


@pytest.mark.parametrize(("argv", "message"), [
    (["prices", "--exchange", "kraken"], "exchange must be one of"),
    (["prices", "--since", "01/02/2024"], "since must be an ISO 8601 date"),
    (["prices", "--assets", "=HYPERLINK(1)"], "asset"),
    (["prices", "--quote", "US DT"], "quote"),
    (["prices", "--since", "2024-02-01", "--until", "2024-01-01"], "since must be before"),
    (["funding", "--contract", "BINANCEBTCUSDT"], "contract must be EXCHANGE:SYMBOL"),
    (["funding", "--contract", "KRAKEN:XBTUSD"], "contract must be EXCHANGE:SYMBOL"),
    (["contracts", "--exchange", "binance"], "exchange must be one of"),
], ids=lambda v: v if isinstance(v, str) else "-".join(v[:2]))
def test_bad_fetch_arguments_are_one_line_errors_before_any_request(monkeypatch, tmp_path,
                                                                      capsys, argv, message):
    session = install(monkeypatch, {})
    out = tmp_path / "out.csv"
    assert main(["fetch", *argv, "-o", str(out)]) == EXIT_DATA
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err
    assert session.calls == []
    assert not out.exists()


def test_an_existing_output_is_refused_before_any_request(monkeypatch, tmp_path, capsys):
    session = install(monkeypatch, binance_spot_routes(_closes()))
    out = tmp_path / "prices.csv"
    out.write_text("mine\n", encoding="utf-8")
    assert main(["fetch", "prices", "-o", str(out)]) == 3
    assert session.calls == []
    assert out.read_text(encoding="utf-8") == "mine\n"


def test_catalogue_file_keeps_every_field_and_open_ended_tiers(tmp_path):
    """write_catalogue then load_catalogue gives back equal specifications (inf caps as null)."""
    from betaneutral.core.contracts import CATALOGUE

    specs = list(CATALOGUE.values())
    path = write_catalogue(specs, tmp_path / "all.json", fetched="2024-06-01T00:00:00Z",
                           exchange="several")
    assert load_catalogue(path) == specs
    assert "Infinity" not in path.read_text(encoding="utf-8")


def test_the_contracts_sheet_lists_the_users_catalogue(tmp_path):
    """A book filled with --catalogue lists the user's contracts on its Contracts sheet (the
    built-in ones too), and the hedge can use one of them; without it, only the built-in."""
    import dataclasses

    import openpyxl

    from betaneutral.sample import sample_holdings, sample_prices

    mine = dataclasses.replace(get_contract("BINANCE:BTCUSDT"), exchange="MYDESK",
                               source="my desk's terms")
    catalogue = write_catalogue([mine], tmp_path / "mine.json", fetched="2026-12-05T00:00:00Z",
                                exchange="mydesk")
    sample_prices(days=120).to_csv(tmp_path / "p.csv", index_label="date")
    sample_holdings()[["asset", "quantity"]].to_csv(tmp_path / "h.csv", index=False)
    (tmp_path / "s.toml").write_text('HedgeContract = "MYDESK:BTCUSDT"\n', encoding="utf-8")
    args = ["fill", "--holdings", str(tmp_path / "h.csv"), "--prices", str(tmp_path / "p.csv")]
    try:
        assert main(["--catalogue", str(catalogue), *args, "--settings",
                     str(tmp_path / "s.toml"), "-o", str(tmp_path / "mine.xlsx"),
                     "--quiet"]) == EXIT_OK
    finally:
        use_catalogue(None)
    assert main([*args, "-o", str(tmp_path / "builtin.xlsx"), "--quiet"]) == EXIT_OK

    def listed(path):
        ws = openpyxl.load_workbook(path)["Contracts"]
        return [row[0].value for row in ws.iter_rows(min_row=2) if row[0].value]

    assert "MYDESK:BTCUSDT" in listed(tmp_path / "mine.xlsx")
    assert "BINANCE:BTCUSDT" in listed(tmp_path / "mine.xlsx")
    assert "MYDESK:BTCUSDT" not in listed(tmp_path / "builtin.xlsx")
