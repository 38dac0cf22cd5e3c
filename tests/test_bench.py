"""A small smoke run of the benchmark scripts, so they keep working between measurements."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

BENCH = Path(__file__).parents[1] / "bench" / "allocation.py"


def test_benchmark_runs_end_to_end_on_tiny_data(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--cost-lines",
            "3000",
            "--driver-rows",
            "20000",
            "--data",
            str(tmp_path),
            "--skip",
            "polars",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    steps = {}
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            steps[record["step"]] = record
    assert set(steps) == {"ingest", "floor", "apportion", "pandas"}
    assert all("error" not in step for step in steps.values()), steps
    # the plain pandas allocation and apportion agree on what was allocated (pandas drops
    # shared cost without metering; apportion keeps it as __unallocated__)
    allocated = Decimal(steps["apportion"]["allocated"])
    assert abs(allocated - Decimal(str(steps["pandas"]["total"]))) < Decimal("0.000001")
    assert Decimal(steps["apportion"]["total"]) >= allocated.quantize(Decimal("0.01"))
    assert "x floor" in result.stdout
