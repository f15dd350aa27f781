"""Tests of betaneutral.cells: the cell coercion table, error mapping and excel_function.

Expected outcomes are the coercion policy written out row by row (see the
module docstring of betaneutral.cells), with Excel's conventions from
Microsoft's function reference: SLOPE returns #N/A for inputs of different
sizes (https://support.microsoft.com/office/slope-function-11fb8f97-3117-4813-98aa-61d7e01276b9),
NORM.DIST returns #VALUE! for a non-numeric argument and #NUM! for one out of
its domain (https://support.microsoft.com/office/norm-dist-function-edb1cc14-a21c-4e53-839d-8082074c9f8d).
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import math
import pickle
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from betaneutral.cells import (
    COM_ERROR_CODES,
    EXCEL_ERRORS,
    CellError,
    column,
    error_code,
    excel_function,
    number_block,
    number_column,
    paired_columns,
    price_column,
    scalar_bool,
    scalar_int,
    scalar_number,
    scalar_text,
)
from betaneutral.errors import (
    BetaNeutralError,
    DegenerateDataError,
    DomainError,
    InputTypeError,
    InsufficientDataError,
    UnknownNameError,
)

# Excel's error values, written out from the XlCVError enumeration
# (https://learn.microsoft.com/office/vba/api/excel.xlcverror) plus #BUSY! and #EXTERNAL!
# (listed with the others in GrapeCity's CalcError enumeration,
# https://developer.mescius.com/spreadnet/docs/online-win/GrapeCity.CalcEngine~GrapeCity.CalcEngine.CalcError.html).
# XlCVError number -> the text Excel shows.
XLCVERROR = {
    2000: "#NULL!",
    2007: "#DIV/0!",
    2015: "#VALUE!",
    2023: "#REF!",
    2029: "#NAME?",
    2036: "#NUM!",
    2042: "#N/A",
    2043: "#GETTING_DATA",
    2045: "#SPILL!",
    2046: "#CONNECT!",
    2047: "#BLOCKED!",
    2048: "#UNKNOWN!",
    2049: "#FIELD!",
    2050: "#CALC!",
}
ERROR_STRINGS = sorted({*XLCVERROR.values(), "#BUSY!", "#EXTERNAL!"})

# COM (pywin32) values of error cells, as written in xlwings' own table
# (xlwings/_xlwindows.py, `cell_errors`, xlwings 0.37.8) for the seven classic codes,
# and the #GETTING_DATA value observed by Excel-DNA's test suite (-2146826245).
COM_OBSERVED = {
    -2146826281: "#DIV/0!",
    -2146826246: "#N/A",
    -2146826259: "#NAME?",
    -2146826288: "#NULL!",
    -2146826252: "#NUM!",
    -2146826265: "#REF!",
    -2146826273: "#VALUE!",
    -2146826245: "#GETTING_DATA",
}


@dataclass(frozen=True)
class Err:
    """The outcome "raises CellError with this code"."""

    code: str


VALUE = Err("#VALUE!")
NUM = Err("#NUM!")
NA = Err("#N/A")
nan = math.nan
inf = math.inf


def outcome(read: Any, value: Any) -> Any:
    """The value ``read(value)`` returns, or Err(code) for a CellError."""
    try:
        return read(value)
    except CellError as exc:
        return Err(exc.code)


def assert_same(got: Any, expected: Any) -> None:
    """Equality that also matches NaN with NaN and checks int/float/bool types."""
    if isinstance(expected, float) and math.isnan(expected):
        assert isinstance(got, float)
        assert math.isnan(got)
    else:
        assert got == expected
        assert type(got) is type(expected)


def _series_second(value: Any) -> Any:
    """Read [[0.5], [value]] as a series and return the second entry."""
    out = number_column("asset_returns", [[0.5], [value]])
    assert out.shape == (2,)
    assert out[0] == 0.5
    return float(out[1])


READERS = {
    "series": _series_second,
    "number": lambda v: scalar_number("notional_usd", v),
    "int": lambda v: scalar_int("window_days", v),
    "text": lambda v: scalar_text("method", v),
    "bool": lambda v: scalar_bool("annualise", v, default=None),
}
KINDS = list(READERS)

# fmt: off
# id, cell, then the outcome for: series, number, int, text, bool (required everywhere)
TABLE = [
    ("blank None",        None,                   nan,   VALUE,  VALUE, VALUE,   VALUE),
    ("empty string",      "",                     nan,   VALUE,  VALUE, VALUE,   VALUE),
    ("float 2.5",         2.5,                    2.5,   2.5,    NUM,   VALUE,   VALUE),
    ("float 0.0",         0.0,                    0.0,   0.0,    0,     VALUE,   False),
    ("float 1.0",         1.0,                    1.0,   1.0,    1,     VALUE,   True),
    ("float 2.0",         2.0,                    2.0,   2.0,    2,     VALUE,   VALUE),
    ("float -3.0",        -3.0,                   -3.0,  -3.0,   -3,    VALUE,   VALUE),
    ("int 7",             7,                      7.0,   7.0,    7,     VALUE,   VALUE),
    ("int 1",             1,                      1.0,   1.0,    1,     VALUE,   True),
    ("int 0",             0,                      0.0,   0.0,    0,     VALUE,   False),
    ("np.float64 2.5",    np.float64(2.5),        2.5,   2.5,    NUM,   VALUE,   VALUE),
    ("np.float32 0.5",    np.float32(0.5),        0.5,   0.5,    NUM,   VALUE,   VALUE),
    ("np.int64 4",        np.int64(4),            4.0,   4.0,    4,     VALUE,   VALUE),
    ("currency Decimal",  Decimal("29123.4567"),  29123.4567, 29123.4567, NUM, VALUE, VALUE),
    ("bool True",         True,                   VALUE, VALUE,  VALUE, VALUE,   True),
    ("bool False",        False,                  VALUE, VALUE,  VALUE, VALUE,   False),
    ("np.bool_ True",     np.True_,               VALUE, VALUE,  VALUE, VALUE,   True),
    ("datetime",          dt.datetime(2024, 1, 2), VALUE, VALUE, VALUE, VALUE,   VALUE),
    ("date",              dt.date(2024, 1, 2),    VALUE, VALUE,  VALUE, VALUE,   VALUE),
    ("np.datetime64",     np.datetime64("2024-01-02"), VALUE, VALUE, VALUE, VALUE, VALUE),
    ("text abc",          "abc",                  VALUE, VALUE,  VALUE, "abc",   VALUE),
    ("padded text",       "  Blume ",             VALUE, VALUE,  VALUE, "Blume", VALUE),
    ("spaces only",       "   ",                  VALUE, VALUE,  VALUE, VALUE,   VALUE),
    ("numeric text 1.5",  "1.5",                  VALUE, VALUE,  VALUE, "1.5",   VALUE),
    ("numeric text 1",    "1",                    VALUE, VALUE,  VALUE, "1",     VALUE),
    ("text TRUE",         "TRUE",                 VALUE, VALUE,  VALUE, "TRUE",  True),
    ("text ' false '",    " false ",              VALUE, VALUE,  VALUE, "false", False),
    ("text yes",          "yes",                  VALUE, VALUE,  VALUE, "yes",   VALUE),
    ("NaN",               nan,                    NUM,   NUM,    NUM,   VALUE,   VALUE),
    ("+inf",              inf,                    NUM,   NUM,    NUM,   VALUE,   VALUE),
    ("-inf",              -inf,                   NUM,   NUM,    NUM,   VALUE,   VALUE),
    ("np.float64 NaN",    np.float64("nan"),      NUM,   NUM,    NUM,   VALUE,   VALUE),
    ("Decimal NaN",       Decimal("NaN"),         NUM,   NUM,    NUM,   VALUE,   VALUE),
    ("Decimal sNaN",      Decimal("sNaN"),        NUM,   NUM,    NUM,   VALUE,   VALUE),
    ("int beyond float",  2**1100,                NUM,   NUM,    NUM,   VALUE,   VALUE),
    ("complex",           1 + 2j,                 VALUE, VALUE,  VALUE, VALUE,   VALUE),
]
# fmt: on


def _table_cases() -> list[Any]:
    cases = []
    for label, cell, *expected in TABLE:
        for kind, want in zip(KINDS, expected, strict=True):
            cases.append(pytest.param(kind, cell, want, id=f"{kind}-{label}"))
    return cases


@pytest.mark.parametrize(("kind", "cell", "expected"), _table_cases())
def test_coercion_table(kind: str, cell: Any, expected: Any) -> None:
    """Each cell kind gives exactly the value or error code of the policy table."""
    assert_same(outcome(READERS[kind], cell), expected)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("code", ERROR_STRINGS)
def test_error_cells_propagate_their_code(kind: str, code: str) -> None:
    """An error cell, as its string, makes every reader fail with that same code."""
    assert outcome(READERS[kind], code) == Err(code)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("com_value", "code"), sorted(COM_OBSERVED.items()))
def test_com_error_values_propagate_their_code(kind: str, com_value: int, code: str) -> None:
    """An error cell that arrives as its integer COM value reads as that error."""
    assert outcome(READERS[kind], com_value) == Err(code)


@pytest.mark.parametrize("cell", [-2146826246.0, np.int64(-2146826246)])
def test_com_error_rule_applies_to_plain_int_only(cell: Any) -> None:
    """A float or numpy integer equal to a COM error value is an ordinary number."""
    assert scalar_number("x", cell) == -2146826246.0


# fmt: off
# id, range, then the outcome for the scalar readers: number, int, text, bool
SCALAR_SHAPES = [
    ("1x1 list of rows",  [[1.0]],                1.0,   1,     VALUE, True),
    ("1-element list",    [1.0],                  1.0,   1,     VALUE, True),
    ("1x1 tuple",         ((1.0,),),              1.0,   1,     VALUE, True),
    ("1x1 ndarray",       np.array([[1.0]]),      1.0,   1,     VALUE, True),
    ("0-d ndarray",       np.array(0.0),          0.0,   0,     VALUE, False),
    ("1x1 of 3.0",        [[3.0]],                3.0,   3,     VALUE, VALUE),
    ("1x1 text",          [["ols"]],              VALUE, VALUE, "ols", VALUE),
    ("1x1 blank",         [[None]],               VALUE, VALUE, VALUE, VALUE),
    ("1x1 error",         [["#REF!"]],            Err("#REF!"), Err("#REF!"), Err("#REF!"),
                                                  Err("#REF!")),
    ("2x2 block",         [[1.0, 2.0], [3.0, 4.0]], VALUE, VALUE, VALUE, VALUE),
    ("flat pair",         [1.0, 1.0],             VALUE, VALUE, VALUE, VALUE),
    ("1x2 row",           [[1.0, 1.0]],           VALUE, VALUE, VALUE, VALUE),
    ("2x1 column",        [[1.0], [1.0]],         VALUE, VALUE, VALUE, VALUE),
    ("empty list",        [],                     VALUE, VALUE, VALUE, VALUE),
]
# fmt: on


def _scalar_shape_cases() -> list[Any]:
    cases = []
    for label, value, *expected in SCALAR_SHAPES:
        for kind, want in zip(["number", "int", "text", "bool"], expected, strict=True):
            cases.append(pytest.param(kind, value, want, id=f"{kind}-{label}"))
    return cases


@pytest.mark.parametrize(("kind", "value", "expected"), _scalar_shape_cases())
def test_scalar_shapes(kind: str, value: Any, expected: Any) -> None:
    """A 1x1 range is unwrapped; any other range is #VALUE! for a scalar argument."""
    assert_same(outcome(READERS[kind], value), expected)


