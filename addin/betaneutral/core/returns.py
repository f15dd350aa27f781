"""Returns from prices, date alignment and benchmarks.

Conventions
-----------
* Prices are closes at one fixed instant per period (for crypto, 00:00 UTC).
* A missing price is ``NaN``. Prices are **never forward-filled**: a return
  is defined only where the price and the previous price are both present, so
  a gap yields missing returns that later estimators drop pair-wise (a filled
  price would fake a zero return and bias beta towards 0).
* Present prices must be finite and strictly positive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeVar

import numpy as np
import pandas as pd

from betaneutral.core._validate import FloatArray, choice, float_array, positive_int
from betaneutral.errors import DomainError, InputTypeError, InsufficientDataError

__all__ = [
    "ReturnKind",
    "align_prices",
    "check_prices",
    "composite_index",
    "composite_returns",
    "returns_from_prices",
    "rolling_volatility",
    "weekly_prices",
]

ReturnKind = Literal["simple", "log"]
_P = TypeVar("_P", pd.DataFrame, pd.Series, np.ndarray)


def check_prices(name: str, values: FloatArray, labels: Sequence[object] | None = None) -> None:
    present = ~np.isnan(values)
    bad = present & ~(values > 0.0)
    if bad.any():
        idx = np.argwhere(bad)[0]
        where = f"row {int(idx[0]) + 1}"
        if values.ndim == 2:
            col = labels[int(idx[1])] if labels is not None else int(idx[1]) + 1
            where += f", column {col}"
        raise DomainError(
            f"{name} must be > 0 where present, got {float(values[tuple(idx)])!r} at {where}"
        )


def returns_from_prices(prices: _P, *, kind: ReturnKind = "simple", name: str = "prices") -> _P:
    """Period returns from a price series or a table of price series.

    Parameters
    ----------
    prices : pandas.DataFrame, pandas.Series or numpy.ndarray
        Prices in any currency, oldest first; shape ``(T,)`` or ``(T, N)``.
        ``NaN`` marks a missing price.
    kind : {"simple", "log"}
        Simple returns (default; hedge P&L is linear in them) or log returns.
    name : str
        Name of the argument used in error messages.

    Returns
    -------
    Same type as ``prices``
        ``T - 1`` rows. For pandas input the index is the later date of each
        pair. A return is ``NaN`` when either price of the pair is missing.

    Raises
    ------
    DomainError
        A present price is not finite or not strictly positive.
    InputTypeError
        Non-numeric prices, or an unknown ``kind``.

    Notes
    -----
    Simple return :math:`r_t = P_t / P_{t-1} - 1`; log return
    :math:`r_t = \\ln(P_t / P_{t-1})`.

    Examples
    --------
    >>> returns_from_prices(np.array([100.0, 110.0, 99.0]))
    array([ 0.1, -0.1])
    >>> returns_from_prices(np.array([100.0, np.nan, 121.0]))
    array([nan, nan])
    """
    kind = choice("kind", kind, ("simple", "log"))  # type: ignore[assignment]
    if isinstance(prices, (pd.DataFrame, pd.Series)):
        dtypes = prices.dtypes if isinstance(prices, pd.DataFrame) else [prices.dtype]
        bad = [str(d) for d in dtypes if d.kind not in "fiu"]
        if bad:
            raise InputTypeError(f"{name} must contain only numbers, got dtype {bad[0]}")
        values = float_array(name, prices.to_numpy(dtype=np.float64, na_value=np.nan,
                                                   copy=True))
    else:
        values = float_array(name, prices)
    if values.ndim not in (1, 2):
        raise InputTypeError(f"{name} must be 1- or 2-dimensional, got shape {values.shape}")
    labels = list(prices.columns) if isinstance(prices, pd.DataFrame) else None
    check_prices(name, values, labels)
    with np.errstate(invalid="ignore"):
        ratio = values[1:] / values[:-1]
    out = ratio - 1.0 if kind == "simple" else np.log(ratio)
    if isinstance(prices, pd.DataFrame):
        return pd.DataFrame(out, index=prices.index[1:], columns=prices.columns)
    if isinstance(prices, pd.Series):
        return pd.Series(out, index=prices.index[1:], name=prices.name)
    return out


def align_prices(
    asset_prices: pd.DataFrame | pd.Series, benchmark_prices: pd.Series
) -> tuple[pd.DataFrame, pd.Series]:
    """Inner-join asset and benchmark prices on their date index.

    Parameters
    ----------
    asset_prices : pandas.DataFrame or pandas.Series
        One column per asset, indexed by date.
    benchmark_prices : pandas.Series
        The benchmark, indexed by date.

    Returns
    -------
    (pandas.DataFrame, pandas.Series)
        Both restricted to the dates present in both indexes, sorted by date.
        No value is filled.

    Raises
    ------
    DomainError
        An index contains a duplicate date.
    InsufficientDataError
        The two indexes share no date.

    Examples
    --------
    >>> a = pd.Series([1.0, 2.0, 3.0], index=pd.to_datetime(["2024-01-01", "2024-01-02",
    ...                                                      "2024-01-03"]), name="A")
    >>> b = pd.Series([5.0, 6.0], index=pd.to_datetime(["2024-01-02", "2024-01-03"]))
    >>> align_prices(a, b)[0]["A"].tolist()
    [2.0, 3.0]
    """
    assets = asset_prices.to_frame() if isinstance(asset_prices, pd.Series) else asset_prices
    for label, obj in (("asset_prices", assets), ("benchmark_prices", benchmark_prices)):
        if obj.index.has_duplicates:
            dup = obj.index[obj.index.duplicated()][0]
            raise DomainError(f"{label} index must not repeat a date, got {dup!r} twice")
    common = assets.index.intersection(benchmark_prices.index).sort_values()
    if len(common) == 0:
        raise InsufficientDataError(
            "asset_prices and benchmark_prices must share at least one date, got none in common"
        )
    return assets.loc[common], benchmark_prices.loc[common]


def _weights(weights: Sequence[float] | FloatArray, k: int) -> FloatArray:
    w = float_array("weights", weights, ndim=1)
    if w.shape[0] != k:
        raise InsufficientDataError(
            f"weights must have one entry per component ({k}), got {w.shape[0]}")
    if np.isnan(w).any():
        raise DomainError("weights must not contain NaN")
    if abs(w.sum() - 1.0) > 1e-9:
        raise DomainError(f"weights must sum to 1, got {w.sum()!r}")
    return w


def composite_returns(
    component_returns: FloatArray | pd.DataFrame,
    weights: Sequence[float] | FloatArray = (0.5, 0.5),
) -> FloatArray:
    """Returns of a benchmark that holds fixed weights, rebalanced every period.

    Parameters
    ----------
    component_returns : array_like, shape (T, K)
        Simple returns of the components (e.g. BTC and ETH).
    weights : sequence of float
        One weight per component, summing to 1 (default 50/50).

    Returns
    -------
    numpy.ndarray, shape (T,)
        :math:`r_{b,t} = \\sum_k w_k r_{k,t}`; ``NaN`` where any component is
        missing.

    Raises
    ------
    DomainError
        Weights do not sum to 1.
    InsufficientDataError
        Wrong number of weights.

    Notes
    -----
    Rebalancing each period to fixed weights makes the benchmark's simple
    return the weighted sum of the components' simple returns.

    Examples
    --------
    >>> composite_returns(np.array([[0.02, 0.04], [-0.01, 0.03]]))
    array([0.03, 0.01])
    """
    r = float_array("component_returns", component_returns, ndim=2)
    w = _weights(weights, r.shape[1])
    return r @ w


def composite_index(
    component_prices: FloatArray | pd.DataFrame,
    weights: Sequence[float] | FloatArray = (0.5, 0.5),
    *,
    start_level: float | None = None,
) -> FloatArray:
    """Price level of the fixed-weight, period-rebalanced composite benchmark.

    Parameters
    ----------
    component_prices : array_like, shape (T, K)
        Prices of the components, no gaps allowed.
    weights : sequence of float
        Component weights summing to 1 (default 50/50).
    start_level : float, optional
        Level of the index on the first date; defaults to the first
        component's first price (so a BTC/ETH index starts at the BTC price).

    Returns
    -------
    numpy.ndarray, shape (T,)
        :math:`I_0 = L`, :math:`I_t = I_{t-1} (1 + \\sum_k w_k (P_{k,t}/P_{k,t-1} - 1))`.

    Raises
    ------
    InsufficientDataError
        A component price is missing (the chain cannot be continued without
        filling, which the product never does).

    Examples
    --------
    >>> composite_index(np.array([[100.0, 10.0], [110.0, 10.0]]))
    array([100., 105.])
    """
    p = float_array("component_prices", component_prices, ndim=2)
    if np.isnan(p).any():
        row = int(np.argwhere(np.isnan(p))[0][0]) + 1
        raise InsufficientDataError(
            f"component_prices must have no missing price to chain a composite index, "
            f"got a gap at row {row}"
        )
    check_prices("component_prices", p)
    r = composite_returns(p[1:] / p[:-1] - 1.0, weights)
    level = float(p[0, 0]) if start_level is None else float(start_level)
    return level * np.concatenate([[1.0], np.cumprod(1.0 + r)])


def weekly_prices(
    prices: pd.DataFrame | pd.Series, *, anchor: str = "W-SUN"
) -> pd.DataFrame | pd.Series:
    """Last price of each calendar week (Bloomberg's weekly convention).

    Parameters
    ----------
    prices : pandas.DataFrame or pandas.Series
        Daily prices with a ``DatetimeIndex``.
    anchor : str
        pandas weekly anchor; ``"W-SUN"`` (default) ends weeks on Sunday, the
        last day of a 24/7 crypto week.

    Returns
    -------
    Same type
        One row per week: the last *present* price of the week for each
        column (a week with no price stays missing; nothing is carried over
        from the previous week).

    Raises
    ------
    InputTypeError
        The index is not a ``DatetimeIndex``.

    Examples
    --------
    >>> s = pd.Series(range(1, 15), index=pd.date_range("2024-01-01", periods=14), dtype=float)
    >>> weekly_prices(s).tolist()
    [7.0, 14.0]
    """
    if not isinstance(prices.index, pd.DatetimeIndex):
        raise InputTypeError(
            f"prices index must be a DatetimeIndex for weekly resampling, "
            f"got {type(prices.index).__name__}"
        )
    return prices.resample(anchor).last()


def rolling_volatility(
    prices: pd.DataFrame | pd.Series, *, window: int = 30, kind: ReturnKind = "log"
) -> pd.DataFrame | pd.Series:
    """Rolling standard deviation of returns (not annualised).

    Parameters
    ----------
    prices : pandas.DataFrame or pandas.Series
        Prices, oldest first.
    window : int
        Number of returns per window (default 30).
    kind : {"log", "simple"}
        Return type (default log, as vendors' volatility columns use).

    Returns
    -------
    Same type
        :math:`\\sigma_t = \\mathrm{std}_{ddof=1}(r_{t-w+1..t})`, aligned with the
        price index (the first ``window`` rows are missing).

    Examples
    --------
    >>> p = pd.Series([100.0, 110.0, 99.0, 108.9])
    >>> round(float(rolling_volatility(p, window=3, kind="simple").iloc[-1]), 6)
    0.11547
    """
    window = positive_int("window", window, minimum=2)
    rets = returns_from_prices(prices, kind=kind)
    full = pd.concat([rets.iloc[:0].reindex(prices.index[:1]), rets])
    return full.rolling(window).std(ddof=1)
