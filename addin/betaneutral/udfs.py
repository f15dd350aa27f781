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

The declarations (``@xl.func``, ``@xl.arg``, :mod:`betaneutral.xldecl`) are
xlwings' ``@xw.func`` and ``@xw.arg``, applied where xlwings uses them (Windows,
Pyodide for xlwings Lite, xlwings' server mode, or xlwings already imported, as in
the UDF server);
elsewhere xlwings' decorators are no-ops, so xlwings is not imported there.
Outside Excel these are ordinary callables that accept cell-like values: lists
of lists, ``None`` for blanks, strings, booleans, datetimes and error strings.
"""

import numpy as np
import pandas as pd

from betaneutral import cells
from betaneutral import xldecl as xl
from betaneutral.arrayrows import column_rows
from betaneutral.cells import excel_function
from betaneutral.core import beta as beta_core
from betaneutral.core import contracts as contracts_core
from betaneutral.core import funding as funding_core
from betaneutral.core import margin as margin_core
from betaneutral.core import portfolio as portfolio_core
from betaneutral.core import rebalance as rebalance_core
from betaneutral.core import scenarios as scenarios_core
from betaneutral.core.returns import returns_from_prices

CATEGORY = "BetaNeutral"
_RANGE = {"ndim": 2, "err_to_str": True}
_CELL = {"err_to_str": True}

_STATS_HEADER = ["beta", "alpha", "R2", "SE", "HAC SE", "t", "n", "CI low", "CI high"]


def _price_pair(asset_prices, btc_prices):
    asset, btc = cells.paired_prices("asset_prices", asset_prices, "btc_prices", btc_prices)
    return pd.Series(asset), pd.Series(btc)


def _window(value):
    window = cells.scalar_int("window", value, required=False, default=0, minimum=0)
    return window or None


def _min_obs(value):
    return cells.scalar_int("min_obs", value, required=False, default=beta_core.DEFAULT_MIN_OBS,
                            minimum=3)


def _half_life(value):
    half_life = cells.scalar_number("half_life", value, required=False, default=126.0)
    if not half_life > 0.0:
        raise cells.CellError("#NUM!", f"half_life must be > 0 (returns), got {half_life!r}")
    return half_life


def _no_error_cell(name, value):
    """Raise the code of the first error cell of an argument (a cell, a list or rows)."""
    for row in value if isinstance(value, list | tuple) else [value]:
        for cell in row if isinstance(row, list | tuple) else [row]:
            code = (cell if isinstance(cell, str) and cell in cells.EXCEL_ERRORS
                    else cells.COM_ERROR_CODES.get(cell) if type(cell) is int else None)
            if code is not None:
                raise cells.CellError(code, f"{name} must not be an error cell, got {code}")


def _fit(asset, btc, window, method, min_obs, return_type, half_life, frame=None,
         on_error="raise"):
    kind = cells.scalar_text("return_type", return_type, required=False, default="simple")
    return beta_core.betas_from_prices(
        asset.to_frame("asset") if frame is None else frame, btc, method=method,
        window=_window(window), min_obs=_min_obs(min_obs), return_kind=kind.lower(),
        half_life=_half_life(half_life), on_error=on_error)


def _estimate(asset_prices, btc_prices, window, method, min_obs, return_type=None,
              half_life=None):
    asset, btc = _price_pair(asset_prices, btc_prices)
    return _fit(asset, btc, window, method, min_obs, return_type, half_life)


def _blank_block(value):
    """An optional block argument left out: None, "" or a single blank cell."""
    while isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    return value is None or (isinstance(value, str) and value == "")


def _names(name, value):
    """A row or column of asset names, as text (a blank is "")."""
    return ["" if v is None else str(v) for v in cells.column(name, value)]


def _universe_columns(universe, universe_assets, members):
    """The 0-based columns of ``universe`` that make the cross-section, and their labels.

    Without ``universe_assets`` every column; with it, the columns named by ``members``
    (each once, blanks skipped, names matched without regard to case as MATCH does), or
    every named column when ``members`` is omitted.
    """
    width = len(universe[0]) if universe and isinstance(universe[0], list | tuple) else 1
    _no_error_cell("universe_assets", universe_assets)
    _no_error_cell("members", members)
    if _omitted("universe_assets", universe_assets):
        if not _omitted("members", members):
            raise cells.CellError("#VALUE!", "members needs universe_assets, the names of "
                                             "universe's columns (e.g. PriceAssets)")
        return list(range(width)), [f"column {j + 1}" for j in range(width)]
    names = _names("universe_assets", universe_assets)
    if len(names) != width:
        raise cells.CellError("#N/A", f"universe_assets must name each of universe's {width} "
                                      f"columns, got {len(names)} names")
    wanted = names if _omitted("members", members) else _names("members", members)
    index = {}
    for j, label in enumerate(names):
        index.setdefault(label.lower(), j)
    picked: list[int] = []
    for label in wanted:
        if label == "":
            continue
        if label.lower() not in index:
            raise cells.CellError("#N/A", f"members must be names of universe_assets, got "
                                          f"{label!r}, which is not among them")
        if index[label.lower()] not in picked:
            picked.append(index[label.lower()])
    return picked, [names[j] for j in picked]


#: The last cross-section computed, for a caller that passes the same immutable
#: arguments (tuples) to every row's call, as the headless model does: the entry holds
#: them, so their ids cannot be those of other objects.
_CROSS_SECTION: dict[tuple, tuple] = {}


def _cross_section(universe, universe_assets, members, btc, settings):
    """(labels, block, shrunk betas, assets with a beta, column of each fingerprint)."""
    grid = universe if isinstance(universe, list | tuple) else [[universe]]
    args = (universe, universe_assets, members)
    reuse = all(isinstance(v, tuple) or v is None for v in args)
    key = (*map(id, args), btc.tobytes(), *settings)
    entry = _CROSS_SECTION.get(key) if reuse else None
    if entry is not None:
        return entry[1]
    picked, labels = _universe_columns(grid, universe_assets, members)
    if len(picked) < 3:
        raise cells.CellError("#N/A", f"universe must hold at least 3 assets for the Vasicek "
                                      f"beta (it shrinks towards their mean), got {len(picked)}")
    block = cells.price_block("universe", grid, picked)
    if block.shape[0] != btc.size:
        raise cells.CellError("#N/A", f"universe and asset_prices must have the same number "
                                      f"of rows, got {block.shape[0]} and {btc.size}")
    window, method, min_obs, return_type, half_life = settings
    est = _fit(None, pd.Series(btc), window, method, min_obs, return_type, half_life,
               frame=pd.DataFrame(block, columns=range(len(picked))), on_error="nan")
    n_with_beta = int(np.isfinite(np.atleast_1d(est.stats.beta)).sum())
    where = {}
    for k in range(block.shape[1]):
        where.setdefault(np.ascontiguousarray(block[:, k]).tobytes(), k)
    found = (labels, block, np.atleast_1d(est.beta), n_with_beta, where)
    if reuse:
        _CROSS_SECTION.clear()
        _CROSS_SECTION[key] = (args, found)
    return found


def _vasicek(asset_prices, btc_prices, window, method, min_obs, return_type, half_life,
             universe, universe_assets, members):
    """The asset's beta shrunk towards the cross-section of ``universe`` (Vasicek)."""
    asset, btc = _price_pair(asset_prices, btc_prices)
    # The asset's own estimate first: its own problem (too few returns) is its error.
    base = method.strip().lower()
    base = "ols" if base == "vasicek" else base[len("vasicek-"):]
    _fit(asset, btc, window, base, min_obs, return_type, half_life)
    if _blank_block(universe):
        raise cells.CellError(
            "#VALUE!", f"method {method!r} shrinks the beta towards the cross-section of the "
            "book, so universe is required: the price columns of the holdings (with "
            "universe_assets and members, e.g. PriceBlock, PriceAssets, HoldingAssets)")
    labels, block, shrunk, n_with_beta, where = _cross_section(
        universe, universe_assets, members, btc.to_numpy(),
        (window, method, min_obs, return_type, half_life))
    own = asset.to_numpy()
    k = where.get(own.tobytes())
    if k is None:  # a NaN of another bit pattern: compare the values
        k = next((j for j in range(block.shape[1])
                  if np.array_equal(block[:, j], own, equal_nan=True)), None)
    if k is None:
        raise cells.CellError(
            "#VALUE!", f"asset_prices must be one of the columns of universe that make the "
            f"cross-section ({', '.join(labels)}): the Vasicek beta shrinks an asset's beta "
            "towards the mean of its own book")
    if n_with_beta < 3:
        raise cells.CellError(
            "#N/A", f"universe must hold at least 3 assets with a beta (at least min_obs "
            f"paired returns) for the Vasicek beta, got {n_with_beta}")
    return float(shrunk[k])


