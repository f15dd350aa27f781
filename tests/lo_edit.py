"""Edit a workbook in LibreOffice Calc as a person would, then save it (run with a Python
that has LibreOffice's ``uno`` module, e.g. Debian's ``/usr/bin/python3`` with
``python3-uno``).

Usage: ``python3 lo_edit.py PROFILE_DIR SRC DST EDIT [ARG ...]`` (the module imports
without ``uno``, so that the test run's doctest collection can import it).

Edits (sheet rows and columns are 1-based, as the user sees them):

* ``resave``: open and save, nothing else.
* ``sort SHEET RANGE COLUMN [desc]``: sort the block (e.g. ``A5:I10``) by the column
  letter, as Data > Sort does.
* ``delete-row SHEET ROW`` / ``insert-row SHEET ROW``: Sheet > Delete / Insert Rows.
* ``insert-column SHEET COLUMN``: insert a blank column before the column letter.
* ``set SHEET CELL VALUE``: type a number (or text) into a cell.

LibreOffice adjusts references, defined names and array ranges as it does for a user.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time


def _props(**kwargs: object) -> tuple:
    from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]

    out = []
    for name, value in kwargs.items():
        p = PropertyValue()
        p.Name, p.Value = name, value
        out.append(p)
    return tuple(out)


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def main(argv: list[str]) -> int:
    import uno  # type: ignore[import-not-found]  # LibreOffice's bridge: only when run

    profile, src, dst, edit, *args = argv
    pipe = f"betaneutral_edit_{os.getpid()}"
    office = subprocess.Popen(
        ["soffice", "--headless", "--invisible", "--nologo", "--norestore",
         f"-env:UserInstallation=file://{os.path.abspath(profile)}",
         f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local)
        ctx = None
        for _ in range(240):
            try:
                ctx = resolver.resolve(
                    f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except Exception:
                time.sleep(0.25)
        if ctx is None:
            print("LibreOffice did not start", file=sys.stderr)
            return 2
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop",
                                                               ctx)
        doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(os.path.abspath(src)),
                                           "_blank", 0, _props(Hidden=True))
        sheets = doc.getSheets()
        if edit == "sort":
            sheet, rng, column, *order = args
            block = sheets.getByName(sheet).getCellRangeByName(rng)
            first_col = _column_index("".join(ch for ch in rng.split(":")[0]
                                              if ch.isalpha()))
            field = uno.createUnoStruct("com.sun.star.table.TableSortField")
            field.Field = _column_index(column) - first_col
            field.IsAscending = not order
            block.sort(_props(SortFields=uno.Any("[]com.sun.star.table.TableSortField",
                                                  (field,)), ContainsHeader=False))
        elif edit in ("delete-row", "insert-row"):
            sheet, row = args
            rows = sheets.getByName(sheet).getRows()
            if edit == "delete-row":
                rows.removeByIndex(int(row) - 1, 1)
            else:
                rows.insertByIndex(int(row) - 1, 1)
        elif edit == "insert-column":
            sheet, column = args
            sheets.getByName(sheet).getColumns().insertByIndex(_column_index(column), 1)
        elif edit == "set":
            sheet, coord, value = args
            cell = sheets.getByName(sheet).getCellRangeByName(coord)
            try:
                cell.setValue(float(value))
            except ValueError:
                cell.setString(value)
        elif edit != "resave":
            print(f"unknown edit {edit!r}", file=sys.stderr)
            return 2
        doc.storeToURL(uno.systemPathToFileUrl(os.path.abspath(dst)),
                       _props(FilterName="Calc MS Excel 2007 XML"))
        doc.close(True)
        return 0
    finally:
        with contextlib.suppress(Exception):
            desktop.terminate()  # type: ignore[possibly-undefined]
        try:
            office.wait(timeout=30)
        except subprocess.TimeoutExpired:
            office.kill()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
