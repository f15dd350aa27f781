"""A day-by-day reference backtest, written from the README's rules, against the product.

The reference below does not call :mod:`betaneutral.core.backtest` nor
:mod:`betaneutral.core.margin`: betas are numpy OLS slopes of the trailing window's
present pairs, the margin buffer and the liquidation price are the README's formulas
(loss + tiered maintenance + closing taker fee at the stress price; the root of
equity = maintenance + fee), and every step of "What happens each day" is spelled out
in order. On real prices (Coin Metrics, skipped when absent) it must agree with
``backtest_hedge`` day by day, for a linear and an inverse contract; the inverse book's
realised beta, counting the coin collateral the user owns, must be near 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from betaneutral.core.backtest import backtest_hedge
from betaneutral.core.contracts import get_contract

COINS = ["ETH", "XRP", "LTC", "BNB", "LINK"]
WINDOW, MIN_OBS, BAND, FEE, FUNDING_8H, STRESS, SAFETY = 90, 60, 0.05, 5e-4, 1e-4, 0.3, 1.2


def _tier(tiers, notional):
    for t in tiers:
        if notional <= t.notional_cap:
            return t
    return tiers[-1]


def buffer(spec, contracts, price):
    """README: collateral = (loss + maintenance + closing fee at P_s) x safety multiplier."""
    p_s, f = price * (1 + STRESS), spec.taker_fee_rate
    if spec.kind == "linear":
        q = contracts * spec.contract_size
        n, loss = q * p_s, q * (p_s - price)
    else:
        face = contracts * spec.contract_size
        n = face / p_s
        loss = face / price - n
    t = _tier(spec.margin_tiers, n)
    return max(loss + n * t.maintenance_rate - t.maintenance_amount + f * n, 0.0) * SAFETY


def liquidation_price(spec, contracts, entry, wb):
    """README: linear P = (WB + cum + Q E) / (Q (1 + MMR + f)); inverse
    P = N C (1 - MMR - f) / (N C / E - WB - cum), in the bracket holding the root."""
    f = spec.taker_fee_rate
    size = contracts * spec.contract_size
    tiers = spec.margin_tiers
    for i, t in enumerate(tiers):
        last = i == len(tiers) - 1
        if spec.kind == "linear":
            p = (wb + t.maintenance_amount + size * entry) / (
                size * (1 + t.maintenance_rate + f))
            n = size * p
        else:
            denom = size / entry - wb - t.maintenance_amount
            if denom <= 0:
                if i == 0:
                    return math.inf
                continue
            p = size * (1 - t.maintenance_rate - f) / denom
            n = size / p
        if last or n <= t.notional_cap:
            return p
    raise AssertionError


def maintenance_usd(spec, contracts, price):
    n = (contracts * spec.contract_size * price if spec.kind == "linear"
         else contracts * spec.contract_size / price)
    t = _tier(spec.margin_tiers, n)
    mm = n * t.maintenance_rate - t.maintenance_amount + spec.taker_fee_rate * n
    return mm if spec.kind == "linear" else mm * price


def on_grid(spec, usd, price):
    if usd <= 0:
        return 0.0
    per = spec.contract_size * price if spec.kind == "linear" else spec.contract_size
    lots = usd / per / spec.quantity_step
    k = math.floor(lots + 1e-9)
    k = k + 1 if lots - k >= 0.5 - 1e-9 else k
    n = round(k * spec.quantity_step, 12)
    return n if n >= spec.min_quantity * (1 - 1e-9) else 0.0


def trailing_beta(y, x, t):
    """OLS slope over the present pairs of returns t-WINDOW+1..t (rows are returns into t)."""
    lo = max(t - WINDOW + 1, 0)
    yy, xx = y[lo:t + 1], x[lo:t + 1]
    ok = np.isfinite(yy) & np.isfinite(xx)
    if ok.sum() < MIN_OBS:
        return math.nan
    return float(np.polyfit(xx[ok], yy[ok], 1)[0])


def reference(prices, btc, qty, spec):
    """The README's day: mark, liquidate, check and trade, top up; returns the daily path."""
    linear = spec.kind == "linear"
    t_len = len(btc)
    rets = np.vstack([np.full(prices.shape[1], np.nan), prices[1:] / prices[:-1] - 1])
    rb = np.r_[np.nan, btc[1:] / btc[:-1] - 1]
    last = prices.copy()
    for t in range(1, t_len):
        last[t] = np.where(np.isnan(last[t]), last[t - 1], last[t])
    betas = np.array([[trailing_beta(rets[:, j], rb, t) for j in range(prices.shape[1])]
                      for t in range(t_len)])
    values = np.nan_to_num(qty * last)
    has_beta = ~np.isnan(betas).any(axis=1)
    start = int(np.flatnonzero(has_beta & (values.sum(axis=1) > 0))[0])
    held = equity = 0.0
    out = {k: [] for k in ("held", "equity", "pnl", "base")}
    for t in range(t_len):
        price = btc[t]
        pnl = 0.0
        if t > start:
            pnl += float(np.nansum(qty * (last[t] - last[t - 1])))  # spot
            if not linear:
                pnl += equity * (price - btc[t - 1])  # the coin collateral's revaluation
        if held and t > 0:
            prev = btc[t - 1]
            settle = (-held * spec.contract_size * (price - prev) if linear
                      else held * spec.contract_size * (1 / price - 1 / prev))
            notional = held * (spec.contract_size * price if linear else spec.contract_size)
            fund = notional * FUNDING_8H * 3.0
            equity += settle + (fund if linear else fund / price)
            pnl += (settle if linear else settle * price) + fund
            if (equity if linear else equity * price) <= maintenance_usd(spec, held, price):
                # the margin left is lost; a deficit beyond it is not charged (it was
                # counted in the settlement above, and is given back here)
                pnl -= equity if linear else equity * price
                held = equity = 0.0
        v_s = float(values[t].sum())
        if t >= start and has_beta[t] and v_s > 0:
            d = float((values[t] * betas[t]).sum())
            coin_usd = 0.0 if linear else max(equity, 0.0) * price
            owned = v_s + coin_usd
            notional = held * (spec.contract_size * price if linear else spec.contract_size)
            if abs((d + coin_usd - notional) / owned) > BAND:
                if linear:
                    target = on_grid(spec, d, price)
                else:  # face = D + K F, K the coin held after the trade and its top-up
                    target = held
                    for _ in range(50):
                        cost = abs(target - held) * spec.contract_size * FEE / price
                        k = max(equity - cost, buffer(spec, target, price) if target else 0.0)
                        nxt = on_grid(spec, d + k * price, price)
                        if nxt == target:
                            break
                        target = nxt
                delta = round(target - held, 12)
                if delta and abs(delta) >= spec.min_quantity * (1 - 1e-9):
                    traded = abs(delta) * (spec.contract_size * price if linear
                                           else spec.contract_size)
                    pnl -= traded * FEE
                    equity -= traded * FEE if linear else traded * FEE / price
                    held = target
                    if held:
                        equity = max(equity, buffer(spec, held, price))
        if held:
            rally = liquidation_price(spec, held, price, max(equity, 0.0)) / price - 1
            if rally < STRESS / 2:
                equity = max(equity, buffer(spec, held, price))
        out["held"].append(held)
        out["equity"].append(equity)
        out["pnl"].append(pnl)
        out["base"].append(v_s + (0.0 if linear else max(equity, 0.0) * price))
    return {k: np.array(v) for k, v in out.items()}, start