@xl.func(category=CATEGORY)
@xl.arg("asset_prices", **_RANGE, doc="Price column of the asset, oldest first")
@xl.arg("btc_prices", **_RANGE,
        doc="Benchmark price column (BTC or a composite), same rows as asset_prices")
@xl.arg("window", **_CELL, doc="Optional: use the last N returns (blank or 0 = all)")
@xl.arg("method", **_CELL, doc='Optional: "ols" (default), "blume", "ewma", "ewls", '
        '"welch", "welch-decay", "realised", "vasicek" or "vasicek-<base>"')
@xl.arg("min_obs", **_CELL, doc="Optional: minimum paired returns (default 60)")
@xl.arg("return_type", **_CELL, doc='Optional: "simple" (default) or "log" returns')
@xl.arg("universe", **_RANGE, doc="Vasicek only: price columns of the book's assets, "
        "the asset's own included, same rows as asset_prices")
@xl.arg("universe_assets", **_RANGE, doc="Optional: the names of universe's columns")
@xl.arg("members", **_RANGE, doc="Optional: the names of the book's assets among them "
        "(default all)")
@xl.arg("half_life", **_CELL, doc="Optional: half-life in returns of ewls and welch-decay "
        "(default 126)")
@excel_function
def BETA_VS_BTC(asset_prices, btc_prices, window=None, method=None, min_obs=None,
                return_type=None, universe=None, universe_assets=None, members=None,
                half_life=None):
    """Beta of an asset's daily returns to the benchmark's, from two price columns."""
    method = cells.scalar_text("method", method, required=False, default="ols")
    key = method.strip().lower()
    if key.startswith("vasicek"):
        if key not in beta_core.BETA_METHODS:
            raise cells.CellError("#N/A", f"method must be one of "
                                          f"{list(beta_core.BETA_METHODS)}, got {method!r}")
        return _vasicek(asset_prices, btc_prices, window, method, min_obs, return_type,
                        half_life, universe, universe_assets, members)
    for name, value in (("universe", universe), ("universe_assets", universe_assets),
                        ("members", members)):
        _no_error_cell(name, value)  # not read by this method, but an error is an error
    est = _estimate(asset_prices, btc_prices, window, method, min_obs, return_type, half_life)
    return float(est.beta[0])


