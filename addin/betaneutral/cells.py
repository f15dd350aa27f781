"""Reading Excel cell values into numbers, and mapping errors to Excel error codes.

The Excel functions of BetaNeutral contain no logic of their own: each one reads
its arguments with the functions below, calls the core, and is wrapped in
:func:`excel_function`, which turns a known error into the bare Excel error
code string. Every reading failure travels as a :class:`CellError` carrying
that code.

What arrives from a cell (classic xlwings with ``err_to_str=True``, or a Python
caller): a blank as ``None``; ``""`` (a formula returning ``""``) is read as
blank too; numbers as ``float``/``int`` or numpy scalars; booleans as ``bool``;
dates as ``datetime``/``date``; text as ``str``; error cells as their code
string (``"#N/A"``, ...). A range is a list of rows, a single row or column may
also arrive as a flat list, and a single cell as a scalar.

Coercion policy (``#CODE`` = the reader raises :class:`CellError` with that code)::

    Cell value            series [a]   number       int          text         bool
    --------------------  -----------  -----------  -----------  -----------  -----------
    blank: None or ""     NaN [b]      #VALUE! [c]  #VALUE! [c]  #VALUE! [c]  default [c]
    finite number         the number   the number   whole [d]    #VALUE!      1/0 [e]
    NaN, +inf, -inf       #NUM!        #NUM!        #NUM!        #VALUE!      #VALUE!
    TRUE, FALSE           #VALUE!      #VALUE!      #VALUE!      #VALUE!      itself
    date, datetime        #VALUE!      #VALUE!      #VALUE!      #VALUE!      #VALUE!
    text "abc"            #VALUE!      #VALUE!      #VALUE!      stripped     [f]
    numeric text "1.5"    #VALUE!      #VALUE!      #VALUE!      stripped     #VALUE!
    error cell "#DIV/0!"  its code     its code     its code     its code     its code
    1x1 range             1 value      unwrapped    unwrapped    unwrapped    unwrapped
    1xN or Nx1 range      flattened    #VALUE!      #VALUE!      #VALUE!      #VALUE!
    block (>1 x >1)       #VALUE! [g]  #VALUE!      #VALUE!      #VALUE!      #VALUE!

    [a] number_column, paired_columns, price_column, paired_prices, number_block.
        Two series of different lengths: #N/A (like SLOPE). A present price <= 0:
        #NUM!.
    [b] blanks="missing" (default): NaN marks a missing observation, dropped
        pair-wise later as SLOPE does. blanks="required": #VALUE!.
    [c] required=False returns `default` instead. scalar_bool returns its
        `default`; default=None makes it required. For scalar_text, text of
        spaces only counts as blank.
    [d] the int when whole (3.0 -> 3) and >= minimum, else #NUM!.
    [e] 1 -> TRUE, 0 -> FALSE; any other number #VALUE!.
    [f] "TRUE"/"FALSE" in any case and padding; any other text #VALUE!.
    [g] number_block reads blocks, one series per column.

Series are stricter than SLOPE, which skips text and booleans. A text or
boolean cell in a price or return column is a data problem (a number pasted as
text, a header row, a date column selected by mistake): skipping it would hide
the problem and silently change beta, and removing it would misalign the series
against its partner. So anything but a number or a blank in a series is
``#VALUE!``.

An error cell propagates its own code, as Excel's built-in functions do. In a
series the first error cell in reading order wins over any other problem; then
the first offending cell in reading order decides. :func:`paired_columns`
looks for error cells in both series before anything else.

Two further inputs from classic xlwings on Windows are handled:

* Error cells that xlwings does not translate (it maps only the seven classic
  codes) arrive as the integer COM error value, e.g. ``-2146826243`` for
  ``#SPILL!``. Plain ``int`` values listed in :data:`COM_ERROR_CODES` are read
  as those errors.
* Cells formatted as currency arrive as :class:`decimal.Decimal` (already
  rounded by Excel's Currency type to 4 decimal places); they are read as numbers.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import math
from collections.abc import Callable, Iterator
from decimal import Decimal
from numbers import Real
from types import MappingProxyType
from typing import Any, Literal, ParamSpec, TypeVar

import numpy as np

from betaneutral.arrayrows import ArrayRows
from betaneutral.core._validate import FloatArray, as_float, positive, positive_int
from betaneutral.core._validate import fmt_value as _fmt
from betaneutral.errors import (
    BetaNeutralError,
    DegenerateDataError,
    DomainError,
    InputTypeError,
    InsufficientDataError,
    UnknownNameError,
)

__all__ = [
    "COM_ERROR_CODES",
    "EXCEL_ERRORS",
    "Blanks",
    "CellError",
    "column",
    "error_code",
    "error_messages",
    "excel_function",
    "number_block",
    "number_column",
    "paired_columns",
    "paired_prices",
    "price_block",
    "price_column",
    "scalar_bool",
    "scalar_int",
    "scalar_number",
    "scalar_text",
]

_log = logging.getLogger("betaneutral.udfs")
# Where excel_function reports why it returned an error code (see error_messages).
_ERROR_SINK: contextvars.ContextVar[list[tuple[str, str, str]] | None] = contextvars.ContextVar(
    "betaneutral_error_sink", default=None)


@contextlib.contextmanager
def error_messages() -> Iterator[list[tuple[str, str, str]]]:
    """Collect why the Excel functions called inside the block returned error codes.

    Yields
    ------
    list of (str, str, str)
        Filled in call order with ``(function name, code, message)``; the message is
        the core's (it names the parameter, the value and the rule).
    """
    sink: list[tuple[str, str, str]] = []
    token = _ERROR_SINK.set(sink)
    try:
        yield sink
    finally:
        _ERROR_SINK.reset(token)


def _report(fn_name: str, code: str, exc: BaseException) -> None:
    sink = _ERROR_SINK.get()
    if sink is not None:
        sink.append((fn_name, code, str(exc)))

P = ParamSpec("P")
R = TypeVar("R")
D = TypeVar("D")

#: How a series treats blank cells: ``"missing"`` (NaN) or ``"required"`` (#VALUE!).
Blanks = Literal["missing", "required"]

#: Every error value an Excel cell can show, spelled as Excel shows it.
EXCEL_ERRORS: frozenset[str] = frozenset(
    {
        "#NULL!",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#N/A",
        "#GETTING_DATA",
        "#SPILL!",
        "#CONNECT!",
        "#BLOCKED!",
        "#UNKNOWN!",
        "#FIELD!",
        "#CALC!",
        "#BUSY!",
        "#EXTERNAL!",
    }
)

#: COM error values (``-2146828288 + XlCVError``) of Excel's error cells, as pywin32
#: passes those that xlwings leaves untranslated.
COM_ERROR_CODES: MappingProxyType[int, str] = MappingProxyType(
    {
        -2146826288: "#NULL!",  # xlErrNull 2000
        -2146826281: "#DIV/0!",  # xlErrDiv0 2007
        -2146826273: "#VALUE!",  # xlErrValue 2015
        -2146826265: "#REF!",  # xlErrRef 2023
        -2146826259: "#NAME?",  # xlErrName 2029
        -2146826252: "#NUM!",  # xlErrNum 2036
        -2146826246: "#N/A",  # xlErrNA 2042
        -2146826245: "#GETTING_DATA",  # xlErrGettingData 2043
        -2146826243: "#SPILL!",  # xlErrSpill 2045
        -2146826242: "#CONNECT!",  # xlErrConnect 2046
        -2146826241: "#BLOCKED!",  # xlErrBlocked 2047
        -2146826240: "#UNKNOWN!",  # xlErrUnknown 2048
        -2146826239: "#FIELD!",  # xlErrField 2049
        -2146826238: "#CALC!",  # xlErrCalc 2050
    }
)

_RANGE_TYPES = (list, tuple, np.ndarray)

# BetaNeutral's own classes only, never their built-in bases: a bare ValueError or
# LookupError is a bug. (UnknownNameError is a LookupError, not a ValueError.)
_ERROR_CODES: tuple[tuple[type[BetaNeutralError], str], ...] = (
    (InputTypeError, "#VALUE!"),
    (DomainError, "#NUM!"),
    (InsufficientDataError, "#N/A"),
    (DegenerateDataError, "#DIV/0!"),
    (UnknownNameError, "#N/A"),
)


class CellError(BetaNeutralError):
    """An argument's cells cannot be used; carries the Excel error code to show.

    Parameters
    ----------
    code : str
        One of :data:`EXCEL_ERRORS`, e.g. ``"#VALUE!"``.
    message : str
        Names the argument, the cell position within its range, the rule and the value.

    Attributes
    ----------
    code : str
        The Excel error code.
    message : str
        The human-readable reason.
    """

    def __init__(self, code: str, message: str) -> None:
        if code not in EXCEL_ERRORS:
            raise ValueError(f"code must be an Excel error code, got {code!r}")
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


def error_code(exc: BaseException) -> str | None:
    """The Excel error code for a known error, or ``None`` for an unexpected one.

    Parameters
    ----------
    exc : BaseException
        The exception raised while evaluating an Excel function.

    Returns
    -------
    str or None
        ``"#VALUE!"`` for :class:`~betaneutral.errors.InputTypeError`, ``"#NUM!"``
        for :class:`~betaneutral.errors.DomainError`, ``"#N/A"`` for
        :class:`~betaneutral.errors.InsufficientDataError` and
        :class:`~betaneutral.errors.UnknownNameError`, ``"#DIV/0!"`` for
        :class:`~betaneutral.errors.DegenerateDataError`, the carried code for
        :class:`CellError`; ``None`` for anything else.

    Raises
    ------
    Nothing.

    Notes
    -----
    Matching is by class, never by the built-in bases: a plain ``ValueError``,
    ``KeyError`` or bare ``BetaNeutralError`` is a bug and maps to ``None`` so
    that it is not hidden behind an error code.

    Examples
    --------
    >>> from betaneutral.errors import DomainError, UnknownNameError
    >>> error_code(DomainError("price_usd must be > 0, got 0.0"))
    '#NUM!'
    >>> error_code(UnknownNameError("method must be one of ['ols'], got 'x'"))
    '#N/A'
    >>> error_code(ValueError("bug")) is None
    True
    """
    if isinstance(exc, CellError):
        return exc.code
    for cls, code in _ERROR_CODES:
        if isinstance(exc, cls):
            return code
    return None


def excel_function(fn: Callable[P, R]) -> Callable[P, R | str]:
    """Wrap the body of an Excel function so that known errors become error codes.

    Parameters
    ----------
    fn : callable
        The function body. Its ``__name__`` is the Excel function name and its
        docstring the Function Wizard text; both are kept, as are its signature
        and annotations (``functools.wraps``), which xlwings reads.

    Returns
    -------
    callable
        Calls ``fn``; on an error that :func:`error_code` maps, returns the bare
        code string (``"#VALUE!"``) and logs the message at DEBUG level on the
        ``betaneutral.udfs`` logger. A number beyond the float range is
        ``"#NUM!"``, as Excel shows a result outside its number range: an
        ``OverflowError`` raised on the way, or a result that is not a finite
        number (infinity or NaN); in an array result (a list of rows) only the
        non-finite elements are replaced.

    Raises
    ------
    Exception
        Any error :func:`error_code` does not map (other than ``OverflowError``)
        propagates unchanged.

    Notes
    -----
    A classic (VBA) Excel function cannot write a real error cell: the code is
    shown as text, and arithmetic on it still gives ``#VALUE!``. Office.js
    custom functions turn the same strings into real error cells.

    Examples
    --------
    >>> @excel_function
    ... def HALF(x):
    ...     "Half of x."
    ...     return scalar_number("x", x) / 2
    >>> HALF(3.0), HALF("abc"), HALF.__name__, HALF.__doc__
    (1.5, '#VALUE!', 'HALF', 'Half of x.')
    >>> @excel_function
    ... def SQUARE(x):
    ...     "x squared."
    ...     x = scalar_number("x", x)
    ...     return x * x
    >>> SQUARE(1e200)  # 1e400 is beyond the float range
    '#NUM!'
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | str:
        try:
            result = fn(*args, **kwargs)
        except OverflowError as exc:  # a number beyond the float range, as Excel's #NUM!
            _log.debug("%s returned #NUM!: %s", fn.__name__, exc)
            _report(fn.__name__, "#NUM!", exc)
            return "#NUM!"
        except Exception as exc:
            code = error_code(exc)
            if code is None:
                raise
            _log.debug("%s returned %s: %s", fn.__name__, code, exc)
            _report(fn.__name__, code, exc)
            return code
        return _finite_result(fn.__name__, result)

    return wrapper


