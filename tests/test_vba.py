"""The VBA project the build writes, read back by readers that are not ours.

* the compression and the compound file: oletools' decompressor and olefile;
* the function wrappers: xlwings' own generator (``xlwings.udfs.generate_vba_wrapper``,
  its Windows-only imports stubbed) on the same functions;
* the whole project in the built ``.xlsm``: ``olevba`` and LibreOffice (which
  imports the VBA modules into Basic when it opens the file);
* the versions: the pin in pyproject.toml, the installed xlwings and the VBA.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import random
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from unittest import mock

import olefile
import pytest
import xlwings
from oletools.olevba import VBA_Parser, decompress_stream

from betaneutral import udfs
from betaneutral.vba import cfb, ovba, sources
from betaneutral.vba.package import BUTTON_ANCHORS
from betaneutral.workbook.compute import build_committed_templates

ROOT = Path(__file__).resolve().parents[1]


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


# ------------------------------------------------------------ compression ---
@pytest.mark.parametrize("data", [
    b"", b"a", b"abc", b"a" * 9000, bytes(range(256)) * 40,
    bytes(random.Random(1).randrange(256) for _ in range(10_000)),  # incompressible
    (ROOT / "addin" / "betaneutral" / "udfs.py").read_bytes(),
])
def test_compression_is_read_back_by_oletools(data: bytes) -> None:
    packed = ovba.compress(data)
    assert bytes(decompress_stream(bytearray(packed))) == data
    assert ovba.decompress(packed) == data


def test_decompress_reads_a_project_office_wrote() -> None:
    """Our reader on xlwings' own quickstart (a file we did not write) agrees with olevba."""
    path = Path(xlwings.__file__).parent / "quickstart_standalone.xlsm"
    with zipfile.ZipFile(path) as zf:
        data = zf.read("xl/vbaProject.bin")
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        storage = {p[1]: ole.openstream(p).read() for p in ole.listdir() if p[0] == "VBA"}
    ours = ovba.module_sources(storage)
    theirs = {name.rsplit(".", 1)[0]: code
              for _, _, name, code in VBA_Parser(str(path)).extract_macros()}
    assert ours.keys() == theirs.keys()
    for name, code in ours.items():
        assert _lf(code).strip() == _lf(theirs[name]).strip(), name


# ---------------------------------------------------------- compound file ---
def test_compound_file_is_read_back_by_olefile() -> None:
    rng = random.Random(7)
    tree = {
        "PROJECT": b"x" * 100,
        "big": bytes(rng.randrange(256) for _ in range(70_000)),  # regular sectors
        "VBA": {f"m{i}": bytes([i]) * (i * 37) for i in range(60)},  # mini stream, >1 sector
        "empty": b"",
        "S": {"T": {"deep": b"deep stream"}},
    }
    data = cfb.write_compound_file(tree)
    assert len(data) % 512 == 0
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        listed = {"/".join(p) for p in ole.listdir(streams=True, storages=False)}
        want = {"PROJECT", "big", "empty", "S/T/deep"} | {f"VBA/m{i}" for i in range(60)}
        assert listed == want
        assert ole.openstream("big").read() == tree["big"]
        assert ole.openstream("S/T/deep").read() == b"deep stream"
        for i in range(60):
            assert ole.openstream(f"VBA/m{i}").read() == bytes([i]) * (i * 37)


def test_compound_file_refuses_bad_names() -> None:
    with pytest.raises(ValueError, match="1-31 characters"):
        cfb.write_compound_file({"a/b": b""})
    with pytest.raises(ValueError, match="same name"):
        cfb.write_compound_file({"abc": b"", "ABC": b""})


# -------------------------------------------------- the function wrappers ---
@pytest.fixture
def xlwings_generator(monkeypatch: pytest.MonkeyPatch):
    """xlwings.udfs with pythoncom, pywintypes and win32com stubbed, and a copy of
    betaneutral.udfs decorated by xlwings' real (Windows) decorators."""
    for name in ("pythoncom", "pywintypes", "win32com", "win32com.client"):
        monkeypatch.setitem(sys.modules, name, mock.MagicMock(name=name))
    saved = sys.modules.pop("xlwings.udfs", None)
    try:
        xl_udfs = importlib.import_module("xlwings.udfs")
        monkeypatch.setattr(xlwings, "func", xl_udfs.xlfunc)
        monkeypatch.setattr(xlwings, "arg", xl_udfs.xlarg)
        spec = importlib.util.spec_from_file_location("betaneutral_udfs_as_on_windows",
                                                      udfs.__file__)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield xl_udfs, module
    finally:
        sys.modules.pop("xlwings.udfs", None)
        if saved is not None:
            sys.modules["xlwings.udfs"] = saved


