"""The bad-input matrix: every Excel function and every command against hostile input.

The module is written as a specification: tables of input -> documented outcome,
expanded into one test per row. Sources of the expected outcomes:

* README "Errors" and "How cells are read": text, booleans and dates where a
  number is required give #VALUE!; a number outside its domain #NUM!; too few
  observations or mismatched lengths #N/A; a benchmark that does not move
  #DIV/0!; an unknown contract, method or field #N/A; an error cell its own code.
* Microsoft's SLOPE reference (ranges of different sizes give #N/A; a constant
  known_y gives slope 0), https://support.microsoft.com/office/
  slope-function-11fb8f97-3117-4813-98aa-61d7e01276b9 (read 2026-11-25).
* Excel shows #NUM! for a result beyond its number range (=1E308*10 is #NUM!).
* The numeric domains stated in each core function's docstring (cited per row).
* README "The command": exit 0 success, 1 data error naming the file, sheet,
  cell or row, 2 usage error, 3 file problem; one line on standard error.
"""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest

import betaneutral.udfs as udfs
from betaneutral.cells import COM_ERROR_CODES, EXCEL_ERRORS
from betaneutral.cli import EXIT_DATA, EXIT_FILE, EXIT_OK, EXIT_USAGE, main
from betaneutral.sample import sample_holdings, sample_prices
from betaneutral.workbook.names import name_destinations
from sample_files import write_sample_csvs

OK = "OK"  # the row's input is accepted: the result is a valid number or array
nan, inf = math.nan, math.inf

PRICES = sample_prices(days=120)
ETH = [[float(v)] for v in PRICES["ETH"]]
BTC = [[float(v)] for v in PRICES["BTC"]]
VALUES = [[50_000.0], [30_000.0], [20_000.0]]
BETAS = [[1.1], [1.4], [1.2]]


def _valid(name: str, out: Any) -> bool:
    """A number (finite), a boolean, allowed text, or rows of those; never an error code,
    except #N/A rows of ROLLING_BETA before a full window (README) and #DIV/0! for an
    undefined ratio in BETA_STATS."""
    allowed_codes = {"ROLLING_BETA": {"#N/A"}, "BETA_STATS": {"#DIV/0!"}}.get(name, set())

    def cell(v: Any) -> bool:
        if isinstance(v, bool):
            return True
        if isinstance(v, int | float):
            return math.isfinite(v)
        if isinstance(v, str):
            return v not in EXCEL_ERRORS or v in allowed_codes
        return False

    if isinstance(out, list):
        return bool(out) and all(isinstance(r, list) and all(cell(v) for v in r) for r in out)
    return cell(out) and out not in EXCEL_ERRORS


def _check(name: str, out: Any, expected: Any) -> None:
    if expected == OK:
        assert _valid(name, out), out
    else:
        assert out == expected


# =============================================================== Excel functions
# Every argument of every function: (valid value, cell kind, numeric domain).
# Cell kinds decide the type rules; domains the rules for numbers (None: not a number).
ARGS: dict[str, list[tuple[str, Any, str, str | None]]] = {
    "BETA_VS_BTC": [("asset_prices", ETH, "series", None), ("btc_prices", BTC, "series", None),
                    ("window", 90, "opt_number", "window"),
                    ("method", "ols", "opt_name", None),
                    ("min_obs", 60, "opt_number", "min_obs"),
                    ("return_type", "simple", "opt_name", None),
                    # read only by the Vasicek methods (tests/test_vasicek_book.py); an
                    # error cell in them is still returned, as in every argument
                    ("universe", None, "block", None),
                    ("universe_assets", None, "block", None),
                    ("members", None, "block", None),
                    ("half_life", 126.0, "opt_number", "positive")],
    "BETA_STATS": [("asset_prices", ETH, "series", None), ("btc_prices", BTC, "series", None),
                   ("window", 90, "opt_number", "window"),
                   ("min_obs", 60, "opt_number", "min_obs"),
                   ("header", False, "opt_bool", None)],
    "ROLLING_BETA": [("asset_prices", ETH, "series", None), ("btc_prices", BTC, "series", None),
                     ("window", 30, "number", "rolling_window"),
                     ("min_obs", 20, "opt_number", "rolling_min_obs")],
    "HEDGE_NOTIONAL": [("spot_values", VALUES, "book", None), ("betas", BETAS, "book", None),
                       ("target_beta", 0.0, "opt_number", "real"),
                       ("current_hedge_usd", 0.0, "opt_number", "real")],
    "PORTFOLIO_BETA": [("spot_values", VALUES, "book", None), ("betas", BETAS, "book", None),
                       ("hedge_notional_usd", 0.0, "opt_number", "real")],
    "CONTRACTS_TO_SHORT": [("hedge_notional_usd", 121_000.0, "number", "real"),
                           ("futures_price", 64_000.0, "number", "positive"),
                           ("contract", "BINANCE:BTCUSDT", "contract", None),
                           ("rounding", "nearest", "opt_name", None),
                           # only quanto contracts use it; the catalogue has none
                           ("btc_price", None, "opt_number", "real")],
    "MARGIN_BUFFER": [("short_notional_usd", 121_000.0, "number", "non_negative"),
                      ("entry_price", 64_000.0, "number", "positive"),
                      ("stress_move", 0.3, "number", "above_minus_one"),
                      ("contract_or_mmr", "BINANCE:BTCUSDT", "contract_or_rate", None),
                      ("safety_multiplier", 1.0, "opt_number", "at_least_one")],
    "LIQUIDATION_PRICE": [("short_contracts", 1.891, "number", "positive"),
                          ("entry_price", 64_000.0, "number", "positive"),
                          ("collateral", 40_000.0, "number", "non_negative"),
                          ("contract", "BINANCE:BTCUSDT", "contract", None),
                          ("basis", "mark", "opt_name", None)],
    "FUNDING_COST": [("short_notional_usd", 121_000.0, "number", "real"),
                     ("funding_rate", 0.0001, "number", "real"),
                     ("horizon_hours", 720.0, "number", "non_negative"),
                     ("interval_hours", 8.0, "opt_number", "positive")],
    "REBALANCE_SIGNAL": [("spot_values", VALUES, "book", None), ("betas", BETAS, "book", None),
                         ("current_hedge_usd", 100_000.0, "number", "real"),
                         ("target_beta", 0.0, "opt_number", "real"),
                         ("band", 0.05, "opt_number", "non_negative"),
                         ("beta_se", None, "opt_series", None)],
    "REBALANCE_ACTION": [("current_contracts", 0.0, "opt_number", "real"),
                         ("target_contracts", 7.5, "number", "real"),
                         ("breach", False, "bool", None)],
    "HEDGE_SCENARIOS": [("spot_values", VALUES, "book", None), ("betas", BETAS, "book", None),
                        ("short_contracts", 1.891, "number", "positive"),
                        ("entry_price", 64_000.0, "number", "positive"),
                        ("collateral", 60_000.0, "number", "non_negative"),
                        ("contract", "BINANCE:BTCUSDT", "contract", None),
                        ("moves", None, "opt_moves", "above_minus_one")],
    "CONTRACT_SPEC": [("contract", "BINANCE:BTCUSDT", "contract", None),
                      ("field", "kind", "name", None)],
}