# fmt: off
SERIES_SHAPES = [
    ("scalar",               2.5,                          [2.5]),
    ("1x1 list of rows",     [[2.5]],                      [2.5]),
    ("1-element flat list",  [2.5],                        [2.5]),
    ("flat list",            [1.0, None, 3.0],             [1.0, nan, 3.0]),
    ("column of 1-lists",    [[1.0], [None], [3.0]],       [1.0, nan, 3.0]),
    ("1xN row",              [[1.0, None, 3.0]],           [1.0, nan, 3.0]),
    ("tuple column",         ((1.0,), ("",), (3.0,)),      [1.0, nan, 3.0]),
    ("1-D ndarray",          np.array([1.0, 3.0]),         [1.0, 3.0]),
    ("Nx1 ndarray",          np.array([[1.0], [3.0]]),     [1.0, 3.0]),
    ("1xN ndarray",          np.array([[1.0, 3.0]]),       [1.0, 3.0]),
    ("object ndarray",       np.array([1.0, None], dtype=object), [1.0, nan]),
    ("0-d ndarray",          np.array(2.5),                [2.5]),
    ("empty",                [],                           []),
    ("only blanks",          [None, ""],                   [nan, nan]),
    ("2x2 block",            [[1.0, 2.0], [3.0, 4.0]],     VALUE),
    ("2x2 ndarray",          np.ones((2, 2)),              VALUE),
    ("ragged rows",          [[1.0], [2.0, 3.0]],          VALUE),
    ("cells mixed with rows", [1.0, [2.0]],                VALUE),
    ("3-D list",             [[[1.0]]],                    VALUE),
    ("3-D ndarray",          np.ones((1, 1, 1)),           VALUE),
]
# fmt: on


