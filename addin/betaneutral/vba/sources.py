"""The VBA modules of the macro-enabled workbook, and the project that holds them.

* ``xlwings``: xlwings' own VBA module, read from the installed xlwings
  package (``xlwings.bas``), so it always matches the xlwings the workbook is
  built with; ``Dictionary``, the class module it needs on a Mac, is read from
  the same package's ``quickstart_standalone.xlsm``.
* ``xlwings_udfs``: one wrapper per worksheet function of
  :mod:`betaneutral.udfs`, written the way xlwings' *Import Functions*
  (``xlwings.udfs.generate_vba_wrapper``) writes them, with one change: on a
  failure the cell shows :data:`ERROR_FUNCTION`'s text, which names an xlwings
  version mismatch in words instead of the DLL error.
* ``BetaNeutral``: the workflow macros behind the Start sheet's buttons
  (RunPython into :mod:`betaneutral.excel`). No macro runs on open: there is
  no ``Auto_Open`` and ``ThisWorkbook`` is empty.
"""

from __future__ import annotations

import inspect
import io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from betaneutral.vba.ovba import module_sources
from betaneutral.vba.project import Module, ProjectProtection, build_vba_project, document_module

__all__ = ["ERROR_FUNCTION", "MACROS", "UDF_MODULE", "WORKFLOW_MODULE", "project_modules",
           "udf_wrappers", "vba_project", "workflow_module", "xlwings_module",
           "xlwings_version"]

#: Python module whose functions the wrappers call (as in the xlwings.conf sheet).
UDF_MODULE = "betaneutral.udfs"
#: Name of the VBA module with the workflow macros.
WORKFLOW_MODULE = "BetaNeutral"
#: VBA function (in the workflow module) that turns a failure into the cell's text.
ERROR_FUNCTION = "BetaNeutralErrorText"
#: Macro name -> (button caption, Python entry point in betaneutral.excel).
MACROS: dict[str, tuple[str, str]] = {
    "BetaNeutralExportTickets": ("Export hedge tickets (CSV)", "export_tickets"),
    "BetaNeutralReplayBacktest": ("Replay the policy (Backtest)", "replay_backtest"),
}


def _xlwings_dir() -> Path:
    import xlwings

    return Path(xlwings.__file__).parent


def xlwings_version() -> str:
    """Version of the installed xlwings package."""
    import xlwings

    return str(xlwings.__version__)


def xlwings_module() -> str:
    """Source of xlwings' VBA module (``xlwings.bas``) from the installed package.

    Raises
    ------
    RuntimeError
        The file is missing or declares another version than the package.
    """
    path = _xlwings_dir() / "xlwings.bas"
    text = path.read_text(encoding="utf-8-sig")
    version = xlwings_version()
    found = re.search(r'XLWINGS_VERSION As String = "([^"]+)"', text)
    if not text.startswith('Attribute VB_Name = "xlwings"') or found is None \
            or found.group(1) != version:
        raise RuntimeError(f"{path} is not the VBA module of xlwings {version}")
    return text


def _quickstart_project() -> tuple[dict[str, str], ProjectProtection]:
    """Module sources and PROJECT protection lines of xlwings' standalone quickstart."""
    import olefile

    with zipfile.ZipFile(_xlwings_dir() / "quickstart_standalone.xlsm") as zf:
        data = zf.read("xl/vbaProject.bin")
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        storage = {path[1]: ole.openstream(path).read() for path in ole.listdir()
                   if len(path) == 2 and path[0] == "VBA"}
        project = ole.openstream("PROJECT").read().decode("cp1252")
    fields = dict(re.findall(r'^(ID|CMG|DPB|GC)="([^"]*)"', project, re.MULTILINE))
    protection = ProjectProtection(fields["ID"], fields["CMG"], fields["DPB"], fields["GC"])
    return module_sources(storage), protection


