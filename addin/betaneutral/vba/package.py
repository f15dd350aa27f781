"""Put the VBA project, the Start sheet's buttons and the sample label boxes into a workbook.

* :func:`attach_vba_project` gives an openpyxl workbook (loaded with
  ``keep_vba=True``) the project of :func:`betaneutral.vba.sources.vba_project`,
  written for its sheets' code names; openpyxl then saves it as
  ``xl/vbaProject.bin``.
* :func:`finish_package` adds shapes to a saved package: on a macro-enabled
  file, one button per workflow macro on the Start sheet (a rounded rectangle
  with a macro assigned, as Excel writes a shape after *Assign Macro*); on a
  workbook of the synthetic sample, a label box on the sheets whose first row
  is a header. openpyxl does not keep shapes, so this runs on the saved
  package; the commands that compute a workbook copy its parts and keep them.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from betaneutral.vba.sources import MACROS, vba_project

__all__ = ["BUTTON_ANCHORS", "SAMPLE_BOX_SHEETS", "START_SHEET", "add_shapes",
           "attach_vba_project", "finish_package", "finish_saved_workbook",
           "refreshed_vba_project"]

START_SHEET = "Start"
#: Macro -> (from column, from row, to column, to row), 0-based cell corners: F7:G8 and
#: F10:G11, beside the Start sheet's key figures (columns E:H of those rows are empty).
BUTTON_ANCHORS: dict[str, tuple[int, int, int, int]] = {
    "BetaNeutralExportTickets": (5, 6, 7, 8),
    "BetaNeutralReplayBacktest": (5, 9, 7, 11),
}

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_DRAWING_REL = _REL + "/drawing"
_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_EMPTY_DRAWING = (f'<xdr:wsDr xmlns:xdr="{_XDR}" xmlns:a="{_A}"/>').encode()
#: Sheets whose first row is a header row: the sample label is a box right of the columns.
SAMPLE_BOX_SHEETS = ("Rolling", "Benchmark", "Tickets")
_DRAWING_CT = "application/vnd.openxmlformats-officedocument.drawing+xml"
_RELS_CT = "application/vnd.openxmlformats-package.relationships+xml"
#: Elements a <drawing> must come before in a worksheet (CT_Worksheet sequence).
_AFTER_DRAWING = ("legacyDrawing", "legacyDrawingHF", "drawingHF", "picture", "oleObjects",
                  "controls", "webPublishItems", "tableParts", "extLst")


def attach_vba_project(wb: Any) -> None:
    """Replace the VBA project ``wb`` carries with BetaNeutral's (see the module doc).

    ``wb`` must have been loaded with ``keep_vba=True`` from a macro-enabled
    file (its ``[Content_Types].xml`` and ``_rels/.rels`` are kept).
    """
    if wb.vba_archive is None:
        raise ValueError("the workbook carries no VBA archive (load it with keep_vba=True)")
    names = []
    for ws in wb.worksheets:
        if not ws.sheet_properties.codeName:
            raise ValueError(f"sheet {ws.title!r} has no code name")
        names.append(ws.sheet_properties.codeName)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name in wb.vba_archive.namelist():
            if name != "xl/vbaProject.bin":
                out.writestr(name, wb.vba_archive.read(name))
        out.writestr("xl/vbaProject.bin", vba_project(names))
    wb.vba_archive = zipfile.ZipFile(buffer, "r")
    wb.code_name = "ThisWorkbook"


def _anchor(anchor: tuple[int, int, int, int], shape: str) -> str:
    c1, r1, c2, r2 = anchor
    return (
        '<xdr:twoCellAnchor editAs="absolute">'
        f"<xdr:from><xdr:col>{c1}</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>{r1}</xdr:row>"
        "<xdr:rowOff>0</xdr:rowOff></xdr:from>"
        f"<xdr:to><xdr:col>{c2}</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>{r2}</xdr:row>"
        f"<xdr:rowOff>0</xdr:rowOff></xdr:to>{shape}<xdr:clientData/></xdr:twoCellAnchor>"
    )


def _shape(shape_id: int, name: str, text: str, *, macro: str | None, fill: str,
           color: str, size: int) -> str:
    macro_attr = f" macro={quoteattr('[0]!' + macro)}" if macro else ""
    descr = f"Runs the macro {macro}" if macro else text
    box = "" if macro else ' txBox="1"'
    return (
        f'<xdr:sp{macro_attr} textlink="">'
        f"<xdr:nvSpPr><xdr:cNvPr id=\"{shape_id}\" name={quoteattr(name)} "
        f"descr={quoteattr(descr)}/><xdr:cNvSpPr{box}/>"
        "</xdr:nvSpPr>"
        f'<xdr:spPr><a:prstGeom prst="{"roundRect" if macro else "rect"}"><a:avLst/>'
        f'</a:prstGeom><a:solidFill><a:srgbClr val="{fill}"/></a:solidFill>'
        f'<a:ln w="9525"><a:solidFill><a:srgbClr val="{color if not macro else "0F1F3A"}"/>'
        "</a:solidFill></a:ln></xdr:spPr>"
        '<xdr:txBody><a:bodyPr vertOverflow="clip" horzOverflow="clip" wrap="square" '
        'rtlCol="0" anchor="ctr"/><a:lstStyle/><a:p><a:pPr algn="ctr"/>'
        f'<a:r><a:rPr lang="en-US" sz="{size}" b="1"><a:solidFill><a:srgbClr val="{color}"/>'
        f"</a:solidFill></a:rPr><a:t>{escape(text)}</a:t></a:r></a:p></xdr:txBody>"
        "</xdr:sp>"
    )


def _buttons() -> list[str]:
    return [_anchor(BUTTON_ANCHORS[macro], _shape(0, caption, caption, macro=macro,
                                                  fill="1F3864", color="FFFFFF", size=1100))
            for macro, (caption, _) in MACROS.items()]


def _sample_box(first_col: int) -> list[str]:
    from betaneutral.sample import SAMPLE_LABEL

    # row 1 only: Rolling's chart starts in row 2 right of the columns
    return [_anchor((first_col, 0, first_col + 8, 1),
                    _shape(0, "Synthetic sample label", SAMPLE_LABEL, macro=None,
                           fill="FFF2CC", color="C00000", size=1200))]


def _rels_path(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def _sheet_part(zf: zipfile.ZipFile, name: str) -> str:
    book = etree.fromstring(zf.read("xl/workbook.xml"))
    rels = etree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    for sheet in book.iter(f"{{{_MAIN}}}sheet"):
        if sheet.get("name") == name:
            rid = sheet.get(f"{{{_REL}}}id")
            for rel in rels:
                if rel.get("Id") == rid:
                    target = rel.get("Target", "")
                    if target.startswith("/"):  # absolute within the package
                        return target.lstrip("/")
                    return posixpath.normpath(posixpath.join("xl", target))
    raise ValueError(f"the workbook has no {name} sheet")


def _last_column(sheet: etree._Element) -> int:
    """0-based index of the sheet's last used column (from its dimension, else its cells)."""
    from openpyxl.utils.cell import range_boundaries

    dim = sheet.find(f"{{{_MAIN}}}dimension")
    if dim is not None and dim.get("ref"):
        return range_boundaries(dim.get("ref"))[2] - 1
    cols = [range_boundaries(c.get("r"))[0] for c in sheet.iter(f"{{{_MAIN}}}c") if c.get("r")]
    return max(cols, default=1) - 1


