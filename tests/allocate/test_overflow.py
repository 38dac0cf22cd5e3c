"""A pool whose lines sum past DECIMAL(38, 18) is refused with the pool and its lines named,
exit 1, on every engine: never a raw engine error, never a run left half recorded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apportion.cli import app
from apportion.ledger.allocation import allocate_period
from apportion.workspace import Workspace
from tests.helpers import ingest, make_workspace, write_focus

pytestmark = pytest.mark.usefixtures("engine")

EVEN = """rules:
  - name: big-licence
    match: "ResourceId = 'r-1'"
    method: even
    targets: {use_case: [a, b]}
"""

PER_DAY = """rules:
  - name: gpu
    match: "ResourceId = 'gpu-1'"
    method: proportional
    driver: gpu_seconds
    window: day
"""


def _workspace(tmp_path: Path, rules: str, amounts: list[str], resource: str = "r-1") -> Workspace:
    """One bill file a line: each file's own total fits, only the pool's does not."""
    workspace = make_workspace(tmp_path / "ws", rules)
    bills = [
        write_focus(
            tmp_path / f"bill-{i}.csv",
            [{"BilledCost": amount, "ResourceId": resource, "ChargeDescription": f"part {i}"}],
        )
        for i, amount in enumerate(amounts)
    ]
    ingest(workspace, *bills)
    return workspace


def test_two_valid_lines_whose_pool_passes_decimal_38_18_are_refused_by_name(
    tmp_path: Path,
) -> None:
    workspace = _workspace(tmp_path, EVEN, ["60000000000000000000", "60000000000000000000"])
    result = allocate_period(workspace, "2026-10")
    assert not result.published
    message = str(result.message)
    assert "rule 'big-licence'" in message and "currency USD" in message
    assert "BilledCost" in message  # DuckDB also says the sum; Spark only that it overflowed
    assert re.search(r"over 2 lines \([0-9a-f]{16}:\d+, [0-9a-f]{16}:\d+\)", message), message
    assert [run.status for run in workspace.control.runs()] == ["failed"]


@pytest.mark.spark_full
def test_a_pool_past_the_engines_own_accumulator_is_refused_too(tmp_path: Path) -> None:
    # nine lines of almost 10^20: past DuckDB's 128-bit sum, so the engine itself fails
    workspace = _workspace(tmp_path, EVEN, ["99999999999999999999.99"] * 9)
    result = allocate_period(workspace, "2026-10")
    assert not result.published
    assert "over 9 lines" in str(result.message) and "and 4 more" in str(result.message)


@pytest.mark.spark_full
def test_the_pool_is_named_by_its_resource_and_window(tmp_path: Path) -> None:
    workspace = _workspace(
        tmp_path, PER_DAY, ["60000000000000000000", "60000000000000000000"], resource="gpu-1"
    )
    message = str(allocate_period(workspace, "2026-10").message)
    assert "rule 'gpu', resource 'gpu-1', window 2026-10-03" in message


@pytest.mark.spark_full
def test_the_cli_says_it_in_one_line_and_exits_1(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path, EVEN, ["60000000000000000000", "60000000000000000000"])
    workspace.close()
    result = CliRunner().invoke(
        app, ["-w", str(tmp_path / "ws"), "allocate", "--period", "2026-10"]
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "rule 'big-licence'" in result.output
