"""Store computed values as the cached values of a workbook's formula cells.

openpyxl cannot save a formula together with its value, so the values are
written into the saved package directly: :func:`write_cached_values` copies
the ``.xlsx``/``.xlsm`` zip member by member and rewrites only the worksheet
parts that contain formulas, setting each formula cell's ``<v>`` and its type
(``t="n"`` number, ``"b"`` boolean, ``"str"`` text, ``"e"`` error code). Cells
of a CSE array range other than its anchor carry values too (created when the
part has no ``<c>`` for them). Every other member, ``xl/vbaProject.bin``
included, is copied byte for byte in the original order; the only other change
is the ``calcPr`` element of the workbook part (below).

Recalculation on open (``calcPr``)
----------------------------------
By default (``recalc_on_load=False``) the file is marked so that Excel shows
the stored values: ``fullCalcOnLoad`` is removed and ``calcId`` is raised to
191029 (the calculation engine of Excel 2019 / Microsoft 365). Excel fully
recalculates on open a file whose ``calcId`` is older than its own engine
(ECMA-376 Part 1, 18.2.2 ``calcPr``; openpyxl writes 124519, Excel 2007), and
always when ``fullCalcOnLoad="1"``. Without a forced recalculation, Excel keeps
the cached values and recalculates only what depends on cells the user
changes; LibreOffice's default for xlsx files is not to recalculate on load.
With ``recalc_on_load=True``, ``fullCalcOnLoad="1"`` is set: Excel then
recomputes every formula on open, which needs the BetaNeutral functions to be
available (the add-in installed and macros allowed); without them the function
cells show ``#NAME?`` instead of the stored values.

The XML is parsed with lxml without entity resolution, network access or DTD
loading, and archives are checked before they are read
(:func:`betaneutral.archive.check_workbook_archive`).
"""

from __future__ import annotations

import copy
import functools
import io
import math
import operator
import os
import posixpath
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from lxml import etree
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.utils.cell import column_index_from_string, coordinate_to_tuple

from betaneutral.archive import MAX_XML_PART_BYTES, UnsafeWorkbookError, check_workbook_archive
from betaneutral.cells import EXCEL_ERRORS
from betaneutral.errors import DomainError, InputTypeError, UnknownNameError
from betaneutral.files import WORKBOOK_SUFFIXES, atomic_output
from betaneutral.workbook.cellvalues import Block, CellValues, SheetValues
from betaneutral.workbook.names import TableArea
from betaneutral.workbook.sheetxml import (
    ROW_TAG,
    Splicer,
    array_range,
    cell_at,
    cell_data,
    column_number,
    column_spans,
    count_cells,
    iter_cells,
)

__all__ = [
    "CALC_ID",
    "KEEP",
    "package_tables",
    "parse_part",
    "sheet_parts",
    "workbook_part",
    "write_cached_values",
]


class _Keep:
    """The value of a formula cell the caller does not compute: left as the file has it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "KEEP"


#: Give this as a formula cell's value to leave the cell (formula and cached value) as it is.
KEEP = _Keep()

#: calcId written when the cached values are to be shown (Excel 2019 / Microsoft 365 engine).
CALC_ID = 191029
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=False, remove_blank_text=False)
_REL_TYPE_DOC = "/officeDocument"
_REL_TYPE_SHEET = "/worksheet"
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
_CALCPR = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?)calcPr\b([^>]*?)(/?)>")
_DECLARATION = re.compile(rb"\s*<\?xml[^>]*\?>\s*")
_ATTR = re.compile(rb"""([^\s=]+)\s*=\s*("[^"]*"|'[^']*')""")
_COORDINATE = re.compile(r"^\$?([A-Za-z]{1,3})\$?([1-9]\d*)$")
_CANONICAL = re.compile(r"[A-Z]{1,3}[1-9][0-9]*\Z")

CellValue = float | int | bool | str


# ---------------------------------------------------------------- package parts ---
def _rel_id(element: Any) -> str | None:
    for key, value in element.attrib.items():
        qname = etree.QName(key)
        if qname.localname == "id" and (qname.namespace or "").endswith("/relationships"):
            return value
    return None


def _relationships(zf: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Id -> (type, resolved target part) of a part's relationships."""
    folder, base = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", f"{base}.rels")
    if rels_name not in zf.namelist():
        return {}
    root = parse_part(zf.read(rels_name), rels_name).getroot()
    out = {}
    for rel in root:
        if etree.QName(rel).localname != "Relationship" or rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target", "")
        resolved = (target.lstrip("/") if target.startswith("/")
                    else posixpath.normpath(posixpath.join(folder, target)))
        out[rel.get("Id", "")] = (rel.get("Type", ""), resolved)
    return out


def workbook_part(zf: zipfile.ZipFile) -> str:
    for kind, target in _relationships(zf, "").values():
        if kind.endswith(_REL_TYPE_DOC):
            return target
    raise UnknownNameError("package must have an officeDocument relationship in _rels/.rels")


def sheet_parts(zf: zipfile.ZipFile, wb_part: str) -> dict[str, str]:
    """Worksheet name -> its part name."""
    root = parse_part(zf.read(wb_part), wb_part).getroot()
    rels = _relationships(zf, wb_part)
    out = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or etree.QName(element).localname != "sheet":
            continue
        rel = rels.get(_rel_id(element) or "")
        if rel is not None and rel[0].endswith(_REL_TYPE_SHEET):
            out[element.get("name", "")] = rel[1]
    return out


def package_tables(zf: zipfile.ZipFile, parts: dict[str, str]) -> dict[str, TableArea]:
    """The Excel Tables of a package by name, read from each worksheet's table parts
    (``parts``: sheet name -> worksheet part, as :func:`sheet_parts` gives)."""
    out: dict[str, TableArea] = {}
    for sheet, part in parts.items():
        for kind, target in _relationships(zf, part).values():
            if not kind.endswith("/table") or target not in zf.namelist():
                continue
            root = parse_part(zf.read(target), target).getroot()
            columns = tuple(el.get("name", "") for el in root.iter()
                            if isinstance(el.tag, str)
                            and etree.QName(el).localname == "tableColumn")
            name = root.get("displayName") or root.get("name") or ""
            out[name] = TableArea(sheet, root.get("ref", ""), columns,
                                  int(root.get("headerRowCount", "1")),
                                  int(root.get("totalsRowCount", "0")))
    return out


# ------------------------------------------------------------------- cell values ---
def _encode(value: Any, where: str) -> tuple[str, str]:
    """(t attribute, <v> text) of a value."""
    if isinstance(value, bool | np.bool_):
        return "b", "1" if value else "0"
    if isinstance(value, int | np.integer):
        return "n", str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            raise DomainError(f"{where}: value must be finite, got {number!r}")
        return "n", repr(number)
    if isinstance(value, str):
        _xml_text(value, where)
        return ("e", value) if value in EXCEL_ERRORS else ("str", value)
    raise InputTypeError(f"{where}: value must be a number, boolean or text, got "
                         f"{type(value).__name__}")


_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: str, where: str) -> None:
    """Raise unless ``value`` has only characters an XML document may hold."""
    bad = _NOT_XML.search(value)
    if bad is not None:
        raise InputTypeError(f"{where}: text must hold only characters a workbook can store, "
                             f"got {bad.group()!r} at position {bad.start()} of {value[:40]!r}")


