"""Memory bounds on every input, measured in a child process (peak resident memory).

Each case runs the command in a fresh interpreter and reads its own peak resident set
(``resource.getrusage``): the outcome is either a peak under 1 GB or a refusal whose
message names the limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from betaneutral.archive import MAX_XML_BYTES, MAX_XML_PART_BYTES
from betaneutral.sources import MAX_CSV_BYTES, MAX_CSV_FIELDS
from betaneutral.workbook.names import name_destinations

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "templates" / "BetaNeutral.xlsx"
GB = 1024**3

_RUNNER = textwrap.dedent("""
    import resource, sys
    from betaneutral.cli import main
    code = main(sys.argv[1:])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"PEAK {peak} EXIT {code}", file=sys.stderr)
""")


def run(argv: list[str], cwd: Path) -> tuple[int, int, str]:
    """Exit code, peak resident bytes and standard error of ``betaneutral argv`` in a child."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "addin")}
    done = subprocess.run([sys.executable, "-c", _RUNNER, *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("PEAK "), done.stderr
    _, peak, _, code = last.split()
    return int(code), int(peak), done.stderr


def _prices_csv(path: Path, days: int, assets: list[str], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    rows = ["date," + ",".join(assets)]
    start = np.datetime64("2015-01-01")
    paths = 100 * np.cumprod(1 + rng.normal(0, 0.02, (days, len(assets))), axis=0)
    for i in range(days):
        rows.append(str(start + i) + "," + ",".join(f"{v:.4f}" for v in paths[i]))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_a_200_mb_prices_csv_is_refused_naming_the_limit(tmp_path):
    big = tmp_path / "p.csv"
    with open(big, "wb") as fh:  # a sparse file: 200 MB as the reader sees it
        fh.write(b"date,BTC,ETH\n")
        fh.truncate(200 * 1024 * 1024)
    (tmp_path / "h.csv").write_text("asset,quantity\nETH,1\n", encoding="utf-8")
    code, peak, err = run(["fill", "--holdings", "h.csv", "--prices", "p.csv", "-o",
                           "b.xlsx", "--quiet"], tmp_path)
    assert code == 1
    assert f"at most {MAX_CSV_BYTES:,} bytes" in err
    assert peak < GB


def test_a_prices_csv_at_the_field_bound_fills_under_1_gb(tmp_path):
    """2,000 days x 1,450 columns (2.9 million fields, near the bound) of which 3 are held."""
    assets = ["BTC", "ETH", *[f"A{j:04d}" for j in range(1448)]]
    _prices_csv(tmp_path / "p.csv", 2_000, assets)
    assert 2_001 * len(assets) <= MAX_CSV_FIELDS
    (tmp_path / "h.csv").write_text("asset,quantity\nETH,10\nA0007,100\n", encoding="utf-8")
    code, peak, err = run(["fill", "--holdings", "h.csv", "--prices", "p.csv", "-o",
                           "b.xlsx", "--quiet"], tmp_path)
    assert code == 0, err
    assert peak < GB, f"peak {peak / 2**20:.0f} MiB"


def test_more_fields_than_the_bound_are_refused_naming_the_limit(tmp_path):
    assets = ["BTC", "ETH", *[f"A{j:04d}" for j in range(1598)]]
    _prices_csv(tmp_path / "p.csv", 2_000, assets)
    (tmp_path / "h.csv").write_text("asset,quantity\nETH,10\n", encoding="utf-8")
    code, peak, err = run(["fill", "--holdings", "h.csv", "--prices", "p.csv", "-o",
                           "b.xlsx", "--quiet"], tmp_path)
    assert code == 1
    assert f"at most {MAX_CSV_FIELDS:,} fields" in err
    assert peak < GB


def test_50000_repeated_holdings_rows_are_one_holding(tmp_path):
    """The issue's case: ETH,1 50,000 times was a traceback; now one row of 50,000 ETH."""
    _prices_csv(tmp_path / "p.csv", 200, ["BTC", "ETH"])
    (tmp_path / "h.csv").write_text("asset,quantity\n" + "ETH,1\n" * 50_000,
                                    encoding="utf-8")
    code, peak, err = run(["fill", "--holdings", "h.csv", "--prices", "p.csv", "-o",
                           "b.xlsx", "--quiet"], tmp_path)
    assert code == 0, err
    assert peak < GB
    import openpyxl

    wb = openpyxl.load_workbook(tmp_path / "b.xlsx")
    ((sheet, ref),) = [name_destinations(wb, ["HoldingQuantities"])["HoldingQuantities"]]
    cells = [c[0].value for c in wb[sheet][ref.replace("$", "")]] \
        if ":" in ref else [wb[sheet][ref.replace("$", "")].value]
    assert cells == [50_000]


def _with_user_sheet(src: Path, dst: Path, xml_bytes: int, sheets: int = 1) -> None:
    """``src`` plus ``sheets`` extra worksheets of about ``xml_bytes`` of cell XML each."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/workbook.xml":
                ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
                extra = "".join(f'<sheet xmlns:r="{ns}" name="Notes{k}" sheetId="{90 + k}" '
                                f'r:id="rIdN{k}"/>' for k in range(sheets))
                data = data.replace(b"</sheets>", extra.encode() + b"</sheets>")
            elif info.filename == "xl/_rels/workbook.xml.rels":
                extra = "".join(
                    f'<Relationship Id="rIdN{k}" Type="http://schemas.openxmlformats.org/'
                    f'officeDocument/2006/relationships/worksheet" Target="worksheets/'
                    f'notes{k}.xml"/>' for k in range(sheets))
                data = data.replace(b"</Relationships>", extra.encode() + b"</Relationships>")
            elif info.filename == "[Content_Types].xml":
                extra = "".join(
                    f'<Override PartName="/xl/worksheets/notes{k}.xml" ContentType="application/'
                    f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                    for k in range(sheets))
                data = data.replace(b"</Types>", extra.encode() + b"</Types>")
            zout.writestr(info, data)
        rng = np.random.default_rng(5)
        for k in range(sheets):
            with zout.open(f"xl/worksheets/notes{k}.xml", "w") as fh:
                fh.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                         b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                         b'2006/main"><sheetData>')
                written, row = 0, 1
                while written < xml_bytes:
                    values = rng.random(20)
                    cells = "".join(f'<c r="{chr(65 + j)}{row}"><v>{v:.15f}</v></c>'
                                    for j, v in enumerate(values))
                    line = f'<row r="{row}">{cells}</row>'.encode()
                    fh.write(line)
                    written += len(line)
                    row += 1
                fh.write(b"</sheetData></worksheet>")


@pytest.fixture(scope="module")
def book_110_mb(tmp_path_factory) -> Path:
    book = tmp_path_factory.mktemp("big") / "big.xlsx"
    _with_user_sheet(TEMPLATE, book, 110 * 1024 * 1024)
    return book


@pytest.mark.parametrize("command", ["compute", "backtest", "check", "tickets"])
def test_a_110_mb_user_sheet_is_refused_naming_the_limit(tmp_path, command, book_110_mb):
    (tmp_path / "big.xlsx").symlink_to(book_110_mb)
    argv = {"compute": ["compute", "big.xlsx", "-o", "out.xlsx"],
            "backtest": ["backtest", "big.xlsx", "-o", "out"],
            "check": ["check", "big.xlsx"],
            "tickets": ["tickets", "big.xlsx", "-o", "t.csv"]}[command]
    code, peak, err = run(argv, tmp_path)
    assert code == 3
    assert f"parts over {MAX_XML_PART_BYTES:,} bytes are refused" in err
    assert peak < GB


def test_sheets_within_the_part_bound_but_over_the_total_are_refused(tmp_path):
    book = tmp_path / "big.xlsx"
    _with_user_sheet(TEMPLATE, book, 30 * 1024 * 1024, sheets=4)
    code, peak, err = run(["compute", "big.xlsx", "-o", "out.xlsx"], tmp_path)
    assert code == 3
    assert f"more than {MAX_XML_BYTES:,} are refused" in err
    assert peak < GB


@pytest.fixture(scope="module")
def book_under_bound(tmp_path_factory) -> Path:
    book = tmp_path_factory.mktemp("under") / "big.xlsx"
    _with_user_sheet(TEMPLATE, book, MAX_XML_PART_BYTES - 1024 * 1024)
    return book


@pytest.mark.parametrize("command", ["compute", "backtest", "check"])
def test_a_user_sheet_just_under_the_bound_runs_under_1_gb(tmp_path, command,
                                                          book_under_bound):
    """A 31 MB user sheet: peaks measured at 496 MB (compute), 826 MB (backtest), 835 MB (check)."""
    (tmp_path / "big.xlsx").symlink_to(book_under_bound)
    argv = {"compute": ["compute", "big.xlsx", "-o", "out.xlsx", "--quiet"],
            "backtest": ["backtest", "big.xlsx", "-o", "out", "--quiet"],
            "check": ["check", "big.xlsx"]}[command]
    code, peak, err = run(argv, tmp_path)
    assert code == 0, err
    assert peak < GB, f"peak {peak / 2**20:.0f} MiB"


# ---- large price and rolling-beta sheets: read from their bytes, not parsed as trees
# A book of 1,000 holdings x 2,000 days has a 100 MB price sheet. The tree bounds are
# lowered in the child so that the shipped template's price sheet (about 366 KB) is over
# them, as a large book's is over the real ones; the bulk bounds keep their values.
_TREE_PART, _TREE_TOTAL = 350_000, 1_000_000

_BOUNDED_RUNNER = textwrap.dedent("""
    import resource, sys
    import betaneutral.archive as archive
    import betaneutral.workbook.cache as cache
    archive.MAX_XML_PART_BYTES = cache.MAX_XML_PART_BYTES = int(sys.argv[1])
    archive.MAX_XML_BYTES = int(sys.argv[2])
    if sys.argv[3] != "-":
        archive.MAX_BULK_SHEET_BYTES = int(sys.argv[3])
    from betaneutral.cli import main
    code = main(sys.argv[4:])
    print(f"EXIT {code}", file=sys.stderr)
""")


def run_bounded(argv: list[str], cwd: Path, bulk: int | None = None) -> tuple[int, str]:
    """Exit code and standard error of ``betaneutral argv`` with the tree bounds lowered."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "addin")}
    done = subprocess.run([sys.executable, "-c", _BOUNDED_RUNNER, str(_TREE_PART),
                           str(_TREE_TOTAL), "-" if bulk is None else str(bulk), *argv],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("EXIT "), done.stderr
    return int(last.split()[1]), done.stderr


def _sheet_sizes(book: Path) -> dict[str, int]:
    with zipfile.ZipFile(book) as zf:
        return {i.filename: i.file_size for i in zf.infolist()
                if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")}


def _all_values(book: Path) -> dict[tuple[str, str], object]:
    import openpyxl

    wb = openpyxl.load_workbook(book, data_only=True)
    return {(ws.title, c.coordinate): c.value for ws in wb for row in ws.iter_rows()
            for c in row if c.value is not None and ws.title != "Tickets"}


def test_a_price_sheet_over_the_tree_bound_is_computed_from_its_bytes(tmp_path):
    """The price sheet and the whole XML are over the (lowered) tree bounds: compute
    reads the prices from the bytes, and writes what it writes under the normal bounds."""
    sizes = _sheet_sizes(TEMPLATE)
    assert max(sizes.values()) > _TREE_PART
    assert sum(sizes.values()) > _TREE_TOTAL
    (tmp_path / "book.xlsx").symlink_to(TEMPLATE)
    code, err = run_bounded(["compute", "book.xlsx", "-o", "bounded.xlsx", "--quiet"],
                            tmp_path)
    assert code == 0, err
    code, _, err = run(["compute", "book.xlsx", "-o", "normal.xlsx", "--quiet"], tmp_path)
    assert code == 0, err
    bounded, normal = _all_values(tmp_path / "bounded.xlsx"), _all_values(tmp_path / "normal.xlsx")
    assert len(bounded) > 10_000
    assert bounded == normal


def test_a_sheet_over_the_tree_bound_that_must_be_parsed_is_refused(tmp_path):
    """check (the formula engine parses every sheet) and a user's own large sheet are held
    to the tree bound, with the message naming it."""
    (tmp_path / "book.xlsx").symlink_to(TEMPLATE)
    code, err = run_bounded(["check", "book.xlsx"], tmp_path)
    assert code == 3
    assert f"parts over {_TREE_PART:,} bytes are refused" in err
    _with_user_sheet(TEMPLATE, tmp_path / "user.xlsx", _TREE_PART + 50_000)
    code, err = run_bounded(["compute", "user.xlsx", "-o", "out.xlsx", "--quiet"], tmp_path)
    assert code == 3
    assert "notes0.xml" in err
    assert f"over {_TREE_PART:,} bytes are refused" in err
    assert not (tmp_path / "out.xlsx").exists()


def test_a_sheet_over_the_bulk_bound_is_refused(tmp_path):
    (tmp_path / "book.xlsx").symlink_to(TEMPLATE)
    bulk = _TREE_PART + 1_000  # under the price sheet's size
    code, err = run_bounded(["compute", "book.xlsx", "-o", "out.xlsx", "--quiet"], tmp_path,
                            bulk=bulk)
    assert code == 3
    assert f"parts over {bulk:,} bytes are refused" in err