@pytest.fixture(scope="module")
def real_book(coinmetrics_prices):
    p = coinmetrics_prices.loc["2018-07-01":"2020-07-27", ["BTC", *COINS]]
    qty = 100_000.0 / p[COINS].iloc[0].to_numpy()
    return p[COINS].to_numpy(), p["BTC"].to_numpy(), qty


@pytest.mark.parametrize("contract", ["BINANCE:BTCUSDT", "BINANCE:BTCUSD_PERP"])
def test_the_reference_and_the_product_agree_day_by_day(real_book, contract):
    prices, btc, qty = real_book
    spec = get_contract(contract)
    ref, start = reference(prices, btc, qty, spec)
    got = backtest_hedge(prices, btc, qty, spec, window=WINDOW, min_obs=MIN_OBS, band=BAND,
                         fee_bps=FEE * 1e4, funding_rate_8h=FUNDING_8H, stress_move=STRESS,
                         safety_multiplier=SAFETY)
    d = got.daily
    np.testing.assert_array_equal(d["hedge_contracts"].to_numpy(), ref["held"])
    np.testing.assert_allclose(d["margin_equity"].to_numpy(), ref["equity"], rtol=1e-9,
                               atol=1e-9)
    np.testing.assert_allclose(d["hedged_pnl_usd"].to_numpy(), ref["pnl"], rtol=1e-9,
                               atol=1e-6)
    # realised beta of everything owned: hedged P&L over the previous day's book
    r = ref["pnl"][start + 1:] / ref["base"][start:-1]
    rb = btc[start + 1:] / btc[start:-1] - 1
    slope = float(np.polyfit(rb, r, 1)[0])
    assert got.summary.realised_beta_hedged == pytest.approx(slope, abs=1e-9)
    assert abs(slope) < 0.1  # the book and the collateral are hedged (was +0.69)
