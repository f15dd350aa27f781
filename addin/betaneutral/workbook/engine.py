"""Evaluate the workbook's own formulas with a formula engine (pycel).

The product computes a workbook in Python and writes the results next to the
formulas. This module proves that the formulas themselves compute the same
thing: pycel evaluates every formula cell of the file, with BetaNeutral's
worksheet functions bound to the Python functions of :mod:`betaneutral.udfs`,
and :func:`compare` checks the result against the Python values.

This is the one place that binds the functions to the engine:

* a compatibility fix for openpyxl >= 3.1, whose defined-name container no
  longer has the ``definedName`` list that pycel 1.0b30 reads (applied once,
  before a compiler is created);
* a plugin module (:data:`PLUGIN_MODULE`) that pycel searches before its own
  library: one lower-case function per name in :data:`betaneutral.udfs.UDF_NAMES`,
  plus the Excel built-ins the template uses that pycel 1.0b30 lacks
  (``ROWS``, ``SEARCH``);
* a loader that ignores every cached value in the file, so a stale cache is
  never returned as a result.

pycel is an optional dependency: ``pip install -e ".[check]"`` from a clone.
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
import re
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.utils import quote_sheetname, range_boundaries
from openpyxl.utils.cell import get_column_letter
from openpyxl.utils.datetime import to_excel

from betaneutral import udfs
from betaneutral.cells import EXCEL_ERRORS
from betaneutral.errors import UnknownNameError

if TYPE_CHECKING:
    from pycel import ExcelCompiler

__all__ = [
    "EXTRA_BUILTINS",
    "PLUGIN_MODULE",
    "Mismatch",
    "check_workbook",
    "compare",
    "compiler_for",
    "evaluate_compiler",
    "evaluate_workbook",
    "formula_functions",
    "load_compiler",
    "plugin_module",
    "python_values",
]

#: Import name of the plugin module handed to pycel (``ExcelCompiler(plugins=[...])``).
PLUGIN_MODULE = f"{__name__}.functions"

#: Excel built-ins the template uses that pycel 1.0b30 does not implement.
EXTRA_BUILTINS: tuple[str, ...] = ("ROWS", "SEARCH")

_INSTALL_HINT = ('from the folder of a clone of BetaNeutral, pip install -e ".[check]" '
                 '(the extra installs pycel and the networkx it needs)')

Cell = tuple[str, str]
"""A cell key: (sheet name, coordinate such as ``"B5"``)."""

Progress = Callable[[str, int, int], None]
"""Progress callback: (sheet just evaluated, cells done so far, cells in total)."""


def _where(sheet: str, coordinate: str) -> str:
    """A cell as Excel writes it in a formula: ``Holdings!K5``, ``'xlwings.conf'!A1``."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", sheet):
        return f"{sheet}!{coordinate}"
    return f"{quote_sheetname(sheet)}!{coordinate}"


# ------------------------------------------------------------ pycel access ---
def _import_pycel() -> types.ModuleType:
    try:
        return importlib.import_module("pycel")
    except ImportError as exc:
        raise ImportError(
            "Evaluating the workbook's formulas needs the optional formula engine pycel, "
            f"which is not installed: {_INSTALL_HINT}"
        ) from exc


def _apply_openpyxl_shim() -> None:
    """Give openpyxl >= 3.1's ``DefinedNameDict`` the ``definedName`` list pycel reads.

    openpyxl 3.1 replaced ``DefinedNameList`` (with its ``definedName`` attribute)
    by a dict of names; pycel 1.0b30 still iterates ``definedName``. The property
    lists the dict's values. Idempotent; a no-op on versions that have the attribute.
    Only workbook-scoped names are seen (openpyxl 3.1 keeps sheet-scoped names on
    the worksheets); the template defines only workbook-scoped names.
    """
    try:
        from openpyxl.workbook.defined_name import DefinedNameDict
    except ImportError:  # openpyxl < 3.1 still has DefinedNameList.definedName
        return
    if not hasattr(DefinedNameDict, "definedName"):
        DefinedNameDict.definedName = property(lambda self: list(self.values()))


