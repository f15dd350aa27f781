"""Speed of the estimator tournament: 200 holdings x 2,000 days x 15 candidates.

Candidates: ols, ewls, welch, welch-decay and vasicek, each with windows 30, 90
and 180 days: 15 replays of the same policy (band 0.05, daily checks, 5 bp),
each with its own trailing betas, scored on the common days with the
Diebold-Mariano test of the best against the default (ols 90d).

The reference, measured in the same run on the same data, is one full-sample
beta fit of every holding (``ols_beta`` on the 200 x 1,999 daily returns): the
ratio says how many such fits the whole tournament costs. The target is an
absolute one, under 10 s on the machine of the README's table.

Also timed: the 15 trailing beta paths alone (``trailing_betas`` for each
candidate), to show what the estimators cost next to the replays.

Usage::

    python benchmarks/bench_tournament.py [--json results.json] [--repeat 3]
"""

from __future__ import annotations

import argparse

import numpy as np

from bench_backtest import make_book
from betaneutral.core.backtest import trailing_betas
from betaneutral.core.beta import ols_beta
from betaneutral.core.contracts import get_contract
from betaneutral.core.tournament import estimator_tournament
from timing import best_of, write_results

ESTIMATORS = ("ols", "ewls", "welch", "welch-decay", "vasicek")
WINDOWS = (30, 90, 180)


def run(repeat: int) -> dict[str, float]:
    prices, btc, qty = make_book(200, 2_000)
    spec = get_contract("BINANCE:BTCUSDT")
    returns = prices.pct_change().to_numpy()[1:]
    bench = btc[1:] / btc[:-1] - 1.0
    y = np.vstack([np.full((1, 200), np.nan), returns])
    x = np.r_[np.nan, bench]

    def paths() -> None:
        for m in ESTIMATORS:
            for w in WINDOWS:
                trailing_betas(y, x, window=w, min_obs=min(60, w), method=m)

    t_fit = best_of(lambda: ols_beta(returns, bench, min_obs=60, hac=False), repeat)
    t_paths = best_of(paths, repeat)
    t_all = best_of(lambda: estimator_tournament(prices, btc, qty, spec, estimators=ESTIMATORS,
                                                 windows=WINDOWS), repeat)
    return {"full_sample_fit_s": t_fit, "beta_paths_s": t_paths, "tournament_s": t_all,
            "tournament_over_fit": t_all / t_fit, "paths_over_fit": t_paths / t_fit}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (best is kept)")
    args = parser.parse_args()
    res = run(args.repeat)
    print(f"{'case':<62} {'time':>10}")
    print(f"{'one full-sample beta fit, 200 x 1,999 returns (reference)':<62} "
          f"{res['full_sample_fit_s'] * 1e3:>8.2f} ms")
    print(f"{'15 trailing beta paths (5 estimators x 3 windows)':<62} "
          f"{res['beta_paths_s']:>9.3f} s")
    print(f"{'tournament, 15 candidates replayed and scored':<62} "
          f"{res['tournament_s']:>9.3f} s")
    print(f"tournament / one fit: {res['tournament_over_fit']:,.0f}x; beta paths / one fit: "
          f"{res['paths_over_fit']:,.0f}x; target: tournament under 10 s")
    if args.json:
        write_results(args.json, res)


if __name__ == "__main__":
    main()