def finish_package(path: str | os.PathLike[str], *, buttons: bool, sample: bool) -> None:
    """Add the shapes openpyxl cannot write to the saved workbook at ``path`` (in place,
    see :func:`add_shapes`).

    ``buttons``: the workflow buttons on the Start sheet (macro-enabled files).
    ``sample``: a label box "synthetic sample data" right of the used columns of
    :data:`SAMPLE_BOX_SHEETS` (sheets whose first row is a header row).
    """
    shapes: dict[str, list[str]] = {}
    if buttons:
        shapes[START_SHEET] = _buttons()
    if sample:
        with zipfile.ZipFile(path) as zf:
            for name in SAMPLE_BOX_SHEETS:
                part = _sheet_part(zf, name)
                shapes.setdefault(name, []).extend(
                    _sample_box(_last_column(etree.fromstring(zf.read(part))) + 2))
    if shapes:
        add_shapes(path, shapes)


def finish_saved_workbook(path: str | os.PathLike[str], wb: Any) -> None:
    """:func:`finish_package` for the file ``wb`` (a template built by code) was saved to:
    buttons when it carries a VBA project, label boxes when it holds the sample."""
    from betaneutral.sample import SAMPLE_LABEL, SAMPLE_LABEL_CELLS

    sample = all(name in wb.sheetnames and wb[name][coord].value == SAMPLE_LABEL
                 for name, coord in SAMPLE_LABEL_CELLS.items())
    finish_package(path, buttons=wb.vba_archive is not None, sample=sample)


