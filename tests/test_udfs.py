"""The Excel functions: conversion and error mapping around the core, called as Excel would."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import itertools
import math

import numpy as np
import pytest

import betaneutral.udfs as udfs
from betaneutral.core import beta as beta_core
from betaneutral.core.contracts import contracts_for_notional, get_contract
from betaneutral.core.funding import funding_carry_usd
from betaneutral.core.margin import liquidation_price_short, margin_buffer
from betaneutral.core.portfolio import hedge_notional, portfolio_beta
from betaneutral.core.rebalance import rebalance_signal
from betaneutral.core.scenarios import hedge_scenarios
from betaneutral.sample import sample_prices

PRICES = sample_prices()
ETH = [[float(v)] for v in PRICES["ETH"]]
BTC = [[float(v)] for v in PRICES["BTC"]]
VALUES = [[50_000.0], [30_000.0], [20_000.0]]
BETAS = [[1.1], [1.4], [1.2]]


def excel_slope(known_y, known_x):
    """Excel's SLOPE as documented: sum((x - mean x)(y - mean y)) / sum((x - mean x)^2)."""
    mx = sum(known_x) / len(known_x)
    my = sum(known_y) / len(known_y)
    num = sum((x - mx) * (y - my) for x, y in zip(known_x, known_y, strict=True))
    return num / sum((x - mx) ** 2 for x in known_x)


def simple_returns(column):
    return [b[0] / a[0] - 1.0 for a, b in itertools.pairwise(column)]


# ------------------------------------------------------------------ agreement


def test_beta_vs_btc_equals_excel_slope_on_the_same_returns():
    """BETA_VS_BTC on two price columns equals SLOPE of their simple returns to 1e-12."""
    ref = excel_slope(simple_returns(ETH), simple_returns(BTC))
    assert udfs.BETA_VS_BTC(ETH, BTC) == pytest.approx(ref, rel=1e-12)
    ref90 = excel_slope(simple_returns(ETH)[-90:], simple_returns(BTC)[-90:])
    assert udfs.BETA_VS_BTC(ETH, BTC, 90) == pytest.approx(ref90, rel=1e-12)


def test_beta_vs_btc_blank_price_drops_the_neighbouring_pairs_like_slope():
    """A blank price removes the two returns around it, as SLOPE ignores pairs with blanks."""
    eth = [row[:] for row in ETH]
    eth[100] = [None]
    r_eth, r_btc = simple_returns(ETH), simple_returns(BTC)
    keep = [i for i in range(len(r_eth)) if i not in (99, 100)]
    ref = excel_slope([r_eth[i] for i in keep], [r_btc[i] for i in keep])
    assert udfs.BETA_VS_BTC(eth, BTC) == pytest.approx(ref, rel=1e-12)


def test_beta_vs_btc_log_returns_equal_slope_of_log_returns():
    """return_type "log" gives SLOPE of log returns."""
    lr = [[math.log(b[0] / a[0])] for a, b in itertools.pairwise(ETH)]
    lb = [[math.log(b[0] / a[0])] for a, b in itertools.pairwise(BTC)]
    ref = excel_slope([r[0] for r in lr], [r[0] for r in lb])
    assert udfs.BETA_VS_BTC(ETH, BTC, None, None, None, "log") == pytest.approx(ref, rel=1e-12)


def test_beta_methods_and_stats_agree_with_the_core():
    """blume and ewma and the BETA_STATS row are the core's numbers for the same prices."""
    est = beta_core.betas_from_prices(PRICES[["ETH"]], PRICES["BTC"])
    s = est.stats
    assert udfs.BETA_VS_BTC(ETH, BTC, None, "blume") == pytest.approx(
        0.67 * s.beta[0] + 0.33, rel=1e-12)
    ewma = beta_core.betas_from_prices(PRICES[["ETH"]], PRICES["BTC"], method="ewma").beta[0]
    assert udfs.BETA_VS_BTC(ETH, BTC, None, "EWMA") == pytest.approx(ewma, rel=1e-12)
    header, row = udfs.BETA_STATS(ETH, BTC, None, None, True)
    assert header[0] == "beta"
    assert len(header) == len(row) == 9
    expected = [s.beta[0], s.alpha[0], s.r_squared[0], s.se[0], s.hac_se[0], s.t_stat[0],
                s.n_obs[0], s.ci_low[0], s.ci_high[0]]
    np.testing.assert_allclose(row, expected, rtol=1e-12)
    assert udfs.BETA_STATS(ETH, BTC) == [row]


