"""``backtest BOOK`` and ``check`` read the book once, and ``check`` says what it is doing."""

from __future__ import annotations

import sys
from pathlib import Path

import openpyxl
import pytest

from betaneutral.cli import EXIT_OK, main
from betaneutral.workbook import compute
from sample_files import write_sample_csvs

ROOT = Path(__file__).resolve().parents[1]


def _counted(monkeypatch, module, name):
    """Replace ``module.name`` by a wrapper that records each call; returns the record."""
    calls = []
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def _filled_book(tmp_path, days=200):
    holdings, prices = write_sample_csvs(tmp_path, days)
    book = tmp_path / "book.xlsx"
    assert main(["fill", "--holdings", str(holdings), "--prices", str(prices), "-o",
                 str(book), "--quiet"]) == EXIT_OK
    return book


def test_backtest_of_a_book_loads_it_once(tmp_path, monkeypatch):
    """The replay and the written book share one load (``prepared_book`` loads with
    ``load_book``; before, each of them loaded the book)."""
    book = _filled_book(tmp_path)
    loads = _counted(monkeypatch, compute, "load_book")
    out = tmp_path / "res"
    assert main(["backtest", str(book), "-o", str(out), "--quiet"]) == EXIT_OK
    assert (out / "book-backtest.xlsx").is_file()
    assert len(loads) == 1


def test_check_loads_the_book_once(tmp_path, monkeypatch, capsys):
    """One openpyxl load serves the Python values and the formula engine (before: one for
    the Python values and two inside the engine's reader)."""
    pytest.importorskip("pycel", reason='pycel is not installed: pip install -e ".[check]"')
    import pycel.excelwrapper

    book = _filled_book(tmp_path, days=120)
    loads = _counted(monkeypatch, openpyxl, "load_workbook")
    engine_loads = _counted(monkeypatch, pycel.excelwrapper, "load_workbook")
    assert main(["check", str(book), "--quiet"]) == EXIT_OK
    assert "every formula cell agrees" in capsys.readouterr().out
    assert len(loads) + len(engine_loads) == 1


def test_check_reports_progress_on_a_terminal_unless_quiet(tmp_path, monkeypatch, capsys):
    """On a terminal, check says each stage and counts the cells evaluated, on stderr."""
    pytest.importorskip("pycel", reason='pycel is not installed: pip install -e ".[check]"')
    book = _filled_book(tmp_path, days=120)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["check", str(book)]) == EXIT_OK
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("... ")]
    assert lines[0] == "... reading book.xlsx"
    assert any(line.startswith("... evaluating ") and line.endswith(" formula cells")
               for line in lines)
    counts = [line for line in lines if line.startswith("... evaluated ")]
    assert counts
    assert " of " in counts[0]
    assert "cells (" in counts[0]
    assert "..." not in captured.out  # the result alone on standard output
    assert main(["check", str(book), "--quiet"]) == EXIT_OK
    assert "..." not in capsys.readouterr().err
