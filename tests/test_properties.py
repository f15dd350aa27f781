"""Property tests over the cell coercion, the hedging core and the Excel functions.

Three kinds of property:

* signs: a hedge is never the wrong way round (a book whose dollar beta exceeds the
  target is hedged by a short, orders move the position toward the target, the
  backtest never holds a long hedge, ...);
* numbers: inside the magnitudes a book can have (1e-12 .. 1e12), nothing promised
  as a number comes back NaN;
* errors: for any input at all (NaN, infinities, huge and tiny floats, text, None,
  booleans) the public functions either return or raise a BetaNeutralError
  subclass, and the Excel functions return a value or an Excel error code.

The independent references are plain arithmetic written out in each test
(``math.fsum`` sums, the lot grid, the stress price ``E (1 + s)``).
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import betaneutral.udfs as udfs
from betaneutral.cells import (
    EXCEL_ERRORS,
    CellError,
    number_column,
    paired_columns,
    paired_prices,
    price_column,
    scalar_bool,
    scalar_int,
    scalar_number,
    scalar_text,
)
from betaneutral.core.backtest import backtest_hedge
from betaneutral.core.beta import betas_from_prices, ols_beta, rolling_beta
from betaneutral.core.contracts import CATALOGUE, contracts_for_notional, get_contract
from betaneutral.core.funding import funding_carry_usd
from betaneutral.core.margin import (
    liquidation_price_short,
    maintenance_for_notional,
    margin_buffer,
)
from betaneutral.core.orders import hedge_orders
from betaneutral.core.portfolio import hedge_notional
from betaneutral.errors import BetaNeutralError, DomainError
from betaneutral.sample import sample_prices

PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# ------------------------------------------------------------------ strategies
#: Magnitudes a real book has: 0 and +-[1e-12, 1e12].
magnitudes = st.one_of(st.just(0.0), st.floats(1e-12, 1e12), st.floats(-1e12, -1e-12))
positives = st.floats(1e-12, 1e12)
#: Anything a caller could pass where a number is expected.
anything = st.one_of(
    st.floats(),  # NaN, +-inf, subnormals, +-1.8e308 included
    st.sampled_from([1e300, -1e300, 1e-300, 1e12, 1e-12, 0.0, -0.0]),
    st.integers(-(10**30), 10**30),
    st.none(), st.booleans(), st.text(max_size=6),
    st.sampled_from(["1.5", "#N/A", "nan", dt.datetime(2026, 1, 2), dt.date(2026, 1, 2)]),
)
with_tiers = sorted(n for n, s in CATALOGUE.items() if s.margin_tiers)
contract_names = st.sampled_from(sorted(CATALOGUE))


def _outcome(call: Any) -> Any:
    """The result, or the BetaNeutralError it raised; anything else escapes (and fails)."""
    try:
        return call()
    except BetaNeutralError as exc:
        return exc


def _quiet(call: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy overflow notes
        return _outcome(call)


# ------------------------------------------------------------------ coercion
cell_values = st.one_of(
    st.none(), st.just(""), st.floats(), st.integers(-(2**63), 2**63), st.booleans(),
    st.text(max_size=5), st.sampled_from(sorted(EXCEL_ERRORS)),
    st.sampled_from([-2146826246, -2146826243, dt.datetime(2026, 1, 2), dt.date(2026, 1, 2),
                     "1.5", " TRUE ", np.float64(2.5), np.int64(3), np.bool_(True)]),
)
ranges = st.one_of(cell_values, st.lists(cell_values, max_size=4),
                   st.lists(st.lists(cell_values, min_size=1, max_size=2), min_size=1,
                            max_size=3))


def _code_or(call: Any) -> Any:
    try:
        return call()
    except CellError as exc:
        code = exc.code
    assert code in EXCEL_ERRORS
    return code


@PROPERTY
@given(ranges)
def test_scalar_readers_return_their_type_or_an_excel_code(value: Any) -> None:
    """Every single-cell reader returns a finite float, an int, a str or a bool of the
    right kind, or raises CellError with an Excel code; nothing else escapes."""
    number = _code_or(lambda: scalar_number("x", value))
    assert number in EXCEL_ERRORS or (type(number) is float and math.isfinite(number))
    whole = _code_or(lambda: scalar_int("n", value, minimum=0))
    assert whole in EXCEL_ERRORS or (type(whole) is int and whole >= 0)
    text = _code_or(lambda: scalar_text("name", value))
    assert isinstance(text, str)
    assert text == text.strip()
    assert text != ""
    flag = _code_or(lambda: scalar_bool("flag", value, default=False))
    assert flag in EXCEL_ERRORS or type(flag) is bool


price_cells = st.one_of(st.floats(-10, 1e6), st.none(), st.just(""), st.just(0.0),
                        st.sampled_from(["#N/A", "#REF!", "abc", True, math.inf, math.nan]))
price_columns = st.lists(st.lists(price_cells, min_size=1, max_size=1), max_size=5)


def _two_pass(x: Any, y: Any) -> Any:
    """The reading paired_prices replaces: pairs first (codes, lengths), then each column's
    price rules."""
    paired_columns("asset_prices", x, "btc_prices", y)
    return (price_column("asset_prices", x), price_column("btc_prices", y))


@PROPERTY
@given(price_columns, price_columns)
def test_paired_prices_reads_like_the_two_pass_reading(x: Any, y: Any) -> None:
    """paired_prices gives the same arrays, or the same code and message, as reading the
    pair and then each price column."""
    def result(call: Any) -> Any:
        try:
            return call()
        except CellError as exc:
            return (exc.code, exc.message)

    one, two = result(lambda: paired_prices("asset_prices", x, "btc_prices", y)), result(
        lambda: _two_pass(x, y))
    if isinstance(two, tuple) and isinstance(two[0], str):
        assert one == two
    else:
        np.testing.assert_array_equal(one[0], two[0])
        np.testing.assert_array_equal(one[1], two[1])


def _as_tuples(value: Any) -> Any:
    """The same cells as tuples: never the all-floats fast path, always cell by cell."""
    if isinstance(value, list):
        return tuple(_as_tuples(v) for v in value)
    return value


mostly_floats = st.one_of(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), price_cells,
                          st.sampled_from([np.float64(2.5), 3, -2146826246]))
line_shapes = st.one_of(
    st.lists(st.lists(mostly_floats, min_size=1, max_size=1), max_size=6),  # a column
    st.lists(st.lists(mostly_floats, min_size=0, max_size=6), min_size=1, max_size=1),
    st.lists(mostly_floats, max_size=6),  # a flat list
    st.lists(st.lists(mostly_floats, min_size=2, max_size=2), min_size=2, max_size=3),
)


@PROPERTY
@given(line_shapes, line_shapes, st.sampled_from(["missing", "required"]))
def test_ranges_of_floats_read_as_cell_by_cell(x: Any, y: Any, blanks: str) -> None:
    """Excel's usual argument, a list of plain floats, is read at once; the arrays, or the
    code and message, are those of reading the same cells one by one."""
    def result(read: Any, a: Any, b: Any) -> Any:
        try:
            out = read(a, b)
        except CellError as exc:
            return (exc.code, exc.message)
        return [np.asarray(v).tolist() for v in (out if isinstance(out, tuple) else (out,))]

    for read in (lambda a, b: paired_prices("asset_prices", a, "btc_prices", b, blanks=blanks),
                 lambda a, b: paired_columns("asset", a, "btc", b, blanks=blanks),
                 lambda a, b: price_column("btc_prices", a, blanks=blanks),
                 lambda a, b: number_column("weights", b, blanks=blanks)):
        fast = result(read, x, y)
        slow = result(read, _as_tuples(x), _as_tuples(y))
        assert str(fast) == str(slow)  # NaN-safe comparison of lists


# ------------------------------------------------------------------ hedge signs
books = st.lists(st.tuples(magnitudes, st.floats(-3, 3)), min_size=1, max_size=6)


@PROPERTY
@given(books, st.floats(-2, 2), magnitudes)
def test_hedge_notional_is_never_wrong_signed(book: list, target: float,
                                              current: float) -> None:
    """The hedge shorts (> 0) exactly when sum(V b) - target x V_S > 0, by an independent
    fsum; every field is a finite number."""
    values, betas = [v for v, _ in book], [b for _, b in book]
    h = _outcome(lambda: hedge_notional(values, betas, target_beta=target,
                                        current_hedge_usd=current))
    v_s = math.fsum(values)
    if v_s <= 0:
        assert isinstance(h, BetaNeutralError)  # a beta target needs V_S > 0
        return
    exact = math.fsum(v * b for v, b in book) - target * v_s
    scale = math.fsum(abs(v * b) for v, b in book) + abs(target * v_s)
    for field in ("target_notional_usd", "change_usd", "portfolio_value_usd",
                  "portfolio_beta_unhedged"):
        assert math.isfinite(getattr(h, field))
    if abs(exact) > 1e-9 * scale:
        assert (h.target_notional_usd > 0) == (exact > 0)
    assert h.change_usd == pytest.approx(h.target_notional_usd - current, abs=1e-6 * (
        abs(h.target_notional_usd) + abs(current)))


@PROPERTY
@given(magnitudes, positives, contract_names, st.sampled_from(["nearest", "down", "up"]),
       positives)
def test_contracts_follow_the_sign_of_the_notional(notional: float, price: float, name: str,
                                                   rounding: str, btc: float) -> None:
    """Contracts are signed like the notional (> 0 short) or zero, finite, and on the
    contract's quantity grid (a whole number of steps)."""
    spec = get_contract(name)
    s = _outcome(lambda: contracts_for_notional(notional, price, spec, rounding=rounding,
                                                btc_price_usd=btc))
    assert not isinstance(s, BetaNeutralError)
    assert math.isfinite(s.contracts)
    assert math.isfinite(s.contracts_exact)
    assert s.contracts == 0.0 or (s.contracts > 0) == (notional > 0)
    lots = abs(s.contracts) / spec.quantity_step
    assert lots == pytest.approx(round(lots), abs=1e-6 + 1e-12 * lots)  # float rounding
    if rounding == "down":
        assert abs(s.contracts) <= abs(s.contracts_exact) * (1 + 1e-9)