def test_rolling_beta_column_lines_up_with_the_prices():
    """ROLLING_BETA returns one row per price; rows without a full window hold #N/A."""
    out = udfs.ROLLING_BETA(ETH, BTC, 90)
    assert len(out) == len(ETH)
    assert all(r == ["#N/A"] for r in out[:90])
    ref = excel_slope(simple_returns(ETH[:91])[-90:], simple_returns(BTC[:91])[-90:])
    assert out[90][0] == pytest.approx(ref, rel=1e-10)


def test_hedge_functions_agree_with_the_core():
    """HEDGE_NOTIONAL, PORTFOLIO_BETA and REBALANCE_SIGNAL return the core's numbers."""
    v, b = [50_000.0, 30_000.0, 20_000.0], [1.1, 1.4, 1.2]
    assert udfs.HEDGE_NOTIONAL(VALUES, BETAS) == pytest.approx(121_000.0, rel=1e-12)
    assert udfs.HEDGE_NOTIONAL(VALUES, BETAS, 0.1, 100_000) == pytest.approx(
        hedge_notional(v, b, target_beta=0.1, current_hedge_usd=100_000).change_usd)
    assert udfs.HEDGE_NOTIONAL(50_000, 1.1) == pytest.approx(55_000.0)
    assert udfs.PORTFOLIO_BETA(VALUES, BETAS, 100_000) == pytest.approx(
        portfolio_beta(v, b, hedge_notional_usd=100_000))
    sig = rebalance_signal(v, b, 100_000)
    assert udfs.REBALANCE_SIGNAL(VALUES, BETAS, 100_000) == [
        [pytest.approx(sig.drift), True, pytest.approx(sig.order_notional_usd)]]


def test_contract_functions_agree_with_the_core():
    """Contracts, margin buffer, liquidation price and funding cost are the core's numbers."""
    spec = get_contract("BINANCE:BTCUSDT")
    assert udfs.CONTRACTS_TO_SHORT(121_000, 64_000, "BINANCE:BTCUSDT") == pytest.approx(1.891)
    assert udfs.CONTRACTS_TO_SHORT(121_000, 64_000, "binance:btcusdt", "down") == pytest.approx(
        contracts_for_notional(121_000, 64_000, spec, rounding="down").contracts)
    assert udfs.CONTRACTS_TO_SHORT(1_000_000, 64_000, [["inverse", 100, 1, 1]]) == 10_000
    buf = margin_buffer(121_000, 64_000, 0.3, maintenance=spec.margin_tiers,
                        kind="linear", safety_multiplier=1.2,
                        closing_fee_rate=spec.taker_fee_rate)
    assert udfs.MARGIN_BUFFER(121_000, 64_000, 0.3, "BINANCE:BTCUSDT", 1.2) == pytest.approx(
        buf.collateral)
    flat = margin_buffer(121_000, 64_000, 0.3, maintenance=0.005)
    assert udfs.MARGIN_BUFFER(121_000, 64_000, 0.3, 0.005) == pytest.approx(flat.collateral)
    assert udfs.LIQUIDATION_PRICE(1.891, 64_000, 40_000, "BINANCE:BTCUSDT") == pytest.approx(
        liquidation_price_short(spec, 1.891, 64_000, 40_000, fee_rate=spec.taker_fee_rate))
    assert udfs.LIQUIDATION_PRICE(100, 64_000, 1.0, "BINANCE:BTCUSD_PERP") == "never"
    assert udfs.FUNDING_COST(1_000_000, 0.0001, 720) == pytest.approx(
        -funding_carry_usd(1_000_000, 0.0001, 720))
    assert udfs.CONTRACT_SPEC("CME:MBT", "contract_size") == pytest.approx(0.1)
    assert udfs.CONTRACT_SPEC("BINANCE:BTCUSD_PERP", "kind") == "inverse"


def test_hedge_scenarios_grid_matches_the_core():
    """HEDGE_SCENARIOS returns 13 rows of move, price, unhedged, hedged P&L and liquidation."""
    grid = udfs.HEDGE_SCENARIOS(VALUES, BETAS, 1.891, 64_000, 60_000, "BINANCE:BTCUSDT")
    ref = hedge_scenarios([50_000, 30_000, 20_000], [1.1, 1.4, 1.2], short_contracts=1.891,
                          spec=get_contract("BINANCE:BTCUSDT"), entry_price_usd=64_000,
                          collateral=60_000)
    assert len(grid) == 13
    for row, r in zip(grid, ref.itertuples(), strict=True):
        assert row == [pytest.approx(r.btc_move), pytest.approx(r.btc_price_usd),
                       pytest.approx(r.unhedged_pnl_usd), pytest.approx(r.hedged_pnl_usd),
                       bool(r.liquidated)]
    # by hand: at -30% the book loses 121,000 x 0.3; the short gains 1.891 x 64,000 x 0.3
    assert grid[0][2] == pytest.approx(-36_300.0)
    assert grid[0][3] == pytest.approx(-36_300.0 + 1.891 * 64_000 * 0.3)