@pytest.mark.parametrize(
    ("value", "expected"), [pytest.param(v, e, id=i) for i, v, e in SERIES_SHAPES]
)
def test_series_shapes(value: Any, expected: Any) -> None:
    """A cell, a row or a column reads as a 1-D float array; a block or ragged list is #VALUE!."""
    got = outcome(lambda v: number_column("btc_returns", v), value)
    if isinstance(expected, Err):
        assert got == expected
    else:
        assert got.dtype == np.float64
        assert got.ndim == 1
        np.testing.assert_array_equal(got, np.array(expected, dtype=np.float64))


def test_column_returns_raw_cells_in_reading_order() -> None:
    """column() flattens a row or a column without converting the cells."""
    stamp = dt.date(2024, 1, 2)
    assert column("dates", [[stamp], ["x"], [None]]) == [stamp, "x", None]
    assert column("labels", [["BTC", "ETH", 3.0]]) == ["BTC", "ETH", 3.0]
    assert column("labels", "BTC") == ["BTC"]
    assert column("prices", [Decimal("1.25")]) == [1.25]
    assert outcome(lambda v: column("labels", v), [["a", "b"], ["c", "d"]]) == VALUE


def test_column_block_message_names_the_shape() -> None:
    """A block passed as a column is refused with its shape in the message."""
    with pytest.raises(
        CellError, match=r"^asset_prices must be a single row or a single column, got a 2x3 range$"
    ):
        column("asset_prices", [[1, 2, 3], [4, 5, 6]])