def _position_after(current: float, orders: list) -> float:
    return current + math.fsum(o.quantity_contracts * (1 if o.side == "sell" else -1)
                               for o in orders)


@PROPERTY
@given(magnitudes, magnitudes, contract_names, positives)
def test_orders_move_the_position_toward_the_target(current: float, target: float, name: str,
                                                    price: float) -> None:
    """Orders sell when the target short is larger and buy when smaller, never both;
    applying them lands on the target snapped to the lot grid (nearest lot, ties away from
    zero); a reduce-only order never
    makes the position larger; quantities and notionals are finite and > 0."""
    spec = get_contract(name)
    orders = _outcome(lambda: hedge_orders(current, target, spec, price, btc_price_usd=price))
    if isinstance(orders, BetaNeutralError):
        return  # an opening order below the venue minimum is refused
    step = spec.quantity_step

    def snap(x: float) -> float:  # nearest lot, ties away from zero (as "nearest" rounding)
        return math.copysign(math.floor(abs(x) / step + 0.5 + 1e-9) * step, x)

    snap_cur, snap_tgt = snap(current), snap(target)
    sides = {o.side for o in orders}
    if snap_tgt > snap_cur:
        assert sides == {"sell"}
    elif snap_tgt < snap_cur:
        assert sides == {"buy"}
    else:
        assert orders == []
    assert _position_after(current, orders) == pytest.approx(
        current + (snap_tgt - snap_cur), abs=1e-6 * (abs(current) + abs(target) + step))
    position = snap_cur
    for o in orders:
        assert o.quantity_contracts > 0
        assert math.isfinite(o.notional_usd)
        after = position + (o.quantity_contracts if o.side == "sell" else -o.quantity_contracts)
        if o.reduce_only:
            assert abs(after) <= abs(position) * (1 + 1e-9) + 1e-9
        position = after