@xl.func(category=CATEGORY)
@xl.arg("asset_prices", **_RANGE, doc="Price column of the asset, oldest first")
@xl.arg("btc_prices", **_RANGE, doc="Benchmark price column, same rows as asset_prices")
@xl.arg("window", **_CELL, doc="Optional: use the last N returns (blank or 0 = all)")
@xl.arg("min_obs", **_CELL, doc="Optional: minimum paired returns (default 60)")
@xl.arg("header", **_CELL, doc="Optional: TRUE adds a header row above the numbers")
@excel_function
def BETA_STATS(asset_prices, btc_prices, window=None, min_obs=None, header=None):
    """OLS beta statistics as a row: beta, alpha, R2, SE, HAC SE, t, n, CI low, CI high."""
    with_header = cells.scalar_bool("header", header, default=False)
    s = _estimate(asset_prices, btc_prices, window, "ols", min_obs).stats
    row = [float(np.atleast_1d(getattr(s, field))[0]) for field in s.FIELDS]
    row[s.FIELDS.index("n_obs")] = int(row[s.FIELDS.index("n_obs")])
    # an undefined ratio (t = beta / SE with SE = 0, for a constant asset) is 0/0
    row = ["#DIV/0!" if isinstance(v, float) and np.isnan(v) else v for v in row]
    return [_STATS_HEADER, row] if with_header else [row]