# ------------------------------------------------ values between the sides ---
def _empty_marker() -> str:
    from pycel.excelutil import EMPTY

    return EMPTY


def _cell_in(value: Any, empty: str) -> Any:
    """One engine value as the cell value the functions expect (None = blank)."""
    if isinstance(value, str):
        return None if value == empty else value
    if isinstance(value, np.generic):
        return value.item()
    return value


def _to_cells(value: Any, empty: str) -> Any:
    """An engine argument (scalar or tuple of row tuples) as cell-like values."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, tuple | list) and value and isinstance(value[0], tuple | list):
        return [[_cell_in(c, empty) for c in row] for row in value]
    if isinstance(value, tuple | list):
        return [_cell_in(c, empty) for c in value]
    return _cell_in(value, empty)


def _cell_out(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    return 0 if value is None else value  # the engine's reading of an empty result


def _from_result(result: Any) -> Any:
    """A function result for the engine: scalars as is, 2-D results as row tuples."""
    if isinstance(result, np.ndarray):
        result = result.tolist()
    if isinstance(result, list | tuple):
        rows = [row if isinstance(row, list | tuple) else [row] for row in result]
        return tuple(tuple(_cell_out(c) for c in row) for row in rows)
    return _cell_out(result)


# ---------------------------------------------------------- plugin module ---
def _bind(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Wrap a BetaNeutral function for pycel: no coercion, errors passed through as codes."""
    from pycel.lib.function_helpers import excel_helper

    empty = _empty_marker()

    def call(*args: Any) -> Any:
        return _from_result(fn(*(_to_cells(a, empty) for a in args)))

    call.__name__ = call.__qualname__ = name
    call.__doc__ = fn.__doc__
    # err_str_params=None: error cells reach the function, which decides (as in Excel);
    # cse_params=None: ranges arrive whole, never element by element.
    return excel_helper(cse_params=None, err_str_params=None)(call)


def _wildcard_pattern(find_text: str) -> re.Pattern[str]:
    """Excel wildcards (``?`` one character, ``*`` any run, ``~`` escapes) as a regex."""
    parts = []
    chars = iter(find_text)
    for ch in chars:
        if ch == "~":
            nxt = next(chars, "~")
            parts.append(re.escape(nxt))
        elif ch == "?":
            parts.append(".")
        elif ch == "*":
            parts.append(".*?")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _rows(array: Any) -> Any:
    """Excel ROWS: the number of rows of a range or array (1 for a single value)."""
    if isinstance(array, tuple) and array and isinstance(array[0], tuple):
        return len(array)
    if isinstance(array, str) and array in EXCEL_ERRORS:
        return array
    return 1


def _search(find_text: str, within_text: str, start_num: Any = 1) -> Any:
    """Excel SEARCH: 1-based position of ``find_text`` in ``within_text``, case-insensitive.

    Wildcards ``?`` and ``*`` apply, ``~`` escapes them; ``#VALUE!`` when not found
    or when ``start_num`` is outside 1..len(within_text).
    """
    start = int(start_num)
    if start < 1 or start > len(within_text):
        return "#VALUE!"
    if find_text == "":
        return start
    found = _wildcard_pattern(find_text).search(within_text, start - 1)
    return "#VALUE!" if found is None else found.start() + 1


def _extra_builtins() -> dict[str, Callable[..., Any]]:
    from pycel.lib.function_helpers import excel_helper

    return {
        "rows": excel_helper(cse_params=None, err_str_params=None)(_rows),
        # Same argument handling as pycel's FIND: text for the first two, a number third.
        "search": excel_helper(cse_params=(0, 1, 2), number_params=2, str_params=(0, 1))(
            _search
        ),
    }


