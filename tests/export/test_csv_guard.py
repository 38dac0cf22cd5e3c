"""Every CSV meant for a spreadsheet or an ERP goes through apportion.csvfile: text from users
that a spreadsheet would run as a formula (a tag ``=HYPERLINK(...)``) is written with a
leading apostrophe, while amounts (a credit of -12.34 included) stay numbers. Checked on the
journal, the statement CSV, a ``--format csv`` report, the FOCUS CSV export and the API's
bill-line export, over one small closed month whose tags carry formulas."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from apportion.api.exports import bill_lines_csv
from apportion.cli import app
from apportion.csvfile import csv_text, guard_cell, guard_table
from tests.helpers import allocate, ingest, make_workspace, write_focus

NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
FORMULA = '=HYPERLINK("http://x","y")'
RULES = """rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
ledger:
  modes:
    - category: uncategorised
      mode: chargeback
      effective_from: 2026-10
"""


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (FORMULA, "'" + FORMULA),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-1+2", "'-1+2"),
        ("\t=1", "'\t=1"),
        ("-inf", "'-inf"),
        ("-12.34", "-12.34"),
        ("-12.5%", "-12.5%"),
        ("-", "-"),
        ("--1", "'--1"),
        ("+1E-7", "+1E-7"),
        ("cx", "cx"),
        ("", ""),
        (Decimal("-12.34"), Decimal("-12.34")),
        (None, None),
        (-3, -3),
    ],
)
def test_a_cell_that_would_run_as_a_formula_is_guarded_and_numbers_are_not(
    cell: object, written: object
) -> None:
    assert guard_cell(cell) == written


def test_the_arrow_guard_agrees_with_the_cell_guard() -> None:
    cells = [FORMULA, "-12.34", None, "-1+2", "ok", "@x", "+1E-7", "\rx", "-", "-5%", "-5%x"]
    table = pa.table({"text": cells, "number": pa.array(range(len(cells)))})
    guarded = guard_table(table)
    assert guarded.column("text").to_pylist() == [guard_cell(c) for c in cells]
    assert guarded.column("number").to_pylist() == list(range(len(cells)))


def test_the_api_bill_line_export_is_guarded() -> None:
    listing = {
        "period": "2026-10",
        "columns": ["x_LineId", "BilledCost", "Tags"],
        "rows": [{"x_LineId": "a1", "BilledCost": "-12.34", "Tags": FORMULA}],
    }
    text = bill_lines_csv(listing).body.decode()
    assert list(csv.reader(io.StringIO(text)))[1] == ["a1", "-12.34", "'" + FORMULA]


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """2026-10: one line tagged with formulas for its cost centre and use case, one credit."""
    root = tmp_path_factory.mktemp("guard")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
        patch.delenv("APPORTION_CONTROL_PLANE", raising=False)
        workspace = make_workspace(root / "ws", RULES)
        bill = write_focus(
            root / "bill.csv",
            [
                {
                    "BilledCost": "40",
                    "EffectiveCost": "40",
                    "ResourceId": "@evil",
                    "Tags": {"use_case": FORMULA, "cost_centre": "+cmd|x"},
                },
                {
                    "BilledCost": "-12.34",
                    "EffectiveCost": "-12.34",
                    "ResourceId": "credit",
                    "Tags": {"use_case": "bot", "cost_centre": "cx"},
                },
            ],
        )
        ingest(workspace, bill)
        allocate(workspace)
        workspace.close()
    root = root / "ws"
    assert cli(root, "period", "review", "2026-10").code == 0
    closing = cli(root, "period", "close", "2026-10")
    assert closing.code == 0, closing.stderr
    yield root


class Ran:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr


def cli(root: Path, *args: str) -> Ran:
    env: Mapping[str, str | None] = {
        "APPORTION_USER": "alice",
        "APPORTION_ENGINE_TYPE": "duckdb",
        "APPORTION_CONTROL_PLANE": None,
        "APPORTION_WORKSPACE": None,
    }
    result = CliRunner().invoke(app, ["--workspace", str(root), *args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def assert_guarded(text: str, credit: str = "-12.34") -> None:
    """No cell starts a formula, the formula tag is there guarded, and the credit is a number
    (the journal posts it as a positive credit)."""
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert cells, "an empty CSV proves nothing"
    starting = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert all(guard_cell(c) == c for c in starting), starting
    assert any(c.startswith("'=") and "HYPERLINK" in c.upper() for c in cells), cells
    assert Decimal(credit) in {Decimal(c) for c in cells if NUMBER.fullmatch(c)}, cells


@pytest.mark.parametrize(
    "command",
    [
        ("journal", "export", "--period", "2026-10", "--credit", "12.34"),
        ("statement", "--period", "2026-10", "--format", "csv"),
        ("report", "statements", "--period", "2026-10", "--format", "csv"),
    ],
    ids=["journal", "statement", "report"],
)
def test_cli_csv_exports_are_guarded(closed: Path, command: tuple[str, ...]) -> None:
    credit = command[-1] if command[-2] == "--credit" else "-12.34"
    ran = cli(closed, *(command[:-2] if command[-2] == "--credit" else command))
    assert ran.code == 0, ran.stderr
    assert_guarded(ran.stdout, credit)


def test_the_focus_csv_export_is_guarded(closed: Path, tmp_path: Path) -> None:
    out = tmp_path / "focus.csv"
    ran = cli(closed, "export", "focus", "--period", "2026-10", "--out", str(out))
    assert ran.code == 0, ran.stderr
    assert_guarded(out.read_text(encoding="utf-8"))


def test_a_report_as_csv_text_keeps_amounts_numeric() -> None:
    rows = [{"use_case": FORMULA, "amount": Decimal("-12.34")}]
    assert list(csv.reader(io.StringIO(csv_text(rows)))) == [
        ["use_case", "amount"],
        ["'" + FORMULA, "-12.34"],
    ]
