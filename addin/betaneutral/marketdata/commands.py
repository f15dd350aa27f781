"""``betaneutral fetch prices|funding|contracts|position``: the command-line side.

Each command fetches everything first, checks it, and only then writes its one
output file (atomically; an existing file only with ``--force``). A failure is
one line on standard error and nothing is written.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from betaneutral.files import check_writable_target

__all__ = ["add_fetch_parser"]


def _targets(args: argparse.Namespace) -> Path:
    out = Path(args.output)
    check_writable_target(out, force=args.force)  # before any request
    return out


def cmd_fetch_prices(args: argparse.Namespace) -> int:
    from betaneutral.marketdata.files import write_prices_csv
    from betaneutral.marketdata.prices import fetch_closes

    out = _targets(args)
    assets = [a for a in (args.assets or "").split(",") if a.strip()]
    frame = fetch_closes(args.exchange, assets, quote=args.quote, since=args.since,
                         until=args.until, timeframe=args.timeframe)
    write_prices_csv(frame, out, timeframe=args.timeframe, force=args.force)
    blanks = int(frame.isna().sum().sum())
    first, last = (frame.index[0], frame.index[-1]) if len(frame) else (None, None)
    span = f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC" if first is not None \
        else "no complete candle"
    print(f"{len(frame)} {args.timeframe} closes of {', '.join(frame.columns)} from "
          f"{args.exchange} ({span}); closes in {args.quote.upper()}, taken as USD; "
          f"{blanks} missing candle(s) left blank")
    print(f"Wrote {out}")
    return 0


def cmd_fetch_funding(args: argparse.Namespace) -> int:
    from betaneutral.marketdata.files import write_funding_csv
    from betaneutral.marketdata.funding import fetch_funding_history

    out = _targets(args)
    history = fetch_funding_history(args.contract, since=args.since, until=args.until)
    write_funding_csv(history, args.contract, out, force=args.force)
    intervals = sorted({f"{h:g} h" for h in history["interval_hours"]},
                       key=lambda text: float(text[:-2]))
    print(f"{len(history)} funding payments of {args.contract.upper()} from "
          f"{history['time'].iloc[0]:%Y-%m-%d %H:%M} to {history['time'].iloc[-1]:%Y-%m-%d %H:%M}"
          f" UTC; intervals seen: {', '.join(intervals)}")
    print(f"Wrote {out}")
    return 0


def cmd_fetch_contracts(args: argparse.Namespace) -> int:
    from betaneutral.marketdata.contracts import fetch_contract_specs
    from betaneutral.marketdata.files import write_catalogue

    out = _targets(args)
    symbols = [s for s in (args.symbols or "").split(",") if s.strip()] or None
    now = datetime.now(UTC)
    specs = fetch_contract_specs(args.exchange, symbols, tiers=not args.no_tiers, now=now)
    write_catalogue(specs, out, fetched=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    exchange=args.exchange.lower(), force=args.force)
    for spec in specs:
        print(f"  {spec.name}: {spec.kind}, size {spec.contract_size:g}, step "
              f"{spec.quantity_step:g}, min {spec.min_quantity:g}, min notional "
              f"{spec.min_notional_usd:g} USD, {len(spec.margin_tiers)} tier(s)")
    print(f"Wrote {out} (use it with: betaneutral --catalogue {out} COMMAND ...)")
    return 0


def cmd_fetch_position(args: argparse.Namespace) -> int:
    from betaneutral.marketdata.files import write_position_toml
    from betaneutral.marketdata.position import fetch_position

    out = _targets(args) if args.output else None
    snap = fetch_position(args.contract)

    def show(value: float | None) -> str:
        return "-" if value is None else f"{value:,.8g}"

    side = "short" if snap.contracts_short > 0 else "long" if snap.contracts_short < 0 else "flat"
    print(f"  {'contract':<18} {snap.contract}")
    print(f"  {'position':<18} {abs(snap.contracts_short):g} contract(s) {side}")
    print(f"  {'entry / mark':<18} {show(snap.entry_price)} / {show(snap.mark_price)}")
    print(f"  {'liquidation price':<18} {show(snap.liquidation_price)}")
    print(f"  {'margin mode':<18} {snap.margin_mode or '-'}")
    print(f"  {'collateral':<18} {show(snap.collateral_total)} {snap.collateral_currency} "
          f"(free {show(snap.collateral_free)})")
    print(f"  {'fetched':<18} {snap.fetched}")
    if out is not None:
        write_position_toml(out, contract=snap.contract, contracts_short=snap.contracts_short,
                            mark_price=snap.mark_price, fetched=snap.fetched, force=args.force)
        print(f"Wrote {out} (a settings file for fill/backtest: --settings {out})")
    return 0


def add_fetch_parser(sub: argparse._SubParsersAction,
                     add: Callable[[str, Callable[[argparse.Namespace], int], str],
                                   argparse.ArgumentParser]) -> None:
    """The ``fetch`` command and its four subcommands."""
    from betaneutral.marketdata.client import API_KEY_ENV, API_PASSPHRASE_ENV, API_SECRET_ENV

    parent = add("fetch", lambda args: 2, "Read market data from an exchange (read-only, "
                 "through ccxt): closes, funding history, contract specifications, the "
                 "position.")
    kinds = parent.add_subparsers(dest="what", metavar="WHAT", required=True)

    def kind(name: str, func: Callable[[argparse.Namespace], int], text: str
             ) -> argparse.ArgumentParser:
        p = kinds.add_parser(name, help=text, description=text)
        p.set_defaults(func=func)
        return p

    p = kind("prices", cmd_fetch_prices, "Daily (or hourly) closes of BTC, ETH and your coins "
             "from an exchange's spot markets, in the wide CSV layout fill and backtest read. "
             "Closes in the quote currency (USDT by default) are taken as USD; a missing "
             "candle stays blank.")
    p.add_argument("--exchange", default="binance", help="binance (default), bybit or okx")
    p.add_argument("--assets", default="", help="comma-separated coins, e.g. SOL,LINK (BTC "
                   "and ETH are always included)")
    p.add_argument("--quote", default="USDT", help="quote currency of the markets (default "
                   "USDT), taken as USD")
    p.add_argument("--since", help="first UTC day, YYYY-MM-DD (default: 730 days back)")
    p.add_argument("--until", help="last UTC day, YYYY-MM-DD (default: the last complete "
                   "candle)")
    p.add_argument("--timeframe", choices=["1d", "1h"], default="1d",
                   help="candle length (default 1d; fill and backtest read daily files)")
    p.add_argument("-o", "--output", required=True, help="CSV file to write")
    p.add_argument("--force", action="store_true", help="replace an existing file")

    p = kind("funding", cmd_fetch_funding, "Funding-rate history of a perpetual at its real "
             "interval (1 h, 4 h, 8 h, changing over time), for backtest --funding-csv.")
    p.add_argument("--contract", required=True, help="EXCHANGE:SYMBOL, e.g. BINANCE:BTCUSDT")
    p.add_argument("--since", help="first UTC day (default: 730 days back)")
    p.add_argument("--until", help="last UTC day (default: now)")
    p.add_argument("-o", "--output", required=True, help="CSV file to write")
    p.add_argument("--force", action="store_true", help="replace an existing file")

    p = kind("contracts", cmd_fetch_contracts, "Contract specifications and leverage tiers "
             "of an exchange's futures into a catalogue file (with the fetch date), used with "
             "betaneutral --catalogue FILE. Binance's tiers need a read-only API key in "
             f"{API_KEY_ENV} / {API_SECRET_ENV}.")
    p.add_argument("--exchange", required=True,
                   help="binanceusdm, binancecoinm, bybit, okx or deribit")
    p.add_argument("--symbols", help="comma-separated exchange symbols (default: the BTC and "
                   "ETH perpetuals)")
    p.add_argument("--no-tiers", action="store_true", help="market specifications only")
    p.add_argument("-o", "--output", required=True, help="JSON catalogue file to write")
    p.add_argument("--force", action="store_true", help="replace an existing file")

    p = kind("position", cmd_fetch_position, "The current futures position and collateral. "
             "Needs an API key with READ permission only (no trading, no withdrawal), read "
             f"from the environment variables {API_KEY_ENV} and {API_SECRET_ENV} (and "
             f"{API_PASSPHRASE_ENV} on OKX); keys are never written, printed or logged.")
    p.add_argument("--contract", required=True, help="EXCHANGE:SYMBOL, e.g. BINANCE:BTCUSDT")
    p.add_argument("-o", "--output", help="also write a settings TOML (hedge_contract, "
                   "current_contracts, futures_price) for fill and backtest")
    p.add_argument("--force", action="store_true", help="replace an existing file")
