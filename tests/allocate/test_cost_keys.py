"""Keys from cost: a shared cost split by the cost of the lines another selector matches,
computed by hand."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from apportion.config import parse_config
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import allocate, billed_by, ingest, make_workspace, write_drivers, write_focus

pytestmark = pytest.mark.usefixtures("engine")

D = Decimal

RULES = """rules:
  - {name: tagged, match: "tags['use_case'] IS NOT NULL", method: direct}
  - name: shared-db
    match: "ServiceName = 'Shared DB'"
    method: activity
    driver: compute_spend
    cost_of: "ServiceName = 'EC2'"
%s"""


def _line(service: str, cost: str, use_case: str | None = None, day: int = 3) -> dict[str, object]:
    return {
        "ServiceName": service,
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ChargePeriodStart": f"2026-10-0{day}T00:00:00Z",
        "Tags": {"use_case": use_case} if use_case else "",
    }


def _split(tmp_path: Path, extra: str, bill: list[dict[str, object]]) -> Workspace:
    ws = make_workspace(tmp_path / "ws", RULES % extra)
    ingest(ws, write_focus(tmp_path / "bill.csv", bill))
    allocate(ws)
    return ws


def test_a_shared_cost_split_by_each_owners_compute_spend(tmp_path: Path) -> None:
    """EC2: a 30 + 10 = 40, b 20 less a 5 credit = 15; the untagged 100 names nobody. The
    database's 55 goes 40:15: a 40, b 15."""
    bill = [
        _line("EC2", "30", "a"),
        _line("EC2", "10", "a"),
        _line("EC2", "20", "b"),
        _line("EC2", "-5", "b"),
        _line("EC2", "100"),
        _line("Shared DB", "55"),
    ]
    ws = _split(tmp_path, "", bill)
    assert billed_by(ws, "use_case") == {"a": D(80), "b": D(30), t.UNALLOCATED: D(100)}


def test_an_owner_whose_cost_nets_to_nothing_carries_no_weight(tmp_path: Path) -> None:
    bill = [_line("EC2", "30", "a"), _line("EC2", "20", "b"), _line("EC2", "-20", "b")]
    ws = _split(tmp_path, "", [*bill, _line("Shared DB", "9")])
    assert billed_by(ws, "use_case") == {"a": D(39), "b": D(0)}


def test_daily_keys_weigh_each_day_by_that_days_spend(tmp_path: Path) -> None:
    """Day 3: a 10, b 30, the database 8 -> a 2, b 6. Day 4: only a spent, the database 5
    -> a 5. Without the daily window the month's 15:30 would give a 13/3 of the 13."""
    bill = [
        _line("EC2", "10", "a", day=3),
        _line("EC2", "30", "b", day=3),
        _line("EC2", "5", "a", day=4),
        _line("Shared DB", "8", day=3),
        _line("Shared DB", "5", day=4),
    ]
    ws = _split(tmp_path, "    window: day\n", bill)
    assert billed_by(ws, "use_case") == {"a": D(22), "b": D(36)}


def test_cost_of_is_checked_when_read() -> None:
    text = "version: 1\n" + RULES % "    driver_resource: x\n"
    with pytest.raises((ValidationError, ValueError), match="cost_of weighs bill lines"):
        parse_config(text)
    with pytest.raises((ValidationError, ValueError), match="unknown column 'Nope'"):
        parse_config("version: 1\n" + (RULES % "").replace("ServiceName = 'EC2'", "Nope = 1"))


ALLOCATED = """rules:
  - {name: tagged, match: "tags['use_case'] IS NOT NULL", method: direct}
  - {name: gpu, match: "ResourceId = 'gpu-1'", method: proportional, driver: gpu_seconds,
     window: day}
  - name: platform-fee
    match: "ServiceName = 'Platform fee'"
    method: activity
    driver: allocated_spend
    allocated_by: [%s]
"""


@pytest.mark.parametrize(
    ("allocated_by", "expected"),
    [
        # a 30 + 30, b 30 + 10: the fee's 16 goes 60:40
        ("tagged, gpu", {"a": D("69.6"), "b": D("46.4")}),
        # by the tagged spend alone, 30:30
        ("tagged", {"a": D(68), "b": D(48)}),
    ],
)
def test_a_fee_split_by_what_earlier_rules_allocated(
    tmp_path: Path, allocated_by: str, expected: dict[str, Decimal]
) -> None:
    """Tagged: a 30, b 30. The GPU's 40 by gpu_seconds 3:1: a 30, b 10. The fee: 16."""
    ws = make_workspace(tmp_path / "ws", ALLOCATED % allocated_by)
    bill = [
        _line("EC2", "30", "a"),
        _line("EC2", "30", "b"),
        {**_line("Compute", "40"), "ResourceId": "gpu-1"},
        _line("Platform fee", "16"),
    ]
    gpu = [
        {"timestamp": "2026-10-03T01:00:00Z", "driver": "gpu_seconds", "resource_id": "gpu-1"}
        | {"quantity": q, "use_case": u}
        for u, q in (("a", "3"), ("b", "1"))
    ]
    ingest(ws, write_focus(tmp_path / "b.csv", bill), write_drivers(tmp_path / "d.csv", gpu))
    allocate(ws)
    assert billed_by(ws, "use_case") == expected


@pytest.mark.parametrize(
    ("named", "message"),
    [("nope", "allocated_by names 'nope', no rule"), ("platform-fee", "does not come before it")],
)
def test_allocated_by_names_earlier_rules(named: str, message: str) -> None:
    with pytest.raises((ValidationError, ValueError), match=message):
        parse_config("version: 1\n" + ALLOCATED % named)
