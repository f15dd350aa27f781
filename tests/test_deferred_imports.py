"""Heavy packages are imported where they are used, not by every command.

Each case runs in a fresh interpreter and lists the packages it imported. The command
line itself imports none of the numeric or spreadsheet packages (``--help`` and usage
errors are instant), and computing a book imports neither the formula engine (pycel,
used only for formulas of the user's own), nor statsmodels, nor the exchange client
(ccxt), nor the network modules the VBA and shape writer's XML helper pulls in, nor
scipy, nor xlwings (off Windows its decorators are no-ops).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WATCHED = ("numpy", "pandas", "openpyxl", "scipy", "statsmodels", "xlwings", "pycel",
           "ccxt", "urllib.request", "ssl")


def _imported(code: str) -> set[str]:
    script = code + (f"\nimport json, sys\nprint(json.dumps([m for m in {WATCHED!r} "
                     "if m in sys.modules]))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "addin"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_command_line_imports_no_heavy_package():
    assert _imported("from betaneutral.cli import build_parser\nbuild_parser()") == set()


def test_computing_a_book_imports_only_what_it_uses(tmp_path):
    out = tmp_path / "out.xlsx"
    got = _imported(
        "from betaneutral.cli import main\n"
        f"assert main(['compute', {str(ROOT / 'templates' / 'BetaNeutral.xlsx')!r}, '-o', "
        f"{str(out)!r}, '--quiet']) == 0")
    assert out.is_file()
    # numpy, pandas, openpyxl compute and write the book. The Student t quantile of the
    # beta intervals is the standard library's (betaneutral.core.tdist), not scipy's; the
    # worksheet functions' xlwings declarations are applied only where xlwings uses them.
    assert got == {"numpy", "pandas", "openpyxl"}


def test_the_worksheet_functions_import_xlwings_only_where_it_uses_them():
    # Off Windows, Pyodide and xlwings' server mode its decorators are no-ops; where they
    # are applied is tested in tests/test_xldecl.py.
    assert "xlwings" not in _imported("import betaneutral.udfs")
