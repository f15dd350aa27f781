"""Write a VBA project (``xl/vbaProject.bin``) from module sources ([MS-OVBA]).

The project holds source code only. Its ``_VBA_PROJECT`` stream declares
version 0xFFFF and carries no compiled code (no performance cache), so Office
compiles the modules from their source when the workbook is opened, whatever
its version and bitness. Each module stream is the compressed source at
offset 0.

Streams written (``[MS-OVBA]`` 2.2-2.3): ``PROJECT`` (the project's text
properties and module list), ``PROJECTwm`` (module names in MBCS and UTF-16),
``VBA/_VBA_PROJECT``, ``VBA/dir`` (the compressed records describing the
project, its references and its modules) and one ``VBA/<module>`` stream per
module; all inside a compound file (:mod:`betaneutral.vba.cfb`).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from betaneutral.vba.cfb import write_compound_file
from betaneutral.vba.ovba import compress

__all__ = ["DOCUMENT_ATTRIBUTES", "Module", "ProjectProtection", "build_vba_project",
           "document_module"]

CODEPAGE = 1252
_ENCODING = "cp1252"

#: _VBA_PROJECT: reserved 0x61CC, version 0xFFFF (no compiled code: recompile from source).
_VBA_PROJECT = b"\xcc\x61\xff\xff\x00\x01\x00"

#: References every Excel VBA project carries (the VBA and Excel libraries are implicit).
_REFERENCES = (
    ("stdole", "*\\G{00020430-0000-0000-C000-000000000046}#2.0#0#"
               "C:\\Windows\\System32\\stdole2.tlb#OLE Automation"),
    ("Office", "*\\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0#"
               "C:\\Program Files\\Common Files\\Microsoft Shared\\OFFICE16\\MSO.DLL#"
               "Microsoft Office 16.0 Object Library"),
)

#: Base classes of Excel's document modules (the workbook and a worksheet).
WORKBOOK_BASE = "0{00020819-0000-0000-C000-000000000046}"
WORKSHEET_BASE = "0{00020820-0000-0000-C000-000000000046}"

DOCUMENT_ATTRIBUTES = (
    'Attribute VB_Name = "{name}"\r\n'
    'Attribute VB_Base = "{base}"\r\n'
    "Attribute VB_GlobalNameSpace = False\r\n"
    "Attribute VB_Creatable = False\r\n"
    "Attribute VB_PredeclaredId = True\r\n"
    "Attribute VB_Exposed = True\r\n"
    "Attribute VB_TemplateDerived = False\r\n"
    "Attribute VB_Customizable = True\r\n"
)


@dataclass(frozen=True)
class Module:
    """One VBA module: its name, kind and full source (``Attribute`` lines included)."""

    name: str
    kind: Literal["document", "module", "class"]
    source: str


@dataclass(frozen=True)
class ProjectProtection:
    """The ``PROJECT`` stream's ID and its encrypted CMG, DPB and GC values.

    The three values are encrypted with a key derived from the project ID
    ([MS-OVBA] 2.4.3), so they are taken together from one unprotected,
    visible project (see :func:`betaneutral.vba.sources.xlwings_protection`).
    """

    project_id: str
    cmg: str
    dpb: str
    gc: str


def document_module(name: str, *, workbook: bool = False) -> Module:
    """An empty document module for the workbook (``ThisWorkbook``) or a worksheet."""
    base = WORKBOOK_BASE if workbook else WORKSHEET_BASE
    return Module(name, "document", DOCUMENT_ATTRIBUTES.format(name=name, base=base))


def _rec(rid: int, payload: bytes) -> bytes:
    return struct.pack("<HI", rid, len(payload)) + payload


def _mbcs(text: str) -> bytes:
    return text.encode(_ENCODING)


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def _dir_stream(modules: Sequence[Module], project_name: str) -> bytes:
    out = bytearray()
    out += _rec(0x0001, struct.pack("<I", 1))  # PROJECTSYSKIND: 32-bit Windows
    out += _rec(0x0002, struct.pack("<I", 0x0409))  # PROJECTLCID
    out += _rec(0x0014, struct.pack("<I", 0x0409))  # PROJECTLCIDINVOKE
    out += _rec(0x0003, struct.pack("<H", CODEPAGE))  # PROJECTCODEPAGE
    out += _rec(0x0004, _mbcs(project_name))  # PROJECTNAME
    out += _rec(0x0005, b"") + _rec(0x0040, b"")  # PROJECTDOCSTRING
    out += _rec(0x0006, b"") + _rec(0x003D, b"")  # PROJECTHELPFILEPATH
    out += _rec(0x0007, struct.pack("<I", 0))  # PROJECTHELPCONTEXT
    out += _rec(0x0008, struct.pack("<I", 0))  # PROJECTLIBFLAGS
    out += struct.pack("<HIIH", 0x0009, 4, 1, 0)  # PROJECTVERSION: size 4, then 6 bytes
    out += _rec(0x000C, b"") + _rec(0x003C, b"")  # PROJECTCONSTANTS
    for name, libid in _REFERENCES:
        out += _rec(0x0016, _mbcs(name)) + _rec(0x003E, _utf16(name))  # REFERENCENAME
        lib = _mbcs(libid)
        out += _rec(0x000D, struct.pack("<I", len(lib)) + lib + struct.pack("<IH", 0, 0))
    out += _rec(0x000F, struct.pack("<H", len(modules)))  # PROJECTMODULES
    out += _rec(0x0013, struct.pack("<H", 0xFFFF))  # PROJECTCOOKIE
    for m in modules:
        out += _rec(0x0019, _mbcs(m.name)) + _rec(0x0047, _utf16(m.name))
        out += _rec(0x001A, _mbcs(m.name)) + _rec(0x0032, _utf16(m.name))  # stream name
        out += _rec(0x001C, b"") + _rec(0x0048, b"")  # MODULEDOCSTRING
        out += _rec(0x0031, struct.pack("<I", 0))  # MODULEOFFSET: source at offset 0
        out += _rec(0x001E, struct.pack("<I", 0))  # MODULEHELPCONTEXT
        out += _rec(0x002C, struct.pack("<H", 0xFFFF))  # MODULECOOKIE
        out += _rec(0x0021 if m.kind == "module" else 0x0022, b"")  # MODULETYPE
        out += _rec(0x002B, b"")  # module terminator
    out += _rec(0x0010, b"")  # dir terminator
    return bytes(out)


def _project_stream(modules: Sequence[Module], project_name: str,
                    protection: ProjectProtection) -> bytes:
    lines = [f'ID="{protection.project_id}"']
    for m in modules:
        if m.kind == "document":
            lines.append(f"Document={m.name}/&H00000000")
        elif m.kind == "class":
            lines.append(f"Class={m.name}")
        else:
            lines.append(f"Module={m.name}")
    lines += [f'Name="{project_name}"', 'HelpContextID="0"',
              'VersionCompatible32="393222000"', f'CMG="{protection.cmg}"',
              f'DPB="{protection.dpb}"', f'GC="{protection.gc}"', "",
              "[Host Extender Info]",
              "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000", "",
              "[Workspace]"]
    lines += [f"{m.name}=0, 0, 0, 0, C" for m in modules]
    return _mbcs("\r\n".join(lines) + "\r\n")


def _project_wm(modules: Sequence[Module]) -> bytes:
    return b"".join(_mbcs(m.name) + b"\0" + _utf16(m.name) + b"\0\0"
                    for m in modules) + b"\0\0"


def build_vba_project(modules: Sequence[Module], protection: ProjectProtection, *,
                      project_name: str = "VBAProject") -> bytes:
    """The bytes of ``xl/vbaProject.bin`` holding ``modules`` (source only).

    Parameters
    ----------
    modules : sequence of Module
        Document modules (``ThisWorkbook`` and one per worksheet code name),
        standard modules and class modules. Each source starts with its
        ``Attribute VB_Name`` line; line ends are normalised to CRLF.
    protection : ProjectProtection
        The project ID with its matching CMG, DPB and GC values.
    project_name : str, default "VBAProject"

    Raises
    ------
    ValueError
        Two modules share a name, a name is not a VBA identifier, or a source
        holds a character outside Windows-1252.
    """
    names = [m.name for m in modules]
    if len({n.upper() for n in names}) != len(names):
        raise ValueError(f"module names must be unique, got {names}")
    for n in names:
        if not (n[:1].isalpha() and n.replace("_", "").isalnum() and n.isascii()
                and len(n) <= 31):
            raise ValueError(f"module name must be a VBA identifier, got {n!r}")
    vba: dict[str, bytes] = {"_VBA_PROJECT": _VBA_PROJECT,
                             "dir": compress(_dir_stream(modules, project_name))}
    for m in modules:
        text = "\r\n".join(m.source.replace("\r\n", "\n").split("\n"))
        vba[m.name] = compress(text.encode(_ENCODING))
    return write_compound_file({
        "PROJECT": _project_stream(modules, project_name, protection),
        "PROJECTwm": _project_wm(modules),
        "VBA": vba,
    })