@cache
def plugin_module() -> types.ModuleType:
    """The pycel plugin module: BetaNeutral's functions and the missing built-ins.

    Returns
    -------
    types.ModuleType
        A module registered in ``sys.modules`` as :data:`PLUGIN_MODULE`, holding
        only the functions the engine may call: every name of
        :data:`betaneutral.udfs.UDF_NAMES` in lower case (pycel's lookup name),
        and ``rows`` and ``search`` (:data:`EXTRA_BUILTINS`).

    Raises
    ------
    ImportError
        If pycel is not installed (the message gives the install command).

    Notes
    -----
    A BetaNeutral function receives each range as a list of rows with ``None``
    for blank cells and error cells as their code string, a single cell as its
    value; a 2-D result is handed back as a tuple of row tuples (filling a CSE
    range), a scalar as is. An unexpected exception inside a function is not
    turned into an error code: the evaluation fails.

    Examples
    --------
    >>> mod = plugin_module()  # doctest: +SKIP
    >>> mod.hedge_notional([[100.0], [50.0]], [[1.2], [0.8]])  # doctest: +SKIP
    160.0
    """
    _import_pycel()
    module = types.ModuleType(PLUGIN_MODULE, "BetaNeutral functions bound for pycel.")
    for name in udfs.UDF_NAMES:
        setattr(module, name.lower(), _bind(getattr(udfs, name), name.lower()))
    for name, fn in _extra_builtins().items():
        setattr(module, name, fn)
    sys.modules[PLUGIN_MODULE] = module
    return module


# ------------------------------------------------------ function checking ---
def formula_functions(formula: str) -> set[str]:
    """Names of the functions a formula calls, upper case, without the ``_xlfn.`` prefix.

    Parameters
    ----------
    formula : str
        Formula text starting with ``=``.

    Returns
    -------
    set of str
        Function names, e.g. ``{"IF", "BETA_VS_BTC"}``. Text in quotes and sheet
        names are not mistaken for calls.

    Raises
    ------
    Nothing.

    Examples
    --------
    >>> sorted(formula_functions('=IF(ISNUMBER(SEARCH("x(",A1)),_xlfn.VAR.S(B1:B3),0)'))
    ['IF', 'ISNUMBER', 'SEARCH', 'VAR.S']
    """
    names = set()
    for token in Tokenizer(formula).items:
        if token.type == Token.FUNC and token.subtype == Token.OPEN:
            name = token.value[:-1].upper()
            names.add(name.removeprefix("_XLFN."))
    return names


def _engine_modules() -> tuple[types.ModuleType, ...]:
    from pycel.excelformula import ExcelFormula

    plugin_module()
    names = (PLUGIN_MODULE, *ExcelFormula.default_modules)
    return tuple(importlib.import_module(m) for m in names)


def _known(name: str, modules: tuple[types.ModuleType, ...]) -> bool:
    """Whether pycel (with the plugin) implements the Excel function ``name``."""
    from pycel.excelformula import FunctionNode

    func = name.lower().replace(".", "_")
    if hasattr(FunctionNode, f"func_{func}"):
        return True
    func = FunctionNode.func_map.get(func, func)
    return any(callable(getattr(m, func, None)) for m in modules)


def _cse_inner(formula: str) -> str:
    """The formula of a CSE range as pycel stores it in each cell (``=CSE_INDEX(f,i,j,h,w)``)."""
    from pycel.excelwrapper import ARRAY_FORMULA_NAME

    if formula.startswith(ARRAY_FORMULA_NAME + "("):
        inner = formula[len(ARRAY_FORMULA_NAME) + 1 : -1].rsplit(",", 4)[0]
        return "=" + inner
    return formula


