"""An Excel function's array result that keeps its numbers as an array.

A worksheet function returns a range as a list of rows (what xlwings hands to
Excel). A long column of numbers -- a rolling beta over 2,000 days -- is then
2,000 Python values that a caller computing a whole book would read back one by
one. :class:`ArrayRows` is that same list of rows carrying the same values as a
float array beside it, so that the result check of
:func:`betaneutral.cells.excel_function` and the book's computation
(:mod:`betaneutral.workbook.model`) work on the array, while Excel receives the
list exactly as before (xlwings copies a returned list row by row into plain
lists).

The two views always agree: ``rows[i][j]`` is ``numbers[i, j]`` when that is a
finite number, and otherwise ``codes[(i, j)]``, an Excel error code, with
``numbers[i, j]`` NaN.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

__all__ = ["ArrayRows", "column_rows"]


class ArrayRows(list):  # type: ignore[type-arg]
    """A list of rows (an Excel array result) with its values as a float array.

    Attributes
    ----------
    numbers : numpy.ndarray
        2-D float array of the result's shape: each finite number, NaN where the
        cell holds an error code.
    codes : dict
        ``(row, column) -> code`` for every NaN position of ``numbers``.

    Build one with :func:`column_rows`; the list and the array are not meant to
    be changed afterwards.
    """

    numbers: np.ndarray
    codes: dict[tuple[int, int], str]

    def finite(self, fn_name: str, log: logging.Logger) -> ArrayRows:
        """The result with every infinite number replaced by ``#NUM!`` (as Excel shows a
        number beyond its range), found on the array; ``self`` when there is none."""
        bad = np.argwhere(np.isinf(self.numbers))
        if not len(bad):
            return self
        log.debug("%s returned #NUM! in place of non-finite numbers", fn_name)
        numbers = self.numbers.copy()
        out = ArrayRows(list(row) for row in self)
        out.codes = dict(self.codes)
        for i, j in bad.tolist():
            out[i][j] = "#NUM!"
            numbers[i, j] = np.nan
            out.codes[i, j] = "#NUM!"
        out.numbers = numbers
        return out


def column_rows(values: Any, nan_code: str) -> ArrayRows:
    """A column result (a list of one-cell rows) from floats, NaN shown as ``nan_code``.

    Parameters
    ----------
    values : array-like of float
        The column, top to bottom.
    nan_code : str
        The Excel error code a NaN stands for (e.g. ``"#N/A"``: no estimate).

    Returns
    -------
    ArrayRows
        ``[[v0], [v1], ...]`` with ``nan_code`` in place of each NaN; infinities
        stay numbers here (:func:`betaneutral.cells.excel_function` turns them
        into ``#NUM!``).
    """
    numbers = np.array(values, dtype=float).reshape(-1, 1)
    out = ArrayRows([nan_code] if v != v else [v] for v in numbers[:, 0].tolist())  # NaN
    out.numbers = numbers
    out.codes = dict.fromkeys(((i, 0) for i in np.flatnonzero(np.isnan(numbers[:, 0]))
                               .tolist()), nan_code)
    return out