# ---------------------------------------------------------------- messages


def test_blank_required_scalar_message() -> None:
    """A required blank scalar names the argument and the rule."""
    with pytest.raises(CellError, match=r"^notional_usd is required \(blank cell\)$") as info:
        scalar_number("notional_usd", None)
    assert info.value.code == "#VALUE!"


@pytest.mark.parametrize(
    ("read", "value", "code", "pattern"),
    [
        pytest.param(
            lambda v: number_column("asset_returns", v),
            [[0.1], [None], ["abc"]],
            "#VALUE!",
            r"^asset_returns \(row 3\) must be a number \(text is never converted\), got 'abc'$",
            id="text in a column",
        ),
        pytest.param(
            lambda v: number_column("asset_returns", v),
            [[0.1, True]],
            "#VALUE!",
            r"^asset_returns \(column 2\) must be a number, got True$",
            id="boolean in a row",
        ),
        pytest.param(
            lambda v: number_column("asset_returns", v),
            [0.1, dt.date(2024, 1, 2)],
            "#VALUE!",
            r"^asset_returns \(row 2\) must be a number, got datetime\.date\(2024, 1, 2\)$",
            id="date in a column",
        ),
        pytest.param(
            lambda v: number_column("btc_returns", v),
            [1.0, "#DIV/0!"],
            "#DIV/0!",
            r"^btc_returns \(row 2\) must not be an error cell, got #DIV/0!$",
            id="error cell",
        ),
        pytest.param(
            lambda v: number_column("btc_returns", v),
            [1.0, 2.0, nan],
            "#NUM!",
            r"^btc_returns \(row 3\) must be finite, got nan$",
            id="NaN",
        ),
        pytest.param(
            lambda v: number_column("btc_returns", v, blanks="required"),
            [1.0, None],
            "#VALUE!",
            r"^btc_returns \(row 2\) is required \(blank cell\)$",
            id="blank where required",
        ),
        pytest.param(
            lambda v: number_block("asset_prices", v),
            [[1.0, 2.0], [3.0, "x"]],
            "#VALUE!",
            r"^asset_prices \(row 2, column 2\) must be a number",
            id="block position",
        ),
        pytest.param(
            lambda v: scalar_number("notional_usd", v),
            [[1.0, 2.0], [3.0, 4.0]],
            "#VALUE!",
            r"^notional_usd must be a single cell, got a 2x2 range$",
            id="scalar given a block",
        ),
        pytest.param(
            lambda v: scalar_number("notional_usd", v),
            "1.5",
            "#VALUE!",
            r"^notional_usd must be a number \(text is never converted\), got '1\.5'$",
            id="numeric text scalar",
        ),
        pytest.param(
            lambda v: scalar_number("notional_usd", v),
            2**1100,
            "#NUM!",
            r"^notional_usd must be finite, got a number beyond the float range$",
            id="int beyond float",
        ),
        pytest.param(
            lambda v: scalar_int("window_days", v),
            2.5,
            "#NUM!",
            r"^window_days must be a whole number, got 2\.5$",
            id="non-whole int",
        ),
        pytest.param(
            lambda v: scalar_int("window_days", v, minimum=2),
            1,
            "#NUM!",
            r"^window_days must be >= 2, got 1$",
            id="int below minimum",
        ),
        pytest.param(
            lambda v: scalar_text("method", v),
            1.5,
            "#VALUE!",
            r"^method must be text, got 1\.5$",
            id="number as text",
        ),
        pytest.param(
            lambda v: scalar_bool("annualise", v, default=False),
            2.0,
            "#VALUE!",
            r"^annualise must be TRUE or FALSE \(or 1 or 0\), got 2\.0$",
            id="number as bool",
        ),
        pytest.param(
            lambda v: price_column("btc_prices_usd", v),
            [100.0, None, 0.0],
            "#NUM!",
            r"^btc_prices_usd \(row 3\) must be > 0, got 0\.0$",
            id="zero price",
        ),
        pytest.param(
            lambda v: number_column("asset_returns", v),
            [[1.0], [2.0, 3.0]],
            "#VALUE!",
            r"^asset_returns must be a rectangular range, got rows of lengths \[1, 2\]$",
            id="ragged",
        ),
    ],
)
def test_messages_name_argument_position_rule_and_value(
    read: Any, value: Any, code: str, pattern: str
) -> None:
    """Every CellError message names the argument, the 1-based position, the rule and the value."""
    with pytest.raises(CellError, match=pattern) as info:
        read(value)
    assert info.value.code == code


