"""Hourly (intraday) closes for the betas of a book that is valued once a day.

The book is valued, checked and hedged at the daily UTC close; intraday closes
only feed the betas. The daily close of a UTC date is the last intraday close
stamped on that date, and the beta used at that close is estimated from the
intraday returns up to and including it (never a later one).

Windows, minimum observations and half-lives stay in *days*, as the Settings
state them, and are converted to intraday returns with the sampling rate
(24 returns a day for hourly closes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from betaneutral.core._validate import FloatArray, float_array
from betaneutral.core.returns import check_prices, returns_from_prices
from betaneutral.core.trailing import trailing_betas
from betaneutral.errors import DomainError, InputTypeError, InsufficientDataError

__all__ = ["IntradayPrices", "daily_closes", "intraday_prices"]


@dataclass(frozen=True)
class IntradayPrices:
    """Intraday closes of the holdings and of the hedge's underlying.

    Attributes
    ----------
    times : pandas.DatetimeIndex
        Naive UTC timestamps, strictly increasing.
    asset_prices : numpy.ndarray, shape (R, N)
        Closes of the holdings (NaN = missing), columns in the book's order.
    hedge_prices : numpy.ndarray, shape (R,)
        Closes of the regressor (the hedge's underlying).
    per_day : int
        Intraday returns per day (24 for hourly closes), from the median spacing.
    """

    times: pd.DatetimeIndex
    asset_prices: FloatArray
    hedge_prices: FloatArray
    per_day: int

    def daily_betas(self, dates: Any, *, method: str, window: int | None, min_obs: int,
                    return_kind: str, lam: float, half_life: float) -> FloatArray:
        """Betas at each daily close from the intraday returns up to that close.

        Parameters
        ----------
        dates : sequence of dates
            The book's UTC days (the daily rows).
        method, lam
            As :func:`betaneutral.core.backtest.trailing_betas` (``lam`` per
            intraday return).
        window, min_obs, half_life
            In days; multiplied by :attr:`per_day`.
        return_kind : {"simple", "log"}

        Returns
        -------
        numpy.ndarray, shape (len(dates), N)
            Row ``d``: the trailing estimate at the last intraday row stamped
            on or before day ``d`` (NaN when there is none).
        """
        k = self.per_day
        ra = returns_from_prices(self.asset_prices, kind=return_kind)  # type: ignore[arg-type]
        rh = returns_from_prices(self.hedge_prices, kind=return_kind)  # type: ignore[arg-type]
        ra = np.vstack([np.full((1, ra.shape[1]), np.nan), ra])
        rh = np.concatenate([[np.nan], rh])
        path = trailing_betas(ra, rh, window=None if window is None else window * k,
                              min_obs=min_obs * k, method=method,  # type: ignore[arg-type]
                              lam=lam, half_life=half_life * k)
        day_end = pd.DatetimeIndex(dates).normalize() + pd.Timedelta(days=1)
        rows = np.searchsorted(self.times.to_numpy(), day_end.to_numpy(), side="left") - 1
        out = np.full((len(rows), path.shape[1]), np.nan)
        ok = rows >= 0
        out[ok] = path[rows[ok]]
        return out


def intraday_prices(asset_prices: pd.DataFrame, hedge_prices: pd.Series) -> IntradayPrices:
    """Validated :class:`IntradayPrices` from timestamped frames.

    Parameters
    ----------
    asset_prices : pandas.DataFrame
        Intraday closes, one column per holding, indexed by naive UTC
        timestamps.
    hedge_prices : pandas.Series
        Intraday closes of the hedge's underlying on the same index, no gaps.

    Returns
    -------
    IntradayPrices

    Raises
    ------
    InputTypeError
        An index that is not a DatetimeIndex.
    DomainError
        Timestamps not strictly increasing, prices <= 0, or a spacing that is
        not a whole fraction of a day.
    InsufficientDataError
        Fewer than 3 rows, or a gap in the hedge prices.
    """
    if not isinstance(asset_prices.index, pd.DatetimeIndex):
        raise InputTypeError("asset_prices must be indexed by timestamps, got "
                             f"{type(asset_prices.index).__name__}")
    times = asset_prices.index
    if len(times) < 3:
        raise InsufficientDataError(f"asset_prices must have >= 3 intraday rows, got "
                                    f"{len(times)}")
    if not times.is_monotonic_increasing or times.has_duplicates:
        raise DomainError("intraday timestamps must be strictly increasing")
    prices = float_array("asset_prices", asset_prices.to_numpy(dtype=np.float64,
                                                               na_value=np.nan), ndim=2)
    check_prices("asset_prices", prices, [str(c) for c in asset_prices.columns])
    hedge = float_array("hedge_prices", hedge_prices.reindex(times).to_numpy(
        dtype=np.float64, na_value=np.nan), ndim=1)
    if np.isnan(hedge).any():
        at = times[np.isnan(hedge)][0]
        raise InsufficientDataError(f"hedge_prices must have a close at every intraday "
                                    f"timestamp, got a gap at {at:%Y-%m-%d %H:%M}")
    check_prices("hedge_prices", hedge)
    step = pd.Series(times).diff().median()
    per_day = pd.Timedelta(days=1) / step
    if not (per_day >= 1.0 and abs(per_day - round(per_day)) < 1e-9):
        raise DomainError(f"intraday closes must be spaced a whole fraction of a day apart "
                          f"(hourly: 24 a day), got a median spacing of {step}")
    return IntradayPrices(times=pd.DatetimeIndex(times), asset_prices=prices,
                          hedge_prices=hedge, per_day=round(per_day))


def daily_closes(frame: pd.DataFrame) -> pd.DataFrame:
    """The last close stamped on each UTC date, per column, indexed by the date.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01 22:00", periods=4, freq="h")
    >>> daily_closes(pd.DataFrame({"BTC": [1.0, 2.0, 3.0, 4.0]}, index=t))["BTC"].tolist()
    [2.0, 4.0]
    """
    days = frame.index.normalize()
    out = frame.groupby(days).last()  # last non-missing close of the day, per column
    out.index = pd.DatetimeIndex(out.index, name="date")
    return out
