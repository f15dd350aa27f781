"""The inputs of a BetaNeutral book, whatever they are read from.

A book is fully described by its daily prices, its holdings, the Settings values and
the current futures position (:class:`BookInputs`); everything else is computed from
these. The readers produce it: :func:`betaneutral.workbook.inputs.read_inputs` from a
workbook's cells, :func:`betaneutral.sources.read_csv_inputs` from CSV and TOML files.
This module holds the types and the rules every reader applies to a value (the
settings' choices and ranges, the holdings' value bound), so that a rule lives once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from betaneutral.core import contracts as contracts_core
from betaneutral.core._validate import (
    as_float,
    choice,
    fmt_value,
    in_range,
    non_negative,
    positive,
    positive_int,
)
from betaneutral.errors import (
    BetaNeutralError,
    DomainError,
    InputTypeError,
    UnknownNameError,
)

__all__ = [
    "BENCHMARK_CHOICES",
    "MAX_HOLDING_VALUE_USD",
    "SETTINGS_NAMES",
    "BookInputs",
    "BookSettings",
    "check_holding_values",
    "describe",
    "located",
    "settings_from",
]

#: Values of the Settings benchmark choice (compared without regard to case, as Excel's ``=``).
BENCHMARK_CHOICES: tuple[str, ...] = ("BTC", "BTC/ETH 50/50")
_RETURN_TYPES = ("simple", "log")
_BETA_METHODS = ("ols", "blume", "ewma", "ewls", "welch", "welch-decay", "vasicek",
                 "vasicek-ewls", "vasicek-welch", "vasicek-welch-decay")

#: Field of :class:`BookSettings` -> defined name of its cell on the Settings sheet.
SETTINGS_NAMES: Mapping[str, str] = {
    "benchmark": "BenchmarkChoice",
    "return_type": "ReturnType",
    "window": "Window",
    "beta_method": "BetaMethod",
    "min_obs": "MinObs",
    "target_beta": "TargetBeta",
    "rebalance_band": "RebalanceBand",
    "hedge_contract": "HedgeContract",
    "futures_price": "FuturesPrice",
    "stress_move": "StressMove",
    "safety_multiplier": "SafetyMultiplier",
    "funding_rate_8h": "FundingRate8h",
    "funding_horizon_days": "FundingHorizonDays",
    "rolling_window": "RollingWindow",
}


# ------------------------------------------------------------ settings checks ---
def _text_choice(name: str, value: Any, options: tuple[str, ...]) -> str:
    choice(name, value, options)  # type and membership (spaces ignored)
    return value  # kept as typed: the formulas and functions see the cell as it is


def _benchmark(name: str, value: Any) -> str:
    choice(name, value, BENCHMARK_CHOICES)
    # The template compares the cell with ="BTC", which ignores case but not spaces.
    if value.lower() not in {c.lower() for c in BENCHMARK_CHOICES}:
        raise UnknownNameError(
            f"{name} must be one of {list(BENCHMARK_CHOICES)} without surrounding spaces, "
            f"got {fmt_value(value)}")
    return value


def _contract_name(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InputTypeError(f"{name} must be a contract name (text), got {fmt_value(value)}")
    try:
        contracts_core.get_contract(value)
    except UnknownNameError:
        raise UnknownNameError(
            f"{name} must be one of {sorted(contracts_core.CATALOGUE)}, got {fmt_value(value)}"
        ) from None
    return value


def _optional_price(name: str, value: Any) -> float | None:
    return None if value is None else positive(name, value)


_SETTING_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "benchmark": _benchmark,
    "return_type": lambda n, v: _text_choice(n, v, _RETURN_TYPES),
    "window": lambda n, v: positive_int(n, v, minimum=0),
    "beta_method": lambda n, v: _text_choice(n, v, _BETA_METHODS),
    "min_obs": lambda n, v: positive_int(n, v, minimum=3),
    "target_beta": lambda n, v: in_range(n, v, -2.0, 2.0),
    "rebalance_band": lambda n, v: in_range(n, v, 0.0, 1.0),
    "hedge_contract": _contract_name,
    "futures_price": _optional_price,
    "stress_move": lambda n, v: in_range(n, v, low=-1.0, low_inclusive=False),
    "safety_multiplier": lambda n, v: in_range(n, v, low=1.0),
    "funding_rate_8h": lambda n, v: in_range(n, v, -0.05, 0.05),
    "funding_horizon_days": non_negative,
    "rolling_window": lambda n, v: positive_int(n, v, minimum=3),
}


@dataclass(frozen=True)
class BookSettings:
    """The values of the Settings sheet (defaults = the template's).

    Text settings keep the spelling they were given (the workbook's formulas
    and functions see the cell as typed); every value is checked against the
    rule the Settings sheet states.

    Attributes
    ----------
    benchmark : str
        ``"BTC"`` or ``"BTC/ETH 50/50"`` (any case): benchmark of the
        "Beta vs benchmark" column and the rolling betas. Name ``BenchmarkChoice``.
    return_type : str
        ``"simple"`` or ``"log"``: returns of the Holdings betas.
    window : int
        Most recent daily returns per beta; 0 = the whole history.
    beta_method : str
        ``"ols"``, ``"blume"``, ``"ewma"``, ``"ewls"``, ``"welch"``,
        ``"welch-decay"``, ``"vasicek"`` (OLS shrunk towards the holdings' mean
        beta) or ``"vasicek-ewls"``, ``"vasicek-welch"``,
        ``"vasicek-welch-decay"`` (see :mod:`betaneutral.core.estimators`).
    min_obs : int
        Fewest paired returns accepted for a beta (>= 3).
    target_beta : float
        Portfolio beta the hedge aims at, in [-2, 2].
    rebalance_band : float
        Rebalance band in beta units, in [0, 1].
    hedge_contract : str
        Catalogue name of the hedge contract, e.g. ``"BINANCE:BTCUSDT"``.
    futures_price : float or None
        Futures price in USD (> 0); None keeps the template's formula, the
        last BTC close.
    stress_move : float
        BTC rally the short must survive (0.30 = +30%), > -1.
    safety_multiplier : float
        Multiplier on the margin buffer, >= 1.
    funding_rate_8h : float
        Funding rate per 8 hours, in [-0.05, 0.05].
    funding_horizon_days : float
        Horizon of the funding estimate in days, >= 0.
    rolling_window : int
        Window of the rolling betas in days, >= 3.
    """

    benchmark: str = "BTC"
    return_type: str = "simple"
    window: int = 90
    beta_method: str = "ols"
    min_obs: int = 60
    target_beta: float = 0.0
    rebalance_band: float = 0.05
    hedge_contract: str = "BINANCE:BTCUSDT"
    futures_price: float | None = None
    stress_move: float = 0.30
    safety_multiplier: float = 1.2
    funding_rate_8h: float = 0.0001
    funding_horizon_days: float = 30
    rolling_window: int = 90

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str) and any(ord(c) < 32 or ord(c) == 127 for c in value):
                # a tab or line break the checks below would strip, but the text is kept
                # as typed and would reach the CSV files and sheets the commands write
                raise InputTypeError(f"{f.name} must be text without control characters "
                                     f"(tab, line break), got {value!r}")
            object.__setattr__(self, f.name, _SETTING_CHECKS[f.name](f.name, value))


@dataclass(frozen=True, eq=False)
class BookInputs:
    """Everything a BetaNeutral book is computed from.

    Attributes
    ----------
    prices : pandas.DataFrame
        Daily closes in USD: a ``DatetimeIndex`` named ``date`` (naive, UTC
        dates), columns ``BTC``, ``ETH``, then the held assets in holdings
        order; ``NaN`` = missing price (never filled).
    holdings : pandas.DataFrame
        Columns ``asset`` (a price column) and ``quantity`` (units; < 0 short);
        from CSV also ``price`` when given (see :func:`read_csv_inputs`).
    settings : BookSettings
        The Settings values.
    current_contracts : float
        Contracts of the hedge contract held now (> 0 short, < 0 long).
    """

    prices: pd.DataFrame
    holdings: pd.DataFrame
    settings: BookSettings = field(default_factory=BookSettings)
    current_contracts: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.prices, pd.DataFrame):
            raise InputTypeError(
                f"prices must be a pandas DataFrame, got {type(self.prices).__name__}")
        if not isinstance(self.holdings, pd.DataFrame):
            raise InputTypeError(
                f"holdings must be a pandas DataFrame, got {type(self.holdings).__name__}")
        if not isinstance(self.settings, BookSettings):
            raise InputTypeError(
                f"settings must be a BookSettings, got {type(self.settings).__name__}")
        object.__setattr__(self, "current_contracts",
                           as_float("current_contracts", self.current_contracts))
        if {"asset", "quantity"} <= set(self.holdings.columns):
            check_holding_values(list(self.holdings["asset"]),
                                 self.holdings["quantity"].to_numpy(dtype=float), self.prices)


#: Largest USD value of one holding at any close (10^18 USD, about ten thousand times the
#: world's yearly output): beyond it a quantity is a typo, and sums of values and squares
#: would leave the float range (a quantity of 1e308 would make every figure infinite).
MAX_HOLDING_VALUE_USD = 1e18


def check_holding_values(assets: Sequence[str], quantities: np.ndarray,
                         prices: pd.DataFrame) -> None:
    """Each holding's value at every close stays within :data:`MAX_HOLDING_VALUE_USD`.

    Parameters
    ----------
    assets : sequence of str
        The held assets (price columns; others are not checked here).
    quantities : numpy.ndarray, shape (N,) or (T, N)
        Units held: fixed, or one row per date.
    prices : pandas.DataFrame
        Closes in USD, one column per asset.

    Raises
    ------
    DomainError
        A quantity is not finite, or its value at its highest close is beyond the bound.
    """
    q = np.abs(np.atleast_2d(np.asarray(quantities, dtype=float)))
    for j, asset in enumerate(assets):
        column = q[:, j]
        if not np.isfinite(column).all():
            raise DomainError(f"quantity of {asset} must be finite, got {column.max()!r}")
        if asset not in prices.columns:
            continue
        known = prices[asset].to_numpy(dtype=float)
        known = known[~np.isnan(known)]
        top = float(known.max()) if known.size else 0.0
        biggest = float(column.max())
        if biggest and top and biggest > MAX_HOLDING_VALUE_USD / top:
            value = biggest * top
            worth = (f"a value of {value:.3g} USD" if math.isfinite(value)
                     else "a value beyond the float range")
            raise DomainError(
                f"quantity of {asset} must keep its value within {MAX_HOLDING_VALUE_USD:.0e} "
                f"USD at every close, got {biggest:g} units at up to {top:g} USD ({worth}): "
                "check the quantity's unit")


def _located(where: str, check: Callable[[], Any]) -> Any:
    """Run ``check``; prefix the message of a BetaNeutral error with ``where``."""
    try:
        return check()
    except BetaNeutralError as exc:
        raise type(exc)(f"{where}: {exc}") from None


#: Public name of :func:`_located` (the readers use it).
located = _located


def _describe(value: Any) -> str:
    if value is None:
        return "a blank cell"
    if isinstance(value, str) and value.startswith("="):
        return f"the formula {value!r}"
    return fmt_value(value)


def _required(name: str, value: Any) -> Any:
    if value is None:
        raise InputTypeError(f"{name} must be given, got a blank cell")
    return value


def _settings_from(raw: Mapping[str, Any], where: Callable[[str], str]) -> BookSettings:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key != "futures_price":
            _located(where(key), lambda k=key, v=value: _required(k, v))
        if isinstance(value, str) and value.startswith("="):
            raise InputTypeError(f"{where(key)}: {key} must be a value, got {_describe(value)}")
        values[key] = _located(where(key), lambda k=key, v=value: _SETTING_CHECKS[k](k, v))
    return BookSettings(**values)


#: Public names of the helpers the readers share.
describe = _describe
settings_from = _settings_from