@xl.func(category=CATEGORY)
@xl.arg("asset_prices", **_RANGE, doc="Price column of the asset, oldest first")
@xl.arg("btc_prices", **_RANGE, doc="Benchmark price column, same rows as asset_prices")
@xl.arg("window", **_CELL, doc="Returns per window, e.g. 90")
@xl.arg("min_obs", **_CELL, doc="Optional: minimum paired returns per window (default window)")
@excel_function
def ROLLING_BETA(asset_prices, btc_prices, window, min_obs=None):
    """Rolling beta as a column as long as the price range (#N/A where no full window)."""
    asset, btc = _price_pair(asset_prices, btc_prices)
    window = cells.scalar_int("window", window, minimum=3)
    min_obs = cells.scalar_int("min_obs", min_obs, required=False, default=window, minimum=3)
    rb = beta_core.rolling_beta(returns_from_prices(asset.to_numpy()),
                                returns_from_prices(btc.to_numpy()), window=window,
                                min_obs=min_obs)
    values = np.concatenate([[np.nan], rb.beta])  # the first price has no return
    return column_rows(values, "#N/A")  # rows of one cell; the array kept beside them


# ----------------------------------------------------------------- contracts


_CATALOGUE_STATE: list[str] = []  # "" once a user catalogue (or none) is installed, or why not


def _catalogue_ready() -> None:
    """Install the user catalogue named by BETANEUTRAL_CATALOGUE once; its problem is an error."""
    if not _CATALOGUE_STATE:
        from betaneutral.errors import BetaNeutralError
        from betaneutral.marketdata.files import install_catalogue_from_environment

        try:
            install_catalogue_from_environment()
            _CATALOGUE_STATE.append("")
        except (BetaNeutralError, OSError) as exc:
            _CATALOGUE_STATE.append(f"the catalogue in BETANEUTRAL_CATALOGUE cannot be used: {exc}")
    if _CATALOGUE_STATE[0]:
        raise cells.CellError("#VALUE!", _CATALOGUE_STATE[0])


def _contract(value, name="contract"):
    """A catalogue name (e.g. "BINANCE:BTCUSDT") or a specification row.

    The row holds kind, contract size, quantity step, minimum quantity and,
    optionally, a flat maintenance margin rate (default 0.5%).
    """
    line = cells.column(name, value)
    if len(line) == 1:
        _catalogue_ready()
        return contracts_core.get_contract(cells.scalar_text(name, line[0]))
    if len(line) not in (4, 5):
        raise cells.CellError(
            "#VALUE!", f"{name} must be a catalogue name or a row of kind, size, step, minimum "
                       f"quantity[, maintenance rate], got {len(line)} cells")
    kind = cells.scalar_text(f"{name} kind", line[0])
    size, step, min_qty = (cells.scalar_number(f"{name} {label}", v) for label, v in
                           zip(("size", "step", "minimum quantity"), line[1:4], strict=True))
    extra = {}
    if len(line) == 5:
        extra["maintenance_rate"] = cells.scalar_number(f"{name} maintenance rate", line[4])
    return contracts_core.custom_contract(kind.lower(), size, step, min_qty, **extra)


def _contract_or_rate(value, name="contract_or_mmr"):
    """A contract (name or row), or a flat maintenance margin rate as a number."""
    line = cells.column(name, value)
    if len(line) == 1 and not isinstance(line[0], str):
        return None, cells.scalar_number(name, line[0])
    return _contract(value, name), None


@xl.func(category=CATEGORY)
@xl.arg("hedge_notional_usd", **_CELL, doc="USD notional to short (negative: buy back)")
@xl.arg("futures_price", **_CELL, doc="Futures price in USD")
@xl.arg("contract", **_RANGE,
        doc='Catalogue name, e.g. "BINANCE:BTCUSDT", or a row: kind, size, step, min qty')
@xl.arg("rounding", **_CELL, doc='Optional: "nearest" (default), "down" or "up"')
@xl.arg("btc_price", **_CELL, doc="Optional: BTC price, needed only for quanto contracts")
@excel_function
def CONTRACTS_TO_SHORT(hedge_notional_usd, futures_price, contract, rounding=None,
                       btc_price=None):
    """Number of futures contracts to short for a USD notional, rounded to the lot step."""
    sizing = contracts_core.contracts_for_notional(
        cells.scalar_number("hedge_notional_usd", hedge_notional_usd),
        cells.scalar_number("futures_price", futures_price),
        _contract(contract),
        rounding=cells.scalar_text("rounding", rounding, required=False, default="nearest"),
        btc_price_usd=cells.scalar_number("btc_price", btc_price, required=False),
    )
    return float(sizing.contracts)


