"""The files the market-data commands write, and their readers (no ccxt needed).

* prices CSV: the wide layout of ``fill`` (``date`` then one column per asset,
  blank = no candle); the readers of ``fill`` take no comment lines, so the
  quote currency used as USD is stated by the command and in the README;
* funding CSV: ``time, contract, funding_rate, interval_hours``, one row per
  payment, read by ``backtest --funding-csv``;
* user catalogue (JSON): contract specifications with their leverage tiers and
  the date they were fetched, read by ``--catalogue`` / ``BETANEUTRAL_CATALOGUE``;
* position settings (TOML): ``hedge_contract``, ``current_contracts`` and
  ``futures_price``, a settings file ``fill`` and ``backtest`` accept.

Every file is written atomically (:func:`betaneutral.files.atomic_output`),
only after everything it holds was fetched and checked.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from betaneutral.core.contracts import ContractSpec, MarginTier
from betaneutral.errors import BetaNeutralError, InputTypeError
from betaneutral.files import atomic_output
from betaneutral.safetext import validate_identifier

__all__ = [
    "CATALOGUE_ENV",
    "FUNDING_COLUMNS",
    "install_catalogue_from_environment",
    "load_catalogue",
    "read_funding_csv",
    "write_catalogue",
    "write_funding_csv",
    "write_position_toml",
    "write_prices_csv",
]

FUNDING_COLUMNS: tuple[str, ...] = ("time", "contract", "funding_rate", "interval_hours")
#: Environment variable naming a user catalogue file (as ``--catalogue`` does).
CATALOGUE_ENV = "BETANEUTRAL_CATALOGUE"
_CATALOGUE_FORMAT = "betaneutral-catalogue"
_NAME_PATTERN = r"^[A-Z0-9][A-Z0-9._:/-]{0,63}$"


def _number(value: float) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else repr(float(value))


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_prices_csv(frame: pd.DataFrame, path: str | os.PathLike[str], *,
                     timeframe: str = "1d", force: bool = False) -> Path:
    """Write closes in the wide layout: ``date`` (UTC) then one column per asset."""
    fmt = "%Y-%m-%d" if timeframe == "1d" else "%Y-%m-%dT%H:%M:%SZ"
    columns = [validate_identifier("asset column", str(c)) for c in frame.columns]
    values = frame.to_numpy(dtype=float)
    rows = [[stamp.strftime(fmt), *(_number(v) for v in row)]
            for stamp, row in zip(frame.index, values, strict=True)]
    target = Path(path)
    with atomic_output(target, force=force, newline="") as (handle, _tmp):
        handle.write(_csv_text(["date", *columns], rows))
    return target


def write_funding_csv(history: pd.DataFrame, contract: str, path: str | os.PathLike[str], *,
                      force: bool = False) -> Path:
    """Write a funding history: ``time, contract, funding_rate, interval_hours``."""
    name = validate_identifier("contract", str(contract).strip().upper(), _NAME_PATTERN)
    rows = [[pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%SZ"), name, _number(r),
             f"{float(h):g}"]
            for t, r, h in zip(history["time"], history["funding_rate"],
                               history["interval_hours"], strict=True)]
    target = Path(path)
    with atomic_output(target, force=force, newline="") as (handle, _tmp):
        handle.write(_csv_text(FUNDING_COLUMNS, rows))
    return target


def read_funding_csv(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, str]:
    """A funding CSV written by ``fetch funding``: the payments and the contract name.

    Returns
    -------
    history : pandas.DataFrame
        ``time`` (naive UTC), ``funding_rate``, ``interval_hours``, in time order.
    contract : str
        The contract of every row.

    Raises
    ------
    InputTypeError
        A field that is not a time or a number (file, row and column named).
    BetaNeutralError
        A header other than :data:`FUNDING_COLUMNS`, several contracts, times not
        increasing, a rate outside +/-5%, or fewer than 2 payments.
    """
    from betaneutral.sources import csv_number, csv_table, csv_where

    file = Path(path)
    header, body = csv_table(file, "funding")
    if [h.strip().lower() for h in header] != list(FUNDING_COLUMNS):
        raise BetaNeutralError(f"{csv_where(file, 1)}: the columns must be "
                               f"{', '.join(FUNDING_COLUMNS)}, got {header}")
    times, rates, intervals, names = [], [], [], set()
    for row, fields in body:
        if len(fields) != len(FUNDING_COLUMNS):
            raise InputTypeError(f"{csv_where(file, row)}: row must have 4 fields, got "
                                 f"{len(fields)}")
        try:
            stamp = pd.Timestamp(fields[0].strip())
        except (ValueError, TypeError):
            stamp = pd.NaT
        if stamp is pd.NaT or not fields[0].strip():
            raise InputTypeError(f"{csv_where(file, row, 'time')}: time must be an ISO 8601 "
                                 f"timestamp, got {fields[0]!r}")
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        times.append(stamp.tz_localize(None))
        names.add(fields[1].strip().upper())
        rate = csv_number(file, row, "funding_rate", "funding rate", fields[2], blank_ok=False)
        if abs(rate) > 0.05:
            raise BetaNeutralError(f"{csv_where(file, row, 'funding_rate')}: funding rate "
                                   f"must be in [-0.05, 0.05], got {rate!r}")
        rates.append(rate)
        intervals.append(csv_number(file, row, "interval_hours", "interval", fields[3],
                                     blank_ok=True))
    if len(names) != 1:
        raise BetaNeutralError(f"{file}: a funding file must hold one contract, got "
                               f"{sorted(names)}")
    if len(times) < 2:
        raise BetaNeutralError(f"{file}: a funding file must hold at least 2 payments, got "
                               f"{len(times)}")
    index = pd.DatetimeIndex(times)
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise BetaNeutralError(f"{file}: times must be strictly increasing")
    history = pd.DataFrame({"time": index, "funding_rate": rates, "interval_hours": intervals})
    return history, names.pop()


# --------------------------------------------------------------------------- catalogue


def _inf_or(value: float) -> float | None:
    return None if math.isinf(value) else value


def write_catalogue(specs: Sequence[ContractSpec], path: str | os.PathLike[str], *,
                    fetched: str, exchange: str, force: bool = False) -> Path:
    """Write a user catalogue: ``fetched`` (UTC time), ``exchange``, the contracts."""
    entries = []
    for spec in specs:
        entry = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)
                 if f.init and f.name != "margin_tiers"}
        entry["margin_tiers"] = [
            [t.notional_floor, _inf_or(t.notional_cap), t.maintenance_rate,
             t.maintenance_amount, _inf_or(t.max_leverage)] for t in spec.margin_tiers]
        entries.append(entry)
    document = {"format": _CATALOGUE_FORMAT, "version": 1, "fetched": fetched,
                "exchange": exchange,
                "tier_columns": ["notional_floor", "notional_cap (null: no cap)",
                                 "maintenance_rate", "maintenance_amount",
                                 "max_leverage (null: none published)"],
                "contracts": entries}
    target = Path(path)
    text = json.dumps(document, indent=1, allow_nan=False)
    with atomic_output(target, force=force) as (handle, _tmp):
        handle.write(text + "\n")
    return target


def load_catalogue(path: str | os.PathLike[str]) -> list[ContractSpec]:
    """The contracts of a user catalogue file, each checked as a :class:`ContractSpec`.

    Raises
    ------
    BetaNeutralError
        Not a BetaNeutral catalogue, or an entry that fails its checks (the
        file and the entry are named).
    """
    file = Path(path)
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BetaNeutralError(f"{file}: a catalogue must be JSON text written by 'betaneutral "
                               f"fetch contracts', got an error: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != _CATALOGUE_FORMAT:
        raise BetaNeutralError(f"{file}: format must be {_CATALOGUE_FORMAT!r} (a file written "
                               "by 'betaneutral fetch contracts')")
    specs = []
    for number, entry in enumerate(document.get("contracts") or [], start=1):
        where = f"{file}: contract {number}"
        try:
            tiers = tuple(MarginTier(f, math.inf if c is None else c, r, a,
                                     math.inf if lev is None else lev)
                          for f, c, r, a, lev in entry.pop("margin_tiers"))
            spec = ContractSpec(margin_tiers=tiers, **entry)
            validate_identifier("contract", spec.name, _NAME_PATTERN)
        except BetaNeutralError as exc:
            raise type(exc)(f"{where}: {exc}") from None
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise BetaNeutralError(f"{where}: entry must have the fields of a contract "
                                   f"specification, got an error: {exc}") from None
        specs.append(spec)
    if not specs:
        raise BetaNeutralError(f"{file}: the catalogue holds no contract")
    return specs


def install_catalogue_from_environment(path: str | os.PathLike[str] | None = None) -> Path | None:
    """Load ``path`` (or the file named by ``BETANEUTRAL_CATALOGUE``) into get_contract.

    Returns the file used, or None when neither is given (built-in catalogue).
    """
    from betaneutral.core.contracts import use_catalogue

    chosen = path or os.environ.get(CATALOGUE_ENV, "").strip() or None
    if chosen is None:
        return None
    use_catalogue(load_catalogue(chosen))
    return Path(chosen)


def write_position_toml(path: str | os.PathLike[str], *, contract: str, contracts_short: float,
                        mark_price: float | None, fetched: str, force: bool = False) -> Path:
    """A settings file with the position: ``hedge_contract``, ``current_contracts``, price."""
    name = validate_identifier("contract", str(contract).strip().upper(), _NAME_PATTERN)
    lines = [f"# position of {name} fetched {fetched} (contracts > 0: short)",
             f'hedge_contract = "{name}"',
             f"current_contracts = {float(contracts_short)!r}"]
    if mark_price is not None and np.isfinite(mark_price) and mark_price > 0:
        lines.append(f"futures_price = {float(mark_price)!r}")
    target = Path(path)
    with atomic_output(target, force=force) as (handle, _tmp):
        handle.write("\n".join(lines) + "\n")
    return target
