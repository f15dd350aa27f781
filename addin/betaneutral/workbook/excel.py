"""Excel's rules for the native formulas of the book, in Python.

The book's own native formulas (``=B5*C5``, ``SUM``, ``IF``, ``ROUND``, ...) are
evaluated with these functions, in the formula's own order of operations, so the
floating-point results are the ones Excel computes: a blank cell is 0 in arithmetic
and as a formula's result, division by zero is ``#DIV/0!``, an error operand
propagates (the left one first), ``SUM`` adds left to right skipping text and blanks
and stops at the first error, text compares without regard to case, an array
formula fills its fixed range as Excel fills it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

import numpy as np

from betaneutral.cells import EXCEL_ERRORS

__all__ = [
    "CellValue",
    "add",
    "arg",
    "as_result",
    "div",
    "equal",
    "excel_abs",
    "excel_if",
    "excel_round",
    "excel_sum",
    "fit",
    "greater",
    "is_error",
    "is_number",
    "mul",
    "normal_formula",
    "search_found",
    "sub",
]

#: A computed cell value: number, boolean, text, or an Excel error code such as ``"#N/A"``.
CellValue = float | int | bool | str

_NUMERIC_TEXT = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def _is_error(value: Any) -> bool:
    return isinstance(value, str) and value in EXCEL_ERRORS


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _result(value: Any) -> CellValue:
    """A reference or function result as the cell shows it (a blank shows 0)."""
    if value is None:
        return 0.0
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else "#NUM!"


def _operand(value: Any) -> float | str:
    """An arithmetic operand as a float, or the error code it evaluates to."""
    if _is_error(value):
        return value
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        return float(value) if _NUMERIC_TEXT.match(value) else "#VALUE!"
    return float(value)


def _arith(op: str, left: Any, right: Any) -> float | str:
    a = _operand(left)
    if isinstance(a, str):
        return a
    b = _operand(right)
    if isinstance(b, str):
        return b
    if op == "+":
        out = a + b
    elif op == "-":
        out = a - b
    elif op == "*":
        out = a * b
    else:
        if b == 0.0:
            return "#DIV/0!"
        out = a / b
    return out if math.isfinite(out) else "#NUM!"


def _add(a: Any, b: Any) -> float | str:
    return _arith("+", a, b)


def _sub(a: Any, b: Any) -> float | str:
    return _arith("-", a, b)


def _mul(a: Any, b: Any) -> float | str:
    return _arith("*", a, b)


def _div(a: Any, b: Any) -> float | str:
    return _arith("/", a, b)


def _sum(values: Sequence[Any]) -> float | str:
    """SUM over a range: left to right, text/booleans/blanks skipped, first error wins."""
    total = 0.0
    for value in values:
        if _is_error(value):
            return value
        if _is_number(value):
            total += float(value)
    return total if math.isfinite(total) else "#NUM!"


def _truth(value: Any) -> bool | str:
    """An IF condition as a boolean, or its error code."""
    if _is_error(value):
        return value
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        upper = value.strip().upper()
        return upper == "TRUE" if upper in ("TRUE", "FALSE") else "#VALUE!"
    return float(value) != 0.0


def _if(condition: Any, then: Callable[[], Any], otherwise: Callable[[], Any]) -> Any:
    flag = _truth(condition)
    if isinstance(flag, str):
        return flag
    return _result(then() if flag else otherwise())


def _compare(left: Any, right: Any) -> int | str:
    """-1, 0 or 1 as Excel orders values (numbers < text < booleans), or an error code."""
    for value in (left, right):
        if _is_error(value):
            return value

    def blank_like(other: Any) -> Any:
        return False if isinstance(other, bool) else "" if isinstance(other, str) else 0.0

    a = blank_like(right) if left is None else left
    b = blank_like(left) if right is None else right

    def rank(value: Any) -> int:
        return 2 if isinstance(value, bool) else 1 if isinstance(value, str) else 0

    if rank(a) != rank(b):
        return -1 if rank(a) < rank(b) else 1
    if isinstance(a, str):
        a, b = a.lower(), b.lower()
    return (a > b) - (a < b)


def _equal(a: Any, b: Any) -> bool | str:
    cmp = _compare(a, b)
    return cmp if isinstance(cmp, str) else cmp == 0


def _greater(a: Any, b: Any) -> bool | str:
    cmp = _compare(a, b)
    return cmp if isinstance(cmp, str) else cmp > 0


def _search_found(needle: str, haystack: Any) -> bool:
    """ISNUMBER(SEARCH(needle, haystack)) for a needle without wildcards."""
    if _is_error(haystack) or haystack is None:
        return False
    text = ("TRUE" if haystack else "FALSE") if isinstance(haystack, bool) else str(haystack)
    return needle.lower() in text.lower()


def _round(value: Any, digits: int) -> float | str:
    """Excel's ROUND: half away from zero on the number's shortest decimal form."""
    number = _operand(value)
    if isinstance(number, str):
        return number
    quantum = Decimal(1).scaleb(-digits)
    rounded = Decimal(repr(number)).quantize(quantum, rounding=ROUND_HALF_UP,
                                             context=Context(prec=400))
    return float(rounded)


def _abs(value: Any) -> float | str:
    number = _operand(value)
    return number if isinstance(number, str) else abs(number)


def _fit(result: Any, n_rows: int, n_cols: int) -> list[list[CellValue]]:
    """An array formula's result spread over its fixed range, as Excel fills it."""
    if (type(result) is list and len(result) == n_rows
            and all(type(row) is list and len(row) == n_cols for row in result)):
        # exactly the range's shape (the usual case): each value as the cell shows it
        return [[v if type(v) is float and v - v == 0.0 else _result(v) for v in row]
                for row in result]
    if not isinstance(result, list | tuple):
        value = _result(result)
        return [[value] * n_cols for _ in range(n_rows)]
    grid = [list(row) if isinstance(row, list | tuple) else [row] for row in result]
    rows, cols = len(grid), max((len(row) for row in grid), default=0)
    out = []
    for i in range(n_rows):
        line: list[CellValue] = []
        for j in range(n_cols):
            src_i = 0 if rows == 1 else i
            src_j = 0 if cols == 1 else j
            if rows == 0 or src_i >= rows or src_j >= len(grid[src_i]):
                line.append("#N/A")
            else:
                line.append(_result(grid[src_i][src_j]))
        out.append(line)
    return out


def _arg(value: Any) -> Any:
    """A cell value as xlwings passes it to a function (numbers as float)."""
    if _is_number(value):
        return float(value)
    return value


# Public names (the book's description and the model use them).
is_error = _is_error
is_number = _is_number
as_result = _result
add = _add
sub = _sub
mul = _mul
div = _div
excel_sum = _sum
excel_if = _if
equal = _equal
greater = _greater
search_found = _search_found
excel_round = _round
excel_abs = _abs
fit = _fit
arg = _arg


def normal_formula(formula: str) -> str:
    """A formula as its meaning: function names in capitals (Excel ignores their case;
    LibreOffice saves the add-in's in lower case) and no spaces between tokens."""
    from openpyxl.formula.tokenizer import Token, Tokenizer

    try:
        tokens = Tokenizer(formula).items
    except Exception:
        return formula
    return "=" + "".join(t.value.upper() if t.type == Token.FUNC else t.value
                         for t in tokens if t.type != Token.WSPACE)