# ---------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    ("cells", "code"),
    [
        pytest.param(["abc", None, "#N/A"], "#N/A", id="error beats earlier text"),
        pytest.param([nan, "#REF!"], "#REF!", id="error beats earlier NaN"),
        pytest.param(["#DIV/0!", "#N/A"], "#DIV/0!", id="first error wins"),
        pytest.param([nan, "abc"], "#NUM!", id="first offence: NaN"),
        pytest.param(["abc", nan], "#VALUE!", id="first offence: text"),
        pytest.param([1.0, -2146826243, "#N/A"], "#SPILL!", id="COM value counts as error"),
    ],
)
def test_series_precedence(cells: list[Any], code: str) -> None:
    """Error cells win (the first one); otherwise the first offending cell decides."""
    assert outcome(lambda v: number_column("r", v), cells) == Err(code)


# ---------------------------------------------------------------- paired, price, block


def test_paired_columns_keeps_blanks_in_place() -> None:
    """Blanks stay NaN in place, so a row and a column of equal length pair up."""
    x, y = paired_columns("btc_returns", [[0.01, 0.02, 0.03]], "asset_returns", [[4], [None], [6]])
    np.testing.assert_array_equal(x, [0.01, 0.02, 0.03])
    np.testing.assert_array_equal(y, [4.0, nan, 6.0])


def test_paired_columns_mismatched_lengths_is_na() -> None:
    """Series of different lengths give #N/A, like SLOPE."""
    with pytest.raises(
        CellError,
        match=r"^btc_returns and asset_returns must have the same number of cells, got 3 and 2$",
    ) as info:
        paired_columns("btc_returns", [1.0, 2.0, 3.0], "asset_returns", [1.0, 2.0])
    assert info.value.code == "#N/A"


