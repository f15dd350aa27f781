"""The book follows the data it holds: what the user added is read, and the book resized.

A portfolio manager keeps the book alive: closes are typed under the prices every
day, a coin is added under the holdings, a price column is added, rows are sorted,
inserted or deleted. The workbook's defined names (``Dates``, ``PriceBlock``,
``HoldingAssets``, ...) and its CSE array ranges are fixed ranges, so in a file
they do not grow by themselves when data is typed *under* them. This module finds
what the sheets hold beyond the names and rebuilds the book's own sheets sized to
it, keeping what belongs to the user.

* :func:`book_growth` compares the sheets with the names: dated rows under the
  last date, headers beyond the price columns, holdings rows outside the list,
  blank rows or columns inside it. Each difference is a reason, naming its cell.
* :func:`scan_inputs` reads the inputs from what the sheets hold: every
  contiguous dated row of the Benchmark sheet, every headed price column (BTC and
  ETH first, then the others in sheet order), every Holdings row with an asset
  (in sheet order, the totals row skipped), and the Settings and position cells
  through their names.
* :func:`resize_book` builds the book anew for those inputs
  (:func:`~betaneutral.workbook.fill.fill_workbook`) and carries over the
  user's content: their own sheets whole (cells, styles, notes, links, column
  widths, merged cells, validations, conditional formats, charts and images),
  their own defined names, the xlwings.conf values, and on our sheets the cells
  the book does not use (on the fixed forms at the same place; on Holdings,
  Stats and Rolling the cells to the right of the book's columns move with their
  holding). A cell of the user's that the resized book needs for itself is
  refused, naming it. So is one of the book's own formulas that the user changed:
  each formula the old book has on the Holdings rows, the benchmark column and the
  Rebalance, Scenarios, Start and Settings forms, with its references moved as the
  resize moves cells, must be the new book's formula at the cell's new place (a
  formula copied down a new row is the book's own; the derived blocks, Stats,
  Rolling and the totals, are rebuilt for the data).

Reading never guesses: a non-date under the dates, prices below a blank row, a
headerless column holding numbers, a holding whose asset has no price column are
each refused with the cell.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import Cell, MergedCell
from openpyxl.comments import Comment
from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.formula.translate import Translator
from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula
from openpyxl.worksheet.worksheet import Worksheet

from betaneutral.bookdata import BookInputs, located
from betaneutral.core._validate import as_float
from betaneutral.errors import (
    DomainError,
    InputTypeError,
    InsufficientDataError,
    UnknownNameError,
)
from betaneutral.safetext import validate_identifier
from betaneutral.workbook.book import (
    HOLDING_COLUMNS,
    HOLDINGS_TABLE,
    PRICES_TABLE,
    SHEET_NAMES,
    TABLE_NAMES,
    TOTAL_LABEL,
    from_earlier_release,
)
from betaneutral.workbook.excel import normal_formula
from betaneutral.workbook.fill import fill_workbook
from betaneutral.workbook.inputs import (
    check_book_sheets,
    date_cell,
    price_value,
    read_position,
    read_settings,
)
from betaneutral.workbook.names import name_destinations

__all__ = ["Growth", "book_growth", "check_book_sheets", "resize_book", "scan_inputs"]

#: The header of the benchmark index column on the Benchmark sheet.
BENCHMARK_HEADER = "Benchmark"
_NAMES = ("Dates", "PriceAssets", "PriceBlock", "BenchPrices", "HoldingAssets",
          "PortfolioValue", "BetaStats", "RollingBetas")
# Sheets whose form does not depend on the data: user cells keep their place.
_FIXED_FORMS = ("Start", "Settings", "Rebalance", "Scenarios", "Backtest", "Tickets",
                "Contracts")


@dataclass(frozen=True)
class _Frame:
    """Where the names put the data: sheet, rows and columns (1-based)."""

    prices_sheet: str
    header_row: int
    date_col: int
    first_date_row: int
    last_date_row: int
    first_price_col: int
    last_price_col: int
    bench_col: int
    holdings_sheet: str
    first_holding_row: int
    last_holding_row: int
    total_row: int
    asset_col: int


def _frame(wb: Workbook) -> _Frame:
    dest = name_destinations(wb, _NAMES)
    sheet, ref = dest["Dates"]
    date_col, first, _, last = range_boundaries(ref)
    _, pref = dest["PriceAssets"]
    c1, header_row, c2, _ = range_boundaries(pref)
    _, bref = dest["BenchPrices"]
    bench_col = range_boundaries(bref)[0]
    hsheet, href = dest["HoldingAssets"]
    asset_col, h1, _, h2 = range_boundaries(href)
    _, tref = dest["PortfolioValue"]
    total_row = range_boundaries(tref)[1]
    return _Frame(sheet, header_row, date_col, first, last, c1, c2, bench_col, hsheet, h1, h2,
                  total_row, asset_col)


def _where(ws: Worksheet, row: int, col: int) -> str:
    return f"{ws.title}!{get_column_letter(col)}{row}"


def _value(ws: Worksheet, row: int, col: int) -> object:
    cell = ws._cells.get((row, col))  # no blank cell is created for a gap
    return None if cell is None else cell.value


def _column_rows(ws: Worksheet, col: int, first: int) -> list[int]:
    """Rows at or below ``first`` where column ``col`` holds something, in order."""
    return sorted(r for (r, c), cell in ws._cells.items()
                  if c == col and r >= first and cell.value is not None)


def _used_holding_rows(hs: Worksheet, f: _Frame) -> list[int]:
    """Rows from the first holding row down with an asset or a quantity, in order (the
    totals row included)."""
    return sorted(set(_column_rows(hs, f.asset_col, f.first_holding_row))
                  | set(_column_rows(hs, f.asset_col + 1, f.first_holding_row)))


def _holding_rows(hs: Worksheet, f: _Frame) -> list[int]:
    """The rows that hold a holding: :func:`_used_holding_rows` without the totals row."""
    return [r for r in _used_holding_rows(hs, f) if r != f.total_row]


@dataclass(frozen=True)
class Growth:
    """How the sheets differ from the book's names.

    Attributes
    ----------
    reasons : tuple of str
        One line per difference, naming its cell (empty: the book is as laid out).
    """

    reasons: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.reasons)


def book_growth(wb: Workbook) -> Growth:
    """What the sheets hold beyond (or missing from) the book's ranges.

    Parameters
    ----------
    wb : openpyxl.Workbook
        The book, loaded with formulas.

    Returns
    -------
    Growth
        Reasons: dated rows under the last date, a header beyond the price columns,
        a blank header inside them, a holding row outside the list, a blank row
        inside it.
    """
    check_book_sheets(wb)
    f = _frame(wb)
    reasons = []
    ws = wb[f.prices_sheet]
    below = _column_rows(ws, f.date_col, f.last_date_row + 1)
    if below:
        reasons.append(f"{_where(ws, below[0], f.date_col)}: rows under the last date "
                       f"({len(below)})")
    for col in range(f.first_price_col, ws.max_column + 1):
        if col == f.bench_col:
            continue
        header = _value(ws, f.header_row, col)
        inside = col <= f.last_price_col
        if inside and header is None:
            reasons.append(f"{_where(ws, f.header_row, col)}: a price column without a header")
        elif not inside and header is not None:
            reasons.append(f"{_where(ws, f.header_row, col)}: a price column "
                           f"{header!r} the book does not read yet")
    hs = wb[f.holdings_sheet]
    used = _used_holding_rows(hs, f)
    rows = set(used)
    for r in used:
        if r != f.total_row and not f.first_holding_row <= r <= f.last_holding_row:
            reasons.append(f"{_where(hs, r, f.asset_col)}: a holding row the book does not "
                           "read yet")
            break
    for r in range(f.first_holding_row, f.last_holding_row + 1):
        if r not in rows:
            reasons.append(f"{_where(hs, r, f.asset_col)}: a blank row inside the holdings")
            break
    for r in range(f.first_holding_row, f.last_holding_row + 1):
        cell = hs._cells.get((r, f.asset_col + 2))  # the price, the first computed column
        if r in rows and (cell is None or cell.data_type != "f"):
            reasons.append(f"{_where(hs, r, f.asset_col + 2)}: a holding row without the "
                           "book's formulas (an inserted row)")
            break
    for r in range(f.first_date_row, f.last_date_row + 1):
        cell = ws._cells.get((r, f.bench_col))
        if cell is None or cell.data_type != "f":
            reasons.append(f"{_where(ws, r, f.bench_col)}: a dated row without the benchmark "
                           "formula (an inserted row)")
            break
    n_held = f.last_holding_row - f.first_holding_row + 1
    n_dates = f.last_date_row - f.first_date_row + 1
    dest = name_destinations(wb, ["BetaStats", "RollingBetas"])
    c1, r1, c2, r2 = range_boundaries(dest["BetaStats"][1])
    if r2 - r1 + 1 != n_held:
        reasons.append(f"{dest['BetaStats'][0]}!A{r1}: the statistics are sized for "
                       f"{r2 - r1 + 1} holdings, the list has {n_held}")
    c1, r1, c2, r2 = range_boundaries(dest["RollingBetas"][1])
    if c2 - c1 + 1 != n_held or r2 - r1 + 1 != n_dates:
        reasons.append(f"{dest['RollingBetas'][0]}!A{r1}: the rolling betas are sized for "
                       f"{c2 - c1 + 1} holdings and {r2 - r1 + 1} dates, the book has "
                       f"{n_held} and {n_dates}")
    reasons.extend(_table_reasons(wb, f))
    if f.total_row in rows and _value(hs, f.total_row, f.asset_col) != TOTAL_LABEL:
        reasons.append(f"{_where(hs, f.total_row, f.asset_col)}: the totals row holds "
                       f"{_value(hs, f.total_row, f.asset_col)!r}")
    return Growth(tuple(reasons))


def _table_reasons(wb: Workbook, f: _Frame) -> list[str]:
    """What keeps the book from growing in Excel: a name over the prices or the holdings
    that is a fixed range instead of a table's column (a book of an earlier release, or
    saved by a program that fixes them), a missing table, or a table without its
    calculated columns (LibreOffice does not save them), which Excel fills into each row
    typed under the table."""
    out = []
    fixed = [n for n in TABLE_NAMES if n in wb.defined_names
             and "!" in (wb.defined_names[n].attr_text or "")]
    if fixed:
        out.append(f"the names {fixed} are fixed ranges, not the columns of the book's "
                   "tables")
    for sheet, name, formulas in (
            (f.prices_sheet, PRICES_TABLE, {BENCHMARK_HEADER}),
            (f.holdings_sheet, HOLDINGS_TABLE,
             {c.header for c in HOLDING_COLUMNS if c.formula is not None})):
        table = next((t for t in wb[sheet].tables.values() if t.displayName == name), None)
        if table is None:
            out.append(f"{sheet}: the table {name} is missing")
            continue
        lacking = [c.name for c in table.tableColumns
                   if c.name in formulas and c.calculatedColumnFormula is None]
        if lacking:
            out.append(f"{sheet}: the table {name} lacks the calculated columns {lacking}")
    return out


def _dates(ws: Worksheet, f: _Frame) -> list[dt.datetime]:
    rows = _column_rows(ws, f.date_col, f.first_date_row)
    dates: list[dt.datetime] = []
    expected = f.first_date_row
    for r in rows:
        where = _where(ws, r, f.date_col)
        if r != expected:
            raise DomainError(f"{where}: dates must be contiguous from "
                              f"{_where(ws, f.first_date_row, f.date_col)}; row {expected} "
                              "is blank (delete the blank row or fill it)")
        dates.append(date_cell(where, ws.cell(row=r, column=f.date_col).value,
                               dates[-1] if dates else None))
        expected = r + 1
    if len(dates) < 2:
        raise InsufficientDataError(f"{ws.title}: the prices must hold >= 2 dated rows, got "
                                    f"{len(dates)}")
    return dates


def _price_columns(ws: Worksheet, f: _Frame, n_rows: int) -> list[tuple[str, int]]:
    """(asset, column) of every headed price column, BTC and ETH first."""
    found: list[tuple[str, int]] = []
    last_row = f.first_date_row + n_rows - 1
    for col in range(f.first_price_col, ws.max_column + 1):
        if col == f.bench_col:
            continue
        header = _value(ws, f.header_row, col)
        if header is None:
            used = [r for r in _column_rows(ws, col, f.first_date_row) if r <= last_row]
            if used:
                raise InputTypeError(f"{_where(ws, used[0], col)}: a price needs its asset's "
                                     f"name in {_where(ws, f.header_row, col)}, got a blank "
                                     "header")
            continue
        where = _where(ws, f.header_row, col)
        asset = located(where, lambda v=header: validate_identifier("asset", v))
        if asset == BENCHMARK_HEADER:
            raise DomainError(f"{where}: {BENCHMARK_HEADER!r} is the benchmark column's "
                              "header, not an asset")
        if any(asset == a for a, _ in found):
            raise DomainError(f"{where}: asset columns must be unique, got {asset!r} twice")
        found.append((asset, col))
    names = [a for a, _ in found]
    for required in ("BTC", "ETH"):
        if required not in names:
            raise UnknownNameError(f"{ws.title}: price columns must include {required!r}, got "
                                   f"{names}")
    order = {"BTC": 0, "ETH": 1}
    return sorted(found, key=lambda item: order.get(item[0], 2))  # stable: sheet order


def scan_inputs(wb: Workbook) -> BookInputs:
    """The inputs as the sheets hold them (see the module notes).

    Parameters
    ----------
    wb : openpyxl.Workbook
        The book, loaded in full with formulas (not with
        :func:`~betaneutral.workbook.loader.load_book`, which leaves cells out).

    Returns
    -------
    BookInputs
        Prices of every contiguous dated row and headed column, holdings in sheet
        order, settings and position.

    Raises
    ------
    BetaNeutralError
        A cell that cannot be read as the rule says, named (module notes).
    """
    check_book_sheets(wb)
    f = _frame(wb)
    ws = wb[f.prices_sheet]
    dates = _dates(ws, f)
    columns = _price_columns(ws, f, len(dates))
    data = {}
    for asset, col in columns:
        values = []
        for i in range(len(dates)):
            r = f.first_date_row + i
            value = _value(ws, r, col)
            values.append(located(_where(ws, r, col), lambda v=value, a=asset:
                                  price_value(f"price of {a}", v)))
        data[asset] = values
    prices = pd.DataFrame(data, index=pd.DatetimeIndex(dates, name="date"))

    hs = wb[f.holdings_sheet]
    assets = list(prices.columns)
    held: list[str] = []
    quantities: list[float] = []
    for r in _holding_rows(hs, f):
        where = _where(hs, r, f.asset_col)
        asset = _value(hs, r, f.asset_col)
        located(where, lambda v=asset: validate_identifier("asset", v))
        if asset not in assets:
            raise UnknownNameError(f"{where}: asset must be one of the price columns {assets}, "
                                   f"got {asset!r}")
        qty = _value(hs, r, f.asset_col + 1)
        qwhere = _where(hs, r, f.asset_col + 1)
        if qty is None or isinstance(qty, str | bool):
            raise InputTypeError(f"{qwhere}: quantity must be a number, got "
                                 f"{'a blank cell' if qty is None else repr(qty)}")
        quantities.append(located(qwhere, lambda v=qty: as_float("quantity", v)))
        held.append(str(asset))
    if not held:
        raise InsufficientDataError(f"{hs.title}: holdings must have >= 1 row, got 0")
    holdings = pd.DataFrame({"asset": held, "quantity": quantities})
    return BookInputs(prices=prices, holdings=holdings, settings=read_settings(wb),
                      current_contracts=read_position(wb))


def _moved(formula: str, origin: str, target: str) -> str:
    return Translator(formula, origin=origin).translate_formula(target)


# ------------------------------------------------------------------ carrying over ---
_REF = re.compile(r"^(?P<sheet>(?:'(?:[^']|'')+'|[A-Za-z_][\w.]*)!)?"
                  r"(?P<c1>\$?[A-Z]{1,3})(?P<r1>\$?\d+)"
                  r"(?::(?P<c2>\$?[A-Z]{1,3})(?P<r2>\$?\d+))?$")

#: (row map, column map) per sheet: where the resized book put the old rows and columns.
Moves = dict[str, tuple[Mapping[int, int], Mapping[int, int]]]


def _moved_ref(text: str, home: str, moves: Moves) -> str:
    """One A1 reference (``Holdings!$D$10``, ``B5:C7``) moved as the resize moved cells."""
    match = _REF.match(text)
    if match is None:
        return text
    prefix = match.group("sheet") or ""
    sheet = prefix[:-1].strip("'").replace("''", "'") if prefix else home
    if sheet not in moves:
        return text
    rows, cols = moves[sheet]

    def cell(col: str, row: str) -> str:
        c_abs, r_abs = col.startswith("$"), row.startswith("$")
        c = column_index_from_string(col.lstrip("$"))
        r = int(row.lstrip("$"))
        c, r = cols.get(c, c), rows.get(r, r)
        return f"{'$' if c_abs else ''}{get_column_letter(c)}{'$' if r_abs else ''}{r}"

    out = prefix + cell(match.group("c1"), match.group("r1"))
    if match.group("c2"):
        out += ":" + cell(match.group("c2"), match.group("r2"))
    return out


def _moved_formula(formula: str, home: str, moves: Moves) -> str:
    """A user's formula with its references to moved cells moved along, as a spreadsheet
    program moves them when rows or columns are inserted or moved."""
    if not moves or not formula.startswith("="):
        return formula
    tokens = Tokenizer(formula).items
    parts = ["="]
    for token in tokens:
        if token.type == Token.OPERAND and token.subtype == Token.RANGE:
            parts.append(_moved_ref(token.value, home, moves))
        else:
            parts.append(token.value)
    return "".join(parts)



def _copy_cell(src: Cell, dst: Cell, moves: Moves | None = None) -> None:
    value = src.value
    home = src.parent.title
    if isinstance(value, ArrayFormula):
        value = ArrayFormula(value.ref, _moved_formula(value.text, home, moves or {}))
    elif src.data_type == "f" and isinstance(value, str):
        value = _moved_formula(value, home, moves or {})
    dst.value = value
    if src.has_style:
        dst.font = copy.copy(src.font)
        dst.fill = copy.copy(src.fill)
        dst.border = copy.copy(src.border)
        dst.alignment = copy.copy(src.alignment)
        dst.protection = copy.copy(src.protection)
        dst.number_format = src.number_format
    if src.comment is not None:
        dst.comment = Comment(src.comment.text, src.comment.author or "",
                              width=src.comment.width, height=src.comment.height)
    if src.hyperlink is not None:
        dst.hyperlink = copy.copy(src.hyperlink)


def _copy_sheet(src: Worksheet, dst: Worksheet, moves: Moves) -> None:
    """Everything of a user's sheet openpyxl reads: cells, layout, rules, charts, images."""
    for (r, c), cell in src._cells.items():
        if isinstance(cell, MergedCell):
            continue
        _copy_cell(cell, dst.cell(row=r, column=c), moves)
    for rng in src.merged_cells.ranges:
        dst.merge_cells(str(rng))
    for key, dim in src.column_dimensions.items():
        target = dst.column_dimensions[key]
        target.width, target.hidden = dim.width, dim.hidden
        target.min, target.max = dim.min, dim.max
    for key, dim in src.row_dimensions.items():
        dst.row_dimensions[key].height = dim.height
        dst.row_dimensions[key].hidden = dim.hidden
    dst.freeze_panes = src.freeze_panes
    dst.sheet_state = src.sheet_state
    dst.sheet_properties.tabColor = copy.copy(src.sheet_properties.tabColor)
    for dv in src.data_validations.dataValidation:
        dst.add_data_validation(copy.copy(dv))
    for rng in src.conditional_formatting:
        for rule in rng.rules:
            dst.conditional_formatting.add(str(rng.sqref), copy.copy(rule))
    for chart in getattr(src, "_charts", []):
        dst.add_chart(chart, chart.anchor)
    for image in getattr(src, "_images", []):
        dst.add_image(image, image.anchor)
    for name, dn in src.defined_names.items():
        dst.defined_names[name] = DefinedName(
            name, attr_text=_moved_formula(f"={dn.attr_text}", src.title, moves)[1:],
            hidden=dn.hidden)