@xl.func(category=CATEGORY)
@xl.arg("short_notional_usd", **_CELL, doc="USD notional of the short")
@xl.arg("entry_price", **_CELL, doc="Entry (current futures) price in USD")
@xl.arg("stress_move", **_CELL, doc="Rally to survive, e.g. 0.30 for +30%")
@xl.arg("contract_or_mmr", **_RANGE,
        doc="Catalogue contract (its margin tiers and taker fee apply) or a flat rate, e.g. 0.005")
@xl.arg("safety_multiplier", **_CELL, doc="Optional: multiplier on the requirement (default 1)")
@excel_function
def MARGIN_BUFFER(short_notional_usd, entry_price, stress_move, contract_or_mmr,
                  safety_multiplier=None):
    """Collateral to post (settlement currency) so the short survives the stress rally."""
    spec, rate = _contract_or_rate(contract_or_mmr)
    options = {"maintenance": rate, "kind": "linear"}
    if spec is not None:
        options = {"maintenance": spec.margin_tiers, "kind": spec.kind,
                   "closing_fee_rate": spec.taker_fee_rate,
                   "maintenance_basis": spec.maintenance_basis}
    buffer = margin_core.margin_buffer(
        cells.scalar_number("short_notional_usd", short_notional_usd),
        cells.scalar_number("entry_price", entry_price),
        cells.scalar_number("stress_move", stress_move),
        safety_multiplier=cells.scalar_number("safety_multiplier", safety_multiplier,
                                              required=False, default=1.0),
        **options,
    )
    return float(buffer.collateral)


@xl.func(category=CATEGORY)
@xl.arg("short_contracts", **_CELL, doc="Contracts held short")
@xl.arg("entry_price", **_CELL, doc="Entry price in USD")
@xl.arg("collateral", **_CELL, doc="Isolated collateral, in the contract's settlement currency")
@xl.arg("contract", **_RANGE, doc="Catalogue name or a specification row")
@xl.arg("basis", **_CELL, doc='Optional: maintenance margin at "mark" (the liquidation '
        'price) or "entry"; default the contract\'s venue rule')
@excel_function
def LIQUIDATION_PRICE(short_contracts, entry_price, collateral, contract, basis=None):
    """Price at which the isolated short is liquidated ("never" if no rally can liquidate it)."""
    # The closing taker fee of a catalogue contract is reserved, as MARGIN_BUFFER reserves
    # it: with MARGIN_BUFFER's collateral the result is the stress price.
    spec = _contract(contract)
    price = margin_core.liquidation_price_short(
        spec,
        cells.scalar_number("short_contracts", short_contracts),
        cells.scalar_number("entry_price", entry_price),
        cells.scalar_number("collateral", collateral),
        fee_rate=spec.taker_fee_rate,
        maintenance_basis=cells.scalar_text("basis", basis, required=False,
                                            default=spec.maintenance_basis).lower(),
    )
    return "never" if np.isinf(price) else float(price)


@xl.func(category=CATEGORY)
@xl.arg("short_notional_usd", **_CELL, doc="USD notional of the short perpetual")
@xl.arg("funding_rate", **_CELL, doc="Funding rate per interval, e.g. 0.0001 (0.01%)")
@xl.arg("horizon_hours", **_CELL, doc="Horizon in hours, e.g. 720 for 30 days")
@xl.arg("interval_hours", **_CELL, doc="Optional: hours per funding interval (default 8)")
@excel_function
def FUNDING_COST(short_notional_usd, funding_rate, horizon_hours, interval_hours=None):
    """Funding the short pays over the horizon in USD (negative: the short receives)."""
    carry = funding_core.funding_carry_usd(
        cells.scalar_number("short_notional_usd", short_notional_usd),
        cells.scalar_number("funding_rate", funding_rate),
        cells.scalar_number("horizon_hours", horizon_hours),
        interval_hours=cells.scalar_number("interval_hours", interval_hours, required=False,
                                           default=8.0),
    )
    return -float(carry)


_SPEC_FIELDS = ("exchange", "symbol", "kind", "contract_size", "quantity_step", "min_quantity",
                "min_notional_usd", "settlement_currency", "underlying", "ccxt_symbol",
                "perpetual", "taker_fee_rate", "funding_interval_hours", "source", "checked",
                "maintenance_rate", "notional_unit", "maintenance_basis")