def _number_refs(sheet_data: Any, q: Any) -> None:
    """Give every row and cell its explicit ``r`` (implied positions made explicit)."""
    row_number = 0
    for row in sheet_data.iter(q("row")):
        row_number = int(row.get("r")) if row.get("r") else row_number + 1
        row.set("r", str(row_number))
        col = 0
        for cell in row.iter(q("c")):
            if cell.get("r"):
                _, col = coordinate_to_tuple(cell.get("r"))
            else:
                col += 1
                cell.set("r", f"{get_column_letter(col)}{row_number}")


def _cell_index(element: Any, q: Any) -> int:
    return coordinate_to_tuple(element.get("r"))[1]


def _new_cell(sheet_data: Any, rows: dict[int, Any], pos: tuple[int, int], q: Any) -> Any:
    r, c = pos
    row = rows.get(r)
    if row is None:
        row = etree.SubElement(sheet_data, q("row"))
        row.set("r", str(r))
        sheet_data.remove(row)
        later = [el for el in sheet_data.iter(q("row")) if int(el.get("r")) > r]
        if later:
            later[0].addprevious(row)
        else:
            sheet_data.append(row)
        rows[r] = row
    cell = etree.SubElement(row, q("c"))
    cell.set("r", f"{get_column_letter(c)}{r}")
    row.remove(cell)
    later = [el for el in row.iter(q("c")) if _cell_index(el, q) > c]
    if later:
        later[0].addprevious(cell)
    else:
        row.append(cell)
    if row.get("spans"):
        cols = [_cell_index(el, q) for el in row.iter(q("c"))]
        row.set("spans", f"{min(cols)}:{max(cols)}")
    return cell


def _set_value(cell: Any, value: Any, q: Any, where: str,
               encoded: tuple[str, str] | None = None) -> None:
    kind, text = encoded if encoded is not None else _encode(value, where)
    v_tag = q("v")
    n_children = len(cell)
    if n_children == 0 or (n_children == 1 and cell[0].tag == q("f")):
        # Common cases, same result as the general path: <v> goes last, after any <f>.
        etree.SubElement(cell, v_tag).text = text
        cell.set("t", kind)
        return
    if n_children == 2 and cell[0].tag == q("f") and cell[1].tag == v_tag:
        old = cell[1]
        if not len(old) and not old.attrib and old.tail is None:
            old.text = text  # the same as replacing it by a fresh <v>
            cell.set("t", kind)
            return
    for child in list(cell):
        if child.tag in (v_tag, q("is")):
            cell.remove(child)
    v = etree.SubElement(cell, v_tag)
    v.text = text
    formula = cell.find(q("f"))
    cell.remove(v)
    if formula is not None:
        formula.addnext(v)
    else:
        cell.insert(0, v)
    cell.set("t", kind)


@functools.lru_cache(maxsize=4096)
def _column_number(letters: str) -> int:
    return column_index_from_string(letters.upper())


def _position(coordinate: str) -> tuple[int, int]:
    """(row, column) of a cell reference such as ``B5``, as ``coordinate_to_tuple`` gives."""
    match = _COORDINATE.match(coordinate)
    if match is None:
        return coordinate_to_tuple(coordinate)  # raises for what is not a cell reference
    return int(match.group(2)), _column_number(match.group(1))


def parse_part(data: bytes, part: str) -> Any:
    """Parse a package part; a DTD (which OPC packages must not have) is refused, and so
    is a part over the tree bound (:data:`betaneutral.archive.MAX_XML_PART_BYTES`: only
    the byte-level paths read larger sheets)."""
    if len(data) > MAX_XML_PART_BYTES:
        raise UnsafeWorkbookError(
            f"{part}: its part holds {len(data):,} bytes of XML in a form only a full parse "
            f"reads; parts over {MAX_XML_PART_BYTES:,} bytes are refused (the memory bound)")
    tree = etree.parse(io.BytesIO(data), _PARSER)
    if tree.docinfo.doctype:
        raise DomainError(f"{part} must not declare a DTD (package parts never do), got "
                          f"{tree.docinfo.doctype[:60]!r}")
    return tree


def _serialize(tree: Any, data: bytes) -> bytes:
    """The tree as bytes, keeping the source's XML declaration exactly as it was."""
    encoding = tree.docinfo.encoding or "UTF-8"
    declaration = _DECLARATION.match(data)
    if declaration is None or encoding.upper() not in ("UTF-8", "UTF8"):
        return etree.tostring(tree, encoding=encoding, xml_declaration=declaration is not None)
    return data[:declaration.end()] + etree.tostring(tree, encoding="UTF-8",
                                                     xml_declaration=False)


def _set_plain(cell: Any, value: Any, q: Any, where: str) -> None:
    """Store an input value in a cell without a formula (None clears it, keeping its style)."""
    for child in list(cell):
        if child.tag in (q("v"), q("is")):
            cell.remove(child)
    if "t" in cell.attrib:
        del cell.attrib["t"]
    if value is None:
        return
    if isinstance(value, str):  # inline text: never a formula, never an error value
        _xml_text(value, where)
        inline = etree.SubElement(cell, q("is"))
        text = etree.SubElement(inline, q("t"))
        text.text = value
        if value != value.strip():
            text.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        cell.set("t", "inlineStr")
        return
    kind, text_value = _encode(value, where)
    v = etree.SubElement(cell, q("v"))
    v.text = text_value
    cell.set("t", kind)