# ------------------------------------------------------------------ margin
@PROPERTY
@given(st.floats(1.0, 1e9), st.floats(1.0, 1e6), st.floats(0.0, 5.0),
       st.sampled_from(with_tiers), st.floats(1.0, 3.0))
def test_the_margin_buffer_survives_its_stress_move(notional: float, entry: float,
                                                    stress: float, name: str,
                                                    safety: float) -> None:
    """A short funded with margin_buffer's collateral is liquidated no earlier than the
    stress price E x (1 + s): the buffer does what it promises."""
    spec = get_contract(name)
    kind = "inverse" if spec.kind == "inverse" else "linear"
    buf = margin_buffer(notional, entry, stress, maintenance=spec.margin_tiers, kind=kind,
                        safety_multiplier=safety, closing_fee_rate=spec.taker_fee_rate)
    assert math.isfinite(buf.collateral)
    assert buf.collateral >= 0
    # contracts: linear N = V / (E x size); inverse N = V / (USD per contract)
    contracts = notional / (entry * spec.contract_size) if kind == "linear" else (
        notional / spec.contract_size)
    liq = liquidation_price_short(spec, contracts, entry, buf.collateral,
                                  fee_rate=spec.taker_fee_rate)
    assert liq >= entry * (1 + stress) * (1 - 1e-9)