@pytest.mark.parametrize(
    ("x", "y", "code"),
    [
        pytest.param([1.0, "abc"], [1.0, "#N/A"], "#N/A", id="error in y beats text in x"),
        pytest.param([1.0, "abc"], [1.0, 2.0], "#VALUE!", id="text in x"),
        pytest.param([1.0, 2.0], [1.0, inf], "#NUM!", id="inf in y"),
        pytest.param([1.0, "abc", 3.0], [1.0, 2.0], "#VALUE!", id="content before length"),
        pytest.param([[1.0, 2.0], [3.0, 4.0]], [1.0], "#VALUE!", id="block"),
    ],
)
def test_paired_columns_errors(x: Any, y: Any, code: str) -> None:
    """paired_columns applies the series rules to both inputs, errors first."""
    assert outcome(lambda _: paired_columns("btc_returns", x, "asset_returns", y), None) == Err(
        code
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param([100.0, None, 101.5], [100.0, nan, 101.5], id="blank is missing"),
        pytest.param([[29000.0], [Decimal("29100.25")]], [29000.0, 29100.25], id="currency"),
        pytest.param([100.0, 0.0], NUM, id="zero"),
        pytest.param([100.0, -5.0], NUM, id="negative"),
        pytest.param([100.0, "#N/A"], NA, id="error cell"),
        pytest.param([100.0, "101"], VALUE, id="numeric text"),
        pytest.param([-1.0, "#REF!"], Err("#REF!"), id="error beats domain"),
        pytest.param([100.0, inf], NUM, id="infinite"),
    ],
)
def test_price_column(value: Any, expected: Any) -> None:
    """Prices follow the series rules and a present price must be > 0."""
    got = outcome(lambda v: price_column("btc_prices_usd", v), value)
    if isinstance(expected, Err):
        assert got == expected
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param([[1.0, None], [3.0, 4.0]], [[1.0, nan], [3.0, 4.0]], id="2x2 with blank"),
        pytest.param([1.0, 2.0], [[1.0], [2.0]], id="flat list is a column"),
        pytest.param([[1.0, 2.0]], [[1.0, 2.0]], id="one row"),
        pytest.param(5.0, [[5.0]], id="scalar"),
        pytest.param(np.array([[1, 2], [3, 4]]), [[1.0, 2.0], [3.0, 4.0]], id="int ndarray"),
        pytest.param([[1.0, 2.0], [3.0]], VALUE, id="ragged"),
        pytest.param([[1.0, 2.0], [False, 4.0]], VALUE, id="boolean"),
        pytest.param([[1.0, "#NAME?"], ["x", 4.0]], Err("#NAME?"), id="error cell"),
        pytest.param([[1.0, 2.0], [3.0, nan]], NUM, id="NaN"),
    ],
)
def test_number_block(value: Any, expected: Any) -> None:
    """A block reads as a 2-D float array under the series cell rules."""
    got = outcome(lambda v: number_block("asset_prices", v), value)
    if isinstance(expected, Err):
        assert got == expected
    else:
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, np.array(expected, dtype=np.float64))


def test_number_block_empty_has_shape_0x0() -> None:
    """An empty list reads as an empty 0x0 block."""
    assert number_block("asset_prices", []).shape == (0, 0)


# ---------------------------------------------------------------- optional scalars


@pytest.mark.parametrize(
    ("read", "value", "expected"),
    [
        pytest.param(
            lambda v: scalar_number("funding_rate_8h", v, required=False, default=0.0001),
            None,
            0.0001,
            id="number None",
        ),
        pytest.param(
            lambda v: scalar_number("funding_rate_8h", v, required=False, default=0.0001),
            [[""]],
            0.0001,
            id="number 1x1 empty string",
        ),
        pytest.param(
            lambda v: scalar_number("funding_rate_8h", v, required=False),
            "",
            None,
            id="number default None",
        ),
        pytest.param(
            lambda v: scalar_number("funding_rate_8h", v, required=False, default=0.0),
            "abc",
            VALUE,
            id="optional still rejects text",
        ),
        pytest.param(
            lambda v: scalar_int("window_days", v, required=False, default=90, minimum=2),
            None,
            90,
            id="int default",
        ),
        pytest.param(
            lambda v: scalar_text("method", v, required=False, default="ols"),
            "   ",
            "ols",
            id="text spaces only",
        ),
        pytest.param(
            lambda v: scalar_bool("annualise", v, default=True), None, True, id="bool default True"
        ),
        pytest.param(
            lambda v: scalar_bool("annualise", v, default=False), "", False, id="bool default False"
        ),
        pytest.param(
            lambda v: scalar_bool("annualise", v, default=True), False, False, id="bool given"
        ),
    ],
)
def test_optional_scalars(read: Any, value: Any, expected: Any) -> None:
    """An optional scalar returns its default for a blank and still checks a present value."""
    assert_same(outcome(read, value), expected)


@pytest.mark.parametrize(
    ("value", "minimum", "expected"),
    [
        pytest.param(-3.0, None, -3, id="no minimum: negative whole"),
        pytest.param(2.0, 2, 2, id="equal to minimum"),
        pytest.param(1e20, 1, 10**20, id="large whole float"),
        pytest.param(0.0, 1, NUM, id="below minimum"),
        pytest.param(-0.5, None, NUM, id="no minimum: still whole"),
    ],
)
def test_scalar_int_minimum(value: float, minimum: int | None, expected: Any) -> None:
    """scalar_int checks wholeness always and the minimum only when given."""
    assert_same(outcome(lambda v: scalar_int("n", v, minimum=minimum), value), expected)


# ---------------------------------------------------------------- constants and CellError