def _canonical(coordinate: str) -> str:
    """A cell reference without ``$``, in upper case: ``$b$5`` -> ``B5``."""
    if _CANONICAL.match(coordinate):
        return coordinate
    row, col = _position(coordinate.replace("$", ""))
    return f"{get_column_letter(col)}{row}"


def _rewrite_sheet(data: bytes, sheet: str, values: Mapping[str, Any],
                   plain: Mapping[str, Any] | None = None) -> bytes:
    """The sheet part with ``values`` (coordinate -> value) stored in its formula cells,
    and ``plain`` values stored in (or cleared from) cells without a formula.

    Only the ``<f>`` elements are searched for; other cells are looked up row by row,
    in the rows that need them, so a sheet of inputs with a few formulas costs little
    more than its parse.
    """
    tree = parse_part(data, sheet)
    root = tree.getroot()
    ns = etree.QName(root).namespace

    def q(tag: str) -> str:
        return f"{{{ns}}}{tag}" if ns else tag

    c_tag, f_tag, v_tag = q("c"), q("f"), q("v")
    sheet_data = root.find(q("sheetData"))
    formula_cells: dict[str, Any] = {}  # coordinate -> <c> holding a formula
    rows: dict[int, Any] = {}
    needed: dict[int, dict[str, int]] = {}  # row -> {coordinate: column} needing a value
    if sheet_data is not None:
        if any(el.get("r") is None for el in sheet_data.iter(q("row"), c_tag)):
            _number_refs(sheet_data, q)
        for row in sheet_data.iter(q("row")):
            rows[int(row.get("r"))] = row
        for formula in sheet_data.iter(f_tag):
            cell = formula.getparent()
            if cell is None or cell.tag != c_tag or cell.find(f_tag) is not formula:
                continue
            r, c = _position(cell.get("r"))
            coordinate = f"{get_column_letter(c)}{r}"
            formula_cells[coordinate] = cell
            needed.setdefault(r, {})[coordinate] = c
            if formula.get("t") == "array" and formula.get("ref"):
                try:
                    c1, r1, c2, r2 = range_boundaries(formula.get("ref"))
                    letters = [(get_column_letter(col), col) for col in range(c1, c2 + 1)]
                    rows_spanned = range(r1, r2 + 1)
                except (ValueError, TypeError):  # "B2:", "1:2", "A:A": not a block of cells
                    raise DomainError(f"{sheet}!{coordinate}: an array formula's range must "
                                      f"be a block of cells, got {formula.get('ref')!r}"
                                      ) from None
                for r in rows_spanned:
                    line = needed.setdefault(r, {})
                    for letter, col in letters:
                        line[f"{letter}{r}"] = col
    row_cells: dict[int, dict[str, Any]] = {}
    every_cell: dict[str, Any] = {}

    def existing(coordinate: str, r: int) -> Any:
        """The cell element at ``coordinate`` (canonical) in row ``r``, or None."""
        cell = formula_cells.get(coordinate)
        if cell is not None or sheet_data is None:
            return cell
        in_row = row_cells.get(r)
        if in_row is None:
            in_row = row_cells[r] = ({el.get("r"): el for el in rows[r].iter(c_tag)}
                                     if r in rows else {})
        cell = in_row.get(coordinate)
        if cell is None:  # not in its row, or its reference is spelled unusually
            if not every_cell:
                every_cell.update((_canonical(el.get("r")), el) for el in sheet_data.iter(c_tag))
            cell = every_cell.get(coordinate)
        return cell

    # canonical coordinate -> the key as given (usually the same)
    if all(map(_CANONICAL.match, values)):
        given = dict(zip(values, values, strict=True))
    else:
        given = {_canonical(coordinate): coordinate for coordinate in values}
    wanted = {coordinate for line in needed.values() for coordinate in line}

    def names(coordinates: set[str]) -> list[str]:
        return [f"{sheet}!{c}" for c in sorted(coordinates, key=_position)][:10]

    for coord in plain or {}:  # a value a spreadsheet program saved as a formula (=FALSE())
        coordinate = _canonical(coord)
        cell = formula_cells.get(coordinate)
        if cell is None or coordinate in given:
            continue
        formula = cell.find(f_tag)
        if formula.get("t") == "array":
            raise UnknownNameError(f"plain values must be for cells without a formula; "
                                   f"{sheet}!{coord} holds an array formula")
        cell.remove(formula)
        del formula_cells[coordinate]
        r = _position(coordinate)[0]
        del needed[r][coordinate]
        if not needed[r]:
            del needed[r]
        wanted.discard(coordinate)
    missing = wanted - set(given)
    if missing:
        raise UnknownNameError(f"every formula cell must have a value; none for "
                               f"{len(missing)} cells, e.g. {names(missing)}")
    extra = set(given) - wanted
    if extra:
        raise UnknownNameError(f"values must be for formula cells only; {len(extra)} cells "
                               f"hold no formula, e.g. {names(extra)}")
    absent: list[tuple[tuple[int, int], tuple[str, str]]] = []
    try:
        for r, line in needed.items():
            in_row = None
            for coordinate, col in line.items():
                value = values[given[coordinate]]
                if value is KEEP:
                    continue
                if type(value) is float and math.isfinite(value):
                    encoded = "n", repr(value)  # what _encode gives a float
                else:
                    encoded = _encode(value, "")
                cell = formula_cells.get(coordinate)
                if cell is None:
                    if in_row is None:
                        existing(coordinate, r)  # builds the row's map
                        in_row = row_cells.get(r, {})
                    cell = in_row.get(coordinate)
                    if cell is None:
                        cell = existing(coordinate, r)
                if cell is None:
                    absent.append(((r, col), encoded))
                    continue
                n_children = len(cell)
                if n_children == 0 or (n_children == 1 and cell[0].tag == f_tag):
                    etree.SubElement(cell, v_tag).text = encoded[1]  # as _set_value does
                    cell.set("t", encoded[0])
                else:
                    _set_value(cell, None, q, "", encoded)
    except (DomainError, InputTypeError):
        for coordinate in sorted(wanted, key=_position):  # the first bad value, in order
            if values[given[coordinate]] is not KEEP:
                _encode(values[given[coordinate]], f"{sheet}!{given[coordinate]}")
        raise
    for pos, encoded in sorted(absent):
        _set_value(_new_cell(sheet_data, rows, pos, q), None, q, "", encoded)
    written: set[tuple[int, int]] = set()
    if needed:  # the corners of the written cells are enough for the dimension
        cols = [col for line in needed.values() for col in (min(line.values()),
                                                             max(line.values()))]
        written.update({(min(needed), min(cols)), (max(needed), max(cols))})
    created: dict[str, Any] = {}
    for coord, value in (plain or {}).items():
        coordinate = _canonical(coord)
        r, col = _position(coordinate)
        if coordinate in wanted:
            raise UnknownNameError(f"plain values must be for cells without a formula; "
                                   f"{sheet}!{coord} holds one")
        cell = created.get(coordinate)
        if cell is None:
            cell = existing(coordinate, r)
        if cell is None:
            if value is None:
                continue
            if sheet_data is None:
                raise UnknownNameError(f"{sheet} has no cell data to write {coord} into")
            cell = _new_cell(sheet_data, rows, (r, col), q)
            created[coordinate] = cell
        _set_plain(cell, value, q, f"{sheet}!{coord}")
        if value is not None:
            written.add((r, col))
    _extend_dimension(root, q, written)
    return _serialize(tree, data)