def _check_functions(xl: ExcelCompiler) -> None:
    """Raise for any function that the engine does not implement, naming the cells."""
    modules = _engine_modules()
    seen: dict[str, bool] = {}
    unknown: dict[str, str] = {}
    formulas: set[str] = set()
    for ws in xl.excel.workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                if not (isinstance(value, str) and value.startswith("=")):
                    continue
                formula = _cse_inner(value)
                if formula in formulas:
                    continue
                formulas.add(formula)
                for name in formula_functions(formula):
                    if name not in seen:
                        seen[name] = _known(name, modules)
                    if not seen[name] and name not in unknown:
                        unknown[name] = f"{_where(ws.title, cell.coordinate)} ({formula})"
    if unknown:
        listed = "; ".join(f"{name} in {where}" for name, where in sorted(unknown.items()))
        raise UnknownNameError(
            "formula functions must be Excel built-ins the engine implements or BetaNeutral "
            f"functions, got {listed}"
        )


# ---------------------------------------------------------------- loading ---
def _plain_names(wb: Any) -> None:
    """Give each name that is a structured reference to a table (the book's price and
    holdings names) the range it covers: pycel reads a defined name's cells and does not
    resolve a table reference in a name."""
    from openpyxl.workbook.defined_name import DefinedName

    from betaneutral.workbook.names import resolved_names

    for name, text in resolved_names(wb).items():
        wb.defined_names[name] = DefinedName(name, attr_text=text)


def _wrapper_class() -> type:
    from pycel.excelwrapper import ExcelOpxWrapper

    class FormulasOnlyWrapper(ExcelOpxWrapper):
        """pycel's openpyxl wrapper with every cached formula value dropped.

        pycel treats a formula cell as calculated when it has a value, and takes
        that value from the file's cache: a stale cache would be returned as the
        result. Blanking the cache makes every formula cell compute.
        """

        def load(self) -> None:
            super().load()
            _plain_names(self.workbook)
            _plain_names(self.workbook_dataonly)
            for ws in self.workbook.worksheets:
                cached = self.workbook_dataonly[ws.title]
                for row in ws.iter_rows():
                    for cell in row:
                        value = cell.value
                        if isinstance(value, str) and value.startswith("="):
                            cached.cell(row=cell.row, column=cell.column).value = None

    return FormulasOnlyWrapper


