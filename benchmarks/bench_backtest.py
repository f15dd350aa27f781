"""Speed of the hedge backtest: 200 holdings x 2,000 days x six policies.

The reference, measured in the same run on the same data, is one full-sample
beta fit of every holding (``ols_beta`` on the 200 x 1,999 daily returns): the
ratio says how many such fits the whole policy comparison costs. The target is
an absolute one, under 5 s on the machine of the README's table.

Cases:

* ``compare_policies``: bands 0.02 / 0.05 / 0.10, daily and weekly checks
  (betas computed once, then six daily position loops);
* ``backtest_hedge``: one policy (band 0.05, daily), for the per-policy cost.

Usage::

    python benchmarks/bench_backtest.py [--json results.json] [--repeat 3]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from betaneutral.core.backtest import backtest_hedge, compare_policies
from betaneutral.core.beta import ols_beta
from betaneutral.core.contracts import get_contract
from timing import best_of, write_results


def make_book(n_assets: int, n_days: int, seed: int = 0):
    """Synthetic daily closes of BTC and ``n_assets`` coins with betas in [0.5, 2]."""
    rng = np.random.default_rng(seed)
    rb = rng.normal(0.0005, 0.035, n_days - 1)
    betas = rng.uniform(0.5, 2.0, n_assets)
    ra = rb[:, None] * betas + rng.normal(0.0, 0.03, (n_days - 1, n_assets))
    btc = 30_000.0 * np.concatenate([[1.0], np.cumprod(1.0 + rb)])
    prices = 10.0 * np.vstack([np.ones(n_assets), np.cumprod(1.0 + ra, axis=0)])
    dates = pd.date_range("2019-01-01", periods=n_days, freq="D")
    frame = pd.DataFrame(prices, index=dates, columns=[f"C{j:03d}" for j in range(n_assets)])
    quantities = rng.uniform(1_000.0, 100_000.0, n_assets)
    return frame, btc, quantities


def run(repeat: int) -> dict[str, float]:
    prices, btc, qty = make_book(200, 2_000)
    spec = get_contract("BINANCE:BTCUSDT")
    returns = prices.pct_change().to_numpy()[1:]
    bench = btc[1:] / btc[:-1] - 1.0

    t_fit = best_of(lambda: ols_beta(returns, bench, min_obs=60, hac=False), repeat)
    t_all = best_of(lambda: compare_policies(prices, btc, qty, spec), repeat)
    t_one = best_of(lambda: backtest_hedge(prices, btc, qty, spec), repeat)
    return {"full_sample_fit_s": t_fit, "six_policies_s": t_all, "one_policy_s": t_one,
            "six_policies_over_fit": t_all / t_fit}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (best is kept)")
    args = parser.parse_args()
    res = run(args.repeat)
    print(f"{'case':<58} {'time':>10}")
    print(f"{'one full-sample beta fit, 200 x 1,999 returns (reference)':<58} "
          f"{res['full_sample_fit_s'] * 1e3:>8.1f} ms")
    print(f"{'backtest, one policy (band 0.05, daily)':<58} {res['one_policy_s']:>9.3f} s")
    print(f"{'policy comparison, six policies':<58} {res['six_policies_s']:>9.3f} s")
    print(f"six policies / one fit: {res['six_policies_over_fit']:,.0f}x; "
          f"target: six policies under 5 s")
    if args.json:
        write_results(args.json, res)


if __name__ == "__main__":
    main()