@PROPERTY
@given(st.floats(0, 1e12), st.one_of(st.sampled_from(with_tiers), st.floats(0, 0.99)))
def test_maintenance_is_a_rate_and_a_non_negative_margin(notional: float, schedule: Any
                                                         ) -> None:
    """The bracket's rate is in [0, 1) and its margin notional x rate - amount is >= 0."""
    tiers = get_contract(schedule).margin_tiers if isinstance(schedule, str) else schedule
    rate, amount = maintenance_for_notional(notional, tiers)
    assert 0.0 <= rate < 1.0
    assert math.isfinite(amount)
    assert notional * rate - amount >= -1e-9 * max(notional, 1.0)


# ------------------------------------------------------------------ beta
@PROPERTY
@given(st.lists(st.floats(-0.5, 0.5), min_size=5, max_size=40), st.floats(-3, 3),
       st.floats(-0.01, 0.01))
def test_ols_beta_recovers_an_exact_line(x: list, beta: float, alpha: float) -> None:
    """Returns y = alpha + beta x (no noise) give beta back; never NaN when x varies."""
    xs = np.asarray(x)
    assume(np.ptp(xs) > 1e-6)
    ys = alpha + beta * xs
    stats = ols_beta(ys, xs, min_obs=3)
    assert float(stats.beta) == pytest.approx(beta, abs=1e-6)


@PROPERTY
@given(st.lists(st.tuples(st.floats(-0.3, 0.3), st.floats(-0.3, 0.3)), min_size=4,
                max_size=30),
       st.sampled_from([1e-12, 1.0, 1e12]),
       st.sampled_from(["ols", "blume", "ewma", "ewls", "welch", "welch-decay", "realised",
                        "vasicek"]))
def test_betas_from_prices_is_finite_or_a_typed_error(moves: list, level: float,
                                                      method: str) -> None:
    """Prices at any level (1e-12 .. 1e12 USD) give a finite beta or a BetaNeutralError
    (too few pairs, zero variance), never NaN with the default on_error."""
    idx = pd.date_range("2026-01-01", periods=len(moves) + 1)
    asset = level * np.cumprod([1.0, *[1 + a for a, _ in moves]])
    btc = level * np.cumprod([1.0, *[1 + b for _, b in moves]])
    est = _quiet(lambda: betas_from_prices(pd.DataFrame({"A": asset}, index=idx),
                                           pd.Series(btc, index=idx), method=method,
                                           min_obs=3))
    if not isinstance(est, BetaNeutralError):
        assert np.isfinite(est.beta).all()


linear_or_inverse = sorted(n for n in with_tiers if CATALOGUE[n].kind != "quanto")


@PROPERTY
@given(st.lists(st.tuples(st.floats(-0.25, 0.25), st.floats(-0.25, 0.25),
                          st.floats(-0.25, 0.25)), min_size=6, max_size=40),
       st.tuples(st.floats(1e-6, 1e6),
                 st.one_of(st.just(0.0), st.floats(-1e6, 1e6))),
       st.sampled_from(linear_or_inverse), st.floats(-1.0, 1.0), st.floats(0.0, 0.3),
       st.sampled_from(["daily", "weekly"]),
       st.sampled_from(["ols", "blume", "ewma", "ewls", "welch", "welch-decay", "realised",
                        "vasicek"]),
       st.sampled_from([1e-3, 1.0, 1e5]))