def _not_finite(value: Any) -> bool:
    return isinstance(value, float | np.floating) and not math.isfinite(value)


def _finite_result(fn_name: str, result: Any) -> Any:
    """``result`` with every NaN or infinity replaced by ``#NUM!`` (the whole result if scalar)."""
    if type(result) is ArrayRows:  # its numbers checked on the array
        return result.finite(fn_name, _log)
    if _not_finite(result):
        _log.debug("%s returned #NUM!: the result %r is not a finite number", fn_name, result)
        return "#NUM!"
    if isinstance(result, list) and any(
            _not_finite(v) for row in result if isinstance(row, list) for v in row):
        _log.debug("%s returned #NUM! in place of non-finite numbers", fn_name)
        return [["#NUM!" if _not_finite(v) else v for v in row] if isinstance(row, list)
                else row for row in result]
    return result


# ---------------------------------------------------------------- single cells


def _normalise(value: Any) -> Any:
    """Currency cells (Decimal) as float; a signalling NaN as NaN."""
    if isinstance(value, Decimal):
        return math.nan if value.is_snan() else float(value)
    return value


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def _error_in(value: Any) -> str | None:
    """The Excel error code a cell holds, or ``None``."""
    if isinstance(value, str):
        return value if value in EXCEL_ERRORS else None
    if type(value) is int:  # bool excluded; Excel's own numbers arrive as float
        return COM_ERROR_CODES.get(value)
    return None