# ----------------------------------------------------- the same, on the bytes ---
_FORMULA_INNER = re.compile(rb"(<f(?:\s[^<>]*)?(?:/>|>[^<]*</f>))(?:<v>[^<]*</v>|<v/>)?")
_FORMULA_START = re.compile(rb"<f[\s>/]")
_ROW_START = re.compile(rb"<row[\s>/]")
_CACHED_INNER = re.compile(rb"(?:<v>[^<]*</v>|<v/>)?")
_PLAIN_INNER = re.compile(rb"(?:<v>[^<]*</v>|<v/>|<is><t>[^<]*</t></is>)?")
_T_ATTRIBUTE = re.compile(rb'\st="[^"]*"')
_DIMENSION = re.compile(rb'<dimension ref="([^"]*)"\s*/>')
_MISSING = object()
#: zlib level of the rewritten sheet parts: level 1 compresses a large sheet about three
#: times faster than the default (6), into a part about an eighth larger.
_SHEET_COMPRESSION = 1


def _escaped(text: str) -> bytes | None:
    """Text as lxml writes it in an element, or None when it needs lxml's rules
    (a character XML cannot hold, or a CR, which lxml writes as a reference)."""
    if "\r" in text or _NOT_XML.search(text):
        return None
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .encode("utf-8"))


def _encoded(value: Any) -> tuple[bytes, bytes] | None:
    """(t, <v> text) of a computed value as the tree-based path stores it, or None."""
    kind = type(value)
    if kind is float:
        return (b"n", b"%r" % value) if math.isfinite(value) else None
    if kind is bool:
        return b"b", b"1" if value else b"0"
    if kind is int:
        return b"n", b"%d" % value
    if kind is str:
        text = _escaped(value)
        if text is None:
            return None
        return (b"e", text) if value in EXCEL_ERRORS else (b"str", text)
    return None


class _Typed(dict[tuple[bytes, bytes], bytes]):
    """Cell attributes with ``t`` set as lxml's ``set`` does (in place, else last)."""

    def __missing__(self, key: tuple[bytes, bytes]) -> bytes:
        attributes, kind = key
        if _T_ATTRIBUTE.search(attributes):
            out = _T_ATTRIBUTE.sub(b' t="' + kind + b'"', attributes, count=1)
        else:
            out = attributes + b' t="' + kind + b'"'
        self[key] = out
        return out


def _splice_sheet(data: bytes, values: Mapping[str, Any] | SheetValues,
                  plain: Mapping[str, Any] | None = None, *,
                  consume: bool = False) -> bytes | None:
    """What :func:`_rewrite_sheet` gives, by editing the part's bytes; None when the part
    or a value is one that only the tree-based path handles (the caller then uses it).
    The edits are :func:`_splice_edits`'s."""
    edits = _splice_edits(data, values, plain, consume=consume)
    if edits is None:
        return None
    out = Splicer(data)
    for edit in edits:
        out.replace(*edit)
    del edits  # the new rows are in the copy: not held twice while it is finished
    return out.result()


