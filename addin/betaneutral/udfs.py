"""Excel functions of BetaNeutral (xlwings user-defined functions).

Each function only reads its cell arguments (:mod:`betaneutral.cells`), calls
the core (:mod:`betaneutral.core`) and returns plain values; a known error
becomes the bare Excel error code string (``"#VALUE!"``, ``"#NUM!"``,
``"#N/A"``, ``"#DIV/0!"``) and anything unexpected is left to surface.

The Excel name of each function is its Python name. Parameters carry no type
annotations on purpose: xlwings turns an annotation into a converter. Every
range argument is declared with ``err_to_str=True`` so that an error cell
arrives as its code rather than as a blank, and with ``ndim=2`` so that a
single row and a single column are told apart. No argument uses a numeric
(``dtype=float``) converter, which would silently turn errors, booleans and
numeric text into numbers.

Outside Excel the decorators have no effect (xlwings makes them no-ops where
there is no Excel to register with), so these are ordinary callables that
accept cell-like values: lists of lists, ``None`` for blanks, strings,
booleans, datetimes and error strings.
"""

import numpy as np
import pandas as pd
import xlwings as xw

from betaneutral import cells
from betaneutral.cells import excel_function
from betaneutral.core import beta as beta_core

CATEGORY = "BetaNeutral"
_RANGE = {"ndim": 2, "err_to_str": True}
_CELL = {"err_to_str": True}

_STATS_HEADER = ["beta", "alpha", "R2", "SE", "HAC SE", "t", "n", "CI low", "CI high"]


def _price_pair(asset_prices, btc_prices):
    cells.paired_columns("asset_prices", asset_prices, "btc_prices", btc_prices)  # codes, lengths
    asset = cells.price_column("asset_prices", asset_prices)
    btc = cells.price_column("btc_prices", btc_prices)
    return pd.Series(asset), pd.Series(btc)


def _window(value):
    window = cells.scalar_int("window", value, required=False, default=0, minimum=0)
    return window or None


def _min_obs(value):
    return cells.scalar_int("min_obs", value, required=False, default=beta_core.DEFAULT_MIN_OBS,
                            minimum=3)


def _estimate(asset_prices, btc_prices, window, method, min_obs):
    asset, btc = _price_pair(asset_prices, btc_prices)
    return beta_core.betas_from_prices(
        asset.to_frame("asset"), btc, method=method, window=_window(window),
        min_obs=_min_obs(min_obs))


@xw.func(category=CATEGORY)
@xw.arg("asset_prices", **_RANGE, doc="Price column of the asset, oldest first")
@xw.arg("btc_prices", **_RANGE,
        doc="Benchmark price column (BTC or a composite), same rows as asset_prices")
@xw.arg("window", **_CELL, doc="Optional: use the last N returns (blank or 0 = all)")
@xw.arg("method", **_CELL, doc='Optional: "ols" (default), "blume" or "ewma"')
@xw.arg("min_obs", **_CELL, doc="Optional: minimum paired returns (default 60)")
@excel_function
def BETA_VS_BTC(asset_prices, btc_prices, window=None, method=None, min_obs=None):
    """Beta of an asset's daily simple returns to the benchmark's, from two price columns."""
    method = cells.scalar_text("method", method, required=False, default="ols")
    return float(_estimate(asset_prices, btc_prices, window, method, min_obs).beta[0])


@xw.func(category=CATEGORY)
@xw.arg("asset_prices", **_RANGE, doc="Price column of the asset, oldest first")
@xw.arg("btc_prices", **_RANGE, doc="Benchmark price column, same rows as asset_prices")
@xw.arg("window", **_CELL, doc="Optional: use the last N returns (blank or 0 = all)")
@xw.arg("min_obs", **_CELL, doc="Optional: minimum paired returns (default 60)")
@xw.arg("header", **_CELL, doc="Optional: TRUE adds a header row above the numbers")
@excel_function
def BETA_STATS(asset_prices, btc_prices, window=None, min_obs=None, header=None):
    """OLS beta statistics as a row: beta, alpha, R2, SE, HAC SE, t, n, CI low, CI high."""
    with_header = cells.scalar_bool("header", header, default=False)
    s = _estimate(asset_prices, btc_prices, window, "ols", min_obs).stats
    row = [float(np.atleast_1d(getattr(s, field))[0]) for field in s.FIELDS]
    row[s.FIELDS.index("n_obs")] = int(row[s.FIELDS.index("n_obs")])
    return [_STATS_HEADER, row] if with_header else [row]


@xw.func(category=CATEGORY)
@xw.arg("asset_prices", **_RANGE, doc="Price column of the asset, oldest first")
@xw.arg("btc_prices", **_RANGE, doc="Benchmark price column, same rows as asset_prices")
@xw.arg("window", **_CELL, doc="Returns per window, e.g. 90")
@xw.arg("min_obs", **_CELL, doc="Optional: minimum paired returns per window (default window)")
@excel_function
def ROLLING_BETA(asset_prices, btc_prices, window, min_obs=None):
    """Rolling beta as a column as long as the price range (#N/A where no full window)."""
    asset, btc = _price_pair(asset_prices, btc_prices)
    window = cells.scalar_int("window", window, minimum=3)
    min_obs = cells.scalar_int("min_obs", min_obs, required=False, default=window, minimum=3)
    from betaneutral.core.returns import returns_from_prices

    rb = beta_core.rolling_beta(returns_from_prices(asset.to_numpy()),
                                returns_from_prices(btc.to_numpy()), window=window,
                                min_obs=min_obs)
    values = np.concatenate([[np.nan], rb.beta])  # the first price has no return
    return [["#N/A"] if np.isnan(v) else [float(v)] for v in values]
