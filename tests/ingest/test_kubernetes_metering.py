"""Kubernetes and GPU metering as driver rows: OpenCost's allocation API answer and CSV export,
Prometheus query results from the DCGM exporter and kube-state-metrics; then a GPU cluster
split by them, with reservations and idle capacity."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import allocate, billed_by, ingest, make_workspace, write_focus

HERE = Path(__file__).parent / "fixtures"
POLICY = "tags: {aliases: {use_case: [namespace], cost_centre: [team]}}\n"

pytestmark = pytest.mark.usefixtures("engine")


def _drivers(ws: Workspace) -> list[tuple[str, str, D, str | None, str | None, str | None]]:
    rows = ws.data.to_arrow(ws.data.table(t.DRIVERS)).to_pylist()
    return sorted(
        (
            str(row["timestamp"]),
            row["driver"],
            row["quantity"],
            row["resource_id"],
            dict(row["dimensions"] or {}).get("use_case"),
            dict(row["dimensions"] or {}).get("cost_centre"),
        )
        for row in rows
    )


def test_opencost_allocations_become_drivers(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", extra=POLICY)
    [result] = ingest(ws, HERE / "opencost-allocation.json")
    assert (result.kind, result.quarantined) == ("drivers", 0)
    assert any("skipped 1 of OpenCost's own __idle__" in note for note in result.notes)
    day = "2026-10-03 00:00:00"
    found = [row for row in _drivers(ws) if row[1] in ("gpu_hours", "gpu_used_hours")]
    assert found == [
        (day, "gpu_hours", D(24), "eks-gpu-prod", "doc-search", "search"),
        (day, "gpu_hours", D(48), "eks-gpu-prod", "fraud-scorer", "fraud-ops"),
        (day, "gpu_used_hours", D("9.6"), "eks-gpu-prod", "doc-search", "search"),  # 0.4 x 24
        (day, "gpu_used_hours", D(30), "eks-gpu-prod", "fraud-scorer", "fraud-ops"),
    ]
    by_driver = {(row[1], row[4]): row[2] for row in _drivers(ws)}
    assert by_driver[("cpu_core_used_hours", "fraud-scorer")] == D("55.62384")  # 2.31766 x 24
    # a float's noise past 12 places is rounded, as driver quantities are kept
    assert by_driver[("opencost_total_cost", "doc-search")] == D("31.3")


def test_opencost_csv_export_becomes_daily_drivers(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", extra=POLICY)
    [result] = ingest(ws, HERE / "opencost-export.csv")
    assert (result.kind, result.rows, result.quarantined) == ("drivers", 15, 0)
    by_driver = {(row[1], row[4]): row[2] for row in _drivers(ws)}
    assert by_driver[("gpu_hours", "fraud-scorer")] == D(48)  # 2 GPUs all day
    assert by_driver[("gpu_hours", "kube-system")] == D(0)
    assert by_driver[("cpu_core_hours", "doc-search")] == D(48)  # requested
    assert by_driver[("cpu_core_used_hours", "doc-search")] == D(36)
    assert {row[3] for row in _drivers(ws)} == {None}  # the export names no cluster


def test_dcgm_and_kube_state_metrics_ranges_become_seconds(tmp_path: Path) -> None:
    """Samples a minute apart: 50%, 100%, 0% busy are 30, 60 and 0 GPU-seconds (the last
    takes the step before it); doc-search's NaN is quarantined; its GPU request of 1 is 60
    requested GPU-seconds a sample."""
    ws = make_workspace(tmp_path / "ws", extra=POLICY)
    [result] = ingest(ws, HERE / "prometheus-dcgm-range.json")
    assert (result.kind, result.rows, result.quarantined) == ("drivers", 8, 1)
    found = [(row[0][11:], row[1], row[2], row[3], row[4]) for row in _drivers(ws)]
    assert found == [
        ("00:00:00", "gpu_busy_seconds", D(15), "eks-gpu-prod", "doc-search"),
        ("00:00:00", "gpu_busy_seconds", D(30), "eks-gpu-prod", "fraud-scorer"),
        ("00:00:00", "gpu_requested_seconds", D(60), "eks-gpu-prod", "doc-search"),
        ("00:01:00", "gpu_busy_seconds", D(60), "eks-gpu-prod", "fraud-scorer"),
        ("00:01:00", "gpu_requested_seconds", D(60), "eks-gpu-prod", "doc-search"),
        ("00:02:00", "gpu_busy_seconds", D(0), "eks-gpu-prod", "fraud-scorer"),
        ("00:02:00", "gpu_busy_seconds", D(45), "eks-gpu-prod", "doc-search"),
        ("00:02:00", "gpu_requested_seconds", D(60), "eks-gpu-prod", "doc-search"),
    ]
    [bad] = ws.data.to_arrow(ws.data.table(t.QUARANTINE)).to_pylist()
    assert bad["reason"] == "quantity: 'NaN' is not a number"


def test_a_gpu_cluster_split_by_dcgm_usage_and_kubernetes_requests(tmp_path: Path) -> None:
    """The cluster's 180 for the three minutes, capacity 360 GPU-seconds (two GPUs, from the
    bill's ConsumedQuantity). fraud-scorer used 90; doc-search used 60 and requested 180, so
    it pays for 180; idle 360 - 270 = 90. 180 split 90:180:90 = 45, 90, 45."""
    rules = """rules:
  - name: gpu-cluster
    match: "ResourceId = 'eks-gpu-prod'"
    method: proportional
    driver: gpu_busy_seconds
    window: day
    reservations: gpu_requested_seconds
    idle: {capacity: ConsumedQuantity, owner: {cost_centre: ml-platform}}
"""
    ws = make_workspace(tmp_path / "ws", rules, extra=POLICY)
    bill = {"ResourceId": "eks-gpu-prod", "BilledCost": "180", "ConsumedQuantity": "360"}
    ingest(ws, write_focus(tmp_path / "bill.csv", [bill]), HERE / "prometheus-dcgm-range.json")
    allocate(ws)
    assert billed_by(ws, "use_case") == {
        "fraud-scorer": D(45),
        "doc-search": D(90),
        t.IDLE: D(45),
    }