# ------------------------------------------------------------------ coercion

ERRORS = ["#N/A", "#VALUE!", "#DIV/0!", "#NUM!", "#REF!", "#NAME?", "#NULL!"]

# valid arguments of every function, and the kind of each argument
CALLS = {
    "BETA_VS_BTC": ([ETH, BTC, 90, "ols", 60, "simple"],
                    ["series", "series", "opt_int", "opt_text", "opt_int", "opt_text"]),
    "BETA_STATS": ([ETH, BTC, 90, 60, False], ["series", "series", "opt_int", "opt_int",
                                               "opt_bool"]),
    "ROLLING_BETA": ([ETH, BTC, 90, 60], ["series", "series", "int", "opt_int"]),
    "HEDGE_NOTIONAL": ([VALUES, BETAS, 0.0, 0.0], ["book", "book", "opt_num", "opt_num"]),
    "PORTFOLIO_BETA": ([VALUES, BETAS, 0.0], ["book", "book", "opt_num"]),
    "CONTRACTS_TO_SHORT": ([121_000, 64_000, "BINANCE:BTCUSDT", "nearest", None],
                           ["num", "num", "contract", "opt_text", "opt_num"]),
    "MARGIN_BUFFER": ([121_000, 64_000, 0.3, "BINANCE:BTCUSDT", 1.0],
                      ["num", "num", "num", "contract_or_rate", "opt_num"]),
    "LIQUIDATION_PRICE": ([1.891, 64_000, 40_000, "BINANCE:BTCUSDT"],
                          ["num", "num", "num", "contract"]),
    "FUNDING_COST": ([121_000, 0.0001, 720, 8], ["num", "num", "num", "opt_num"]),
    "REBALANCE_SIGNAL": ([VALUES, BETAS, 100_000, 0.0, 0.05, None],
                         ["book", "book", "num", "opt_num", "opt_num", "opt_series"]),
    "HEDGE_SCENARIOS": ([VALUES, BETAS, 1.891, 64_000, 60_000, "BINANCE:BTCUSDT", None],
                        ["book", "book", "num", "num", "num", "contract", "opt_series"]),
    "CONTRACT_SPEC": (["BINANCE:BTCUSDT", "kind"], ["contract_name", "text"]),
}

# what each kind of argument must give for each bad cell (None = accepted)
DATE = dt.datetime(2026, 1, 1)
BAD_CELLS = {
    #                blank      text       num-text   bool       date       nan      inf
    "num":          ["#VALUE!", "#VALUE!", "#VALUE!", "#VALUE!", "#VALUE!", "#NUM!", "#NUM!"],
    "int":          ["#VALUE!", "#VALUE!", "#VALUE!", "#VALUE!", "#VALUE!", "#NUM!", "#NUM!"],
    "opt_num":      [None,      "#VALUE!", "#VALUE!", "#VALUE!", "#VALUE!", "#NUM!", "#NUM!"],
    "opt_int":      [None,      "#VALUE!", "#VALUE!", "#VALUE!", "#VALUE!", "#NUM!", "#NUM!"],
    "opt_text":     [None,      "#N/A",    "#N/A",    "#VALUE!", "#VALUE!", "#VALUE!",
                     "#VALUE!"],
    "text":         ["#VALUE!", "#N/A",    "#N/A",    "#VALUE!", "#VALUE!", "#VALUE!",
                     "#VALUE!"],
    "opt_bool":     [None,      "#VALUE!", "#VALUE!", None,      "#VALUE!", "#VALUE!",
                     "#VALUE!"],
    "contract":     ["#VALUE!", "#N/A",    "#N/A",    "#VALUE!", "#VALUE!", "#VALUE!",
                     "#VALUE!"],
    "contract_name": ["#VALUE!", "#N/A",   "#N/A",    "#VALUE!", "#VALUE!", "#VALUE!",
                      "#VALUE!"],
    "contract_or_rate": ["#VALUE!", "#N/A", "#N/A",   "#VALUE!", "#VALUE!", "#NUM!", "#NUM!"],
}
CELL_VALUES = [None, "abc", "1.5", True, DATE, math.nan, math.inf]
CELL_IDS = ["blank", "text", "numeric-text", "bool", "date", "nan", "inf"]