def test_backtest_never_goes_long_futures_and_keeps_its_accounts_finite(
        moves: list, quantities: tuple, name: str, target: float, band: float, check: str,
        method: str, level: float) -> None:
    """Any price path, book (a long holding and a second of either sign or none, so net
    short books too), contract, target and band: the replay raises a BetaNeutralError, or
    holds a short (>= 0 contracts, never a long hedge) on a whole number of lots, with
    every account column finite and the cumulative hedged P&L equal to the running sum
    of the daily hedged P&L."""
    spec = get_contract(name)
    prices = level * np.cumprod(np.vstack([np.ones(3), 1.0 + np.array(moves)]), axis=0)
    dates = pd.date_range("2026-01-01", periods=len(prices))
    res = _quiet(lambda: backtest_hedge(
        pd.DataFrame(prices[:, 1:], index=dates, columns=["A", "B"]), prices[:, 0],
        quantities, spec, window=None, min_obs=3, method=method, target_beta=target,
        band=band, check=check))
    if isinstance(res, BetaNeutralError):
        return
    daily = res.daily
    held = daily["hedge_contracts"].to_numpy(dtype=float)
    assert (held >= 0.0).all()
    lots = held / spec.quantity_step
    assert np.allclose(lots, np.round(lots), rtol=0, atol=1e-6)
    money = ["spot_value_usd", "unhedged_pnl_usd", "futures_pnl_usd", "funding_usd",
             "fees_usd", "hedged_pnl_usd", "cum_hedged_pnl_usd", "margin_equity_usd",
             "collateral_added_usd"]
    assert np.isfinite(daily[money].to_numpy(dtype=float)).all()
    assert (daily["fees_usd"].to_numpy(dtype=float) >= 0.0).all()
    np.testing.assert_allclose(daily["cum_hedged_pnl_usd"],
                               np.cumsum(daily["hedged_pnl_usd"].to_numpy(dtype=float)),
                               rtol=1e-9, atol=1e-6 * max(1.0, float(np.abs(
                                   daily["hedged_pnl_usd"]).sum())))


# ------------------------------------------------------------------ only typed errors
@PROPERTY
@given(st.lists(anything, max_size=4), st.lists(anything, max_size=4), anything, anything)
def test_hedge_notional_raises_only_typed_errors(values: list, betas: list, target: Any,
                                                 current: Any) -> None:
    """Any values, betas, target and current hedge: a result or a BetaNeutralError."""
    _quiet(lambda: hedge_notional(values, betas, target_beta=target, current_hedge_usd=current))
    _quiet(lambda: hedge_notional(target, current))


@PROPERTY
@given(anything, anything, contract_names, anything, anything)
def test_contracts_and_orders_raise_only_typed_errors(a: Any, b: Any, name: str,
                                                      rounding: Any, c: Any) -> None:
    """contracts_for_notional and hedge_orders: a result or a BetaNeutralError."""
    spec = get_contract(name)
    _quiet(lambda: contracts_for_notional(a, b, spec, rounding=rounding, btc_price_usd=c))
    _quiet(lambda: hedge_orders(a, c, spec, b))
    _quiet(lambda: hedge_orders(a, c, spec, b, order_type=rounding, limit_price_usd=c))


@PROPERTY
@given(anything, anything, anything, st.sampled_from(with_tiers), anything, anything)
def test_margin_functions_raise_only_typed_errors(a: Any, b: Any, c: Any, name: str,
                                                  d: Any, e: Any) -> None:
    """margin_buffer, liquidation_price_short and maintenance_for_notional: a result or a
    BetaNeutralError, for any arguments."""
    spec = get_contract(name)
    _quiet(lambda: margin_buffer(a, b, c, maintenance=spec.margin_tiers, kind=d,
                                 safety_multiplier=e, closing_fee_rate=d))
    _quiet(lambda: margin_buffer(a, b, c, maintenance=d))
    _quiet(lambda: liquidation_price_short(spec, a, b, c, fee_rate=e))
    _quiet(lambda: liquidation_price_short(d, a, b, c, maintenance=e, contract_size=d))
    _quiet(lambda: maintenance_for_notional(a, spec.margin_tiers))
    _quiet(lambda: maintenance_for_notional(a, b))


