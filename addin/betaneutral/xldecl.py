"""Declarations of the worksheet functions for xlwings, applied only where xlwings uses them.

:mod:`betaneutral.udfs` declares each Excel function with ``@xl.func`` and its
arguments with ``@xl.arg``, taking exactly the arguments of xlwings' ``@xw.func``
and ``@xw.arg``. Each declaration is recorded on the function (``__excel_func__``,
``__excel_args__``) and handed to xlwings' own decorator whenever xlwings' decorators
do something in this process:

* on Windows, where xlwings' COM server calls the functions (``xlwings.udfs.call_udf``
  reads the ``__xlfunc__`` its decorators build) and *Import Functions* lists them;
* under Pyodide (xlwings Lite) and when ``XLWINGS_ON_SERVER=true`` (xlwings' server
  decorators);
* whenever xlwings is already imported (the UDF server imports it before the module
  it serves, and a test may replace its decorators).

Elsewhere xlwings' decorators are no-ops (``xlwings/__init__.py`` returns the
function unchanged off Windows outside server mode), so skipping them changes nothing but spares
importing xlwings (and the cryptography modules it pulls in) when a workbook is
computed headless with these functions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["arg", "func", "xlwings_decorates"]

F = TypeVar("F", bound=Callable[..., Any])


def xlwings_decorates() -> bool:
    """Whether xlwings' decorators have an effect in this process (see the module notes)."""
    return ("xlwings" in sys.modules or sys.platform.startswith(("win", "emscripten"))
            or os.environ.get("XLWINGS_ON_SERVER") == "true")


def _xlwings() -> Any:
    """xlwings, when its decorators have an effect in this process; else None."""
    if xlwings_decorates():
        import xlwings

        return xlwings
    return None


def func(**kwargs: Any) -> Callable[[F], F]:
    """``@xw.func(**kwargs)``: declare an Excel function (e.g. ``category=``)."""

    def inner(f: F) -> F:
        f.__excel_func__ = dict(kwargs)  # type: ignore[attr-defined]
        xw = _xlwings()
        return xw.func(**kwargs)(f) if xw is not None else f

    return inner


def arg(name: str, **kwargs: Any) -> Callable[[F], F]:
    """``@xw.arg(name, **kwargs)``: declare how one argument arrives from Excel."""

    def inner(f: F) -> F:
        declared = f.__dict__.setdefault("__excel_args__", {})
        declared[name] = dict(kwargs)
        xw = _xlwings()
        return xw.arg(name, **kwargs)(f) if xw is not None else f

    return inner