@xl.func(category=CATEGORY)
@xl.arg("contract", **_CELL, doc='Catalogue name, e.g. "BINANCE:BTCUSDT"')
@xl.arg("field", **_CELL, doc='Field, e.g. "kind", "contract_size", "quantity_step"')
@excel_function
def CONTRACT_SPEC(contract, field):
    """One field of a catalogue contract (maintenance_rate = the first margin tier's rate)."""
    _catalogue_ready()
    spec = contracts_core.get_contract(cells.scalar_text("contract", contract))
    key = cells.scalar_text("field", field).lower()
    if key not in _SPEC_FIELDS:
        raise cells.CellError("#N/A", f"field must be one of {list(_SPEC_FIELDS)}, got {key!r}")
    if key == "maintenance_rate":
        if not spec.margin_tiers:
            raise cells.CellError("#N/A", f"{spec.name} has no published maintenance tiers")
        return float(spec.margin_tiers[0].maintenance_rate)
    value = getattr(spec, key)
    if value is None:
        raise cells.CellError("#N/A", f"{spec.name} has no {key}")
    return value if isinstance(value, (str, bool)) else float(value)


# ----------------------------------------------------------------- the book


def _omitted(name, value):
    """An optional range argument left out: a single blank cell (None, or "" from a formula)."""
    return cells.column(name, value) in ([None], [""])


def _book(spot_values, betas):
    """Holdings values and betas; rows where both are blank are unused rows and skipped."""
    values, bs = cells.paired_columns("spot_values", spot_values, "betas", betas)
    used = ~(np.isnan(values) & np.isnan(bs))
    half = used & (np.isnan(values) | np.isnan(bs))
    if half.any():
        row = int(np.argmax(half)) + 1
        which = "spot_values" if np.isnan(values[row - 1]) else "betas"
        raise cells.CellError("#VALUE!", f"{which} (row {row}) is blank while its partner is not")
    if not used.any():
        raise cells.CellError("#N/A", "spot_values and betas must hold at least one holding")
    return values[used], bs[used]


@xl.func(category=CATEGORY)
@xl.arg("spot_values", **_RANGE, doc="USD value of each holding (a cell or a column)")
@xl.arg("betas", **_RANGE, doc="Beta to BTC of each holding, same rows")
@xl.arg("target_beta", **_CELL, doc="Optional: target portfolio beta (default 0)")
@xl.arg("current_hedge_usd", **_CELL,
        doc="Optional: USD notional already short; the result is then the change needed")
@excel_function
def HEDGE_NOTIONAL(spot_values, betas, target_beta=None, current_hedge_usd=None):
    """USD notional to short: sum(value x beta) - target x value, minus any current hedge."""
    values, bs = _book(spot_values, betas)
    hedge = portfolio_core.hedge_notional(
        values, bs,
        target_beta=cells.scalar_number("target_beta", target_beta, required=False, default=0.0),
        current_hedge_usd=cells.scalar_number("current_hedge_usd", current_hedge_usd,
                                              required=False, default=0.0))
    return float(hedge.change_usd)


@xl.func(category=CATEGORY)
@xl.arg("spot_values", **_RANGE, doc="USD value of each holding")
@xl.arg("betas", **_RANGE, doc="Beta to BTC of each holding, same rows")
@xl.arg("hedge_notional_usd", **_CELL, doc="Optional: USD notional of BTC futures held short")
@excel_function
def PORTFOLIO_BETA(spot_values, betas, hedge_notional_usd=None):
    """Value-weighted beta of the book, including a short BTC futures hedge if given."""
    values, bs = _book(spot_values, betas)
    return float(portfolio_core.portfolio_beta(
        values, bs, hedge_notional_usd=cells.scalar_number(
            "hedge_notional_usd", hedge_notional_usd, required=False, default=0.0)))


