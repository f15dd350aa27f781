"""The Python entry points of the workbook's buttons (betaneutral.excel), with a mocked
xlwings Book: the export writes what `betaneutral tickets` writes, byte for byte, by the
same rules; the replay fills the Backtest sheet with what `betaneutral compute` stores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlwings
from openpyxl.utils.datetime import to_excel

import betaneutral.tickets as tickets_module
from betaneutral import excel
from betaneutral.cli import main
from betaneutral.sample import SAMPLE_TICKET_NOTE
from betaneutral.workbook.compute import build_committed_templates

FIXED = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


class _FrozenDatetime(dt.datetime):
    @classmethod
    def now(cls, tz: Any = None) -> dt.datetime:  # type: ignore[override]
        return FIXED if tz is not None else FIXED.replace(tzinfo=None)


class _Range:
    def __init__(self, sheet: _Sheet, coord: str) -> None:
        self.sheet, self.coord = sheet, coord

    def options(self, **kwargs: Any) -> _Range:
        assert kwargs == {"ndim": 2}
        return self

    @property
    def value(self) -> Any:
        raise AssertionError("the entry points only write")

    @value.setter
    def value(self, value: Any) -> None:
        self.sheet.writes.append((self.coord, value))


class _Sheet:
    def __init__(self) -> None:
        self.writes: list[tuple[str, Any]] = []

    def range(self, coord: str) -> _Range:
        return _Range(self, coord)


class _Sheets(dict):
    def __missing__(self, key: str) -> _Sheet:
        self[key] = _Sheet()
        return self[key]


class _App:
    def __init__(self) -> None:
        self.alerts: list[str] = []

    def alert(self, prompt: str, title: str | None = None) -> None:
        self.alerts.append(prompt)


class FakeBook:
    """The part of xlwings.Book the entry points use."""

    def __init__(self, fullname: Path) -> None:
        self.fullname = str(fullname)
        self.sheets = _Sheets()
        self.app = _App()


@pytest.fixture(scope="module")
def computed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample book, built and computed as the committed .xlsm is."""
    return build_committed_templates(tmp_path_factory.mktemp("book"))[1]


def test_export_writes_the_tickets_command_output_byte_for_byte(
        computed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tickets_module, "datetime", _FrozenDatetime)
    book = computed.parent / "copy.xlsm"
    book.write_bytes(computed.read_bytes())
    fake = FakeBook(book)
    written = excel.export_tickets(fake, xlwings_vba=xlwings.__version__)
    assert written is not None
    assert written.parent == book.parent
    assert written.name.startswith("copy-tickets-")
    cli_csv = tmp_path / "cli.csv"
    assert main(["tickets", str(book), "-o", str(cli_csv)]) == 0
    assert written.read_bytes() == cli_csv.read_bytes()
    assert written.read_text("utf-8").count(SAMPLE_TICKET_NOTE) == 1  # one sample order
    assert fake.app.alerts == [f"Wrote 1 ticket(s) to {written}"]


def test_export_never_overwrites_and_reports_in_words(computed: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken.csv"
    target.write_text("keep me")
    fake = FakeBook(computed)
    assert excel.export_tickets(fake, output=target) is None
    assert target.read_text() == "keep me"
    assert fake.app.alerts[-1].startswith("No tickets written:")
    assert "exists" in fake.app.alerts[-1]


def test_export_refuses_a_version_mismatch_and_an_unsaved_book(computed: Path,
                                                               tmp_path: Path) -> None:
    fake = FakeBook(computed)
    assert excel.export_tickets(fake, xlwings_vba="0.0.1") is None
    assert "xlwings version mismatch" in fake.app.alerts[-1]
    unsaved = FakeBook(tmp_path / "Book1")
    assert excel.export_tickets(unsaved) is None
    assert "save the workbook first" in unsaved.app.alerts[-1]
    assert list(tmp_path.iterdir()) == []


def test_tickets_csv_path_is_next_to_the_book() -> None:
    path = excel.tickets_csv_path(Path("/a/b/Book.xlsm"), FIXED)
    assert path == Path("/a/b/Book-tickets-20260102-030405.csv")


def test_replay_fills_the_backtest_sheet_as_compute_does(computed: Path) -> None:
    fake = FakeBook(computed)
    n = excel.replay_backtest(fake, xlwings_vba=xlwings.__version__)
    assert n
    assert set(fake.sheets) == {"Backtest"}
    written: dict[str, Any] = {}
    for coord, value in fake.sheets["Backtest"].writes:
        col = "".join(c for c in coord if c.isalpha())
        row = int(coord[len(col):])
        rows = value if isinstance(value, list) else [[value]]
        for i, (v,) in enumerate(rows):
            written[f"{col}{row + i}"] = v
    assert len(written) == n
    stored = openpyxl.load_workbook(computed, data_only=True)["Backtest"]
    compared = 0
    for coord, value in written.items():
        want = stored[coord].value
        if isinstance(want, dt.datetime):  # stored as a serial in a date-formatted cell
            assert value == to_excel(want), coord
        elif isinstance(want, float):
            assert value == pytest.approx(want, rel=1e-12), coord
        else:
            assert value == want, coord
        compared += 1
    assert compared > 1000
    assert fake.app.alerts[-1].startswith("Replayed ")
