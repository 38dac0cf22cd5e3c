"""From an allocation down to the pool, its source bill lines and the driver quantities."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from apportion.schema import tables as t
from tests.helpers import allocate, ingest, make_workspace, write_drivers, write_focus

pytestmark = pytest.mark.usefixtures("engine")


def test_allocation_lineage_reaches_the_bill_lines(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path / "ws",
        """rules:
  - {name: gpu, match: "ResourceId = 'gpu'", method: proportional, driver: gpu_seconds,
     window: day}
""",
    )
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {"ResourceId": "gpu", "BilledCost": "6"},
            {"ResourceId": "other", "BilledCost": "1"},
            {"ResourceId": "gpu", "BilledCost": "3"},
        ],
    )
    drivers = write_drivers(
        tmp_path / "d.csv",
        [
            {
                "timestamp": "2026-10-03T01:00:00Z",
                "driver": "gpu_seconds",
                "quantity": "2",
                "resource_id": "gpu",
                "use_case": "a",
            },
            {
                "timestamp": "2026-10-03T02:00:00Z",
                "driver": "gpu_seconds",
                "quantity": "1",
                "resource_id": "gpu",
                "use_case": "b",
            },
        ],
    )
    [bill_result, _] = ingest(ws, bill, drivers)
    allocate(ws)
    allocations = ws.data.table(t.ALLOCATIONS)
    split = ws.data.to_arrow(
        allocations.filter(allocations.rule == "gpu").order_by("allocation_id")
    ).to_pylist()
    assert [
        (
            dict(a["dimensions"])["use_case"],
            a["quantity"],
            a["pool_quantity"],
            a["BilledCost"],
            a["driver"],
            a["method"],
        )
        for a in split
    ] == [
        (
            "a",
            Decimal(2),
            Decimal(3),
            Decimal(6),
            "gpu_seconds",
            "proportional",
        ),
        (
            "b",
            Decimal(1),
            Decimal(3),
            Decimal(3),
            "gpu_seconds",
            "proportional",
        ),
    ]
    pool_id = split[0]["pool_id"]
    members = ws.data.table(t.POOL_MEMBERS)
    lines = ws.data.to_arrow(
        members.filter(members.pool_id == pool_id).select("member_id")
    ).to_pylist()
    prefix = bill_result.file_hash[:16]
    assert sorted(m["member_id"] for m in lines) == [f"{prefix}:2", f"{prefix}:4"]
    pools = ws.data.table(t.POOLS)
    [pool] = ws.data.to_arrow(pools.filter(pools.pool_id == pool_id)).to_pylist()
    # generation 0: the members are bill lines
    assert (pool["members"], pool["BilledCost"], pool["ResourceId"], pool["generation"]) == (
        2,
        Decimal(9),
        "gpu",
        0,
    )