def _reject_error(label: str, value: Any) -> None:
    code = _error_in(value)
    if code is not None:
        raise CellError(code, f"{label} must not be an error cell, got {code}")


def _as_cell_error(exc: BetaNeutralError) -> CellError:
    code = error_code(exc)
    assert code is not None  # every check in _validate raises a mapped class
    return CellError(code, str(exc))


def _number(label: str, value: Any) -> float:
    """A present, non-error cell as a finite float."""
    if isinstance(value, str):
        raise CellError(
            "#VALUE!", f"{label} must be a number (text is never converted), got {str(value)!r}"
        )
    try:
        return as_float(label, value)
    except OverflowError:
        raise CellError(
            "#NUM!", f"{label} must be finite, got a number beyond the float range"
        ) from None
    except BetaNeutralError as exc:
        raise _as_cell_error(exc) from exc


def _blank(name: str, required: bool, default: D) -> D:
    if required:
        raise CellError("#VALUE!", f"{name} is required (blank cell)")
    return default


# ---------------------------------------------------------------- ranges


def _grid(name: str, value: Any) -> list[list[Any]]:
    """A cell, flat list (read as one column) or list of rows as a rectangular list of rows."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return [[_normalise(value[()])]]
        if value.ndim > 2:
            raise CellError(
                "#VALUE!", f"{name} must be a range of 1 or 2 dimensions, got shape {value.shape}"
            )
    elif not isinstance(value, list | tuple):
        return [[_normalise(value)]]
    items = list(value)
    nested = [isinstance(v, _RANGE_TYPES) for v in items]
    if not any(nested):
        return [[_normalise(v)] for v in items]
    if not all(nested):
        raise CellError(
            "#VALUE!", f"{name} must be a list of cells or a list of rows, got a mix of both"
        )
    rows = [[_normalise(c) for c in row] for row in items]
    if any(isinstance(c, _RANGE_TYPES) for row in rows for c in row):
        raise CellError("#VALUE!", f"{name} must be a range of 1 or 2 dimensions, got deeper lists")
    widths = sorted({len(row) for row in rows})
    if len(widths) > 1:
        raise CellError(
            "#VALUE!", f"{name} must be a rectangular range, got rows of lengths {widths}"
        )
    return rows


def _shape(rows: list[list[Any]]) -> tuple[int, int]:
    return len(rows), (len(rows[0]) if rows else 0)


def _single(name: str, value: Any) -> Any:
    """The one cell of a scalar or a 1x1 range."""
    rows = _grid(name, value)
    n_rows, n_cols = _shape(rows)
    if (n_rows, n_cols) != (1, 1):
        raise CellError("#VALUE!", f"{name} must be a single cell, got a {n_rows}x{n_cols} range")
    return rows[0][0]


def _line(name: str, value: Any) -> tuple[list[Any], str]:
    """Cells of a single row or column, and the word for a position along it."""
    rows = _grid(name, value)
    n_rows, n_cols = _shape(rows)
    if n_rows > 1 and n_cols > 1:
        raise CellError(
            "#VALUE!",
            f"{name} must be a single row or a single column, got a {n_rows}x{n_cols} range",
        )
    axis = "column" if n_rows == 1 and n_cols > 1 else "row"
    return [c for row in rows for c in row], axis


def _raise_first_error(cells: list[Any], label: Callable[[int], str]) -> None:
    for i, value in enumerate(cells):
        if _error_in(value) is not None:
            _reject_error(label(i), value)


def _check_blanks(blanks: Blanks) -> None:
    if blanks not in ("missing", "required"):
        raise ValueError(f"blanks must be 'missing' or 'required', got {blanks!r}")


def _numbers(cells: list[Any], label: Callable[[int], str], blanks: Blanks) -> FloatArray:
    """Cells (error cells already excluded) as floats; blanks as NaN or rejected."""
    _check_blanks(blanks)
    out = np.empty(len(cells), dtype=np.float64)
    for i, value in enumerate(cells):
        if _is_blank(value):
            out[i] = _blank(label(i), blanks == "required", math.nan)
        else:
            out[i] = _number(label(i), value)
    return out


def _position_label(name: str, axis: str) -> Callable[[int], str]:
    def label(i: int) -> str:
        return f"{name} ({axis} {i + 1})"

    return label


def _column_cells(name: str, value: Any) -> tuple[list[Any], Callable[[int], str]]:
    """Cells of a single row or column, and the label of a 0-based position."""
    cells, axis = _line(name, value)
    return cells, _position_label(name, axis)


def _plain_float_line(value: Any) -> tuple[FloatArray, str] | None:
    """A single row or column whose cells are all finite Python floats, read at once.

    This is what Excel passes for a range of numbers, so it is the common case;
    those cells pass every rule of :func:`_numbers` unchanged. ``None`` (read
    cell by cell) for anything else: another cell type, a blank, NaN or an
    infinity, a block, a NumPy array.
    """
    if type(value) is not list or not value:
        return None
    first = value[0]
    if type(first) is list:
        if len(value) == 1:  # one row
            cells, axis = first, ("column" if len(first) > 1 else "row")
        elif len(first) == 1 and set(map(type, value)) == {list} and set(map(len, value)) == {1}:
            cells, axis = [c for (c,) in value], "row"
        else:
            return None
    else:
        cells, axis = value, "row"
    if not cells or set(map(type, cells)) != {float}:
        return None
    out = np.array(cells, dtype=np.float64)
    if not np.isfinite(out).all():
        return None
    return out, axis


def _same_length(x_name: str, x: FloatArray, y_name: str, y: FloatArray) -> None:
    if x.size != y.size:
        raise CellError(
            "#N/A",
            f"{x_name} and {y_name} must have the same number of cells, "
            f"got {x.size} and {y.size}",
        )


def _check_prices(prices: FloatArray, label: Callable[[int], str]) -> None:
    """Raise ``#NUM!`` for the first present price <= 0 (NaN, a missing price, passes)."""
    bad = np.flatnonzero(prices <= 0.0)  # NaN compares False: missing stays allowed
    if bad.size:
        try:
            positive(label(int(bad[0])), prices[bad[0]])
        except BetaNeutralError as exc:
            raise _as_cell_error(exc) from exc