@PROPERTY
@given(st.lists(anything, max_size=8), st.lists(anything, max_size=8), anything, anything)
def test_beta_functions_raise_only_typed_errors(y: list, x: list, window: Any,
                                                min_obs: Any) -> None:
    """ols_beta and betas_from_prices: a result or a BetaNeutralError, for any data."""
    _quiet(lambda: ols_beta(y, x, window=window, min_obs=min_obs))
    _quiet(lambda: ols_beta(y, x, min_obs=3))
    n = min(len(y), len(x))
    try:
        asset, bench = pd.DataFrame({"A": y[:n]}), pd.Series(x[:n], dtype=object)
    except (TypeError, ValueError):
        return
    _quiet(lambda: betas_from_prices(asset, bench, min_obs=3))
    _quiet(lambda: betas_from_prices(asset, bench, window=window, min_obs=min_obs))


# Beyond any real book (|x| > 1e100) the core refuses numbers whose result leaves the
# float range with a DomainError instead of an OverflowError or a NaN.
BEYOND_FLOAT_RANGE = {
    "contracts_for_notional": lambda: contracts_for_notional(
        1e300, 1e-300, get_contract("BINANCE:BTCUSDT")),
    "hedge_orders": lambda: hedge_orders(1e308, 0.0, get_contract("BINANCE:BTCUSDT"),
                                         64_000.0),
    "funding_carry_usd": lambda: funding_carry_usd(121_000.0, 0.0001, 1e300,
                                                   interval_hours=1e-300),
    # 1e308 x 1e10 overflows: inf - inf = NaN inside the dot product
    "hedge_notional": lambda: hedge_notional([1e308, 1e308], [1e10, -1e10]),
    "margin_buffer": lambda: margin_buffer(1e260, 1e260, 1e260, maintenance=0.005),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("case", list(BEYOND_FLOAT_RANGE))
def test_results_beyond_the_float_range_are_domain_errors(case: str) -> None:
    """An overflowing result is a DomainError naming the rule (finite), not a crash or NaN."""
    with pytest.raises(DomainError, match="finite"):
        BEYOND_FLOAT_RANGE[case]()


# Returns near 1e289 (found by hypothesis): x * y overflows and the sums give inf - inf.
_HUGE_Y = [-4.6036938419406536e16, -3.0398147136645508e16, 5.0624103546584264e16,
           -2.051767742288178e16, 4.812311151135461e16, -1.9, 4.412559148695356e16,
           -1.4856452292071743e289]
_HUGE_X = [-2.250595722952611e-168, 1.4796261346748098e16, -1.1579690287957378e-91,
           4.925106249144421e16, 2.851778107296457e16, 2.04037723671366e-216,
           2.8243738961797513e37, 5.251523292896092e23]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_ols_beta_overflowing_cross_products_are_domain_errors() -> None:
    """Sums beyond the float range raise a DomainError; with on_error='nan' that column is NaN."""
    with pytest.raises(DomainError, match=r"finite .*magnitude 1\.49e\+289"):
        ols_beta(_HUGE_Y, _HUGE_X, min_obs=3)
    good = np.linspace(-0.02, 0.03, 8)
    both = ols_beta(np.column_stack([_HUGE_Y, 2.0 * good]), good, min_obs=3, on_error="nan")
    assert math.isnan(float(both.beta[0]))
    assert float(both.beta[1]) == pytest.approx(2.0, abs=1e-12)


@pytest.mark.parametrize("missing", [False, True])
def test_rolling_beta_window_beyond_int64_is_a_window_longer_than_the_history(
        missing: bool) -> None:
    """window=1e300 has no complete window: the same result as window = T + 1, no overflow."""
    y = np.linspace(-0.02, 0.03, 10)
    if missing:
        y[0] = np.nan
    x = np.sin(np.arange(10.0)) / 50
    huge = rolling_beta(y, x, window=1e300, min_obs=3)
    ref = rolling_beta(y, x, window=11, min_obs=3)
    assert np.isnan(huge.beta).all()
    np.testing.assert_array_equal(huge.n_obs, ref.n_obs)


# ------------------------------------------------------------------ Excel functions
_P = sample_prices(days=70)
_ETH = [[float(v)] for v in _P["ETH"]]
_BTC = [[float(v)] for v in _P["BTC"]]
_V, _B = [[50_000.0], [30_000.0]], [[1.1], [1.4]]
_BOOK = ["ETH", "SOL", "LINK"]
_UNIVERSE = [[float(v) for v in row] for row in _P[_BOOK].to_numpy()]
VALID_CALLS: dict[str, list[Any]] = {
    "BETA_VS_BTC": [_ETH, _BTC, 30, "vasicek", 20, "simple", _UNIVERSE, [_BOOK],
                    [[a] for a in _BOOK], 126.0],
    "BETA_STATS": [_ETH, _BTC, 30, 20, False],
    "ROLLING_BETA": [_ETH, _BTC, 20, 10],
    "HEDGE_NOTIONAL": [_V, _B, 0.0, 0.0],
    "PORTFOLIO_BETA": [_V, _B, 0.0],
    "CONTRACTS_TO_SHORT": [121_000.0, 64_000.0, "BINANCE:BTCUSDT", "nearest", None],
    "MARGIN_BUFFER": [121_000.0, 64_000.0, 0.3, "BINANCE:BTCUSDT", 1.2],
    "LIQUIDATION_PRICE": [1.891, 64_000.0, 40_000.0, "BINANCE:BTCUSDT", "mark"],
    "FUNDING_COST": [121_000.0, 0.0001, 720.0, 8.0],
    "REBALANCE_SIGNAL": [_V, _B, 100_000.0, 0.0, 0.05, None],
    "REBALANCE_ACTION": [0.0, 7.5, False],
    "HEDGE_SCENARIOS": [_V, _B, 1.891, 64_000.0, 60_000.0, "BINANCE:BTCUSDT", None],
    "CONTRACT_SPEC": ["BINANCE:BTCUSDT", "kind"],
}
udf_cells = st.one_of(
    anything, st.sampled_from(sorted(EXCEL_ERRORS)),
    st.sampled_from(["BINANCE:BTCUSD_PERP", "CME:MBT", "NOPE:NOPE", "log", "blume", "down",
                     "contract_size", -2146826246]),
)


def _argument(valid: Any) -> st.SearchStrategy:
    """The valid value, a random cell, or (for ranges) a changed range."""
    options = [st.just(valid), udf_cells]
    if isinstance(valid, list):
        n = len(valid)
        factors = st.sampled_from([1e-300, 1e-12, 1e12, 1e300, -1.0, 0.0])
        options += [
            st.lists(st.lists(udf_cells, min_size=1, max_size=1), min_size=n, max_size=n),
            factors.map(lambda f: [[c * f if isinstance(c, float) else c for c in row]
                                   for row in valid]),
            st.integers(0, n - 1).flatmap(lambda i: udf_cells.map(
                lambda c: [*valid[:i], [c], *valid[i + 1:]])),
            st.integers(0, n).map(lambda k: valid[:k]),
        ]
    return st.one_of(options)


def _is_excel_value(v: Any) -> bool:
    if isinstance(v, bool | int):
        return True
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, str):
        return not v.startswith("#") or v in EXCEL_ERRORS
    return False


@pytest.mark.parametrize("name", udfs.UDF_NAMES)
def test_excel_functions_never_raise(name: str) -> None:
    """For any arguments, each Excel function returns a finite number, a boolean, text,
    an Excel error code, or rows of those; it never raises and never returns NaN or inf."""
    fn = getattr(udfs, name)
    params = list(inspect.signature(fn).parameters)
    assert len(params) == len(VALID_CALLS[name])

    @PROPERTY
    @given(st.tuples(*[_argument(v) for v in VALID_CALLS[name]]))
    def check(args: tuple) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = fn(*args)
        if isinstance(out, list):
            assert out, out
            assert all(isinstance(r, list) and r and all(_is_excel_value(v) for v in r)
                       for r in out), out
        else:
            assert _is_excel_value(out), out

    check()