def _splice_edits(data: bytes, values: Mapping[str, Any] | SheetValues,
                  plain: Mapping[str, Any] | None = None, *,
                  consume: bool = False) -> list[tuple[int, int, Any]] | None:
    """The edits (start, end, new bytes) turning the part into what :func:`_rewrite_sheet`
    gives, in increasing order; None when the part or a value is one that only the
    tree-based path handles (the caller then uses it). A row of a block is written when
    the edit is applied (a :class:`_BlockRow`, not bytes yet).

    Handled: a part in the common serialization
    (:func:`~betaneutral.workbook.sheetxml.cell_data`), each formula cell with one
    ``<f>`` and at most a ``<v>``, every formula and array cell present once with a
    value each (and no other value), values keyed by plain references (``B5``),
    finite numbers, booleans and text lxml writes as it is, plain values only for
    existing cells holding at most a value or a simple inline text, and a
    ``dimension`` without other attributes. Every cell it changes comes out as the
    tree-based path writes it; the rest of the part is copied byte for byte.
    """
    body = cell_data(data)
    if body is None:
        return None
    b0, b1 = body
    if (len(_ROW_START.findall(data, b0, b1)) != data.count(b'<row r="', b0, b1)
            or data.count(b'<c r="', b0, b1) != count_cells(data, body)):
        return None  # rows or cells without a reference: the tree-based path numbers them
    formulas: dict[int, bytes] = {}  # cell start -> its <f> element
    ranges = []
    for match in _FORMULA_START.finditer(data, b0, b1):
        cell = cell_at(data, data.rfind(b'<c r="', b0, match.start()))
        if cell is None or cell[1] <= match.start() or cell[0] in formulas:
            return None
        found = _FORMULA_INNER.fullmatch(cell[5] or b"")
        if found is None:
            return None
        formula = formulas[cell[0]] = found.group(1)
        try:
            bounds = array_range(formula[2:formula.find(b">")])
        except ValueError:
            return None  # the tree path reads such a formula (or reports it)
        if bounds is not None:
            ranges.append(bounds)
    if ranges or plain:
        cells: Iterable[Any] = iter_cells(data, body)
        expected = count_cells(data, body)
    else:  # only the formula cells change
        cells = [cell_at(data, start) for start in formulas]
        expected = len(formulas)
    by_column, single = column_spans(ranges)
    plain = plain or {}
    if not all(map(_CANONICAL.match, plain)):
        return None
    typed = _Typed()
    edits: list[tuple[int, int, Any]] = []
    seen = 0
    interior = 0  # array cells other than the formula cells
    # each formula or array cell takes its value out (with consume, out of ``values``
    # itself, a dict the caller gives up: no copy of a large sheet's values)
    remaining: dict[str, Any] | SheetValues
    if type(values) is SheetValues:  # a sheet holding blocks: their rows taken whole
        remaining = values if consume else values.copy()
    else:
        remaining = values if consume and type(values) is dict else dict(values)
    plain_set = 0  # plain values other than None stored
    rows: list[int] = []
    cols: list[int] = []
    if ranges:  # rows made only of array cells (a generated block) are written whole
        block = _block_rows(data, body, single, plain, remaining, typed)
        if block is None:
            return None
        row_edits, cells, counted, rows, cols = block
        edits.extend(row_edits)
        seen += counted
        interior += counted
    for start, end, letters, row_text, attributes, inner in cells:
        seen += 1
        formula = formulas.get(start)
        if formula is not None and plain and (letters + row_text).decode() in plain:
            return None  # a plain value for a formula cell: the tree-based path removes it
        if formula is None:
            if plain:
                coordinate = (letters + row_text).decode()
                if coordinate in plain:
                    edit = _plain_edit(start, end, letters, row_text, attributes, inner,
                                       plain[coordinate])
                    if edit is None:
                        return None
                    edits.append(edit)
                    if plain[coordinate] is not None:
                        plain_set += 1
                        rows.append(int(row_text))
                        cols.append(column_number(letters))
                    continue
            if not by_column:
                continue
            col = column_number(letters)
            row = int(row_text)
            span = single.get(col)
            if span is not None:
                if not span[0] <= row <= span[1]:
                    continue
            elif not any(r1 <= row <= r2 for r1, r2 in by_column.get(col, ())):
                continue
            if inner and not _CACHED_INNER.fullmatch(inner):
                return None
            formula = b""
            interior += 1
        else:
            row, col = int(row_text), column_number(letters)
        rows.append(row)
        cols.append(col)
        value = remaining.pop((letters + row_text).decode(), _MISSING)
        if value is KEEP:
            continue  # the user's formula: left as the file has it
        if type(value) is float and value - value == 0.0:  # finite: the common case
            kind, text = b"n", b"%r" % value
        else:
            encoded = None if value is _MISSING else _encoded(value)
            if encoded is None:
                return None
            kind, text = encoded
        edits.append((start, end, b'<c r="%b%b"%b>%b<v>%b</v></c>' % (
            letters, row_text, typed[attributes, kind], formula, text)))
    if seen != expected:
        return None  # a cell the scanner did not match: the part is unusual
    if interior != sum((c2 - c1 + 1) * (r2 - r1 + 1) - 1 for c1, r1, c2, r2 in ranges):
        return None  # an array cell absent, given a plain value, or under two ranges
    if remaining or plain_set != sum(v is not None for v in plain.values()):
        return None  # a formula or array cell to create, or a value for another cell
    # (a plain None for a cell the part does not have clears nothing, as in the tree path)
    dimension = _dimension_edit(data, rows, cols)
    if dimension is None:
        return None
    edits.extend(dimension)
    edits.sort(key=_first)
    return edits


def _first(edit: tuple[int, int, Any]) -> int:
    return edit[0]


class _BlockRow:
    """A row of finite numbers of a block, written with its row template when the part
    is written (so that the rows are not all held as bytes at once)."""

    __slots__ = ("block", "i", "j0", "j1", "row", "template")

    def __init__(self, template: str, row: str, block: Block, i: int, j0: int,
                 j1: int) -> None:
        self.template, self.row = template, row
        self.block, self.i, self.j0, self.j1 = block, i, j0, j1

    def __bytes__(self) -> bytes:
        return self.template.format(self.row, *self.block.row(self.i, self.j0,
                                                              self.j1)).encode()


#: Bytes handed to the compressor at a time when a part is written from its edits.
_CHUNK = 1 << 20


def _spliced_chunks(data: bytes, edits: Iterable[tuple[int, int, Any]]) -> Iterator[Any]:
    """The part with its edits applied, in pieces of about :data:`_CHUNK` bytes (what
    :class:`~betaneutral.workbook.sheetxml.Splicer` gives, never whole)."""
    view = memoryview(data)
    out = bytearray()
    at = 0
    for start, end, new in edits:
        if start - at >= _CHUNK:  # a long unchanged run: handed on as it is
            if out:
                yield out
                out = bytearray()
            yield view[at:start]
        else:
            out += view[at:start]
        out += new if type(new) is bytes else bytes(new)
        at = end
        if len(out) >= _CHUNK:
            yield out
            out = bytearray()
    if out:
        yield out
    if at < len(data):
        yield view[at:]


#: An array cell holding at most a cached value: the whole cell, its column letters, its
#: row and the attributes after ``r`` (as :func:`~betaneutral.workbook.sheetxml.iter_cells`
#: reads a cell).
_ARRAY_CELL = re.compile(
    rb'(<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"((?:\s+[A-Za-z_][\w.:-]*="[^"<>&]*")*)\s*'
    rb"(?:/>|>(?:<v>[^<]*</v>|<v/>)?</c>))")