def add_shapes(path: str | os.PathLike[str], shapes: dict[str, list[str]]) -> None:
    """Add drawing anchors (``xdr:twoCellAnchor`` XML) to sheets of the package at ``path``.

    A sheet with a drawing (a chart) gets the anchors appended to it; a sheet
    without one gets a new drawing part. Shape ids are numbered after the
    drawing's highest id. The package is rewritten in place (not atomically:
    the callers pass the temporary file a workbook was just saved to, before
    the atomic write of the final file).

    Raises
    ------
    ValueError
        A sheet named in ``shapes`` is not in the workbook.
    """
    path = Path(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        replaced: dict[str, bytes] = {}
        types = etree.fromstring(zf.read("[Content_Types].xml"))
        n_new = 1
        for sheet_name, anchors in shapes.items():
            sheet_part = _sheet_part(zf, sheet_name)
            sheet = etree.fromstring(zf.read(sheet_part))
            rels_part = _rels_path(sheet_part)
            rels = (etree.fromstring(zf.read(rels_part)) if rels_part in names
                    else etree.Element(f"{{{_PKG_REL}}}Relationships", nsmap={None: _PKG_REL}))
            existing = sheet.find(f"{{{_MAIN}}}drawing")
            if existing is not None:
                rid = existing.get(f"{{{_REL}}}id")
                target = next(r.get("Target") for r in rels if r.get("Id") == rid)
                drawing_part = (target.lstrip("/") if target.startswith("/") else
                                posixpath.normpath(posixpath.join(
                                    posixpath.dirname(sheet_part), target)))
                drawing = etree.fromstring(zf.read(drawing_part))
            else:
                while f"xl/drawings/drawing{n_new}.xml" in names:
                    n_new += 1
                drawing_part = f"xl/drawings/drawing{n_new}.xml"
                n_new += 1
                drawing = etree.fromstring(_EMPTY_DRAWING)
                used = {rel.get("Id") for rel in rels}
                rid = next(f"rId{i}" for i in range(1, len(used) + 2) if f"rId{i}" not in used)
                etree.SubElement(rels, f"{{{_PKG_REL}}}Relationship", Id=rid,
                                 Type=_DRAWING_REL,
                                 Target="../drawings/" + posixpath.basename(drawing_part))
                element = etree.Element(f"{{{_MAIN}}}drawing")
                element.set(f"{{{_REL}}}id", rid)
                later = [child for child in sheet
                         if etree.QName(child).localname in _AFTER_DRAWING]
                if later:
                    later[0].addprevious(element)
                else:
                    sheet.append(element)
                etree.SubElement(types, f"{{{_CT}}}Override", PartName="/" + drawing_part,
                                 ContentType=_DRAWING_CT)
                replaced[sheet_part] = _xml(sheet)
                replaced[rels_part] = _xml(rels)
            ids = [int(e.get("id")) for e in drawing.iter(f"{{{_XDR}}}cNvPr", f"{{{_XDR}}}"
                                                          "cNvGraphicFramePr")
                   if (e.get("id") or "").isdigit()]
            next_id = max(ids, default=1) + 1
            for anchor in anchors:
                node = etree.fromstring(f'<xdr:wsDr xmlns:xdr="{_XDR}" xmlns:a="{_A}">'
                                        f"{anchor}</xdr:wsDr>")[0]
                for c_nv in node.iter(f"{{{_XDR}}}cNvPr"):
                    c_nv.set("id", str(next_id))
                    next_id += 1
                drawing.append(node)
            replaced[drawing_part] = _xml(drawing)
        if not any(d.get("Extension") == "rels" for d in types):
            etree.SubElement(types, f"{{{_CT}}}Default", Extension="rels",
                             ContentType=_RELS_CT)
        replaced["[Content_Types].xml"] = _xml(types)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
            for info in zf.infolist():
                if info.filename in replaced:
                    out.writestr(info.filename, replaced.pop(info.filename),
                                 zipfile.ZIP_DEFLATED)
                else:
                    with zf.open(info) as src, out.open(info, "w") as dst:
                        shutil.copyfileobj(src, dst)
            for name, data in replaced.items():
                out.writestr(name, data, zipfile.ZIP_DEFLATED)
    path.write_bytes(buffer.getvalue())


def _xml(element: etree._Element) -> bytes:
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8", standalone=True)


def _code_names(zf: zipfile.ZipFile) -> list[str]:
    """Code names of the workbook's sheets, in sheet order."""
    book = etree.fromstring(zf.read("xl/workbook.xml"))
    names = []
    for sheet in book.iter(f"{{{_MAIN}}}sheet"):
        part = _sheet_part(zf, sheet.get("name", ""))
        pr = etree.fromstring(zf.read(part)).find(f"{{{_MAIN}}}sheetPr")
        code = pr.get("codeName") if pr is not None else None
        if not code:
            raise ValueError(f"sheet {sheet.get('name')!r} has no VBA code name")
        names.append(code)
    return names


def _modules_of(project: bytes) -> dict[str, str]:
    import olefile

    from betaneutral.vba.ovba import module_sources

    with olefile.OleFileIO(io.BytesIO(project)) as ole:
        storage = {p[1]: ole.openstream(p).read() for p in ole.listdir()
                   if len(p) == 2 and p[0] == "VBA"}
    return module_sources(storage)


def refreshed_vba_project(path: str | os.PathLike[str]) -> tuple[bytes, bytes]:
    """(current, new) ``xl/vbaProject.bin`` of a BetaNeutral ``.xlsm``; the new one is
    written from the installed xlwings for the workbook's sheets.

    Raises
    ------
    ValueError
        The workbook has no VBA project, a sheet without a code name, or VBA code of
        its own (a module other than BetaNeutral's, or code in a document module),
        which a rewrite would lose.
    """
    from betaneutral.vba.sources import project_modules, vba_project

    with zipfile.ZipFile(path) as zf:
        if "xl/vbaProject.bin" not in zf.namelist():
            raise ValueError(f"{Path(path).name} carries no VBA project")
        current = zf.read("xl/vbaProject.bin")
        code_names = _code_names(zf)
    ours = {m.name for m in project_modules(code_names)}
    for name, source in _modules_of(current).items():
        body = [line for line in source.splitlines()
                if line.strip() and not line.startswith("Attribute ")]
        is_document = name == "ThisWorkbook" or name in code_names
        if name not in ours or (is_document and body):
            raise ValueError(f"{Path(path).name}: the VBA module {name!r} holds code of its "
                             "own, which rewriting the project would lose; copy it out first")
    return current, vba_project(code_names)