def load_compiler(path: str | Path) -> ExcelCompiler:
    """Load a workbook into a pycel compiler with BetaNeutral's functions bound.

    Parameters
    ----------
    path : str or pathlib.Path
        An ``.xlsx``/``.xlsm`` file.

    Returns
    -------
    pycel.ExcelCompiler
        Ready to ``evaluate`` and ``set_value``. Cached values in the file are
        ignored: every formula cell is computed on first use.

    Raises
    ------
    ImportError
        If pycel is not installed.
    UnknownNameError
        If a formula calls a function the engine does not implement (each such
        name is listed with the first cell that uses it).
    FileNotFoundError
        If ``path`` does not exist.

    Notes
    -----
    Dates are read as the serial numbers the file stores (the workbook's date system).
    Evaluate through :func:`evaluate_compiler`: a single ``xl.evaluate`` of a cell
    deep in a chain of formulas (the Benchmark index column) recurses once per link
    and can exhaust the stack and memory.

    Examples
    --------
    >>> xl = load_compiler("book.xlsx")  # doctest: +SKIP
    >>> xl.evaluate("Rebalance!B18")  # doctest: +SKIP
    2.447
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"workbook not found: {path}")
    pycel = _import_pycel()
    _apply_openpyxl_shim()
    plugin_module()
    wrapper = _wrapper_class()(filename=str(path))
    wrapper.load()
    xl = pycel.ExcelCompiler(excel=wrapper, plugins=[PLUGIN_MODULE])
    _check_functions(xl)
    return xl


def compiler_for(wb: Any, path: str | Path) -> ExcelCompiler:
    """A pycel compiler over a workbook already loaded with formulas (not ``data_only``).

    As :func:`load_compiler`, without reading the file again: formula cells read as
    uncalculated (their cached values are not in a workbook loaded with formulas),
    and date cells become the serial numbers the file stores. ``wb`` is changed
    (dates, CSE arrays expanded for the engine): read anything else from it first.
    ``path`` only names the book.
    """
    pycel = _import_pycel()
    from openpyxl.utils.datetime import to_excel as serial
    from pycel.excelwrapper import ExcelOpxWrapperNoData

    _apply_openpyxl_shim()
    plugin_module()
    _plain_names(wb)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "d":
                    number = serial(cell.value, wb.epoch)
                    cell.value = (int(number) if isinstance(number, float)
                                  and number.is_integer() else number)
    xl = pycel.ExcelCompiler(excel=ExcelOpxWrapperNoData(wb, filename=str(path)),
                             plugins=[PLUGIN_MODULE])
    _check_functions(xl)
    return xl


# ------------------------------------------------------------- evaluation ---
class _FormulaCell(NamedTuple):
    """Where a formula cell sits: its CSE range (or None) and its offset in that range."""

    array: str | None
    row: int
    col: int


def _formula_map(xl: ExcelCompiler) -> dict[Cell, _FormulaCell]:
    """Every formula cell of the loaded workbook, each CSE cell with its array range."""
    from pycel.excelwrapper import ARRAY_FORMULA_NAME

    prefix = ARRAY_FORMULA_NAME + "("
    out: dict[Cell, _FormulaCell] = {}
    for ws in xl.excel.workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                if not (isinstance(value, str) and value.startswith("=")):
                    continue
                if not value.startswith(prefix):
                    out[(ws.title, cell.coordinate)] = _FormulaCell(None, 0, 0)
                    continue
                # =CSE_INDEX(formula,i,j,height,width): cell (i, j) of a height x width array
                i, j, height, width = (int(v) for v in value[:-1].rsplit(",", 4)[1:])
                top, left = cell.row - i + 1, cell.column - j + 1
                first = f"{get_column_letter(left)}{top}"
                last = f"{get_column_letter(left + width - 1)}{top + height - 1}"
                array = first if first == last else f"{first}:{last}"
                out[(ws.title, cell.coordinate)] = _FormulaCell(array, i - 1, j - 1)
    return out


def _expand(cells: Iterable[Cell]) -> list[Cell]:
    """Cell keys, with ``(sheet, "B5:J5")`` ranges expanded cell by cell."""
    out = []
    for sheet, coordinate in cells:
        if ":" not in coordinate:
            out.append((sheet, coordinate.replace("$", "").upper()))
            continue
        min_col, min_row, max_col, max_row = range_boundaries(coordinate.replace("$", ""))
        for r in range(min_row, max_row + 1):
            for c in range(min_col, max_col + 1):
                out.append((sheet, f"{get_column_letter(c)}{r}"))
    return list(dict.fromkeys(out))


def _box(coordinates: Iterable[str]) -> str:
    """The smallest range holding every coordinate."""
    bounds = [range_boundaries(c) for c in coordinates]
    min_col = min(b[0] for b in bounds)
    min_row = min(b[1] for b in bounds)
    max_col = max(b[2] for b in bounds)
    max_row = max(b[3] for b in bounds)
    first = f"{get_column_letter(min_col)}{min_row}"
    last = f"{get_column_letter(max_col)}{max_row}"
    return first if first == last else f"{first}:{last}"


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _array_values(value: Any, array: str) -> list[list[Any]]:
    """The engine's value of a CSE range as rows (it drops the unit dimensions)."""
    min_col, min_row, max_col, max_row = range_boundaries(array)
    height, width = max_row - min_row + 1, max_col - min_col + 1
    if height == 1 and width == 1:
        return [[value[0][0] if isinstance(value, tuple) else value]]
    if height == 1 or width == 1:
        flat = [v for row in value for v in row] if isinstance(value[0], tuple) else list(value)
        return [flat] if height == 1 else [[v] for v in flat]
    return [list(row) for row in value]