SCALAR_CASES = [
    pytest.param(name, i, value, BAD_CELLS[kind][j], id=f"{name}-{i}-{CELL_IDS[j]}")
    for name, (args, kinds) in CALLS.items()
    for i, kind in enumerate(kinds) if kind in BAD_CELLS
    for j, value in enumerate(CELL_VALUES)
]


def _call(name, args):
    return getattr(udfs, name)(*args)


@pytest.mark.parametrize("name", list(CALLS))
def test_every_valid_call_returns_a_value_not_an_error(name):
    """The valid argument sets used below really are valid."""
    out = _call(name, CALLS[name][0])
    assert not (isinstance(out, str) and out.startswith("#"))


@pytest.mark.parametrize(("name", "pos", "value", "expected"), SCALAR_CASES)
def test_scalar_argument_coercion(name, pos, value, expected):
    """Blank, text, numeric text, booleans, dates, NaN and inf in a single-cell argument."""
    args = list(CALLS[name][0])
    args[pos] = value
    out = _call(name, args)
    if expected is None:
        assert not (isinstance(out, str) and out.startswith("#"))
    else:
        assert out == expected


@pytest.mark.parametrize("code", ERRORS)
@pytest.mark.parametrize(("name", "pos"), [
    (name, i) for name, (_, kinds) in CALLS.items() for i in range(len(kinds))])