@xl.func(category=CATEGORY)
@xl.arg("spot_values", **_RANGE, doc="USD value of each holding")
@xl.arg("betas", **_RANGE, doc="Beta to BTC of each holding, same rows")
@xl.arg("current_hedge_usd", **_CELL, doc="USD notional of BTC futures held short now")
@xl.arg("target_beta", **_CELL, doc="Optional: target portfolio beta (default 0)")
@xl.arg("band", **_CELL, doc="Optional: rebalance band (default 0.05)")
@xl.arg("beta_se", **_RANGE, doc="Optional: standard error of each holding's beta")
@excel_function
def REBALANCE_SIGNAL(spot_values, betas, current_hedge_usd, target_beta=None, band=None,
                     beta_se=None):
    """Row: drift from the target beta, TRUE if it breaches the band, USD order (+ = sell more)."""
    values, bs = _book(spot_values, betas)
    se = None
    if not _omitted("beta_se", beta_se):
        se = cells.number_column("beta_se", beta_se, blanks="required")
    signal = rebalance_core.rebalance_signal(
        values, bs, cells.scalar_number("current_hedge_usd", current_hedge_usd),
        target_beta=cells.scalar_number("target_beta", target_beta, required=False,
                                        default=0.0),
        band=cells.scalar_number("band", band, required=False, default=0.05),
        beta_se=se)
    return [[float(signal.drift), bool(signal.breach), float(signal.order_notional_usd)]]


@xl.func(category=CATEGORY)
@xl.arg("current_contracts", **_CELL, doc="Contracts held now (> 0 short, 0 = no hedge yet)")
@xl.arg("target_contracts", **_CELL, doc="Contracts the target beta needs")
@xl.arg("breach", **_CELL, doc="TRUE if the drift breaches the band (REBALANCE_SIGNAL)")
@excel_function
def REBALANCE_ACTION(current_contracts, target_contracts, breach):
    """What to do now: OPEN (no hedge yet), REBALANCE (band breached) or HOLD."""
    return rebalance_core.rebalance_action(
        cells.scalar_number("current_contracts", current_contracts, required=False,
                            default=0.0),
        cells.scalar_number("target_contracts", target_contracts),
        cells.scalar_bool("breach", breach, default=None))


_SCENARIO_OUTPUT = ("btc_move", "btc_price_usd", "unhedged_pnl_usd", "hedged_pnl_usd",
                    "liquidated")


@xl.func(category=CATEGORY)
@xl.arg("spot_values", **_RANGE, doc="USD value of each holding")
@xl.arg("betas", **_RANGE, doc="Beta to BTC of each holding, same rows")
@xl.arg("short_contracts", **_CELL, doc="Contracts held short")
@xl.arg("entry_price", **_CELL, doc="Entry (current futures) price in USD")
@xl.arg("collateral", **_CELL, doc="Isolated collateral in the contract's settlement currency")
@xl.arg("contract", **_RANGE, doc="Catalogue name or a specification row")
@xl.arg("moves", **_RANGE, doc="Optional: BTC moves (default -30% .. +30% in 5% steps)")
@excel_function
def HEDGE_SCENARIOS(spot_values, betas, short_contracts, entry_price, collateral, contract,
                    moves=None):
    """Grid per BTC move: move, BTC price, unhedged P&L, hedged P&L, liquidated (USD)."""
    values, bs = _book(spot_values, betas)
    btc_moves = None
    if not _omitted("moves", moves):
        btc_moves = cells.number_column("moves", moves, blanks="required")
    grid = scenarios_core.hedge_scenarios(
        values, bs,
        short_contracts=cells.scalar_number("short_contracts", short_contracts),
        spec=_contract(contract),
        entry_price_usd=cells.scalar_number("entry_price", entry_price),
        collateral=cells.scalar_number("collateral", collateral),
        btc_moves=btc_moves)
    return [[float(r.btc_move), float(r.btc_price_usd), float(r.unhedged_pnl_usd),
             float(r.hedged_pnl_usd), bool(r.liquidated)] for r in grid.itertuples()]


#: Every Excel function this module defines, in the order of the README table.
UDF_NAMES = ("BETA_VS_BTC", "HEDGE_NOTIONAL", "CONTRACTS_TO_SHORT", "MARGIN_BUFFER",
             "PORTFOLIO_BETA", "BETA_STATS", "ROLLING_BETA", "LIQUIDATION_PRICE",
             "FUNDING_COST", "REBALANCE_SIGNAL", "REBALANCE_ACTION", "HEDGE_SCENARIOS",
             "CONTRACT_SPEC")