def _used(ws: Worksheet) -> set[tuple[int, int]]:
    return {key for key, cell in ws._cells.items()
            if cell.value is not None or cell.comment is not None}


def _carry(old: Worksheet, new: Worksheet, moves: Iterable[tuple[int, int, int]],
           taken: set[tuple[int, int]], refs: Moves) -> None:
    """Copy old cells (row, column) -> (new row, column) unless the book uses the place."""
    for r, c, nr in moves:
        cell = old._cells[(r, c)]
        if (nr, c) in taken:
            raise DomainError(
                f"{old.title}!{get_column_letter(c)}{r}: the resized book needs this cell "
                f"({new.title}!{get_column_letter(c)}{nr}) for itself; move your content "
                "elsewhere (your own sheet, or further right)")
        _copy_cell(cell, new.cell(row=nr, column=c), refs)


def _row_map(old_rows: list[int], new_first: int) -> dict[int, int]:
    return {r: new_first + i for i, r in enumerate(old_rows)}


def resize_book(old: Workbook, inputs: BookInputs, *, macro: bool) -> Workbook:
    """The book rebuilt for ``inputs``, with the user's content carried over.

    Parameters
    ----------
    old : openpyxl.Workbook
        The user's book, loaded in full with formulas (charts and images included).
    inputs : BookInputs
        Its inputs as the sheets hold them (:func:`scan_inputs`).
    macro : bool
        Build the macro-enabled variant (for an ``.xlsm``).

    Returns
    -------
    openpyxl.Workbook
        A fresh book for the data (names, arrays, Stats, Rolling and Scenarios sized
        to it) holding the user's sheets, names, notes and formulas.

    Raises
    ------
    DomainError
        A cell of the user's where the resized book needs to write (named).
    """
    f = _frame(old)
    new = fill_workbook(inputs, macro=macro)
    g = _frame(new)

    # Where the resize moved the cells users refer to: Holdings rows (each holding, the
    # header and the totals row) and Benchmark columns (each asset, the index column).
    hs_old = old[f.holdings_sheet]
    held_rows = _holding_rows(hs_old, f)
    rows = {**{r: r for r in range(1, f.first_holding_row)},
            **_row_map(held_rows, g.first_holding_row), f.total_row: g.total_row}
    bench_old, bench_new = old[f.prices_sheet], new[g.prices_sheet]
    new_cols = {_value(bench_new, g.header_row, c): c
                for c in range(g.first_price_col, g.last_price_col + 1)}
    cols = {f.bench_col: g.bench_col}
    for c in range(f.first_price_col, bench_old.max_column + 1):
        header = _value(bench_old, f.header_row, c)
        if header in new_cols:
            cols[c] = new_cols[header]
    refs: Moves = {f.holdings_sheet: (rows, {}), f.prices_sheet: ({}, cols)}
    computed = [column_index_from_string(c.letter) for c in HOLDING_COLUMNS if c.formula]
    places = [(f.holdings_sheet, r, c, rows[r], c) for r in held_rows for c in computed]
    places += [(f.holdings_sheet, f.total_row, column_index_from_string(c.letter),
                g.total_row, column_index_from_string(c.letter))
               for c in HOLDING_COLUMNS if c.total is not None]
    places += [(f.prices_sheet, r, f.bench_col, r, g.bench_col)
               for r in range(f.first_date_row, f.first_date_row + len(inputs.prices))]
    places += [(name, r, c, r, c) for name in ("Rebalance", "Scenarios", "Start", "Settings")
               for (r, c) in list(old[name]._cells)]
    _check_moved_formulas(old, new, places, refs, (f.first_holding_row, f.last_holding_row))

    ours = set(new.defined_names)
    for name, dn in old.defined_names.items():
        if name not in ours and not name.startswith("_xlnm"):
            text = _moved_formula(f"={dn.attr_text}", "", refs)[1:]
            new.defined_names[name] = DefinedName(name, attr_text=text, hidden=dn.hidden)
    for index, ws in enumerate(old.worksheets):
        if ws.title in SHEET_NAMES:
            continue
        target = new.create_sheet(ws.title, index=min(index, len(new.worksheets)))
        _copy_sheet(ws, target, refs)
    conf_old, conf_new = old["xlwings.conf"], new["xlwings.conf"]
    for (r, c), cell in conf_old._cells.items():
        if cell.value is not None:
            conf_new.cell(row=r, column=c).value = cell.value
    for name in _FIXED_FORMS:
        taken = _used(new[name])
        if name in ("Backtest", "Tickets", "Contracts"):  # rows the commands write
            right = new[name].max_column
            moves = [(r, c, r) for (r, c) in _used(old[name]) if c > right]
        else:  # the same form in both books: what the new one leaves empty is the user's
            moves = [(r, c, r) for (r, c) in _used(old[name]) if (r, c) not in taken]
        _carry(old[name], new[name], moves, taken, refs)

    # Holdings: the columns right of the book's move with their holding row.
    hs_new = new[g.holdings_sheet]
    right = hs_new.max_column
    moves = []
    for (r, c) in _used(hs_old):
        if c <= right:
            continue
        if r not in rows:
            raise DomainError(f"{hs_old.title}!{get_column_letter(c)}{r}: content beside the "
                              "holdings must be on a holding's row, the header or the totals "
                              "row (it cannot follow a row the book does not keep)")
        moves.append((r, c, rows[r]))
    _carry(hs_old, hs_new, moves, _used(hs_new), refs)
    # Stats and Rolling: cells right of the book's blocks stay where they are.
    for name in ("Stats", "Rolling"):
        o, n = old[name], new[name]
        old_right = _block_right(old, name)
        new_right = _block_right(new, name)
        moves = [(r, c, r) for (r, c) in _used(o) if c > old_right]
        for r, c, _ in moves:
            if c <= new_right:
                raise DomainError(f"{name}!{get_column_letter(c)}{r}: the resized book needs "
                                  "this column for a new holding; move your content further "
                                  "right or to your own sheet")
        _carry(o, n, moves, _used(n), refs)
    return new


