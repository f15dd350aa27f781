"""The ``betaneutral`` command.

Exit codes: 0 success; 1 data or validation error; 2 usage error; 3 a file is
locked or cannot be written. Diagnostics go to standard error as one line;
a user's mistake never produces a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import pandas as pd

from betaneutral import __version__
from betaneutral.errors import BetaNeutralError

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2
EXIT_FILE = 3


class FileProblemError(Exception):
    """A file is locked, missing or cannot be written (exit code 3)."""


def _beta_table(prices: pd.DataFrame, *, benchmark: str = "BTC", window: int | None = None,
                method: str = "ols", min_obs: int = 60) -> pd.DataFrame:
    from betaneutral.core.beta import betas_from_prices

    assets = prices.drop(columns=[benchmark])
    est = betas_from_prices(assets, prices[benchmark], method=method,  # type: ignore[arg-type]
                            window=window, min_obs=min_obs)
    table = est.stats.to_frame(est.names)
    table.insert(0, f"beta ({method})", est.beta)
    return table


def cmd_demo(args: argparse.Namespace) -> int:
    """Print the beta table of the built-in synthetic book."""
    from betaneutral.sample import SAMPLE_LABEL, TRUE_BETAS, sample_prices

    prices = sample_prices()
    table = _beta_table(prices, window=args.window)
    table.insert(1, "true beta", [TRUE_BETAS[a] for a in table.index])
    print(SAMPLE_LABEL)
    print(f"Betas to BTC, daily simple returns, {prices.index[0]:%Y-%m-%d} .. "
          f"{prices.index[-1]:%Y-%m-%d}" + (f", last {args.window} returns" if args.window
                                             else ""))
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
        print(table[["beta (ols)", "true beta", "se", "hac_se", "r_squared", "n_obs",
                     "ci_low", "ci_high"]].to_string())
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="betaneutral",
        description="Neutralise a crypto book's beta to BTC with short futures.",
    )
    parser.add_argument("--version", action="version", version=f"betaneutral {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo = sub.add_parser("demo", help="run the whole job on the built-in synthetic sample",
                          description="Run the whole job on the built-in synthetic sample.")
    demo.add_argument("--window", type=int, default=None,
                      help="use the last N daily returns (default: all)")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``betaneutral`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except BetaNeutralError as exc:
        print(f"betaneutral: error: {exc}", file=sys.stderr)
        return EXIT_DATA
    except FileProblemError as exc:
        print(f"betaneutral: error: {exc}", file=sys.stderr)
        return EXIT_FILE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
