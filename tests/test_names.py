"""Structured references in defined names, resolved as Excel's documentation defines them
(*Using structured references with Excel tables*): a hand-written table of cases."""

from __future__ import annotations

import pytest

from betaneutral.workbook.names import TableArea, structured_range, table_column_name

#: A table over A1:F731 (header row 1, data rows 2-731) with a column name that needs escaping.
TABLES = {"Prices": TableArea("Benchmark", "A1:F731",
                              ("Date", "BTC", "ETH", "SOL", "X]y", "Benchmark"))}


@pytest.mark.parametrize(("text", "expected"), [
    ("Prices[BTC]", "B2:B731"),  # a column: its data rows
    ("Prices[[BTC]:[SOL]]", "B2:D731"),  # a run of columns
    ("Prices[[#Headers],[BTC]:[SOL]]", "B1:D1"),  # their header cells
    ("Prices[[#Data],[ETH]]", "C2:C731"),
    ("prices[#Data]", "A2:F731"),  # table names compare without regard to case
    ("Prices", "A2:F731"),  # the table's name alone is its data
    ("Prices[#All]", "A1:F731"),
    ("Prices[[#Headers]]", "A1:F1"),
    (f"Prices[{table_column_name('X]y')}]", "E2:E731"),  # written X']y
])
def test_forms_the_book_writes_resolve_to_their_cells(text: str, expected: str) -> None:
    assert structured_range(text, TABLES) == ("Benchmark", expected)


@pytest.mark.parametrize("text", [
    "Nope[BTC]",  # no such table
    "Prices[DOGE]",  # no such column
    "Prices[[#This Row],[BTC]]",  # a row relative to the formula's cell: not a range
    "Prices[[BTC],[ETH]]",  # two columns without ":" are not a range
    "Prices[[#Totals],[BTC]]",  # the table has no totals row
    "'Benchmark'!$B$2:$B$731",  # a plain range is not a structured reference
])
def test_other_forms_are_not_resolved(text: str) -> None:
    assert structured_range(text, TABLES) is None


def test_column_names_escape_brackets_hashes_and_quotes() -> None:
    assert table_column_name("Price (USD)") == "Price (USD)"
    assert table_column_name("a[b]#c'd") == "a'[b']'#c''d"
