"""Quantities that are not money, split by their own keys, computed by hand: a GPU node's
energy split by the GPU seconds measured on it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from apportion.allocate import Period
from apportion.cli import app
from apportion.config import parse_config
from apportion.report.quantities import quantity_lines
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import allocate, billed_by, ingest, make_workspace, write_drivers, write_focus

pytestmark = pytest.mark.usefixtures("engine")

D = Decimal

CONFIG = """rules:
  - {name: gpu, match: "ResourceId = 'gpu-1'", method: proportional, driver: gpu_seconds,
     window: day}
quantities:
  - {name: energy, unit: kWh, source: node_kwh, key: gpu_seconds}
  - {name: emissions, unit: kgCO2e, source: node_co2e, key: gpu_seconds, window: month}
"""


def _row(day: int, driver: str, quantity: str, use_case: str = "") -> dict[str, Any]:
    return {
        "timestamp": f"2026-10-0{day}T06:00:00Z",
        "driver": driver,
        "resource_id": "gpu-1",
        "quantity": quantity,
        "use_case": use_case,
    }


def _workspace(tmp_path: Path) -> Workspace:
    """Day 3: a used 2 s, b 1 s; the node drew 10 kWh. Day 4: nobody measured; 5 kWh.
    Emissions, by month: 7 kgCO2e over a 2 s and b 1 s."""
    ws = make_workspace(tmp_path / "ws", CONFIG)
    bill = [{"ResourceId": "gpu-1", "BilledCost": "30"}]
    drivers = [
        _row(3, "gpu_seconds", "2", "a"),
        _row(3, "gpu_seconds", "1", "b"),
        _row(3, "node_kwh", "6"),
        _row(3, "node_kwh", "4"),
        _row(4, "node_kwh", "5"),
        _row(3, "node_co2e", "7"),
    ]
    ingest(ws, write_focus(tmp_path / "b.csv", bill), write_drivers(tmp_path / "d.csv", drivers))
    allocate(ws)
    return ws


def _by_use_case(ws: Workspace) -> dict[tuple[str, str], str]:
    lines = quantity_lines(ws, Period.parse("2026-10"), "use_case")
    return {(line.quantity, line.value): f"{line.amount:f}" for line in lines}


def test_quantities_split_by_their_own_keys_in_their_own_units(tmp_path: Path) -> None:
    """Energy day 3: 10 kWh by 2:1 = 6.666666666667 (the unit of 10^-12 left over goes to a's
    larger remainder) and 3.333333333333; day 4's 5 kWh had no key. Emissions: 7 by 2:1 =
    4.666666666667 and 2.333333333333. The money is split as before: a 20, b 10."""
    ws = _workspace(tmp_path)
    assert _by_use_case(ws) == {
        ("energy", "a"): "6.666666666667",
        ("energy", "b"): "3.333333333333",
        ("energy", t.UNALLOCATED): "5.000000000000",
        ("energy", "TOTAL"): "15.000000000000",
        ("emissions", "a"): "4.666666666667",
        ("emissions", "b"): "2.333333333333",
        ("emissions", "TOTAL"): "7.000000000000",
    }
    assert billed_by(ws, "use_case") == {"a": D(20), "b": D(10)}
    rows = ws.data.to_arrow(ws.data.table(t.QUANTITY_ALLOCATIONS)).to_pylist()
    [missing] = [row for row in rows if row["reason"]]
    assert (missing["reason"], missing["unit"]) == ("no gpu_seconds quantity", "kWh")


def test_the_report_command_shows_each_quantity_in_its_unit(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    runner = CliRunner()
    args = ["-w", str(ws.root), "report", "quantities", "--period", "2026-10"]
    shown = runner.invoke(app, [*args, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    lines = json.loads(shown.output)["lines"]
    assert {(line["quantity"], line["unit"]) for line in lines} == {
        ("energy", "kWh"),
        ("emissions", "kgCO2e"),
    }
    wrong = runner.invoke(app, [*args, "--by", "team"])
    assert wrong.exit_code == 2 and "cannot report quantities by 'team'" in wrong.output


def test_a_quantity_needs_another_driver_as_its_key() -> None:
    text = "version: 1\nquantities: [{name: e, unit: kWh, source: d, key: d}]\n"
    with pytest.raises((ValidationError, ValueError), match="its key must be another driver"):
        parse_config(text)
    assert parse_config("version: 1\n" + CONFIG).quantities[1].window == "month"