def _screened(name: str, value: Any
              ) -> tuple[Callable[[Blanks], FloatArray], Callable[[int], str]]:
    """A single row or column checked for error cells, its position labels, and its
    conversion by the cell rules, deferred so that a pair reports the error cells of
    both series before any other rule.

    A series of plain floats (:func:`_plain_float_line`) has no error cell and breaks
    no cell rule, so it is read at once and the order of the checks is unchanged.
    """
    fast = _plain_float_line(value)
    if fast is not None:
        array, axis = fast
        return (lambda blanks: array), _position_label(name, axis)
    cells, label = _column_cells(name, value)
    _raise_first_error(cells, label)
    return (lambda blanks: _numbers(cells, label, blanks)), label


def _read_pair(
    x_name: str, x: Any, y_name: str, y: Any, blanks: Blanks
) -> tuple[FloatArray, Callable[[int], str], FloatArray, Callable[[int], str]]:
    """Both series read in one pass: error cells (x, then y), cell rules, then lengths."""
    _check_blanks(blanks)
    x_convert, x_label = _screened(x_name, x)
    y_convert, y_label = _screened(y_name, y)
    x_out, y_out = x_convert(blanks), y_convert(blanks)
    _same_length(x_name, x_out, y_name, y_out)
    return x_out, x_label, y_out, y_label