def _block_rows(data: bytes, body: tuple[int, int],
                single: Mapping[int, tuple[int, int]], plain: Mapping[str, Any],
                remaining: dict[str, Any] | SheetValues, typed: _Typed
                ) -> tuple[list[tuple[int, int, Any]], Iterable[Any], int, list[int],
                           list[int]] | None:
    """The rows of a part whose cells are all array cells other than the formula cells,
    each holding at most a cached value (the body of a generated block such as the
    rolling betas), rewritten whole, each cell as :func:`_splice_sheet` writes it.

    Returns the edits (one per such row: its content), the other cells (scanned as
    :func:`~betaneutral.workbook.sheetxml.iter_cells` does, rows done left out), the
    number of cells done, and the rows and columns written (for the dimension); None
    when a value is one only the tree-based path stores. Each value taken is removed
    from ``remaining``; from a :class:`~betaneutral.workbook.cellvalues.SheetValues`, a
    row lying in one of its blocks is taken as the block's row (no value looked up by
    its coordinate).
    """
    b0, b1 = body
    plain_rows = {coordinate.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for coordinate in plain}
    edits: list[tuple[int, int, Any]] = []
    done: list[tuple[int, int]] = []  # byte ranges of the rows written
    rows: list[int] = []
    cols: list[int] = []
    counted = 0
    inside: dict[tuple[bytes, ...], tuple[int, int, int, int] | None] = {}
    letter_text: dict[tuple[bytes, ...], list[str]] = {}
    templates: dict[tuple[tuple[bytes, ...], tuple[bytes, ...]], str] = {}
    letter_numbers: dict[tuple[bytes, ...], tuple[int, ...]] = {}
    take_row = remaining.take_row if type(remaining) is SheetValues else None
    take_numbers = remaining.take_numbers if type(remaining) is SheetValues else None
    pop = remaining.pop
    # (pattern, letters, attributes) of rows read whole: the next row is matched against
    # the last one's at once instead of being read cell by cell
    shapes: dict[tuple[tuple[bytes, ...], tuple[bytes, ...]],
                 tuple[Any, tuple[bytes, ...], tuple[bytes, ...]]] = {}
    shape: tuple[Any, tuple[bytes, ...], tuple[bytes, ...]] | None = None
    pos = b0
    while True:
        tag = ROW_TAG.search(data, pos, b1)
        if tag is None:
            break
        start = pos = tag.end()
        if data[tag.end() - 2:tag.end()] == b"/>":
            continue  # an empty row
        end = data.find(b"</row>", start, b1)
        if end < 0:
            return None
        row_text = tag.group(1)
        if row_text.decode() in plain_rows or data.find(b"<f", start, end) >= 0:
            continue
        found = None
        match = shape[0].fullmatch(data, start, end) if shape is not None else None
        if match is not None and match.group(1) == row_text:
            letters, attributes = shape[1], shape[2]  # the cells of the last row, this row
        else:
            found = _ARRAY_CELL.findall(data, start, end)
            if (not found or sum(map(len, map(_FIRST, found))) != end - start
                    or set(map(_THIRD, found)) != {row_text}):
                continue  # other content: cell by cell
            letters = tuple(map(_SECOND, found))
            attributes = tuple(map(_FOURTH, found))
            if len(letters) >= _SHAPE_CELLS:
                shape = shapes.get((letters, attributes))
                if shape is None:
                    shape = shapes[letters, attributes] = (
                        _row_shape(letters, attributes), letters, attributes)
        span = inside.get(letters, _MISSING)
        if span is _MISSING:
            span = inside[letters] = _common_span(letters, single)
        row = int(row_text)
        if span is None or not span[0] <= row <= span[1]:
            continue
        row_key = row_text.decode()
        texts = letter_text.get(letters)
        if texts is None:
            texts = letter_text[letters] = [letter.decode() for letter in letters]
        taken = None
        if take_row is not None:
            numbers = letter_numbers.get(letters)
            if numbers is None:
                numbers = letter_numbers[letters] = tuple(map(column_number, letters))
            numbers_row = take_numbers(row, numbers)
            if numbers_row is not None:  # finite numbers of a block: written from it
                edits.append((start, end, _BlockRow(
                    _template(templates, letters, attributes, typed), row_key,
                    *numbers_row)))
                done.append((start, end))
                counted += len(letters)
                rows.append(row)
                cols.extend((span[2], span[3]))
                continue
            taken = take_row(row, numbers)
        if taken is None:
            taken = [pop(text + row_key, _MISSING) for text in texts]
        if set(map(type, taken)) == {float} and math.isfinite(sum(taken)):
            # every value a finite number (the common case): the row in one format call
            template = _template(templates, letters, attributes, typed)
            edits.append((start, end, template.format(row_key, *taken).encode()))
        else:
            if found is None:
                found = _ARRAY_CELL.findall(data, start, end)
            parts = []
            for (whole, letter, _, attribute), value in zip(found, taken, strict=True):
                if type(value) is float and value - value == 0.0:
                    parts.append(b'<c r="%b%b"%b><v>%r</v></c>' % (
                        letter, row_text, typed[attribute, b"n"], value))
                    continue
                if value is KEEP:
                    parts.append(whole)
                    continue
                encoded = None if value is _MISSING else _encoded(value)
                if encoded is None:
                    return None
                parts.append(b'<c r="%b%b"%b><v>%b</v></c>' % (
                    letter, row_text, typed[attribute, encoded[0]], encoded[1]))
            edits.append((start, end, b"".join(parts)))
        done.append((start, end))
        counted += len(letters)
        rows.append(row)
        cols.extend((span[2], span[3]))

    def others() -> Iterator[Any]:
        at = b0
        for start, end in done:
            yield from iter_cells(data, (at, start))
            at = end
        yield from iter_cells(data, (at, b1))

    return edits, others(), counted, rows, cols


_FIRST, _SECOND, _THIRD, _FOURTH = map(operator.itemgetter, range(4))
#: Rows of at least this many cells are matched against the previous row's shape.
_SHAPE_CELLS = 8


def _row_shape(letters: tuple[bytes, ...], attributes: tuple[bytes, ...]) -> Any:
    """A pattern matching a whole row of array cells with these column letters and
    attributes in this order, each as :data:`_ARRAY_CELL` reads one, all in the same row
    (group 1)."""
    cells = []
    for k, (letter, attribute) in enumerate(zip(letters, attributes, strict=True)):
        row = rb"([1-9][0-9]{0,6})" if k == 0 else rb"\1"
        cells.append(rb'<c r="' + re.escape(letter) + row + rb'"' + re.escape(attribute)
                     + rb"\s*(?:/>|>(?:<v>[^<]*</v>|<v/>)?</c>)")
    return re.compile(b"".join(cells))


