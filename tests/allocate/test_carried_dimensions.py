"""Driver files record at ingest which dimension keys their rows carry, so the driver scan
looks up only those; a key no file carries is NULL for every target, as if it were read."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from apportion.allocate.drivers import carried_dimensions, driver_quantities
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import GPU_RULES, allocate, billed_by, ingest, make_workspace, write_focus

pytestmark = pytest.mark.usefixtures("engine")

DIMENSIONS = "dimensions: [cost_centre, use_case, environment]\n"


def _drivers(path: Path, columns: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "driver", "quantity", "resource_id", *columns])
        writer.writerows(rows)
    return path


def _month(tmp_path: Path) -> tuple[Path, Path, Path]:
    bill = write_focus(
        tmp_path / "bill.csv",
        [{"ResourceId": "gpu-1", "BilledCost": "100.00", "EffectiveCost": "90.00"}],
    )
    by_use_case = _drivers(
        tmp_path / "usage.csv",
        ["use_case"],
        [
            ["2026-10-03T01:00:00Z", "gpu_seconds", "3", "gpu-1", "search"],
            ["2026-10-03T02:00:00Z", "gpu_seconds", "1", "gpu-1", "chat"],
        ],
    )
    by_cost_centre = _drivers(
        tmp_path / "usage-cc.csv",
        ["cost_centre", "use_case"],
        [["2026-10-03T03:00:00Z", "gpu_seconds", "2", "gpu-1", "cc-9", "chat"]],
    )
    return bill, by_use_case, by_cost_centre


def test_loads_record_the_keys_each_driver_file_carries(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", GPU_RULES, extra=DIMENSIONS)
    bill, by_use_case, by_cost_centre = _month(tmp_path)
    ingest(ws, bill, by_use_case)
    loads = ws.data.to_arrow(ws.data.table(t.LOADS).select("kind", "dimensions")).to_pylist()
    assert sorted(loads, key=lambda r: r["kind"]) == [
        {"kind": "drivers", "dimensions": ["use_case"]},
        {"kind": "focus", "dimensions": None},  # cost lines carry all their tags
    ]
    assert carried_dimensions(ws.data) == {"use_case"}
    ingest(ws, by_cost_centre)
    assert carried_dimensions(ws.data) == {"use_case", "cost_centre"}


def test_keys_no_file_carries_are_null_targets_as_when_every_key_is_read(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", GPU_RULES, extra=DIMENSIONS)
    bill, by_use_case, by_cost_centre = _month(tmp_path)
    ingest(ws, bill, by_use_case, by_cost_centre)
    dimensions = ["cost_centre", "use_case", "environment"]

    def quantities(carried: set[str] | None) -> tuple[list[list[str | None]], list[int], dict]:
        found = driver_quantities(
            ws.data,
            driver="gpu_seconds",
            window="day",
            by_resource=True,
            windows=[datetime(2026, 10, 3)],
            period_start=datetime(2026, 10, 1),
            period_end=datetime(2026, 11, 1),
            dimensions=dimensions,
            carried=carried,
        )
        return [c.to_pylist() for c in found.dims], list(found.weights), found.slices

    narrowed = quantities(carried_dimensions(ws.data))
    assert narrowed == quantities(None)
    dims, weights, _ = narrowed
    assert dims == [[None, None, "cc-9"], ["chat", "search", "chat"], [None, None, None]]
    assert weights == [10**t.QUANTITY_SCALE * q for q in (1, 3, 2)]

    allocate(ws)
    assert billed_by(ws, "use_case") == {"search": Decimal("50.00"), "chat": Decimal("50.00")}
    assert billed_by(ws, "environment") == {t.UNALLOCATED: Decimal("100.00")}


def test_loads_from_before_the_record_mean_any_key_may_be_present(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", GPU_RULES, extra=DIMENSIONS)
    bill, by_use_case, _ = _month(tmp_path)
    ingest(ws, bill, by_use_case)
    legacy = ws.data.to_arrow(ws.data.table(t.LOADS)).drop_columns(["dimensions"])
    with ws.data.transaction():
        ws.data.delete(t.LOADS, {})
        # straight to the store, as a version without the column wrote it
        ws.data.tables.insert(t.LOADS, legacy)
    assert carried_dimensions(ws.data) is None
    allocate(ws)
    assert billed_by(ws, "use_case") == {"search": Decimal("75.00"), "chat": Decimal("25.00")}


@pytest.mark.parametrize("engine", ["duckdb"], indirect=True)
def test_an_older_duckdb_file_gains_the_new_column_when_opened(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", GPU_RULES, extra=DIMENSIONS)
    bill, by_use_case, _ = _month(tmp_path)
    ingest(ws, bill, by_use_case)
    ws.data.con.con.execute("ALTER TABLE loads DROP COLUMN dimensions")
    ws.close()
    reopened = Workspace.open(tmp_path / "ws")
    loads = reopened.data.table(t.LOADS)
    assert loads.schema()["dimensions"].is_array()
    assert reopened.data.to_arrow(loads.select("dimensions"))["dimensions"].to_pylist() == [
        None,
        None,
    ]
    assert carried_dimensions(reopened.data) is None