def test_an_error_cell_propagates_its_own_code(name, pos, code):
    """An error cell in any argument (single cell or inside a range) returns that same code."""
    args = list(CALLS[name][0])
    arg = args[pos]
    if isinstance(arg, list):
        arg = [row[:] for row in arg]
        arg[len(arg) // 2] = [code]
        args[pos] = arg
    else:
        args[pos] = code
    assert _call(name, args) == code


SERIES_CASES = {
    "text in a series": ("abc", "#VALUE!"),
    "numeric text in a series": ("1.5", "#VALUE!"),
    "boolean in a series": (True, "#VALUE!"),
    "date in a series": (DATE, "#VALUE!"),
    "nan in a series": (math.nan, "#NUM!"),
}


@pytest.mark.parametrize("case", list(SERIES_CASES))
@pytest.mark.parametrize(("name", "pos"), [
    (name, i) for name, (_, kinds) in CALLS.items() for i, k in enumerate(kinds)
    if k in ("series", "book")])
def test_series_argument_coercion(name, pos, case):
    """Text, booleans, dates or NaN inside a price or value column are refused with a code."""
    value, expected = SERIES_CASES[case]
    args = list(CALLS[name][0])
    col = [row[:] for row in args[pos]]
    col[1] = [value]
    args[pos] = col
    assert _call(name, args) == expected


@pytest.mark.parametrize("name", ["BETA_VS_BTC", "BETA_STATS", "ROLLING_BETA"])
def test_price_series_domain_and_shape(name):
    """Prices <= 0 -> #NUM!, different lengths -> #N/A, a 2-D block -> #VALUE!."""
    args = list(CALLS[name][0])
    bad = [row[:] for row in ETH]
    bad[5] = [0.0]
    assert _call(name, [bad, *args[1:]]) == "#NUM!"
    bad[5] = [-3.0]
    assert _call(name, [bad, *args[1:]]) == "#NUM!"
    assert _call(name, [ETH[:-1], *args[1:]]) == "#N/A"
    block = [[a[0], b[0]] for a, b in zip(ETH, BTC, strict=True)]
    assert _call(name, [block, *args[1:]]) == "#VALUE!"


@pytest.mark.parametrize("name", ["BETA_VS_BTC", "BETA_STATS"])
def test_too_few_observations_and_zero_variance(name):
    """Fewer than min_obs returns -> #N/A; a constant benchmark -> #DIV/0!."""
    args = list(CALLS[name][0])
    args[2] = None
    assert _call(name, [ETH[:30], BTC[:30], *args[2:]]) == "#N/A"
    flat = [[100.0]] * len(BTC)
    assert _call(name, [ETH, flat, *args[2:]]) == "#DIV/0!"


def test_book_shape_rules():
    """Unused rows (both blank) are skipped; half-blank rows and empty books are refused."""
    assert udfs.HEDGE_NOTIONAL([*VALUES, [None]], [*BETAS, [None]]) == pytest.approx(121_000)
    assert udfs.HEDGE_NOTIONAL([*VALUES, [1.0]], [*BETAS, [None]]) == "#VALUE!"
    assert udfs.HEDGE_NOTIONAL([[None]], [[None]]) == "#N/A"
    assert udfs.HEDGE_NOTIONAL(VALUES, BETAS[:2]) == "#N/A"


def test_domain_errors_are_num():
    """Out-of-domain numbers: stress <= -100%, price <= 0, negative band -> #NUM!."""
    assert udfs.MARGIN_BUFFER(121_000, 64_000, -1.0, 0.005) == "#NUM!"
    assert udfs.CONTRACTS_TO_SHORT(121_000, 0, "BINANCE:BTCUSDT") == "#NUM!"
    assert udfs.REBALANCE_SIGNAL(VALUES, BETAS, 0, 0, -0.05) == "#NUM!"
    assert udfs.CONTRACTS_TO_SHORT(121_000, 64_000, [["linear", 0, 1, 1]]) == "#NUM!"


def test_unknown_names_are_na():
    """Unknown contracts, rounding modes, methods and fields give #N/A."""
    assert udfs.CONTRACTS_TO_SHORT(1, 64_000, "NOPE:NOPE") == "#N/A"
    assert udfs.CONTRACTS_TO_SHORT(1, 64_000, "BINANCE:BTCUSDT", "sideways") == "#N/A"
    assert udfs.BETA_VS_BTC(ETH, BTC, None, "magic") == "#N/A"
    assert udfs.CONTRACT_SPEC("BINANCE:BTCUSDT", "colour") == "#N/A"


def test_unexpected_exceptions_are_not_swallowed(monkeypatch):
    """A bug in the core surfaces as an exception instead of a quiet error code."""
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(udfs.portfolio_core, "hedge_notional", broken)
    with pytest.raises(RuntimeError, match="bug"):
        udfs.HEDGE_NOTIONAL(VALUES, BETAS)


# ------------------------------------------------------------------ declarations


def test_udf_names_are_the_module_functions():
    """UDF_NAMES lists exactly the upper-case callables, the four of the design among them."""
    defined = sorted(n for n, f in vars(udfs).items() if n.isupper() and callable(f))
    assert sorted(udfs.UDF_NAMES) == defined
    assert {"BETA_VS_BTC", "HEDGE_NOTIONAL", "CONTRACTS_TO_SHORT", "MARGIN_BUFFER"} <= set(
        defined)


@pytest.mark.parametrize("name", udfs.UDF_NAMES)
def test_signature_is_what_xlwings_can_register(name):
    """Positional parameters only, no annotations (xlwings would read them as converters)."""
    fn = getattr(udfs, name)
    assert fn.__name__ == name
    doc = inspect.getdoc(fn)
    assert doc
    assert "\n" not in doc
    assert len(doc) <= 255
    for p in inspect.signature(fn).parameters.values():
        assert p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert p.annotation is inspect.Parameter.empty
    assert inspect.signature(fn).return_annotation is inspect.Signature.empty


@pytest.fixture
def recorded_decorators(monkeypatch):
    """Reload the module with xlwings decorators that record their arguments."""
    import xlwings as xw

    funcs, args = {}, {}

    def func(*a, **kw):
        def inner(f):
            funcs[f.__name__] = kw
            return f
        return inner

    def arg(name, *a, **kw):
        def inner(f):
            args.setdefault(f.__name__, {})[name] = kw
            return f
        return inner

    monkeypatch.setattr(xw, "func", func)
    monkeypatch.setattr(xw, "arg", arg)
    importlib.reload(udfs)
    yield funcs, args
    monkeypatch.undo()
    importlib.reload(udfs)


def test_the_declarations_recorded_without_xlwings_are_what_xlwings_receives(
        recorded_decorators):
    """Off Windows xlwings is not imported; the functions carry the same declarations."""
    funcs, args = recorded_decorators
    for name in udfs.UDF_NAMES:
        fn = getattr(udfs, name)
        assert fn.__excel_func__ == funcs[name]
        assert fn.__excel_args__ == args[name]


def test_every_function_and_argument_is_declared_for_excel(recorded_decorators):
    """Category BetaNeutral; every argument documented and reading error cells as codes."""
    funcs, args = recorded_decorators
    assert set(funcs) == set(udfs.UDF_NAMES)
    for name in udfs.UDF_NAMES:
        assert funcs[name] == {"category": "BetaNeutral"}
        params = list(inspect.signature(getattr(udfs, name)).parameters)
        assert set(args[name]) == set(params), name
        for pname, kw in args[name].items():
            assert kw.get("err_to_str") is True, (name, pname)
            assert kw.get("doc"), (name, pname)
            assert "dtype" not in kw, (name, pname)
            assert not kw.get("numbers"), (name, pname)