def _declarations(vba: str) -> dict[str, str]:
    return dict(re.findall(r"^Function (\w+)\((.*)\)$", vba, re.MULTILINE))


def test_wrappers_are_what_xlwings_import_functions_writes(xlwings_generator) -> None:
    """Same functions, arguments, Optional flags and call per function as xlwings' generator
    (the module header is import_udfs'); ours differs only in the failure line."""
    xl_udfs, module = xlwings_generator
    decorated = [n for n in dir(module) if hasattr(getattr(module, n), "__xlfunc__")]
    assert sorted(decorated) == sorted(udfs.UDF_NAMES)
    for name in decorated:  # no option the wrapper writer does not reproduce
        xlfunc = getattr(module, name).__xlfunc__
        assert xlfunc["call_in_wizard"]
        assert not xlfunc["volatile"]
        assert not xlfunc["sub"]
        assert all(arg["vba"] is None and not arg["vararg"] for arg in xlfunc["args"])
    out = io.StringIO()
    xl_udfs.generate_vba_wrapper(sources.UDF_MODULE, module, out,
                                 mock.Mock(Name="BetaNeutral.xlsm"))
    header = ('Attribute VB_Name = "xlwings_udfs"\n'
              "'Autogenerated code by xlwings - changes will be lost with next import!\n"
              """#Const App = "Microsoft Excel" 'Adjust when using outside of Excel\n""")
    theirs = header + out.getvalue()
    assert sources.udf_wrappers(module, error_function=None) == theirs
    ours = sources.udf_wrappers(udfs)
    assert _declarations(ours) == _declarations(theirs)
    assert len(_declarations(ours)) == len(udfs.UDF_NAMES)
    changed = [(a, b) for a, b in zip(theirs.splitlines(), ours.splitlines(), strict=True)
               if a != b]
    assert len(changed) == len(udfs.UDF_NAMES)
    for a, b in changed:
        assert a.endswith(" = Err.Description")
        assert b.endswith(f" = {sources.ERROR_FUNCTION}(Err.Number, Err.Description)")


# ---------------------------------------------------- the built workbooks ---
@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vba")
    return build_committed_templates(root)[1]


def _olevba_modules(path: Path) -> dict[str, str]:
    parser = VBA_Parser(str(path))
    try:
        return {name.rsplit(".", 1)[0]: _lf(code)
                for _, stream, name, code in parser.extract_macros()}
    finally:
        parser.close()


def test_olevba_lists_every_module_and_its_source(built: Path) -> None:
    modules = _olevba_modules(built)
    sheets = [f"Sheet{i}" for i in range(1, 13)]
    assert sorted(modules) == sorted(["ThisWorkbook", *sheets, "xlwings", "xlwings_udfs",
                                      "BetaNeutral", "Dictionary"])
    assert modules["xlwings_udfs"].strip() == _lf(sources.udf_wrappers(udfs)).strip()
    xlwings_bas = (Path(xlwings.__file__).parent / "xlwings.bas").read_text("utf-8-sig")
    assert modules["xlwings"].strip() == _lf(xlwings_bas).strip()
    for name in udfs.UDF_NAMES:
        assert f"Function {name}(" in modules["xlwings_udfs"]
    for macro in sources.MACROS:
        assert f"Sub {macro}()" in modules["BetaNeutral"]


def test_nothing_runs_on_open_and_the_sample_macro_is_gone(built: Path) -> None:
    modules = _olevba_modules(built)
    code = "\n".join(modules.values())
    for word in ("Auto_Open", "Workbook_Open", "AutoOpen", "SampleCall", "Module1"):
        assert word not in code
    body = [line for line in modules["ThisWorkbook"].splitlines()
            if line.strip() and not line.startswith("Attribute ")]
    assert body == []
    parser = VBA_Parser(str(built))
    try:
        kinds = {kind for kind, _, _ in parser.analyze_macros()}
    finally:
        parser.close()
    assert "AutoExec" not in kinds


def test_project_has_no_compiled_code(built: Path) -> None:
    """_VBA_PROJECT declares version 0xFFFF: Office compiles the source on open."""
    with zipfile.ZipFile(built) as zf, \
            olefile.OleFileIO(io.BytesIO(zf.read("xl/vbaProject.bin"))) as ole:
        head = ole.openstream("VBA/_VBA_PROJECT").read()
        project = ole.openstream("PROJECT").read().decode("cp1252")
    assert head[:4] == b"\xcc\x61\xff\xff"
    assert "Module=xlwings_udfs" in project
    assert "Class=Dictionary" in project


