"""Where a workbook's defined names point: the one reader of the names' ranges.

Every module that locates cells through the book's defined names (the input reader,
the fast loader, the model's layout, the result readers, the formula engine of
``check``) asks here.

A name may be a plain range (``'Benchmark'!$B$2:$B$731``) or a structured reference
to an Excel Table (``Prices[BTC]``, ``Prices[[BTC]:[SOL]]``,
``Prices[[#Headers],[BTC]:[SOL]]``): the book defines the price and holdings names
over its tables so that they grow, in Excel, with the rows typed under the tables.
:func:`structured_range` turns such a reference into the range it covers, from the
table's own range and column names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.utils.cell import absolute_coordinate, quote_sheetname

from betaneutral.errors import UnknownNameError

__all__ = ["TableArea", "book_tables", "name_destinations", "resolved_names", "structured_range",
           "table_column_name"]


@dataclass(frozen=True)
class TableArea:
    """An Excel Table as the names need it.

    Attributes
    ----------
    sheet : str
        The sheet holding the table.
    ref : str
        Its range, header row included (``"A1:I731"``).
    columns : tuple of str
        Its column names, left to right (the header cells' text).
    header_rows, totals_rows : int
        Rows of header (1, or 0) and of totals (0 or 1) inside ``ref``.
    """

    sheet: str
    ref: str
    columns: tuple[str, ...]
    header_rows: int = 1
    totals_rows: int = 0


_STRUCTURED = re.compile(r"^([A-Za-z_\\][\w.\\]*)\[(.*)\]$", re.DOTALL)
_ITEMS = {"#all", "#data", "#headers", "#totals", "#this row"}


def table_column_name(name: str) -> str:
    """A column name as written inside a structured reference's brackets
    (``[``, ``]``, ``#`` and ``'`` escaped with ``'``)."""
    return re.sub(r"(['\[\]#])", r"'\1", name)


def _unescape(text: str) -> str:
    return re.sub(r"'(.)", r"\1", text)


def _specifiers(selector: str) -> list[str] | None:
    """The bracketed parts of a selector: ``[#Headers],[BTC]:[SOL]`` ->
    ``["#Headers", ",", "BTC", ":", "SOL"]``; a bare column name -> ``[name]``."""
    if not selector.startswith("["):
        return [_unescape(selector)]
    out: list[str] = []
    i = 0
    while i < len(selector):
        ch = selector[i]
        if ch == "[":
            j, text = i + 1, []
            while j < len(selector) and selector[j] != "]":
                if selector[j] == "'" and j + 1 < len(selector):
                    text.append(selector[j + 1])
                    j += 2
                    continue
                text.append(selector[j])
                j += 1
            if j >= len(selector):
                return None
            out.append("".join(text))
            i = j + 1
        elif ch in ",:":
            out.append(ch)
            i += 1
        elif ch == " ":
            i += 1
        else:
            return None
    return out


def structured_range(text: str, tables: Mapping[str, TableArea]) -> tuple[str, str] | None:
    """(sheet, range without ``$``) of a structured reference to one of ``tables``.

    Parameters
    ----------
    text : str
        A defined name's text, e.g. ``Prices[[#Headers],[BTC]:[SOL]]``.
    tables : mapping of str to TableArea
        The book's tables by name (:func:`book_tables`).

    Returns
    -------
    tuple of (str, str) or None
        None when ``text`` is not a structured reference to a table of ``tables``
        (or uses a form the book never writes: ``#This Row``, several areas).

    Notes
    -----
    The forms are Excel's (*Using structured references with Excel tables*): the
    table name alone or ``[#Data]`` is the data rows; ``[#Headers]`` the header row;
    ``[#All]`` everything; ``[Col]`` or ``[[Col1]:[Col2]]`` those columns' data rows,
    optionally after an item (``[[#Headers],[Col1]:[Col2]]``). Names are compared
    without regard to case, as Excel does.
    """
    stripped = text.strip()
    match = _STRUCTURED.match(stripped)
    name, selector = (match.group(1), match.group(2)) if match else (stripped, "[#Data]")
    key = next((k for k in tables if k.lower() == name.lower()), None)
    parts = _specifiers(selector)
    if key is None or parts is None:
        return None
    table = tables[key]
    c1, r1, c2, r2 = range_boundaries(table.ref)
    # [item], [column], [column]:[column], each of the two after "[item],"
    item, rest = "#data", parts
    if rest and rest[0].lower() in _ITEMS:
        item, rest = rest[0].lower(), rest[1:]
        if rest and rest[0] != ",":
            return None
        rest = rest[1:]
    if len(rest) == 3 and rest[1] == ":":
        columns = [rest[0], rest[2]]
    elif len(rest) <= 1:
        columns = rest
    else:
        return None
    if item == "#this row" or any(c in (",", ":") or c.lower() in _ITEMS for c in columns):
        return None
    lowered = [c.lower() for c in table.columns]
    if columns:
        try:
            idx = [lowered.index(c.lower()) for c in columns]
        except ValueError:
            return None
        c1, c2 = c1 + min(idx), c1 + max(idx)
    first_data, last_data = r1 + table.header_rows, r2 - table.totals_rows
    rows = {"#all": (r1, r2), "#data": (first_data, last_data),
            "#headers": (r1, r1) if table.header_rows else None,
            "#totals": (r2, r2) if table.totals_rows else None}[item]
    if rows is None or rows[0] > rows[1]:
        return None
    return table.sheet, (f"{get_column_letter(c1)}{rows[0]}:"
                         f"{get_column_letter(c2)}{rows[1]}")


def book_tables(wb: Workbook) -> dict[str, TableArea]:
    """The Excel Tables of an openpyxl workbook by name (header text from the table's
    own column list)."""
    out: dict[str, TableArea] = {}
    for ws in wb.worksheets:
        for table in getattr(ws, "tables", {}).values():  # TableList.items() gives refs
            name = table.displayName or table.name
            columns = tuple(str(c.name) for c in table.tableColumns)
            out[str(name)] = TableArea(ws.title, str(table.ref), columns,
                                       int(table.headerRowCount if table.headerRowCount
                                           is not None else 1),
                                       int(table.totalsRowCount or 0))
    return out


def _plain_destination(wb: Workbook, name: str) -> tuple[str, str] | None:
    try:
        dests = list(wb.defined_names[name].destinations)
    except AttributeError:  # openpyxl on a reference it does not parse (a missing table)
        return None
    if len(dests) != 1:
        return None
    sheet, ref = dests[0]
    return sheet, ref.replace("$", "")


def name_destinations(wb: Workbook, names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Defined name -> (sheet, range without ``$``); missing names or sheets raise.

    A name that is a structured reference to one of the book's tables is resolved
    with :func:`structured_range`.
    """
    missing = [n for n in names if n not in wb.defined_names]
    if missing:
        raise UnknownNameError(f"workbook must define the names {missing}; they are missing "
                               "(is this a BetaNeutral workbook?)")
    out: dict[str, tuple[str, str]] = {}
    absent_sheets: list[str] = []
    tables: dict[str, TableArea] | None = None
    for name in names:
        text = wb.defined_names[name].attr_text or ""
        found = None
        if "!" not in text:
            if tables is None:
                tables = book_tables(wb)
            found = structured_range(text, tables)
        if found is None:
            found = _plain_destination(wb, name)
        if found is None:
            raise UnknownNameError(f"name {name} must refer to one range, got {text!r}"
                                   + ("" if "!" in text or "[" not in text else
                                      " (a table the workbook does not have)"))
        sheet, ref = found
        if sheet not in wb.sheetnames:
            absent_sheets.append(sheet)
        out[name] = (sheet, ref)
    if absent_sheets:
        raise UnknownNameError(f"workbook must have the sheets {sorted(set(absent_sheets))}; "
                               "they are missing")
    return out


def resolved_names(wb: Workbook, tables: Mapping[str, TableArea] | None = None,
                   names: Iterable[str] | None = None) -> dict[str, str]:
    """Workbook-wide names that are structured references, as plain range text
    (``'Benchmark'!$B$2:$B$731``), for readers that do not know tables."""
    tables = book_tables(wb) if tables is None else tables
    out: dict[str, str] = {}
    for name in (wb.defined_names if names is None else names):
        text = wb.defined_names[name].attr_text or ""
        if "!" in text:
            continue
        found = structured_range(text, tables)
        if found is not None:
            out[name] = f"{quote_sheetname(found[0])}!{absolute_coordinate(found[1])}"
    return out