def test_excel_errors_are_exactly_excels_error_values() -> None:
    """EXCEL_ERRORS holds every Excel error value and nothing else."""
    assert frozenset(ERROR_STRINGS) == EXCEL_ERRORS
    assert len(EXCEL_ERRORS) == 16


def test_com_error_codes_follow_the_com_rule() -> None:
    """Each COM value is -2146828288 + its XlCVError number, and matches observed values."""
    expected = {-2146828288 + number: text for number, text in XLCVERROR.items()}
    # e.g. #N/A: -2146828288 + 2042 = -2146826246
    assert expected[-2146826246] == "#N/A"
    assert dict(COM_ERROR_CODES) == expected
    assert COM_OBSERVED.items() <= dict(COM_ERROR_CODES).items()


def test_cell_error_carries_code_and_message() -> None:
    """CellError exposes its code and message, prints the message and survives pickling."""
    exc = CellError("#SPILL!", "x (row 2) must not be an error cell, got #SPILL!")
    assert exc.code == "#SPILL!"
    assert str(exc) == exc.message == "x (row 2) must not be an error cell, got #SPILL!"
    assert isinstance(exc, BetaNeutralError)
    copy = pickle.loads(pickle.dumps(exc))
    assert (copy.code, str(copy)) == (exc.code, str(exc))


def test_cell_error_rejects_an_unknown_code() -> None:
    """A CellError must carry one of Excel's error values."""
    with pytest.raises(ValueError, match="must be an Excel error code"):
        CellError("#OOPS!", "x")


# ---------------------------------------------------------------- error mapping


MAPPED = [
    pytest.param(InputTypeError("x must be a number, got 'a'"), "#VALUE!", id="InputTypeError"),
    pytest.param(DomainError("x must be > 0, got 0.0"), "#NUM!", id="DomainError"),
    pytest.param(InsufficientDataError("need 3 pairs, got 2"), "#N/A", id="InsufficientData"),
    pytest.param(DegenerateDataError("btc variance is 0"), "#DIV/0!", id="DegenerateDataError"),
    pytest.param(UnknownNameError("method must be one of ['ols']"), "#N/A", id="UnknownName"),
    pytest.param(CellError("#SPILL!", "x is #SPILL!"), "#SPILL!", id="CellError"),
]
UNMAPPED = [
    pytest.param(RuntimeError("bug"), id="RuntimeError"),
    pytest.param(ValueError("bug"), id="ValueError"),
    pytest.param(TypeError("bug"), id="TypeError"),
    pytest.param(KeyError("bug"), id="KeyError"),
    pytest.param(LookupError("bug"), id="LookupError"),
    pytest.param(ZeroDivisionError("bug"), id="ZeroDivisionError"),
    pytest.param(BetaNeutralError("bare base class"), id="BetaNeutralError"),
]


@pytest.mark.parametrize(("exc", "code"), MAPPED)
def test_error_code_maps_known_errors(exc: BaseException, code: str) -> None:
    """Each BetaNeutral error class maps to its Excel error code."""
    assert error_code(exc) == code


@pytest.mark.parametrize("exc", UNMAPPED)
def test_error_code_leaves_unexpected_errors_unmapped(exc: BaseException) -> None:
    """Built-in errors (even the bases of ours) and the bare base class map to None."""
    assert error_code(exc) is None


def _raising(exc: BaseException) -> Any:
    @excel_function
    def BETA_VS_BTC(asset_returns: Any, btc_returns: Any = None) -> float:
        """Beta of an asset's returns to BTC's returns."""
        raise exc

    return BETA_VS_BTC


@pytest.mark.parametrize(("exc", "code"), MAPPED)
def test_excel_function_returns_bare_code(exc: BaseException, code: str) -> None:
    """A known error becomes the bare code string as the function's result."""
    result = _raising(exc)([1.0], [2.0])
    assert result == code
    assert type(result) is str


@pytest.mark.parametrize("exc", UNMAPPED)
def test_excel_function_propagates_unexpected_errors(exc: BaseException) -> None:
    """An unmapped error propagates unchanged instead of being hidden behind a code."""
    with pytest.raises(type(exc)) as info:
        _raising(exc)([1.0])
    assert info.value is exc


def test_excel_function_logs_reason_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    """The reason for a returned code is logged at DEBUG on betaneutral.udfs."""
    caplog.set_level(logging.DEBUG, logger="betaneutral.udfs")
    _raising(DomainError("notional_usd must be > 0, got -1.0"))(1.0)
    [record] = [r for r in caplog.records if r.name == "betaneutral.udfs"]
    assert record.levelno == logging.DEBUG
    assert record.getMessage() == (
        "BETA_VS_BTC returned #NUM!: notional_usd must be > 0, got -1.0"
    )


