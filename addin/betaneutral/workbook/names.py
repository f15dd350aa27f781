"""Where a workbook's defined names point: the one reader of the names' ranges.

Every module that locates cells through the book's defined names (the input reader,
the fast loader, the model's layout, the result readers) asks here.
"""

from __future__ import annotations

from collections.abc import Sequence

from openpyxl import Workbook

from betaneutral.errors import UnknownNameError

__all__ = ["name_destinations"]


def name_destinations(wb: Workbook, names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Defined name -> (sheet, range without ``$``); missing names or sheets raise."""
    missing = [n for n in names if n not in wb.defined_names]
    if missing:
        raise UnknownNameError(f"workbook must define the names {missing}; they are missing "
                               "(is this a BetaNeutral workbook?)")
    out: dict[str, tuple[str, str]] = {}
    absent_sheets: list[str] = []
    for name in names:
        dests = list(wb.defined_names[name].destinations)
        if len(dests) != 1:
            raise UnknownNameError(f"name {name} must refer to one range, got "
                                   f"{wb.defined_names[name].attr_text!r}")
        sheet, ref = dests[0]
        if sheet not in wb.sheetnames:
            absent_sheets.append(sheet)
        out[name] = (sheet, ref.replace("$", ""))
    if absent_sheets:
        raise UnknownNameError(f"workbook must have the sheets {sorted(set(absent_sheets))}; "
                               "they are missing")
    return out
