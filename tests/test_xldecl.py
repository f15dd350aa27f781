"""The worksheet functions' declarations reach xlwings wherever its decorators work."""

from __future__ import annotations

import sys

import pytest
import xlwings

from betaneutral import xldecl


@pytest.mark.parametrize(("platform", "server", "loaded", "expected"), [
    ("win32", None, False, True),       # the COM server and Import Functions
    ("emscripten", None, False, True),  # xlwings Lite (Pyodide)
    ("linux", "true", False, True),     # xlwings' server mode
    ("linux", None, True, True),        # xlwings already imported (the UDF server, tests)
    ("linux", None, False, False),      # decorators are no-ops: xlwings is not imported
    ("darwin", None, False, False),
])
def test_where_xlwings_decorators_are_applied(monkeypatch, platform, server, loaded, expected):
    monkeypatch.setattr(sys, "platform", platform)
    if server is None:
        monkeypatch.delenv("XLWINGS_ON_SERVER", raising=False)
    else:
        monkeypatch.setenv("XLWINGS_ON_SERVER", server)
    if not loaded:
        monkeypatch.delitem(sys.modules, "xlwings")
    assert xldecl.xlwings_decorates() is expected


def test_declarations_are_recorded_and_passed_on_unchanged(monkeypatch):
    received = []
    monkeypatch.setattr(xlwings, "func", lambda **kw: lambda f: received.append(kw) or f)
    monkeypatch.setattr(xlwings, "arg",
                        lambda name, **kw: lambda f: received.append((name, kw)) or f)

    @xldecl.func(category="BetaNeutral")
    @xldecl.arg("x", ndim=2, err_to_str=True, doc="a range")
    def f(x):
        return x

    assert received == [("x", {"ndim": 2, "err_to_str": True, "doc": "a range"}),
                        {"category": "BetaNeutral"}]
    assert f.__excel_func__ == {"category": "BetaNeutral"}
    assert f.__excel_args__ == {"x": {"ndim": 2, "err_to_str": True, "doc": "a range"}}
    assert f([[1.0]]) == [[1.0]]
