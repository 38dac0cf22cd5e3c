"""DuckDB lets one process at a time open its file: a second one is told so in one line and
exits 1 (running again later may succeed), never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apportion.cli import app
from tests.helpers import make_workspace

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(60)
"""


@pytest.mark.usefixtures("engine")
@pytest.mark.parametrize("engine", ["duckdb"], indirect=True)
def test_a_workspace_another_process_holds_is_a_clear_failure(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    workspace.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "ws" / "apportion.duckdb")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        result = CliRunner().invoke(
            app, ["-w", str(tmp_path / "ws"), "report", "totals", "-p", "2026-10"]
        )
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1, result.output
    assert "another process has the workspace's DuckDB file" in result.output
    assert "Traceback" not in result.output
