"""Per-call cost of the Excel functions in Python, without Excel.

Case 4: each function is called as xlwings passes a worksheet call to Python
(ranges as lists of rows, blanks as ``None``, numbers as ``float``, text as
``str``), so the time is the Python side of one recalculation of the cell;
Excel's COM marshalling is not included. Each is compared, in the same run,
with the core function alone doing the same computation on numpy arrays.

* ``BETA_VS_BTC`` on two 730-row price columns, window 90 (the template's call)
  vs ``returns_from_prices`` + ``ols_beta`` on the last 90 returns (numpy).
  Also shown: reading the two columns alone (``betaneutral.cells.price_column``
  twice), and the core's pandas entry point the function uses
  (``betas_from_prices``).
* ``HEDGE_NOTIONAL`` on 20 holdings vs ``portfolio.hedge_notional``.
* ``CONTRACTS_TO_SHORT`` with a catalogue contract vs ``contracts_for_notional``.
* ``MARGIN_BUFFER`` with a catalogue contract vs ``margin_buffer`` with its tiers.

Usage::

    python benchmarks/bench_udf.py [--json results.json] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from betaneutral import cells, udfs
from betaneutral.core.beta import betas_from_prices, ols_beta
from betaneutral.core.contracts import contracts_for_notional, get_contract
from betaneutral.core.margin import margin_buffer
from betaneutral.core.portfolio import hedge_notional
from betaneutral.core.returns import returns_from_prices
from betaneutral.sample import sample_prices
from timing import write_results

TARGET_MS = 1.0
CONTRACT = "BINANCE:BTCUSDT"


def per_call(fn: Callable[[], object], repeat: int, budget_s: float = 0.3) -> float:
    """Seconds per call: the best of ``repeat`` samples, each a loop of about ``budget_s``."""
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(budget_s / once))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def cases() -> list[tuple[str, str, Callable[[], object], Callable[[], object]]]:
    """(function call, core reference, the call, the reference); results cross-checked."""
    prices = sample_prices(730)
    asset, btc = prices["SOL"].to_numpy(), prices["BTC"].to_numpy()
    asset_cells = [[float(v)] for v in asset]
    btc_cells = [[float(v)] for v in btc]

    def beta_udf() -> float:
        return udfs.BETA_VS_BTC(asset_cells, btc_cells, 90.0, "ols", 60.0, "simple")

    def beta_core() -> float:
        ra, rb = returns_from_prices(asset), returns_from_prices(btc)
        return float(ols_beta(ra[-90:], rb[-90:], min_obs=60).beta)

    def beta_pandas() -> float:
        est = betas_from_prices(pd.Series(asset).to_frame("asset"), pd.Series(btc), window=90,
                                min_obs=60)
        return float(est.beta[0])

    def read_columns() -> None:
        cells.price_column("asset_prices", asset_cells)
        cells.price_column("btc_prices", btc_cells)

    rng = np.random.default_rng(0)
    values = rng.uniform(1e4, 1e6, 20)
    betas = rng.uniform(0.5, 1.8, 20)
    value_cells = [[float(v)] for v in values]
    beta_cells = [[float(b)] for b in betas]

    def hedge_udf() -> float:
        return udfs.HEDGE_NOTIONAL(value_cells, beta_cells, 0.0, None)

    def hedge_core() -> float:
        return float(hedge_notional(values, betas, target_beta=0.0).change_usd)

    spec = get_contract(CONTRACT)
    notional, price = float(values @ betas), 61_234.5

    def contracts_udf() -> float:
        return udfs.CONTRACTS_TO_SHORT(notional, price, [[CONTRACT]])

    def contracts_core() -> float:
        return float(contracts_for_notional(notional, price, get_contract(CONTRACT)).contracts)

    def margin_udf() -> float:
        return udfs.MARGIN_BUFFER(notional, price, 0.3, [[CONTRACT]], 1.2)

    def margin_core() -> float:
        spec = get_contract(CONTRACT)
        return float(margin_buffer(notional, price, 0.3, maintenance=spec.margin_tiers,
                                   kind=spec.kind, closing_fee_rate=spec.taker_fee_rate,
                                   safety_multiplier=1.2).collateral)

    for udf, core in ((beta_udf, beta_core), (beta_udf, beta_pandas), (hedge_udf, hedge_core),
                      (contracts_udf, contracts_core), (margin_udf, margin_core)):
        a, b = udf(), core()
        assert a == b, (udf.__name__, a, b)  # same number: the same computation is timed
    assert spec.kind  # the catalogue contract exists
    return [
        ("BETA_VS_BTC, 2 x 730 cells, w=90", "returns + ols_beta (numpy)", beta_udf, beta_core),
        ("BETA_VS_BTC, 2 x 730 cells, w=90", "betas_from_prices (pandas)", beta_udf,
         beta_pandas),
        ("BETA_VS_BTC, 2 x 730 cells, w=90", "reading the 2 columns only", beta_udf,
         read_columns),
        ("HEDGE_NOTIONAL, 20 holdings", "portfolio.hedge_notional", hedge_udf, hedge_core),
        ("CONTRACTS_TO_SHORT", "contracts_for_notional", contracts_udf, contracts_core),
        ("MARGIN_BUFFER", "margin_buffer (tiers, fee)", margin_udf, margin_core),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'function call':34} {'reference':28} {'call ms':>9} {'ref ms':>9} {'ratio':>7}"
          f"  target")
    out = []
    timed: dict[str, float] = {}
    for call, ref, udf, core in cases():
        if call not in timed:
            timed[call] = per_call(udf, args.repeat)
        ours, other = timed[call], per_call(core, args.repeat)
        ratio = ours / other
        print(f"{call:34} {ref:28} {ours * 1e3:9.3f} {other * 1e3:9.3f} {ratio:6.1f}x"
              f"  < {TARGET_MS:g} ms")
        out.append({"call": call, "reference": ref, "call_ms": ours * 1e3,
                    "reference_ms": other * 1e3, "ratio": ratio, "target_ms": TARGET_MS})
    if args.json:
        write_results(args.json, out, repeat=args.repeat)


if __name__ == "__main__":
    main()