def _vba_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def udf_wrappers(module: ModuleType, module_name: str = UDF_MODULE, *,
                 error_function: str | None = ERROR_FUNCTION) -> str:
    """The ``xlwings_udfs`` module: a VBA wrapper per worksheet function of ``module``.

    Follows ``xlwings.udfs.import_udfs`` and ``generate_vba_wrapper`` (functions
    in ``dir()`` order, ``Optional`` for an argument with a default,
    ``XLPy.CallUDF(module, name, Array(args), ThisWorkbook, Application.Caller)``),
    for functions without ``vba=`` arguments, varargs, ``call_in_wizard=False``
    or ``volatile=True`` (none of BetaNeutral's uses them; they are refused).
    ``error_function``, when given, is called on a failure in place of
    ``Err.Description``.

    Raises
    ------
    ValueError
        A function uses a feature this writer does not reproduce.
    """
    names = getattr(module, "UDF_NAMES", None)
    if names is None:
        raise ValueError(f"{module.__name__} must list its worksheet functions in UDF_NAMES")
    source = inspect.getsource(module)
    for feature in ("vba=", "call_in_wizard", "volatile", "xw.sub", "async_mode"):
        if feature in source:
            raise ValueError(f"{module.__name__} uses {feature!r}, which the wrapper writer "
                             f"does not reproduce")
    lines = ['Attribute VB_Name = "xlwings_udfs"',
             "'Autogenerated code by xlwings - changes will be lost with next import!",
             """#Const App = "Microsoft Excel" 'Adjust when using outside of Excel"""]
    for attr in dir(module):
        if attr not in names:
            continue
        fn = getattr(module, attr)
        args = []
        for p in inspect.signature(fn).parameters.values():
            if p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
                raise ValueError(f"{attr}: only positional arguments are supported")
            args.append(("Optional " if p.default is not inspect.Parameter.empty else "")
                        + p.name)
        call_args = "Array(" + ", ".join(a.split()[-1] for a in args) + ")"
        failure = (f"{error_function}(Err.Number, Err.Description)" if error_function
                   else "Err.Description")
        lines += [
            f"Function {attr}({', '.join(args)})",
            '    #If App = "Microsoft Excel" Then',
            "        If TypeOf Application.Caller Is Range Then On Error GoTo failed",
            f'        {attr} = XLPy.CallUDF("{module_name}", "{attr}", {call_args}, '
            f"ThisWorkbook, Application.Caller)",
            "        Exit Function",
            "    #Else",
            f'        {attr} = XLPy.CallUDF("{module_name}", "{attr}", {call_args})',
            "        Exit Function",
            "    #End If",
            "failed:",
            f"    {attr} = {failure}",
            "End Function",
            "",
        ]
    return "\n".join(lines) + "\n"