def test_the_matrix_covers_every_excel_function() -> None:
    """The tables list every function of UDF_NAMES with all its parameters, in order."""
    import inspect

    assert sorted(ARGS) == sorted(udfs.UDF_NAMES)
    for name, args in ARGS.items():
        assert [a[0] for a in args] == list(inspect.signature(getattr(udfs, name)).parameters)


def _valid_args(name: str) -> list[Any]:
    return [value for _, value, _, _ in ARGS[name]]


# ---- cell types -------------------------------------------------------------
# What a single cell holds when it reaches a function (classic xlwings, err_to_str=True).
CELLS: dict[str, Any] = {
    "blank": None, "empty text": "", "text": "abc", "numeric text": "1.5", "TRUE": True,
    "FALSE": False, "date": dt.date(2026, 1, 2), "datetime": dt.datetime(2026, 1, 2, 9, 30),
    "NaN": nan, "+inf": inf, "-inf": -inf, "two cells": [[1.0, 2.0]],
}
V, NUM, NA = "#VALUE!", "#NUM!", "#N/A"
#                     blank ""   text numtxt TRUE FALSE date dtime NaN  +inf -inf 2 cells
TYPE_RULES: dict[str, tuple[Any, ...]] = {
    # a required number: blanks are never 0, text is never converted
    "number":        (V,  V,  V,   V,   V,   V,   V,   V,   NUM, NUM, NUM, V),
    # an optional number: blank (or "" from a formula) = the default
    "opt_number":    (OK, OK, V,   V,   V,   V,   V,   V,   NUM, NUM, NUM, V),
    # an optional option name: unknown text is an unknown name
    "opt_name":      (OK, OK, NA,  NA,  V,   V,   V,   V,   V,   V,   V,   V),
    "name":          (V,  V,  NA,  NA,  V,   V,   V,   V,   V,   V,   V,   V),
    # TRUE/FALSE accepted; blank = FALSE
    "opt_bool":      (OK, OK, V,   V,   OK,  OK,  V,   V,   V,   V,   V,   V),
    # a required TRUE/FALSE: a blank is not FALSE
    "bool":          (V,  V,  V,   V,   OK,  OK,  V,   V,   V,   V,   V,   V),
    # a catalogue name or a spec row (a row of 2 cells is neither)
    "contract":      (V,  V,  NA,  NA,  V,   V,   V,   V,   V,   V,   V,   V),
    # a contract, or a number: a flat maintenance rate
    "contract_or_rate": (V, V, NA, NA,  V,   V,   V,   V,   NUM, NUM, NUM, V),
    # an optional column (one entry per holding, three here): a lone number is too short
    "opt_series":    (OK, OK, V,   V,   V,   V,   V,   V,   NUM, NUM, NUM, NA),
    # an optional list of BTC moves, of any length
    "opt_moves":     (OK, OK, V,   V,   V,   V,   V,   V,   NUM, NUM, NUM, OK),
}
assert all(len(rule) == len(CELLS) for rule in TYPE_RULES.values())

TYPE_CASES = [
    pytest.param(name, i, CELLS[cell], TYPE_RULES[kind][j], id=f"{name}-{arg}-{cell}")
    for name, args in ARGS.items()
    for i, (arg, _, kind, _) in enumerate(args) if kind in TYPE_RULES
    for j, cell in enumerate(CELLS)
]


@pytest.mark.parametrize(("name", "pos", "cell", "expected"), TYPE_CASES)
def test_cell_types_in_single_cell_arguments(name: str, pos: int, cell: Any,
                                             expected: Any) -> None:
    """Each cell type in each single-cell argument gives the documented code or a value."""
    args = _valid_args(name)
    args[pos] = cell
    _check(name, getattr(udfs, name)(*args), expected)


# ---- error cells ----------------------------------------------------------------
# Every error value Excel can show, as a string, and the COM integers xlwings leaves
# untranslated for the newer ones; in every argument, alone or inside a range.
ERROR_INPUTS = [(code, code) for code in sorted(EXCEL_ERRORS)] + [
    (com, code) for com, code in sorted(COM_ERROR_CODES.items())[:3]]

ERROR_CASES = [
    pytest.param(name, i, raw, code, id=f"{name}-{arg}-{raw}")
    for name, args in ARGS.items()
    for i, (arg, _, _, _) in enumerate(args)
    for raw, code in ERROR_INPUTS
]