def test_start_buttons_call_the_workflow_macros(built: Path) -> None:
    modules = _olevba_modules(built)
    with zipfile.ZipFile(built) as zf:
        drawings = [zf.read(n).decode() for n in zf.namelist()
                    if re.fullmatch(r"xl/drawings/drawing\d+\.xml", n)]
    buttons = [d for d in drawings if 'macro="[0]!' in d]
    assert len(buttons) == 1
    assigned = re.findall(r'macro="\[0\]!(\w+)"', buttons[0])
    assert sorted(assigned) == sorted(BUTTON_ANCHORS) == sorted(sources.MACROS)
    for macro in assigned:
        assert re.search(rf"^Sub {macro}\(\)$", modules["BetaNeutral"], re.MULTILINE)
    for _, entry in sources.MACROS.values():
        import betaneutral.excel

        assert callable(getattr(betaneutral.excel, entry))


def test_compute_keeps_the_buttons_and_the_project(built: Path, tmp_path: Path) -> None:
    from betaneutral.workbook.compute import compute_workbook

    out = compute_workbook(built, tmp_path / "computed.xlsm")
    with zipfile.ZipFile(built) as a, zipfile.ZipFile(out) as b:
        assert a.read("xl/vbaProject.bin") == b.read("xl/vbaProject.bin")
        assert any('macro="[0]!' in b.read(n).decode() for n in b.namelist()
                   if n.startswith("xl/drawings/drawing"))


def test_libreoffice_opens_the_xlsm_and_lists_the_modules(built: Path, tmp_path: Path) -> None:
    """LibreOffice imports the VBA project into Basic on load; saved as ODF, each module
    becomes Basic/<library>/<module>.xml with its source, and each Start button a shape
    whose click event runs the imported macro."""
    from tests.lo_helpers import soffice

    exe = soffice()
    if exe is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    profile = tmp_path / "profile"
    cmd = ["timeout", "-s", "KILL", "180", exe, f"-env:UserInstallation={profile.as_uri()}",
           "--headless", "--convert-to", "ods", "--outdir", str(tmp_path), str(built)]
    subprocess.run(cmd, check=True, capture_output=True)
    with zipfile.ZipFile(tmp_path / (built.stem + ".ods")) as zf:
        basic = {n.split("/")[2][:-4]: zf.read(n).decode("utf-8") for n in zf.namelist()
                 if n.startswith("Basic/VBAProject/") and not n.endswith("script-lb.xml")}
        content = zf.read("content.xml").decode("utf-8")
    assert {"xlwings", "xlwings_udfs", "BetaNeutral", "Dictionary", "ThisWorkbook"} <= set(basic)
    for name in udfs.UDF_NAMES:
        assert f"Function {name}(" in basic["xlwings_udfs"]
    assert "Sub BetaNeutralExportTickets()" in basic["BetaNeutral"]
    # the buttons: shapes whose click runs the imported macro
    for macro in sources.MACROS:
        assert f"vnd.sun.star.script:VBAProject.BetaNeutral.{macro}?" in content


# --------------------------------------------------------------- versions ---
def test_versions_match_pin_package_and_vba(built: Path) -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    pins = [d for d in meta["project"]["dependencies"] if d.startswith("xlwings")]
    assert pins == [f"xlwings=={xlwings.__version__}"]
    modules = _olevba_modules(built)
    assert f'XLWINGS_VERSION As String = "{xlwings.__version__}"' in modules["xlwings"]
    assert f'xlwings64-{xlwings.__version__}.dll' in modules["xlwings"]
    assert (f'BETANEUTRAL_XLWINGS_VERSION As String = "{xlwings.__version__}"'
            in modules["BetaNeutral"])


def test_a_version_mismatch_is_named_in_words() -> None:
    from betaneutral.errors import BetaNeutralError
    from betaneutral.excel import check_xlwings_version

    check_xlwings_version(xlwings.__version__)
    check_xlwings_version(None)
    with pytest.raises(BetaNeutralError, match=r"xlwings version mismatch.*0\.0\.1.*"
                                               r"pip install xlwings==0\.0\.1"):
        check_xlwings_version("0.0.1")
    vba = sources.workflow_module("9.9.9")
    assert "xlwings version mismatch" in vba
    assert 'InStr(1, description, ".dll"' in vba


