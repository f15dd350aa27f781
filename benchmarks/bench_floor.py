"""The floor for ``betaneutral compute``: the same work done with the fastest tools at hand.

One process, imports included, that

1. reads every sheet of the book with python-calamine (Rust; all cells as values),
2. computes the book's bulk numbers in numpy from the prices it read: the daily
   returns to BTC, for each holding the OLS beta over the Settings window with
   its alpha, R², standard error, t-statistic, observation count and 95 %
   interval (the Stats block), the rolling betas over the rolling window for
   every date (the Rolling block, with cumulative sums), and the Holdings
   prices, values, weights and dollar betas,
3. writes the same sheets with rustpy-xlsxwriter (Rust): every cell read, with
   the computed blocks in place of the values read.

It is a floor, not an equivalent: it trusts the file (no archive checks, no
check of the formulas against the template, no byte-identical copy of the parts
it does not own, no read-back check), writes values without formulas, styles,
names, notes, charts or VBA, and leaves out the HAC standard errors, the other
beta methods, the hedge, margin and scenario figures and the Backtest replay.
``benchmarks/bench_workbook.py`` runs it as a child process beside
``betaneutral compute`` on the same book and reports the ratio.

Needs the ``bench`` extra (``pip install -e .[bench]``).

Usage::

    python benchmarks/bench_floor.py BOOK OUT
"""

from __future__ import annotations

import sys
import time

T0 = time.perf_counter()

import numpy as np  # noqa: E402
import python_calamine  # noqa: E402
import rustpy_xlsxwriter  # noqa: E402

#: Student t quantile for a 95 % interval (large-sample value; the floor need not be exact).
_T95 = 1.96


def _columns(width: int) -> list[str]:
    """Positional column names: the writer takes rows as records keyed by column."""
    return [f"c{i}" for i in range(width)]


def _records(rows: list[list[object]]) -> list[dict[str, object]]:
    width = max((len(r) for r in rows), default=0)
    names = _columns(width)
    return [dict(zip(names, row, strict=False)) for row in rows]


def _setting(rows: list[list[object]], name: str, default: float) -> float:
    for row in rows:
        if len(row) > 2 and row[2] == name and isinstance(row[1], int | float):
            return float(row[1])
    return default


def compute(sheets: dict[str, list[list[object]]]) -> dict[str, list[list[object]]]:
    """The sheets with the Stats, Rolling and Holdings figures computed in numpy."""
    settings = sheets["Settings"]
    window = int(_setting(settings, "Window", 90.0))
    rolling_window = int(_setting(settings, "RollingWindow", 60.0))
    bench = sheets["Benchmark"]
    header = bench[0]
    dates = [row[0] for row in bench[1:]]
    prices = np.array([[v if isinstance(v, float) else np.nan for v in row[1:]]
                       for row in bench[1:]], dtype=np.float64)
    assets = [str(a) for a in header[1:]]
    returns = prices[1:] / prices[:-1] - 1.0
    x_all = returns[:, assets.index("BTC")]
    holdings = sheets["Holdings"]
    first = next(i for i, row in enumerate(holdings) if row and row[0] == "Asset") + 1
    listed = [row for row in holdings[first:] if row and row[0] in assets]  # not totals
    names = [row[0] for row in listed]
    quantity = np.array([float(row[1]) for row in listed])
    y_all = returns[:, [assets.index(n) for n in names]]

    # Stats: OLS over the last `window` returns, every holding at once.
    x, y = x_all[-window:], y_all[-window:]
    n = x.size
    xm, ym = x.mean(), y.mean(axis=0)
    sxx = ((x - xm) ** 2).sum()
    sxy = ((x - xm)[:, None] * (y - ym)).sum(axis=0)
    beta = sxy / sxx
    alpha = ym - beta * xm
    resid = y - alpha - beta * x[:, None]
    ssr = (resid ** 2).sum(axis=0)
    r2 = 1.0 - ssr / ((y - ym) ** 2).sum(axis=0)
    se = np.sqrt(ssr / (n - 2) / sxx)
    stats = np.column_stack([beta, alpha, r2, se, se, beta / se, np.full_like(beta, n),
                             beta - _T95 * se, beta + _T95 * se])

    # Rolling: beta over each trailing `rolling_window` returns, by cumulative sums.
    def trailing(a: np.ndarray) -> np.ndarray:
        c = np.cumsum(np.concatenate([np.zeros((1, *a.shape[1:])), a]), axis=0)
        return c[rolling_window:] - c[:-rolling_window]

    w = float(rolling_window)
    sx, sxx_r = trailing(x_all), trailing(x_all ** 2)
    sy, sxy_r = trailing(y_all), trailing(x_all[:, None] * y_all)
    rolling = np.full((len(dates), len(names)), np.nan)
    rolling[rolling_window:] = ((sxy_r - sx[:, None] * sy / w)
                                / (sxx_r - sx ** 2 / w)[:, None])

    # Holdings: last price, value, weight, dollar beta.
    last = prices[-1, [assets.index(n) for n in names]]
    value = quantity * last
    dollar_beta = value * beta
    out = dict(sheets)
    out["Stats"] = sheets["Stats"][:4] + [[name, *row] for name, row in
                                          zip(names, stats.tolist(), strict=True)]
    out["Rolling"] = [["Date", *names]] + [[d, *row] for d, row in
                                           zip(dates, rolling.tolist(), strict=True)]
    out["Holdings"] = holdings[:first] + [
        [name, q, p, v, v / value.sum(), b, b, db, db / dollar_beta.sum()]
        for name, q, p, v, b, db in zip(names, quantity.tolist(), last.tolist(),
                                        value.tolist(), beta.tolist(), dollar_beta.tolist(),
                                        strict=True)]
    return out


def main(argv: list[str]) -> None:
    src, dst = argv
    timings = {"imports": time.perf_counter() - T0}
    t = time.perf_counter()
    wb = python_calamine.CalamineWorkbook.from_path(src)
    sheets = {name: wb.get_sheet_by_name(name).to_python() for name in wb.sheet_names}
    timings["read"] = time.perf_counter() - t
    t = time.perf_counter()
    sheets = compute(sheets)
    timings["compute"] = time.perf_counter() - t
    t = time.perf_counter()
    writer = rustpy_xlsxwriter.FastExcel(dst)
    for name, rows in sheets.items():
        writer.sheet(name, _records(rows))
    writer.save()
    timings["write"] = time.perf_counter() - t
    cells = sum(len(r) for rows in sheets.values() for r in rows)
    print(" ".join(f"{k}={v:.3f}" for k, v in timings.items()), f"cells={cells}")


if __name__ == "__main__":
    main(sys.argv[1:])