# ---------------------------------------------------------------- public readers


def scalar_number(
    name: str, value: Any, *, required: bool = True, default: D = None
) -> float | D:
    """Read one cell as a finite number.

    Parameters
    ----------
    name : str
        The argument's name, used in messages (carry units: ``notional_usd``).
    value : object
        The cell value, or a 1x1 range.
    required : bool, default True
        Whether a blank cell is an error.
    default : object, default None
        Returned for a blank cell when ``required`` is False (not checked).

    Returns
    -------
    float
        The number (or ``default``).

    Raises
    ------
    CellError
        ``#VALUE!`` for a required blank, text (numeric text included), a boolean,
        a date or a range larger than one cell; ``#NUM!`` for NaN or an infinity;
        the cell's own code for an error cell.

    Notes
    -----
    A blank is never read as 0: a missing notional or price must not size a hedge.

    Examples
    --------
    >>> scalar_number("notional_usd", [[250000]])
    250000.0
    >>> scalar_number("funding_rate_8h", None, required=False, default=0.0001)
    0.0001
    """
    cell = _single(name, value)
    if _is_blank(cell):
        return _blank(name, required, default)
    _reject_error(name, cell)
    return _number(name, cell)


def scalar_int(
    name: str,
    value: Any,
    *,
    required: bool = True,
    default: D = None,
    minimum: int | None = None,
) -> int | D:
    """Read one cell as a whole number.

    Parameters
    ----------
    name : str
        The argument's name, used in messages.
    value : object
        The cell value, or a 1x1 range.
    required : bool, default True
        Whether a blank cell is an error.
    default : object, default None
        Returned for a blank cell when ``required`` is False (not checked).
    minimum : int, optional
        Smallest allowed value; no lower bound when omitted.

    Returns
    -------
    int
        The whole number (``3.0`` reads as ``3``), or ``default``.

    Raises
    ------
    CellError
        As :func:`scalar_number`, plus ``#NUM!`` for a number with a fractional
        part or one below ``minimum``.

    Notes
    -----
    Excel stores every number as a float, so a whole float is accepted.

    Examples
    --------
    >>> scalar_int("window_days", 90.0, minimum=2)
    90
    """
    cell = _single(name, value)
    if _is_blank(cell):
        return _blank(name, required, default)
    _reject_error(name, cell)
    number = _number(name, cell)
    # Without a minimum, the value's own floor lets only the whole-number rule apply.
    floor = minimum if minimum is not None else math.floor(number)
    try:
        return positive_int(name, number, minimum=floor)
    except BetaNeutralError as exc:
        raise _as_cell_error(exc) from exc