def evaluate_compiler(
    xl: ExcelCompiler,
    *,
    cells: Iterable[Cell] | None = None,
    progress: Progress | None = None,
) -> dict[Cell, Any]:
    """Evaluate cells of a loaded compiler, one range per sheet and per CSE array.

    Parameters
    ----------
    xl : pycel.ExcelCompiler
        From :func:`load_compiler`, possibly changed since with ``xl.set_value``.
    cells : iterable of (str, str), optional
        ``(sheet, coordinate)`` keys to evaluate; a coordinate may be a range
        (``"B5:J5"``). Default: every formula cell of the workbook, each cell of
        a CSE array on its own.
    progress : callable, optional
        Called after each sheet as ``progress(sheet, cells_done, cells_total)``, and
        within a sheet after each CSE array (``cells_done`` then counts the cells of
        the arrays evaluated so far).

    Returns
    -------
    dict
        ``(sheet, coordinate) -> value``: float, int, bool, str or an error code
        string such as ``"#N/A"``; dates as serial numbers.

    Raises
    ------
    UnknownNameError
        If a key names a sheet the workbook does not have.
    pycel.excelformula.FormulaEvalError
        If a function fails unexpectedly (a bug, never a user's data).

    Notes
    -----
    Evaluating cell by cell costs pycel a compiled expression per cell. Here each
    CSE array is evaluated once, as its range, and the other requested cells of a
    sheet as the one range that spans them; values are then read from the
    compiler's cell map.
    """
    from pycel.excelutil import AddressCell

    formulas = _formula_map(xl)
    wanted = list(formulas) if cells is None else _expand(cells)
    order = {ws.title: i for i, ws in enumerate(xl.excel.workbook.worksheets)}
    by_sheet: dict[str, list[str]] = {}
    for sheet, coordinate in wanted:
        if sheet not in order:
            raise UnknownNameError(f"sheet must be one of {list(order)}, got {sheet!r}")
        by_sheet.setdefault(sheet, []).append(coordinate)
    firsts: dict[str, list[str]] = {}
    for (sheet, coordinate), where in formulas.items():
        if where.array is None and sheet not in firsts:
            firsts[sheet] = [coordinate]  # formulas are listed in reading order
    results: dict[Cell, Any] = {}
    done = 0
    for sheet in sorted(by_sheet, key=order.__getitem__):
        prefix = f"{quote_sheetname(sheet)}!"
        arrays: dict[str, list[list[Any]]] = {}
        in_arrays = 0  # cells of the arrays evaluated so far on this sheet
        single = []
        for coordinate in by_sheet[sheet]:
            where = formulas.get((sheet, coordinate))
            if where is None or where.array is None:
                single.append(coordinate)
                continue
            if where.array not in arrays:
                arrays[where.array] = _array_values(xl.evaluate(prefix + where.array),
                                                    where.array)
                in_arrays += sum(len(r) for r in arrays[where.array])
                if progress is not None:  # within a sheet too: after each array
                    progress(sheet, done + in_arrays, len(wanted))
            results[(sheet, coordinate)] = _plain(arrays[where.array][where.row][where.col])
        if single:
            # Start the range at the sheet's first formula: cells are computed in reading
            # order, so a chain of formulas down a column (each using the row above) is
            # computed link by link instead of by a recursion as deep as the chain.
            xl.evaluate(prefix + _box([*single, *firsts.get(sheet, ())]))
            for coordinate in single:
                results[(sheet, coordinate)] = _plain(
                    xl.evaluate(AddressCell(coordinate, sheet=sheet))
                )
        done += len(by_sheet[sheet])
        if progress is not None:
            progress(sheet, done, len(wanted))
    return {key: results[key] for key in wanted}