def _template(templates: dict[tuple[tuple[bytes, ...], tuple[bytes, ...]], str],
              letters: tuple[bytes, ...], attributes: tuple[bytes, ...], typed: _Typed) -> str:
    """The row template (:func:`_row_template`) of cells holding numbers, kept in
    ``templates``."""
    template = templates.get((letters, attributes))
    if template is None:
        template = templates[letters, attributes] = _row_template(
            letters, [typed[a, b"n"] for a in attributes])
    return template


def _row_template(letters: tuple[bytes, ...], attributes: list[bytes]) -> str:
    """A format string writing a row's cells, each as :func:`_splice_sheet` writes a
    number: ``{0}`` is the row, ``{1}``, ``{2}``, ... the values (written with ``repr``)."""
    cells = []
    for i, (letter, attribute) in enumerate(zip(letters, attributes, strict=True), start=1):
        head = (letter + b'"' + attribute).decode().replace("{", "{{").replace("}", "}}")
        cells.append(f'<c r="{head[:len(letter)]}{{0}}{head[len(letter):]}><v>{{{i}!r}}</v></c>')
    return "".join(cells)


def _common_span(letters: tuple[bytes, ...],
                 single: Mapping[int, tuple[int, int]]) -> tuple[int, int, int, int] | None:
    """(first row, last row, first column, last column) over which every column of
    ``letters`` lies under exactly one array range, or None."""
    first, last, columns = 0, 1 << 30, []
    for letter in letters:
        col = column_number(letter)
        span = single.get(col)
        if span is None:
            return None
        first, last = max(first, span[0]), min(last, span[1])
        columns.append(col)
    if first > last:
        return None
    return first, last, min(columns), max(columns)


def _plain_edit(start: int, end: int, letters: bytes, row_text: bytes, attributes: bytes,
                inner: bytes | None, value: Any) -> tuple[int, int, bytes] | None:
    """The edit storing an input value in a cell without a formula, as :func:`_set_plain`."""
    if not _PLAIN_INNER.fullmatch(inner or b""):
        return None
    head = b'<c r="' + letters + row_text + b'"' + _T_ATTRIBUTE.sub(b"", attributes)
    if value is None:
        return start, end, head + b"/>"
    if type(value) is str:
        text = _escaped(value)
        if text is None:
            return None
        space = b' xml:space="preserve"' if value != value.strip() else b""
        return start, end, (head + b' t="inlineStr"><is><t' + space + b">" + text
                            + b"</t></is></c>")
    encoded = _encoded(value)  # a number or a boolean here
    if encoded is None:
        return None
    return start, end, head + b' t="' + encoded[0] + b'"><v>' + encoded[1] + b"</v></c>"


def _dimension_edit(data: bytes, rows: list[int], cols: list[int]
                    ) -> list[tuple[int, int, bytes]] | None:
    """The edit growing the part's dimension to cover the written cells, as
    :func:`_extend_dimension` does (none when it covers them already); None when the
    dimension is not a plain one."""
    count = data.count(b"<dimension")
    if count == 0 or not rows:
        return []
    match = _DIMENSION.search(data)
    if count != 1 or match is None:
        return None
    try:
        c1, r1, c2, r2 = range_boundaries(match.group(1).decode())
    except ValueError:
        return []
    ref = (f"{get_column_letter(min(*cols, c1, c2))}{min(*rows, r1, r2)}:"
           f"{get_column_letter(max(*cols, c1, c2))}{max(*rows, r1, r2)}").encode()
    if ref == match.group(1):
        return []
    return [(match.start(1), match.end(1), ref)]


def _extend_dimension(root: Any, q: Any, positions: set[tuple[int, int]]) -> None:
    dimension = root.find(q("dimension"))
    if dimension is None or not positions or not dimension.get("ref"):
        return
    try:
        c1, r1, c2, r2 = range_boundaries(dimension.get("ref"))
    except ValueError:
        return
    rows = [r for r, _ in positions] + [r1, r2]
    cols = [c for _, c in positions] + [c1, c2]
    ref = (f"{get_column_letter(min(cols))}{min(rows)}:"
           f"{get_column_letter(max(cols))}{max(rows)}")
    if ref != dimension.get("ref"):
        dimension.set("ref", ref)


# ------------------------------------------------------------------------ calcPr ---
def _calc_attributes(attrs: dict[str, str], recalc_on_load: bool) -> dict[str, str]:
    out = dict(attrs)
    if recalc_on_load:
        out["fullCalcOnLoad"] = "1"
    else:
        out.pop("fullCalcOnLoad", None)
        try:
            current = int(out.get("calcId", "0"))
        except ValueError:
            current = 0
        out["calcId"] = str(max(current, CALC_ID))
    return out


def _set_calc_properties(data: bytes, recalc_on_load: bool) -> bytes:
    """The workbook part with its calcPr set; the rest of the bytes unchanged."""
    match = _CALCPR.search(data)
    if match is not None:
        attrs = {m.group(1).decode(): m.group(2)[1:-1].decode()
                 for m in _ATTR.finditer(match.group(2))}
        attrs = _calc_attributes(attrs, recalc_on_load)
        text = "".join(f' {k}="{v}"' for k, v in attrs.items()).encode()
        start = b"<" + match.group(1) + b"calcPr" + text + match.group(3) + b">"
        return data[:match.start()] + start + data[match.end():]
    tree = parse_part(data, "the workbook part")
    root = tree.getroot()
    ns = etree.QName(root).namespace
    calc = etree.SubElement(root, f"{{{ns}}}calcPr" if ns else "calcPr")
    root.remove(calc)
    for key, value in _calc_attributes({}, recalc_on_load).items():
        calc.set(key, value)
    before = ("sheets", "functionGroups", "externalReferences", "definedNames")
    anchors = [el for el in root if isinstance(el.tag, str)
               and etree.QName(el).localname in before]
    if anchors:
        anchors[-1].addnext(calc)
    else:
        root.append(calc)
    return _serialize(tree, data)