@pytest.mark.parametrize(("name", "pos", "raw", "code"), ERROR_CASES)
def test_error_cells_propagate_their_own_code(name: str, pos: int, raw: Any, code: str) -> None:
    """An error cell anywhere in an argument is returned as that same code (as Excel does)."""
    args = _valid_args(name)
    value = args[pos]
    if isinstance(value, list) and len(value) > 1:
        value = [row[:] for row in value]
        value[len(value) // 2] = [raw]
        args[pos] = value
    else:
        args[pos] = raw
    assert getattr(udfs, name)(*args) == code


# ---- numeric domains -----------------------------------------------------------
NUMBERS: dict[str, float] = {"-1e12": -1e12, "-1": -1.0, "0": 0.0, "1e-12": 1e-12,
                             "2.5": 2.5, "1e12": 1e12}
#                      -1e12 -1    0     1e-12 2.5   1e12
DOMAINS: dict[str, tuple[Any, ...]] = {
    "real":            (OK,  OK,   OK,   OK,   OK,   OK),
    # prices, contracts and intervals: > 0 (README: a price <= 0 is #NUM!)
    "positive":        (NUM, NUM,  NUM,  OK,   OK,   OK),
    # notionals, collateral and horizons: >= 0 (margin_buffer / liquidation_price_short /
    # funding_carry_usd docstrings); a negative band is #NUM! (README)
    "non_negative":    (NUM, NUM,  OK,   OK,   OK,   OK),
    # stress moves: > -100% (README)
    "above_minus_one": (NUM, NUM,  OK,   OK,   OK,   OK),
    # the safety multiplier is >= 1 (margin_buffer docstring)
    "at_least_one":    (NUM, NUM,  NUM,  NUM,  OK,   OK),
    # window: a whole number of returns, 0 = all; longer than the data = all of it
    "window":          (NUM, NUM,  OK,   NUM,  NUM,  OK),
    # min_obs: a whole number >= 3; more than the data holds is too few observations
    "min_obs":         (NUM, NUM,  NUM,  NUM,  NUM,  NA),
    # rolling window: whole, >= 3; longer than the data: every row #N/A (no full window)
    "rolling_window":  (NUM, NUM,  NUM,  NUM,  NUM,  OK),
    # rolling min_obs: whole, in [3, window] (rolling_beta docstring)
    "rolling_min_obs": (NUM, NUM,  NUM,  NUM,  NUM,  NUM),
}
# A number in a contract_or_mmr argument is a maintenance rate in [0, 1) (margin docstring).
RATE_DOMAIN = (NUM, NUM, OK, OK, NUM, NUM)

DOMAIN_CASES = [
    pytest.param(name, i, NUMBERS[label], DOMAINS[domain][j], id=f"{name}-{arg}-{label}")
    for name, args in ARGS.items()
    for i, (arg, _, kind, domain) in enumerate(args) if domain is not None
    and kind != "opt_moves"
    for j, label in enumerate(NUMBERS)
] + [
    pytest.param("MARGIN_BUFFER", 3, NUMBERS[label], RATE_DOMAIN[j],
                 id=f"MARGIN_BUFFER-contract_or_mmr-{label}")
    for j, label in enumerate(NUMBERS)
] + [
    # moves is a column of BTC moves; each must be > -100%
    pytest.param("HEDGE_SCENARIOS", 6, [[NUMBERS[label]]], DOMAINS["above_minus_one"][j],
                 id=f"HEDGE_SCENARIOS-moves-{label}")
    for j, label in enumerate(NUMBERS)
]


@pytest.mark.parametrize(("name", "pos", "number", "expected"), DOMAIN_CASES)
def test_numbers_inside_and_outside_their_domain(name: str, pos: int, number: Any,
                                                 expected: Any) -> None:
    """Negative, zero, tiny (1e-12), fractional and huge (1e12) numbers in every numeric
    argument: #NUM! outside the documented domain, #N/A when more data is asked for than
    given, a valid result otherwise."""
    args = _valid_args(name)
    args[pos] = number
    _check(name, getattr(udfs, name)(*args), expected)


# ---- price series -------------------------------------------------------------
def _col(values: list[float]) -> list[list[Any]]:
    return [[v] for v in values]


def _with(column: list[list[Any]], i: int, value: Any) -> list[list[Any]]:
    out = [row[:] for row in column]
    out[i] = [value]
    return out


def _scaled(column: list[list[float]], factor: float) -> list[list[float]]:
    return [[row[0] * factor] for row in column]


FLAT = [[100.0]] * len(BTC)
PRICE_FUNCTIONS = ("BETA_VS_BTC", "BETA_STATS", "ROLLING_BETA")
ROLLING_ALL_NA = "every row #N/A"
#  case -> (asset_prices, btc_prices, {function: expected}); a value for all three if not a dict
SERIES_CASES: dict[str, tuple[Any, Any, Any]] = {
    "one observation": (ETH[:1], BTC[:1],
                        {"BETA_VS_BTC": NA, "BETA_STATS": NA, "ROLLING_BETA": [[NA]]}),
    # 39 returns < min_obs 60; ROLLING_BETA's window of 30 fits (rows 31..40 have values)
    "fewer returns than min_obs": (ETH[:40], BTC[:40],
                                   {"BETA_VS_BTC": NA, "BETA_STATS": NA, "ROLLING_BETA": OK}),
    "mismatched lengths": (ETH[:-1], BTC, NA),
    "btc longer": (ETH, [*BTC, [70_000.0]], NA),
    "zero asset price": (_with(ETH, 7, 0.0), BTC, NUM),
    "negative btc price": (ETH, _with(BTC, 7, -64_000.0), NUM),
    "-inf price": (_with(ETH, 7, -inf), BTC, NUM),
    "nan price": (ETH, _with(BTC, 7, nan), NUM),
    "empty text price (blank)": (_with(ETH, 7, ""), BTC, OK),
    "blank price": (ETH, _with(BTC, 7, None), OK),
    "numeric text price": (_with(ETH, 7, "3100.5"), BTC, V),
    "boolean price": (ETH, _with(BTC, 7, False), V),
    "date price": (_with(ETH, 7, dt.datetime(2026, 1, 2)), BTC, V),
    "error beats a bad price": (_with(_with(ETH, 3, -1.0), 9, "#REF!"), BTC, "#REF!"),
    "a block, not a column": ([[a[0], b[0]] for a, b in zip(ETH, BTC, strict=True)], BTC, V),
    # a benchmark with zero variance: beta is undefined (README)
    "constant benchmark": (ETH, FLAT, {"BETA_VS_BTC": "#DIV/0!", "BETA_STATS": "#DIV/0!",
                                       "ROLLING_BETA": ROLLING_ALL_NA}),
    "constant prices": (FLAT, FLAT, {"BETA_VS_BTC": "#DIV/0!", "BETA_STATS": "#DIV/0!",
                                     "ROLLING_BETA": ROLLING_ALL_NA}),
}


@pytest.mark.parametrize("function", PRICE_FUNCTIONS)
@pytest.mark.parametrize("case", list(SERIES_CASES))
def test_price_series(function: str, case: str) -> None:
    """Short, mismatched, non-positive, mistyped and constant price columns."""
    asset, btc, expected = SERIES_CASES[case]
    if isinstance(expected, dict):
        expected = expected[function]
    args = _valid_args(function)
    args[0], args[1] = asset, btc
    if function != "ROLLING_BETA":
        args[2] = None  # the whole history
    out = getattr(udfs, function)(*args)
    if expected == ROLLING_ALL_NA:
        assert out == [[NA]] * len(asset)
    else:
        _check(function, out, expected)


def test_a_constant_asset_has_beta_zero_like_slope() -> None:
    """SLOPE of a constant known_y is 0: an asset that never moves has beta 0, and its
    t statistic (0 / SE with SE = 0) is #DIV/0!."""
    const = [[5.0]] * len(BTC)
    assert udfs.BETA_VS_BTC(const, BTC) == 0.0
    [row] = udfs.BETA_STATS(const, BTC)
    assert row[0] == 0.0
    assert row[5] == "#DIV/0!"


@pytest.mark.parametrize(("asset_factor", "btc_factor"),
                         [(1e12, 1.0), (1e-12, 1.0), (1.0, 1e12), (1e-12, 1e12), (1e12, 1e-12)])
def test_price_magnitude_does_not_change_beta(asset_factor: float, btc_factor: float) -> None:
    """Returns do not depend on the price unit: prices scaled by 1e-12 or 1e12 give the
    same beta (to rounding)."""
    base = udfs.BETA_VS_BTC(ETH, BTC)
    assert udfs.BETA_VS_BTC(_scaled(ETH, asset_factor), _scaled(BTC, btc_factor)) == (
        pytest.approx(base, rel=1e-9))


# ---- the book (values and betas) ------------------------------------------------
BOOK_FUNCTIONS = ("HEDGE_NOTIONAL", "PORTFOLIO_BETA", "REBALANCE_SIGNAL", "HEDGE_SCENARIOS")
BOOK_CASES: dict[str, tuple[Any, Any, Any]] = {
    "mismatched lengths": (VALUES, BETAS[:2], NA),
    "no holding at all": ([[None]], [[None]], NA),
    "value without a beta": ([*VALUES, [1.0]], [*BETAS, [None]], V),
    "text value": (_with(VALUES, 1, "30000"), BETAS, V),
    "-inf beta": (VALUES, _with(BETAS, 0, -inf), NUM),
    "unused blank row": ([*VALUES, [None]], [*BETAS, [None]], OK),
    "empty text row (blank)": ([*VALUES, [""]], [*BETAS, [""]], OK),
    # V_S = 0: a beta relative to the book's value is undefined (hedge_notional docstring)
    "net value zero": ([[100.0], [-100.0]], [[1.0], [1.0]],
                       {"HEDGE_NOTIONAL": "#DIV/0!", "PORTFOLIO_BETA": "#DIV/0!",
                        "REBALANCE_SIGNAL": "#DIV/0!", "HEDGE_SCENARIOS": OK}),
    "tiny book": (_scaled(VALUES, 1e-12), BETAS, OK),
    "huge book": (_scaled(VALUES, 1e12), BETAS, OK),
}


@pytest.mark.parametrize("function", BOOK_FUNCTIONS)
@pytest.mark.parametrize("case", list(BOOK_CASES))
def test_book_columns(function: str, case: str) -> None:
    """Mismatched, half-blank, mistyped, zero-value and extreme books."""
    values, betas, expected = BOOK_CASES[case]
    if isinstance(expected, dict):
        expected = expected[function]
    args = _valid_args(function)
    args[0], args[1] = values, betas
    _check(function, getattr(udfs, function)(*args), expected)


def test_duplicate_assets_add_up_like_one_holding() -> None:
    """Two rows of the same asset hedge like one row holding both: 2 x 50,000 USD at beta
    1.1 needs 110,000 USD short, as 100,000 at 1.1 does (100,000 x 1.1 = 110,000)."""
    dup_v, dup_b = [[50_000.0], [50_000.0]], [[1.1], [1.1]]
    one_v, one_b = [[100_000.0]], [[1.1]]
    assert udfs.HEDGE_NOTIONAL(dup_v, dup_b) == pytest.approx(110_000.0, rel=1e-12)
    assert udfs.PORTFOLIO_BETA(dup_v, dup_b, 55_000) == pytest.approx(
        udfs.PORTFOLIO_BETA(one_v, one_b, 55_000), rel=1e-12)
    assert udfs.REBALANCE_SIGNAL(dup_v, dup_b, 0) == udfs.REBALANCE_SIGNAL(one_v, one_b, 0)


@pytest.mark.parametrize("factor", [1e-12, 1e12])
def test_hedge_scales_with_the_book(factor: float) -> None:
    """The hedge notional is linear in the values: V x 1e12 needs 1e12 times the short
    (121,000 USD for the three-line book: 55,000 + 42,000 + 24,000)."""
    assert udfs.HEDGE_NOTIONAL(_scaled(VALUES, factor), BETAS) == pytest.approx(
        121_000.0 * factor, rel=1e-12)


# ---- results beyond the float range ------------------------------------------------
# Excel shows #NUM! for a number beyond its range; no function returns inf or NaN.
OVERFLOW_CASES = {
    "HEDGE_NOTIONAL": ([[1e300], [1e300]], [[1e10], [1e10]]),
    "PORTFOLIO_BETA": ([[1e308]], [[1e308]]),
    "CONTRACTS_TO_SHORT": (1e300, 1e-300, "BINANCE:BTCUSDT"),
    "FUNDING_COST": (121_000.0, 0.0001, 1e300, 1e-300),
    "MARGIN_BUFFER": (1e300, 1e300, 1e300, 0.005),
    "REBALANCE_SIGNAL": ([[1e300]], [[1e10]], 1e300),
}


def test_a_window_beyond_any_history_is_every_row_na() -> None:
    """ROLLING_BETA with a window of 1e300 (beyond int64) has no complete window: every row
    #N/A, as any window longer than the history (README), not a crash."""
    huge = udfs.ROLLING_BETA(ETH, BTC, 1e300)
    assert huge == [[NA]] * len(ETH)
    assert huge == udfs.ROLLING_BETA(ETH, BTC, len(ETH) + 1)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("name", list(OVERFLOW_CASES))
def test_results_beyond_the_float_range_are_num(name: str) -> None:
    """An overflow (infinite or undefined result, or an OverflowError on the way) is #NUM!."""
    assert getattr(udfs, name)(*OVERFLOW_CASES[name]) == "#NUM!"


def test_an_overflowing_element_of_an_array_is_num() -> None:
    """In an array result only the non-finite numbers become #NUM! (the output rule every
    Excel function is wrapped in)."""
    from betaneutral.cells import excel_function

    @excel_function
    def GRID():
        """An array with an overflow and an undefined element."""
        return [[1.5, inf, "never"], [-inf, nan, True]]

    assert GRID() == [[1.5, NUM, "never"], [NUM, NUM, True]]


# ---- contract names ---------------------------------------------------------------
CONTRACT_FUNCTIONS = {"CONTRACTS_TO_SHORT": 2, "MARGIN_BUFFER": 3, "LIQUIDATION_PRICE": 3,
                      "HEDGE_SCENARIOS": 5, "CONTRACT_SPEC": 0}
CONTRACT_CASES: dict[str, tuple[Any, Any]] = {
    "unknown name": ("NOPE:NOPE", NA),
    "unknown venue prefix": ("FTX:BTC-PERP", NA),
    "name in lower case": ("binance:btcusdt", OK),
    "name with spaces": ("  BINANCE:BTCUSDT ", OK),
    "spec row of an unknown kind": ([["perpetual-ish", 0.001, 0.001, 0.001]], NA),
    "spec row too short": ([["linear", 0.001, 0.001]], V),
    "spec row with text size": ([["linear", "0.001", 0.001, 0.001]], V),
    "spec row with zero size": ([["linear", 0.0, 0.001, 0.001]], NUM),
    "valid spec row": ([["linear", 0.001, 0.001, 0.001]], OK),
}


@pytest.mark.parametrize("function", list(CONTRACT_FUNCTIONS))
@pytest.mark.parametrize("case", list(CONTRACT_CASES))
def test_contract_arguments(function: str, case: str) -> None:
    """Unknown contracts are #N/A; malformed spec rows #VALUE! or #NUM!; CONTRACT_SPEC
    takes catalogue names only, so a spec row there is #VALUE!."""
    value, expected = CONTRACT_CASES[case]
    if function == "CONTRACT_SPEC" and isinstance(value, list):
        expected = V
    args = _valid_args(function)
    args[CONTRACT_FUNCTIONS[function]] = value
    _check(function, getattr(udfs, function)(*args), expected)


def test_unknown_option_names_are_na() -> None:
    """Unknown method, return type, rounding and field names are #N/A (README)."""
    assert udfs.BETA_VS_BTC(ETH, BTC, None, "median") == NA
    assert udfs.BETA_VS_BTC(ETH, BTC, None, None, None, "percent") == NA
    assert udfs.CONTRACTS_TO_SHORT(1e5, 64_000, "BINANCE:BTCUSDT", "sideways") == NA
    assert udfs.CONTRACT_SPEC("CME:MBT", "colour") == NA


# ================================================================ the command
def _write_csvs(folder: Path, days: int = 120) -> tuple[Path, Path]:
    return write_sample_csvs(folder, days)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A book written by `betaneutral fill` from the sample CSVs (read-only for tests)."""
    folder = tmp_path_factory.mktemp("filled")
    holdings, prices = _write_csvs(folder)
    book = folder / "book.xlsx"
    assert main(["fill", "--holdings", str(holdings), "--prices", str(prices), "-o",
                 str(book), "--quiet"]) == EXIT_OK
    return book


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _assert_diagnostic(code: int, out: str, err: str, expected_code: int,
                       fragment: str) -> None:
    """The documented exit code; for an error, one stderr line naming the problem."""
    assert "Traceback" not in out + err
    assert code == expected_code, err
    if expected_code == EXIT_USAGE:
        assert "usage:" in err
        assert fragment in err
    elif expected_code != EXIT_OK:
        assert err.count("\n") == 1, err
        assert err.startswith("betaneutral: error: ")
        assert fragment in err, err


# ---- fill: CSV and TOML inputs ------------------------------------------------------
WIDE = sample_prices(days=120)
HEADER = "date," + ",".join(WIDE.columns)


def _prices_text(edit: Callable[[Any], Any] | None = None) -> str:
    frame = WIDE.copy()
    if edit is not None:
        frame = edit(frame)
    return frame.to_csv(index_label="date")


def _cell_edit(column: str, row: int, text: str) -> Callable[[str], str]:
    """Replace one field of the wide prices CSV (row 1 = header) by raw text."""
    def edit(csv_text: str) -> str:
        lines = csv_text.splitlines()
        fields = lines[row - 1].split(",")
        fields[lines[0].split(",").index(column)] = text
        lines[row - 1] = ",".join(fields)
        return "\n".join(lines) + "\n"
    return edit


SAMPLE_HOLDINGS = sample_holdings().to_csv(index=False)
# case -> (prices CSV text or None, holdings CSV text or None, settings TOML or None,
#          exit code, fragment of the message)
FILL_CASES: dict[str, tuple[Any, Any, Any, int, str]] = {
    "prices lack the BTC column": (_prices_text(lambda f: f.drop(columns=["BTC"])), None, None,
                                   EXIT_DATA, "prices must have a 'BTC' column"),
    "text price": (_cell_edit("ETH", 6, "abc")(_prices_text()), None, None, EXIT_DATA,
                   "row 6, column 'ETH': price of ETH must be a number, got 'abc'"),
    "Excel error text as a price": (_cell_edit("BTC", 9, "#N/A")(_prices_text()), None, None,
                                    EXIT_DATA, "row 9, column 'BTC'"),
    "NaN price": (_cell_edit("BTC", 6, "nan")(_prices_text()), None, None, EXIT_DATA,
                  "price of BTC must be finite"),
    "+inf price": (_cell_edit("BTC", 6, "inf")(_prices_text()), None, None, EXIT_DATA,
                   "price of BTC must be finite"),
    "-inf price": (_cell_edit("SOL", 6, "-inf")(_prices_text()), None, None, EXIT_DATA,
                   "price of SOL must be finite"),
    "negative price": (_cell_edit("ETH", 6, "-5")(_prices_text()), None, None, EXIT_DATA,
                       "price of ETH must be > 0, got -5.0"),
    "zero price": (_cell_edit("ETH", 6, "0")(_prices_text()), None, None, EXIT_DATA,
                   "price of ETH must be > 0, got 0.0"),
    "one observation": (HEADER + "\n" + _prices_text().splitlines()[1] + "\n", None, None,
                        EXIT_DATA, "prices must have >= 2 dates, got 1"),
    "duplicate asset column": (_prices_text().replace(HEADER, HEADER.replace("SOL", "ETH"), 1),
                               None, None, EXIT_DATA, "asset columns must be unique"),
    "duplicate date": (_prices_text() + _prices_text().splitlines()[-1] + "\n", None, None,
                       EXIT_DATA, "dates must be unique"),
    "row with an extra field": (_cell_edit("BTC", 4, "1,2")(_prices_text()), None, None,
                                EXIT_DATA, "row 4: row must have 8 fields"),
    "empty prices file": ("", None, None, EXIT_DATA, "got an empty file"),
    "prices not UTF-8": ("\udcff", None, None, EXIT_DATA, "must be UTF-8 text"),
    "holding without prices": (None, "asset,quantity\nPEPE,5\n", None, EXIT_DATA,
                               "asset must be one of the price columns"),
    "holdings lack the quantity column": (None, "asset,amount\nETH,5\n", None, EXIT_DATA,
                                          "must have the columns asset, quantity"),
    "TRUE quantity": (None, "asset,quantity\nETH,TRUE\n", None, EXIT_DATA,
                      "quantity must be a number, got 'TRUE'"),
    "date quantity": (None, "asset,quantity\nETH,2026-01-02\n", None, EXIT_DATA,
                      "quantity must be a number, got '2026-01-02'"),
    "blank quantity": (None, "asset,quantity\nETH,\n", None, EXIT_DATA, "got a blank field"),
    "NaN quantity": (None, "asset,quantity\nETH,nan\n", None, EXIT_DATA, "must be finite"),
    "-inf quantity": (None, "asset,quantity\nETH,-inf\n", None, EXIT_DATA, "must be finite"),
    "formula as an asset name": (None, "asset,quantity\n=HYPERLINK(1),5\n", None, EXIT_DATA,
                                 "asset must match"),
    "no holdings": (None, "asset,quantity\n", None, EXIT_DATA, "holdings must have >= 1 row"),
    "unknown contract": (None, None, 'HedgeContract = "NOPE:NOPE"\n', EXIT_DATA,
                         "hedge_contract must be one of"),
    "boolean setting": (None, None, "TargetBeta = true\n", EXIT_DATA,
                        "target_beta must be a number, got True"),
    "text setting": (None, None, 'TargetBeta = "abc"\n', EXIT_DATA,
                     "target_beta must be a number, got 'abc'"),
    "numeric text setting": (None, None, 'TargetBeta = "0.1"\n', EXIT_DATA,
                             "target_beta must be a number, got '0.1'"),
    "NaN setting": (None, None, "TargetBeta = nan\n", EXIT_DATA, "must be finite, got nan"),
    "+inf setting": (None, None, "StressMove = inf\n", EXIT_DATA, "must be finite, got inf"),
    "date setting": (None, None, "TargetBeta = 2026-01-02\n", EXIT_DATA,
                     "target_beta must be a number"),
    "stress move of -100%": (None, None, "StressMove = -1.0\n", EXIT_DATA,
                             "stress_move must be > -1"),
    "zero futures price": (None, None, "FuturesPrice = 0\n", EXIT_DATA,
                           "futures_price must be > 0"),
    "unknown setting": (None, None, "Leverage = 10\n", EXIT_DATA, "key 'Leverage' must be"),
    "invalid TOML": (None, None, "TargetBeta = \n", EXIT_DATA, "settings must be valid TOML"),
}


def _csv_command(command: str, folder: Path, prices_text: Any = None,
                 holdings_text: Any = None, toml: Any = None) -> tuple[list[str], Path]:
    """argv for fill or backtest on the sample CSVs with the given replacements, and the
    output (fill: a book; backtest: a folder)."""
    holdings, prices = _write_csvs(folder)
    if prices_text is not None:
        prices.write_bytes(prices_text.encode("utf-8", "surrogateescape"))
    if holdings_text is not None:
        holdings.write_text(holdings_text, encoding="utf-8")
    argv = [command, "--holdings", str(holdings), "--prices", str(prices)]
    if toml is not None:
        settings = folder / "settings.toml"
        settings.write_text(toml, encoding="utf-8")
        argv += ["--settings", str(settings)]
    target = folder / ("out.xlsx" if command == "fill" else "out")
    return [*argv, "-o", str(target), "--quiet"], target


@pytest.mark.parametrize("command", ["fill", "backtest"])
@pytest.mark.parametrize("case", list(FILL_CASES))
def test_csv_commands_refuse_bad_csv_and_settings(case: str, command: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Each bad CSV or settings input stops fill and backtest with exit 1, one line naming
    the file (and row, column or key), and no output."""
    prices_text, holdings_text, toml, expected, fragment = FILL_CASES[case]
    argv, target = _csv_command(command, tmp_path, prices_text, holdings_text, toml)
    code, out, err = _run(capsys, argv)
    _assert_diagnostic(code, out, err, expected, fragment)
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


# ---- backtest: the inputs only it reads ----------------------------------------------
FUNDED = _prices_text(lambda f: f.assign(funding_rate_8h=0.0001))
FLAT_PRICES = _prices_text(lambda f: f.assign(**{c: 100.0 for c in f.columns}))
# case -> (prices CSV text or None, holdings CSV text or None, exit code, fragment)
BACKTEST_CASES: dict[str, tuple[Any, Any, int, str]] = {
    "text funding rate": (_cell_edit("funding_rate_8h", 6, "abc")(FUNDED), None, EXIT_DATA,
                          "row 6, column 'funding_rate_8h': funding rate must be a number"),
    "NaN funding rate": (_cell_edit("funding_rate_8h", 6, "nan")(FUNDED), None, EXIT_DATA,
                         "funding rate must be finite, got nan"),
    "funding rate of 500%": (_cell_edit("funding_rate_8h", 6, "5")(FUNDED), None, EXIT_DATA,
                             "funding_rate_8h must be in [-0.05, 0.05], got 5.0"),
    "blank funding rate": (_cell_edit("funding_rate_8h", 6, "")(FUNDED), None, EXIT_OK, ""),
    "text date in a holdings history": (None, "date,asset,quantity\nyesterday,ETH,5\n",
                                        EXIT_DATA, "row 2, column 'date': date must be"),
    "same asset twice on one date": (
        None, "date,asset,quantity\n2026-09-01,ETH,5\n2026-09-01,ETH,6\n", EXIT_DATA,
        "row 3: (date, asset) must be unique"),
    "constant prices": (FLAT_PRICES, None, EXIT_DATA,
                        "hedge_prices_usd must vary to define a beta, got constant prices"),
    "net short book": (None, "asset,quantity\nETH,-5\n", EXIT_DATA,
                       "spot value > 0 USD on some date"),
    "huge quantity": (None, "asset,quantity\nETH,1e12\n", EXIT_OK, ""),
    "tiny quantity": (None, "asset,quantity\nETH,1e-12\n", EXIT_OK, ""),
}


@pytest.mark.parametrize("case", list(BACKTEST_CASES))
def test_backtest_csv_inputs(case: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """Funding columns, holdings histories and degenerate books: the documented exit code,
    one line naming the problem, and an output folder only on success."""
    prices_text, holdings_text, expected, fragment = BACKTEST_CASES[case]
    argv, target = _csv_command("backtest", tmp_path, prices_text, holdings_text)
    code, out, err = _run(capsys, argv)
    _assert_diagnostic(code, out, err, expected, fragment)
    if expected == EXIT_OK:
        daily = pd.read_csv(target / "backtest_daily.csv")
        assert np.isfinite(daily["spot_value_usd"]).all()
    else:
        assert not target.exists()


# option -> (value, exit code, fragment); ranges from core.backtest.backtest_hedge's docstring
BACKTEST_OPTION_CASES: dict[str, tuple[str, str, int, str]] = {
    "band above 1": ("--band", "1e12", EXIT_DATA, "band must be in [0, 1], got 1000000000000.0"),
    "zero band": ("--band", "0", EXIT_OK, ""),
    "negative fee": ("--fee-bps", "-5", EXIT_DATA, "fee_bps must be in [0, 1000], got -5.0"),
    "huge fee": ("--fee-bps", "1e12", EXIT_DATA, "fee_bps must be in [0, 1000]"),
    "negative slippage": ("--slippage-bps", "-1", EXIT_DATA, "slippage_bps must be in [0, 1000]"),
    "infinite basis": ("--basis", "inf", EXIT_DATA, "basis_annual must be finite, got inf"),
    "basis on a perpetual": ("--basis", "0.1", EXIT_DATA,
                             "basis_annual must be 0 for a perpetual"),
    "top-up at zero": ("--top-up-below", "0", EXIT_OK, ""),
    "top-up beyond the stress move": ("--top-up-below", "0.9", EXIT_DATA,
                                      "top_up_below must be in [0, 0.3]"),
}


@pytest.mark.parametrize("case", list(BACKTEST_OPTION_CASES))
def test_backtest_options(case: str, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    """Out-of-range options are exit 1 naming the rule; nothing is written."""
    option, value, expected, fragment = BACKTEST_OPTION_CASES[case]
    argv, target = _csv_command("backtest", tmp_path)
    code, out, err = _run(capsys, [*argv, option, value])
    _assert_diagnostic(code, out, err, expected, fragment)
    assert target.exists() == (expected == EXIT_OK)


def test_backtest_duplicate_holdings_replay_like_one_holding(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ETH listed twice (100 + 20) replays exactly as one row of 120 ETH."""
    daily = []
    for name, text in (("dup", "asset,quantity\nETH,100\nETH,20\nSOL,10000\n"),
                       ("one", "asset,quantity\nETH,120\nSOL,10000\n")):
        folder = tmp_path / name
        folder.mkdir()
        argv, target = _csv_command("backtest", folder, holdings_text=text)
        code, out, err = _run(capsys, argv)
        _assert_diagnostic(code, out, err, EXIT_OK, "")
        daily.append(pd.read_csv(target / "backtest_daily.csv"))
    pd.testing.assert_frame_equal(daily[0], daily[1], rtol=1e-12)


def _book_values(path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(path, data_only=True)


def _named(wb: openpyxl.Workbook, name: str) -> Any:
    sheet, ref = name_destinations(wb, [name])[name]
    return wb[sheet][ref.replace("$", "").split(":")[0]].value


def test_fill_with_constant_prices_shows_div0_like_excel(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """Constant prices are valid data: the book is written and shows #DIV/0! in the beta
    cells, as Excel would; no order is made from an error, the summary says why, and the
    command exits 1 naming the first error figure and its cause (README "The living book")."""
    holdings, prices = _write_csvs(tmp_path)
    prices.write_text(_prices_text(lambda f: f.assign(**{c: 100.0 for c in f.columns})),
                      encoding="utf-8")
    book = tmp_path / "book.xlsx"
    code, out, err = _run(capsys, ["fill", "--holdings", str(holdings), "--prices",
                                   str(prices), "-o", str(book), "--quiet"])
    _assert_diagnostic(code, out, err, EXIT_DATA, "hedge figures are errors")
    assert "#DIV/0!" in err
    wb = _book_values(book)
    assert _named(wb, "PortfolioBeta") == "#DIV/0!"
    orders = next(line for line in out.splitlines() if line.strip().startswith("Orders"))
    assert orders.endswith("none (the book shows error values; see above)")


def test_fill_with_a_tiny_futures_price_shows_num(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A futures price of 1e-300 USD makes the contract count overflow: the book shows
    #NUM! there, as Excel shows a number beyond its range, and the command exits 1 naming
    the cell and the cause; no traceback."""
    holdings, prices = _write_csvs(tmp_path)
    settings = tmp_path / "s.toml"
    settings.write_text("FuturesPrice = 1e-300\n", encoding="utf-8")
    book = tmp_path / "book.xlsx"
    code, out, err = _run(capsys, ["fill", "--holdings", str(holdings), "--prices",
                                   str(prices), "--settings", str(settings), "-o", str(book),
                                   "--quiet"])
    _assert_diagnostic(code, out, err, EXIT_DATA, "TargetContracts")
    assert _named(_book_values(book), "TargetContracts") == "#NUM!"


@pytest.mark.parametrize(("quantity", "factor"), [("1e12", 1e12), ("1e-12", 1e-12)])
def test_fill_with_huge_and_tiny_quantities(quantity: str, factor: float, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A quantity of 1e12 or 1e-12 ETH is accepted: the book value is quantity x last close."""
    holdings, prices = _write_csvs(tmp_path)
    holdings.write_text(f"asset,quantity\nETH,{quantity}\n", encoding="utf-8")
    book = tmp_path / "book.xlsx"
    code, out, err = _run(capsys, ["fill", "--holdings", str(holdings), "--prices",
                                   str(prices), "-o", str(book), "--quiet"])
    _assert_diagnostic(code, out, err, EXIT_OK, "")
    last = float(WIDE["ETH"].iloc[-1])
    assert _named(_book_values(book), "PortfolioValue") == pytest.approx(factor * last,
                                                                          rel=1e-12)


def test_fill_duplicate_holdings_hedge_like_one_holding(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    """ETH listed twice (100 + 20) gives the book value and hedge of one row of 120 ETH."""
    holdings, prices = _write_csvs(tmp_path)
    results = []
    for name, text in (("dup", "asset,quantity\nETH,100\nETH,20\nSOL,10000\n"),
                       ("one", "asset,quantity\nETH,120\nSOL,10000\n")):
        holdings.write_text(text, encoding="utf-8")
        book = tmp_path / f"{name}.xlsx"
        code, out, err = _run(capsys, ["fill", "--holdings", str(holdings), "--prices",
                                       str(prices), "-o", str(book), "--quiet"])
        _assert_diagnostic(code, out, err, EXIT_OK, "")
        wb = _book_values(book)
        results.append((_named(wb, "PortfolioValue"), _named(wb, "TargetHedgeUSD")))
    assert results[0] == pytest.approx(results[1], rel=1e-12)


def test_fill_file_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing CSV or output folder is exit 3; a wrong output extension exit 2 (usage)."""
    holdings, prices = _write_csvs(tmp_path)
    code, out, err = _run(capsys, ["fill", "--holdings", str(tmp_path / "nope.csv"),
                                   "--prices", str(prices), "-o", str(tmp_path / "b.xlsx")])
    _assert_diagnostic(code, out, err, EXIT_FILE, "nope.csv")
    code, out, err = _run(capsys, ["fill", "--holdings", str(holdings), "--prices", str(prices),
                                   "-o", str(tmp_path / "missing" / "b.xlsx")])
    _assert_diagnostic(code, out, err, EXIT_FILE, "is not an existing folder")
    code, out, err = _run(capsys, ["fill", "--holdings", str(holdings), "--prices", str(prices),
                                   "-o", str(tmp_path / "b.csv")])
    _assert_diagnostic(code, out, err, EXIT_USAGE, "output must end in .xlsx or .xlsm")


# ---- compute, tickets, check: a user's workbook ------------------------------------
def _edited(filled: Path, folder: Path, edit: Callable[[openpyxl.Workbook], None]) -> Path:
    wb = openpyxl.load_workbook(filled)
    edit(wb)
    path = folder / "edited.xlsx"
    wb.save(path)
    return path


def _set(sheet: str, coordinate: str, value: Any) -> Callable[[openpyxl.Workbook], None]:
    def edit(wb: openpyxl.Workbook) -> None:
        wb[sheet][coordinate].value = value
    return edit


def _set_named(name: str, value: Any) -> Callable[[openpyxl.Workbook], None]:
    def edit(wb: openpyxl.Workbook) -> None:
        sheet, ref = name_destinations(wb, [name])[name]
        wb[sheet][ref.replace("$", "")].value = value
    return edit


def _remove_sheet(title: str) -> Callable[[openpyxl.Workbook], None]:
    return lambda wb: wb.remove(wb[title])


def _remove_name(name: str) -> Callable[[openpyxl.Workbook], None]:
    return lambda wb: wb.defined_names.pop(name)


# Holdings!B5 is the first quantity, Benchmark!B10 a BTC close (see the template layout).
BOOK_EDITS: dict[str, tuple[Callable[[openpyxl.Workbook], None], str]] = {
    "Holdings sheet deleted": (_remove_sheet("Holdings"), "sheets ['Holdings']"),
    "Settings sheet deleted": (_remove_sheet("Settings"), "sheets ['Settings']"),
    "Benchmark sheet deleted": (_remove_sheet("Benchmark"), "sheets ['Benchmark']"),
    "PriceBlock name deleted": (_remove_name("PriceBlock"), "names ['PriceBlock']"),
    "TargetBeta name deleted": (_remove_name("TargetBeta"), "names ['TargetBeta']"),
    "text quantity": (_set("Holdings", "B5", "abc"), "Holdings!B5: quantity must be a number"),
    "numeric text quantity": (_set("Holdings", "B5", "12"), "Holdings!B5"),
    "boolean quantity": (_set("Holdings", "B5", True), "Holdings!B5"),
    "blank quantity": (_set("Holdings", "B5", None), "Holdings!B5"),
    "error value as a price": (_set("Benchmark", "B10", "#N/A"), "Benchmark!B10"),
    "zero price": (_set("Benchmark", "B10", 0), "Benchmark!B10: price of BTC must be > 0"),
    "negative price": (_set("Benchmark", "B10", -64_000), "Benchmark!B10"),
    "text date": (_set("Benchmark", "A10", "yesterday"), "Benchmark!A10"),
    "unknown contract": (_set_named("HedgeContract", "NOPE:NOPE"), "hedge_contract"),
    "text target beta": (_set_named("TargetBeta", "zero"), "target_beta"),
    "NaN-like text setting": (_set_named("StressMove", "nan"), "stress_move"),
}


@pytest.fixture(scope="module")
def broken_books(filled: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One saved book per BOOK_EDITS case (only read by the tests)."""
    books = {}
    for i, (case, (edit, _)) in enumerate(BOOK_EDITS.items()):
        books[case] = _edited(filled, tmp_path_factory.mktemp(f"broken{i}"), edit)
    return books


STRUCTURE_EDITS = [case for case in BOOK_EDITS if "deleted" in case]
# Cell edits run through compute only: tickets and check read the inputs with the same
# reader (read_inputs), which the structural rows exercise on all three commands.
BROKEN_BOOK_CASES = [
    pytest.param(case, command, id=f"{case}-{command}")
    for case in BOOK_EDITS
    for command in (["compute", "tickets", "check", "backtest"] if case in STRUCTURE_EDITS
                    else ["compute"])
]


def _output_for(command: str, folder: Path) -> Path | None:
    """The -o argument of a book command (check has none)."""
    return {"compute": folder / "out.xlsx", "tickets": folder / "t.csv",
            "backtest": folder / "out"}.get(command)


@pytest.mark.parametrize(("case", "command"), BROKEN_BOOK_CASES)
def test_commands_refuse_broken_books(case: str, command: str, broken_books: dict[str, Path],
                                      tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A deleted sheet or name, or a mistyped input cell, is exit 1 naming it; no output."""
    _, fragment = BOOK_EDITS[case]
    book = broken_books[case]
    target = _output_for(command, tmp_path)
    argv = [command, str(book)] + (["-o", str(target)] if target else [])
    code, out, err = _run(capsys, argv)
    _assert_diagnostic(code, out, err, EXIT_DATA, fragment)
    assert list(tmp_path.iterdir()) == []


def _not_a_zip(folder: Path) -> Path:
    path = folder / "fake.xlsx"
    path.write_text("date,BTC\n2026-01-01,1\n", encoding="utf-8")
    return path


def _owner_file(folder: Path) -> Path:
    path = folder / "~$book.xlsx"
    path.write_bytes(b"\x08owner   ")
    return path


def _malformed_sheet(folder: Path, filled: Path) -> Path:
    path = folder / "malformed.xlsx"
    with zipfile.ZipFile(filled) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, b"<worksheet><sheetData>" if info.filename ==
                          "xl/worksheets/sheet3.xml" else data)
    return path


FILE_CASES: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "missing file": (lambda d, f: d / "absent.xlsx", "does not exist"),
    "not a zip": (lambda d, f: _not_a_zip(d), "not a zip archive"),
    "Excel owner file": (lambda d, f: _owner_file(d), "owner (lock) file"),
    "malformed sheet XML": (_malformed_sheet, "cannot be read as a workbook"),
}


@pytest.mark.parametrize("command", ["compute", "tickets", "check", "backtest"])
@pytest.mark.parametrize("case", list(FILE_CASES))
def test_commands_refuse_unreadable_files(case: str, command: str, filled: Path,
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A missing, non-zip, owner (~$) or malformed file is exit 3, one line, no traceback."""
    make, fragment = FILE_CASES[case]
    book = make(tmp_path, filled)
    target = _output_for(command, tmp_path)
    code, out, err = _run(capsys, [command, str(book)] + (["-o", str(target)] if target else []))
    _assert_diagnostic(code, out, err, EXIT_FILE, fragment)
    assert target is None or not target.exists()


# ---- usage errors and the remaining commands -----------------------------------------
USAGE_CASES: dict[str, tuple[list[str], str]] = {
    "unknown command": (["rebalance"], "invalid choice"),
    "fill without prices": (["fill", "--holdings", "h.csv", "-o", "b.xlsx"], "--prices"),
    "check with text tolerance": (["check", "b.xlsx", "--rtol", "abc"], "--rtol"),
    "check with NaN tolerance": (["check", "b.xlsx", "--rtol", "nan"], "--rtol"),
    "check with negative tolerance": (["check", "b.xlsx", "--rtol", "-1"], "--rtol"),
    "check with negative limit": (["check", "b.xlsx", "--limit", "-3"], "--limit"),
    "tickets in an unknown format": (["tickets", "b.xlsx", "-o", "t.csv", "--format", "fix"],
                                     "--format"),
    "tickets without output": (["tickets", "b.xlsx"], "-o/--output"),
    "backtest without output": (["backtest", "b.xlsx"], "-o/--output"),
    "backtest with a monthly check": (["backtest", "b.xlsx", "-o", "d", "--check", "monthly"],
                                      "--check"),
    "backtest with a text band": (["backtest", "b.xlsx", "-o", "d", "--band", "abc"],
                                  "--band"),
    "backtest with a text fee": (["backtest", "b.xlsx", "-o", "d", "--fee-bps", "5bp"],
                                 "--fee-bps"),
}


@pytest.mark.parametrize("case", list(USAGE_CASES))
def test_usage_errors_exit_2(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Malformed command lines are usage errors (exit 2) naming the option."""
    argv, fragment = USAGE_CASES[case]
    code, out, err = _run(capsys, argv)
    _assert_diagnostic(code, out, err, EXIT_USAGE, fragment)


def test_compute_output_arguments(filled: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """-o together with --in-place is refused (exit 2) before anything is read or written."""
    code, out, err = _run(capsys, ["compute", str(filled), "-o", str(tmp_path / "o.xlsx"),
                                   "--in-place"])
    _assert_diagnostic(code, out, err, EXIT_USAGE, "not both")
    assert list(tmp_path.iterdir()) == []


def test_compute_keeps_a_users_formula_and_refuses_a_changed_one(
        filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A formula of the user's in a free cell is kept (README "The living book"); one of the
    book's own formulas changed is refused with its cell named (exit 1), nothing written."""
    book = _edited(filled, tmp_path, _set("Start", "Z1", "=1/0"))
    code, out, err = _run(capsys, ["compute", str(book), "-o", str(tmp_path / "o.xlsx")])
    assert code == EXIT_OK, err
    assert openpyxl.load_workbook(tmp_path / "o.xlsx")["Start"]["Z1"].value == "=1/0"
    changed = _edited(filled, tmp_path, _set("Holdings", "D5", "=B5*C5*2"))
    code, out, err = _run(capsys, ["compute", str(changed), "-o", str(tmp_path / "p.xlsx")])
    _assert_diagnostic(code, out, err, EXIT_DATA, "Holdings!D5")
    assert not (tmp_path / "p.xlsx").exists()


def test_demo_and_build_template_into_a_file_path(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """demo --out and build-template --root naming a file (not a folder) are exit 3."""
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    code, out, err = _run(capsys, ["demo", "--out", str(afile), "--quiet"])
    _assert_diagnostic(code, out, err, EXIT_FILE, "afile")
    code, out, err = _run(capsys, ["build-template", "--root", str(afile)])
    _assert_diagnostic(code, out, err, EXIT_FILE, "afile")
    assert afile.read_text(encoding="utf-8") == "x"


def test_demo_writes_nothing_when_one_target_exists(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """With only the tickets CSV present, demo refuses (exit 3) before writing the book."""
    (tmp_path / "hedge-tickets.csv").write_text("keep", encoding="utf-8")
    code, out, err = _run(capsys, ["demo", "--out", str(tmp_path), "--quiet"])
    _assert_diagnostic(code, out, err, EXIT_FILE, "--force")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hedge-tickets.csv"]