def evaluate_workbook(
    path: str | Path,
    *,
    cells: Iterable[Cell] | None = None,
    progress: Progress | None = None,
) -> dict[Cell, Any]:
    """Evaluate every formula cell of a workbook with pycel (cached values ignored).

    Parameters
    ----------
    path : str or pathlib.Path
        An ``.xlsx``/``.xlsm`` file.
    cells : iterable of (str, str), optional
        ``(sheet, coordinate)`` keys to evaluate (ranges allowed); default every
        formula cell.
    progress : callable, optional
        Called after each sheet as ``progress(sheet, cells_done, cells_total)``.

    Returns
    -------
    dict
        ``(sheet, coordinate) -> value`` (see :func:`evaluate_compiler`).

    Raises
    ------
    ImportError
        If pycel is not installed: ``pip install -e ".[check]"`` from a clone.
    UnknownNameError
        If a formula calls a function the engine does not implement.
    pycel.excelformula.FormulaEvalError
        If a function fails unexpectedly.

    Examples
    --------
    >>> values = evaluate_workbook("book.xlsx")  # doctest: +SKIP
    >>> values[("Rebalance", "B28")]  # doctest: +SKIP
    'SELL'
    """
    return evaluate_compiler(load_compiler(path), cells=cells, progress=progress)


# --------------------------------------------------------------- comparing ---
@dataclass(frozen=True)
class Mismatch:
    """A cell whose engine value differs from the expected one.

    Attributes
    ----------
    sheet : str
        Sheet name.
    coordinate : str
        Cell, e.g. ``"B18"``.
    expected : object
        The expected (Python) value; ``None`` when ``reason`` is ``"unexpected"``.
    actual : object
        The engine's value; ``None`` when ``reason`` is ``"missing"``.
    reason : str
        ``"value"`` (different numbers, text or codes), ``"type"`` (e.g. a number
        against an error code), ``"missing"`` (no engine value) or
        ``"unexpected"`` (an engine value with no expected value).
    """

    sheet: str
    coordinate: str
    expected: Any
    actual: Any
    reason: str

    def __str__(self) -> str:
        where = _where(self.sheet, self.coordinate)
        if self.reason == "missing":
            return f"{where}: expected {self.expected!r}, the engine gave no value"
        if self.reason == "unexpected":
            return f"{where}: the engine gave {self.actual!r}, no value was expected"
        return f"{where}: expected {self.expected!r}, got {self.actual!r} ({self.reason})"


