"""The command line end to end on a small hand-made month: exit codes, formats, FOCUS out."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from apportion.cli import app
from tests.helpers import write_drivers, write_focus

pytestmark = pytest.mark.usefixtures("engine")

RULES = """version: 1
rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
  - name: gpu
    match: "ResourceId = 'gpu'"
    method: proportional
    driver: gpu_seconds
    window: day
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    runner = CliRunner()
    assert runner.invoke(app, ["--workspace", str(root), "init"]).exit_code == 0
    (root / "apportion.yaml").write_text(RULES, encoding="utf-8")
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {"BilledCost": "10.005", "Tags": {"use_case": "bot", "cost_centre": "cs"}},
            {"BilledCost": "20.004", "ResourceId": "gpu"},
            {"BilledCost": "3.333", "ResourceId": "lonely"},
        ],
    )
    drivers = write_drivers(
        tmp_path / "drivers.csv",
        [
            {
                "timestamp": "2026-10-03T10:00:00Z",
                "driver": "gpu_seconds",
                "quantity": "1",
                "resource_id": "gpu",
                "use_case": "bot",
                "cost_centre": "cs",
            },
            {
                "timestamp": "2026-10-03T11:00:00Z",
                "driver": "gpu_seconds",
                "quantity": "2",
                "resource_id": "gpu",
                "use_case": "scorer",
                "cost_centre": "risk",
            },
        ],
    )
    result = runner.invoke(app, ["-w", str(root), "ingest", str(bill), str(drivers)])
    assert result.exit_code == 0, result.output
    assert "bill.csv: loaded as focus" in result.output
    result = runner.invoke(app, ["-w", str(root), "allocate", "--period", "2026-10"])
    assert result.exit_code == 0, result.output
    return root


def run(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--workspace", str(root), *args])
    return result.exit_code, result.stdout


@pytest.mark.spark_full
def test_totals_json_balances_and_splits_by_method(workspace: Path) -> None:
    code, output = run(workspace, "report", "totals", "--period", "2026-10", "--format", "json")
    assert code == 0
    report = json.loads(output)
    assert report["balanced"] is True
    billed = next(m for m in report["totals"] if m["metric"] == "BilledCost")
    assert Decimal(billed["ingested"]) == Decimal("33.342")
    assert Decimal(billed["allocated"]["direct"]) == Decimal("10.005")
    assert Decimal(billed["allocated"]["proportional"]) == Decimal("20.004")
    assert Decimal(billed["unallocated"]) == Decimal("3.333")
    assert report["quarantined_rows"] == {}


@pytest.mark.spark_full
def test_statements_round_so_lines_add_up(workspace: Path) -> None:
    code, output = run(
        workspace, "report", "statements", "-p", "2026-10", "--by", "use_case", "-f", "json"
    )
    assert code == 0
    report = json.loads(output)
    lines = {line["use_case"]: Decimal(line["BilledCost"]) for line in report["lines"]}
    # exact: bot 10.005 + 6.668, scorer 13.336, unallocated 3.333 -> total 33.342
    assert lines == {
        "bot": Decimal("16.67"),
        "scorer": Decimal("13.34"),
        "__unallocated__": Decimal("3.33"),
    }
    assert sum(lines.values()) == Decimal(report["totals"][0]["BilledCost"]) == Decimal("33.34")


@pytest.mark.spark_full
def test_statements_csv_and_table(workspace: Path) -> None:
    code, output = run(
        workspace,
        "report",
        "statements",
        "-p",
        "2026-10",
        "--by",
        "cost_centre,category",
        "--format",
        "csv",
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(output)))
    assert {row["cost_centre"] for row in rows} == {"cs", "risk", "__unallocated__"}
    code, output = run(workspace, "report", "statements", "-p", "2026-10")
    assert code == 0 and "TOTAL" in output


def test_export_focus_with_allocated_columns(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "focus.parquet"
    code, _ = run(workspace, "export", "focus", "--period", "2026-10", "--out", str(out))
    assert code == 0
    rows = pq.read_table(out).to_pylist()
    assert sum(row["BilledCost"] for row in rows) == Decimal("33.342")
    remainder = [row for row in rows if row["AllocatedMethodId"] == "__unallocated__"]
    assert len(remainder) == 1 and remainder[0]["AllocatedResourceId"] is None
    split = [row for row in rows if row["AllocatedMethodId"] == "gpu"]
    assert {row["AllocatedResourceId"] for row in split} == {
        "cost_centre=cs/use_case=bot",
        "cost_centre=risk/use_case=scorer",
    }
    details = json.loads(split[0]["AllocatedMethodDetails"])
    assert details["method"] == "proportional" and details["driver"] == "gpu_seconds"
    assert split[0]["ChargePeriodStart"].isoformat() == "2026-10-03T00:00:00"
    assert split[0]["ChargePeriodEnd"].isoformat() == "2026-10-04T00:00:00"
    csv_out = tmp_path / "focus.csv"
    assert run(workspace, "export", "focus", "-p", "2026-10", "-o", str(csv_out))[0] == 0
    header = csv_out.read_text().splitlines()[0]
    for column in ("BilledCost", "AllocatedMethodId", "AllocatedTags", "x_use_case"):
        assert f'"{column}"' in header


@pytest.mark.spark_full
def test_usage_errors_exit_2_with_one_message(workspace: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["-w", str(workspace), "ingest", str(bad)])
    assert result.exit_code == 2
    assert "no recognisable schema" in result.output
    assert run(workspace, "allocate", "--period", "2026-13")[0] == 2
    assert run(workspace, "report", "totals", "--period", "2026-09")[0] == 2
    assert run(workspace, "report", "statements", "-p", "2026-10", "--by", "colour")[0] == 2
    assert run(tmp_path / "nowhere", "allocate", "-p", "2026-10")[0] == 2


@pytest.mark.spark_full
def test_workspace_from_environment(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPORTION_WORKSPACE", str(workspace))
    result = CliRunner().invoke(app, ["report", "totals", "-p", "2026-10", "-f", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["balanced"]


@pytest.mark.spark_full
def test_forbidden_rule_expression_is_refused_and_totals_stay(workspace: Path) -> None:
    _, before = run(workspace, "report", "totals", "-p", "2026-10", "-f", "json")
    config = workspace / "apportion.yaml"
    config.write_text(
        config.read_text().replace("ResourceId = 'gpu'", "ResourceId = (SELECT 'gpu')"),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["-w", str(workspace), "allocate", "-p", "2026-10"])
    assert result.exit_code == 2
    assert "rules[1] (gpu).match" in result.output
    config.write_text(RULES, encoding="utf-8")
    _, after = run(workspace, "report", "totals", "-p", "2026-10", "-f", "json")
    assert json.loads(after) == json.loads(before)


def test_every_ingest_format_is_a_command_line_choice() -> None:
    from typing import get_args

    from apportion.cli import IngestFormat
    from apportion.ingest.load import Format

    assert [f.value for f in IngestFormat] == list(get_args(Format))
