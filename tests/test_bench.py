"""A small smoke run of the benchmark scripts, so they keep working between measurements."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "bench" / "allocation.py"
INGEST = Path(__file__).parents[1] / "bench" / "ingest.py"
# focus-converter lives in its own virtualenv (it pins Polars 0.20 and pandas 2)
CONVERTER = Path(os.environ.get("FOCUS_CONVERTER_PYTHON", "/tmp/fc/bin/python"))


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
    assert set(steps) == {"ingest", "floor", "lineage", "apportion", "pandas"}
    assert steps["lineage"]["rows"] == 3000  # one lineage row per cost line
    assert all("error" not in step for step in steps.values()), steps
    # the plain pandas allocation and apportion agree on what was allocated (pandas drops
    # shared cost without metering; apportion keeps it as __unallocated__)
    allocated = Decimal(steps["apportion"]["allocated"])
    assert abs(allocated - Decimal(str(steps["pandas"]["total"]))) < Decimal("0.000001")
    assert Decimal(steps["apportion"]["total"]) >= allocated.quantize(Decimal("0.01"))
    assert "x floor" in result.stdout
    assert "apportion / (floor + lineage write)" in result.stdout


def _steps(stdout: str) -> dict[str, dict[str, object]]:
    return {
        record["step"]: record
        for record in (json.loads(line) for line in stdout.splitlines() if line.startswith("{"))
    }


def test_ingest_benchmark_runs_end_to_end_on_tiny_data(tmp_path: Path) -> None:
    # never install it from here: bench/ingest.py would, when no --converter-python is given
    if not CONVERTER.exists():
        pytest.skip(f"no focus-converter virtualenv at {CONVERTER} (set FOCUS_CONVERTER_PYTHON)")
    probe = subprocess.run(
        [str(CONVERTER), "-c", "import focus_converter.converter"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"{CONVERTER} cannot import focus_converter: {probe.stderr.strip()[-200:]}")
    result = subprocess.run(
        [
            sys.executable,
            str(INGEST),
            "--rows",
            "2000",
            "--data",
            str(tmp_path),
            "--converter-python",
            str(CONVERTER),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    steps = _steps(result.stdout)
    assert set(steps) == {"apportion", "apportion-cur", "focus-converter"}
    assert all("error" not in step for step in steps.values()), steps
    assert steps["apportion"]["rows"] == steps["apportion-cur"]["rows"] == 2000
    assert steps["focus-converter"]["rows"] == 2000
    assert steps["apportion"]["quarantined"] == steps["apportion-cur"]["quarantined"] == 0
    # the same lines as FOCUS and as a CUR: the same bill, to the last digit
    assert steps["apportion"]["billed"] == steps["apportion-cur"]["billed"]
    # the converter nulls what it cannot parse: none here, and the same bill in both
    assert steps["focus-converter"]["nulls"] == {}
    billed = Decimal(str(steps["apportion"]["billed"]))
    assert abs(billed - Decimal(str(steps["focus-converter"]["billed"]))) < Decimal("0.0001")
    assert "apportion / focus-converter:" in result.stdout
    assert "apportion-cur / focus-converter:" in result.stdout


def test_rule_language_benchmark_runs_on_tiny_data(tmp_path: Path) -> None:
    """Plain, idle and reciprocal allocations of one month: the same bill, idle kept apart."""
    script = Path(__file__).parents[1] / "bench" / "rule_language.py"
    sizes = ["--cost-lines", "3000", "--driver-rows", "20000"]
    result = subprocess.run(
        [sys.executable, str(script), *sizes, "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    runs = {
        line.split(":")[0].strip(): line
        for line in result.stdout.splitlines()
        if line.strip().startswith(("plain:", "idle:", "reciprocal:"))
    }
    assert set(runs) == {"plain", "idle", "reciprocal"}
    totals = {kind: line.split("total ")[1].split(",")[0] for kind, line in runs.items()}
    assert len(set(totals.values())) == 1, totals
    assert Decimal(runs["idle"].split("idle ")[-1]) > 0
    assert Decimal(runs["reciprocal"].split("idle ")[-1]) == 0
    assert "solve:" in result.stdout and "for 50 services" in result.stdout