def _kind(value: Any) -> tuple[str, Any]:
    """A value as (kind, comparable value): error, bool, number, text, blank or other."""
    code = getattr(value, "code", None)
    if isinstance(code, str) and code in EXCEL_ERRORS:
        return "error", code
    if isinstance(value, str):
        return ("error", value) if value in EXCEL_ERRORS else ("text", value)
    if isinstance(value, bool | np.bool_):
        return "bool", bool(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return "number", float(to_excel(value))
    if isinstance(value, Real | np.number):
        return "number", float(value)
    if value is None:
        return "blank", None
    return "other", value


def _same_number(expected: float, actual: float, rtol: float, atol: float) -> bool:
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    return math.isclose(expected, actual, rel_tol=rtol, abs_tol=atol)


def compare(
    expected: Mapping[Cell, Any],
    actual: Mapping[Cell, Any],
    *,
    rtol: float = 1e-9,
    atol: float = 0.0,
) -> list[Mismatch]:
    """Cells where ``actual`` differs from ``expected``.

    Parameters
    ----------
    expected, actual : mapping
        ``(sheet, coordinate) -> value``.
    rtol : float, default 1e-9
        Relative tolerance for numbers.
    atol : float, default 0.0
        Absolute tolerance for numbers (for values expected to be 0).

    Returns
    -------
    list of Mismatch
        In the order of ``expected``, then cells only ``actual`` has; empty when
        every cell agrees.

    Raises
    ------
    Nothing.

    Notes
    -----
    Numbers agree when ``|a - e| <= max(rtol * max(|a|, |e|), atol)``; NaN only
    matches NaN. Text and booleans must be equal, and of the same kind: TRUE is
    not 1. Error codes compare as codes: the string ``"#N/A"`` and an object
    whose ``code`` is ``"#N/A"`` agree. Dates compare as Excel serial numbers
    (1900 date system).

    Examples
    --------
    >>> compare({("S", "A1"): 1.0, ("S", "A2"): "#N/A"}, {("S", "A1"): 1.0 + 1e-12,
    ...                                                    ("S", "A2"): "#N/A"})
    []
    >>> [m.reason for m in compare({("S", "A1"): True}, {("S", "A1"): 1})]
    ['type']
    """
    out = []
    for key, exp in expected.items():
        sheet, coordinate = key
        if key not in actual:
            out.append(Mismatch(sheet, coordinate, exp, None, "missing"))
            continue
        act = actual[key]
        (ek, ev), (ak, av) = _kind(exp), _kind(act)
        if ek != ak:
            out.append(Mismatch(sheet, coordinate, exp, act, "type"))
        elif ek == "number":
            if not _same_number(ev, av, rtol, atol):
                out.append(Mismatch(sheet, coordinate, exp, act, "value"))
        elif ev != av:
            out.append(Mismatch(sheet, coordinate, exp, act, "value"))
    for key, act in actual.items():
        if key not in expected:
            out.append(Mismatch(key[0], key[1], None, act, "unexpected"))
    return out


# ----------------------------------------------------------------- checking ---
def python_values(path: str | Path) -> dict[Cell, Any]:
    """The values BetaNeutral's Python path computes for a workbook's formula cells.

    Parameters
    ----------
    path : str or pathlib.Path
        A filled BetaNeutral workbook.

    Returns
    -------
    dict
        ``(sheet, coordinate) -> value`` from
        :func:`betaneutral.workbook.model.compute_values`, for the inputs read by
        :func:`betaneutral.workbook.inputs.read_inputs` and the layout read by
        :func:`betaneutral.workbook.model.read_layout`.

    Raises
    ------
    BetaNeutralError
        If the workbook's inputs or layout cannot be read.
    """
    from betaneutral.archive import open_workbook
    from betaneutral.workbook.inputs import read_inputs
    from betaneutral.workbook.model import compute_values, read_layout

    wb = open_workbook(Path(path))
    return dict(compute_values(read_inputs(wb), read_layout(wb)))


def check_workbook(path: str | Path, *, rtol: float = 1e-9,
                   progress: Callable[[str], None] | None = None) -> list[Mismatch]:
    """Compare the workbook's formulas, evaluated by pycel, with the Python values.

    Parameters
    ----------
    path : str or pathlib.Path
        A filled BetaNeutral workbook (cached values, if any, are ignored).
    rtol : float, default 1e-9
        Relative tolerance for numbers.
    progress : callable, optional
        Called with a short message at each stage, and as cells are evaluated
        (``"evaluated 1,200 of 412,000 cells (Rolling)"``).

    Returns
    -------
    list of Mismatch
        Empty when every formula cell agrees with the Python value.

    Raises
    ------
    ImportError
        If pycel is not installed: ``pip install -e ".[check]"`` from a clone.
    UnknownNameError
        If a formula calls a function the engine does not implement.

    Notes
    -----
    The engine evaluates every cell the Python path gives a value for, so a value
    it gives for a cell without a formula shows as a mismatch. Formulas the Python
    path does not compute are the user's own (on their sheets or beside ours, or a
    value another spreadsheet program saved as a formula, such as LibreOffice's
    ``=FALSE()``): they are not compared.
    """
    from betaneutral.archive import open_workbook
    from betaneutral.workbook.inputs import read_inputs
    from betaneutral.workbook.model import compute_values, read_layout

    def report(message: str) -> None:
        if progress is not None:
            progress(message)

    report(f"reading {Path(path).name}")
    wb = open_workbook(Path(path))  # read once: for the Python values, then for the engine
    report("computing the Python values")
    expected = dict(compute_values(read_inputs(wb), read_layout(wb)))
    report("handing the book to the formula engine")
    xl = compiler_for(wb, path)
    keys = list(expected)
    report(f"evaluating {len(keys):,} formula cells")
    actual = evaluate_compiler(
        xl, cells=keys, progress=None if progress is None else (
            lambda sheet, done, total: progress(f"evaluated {done:,} of {total:,} cells "
                                                f"({sheet})")))
    report("comparing")
    return compare(expected, actual, rtol=rtol)