def scalar_text(name: str, value: Any, *, required: bool = True, default: D = None) -> str | D:
    """Read one cell as text, stripped of surrounding spaces.

    Parameters
    ----------
    name : str
        The argument's name, used in messages.
    value : object
        The cell value, or a 1x1 range.
    required : bool, default True
        Whether a blank cell (or one of spaces only) is an error.
    default : object, default None
        Returned for a blank cell when ``required`` is False (not checked).

    Returns
    -------
    str
        The stripped text (or ``default``).

    Raises
    ------
    CellError
        ``#VALUE!`` for a required blank, a number, a boolean, a date or a range
        larger than one cell; the cell's own code for an error cell.

    Notes
    -----
    A name is matched by the core (case-insensitively); this only checks the type.

    Examples
    --------
    >>> scalar_text("method", "  Blume ")
    'Blume'
    """
    cell = _single(name, value)
    if _is_blank(cell):
        return _blank(name, required, default)
    _reject_error(name, cell)
    if not isinstance(cell, str):
        raise CellError("#VALUE!", f"{name} must be text, got {_fmt(cell)}")
    text = str(cell.strip())
    return text if text else _blank(name, required, default)


def scalar_bool(name: str, value: Any, *, default: bool | None) -> bool:
    """Read one cell as TRUE or FALSE.

    Parameters
    ----------
    name : str
        The argument's name, used in messages.
    value : object
        The cell value, or a 1x1 range.
    default : bool or None
        Returned for a blank cell; ``None`` makes the argument required.

    Returns
    -------
    bool
        The flag.

    Raises
    ------
    CellError
        ``#VALUE!`` for a required blank, a number other than 1 or 0, text other
        than TRUE/FALSE, a date or a range larger than one cell; the cell's own
        code for an error cell.

    Notes
    -----
    Accepted: booleans, the numbers 1 and 0, and the text ``"TRUE"``/``"FALSE"``
    in any case.

    Examples
    --------
    >>> scalar_bool("annualise", "true", default=False)
    True
    >>> scalar_bool("annualise", None, default=False)
    False
    """
    cell = _single(name, value)
    if _is_blank(cell):
        return _blank(name, default is None, default)
    _reject_error(name, cell)
    if isinstance(cell, bool | np.bool_):
        return bool(cell)
    if isinstance(cell, str):
        word = cell.strip().upper()
        if word in ("TRUE", "FALSE"):
            return word == "TRUE"
    elif isinstance(cell, Real) and cell in (0, 1):
        return bool(cell == 1)
    raise CellError("#VALUE!", f"{name} must be TRUE or FALSE (or 1 or 0), got {_fmt(cell)}")


def column(name: str, value: Any) -> list[Any]:
    """Flatten a single row, a single column or a single cell to a list of raw cell values.

    Parameters
    ----------
    name : str
        The argument's name, used in messages.
    value : object
        A cell, a flat list, a list of 1-element rows, a 1xN list of rows, or a
        numpy array of 1 or 2 dimensions.

    Returns
    -------
    list
        The cell values in reading order (currency ``Decimal`` cells as floats).

    Raises
    ------
    CellError
        ``#VALUE!`` for a block with more than one row and more than one column,
        a ragged or deeper-nested list.

    Notes
    -----
    A flat list is read as a single column.

    Examples
    --------
    >>> column("asset_prices", [[1.0], [None], [2.0]])
    [1.0, None, 2.0]
    >>> column("asset_prices", [[1.0, 2.0]])
    [1.0, 2.0]
    """
    return _line(name, value)[0]