def test_excel_function_preserves_identity_for_xlwings() -> None:
    """The wrapper keeps __name__, __doc__, signature and annotations of the body."""

    def HEDGE_NOTIONAL(book_usd: Any, beta: Any, hedge_ratio: Any = 1.0) -> float:
        """Short BTC notional (USD) that neutralises the book's beta."""
        return scalar_number("book_usd", book_usd) * scalar_number("beta", beta)

    wrapped = excel_function(HEDGE_NOTIONAL)
    assert wrapped.__name__ == "HEDGE_NOTIONAL"
    assert wrapped.__doc__ == "Short BTC notional (USD) that neutralises the book's beta."
    assert wrapped.__wrapped__ is HEDGE_NOTIONAL
    assert inspect.signature(wrapped) == inspect.signature(HEDGE_NOTIONAL)
    assert list(inspect.signature(wrapped).parameters) == ["book_usd", "beta", "hedge_ratio"]
    assert wrapped.__annotations__ == HEDGE_NOTIONAL.__annotations__
    # 1,000,000 USD book x beta 1.2 = 1,200,000 USD; a text beta is #VALUE!.
    assert wrapped([[1_000_000.0]], 1.2) == 1_200_000.0
    assert wrapped(1_000_000.0, "1.2") == "#VALUE!"


def test_excel_function_end_to_end_mismatched_series() -> None:
    """A body reading paired series returns #N/A for ranges of different lengths."""

    @excel_function
    def N_PAIRS(x: Any, y: Any) -> int:
        """Number of complete pairs."""
        xs, ys = paired_columns("btc_returns", x, "asset_returns", y)
        return int(np.sum(~np.isnan(xs) & ~np.isnan(ys)))

    assert N_PAIRS([[0.1], [None], [0.3]], [[0.2], [0.1], [0.0]]) == 2
    assert N_PAIRS([0.1, 0.2, 0.3], [0.2, 0.1]) == "#N/A"
    assert N_PAIRS([0.1, "#DIV/0!"], [0.2, 0.1]) == "#DIV/0!"


# ---------------------------------------------------------------- property


_CELLS = st.one_of(
    st.none(),
    st.just(""),
    st.floats(),
    st.floats(allow_nan=False, allow_infinity=False).map(np.float64),
    st.integers(min_value=-(2**1100), max_value=2**1100),
    st.sampled_from(sorted(COM_OBSERVED)),
    st.booleans(),
    st.datetimes(),
    st.dates(),
    st.text(max_size=6),
    st.sampled_from(ERROR_STRINGS),
    st.decimals(allow_nan=True, allow_infinity=True),
)


def _oracle(cells: list[Any]) -> Any:
    """The policy restated cell by cell: the expected array or Err(code)."""
    for c in cells:
        if isinstance(c, str) and c in ERROR_STRINGS:
            return Err(c)
        if type(c) is int and c in COM_ERROR_CODES:  # the table itself is pinned above
            return Err(COM_ERROR_CODES[c])
    out = []
    for c in cells:
        if c is None or (isinstance(c, str) and c == ""):
            out.append(nan)
            continue
        if isinstance(c, bool | str | dt.date):
            return VALUE
        if isinstance(c, Decimal):
            x = float(c) if c.is_finite() else inf
        else:
            try:
                x = float(c)
            except OverflowError:
                return NUM
        if not math.isfinite(x):
            return NUM
        out.append(x)
    return out


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(_CELLS, max_size=25), as_column=st.booleans())
def test_number_column_property(cells: list[Any], as_column: bool) -> None:
    """number_column gives finite numbers and NaN for blanks, or a CellError with an Excel code."""
    value = [[c] for c in cells] if as_column else cells
    expected = _oracle(cells)
    got = outcome(lambda v: number_column("asset_returns", v), value)  # other errors escape
    if isinstance(got, Err):
        assert got.code in EXCEL_ERRORS
        assert got == expected
        return
    assert got.dtype == np.float64
    assert got.shape == (len(cells),)
    assert not np.isinf(got).any()
    for cell, number in zip(cells, got, strict=True):
        if cell is None or (isinstance(cell, str) and cell == ""):
            assert math.isnan(number)
        else:
            assert number == float(cell)
    np.testing.assert_array_equal(got, np.array(expected, dtype=np.float64))
