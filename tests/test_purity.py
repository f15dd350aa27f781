"""The core is pure: no spreadsheet, Excel, file or environment access."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import betaneutral.core

CORE_DIR = Path(betaneutral.core.__file__).parent
ALLOWED_TOP_LEVEL = {"__future__", "numpy", "pandas", "statsmodels", "scipy", "betaneutral",
                     "dataclasses", "typing", "collections", "math", "numbers", "enum",
                     "functools", "itertools", "types", "hashlib", "datetime", "warnings",
                     "statistics"}
FORBIDDEN_CALLS = {"open", "print", "input"}


def _core_files() -> list[Path]:
    return sorted(CORE_DIR.glob("*.py"))


def test_core_imports_only_math_and_standard_helpers():
    """Core modules import only numpy, pandas, statsmodels (and its scipy) and pure stdlib."""
    bad = []
    for path in _core_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            bad += [f"{path.name}: {n}" for n in names
                    if n.split(".")[0] not in ALLOWED_TOP_LEVEL]
            if (isinstance(node, ast.ImportFrom) and node.module
                    and node.module.startswith("betaneutral")
                    and not node.module.startswith(("betaneutral.core", "betaneutral.errors"))):
                bad.append(f"{path.name}: {node.module}")
    assert bad == []


def test_core_does_no_io():
    """No core module calls open(), print() or input()."""
    calls = [f"{path.name}:{node.lineno}" for path in _core_files()
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
             and node.func.id in FORBIDDEN_CALLS]
    assert calls == []


def test_importing_the_core_loads_no_adapter_library():
    """Importing every core module leaves xlwings, openpyxl, lxml and defusedxml unloaded."""
    modules = [m.name for m in pkgutil.iter_modules(betaneutral.core.__path__,
                                                    "betaneutral.core.")]
    assert "betaneutral.core.beta" in modules
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = [k for k in ('xlwings', 'openpyxl', 'lxml', 'defusedxml') if k in sys.modules]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""