def number_column(name: str, value: Any, *, blanks: Blanks = "missing") -> FloatArray:
    """Read a single row or column of numbers; blanks become NaN (missing).

    Parameters
    ----------
    name : str
        The argument's name, used in messages (``asset_returns``).
    value : object
        A range accepted by :func:`column`.
    blanks : {"missing", "required"}, default "missing"
        ``"missing"``: a blank is NaN, to be dropped pair-wise like SLOPE does;
        ``"required"``: a blank is ``#VALUE!``.

    Returns
    -------
    numpy.ndarray
        1-D float64 array, one entry per cell; no infinities, NaN only for blanks.

    Raises
    ------
    CellError
        The first error cell's own code; otherwise, for the first offending cell,
        ``#VALUE!`` for text (numeric text included), a boolean or a date, and
        ``#NUM!`` for NaN or an infinity passed from Python; ``#VALUE!`` for a
        block. Messages give the 1-based position within the range.

    Notes
    -----
    Stricter than SLOPE, which skips text and booleans: skipping a cell in one
    series would misalign it against the other, so it is refused instead.

    Examples
    --------
    >>> number_column("btc_returns", [[0.01], [None], [-0.02]])
    array([ 0.01,   nan, -0.02])
    """
    return _read_column(name, value, blanks)[0]


def _read_column(name: str, value: Any, blanks: Blanks
                 ) -> tuple[FloatArray, Callable[[int], str]]:
    """A series read by the rules of :func:`number_column`, and its position labels."""
    _check_blanks(blanks)
    convert, label = _screened(name, value)
    return convert(blanks), label


def paired_columns(
    x_name: str, x: Any, y_name: str, y: Any, *, blanks: Blanks = "missing"
) -> tuple[FloatArray, FloatArray]:
    """Read two series that must pair up observation by observation.

    Parameters
    ----------
    x_name, y_name : str
        The arguments' names, used in messages.
    x, y : object
        Ranges accepted by :func:`number_column`.
    blanks : {"missing", "required"}, default "missing"
        As in :func:`number_column`.

    Returns
    -------
    tuple of numpy.ndarray
        ``(x, y)`` as float64 arrays of equal length.

    Raises
    ------
    CellError
        The first error cell's code (``x`` searched first, then ``y``); then the
        rules of :func:`number_column` for ``x``, then ``y``; ``#N/A`` when the
        lengths differ, like SLOPE.

    Notes
    -----
    Blanks are kept as NaN in place so that the pairs stay aligned.

    Examples
    --------
    >>> paired_columns("btc_returns", [0.01, 0.02], "asset_returns", [0.03, None])
    (array([0.01, 0.02]), array([0.03,  nan]))
    """
    x_out, _, y_out, _ = _read_pair(x_name, x, y_name, y, blanks)
    return x_out, y_out


def paired_prices(
    x_name: str, x: Any, y_name: str, y: Any, *, blanks: Blanks = "missing"
) -> tuple[FloatArray, FloatArray]:
    """Read two price series that pair up observation by observation, in one pass.

    Parameters
    ----------
    x_name, y_name : str
        The arguments' names, with their currency (``asset_prices``).
    x, y : object
        Ranges accepted by :func:`number_column`.
    blanks : {"missing", "required"}, default "missing"
        As in :func:`number_column`.

    Returns
    -------
    tuple of numpy.ndarray
        ``(x, y)`` as float64 arrays of equal length; NaN marks a missing price.

    Raises
    ------
    CellError
        As :func:`paired_columns` (error cells first, ``x`` then ``y``; then the
        cell rules; then ``#N/A`` for different lengths), then ``#NUM!`` for the
        first present price <= 0 in ``x``, then in ``y``.

    Notes
    -----
    The same outcome as :func:`paired_columns` followed by :func:`price_column`
    on each series, with every cell read once.

    Examples
    --------
    >>> paired_prices("asset_prices", [10.0, None, 12.0], "btc_prices", [100.0, 101.0, 99.0])
    (array([10., nan, 12.]), array([100., 101.,  99.]))
    """
    x_out, x_label, y_out, y_label = _read_pair(x_name, x, y_name, y, blanks)
    _check_prices(x_out, x_label)
    _check_prices(y_out, y_label)
    return x_out, y_out