# ------------------------------------------------------- the sample label ---
def test_every_sheet_of_sample_data_says_synthetic(built: Path) -> None:
    """Cells on the sheets with a title block, a label box on the sheets whose first row
    is a header (Rolling, Benchmark, Tickets), and the printed header of every sheet."""
    import openpyxl

    from betaneutral.sample import SAMPLE_LABEL, SAMPLE_LABEL_CELLS
    from betaneutral.vba.package import SAMPLE_BOX_SHEETS

    wb = openpyxl.load_workbook(built)
    for sheet, coord in SAMPLE_LABEL_CELLS.items():
        assert wb[sheet][coord].value == SAMPLE_LABEL, sheet
    assert wb["Start"]["B4"].value == SAMPLE_LABEL
    for ws in wb.worksheets:
        assert ws.oddHeader.center.text == SAMPLE_LABEL, ws.title
    with zipfile.ZipFile(built) as zf:
        from betaneutral.vba.package import _sheet_part

        for sheet in SAMPLE_BOX_SHEETS:
            part = _sheet_part(zf, sheet)
            rels = zf.read(part.replace("worksheets/", "worksheets/_rels/") + ".rels").decode()
            drawing = re.search(r'Target="(?:\.\./|/xl/)drawings/(drawing\d+\.xml)"', rels).group(1)
            assert SAMPLE_LABEL in zf.read(f"xl/drawings/{drawing}").decode(), sheet
    assert set(SAMPLE_LABEL_CELLS) | set(SAMPLE_BOX_SHEETS) | {"Start"} >= {
        "Holdings", "Stats", "Rolling", "Rebalance", "Scenarios", "Tickets", "Backtest",
        "Benchmark", "Settings"}


def test_only_the_sample_is_labelled() -> None:
    from betaneutral.sample import is_sample_state, sample_prices

    last = sample_prices().iloc[-1]
    state = {"last_date": str(sample_prices().index[-1]),
             "last_prices": {k: float(v) for k, v in last.items()}}
    assert is_sample_state(state)
    assert not is_sample_state({**state, "last_prices": {**state["last_prices"],
                                                         "BTC": 1.0}})
    assert not is_sample_state({**state, "last_date": "2020-01-01 00:00:00"})


# ------------------------------------------------------------ refresh-vba ---
def _with_project(book: Path, out: Path, project: bytes) -> Path:
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = project if info.filename == "xl/vbaProject.bin" else src.read(info)
            dst.writestr(info, data)
    return out


def test_refresh_vba_writes_the_installed_xlwings_project(built: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    from betaneutral.cli import main
    from betaneutral.vba.project import Module, build_vba_project

    names = [f"Sheet{i}" for i in range(1, 13)]
    _, protection = sources._quickstart_project()
    old_modules = [Module(m.name, m.kind, m.source.replace(xlwings.__version__, "0.36.0"))
                   for m in sources.project_modules(names)]
    old = _with_project(built, tmp_path / "old.xlsm", build_vba_project(old_modules,
                                                                       protection))
    assert main(["refresh-vba", str(old)]) == 0
    with zipfile.ZipFile(old) as zf:
        assert zf.read("xl/vbaProject.bin") == sources.vba_project(names)
    backups = [p for p in tmp_path.iterdir() if ".bak" in p.name]
    assert len(backups) == 1
    assert "0.36.0" in _olevba_modules(backups[0])["xlwings"]
    assert main(["refresh-vba", str(old)]) == 0  # already current: nothing written
    assert "already" in capsys.readouterr().out
    assert len([p for p in tmp_path.iterdir() if ".bak" in p.name]) == 1


def test_refresh_vba_refuses_a_project_with_code_of_its_own(built: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture
                                                            ) -> None:
    from betaneutral.cli import main

    with zipfile.ZipFile(Path(xlwings.__file__).parent / "quickstart_standalone.xlsm") as zf:
        theirs = zf.read("xl/vbaProject.bin")  # holds Module1 (SampleCall)
    book = _with_project(built, tmp_path / "mine.xlsm", theirs)
    before = book.read_bytes()
    assert main(["refresh-vba", str(book)]) == 1
    err = capsys.readouterr().err
    assert "'Module1' holds code of its own" in err
    assert err.count("\n") == 1
    assert book.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.xlsm"]
    assert main(["refresh-vba", str(ROOT / "templates" / "BetaNeutral.xlsx")]) == 1