def workflow_module(version: str) -> str:
    """The ``BetaNeutral`` module: the buttons' macros and the error text function.

    ``version`` is the xlwings version whose VBA module the workbook carries;
    the macros pass it to Python, which refuses to run under another one.
    """
    macros = []
    for macro, (_caption, entry) in MACROS.items():
        macros += [
            f"Sub {macro}()",
            f"    BetaNeutralRun {_vba_string(entry)}",
            "End Sub",
            "",
        ]
    return "\n".join([
        f'Attribute VB_Name = "{WORKFLOW_MODULE}"',
        "' BetaNeutral workflow macros, run from the buttons on the Start sheet.",
        "' Nothing here runs when the workbook opens.",
        "Option Explicit",
        "",
        f'Public Const BETANEUTRAL_XLWINGS_VERSION As String = "{version}"',
        "",
        *macros,
        "Private Sub BetaNeutralRun(entry As String)",
        "    If ThisWorkbook.Path = \"\" Then",
        '        MsgBox "Save the workbook first: the results are written next to it.", '
        'vbExclamation, "BetaNeutral"',
        "        Exit Sub",
        "    End If",
        "    If Not ThisWorkbook.Saved Then",
        '        If MsgBox("BetaNeutral reads the saved file. Save the workbook now?", '
        'vbYesNo + vbQuestion, "BetaNeutral") <> vbYes Then Exit Sub',
        "        ThisWorkbook.Save",
        "    End If",
        "    On Error GoTo failed",
        '    RunPython "import betaneutral.excel as bn; bn." & entry & "(xlwings_vba=\'" '
        '& BETANEUTRAL_XLWINGS_VERSION & "\')"',
        "    Exit Sub",
        "failed:",
        f'    MsgBox {ERROR_FUNCTION}(Err.Number, Err.Description), vbExclamation, '
        '"BetaNeutral"',
        "End Sub",
        "",
        f"Public Function {ERROR_FUNCTION}(ByVal number As Long, ByVal description As String) "
        "As String",
        "    ' A DLL of another xlwings version is what a version mismatch looks like here.",
        '    If InStr(1, description, "xlwings", vbTextCompare) > 0 And '
        'InStr(1, description, ".dll", vbTextCompare) > 0 Then',
        f'        {ERROR_FUNCTION} = "xlwings version mismatch: this workbook carries the VBA '
        'of xlwings " & BETANEUTRAL_XLWINGS_VERSION & ", but the Python it uses has another '
        "xlwings. Run: pip install xlwings==\" & BETANEUTRAL_XLWINGS_VERSION & \" in "
        'that Python. Detail: " & description',
        "    Else",
        f"        {ERROR_FUNCTION} = description",
        "    End If",
        "End Function",
        "",
    ])


def project_modules(sheet_code_names: Sequence[str]) -> list[Module]:
    """Every module of the workbook's VBA project, for sheets with these code names."""
    from betaneutral import udfs

    quickstart, _ = _quickstart_project()
    version = xlwings_version()
    return [
        document_module("ThisWorkbook", workbook=True),
        *(document_module(name) for name in sheet_code_names),
        Module("xlwings", "module", xlwings_module()),
        Module("xlwings_udfs", "module", udf_wrappers(udfs)),
        Module(WORKFLOW_MODULE, "module", workflow_module(version)),
        Module("Dictionary", "class", quickstart["Dictionary"]),
    ]


def vba_project(sheet_code_names: Sequence[str]) -> bytes:
    """``xl/vbaProject.bin`` for a workbook whose sheets have these code names."""
    _, protection = _quickstart_project()
    return build_vba_project(project_modules(sheet_code_names), protection)


#: File shipped next to the macro-enabled workbook (the Start sheet names it).
LICENCE_FILE = "XLWINGS-LICENSE.txt"

_DICTIONARY_LICENCE = """\
VBA-Dictionary (the Dictionary class module of the same VBA project)
Copyright (c) Tim Hall

Permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files (the "Software"), to deal in the Software
without restriction, including without limitation the rights to use, copy, modify, merge,
publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
DEALINGS IN THE SOFTWARE.
"""


def licence_text() -> str:
    """The third-party notice of the macro-enabled workbook's VBA project.

    xlwings' licence is read from the installed package's metadata, so it is
    the licence of the version whose VBA module the workbook carries.
    """
    from importlib.metadata import distribution

    dist = distribution("xlwings")
    text = dist.read_text("licenses/LICENSE.txt") or dist.read_text("LICENSE.txt")
    if not text:
        raise RuntimeError("the installed xlwings package carries no LICENSE.txt")
    return (f"BetaNeutral.xlsm embeds VBA code from xlwings {xlwings_version()} (the xlwings "
            "module and the function wrappers, written the way xlwings writes them) and the "
            "Dictionary class module that xlwings ships. Their licences follow.\n\n"
            f"=== xlwings {xlwings_version()} ===\n\n{text.strip()}\n\n=== "
            f"{_DICTIONARY_LICENCE}")