def price_column(name: str, value: Any, *, blanks: Blanks = "missing") -> FloatArray:
    """Read a series of prices: as :func:`number_column`, and present prices must be > 0.

    Parameters
    ----------
    name : str
        The argument's name, with its currency (``btc_prices_usd``).
    value : object
        A range accepted by :func:`number_column`.
    blanks : {"missing", "required"}, default "missing"
        As in :func:`number_column`.

    Returns
    -------
    numpy.ndarray
        1-D float64 array of prices; NaN marks a missing price.

    Raises
    ------
    CellError
        As :func:`number_column`, plus ``#NUM!`` for the first present price <= 0.

    Notes
    -----
    Missing prices stay NaN: nothing is filled here.

    Examples
    --------
    >>> price_column("btc_prices_usd", [29000.0, None, 29500.0])
    array([29000.,    nan, 29500.])
    """
    prices, label = _read_column(name, value, blanks)
    _check_prices(prices, label)
    return prices


def number_block(name: str, value: Any, *, blanks: Blanks = "missing") -> FloatArray:
    """Read a rectangular block of numbers (one series per column).

    Parameters
    ----------
    name : str
        The argument's name, used in messages.
    value : object
        A list of rows, a 2-D numpy array, a flat list (read as one column) or a cell.
    blanks : {"missing", "required"}, default "missing"
        As in :func:`number_column`.

    Returns
    -------
    numpy.ndarray
        2-D float64 array of shape ``(rows, columns)``.

    Raises
    ------
    CellError
        As :func:`number_column` cell by cell (row by row in reading order), with
        positions given as row and column; ``#VALUE!`` for a ragged list.

    Notes
    -----
    The same cell rules as :func:`number_column`.

    Examples
    --------
    >>> number_block("asset_prices", [[1.0, 2.0], [None, 4.0]])
    array([[ 1.,  2.],
           [nan,  4.]])
    """
    rows = _grid(name, value)
    n_rows, n_cols = _shape(rows)
    cells = [c for row in rows for c in row]

    def label(i: int) -> str:
        return f"{name} (row {i // n_cols + 1}, column {i % n_cols + 1})"

    _raise_first_error(cells, label)
    return _numbers(cells, label, blanks).reshape(n_rows, n_cols)


def price_block(name: str, value: Any, columns: Any = None) -> FloatArray:
    """Read columns of a block of prices (one series per column); blanks become NaN.

    Parameters
    ----------
    name : str
        The argument's name, used in messages.
    value : object
        A list of rows, a 2-D numpy array, a flat list (read as one column) or a cell.
    columns : sequence of int, optional
        0-based columns to read, in this order (default all). The other columns are
        not read: their cells may hold anything.

    Returns
    -------
    numpy.ndarray
        2-D float64 array of shape ``(rows, len(columns))``; NaN marks a missing price.

    Raises
    ------
    CellError
        As :func:`number_block` for the cells read (row by row in reading order, with
        positions given as row and column of ``value``), then ``#NUM!`` for the first
        present price <= 0, column by column.

    Notes
    -----
    A block whose cells read are all finite floats, positive whole numbers or blanks
    (``None``), which is what Excel passes for a range of prices, is converted at
    once; any other block cell by cell with the rules of :func:`number_column`.

    Examples
    --------
    >>> price_block("universe", [[1.0, "x", 2.0], [None, "y", 4.0]], [2, 0])
    array([[ 2.,  1.],
           [ 4., nan]])
    """
    if (isinstance(value, list | tuple) and value
            and all(isinstance(row, list | tuple) for row in value)
            and len(set(map(len, value))) == 1):
        rows = value  # a rectangular list of rows: only the cells read are looked at
    else:
        rows = _grid(name, value)
    n_rows, n_cols = _shape(rows)
    picked = list(range(n_cols)) if columns is None else [int(c) for c in columns]
    cells = [[row[j] for j in picked] for row in rows]
    kinds = {type(c) for row in cells for c in row}
    out = None
    if kinds <= {float, int, type(None)}:
        out = np.array(cells, dtype=np.float64).reshape(n_rows, len(picked))
        blanks = sum(row.count(None) for row in cells)
        if np.isinf(out).any() or int(np.isnan(out).sum()) != blanks \
                or (int in kinds and (out < 0.0).any()):
            # a NaN or infinite float, or a negative whole number (which may be an error
            # code): read cell by cell for its message
            out = None
    if out is None:
        flat = [_normalise(c) for row in cells for c in row]
        width = max(len(picked), 1)

        def label(i: int) -> str:
            return f"{name} (row {i // width + 1}, column {picked[i % width] + 1})"

        _raise_first_error(flat, label)
        out = _numbers(flat, label, "missing").reshape(n_rows, len(picked))
    for k, j in enumerate(picked):
        _check_prices(out[:, k], lambda i, j=j: f"{name} (row {i + 1}, column {j + 1})")
    return out