# ------------------------------------------------------------------------ public ---
def write_cached_values(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    values: Mapping[tuple[str, str], CellValue],
    *,
    recalc_on_load: bool = False,
    force: bool = False,
    plain_values: Mapping[tuple[str, str], CellValue | None] | None = None,
) -> Path:
    """Copy a workbook, storing ``values`` as the cached values of its formula cells.

    Parameters
    ----------
    src_path : path-like
        The workbook saved with formulas (``.xlsx`` or ``.xlsm``).
    dst_path : path-like
        Where to write the copy (same extension as intended: the package is
        copied as it is, VBA project and content types included). It may be
        ``src_path`` when ``force`` is True.
    values : mapping
        ``(sheet, coordinate) -> value`` for every formula cell and every cell
        of each CSE array range: ``float``/``int``, ``bool``, ``str``, or an
        Excel error code (``"#N/A"``, ...).
    recalc_on_load : bool, default False
        False keeps the stored values visible on open (``fullCalcOnLoad``
        removed, ``calcId`` raised to :data:`CALC_ID`); True makes Excel
        recompute everything on open (see the module notes).
    force : bool, default False
        Replace ``dst_path`` if it exists.
    plain_values : mapping, optional
        ``(sheet, coordinate) -> value`` for cells *without* a formula (e.g. the
        Tickets rows): text is stored as inline text (never a formula or an
        error value), numbers and booleans as such, and ``None`` clears the
        cell (its style is kept).

    Returns
    -------
    pathlib.Path
        ``dst_path``.

    Raises
    ------
    UnknownNameError
        A value names a sheet the workbook does not have, a formula cell has
        no value, or a value is given for a cell without a formula.
    DomainError
        A value is not finite.
    betaneutral.archive.UnsafeWorkbookError
        The source fails :func:`betaneutral.archive.check_workbook_archive`.
    InputTypeError
        A value has an unsupported type.
    betaneutral.files.FileProblemError
        ``dst_path`` exists without ``force``, is open in Excel, or cannot be
        replaced.

    Notes
    -----
    The copy is written to a temporary file in the target folder, checked
    (readable zip, same members) and moved over ``dst_path`` with
    ``os.replace``; on any error nothing is left behind.
    """
    src = Path(src_path)
    check_workbook_archive(src, bulk_sheets=True)  # a sheet parsed as a tree: parse_part
    by_sheet: dict[str, dict[str, Any]] = {}
    # computed blocks (CellValues) stay arrays: their rows are written from them
    blocks = values if isinstance(values, CellValues) else CellValues({})
    single = values.cells if isinstance(values, CellValues) else values
    for (sheet, coord), value in single.items():
        by_sheet.setdefault(sheet, {})[coord] = value
    block_sheets = {block.sheet for block in blocks.blocks}
    plain_by_sheet: dict[str, dict[str, Any]] = {}
    for (sheet, coord), value in (plain_values or {}).items():
        plain_by_sheet.setdefault(sheet, {})[coord] = value
    with zipfile.ZipFile(src) as zin:
        wb_part = workbook_part(zin)
        parts = sheet_parts(zin, wb_part)
        unknown = sorted((set(by_sheet) | set(plain_by_sheet) | block_sheets) - set(parts))
        if unknown:
            raise UnknownNameError(f"values must be for the workbook's sheets {list(parts)}, "
                                   f"got {unknown}")
        sheet_of = {part: sheet for sheet, part in parts.items()}
        members = zin.namelist()

        # atomic_output re-reads a workbook file in full, CRC checks included
        # (betaneutral.files.verify_workbook_file); other names get them here.
        crc_checked = Path(dst_path).suffix.lower() in WORKBOOK_SUFFIXES

        def verify(tmp: Path) -> None:
            with zipfile.ZipFile(tmp) as zcheck:
                if ((not crc_checked and zcheck.testzip() is not None)
                        or zcheck.namelist() != members):
                    raise DomainError(f"{tmp.name}: the written package must hold the same "
                                      "parts as the source")

        with atomic_output(dst_path, force=force, mode="wb", verify=verify) as (handle, tmp):
            with zipfile.ZipFile(handle, "w") as zout:
                for info in zin.infolist():
                    data = zin.read(info)
                    sheet = sheet_of.get(info.filename)
                    level = None  # a copied part: compressed as zipfile does by default
                    if sheet is not None and (sheet in by_sheet or sheet in plain_by_sheet
                                              or sheet in block_sheets
                                              or _FORMULA_TAG.search(data)):
                        given: dict[str, Any] | SheetValues = by_sheet.pop(sheet, {})
                        if sheet in block_sheets:
                            given = SheetValues(given, blocks.blocks_of(sheet))
                        edits = _splice_edits(data, given, plain_by_sheet.get(sheet),
                                              consume=True)
                        if edits is not None and len(data) < _STREAMED_PART:
                            _write_spliced(zout, info, data, edits)
                            continue
                        if edits is None:  # its values, taken out by the splice, again
                            mine = {coord: value for (name, coord), value in values.items()
                                    if name == sheet}
                            data = _rewrite_sheet(data, sheet, mine, plain_by_sheet.get(sheet))
                        else:
                            data = b"".join(_spliced_chunks(data, edits))
                        del edits
                        level = _SHEET_COMPRESSION
                    elif info.filename == wb_part:
                        data = _set_calc_properties(data, recalc_on_load)
                    zout.writestr(copy.copy(info), data, compresslevel=level)
            os.chmod(tmp, _file_mode(Path(dst_path)))
    return Path(dst_path)


#: Parts up to this size are written from their edits piece by piece: the part then
#: stays far enough below the zip64 threshold that zipfile writes the header it writes for
#: the whole bytes (``file_size * 1.05 > ZIP64_LIMIT`` is false either way).
_STREAMED_PART = zipfile.ZIP64_LIMIT // 8


def _write_spliced(zout: zipfile.ZipFile, info: zipfile.ZipInfo, data: bytes,
                   edits: list[tuple[int, int, Any]]) -> None:
    """Write a rewritten sheet part as ``writestr`` writes its bytes (same member, same
    compression level :data:`_SHEET_COMPRESSION`, same header), from the source part and
    its edits piece by piece, so that the rewritten part is never held whole."""
    target = copy.copy(info)
    target._compresslevel = _SHEET_COMPRESSION  # what writestr(compresslevel=) sets
    target.file_size = len(data)  # writestr's zip64 decision, as for the written size
    with zout.open(target, "w") as dest:
        for chunk in _spliced_chunks(data, edits):
            dest.write(chunk)


def _file_mode(target: Path) -> int:
    """Mode for the new file: the target's if it exists, else what a plain save gives."""
    if target.exists():
        return target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
