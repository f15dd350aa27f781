"""Book files (betaneutral.sources): date formats, valuation closes, merged holdings.

Expected values are written by hand from the files' own text: the day and month each
example stands for, the summed quantity of repeated rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from betaneutral.errors import DomainError, InputTypeError
from betaneutral.sources import parse_dates, read_csv_inputs, read_prices_csv


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def dates_of(texts, date_format=None):
    return [d.strftime("%Y-%m-%d") for d in
            parse_dates(Path("p.csv"), "date", list(enumerate(texts, start=2)), date_format)]


@pytest.mark.parametrize(("texts", "want"), [
    # ISO 8601 and its year-first spellings
    (["2024-10-13", "2024-10-01"], ["2024-10-13", "2024-10-01"]),
    (["2024/10/13", "2024.10.01", "2024-1-5"], ["2024-10-13", "2024-10-01", "2024-01-05"]),
    (["2024-01-01T22:00:00-05:00"], ["2024-01-02"]),
    # day-first, proven by a day above 12, with each separator and two-digit years
    (["01/10/2024", "13/10/2024"], ["2024-10-01", "2024-10-13"]),
    (["01.10.2024", "13.10.2024"], ["2024-10-01", "2024-10-13"]),
    (["01-10-2024", "13-10-2024"], ["2024-10-01", "2024-10-13"]),
    (["01/10/24", "13/10/24"], ["2024-10-01", "2024-10-13"]),
    (["31.12.99", "01.01.00"], ["1999-12-31", "2000-01-01"]),
    # month-first, proven by a day above 12 in the second field
    (["10/01/2024", "10/13/2024"], ["2024-10-01", "2024-10-13"]),
    (["10-01-24 00:00", "10-13-24 23:59:59"], ["2024-10-01", "2024-10-13"]),
])
def test_dates_are_read_as_the_column_proves(texts, want):
    assert dates_of(texts) == want


def test_explicit_format_reads_an_ambiguous_column():
    assert dates_of(["01/02/2024", "03/04/2024"], "dmy") == ["2024-02-01", "2024-04-03"]
    assert dates_of(["01/02/2024", "03/04/2024"], "mdy") == ["2024-01-02", "2024-03-04"]


def test_ambiguous_column_is_refused_naming_the_column_and_two_rows():
    with pytest.raises(DomainError) as err:
        dates_of(["01/10/2024", "02/10/2024", "03/10/2024"])
    msg = str(err.value)
    assert "column 'date'" in msg
    assert "'01/10/2024' (row 2)" in msg
    assert "'02/10/2024' (row 3)" in msg
    assert "--date-format" in msg


def test_a_column_mixing_both_orders_is_refused():
    with pytest.raises(DomainError, match="all be day-first or all month-first"):
        dates_of(["13/10/2024", "10/14/2024"])


@pytest.mark.parametrize(("texts", "fmt", "error"), [
    (["31/02/2024", "13/01/2024"], None, DomainError),  # 31 February
    (["13/10/2024"], "iso", InputTypeError),            # iso accepts year-first only
    (["13/10/2024"], "mdy", DomainError),              # month 13
    (["Oct 13 2024"], None, InputTypeError),
    ([""], None, InputTypeError),
])
def test_impossible_dates_are_refused(texts, fmt, error):
    with pytest.raises(error):
        dates_of(texts, fmt)


def _prices(n=150, seed=3):
    rng = np.random.default_rng(seed)
    days = pd.date_range("2023-11-01", periods=n, freq="D")
    btc = 30_000 * np.cumprod(1 + rng.normal(0, 0.03, n))
    eth = 2_000 * np.cumprod(1 + rng.normal(0, 0.04, n))
    sol = 20 * np.cumprod(1 + rng.normal(0, 0.05, n))
    return pd.DataFrame({"BTC": btc, "ETH": eth, "SOL": sol}, index=days)


def _wide(prices: pd.DataFrame, fmt: str) -> str:
    lines = ["date," + ",".join(prices.columns)]
    for day, row in prices.iterrows():
        lines.append(day.strftime(fmt) + "," + ",".join(repr(float(v)) for v in row))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%d.%m.%y", "%m-%d-%Y", "%Y/%m/%d", "%m/%d/%y"])
def test_same_prices_in_another_date_format_give_the_same_prices(tmp_path, fmt):
    prices = _prices()
    iso = read_prices_csv(write(tmp_path / "iso.csv", _wide(prices, "%Y-%m-%d")))
    other = read_prices_csv(write(tmp_path / "other.csv", _wide(prices, fmt)))
    pd.testing.assert_frame_equal(iso, other)
    assert iso.index[0] == pd.Timestamp("2023-11-01")


def test_a_holding_without_a_close_on_the_valuation_date_is_refused(tmp_path):
    prices = _prices()
    prices.iloc[-1, prices.columns.get_loc("SOL")] = np.nan
    p = write(tmp_path / "p.csv", _wide(prices, "%Y-%m-%d").replace("nan", ""))
    h = write(tmp_path / "h.csv", "asset,quantity\nSOL,100\n")
    with pytest.raises(DomainError) as err:
        read_csv_inputs(h, p)
    msg = str(err.value)
    assert "SOL must have a close on the valuation date 2024-03-29" in msg
    assert "latest close is 2024-03-28" in msg


def test_repeated_holdings_rows_are_merged_before_anything_is_sized(tmp_path):
    prices = _prices()
    p = write(tmp_path / "p.csv", _wide(prices, "%Y-%m-%d"))
    h = write(tmp_path / "h.csv", "asset,quantity,price\nETH,1,\nSOL,2,5\nETH,1.5,7\n"
)
    got = read_csv_inputs(h, p)
    assert list(got.holdings["asset"]) == ["ETH", "SOL"]
    assert list(got.holdings["quantity"]) == [2.5, 2.0]
    assert list(got.holdings["price"]) == [7.0, 5.0]
    assert list(got.prices.columns) == ["BTC", "ETH", "SOL"]


def test_a_btc_benchmark_book_needs_no_eth_prices(tmp_path: Path) -> None:
    """Prices without ETH fill a BTC-benchmark book (its ETH column blank); the 50/50
    benchmark, which needs ETH, is refused naming the missing column."""
    from betaneutral.cli import EXIT_DATA, EXIT_OK, main
    from betaneutral.sample import sample_prices

    prices = sample_prices(days=120).drop(columns=["ETH"])
    prices.to_csv(tmp_path / "p.csv", index_label="date")
    (tmp_path / "h.csv").write_text("asset,quantity\nSOL,100\nLINK,50\n", encoding="utf-8")
    argv = ["fill", "--holdings", str(tmp_path / "h.csv"), "--prices", str(tmp_path / "p.csv")]
    assert main([*argv, "-o", str(tmp_path / "btc.xlsx"), "--quiet"]) == EXIT_OK
    inputs = read_csv_inputs(tmp_path / "h.csv", tmp_path / "p.csv")
    assert list(inputs.prices.columns[:2]) == ["BTC", "ETH"]
    assert inputs.prices["ETH"].isna().all()
    (tmp_path / "s.toml").write_text('BenchmarkChoice = "BTC/ETH 50/50"\n', encoding="utf-8")
    assert main([*argv, "--settings", str(tmp_path / "s.toml"), "-o",
                 str(tmp_path / "composite.xlsx"), "--quiet"]) == EXIT_DATA
    assert not (tmp_path / "composite.xlsx").exists()