def _formula_text(cell: Cell) -> str | None:
    if cell is None or cell.data_type != "f":
        return None
    value = cell.value
    return value.text if isinstance(value, ArrayFormula) else str(value)


def _check_moved_formulas(old: Workbook, new: Workbook, places: Iterable[tuple[
        str, int, int, int, int]], refs: Moves, holding_rows: tuple[int, int]) -> None:
    """Refuse a formula of the book's own the user changed (see the module notes).

    ``places`` are ``(sheet, old row, old column, new row, new column)`` of the book's
    formula cells; an old cell without a formula (a value typed where the book's
    formula was refuses only where the new book has a formula and the old one held a
    value) and a place the new book does not compute are skipped. A formula as the
    previous release wrote it counts as the book's (:func:`from_earlier_release`, with
    ``holding_rows`` the old book's first and last holding rows).
    """
    for sheet, r, c, nr, nc in places:
        cell = old[sheet]._cells.get((r, c))
        want = _formula_text(new[sheet]._cells.get((nr, nc)))
        if cell is None or want is None:
            continue
        got = _formula_text(cell)
        where = f"{sheet}!{get_column_letter(c)}{r}"
        if got is None:
            if cell.value is None:
                continue  # blank: the book's formula is restored
            raise DomainError(f"{where} must hold the book's formula {want!r} (at "
                              f"{sheet}!{get_column_letter(nc)}{nr} once resized), got the "
                              f"value {cell.value!r}")
        moved = _moved_formula(from_earlier_release(got, *holding_rows), sheet, refs)
        if normal_formula(moved) != normal_formula(want):
            raise DomainError(f"{where} must hold the book's formula (at "
                              f"{sheet}!{get_column_letter(nc)}{nr} once resized: {want!r}), "
                              f"got {got!r}. Only the book's own formulas are checked: put "
                              "your own formulas in other cells or on your own sheets.")


def _block_right(wb: Workbook, sheet: str) -> int:
    name = "BetaStats" if sheet == "Stats" else "RollingBetas"
    _, ref = name_destinations(wb, [name])[name]
    return range_boundaries(ref)[2]
