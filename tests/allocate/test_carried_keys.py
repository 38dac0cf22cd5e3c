"""Files record at ingest the keys their rows' maps have (a driver file's dimensions, a bill's
tag keys), so allocation looks up only dimensions some file has; a dimension no file has is
NULL on every row, as if it were read."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from apportion.allocate.drivers import driver_quantities
from apportion.engine.carried import carried_keys
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


def _forget_recorded_keys(ws: Workspace) -> None:
    """The loads as a version without ``loads.keys`` wrote them (straight to the store)."""
    legacy = ws.data.to_arrow(ws.data.table(t.LOADS)).drop_columns(["keys"])
    with ws.data.transaction():
        ws.data.delete(t.LOADS, {})
        ws.data.tables.insert(t.LOADS, legacy)


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


@pytest.mark.spark_full
def test_loads_record_the_keys_each_driver_file_carries(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", GPU_RULES, extra=DIMENSIONS)
    bill, by_use_case, by_cost_centre = _month(tmp_path)
    ingest(ws, bill, by_use_case)
    loads = ws.data.to_arrow(ws.data.table(t.LOADS).select("kind", "keys")).to_pylist()
    assert sorted(loads, key=lambda r: r["kind"]) == [
        {"kind": "drivers", "keys": ["use_case"]},
        {"kind": "focus", "keys": []},  # the bill's lines have no tags
    ]
    assert carried_keys(ws.data, "drivers") == {"use_case"}
    ingest(ws, by_cost_centre)
    assert carried_keys(ws.data, "drivers") == {"use_case", "cost_centre"}


@pytest.mark.spark_full
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

    narrowed = quantities(carried_keys(ws.data, "drivers"))
    assert narrowed == quantities(None)
    dims, weights, _ = narrowed
    assert dims == [[None, None, "cc-9"], ["chat", "search", "chat"], [None, None, None]]
    assert weights == [10**t.QUANTITY_SCALE * q for q in (1, 3, 2)]

    allocate(ws)
    assert billed_by(ws, "use_case") == {"search": Decimal("50.00"), "chat": Decimal("50.00")}
    assert billed_by(ws, "environment") == {t.UNALLOCATED: Decimal("100.00")}


@pytest.mark.spark_full
def test_loads_from_before_the_record_mean_any_key_may_be_present(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", GPU_RULES, extra=DIMENSIONS)
    bill, by_use_case, _ = _month(tmp_path)
    ingest(ws, bill, by_use_case)
    _forget_recorded_keys(ws)
    assert carried_keys(ws.data, "drivers") is None
    allocate(ws)
    assert billed_by(ws, "use_case") == {"search": Decimal("75.00"), "chat": Decimal("25.00")}


@pytest.mark.parametrize("engine", ["duckdb"], indirect=True)
def test_an_older_duckdb_file_gains_the_new_column_when_opened(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", GPU_RULES, extra=DIMENSIONS)
    bill, by_use_case, _ = _month(tmp_path)
    ingest(ws, bill, by_use_case)
    ws.data.con.con.execute("ALTER TABLE loads DROP COLUMN keys")
    ws.close()
    reopened = Workspace.open(tmp_path / "ws")
    loads = reopened.data.table(t.LOADS)
    assert loads.schema()["keys"].is_array()
    assert reopened.data.to_arrow(loads.select("keys"))["keys"].to_pylist() == [
        None,
        None,
    ]
    assert carried_keys(reopened.data, "drivers") is None


DIRECT = """rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
"""


@pytest.mark.spark_full
def test_bills_record_their_tag_keys(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", DIRECT, extra=DIMENSIONS)
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {"BilledCost": "7", "Tags": {"use_case": "search", "team": "core"}},
            {"BilledCost": "5", "Tags": {"use_case": "chat", "cost_centre": "cc-1"}},
            {"BilledCost": "3"},
        ],
    )
    ingest(ws, bill)
    assert carried_keys(ws.data, "focus") == {"use_case", "cost_centre", "team"}
    allocate(ws)
    expected = {
        "use_case": {"search": Decimal(7), "chat": Decimal(5), t.UNALLOCATED: Decimal(3)},
        "cost_centre": {t.UNALLOCATED: Decimal(10), "cc-1": Decimal(5)},
        "environment": {t.UNALLOCATED: Decimal(15)},
    }
    assert {d: billed_by(ws, d) for d in expected} == expected
    # the same allocation when the record is missing and every dimension is looked up
    _forget_recorded_keys(ws)
    assert carried_keys(ws.data, "focus") is None
    allocate(ws)
    assert {d: billed_by(ws, d) for d in expected} == expected


def test_a_dimension_configured_after_the_bill_was_loaded_is_still_read(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", DIRECT, extra="dimensions: [use_case]\n")
    tags = {"use_case": "chat", "cost_centre": "cc-1"}
    ingest(ws, write_focus(tmp_path / "bill.csv", [{"BilledCost": "5", "Tags": tags}]))
    ws.close()
    config = tmp_path / "ws" / "apportion.yaml"
    text = config.read_text()
    config.write_text(text.replace("dimensions: [use_case]", "dimensions: [cost_centre, use_case]"))
    later = Workspace.open(tmp_path / "ws")
    allocate(later)
    assert billed_by(later, "cost_centre") == {"cc-1": Decimal(5)}
