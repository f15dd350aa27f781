"""What a user sees in the first minute: texts fit their columns and rows, chart labels sit
under the plot, figures carry their unit (on the built and computed sample workbook)."""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from betaneutral.vba.package import _sheet_part
from betaneutral.workbook import backtest_sheet as bt
from betaneutral.workbook.compute import build_committed_templates, compute_workbook


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample template, computed (its Tickets sheet holds the sample's order)."""
    folder = tmp_path_factory.mktemp("fmt")
    return compute_workbook(build_committed_templates(folder)[0], folder / "computed.xlsx")


def test_ticket_ids_and_reasons_fit_their_columns(built: Path) -> None:
    """Excel's column width is in characters of the default font: the client order id and
    the reason of the computed sample ticket fit without being cut off."""
    ws = openpyxl.load_workbook(built)["Tickets"]
    for col in ("K", "O"):  # Client order ID, Reason
        texts = [str(c.value) for c in ws[col][1:] if c.value]
        assert texts, col
        assert ws.column_dimensions[col].width >= max(len(t) for t in texts) + 1, col


def test_backtest_headers_have_room_for_their_lines(built: Path) -> None:
    """Each header wraps in its column; its row is tall enough for the most lines any header
    of the row needs (about 15 points a line of the 11-point header font)."""
    ws = openpyxl.load_workbook(built)["Backtest"]
    for row in (bt.POLICY_HEADER_ROW, bt.DAILY_HEADER_ROW):
        lines = 1
        for cell in ws[row]:
            if isinstance(cell.value, str):
                width = ws.column_dimensions[cell.column_letter].width or 8.43
                words, n, used = cell.value.split(), 1, 0
                for word in words:  # greedy word wrap
                    if used and used + 1 + len(word) > width:
                        n, used = n + 1, len(word)
                    else:
                        used += (1 if used else 0) + len(word)
                lines = max(lines, n)
        assert lines == 3, row  # the headers of both rows wrap to three lines
        assert ws.row_dimensions[row].height >= 15 * lines, (row, lines)


def test_scenarios_chart_labels_sit_under_the_plot(built: Path) -> None:
    with zipfile.ZipFile(built) as zf:
        sheet = _sheet_part(zf, "Scenarios")
        rels = zf.read(re.sub(r"worksheets/", "worksheets/_rels/", sheet) + ".rels").decode()
        drawing = re.search(r'Target="(?:/xl/|\.\./)drawings/(drawing\d+\.xml)"', rels)[1]
        drels = zf.read(f"xl/drawings/_rels/{drawing}.rels").decode()
        charts = re.findall(r'Target="(?:/xl/|\.\./)charts/(chart\d+\.xml)"', drels)
        assert charts
        for chart in charts:
            xml = zf.read(f"xl/charts/{chart}").decode()
            cat_ax = re.search(r"<(?:c:)?catAx>.*?</(?:c:)?catAx>", xml, re.S)[0]
            assert re.search(r'tickLblPos val="low"', cat_ax), chart


def test_start_margin_buffer_has_its_unit_and_plain_decimals(built: Path) -> None:
    wb = openpyxl.load_workbook(built)
    values = openpyxl.load_workbook(built, data_only=True)
    start = wb["Start"]
    row = next(r for r in range(1, 40) if "Margin buffer" in str(start[f"B{r}"].value))
    assert "settlement currency" in start[f"B{row}"].value
    fmt = start[f"C{row}"].number_format
    value = values["Start"][f"C{row}"].value
    assert value > 10  # the sample's USDT buffer
    # the section Excel applies to a value of 10 or more: two decimals, no optional tail
    large = fmt.split(";")[-1]
    assert large == "#,##0.00"
    assert math.isfinite(value)
