"""A shared GPU cluster's idle capacity and reservations, on a day computed by hand: the day
costs 100 for a capacity of 100 GPU-hours; a used 30 and b 10 hours; a reserved 20, b 40."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from apportion.config import parse_config
from apportion.ledger.published import final_allocations
from apportion.periods import Period
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import allocate, billed_by, ingest, make_workspace, write_drivers, write_focus

pytestmark = pytest.mark.usefixtures("engine")

D = Decimal

RULE = """rules:
  - name: gpu-cluster
    match: "ResourceId = 'gpu-1'"
    method: proportional
    driver: gpu_hours
    window: day
%s"""


def _row(driver: str, quantity: str, use_case: str | None = None) -> dict[str, Any]:
    return {
        "timestamp": "2026-10-03T12:00:00Z",
        "driver": driver,
        "resource_id": "gpu-1",
        "quantity": quantity,
        "use_case": use_case or "",
    }


USED = [_row("gpu_hours", "30", "a"), _row("gpu_hours", "10", "b")]
RESERVED = [_row("gpu_reserved", "20", "a"), _row("gpu_reserved", "40", "b")]
CAPACITY = [_row("gpu_capacity", "60"), _row("gpu_capacity", "40")]  # two nodes' GPUs


def _cluster(
    tmp_path: Path, extra: str, drivers: list[dict[str, Any]], consumed: str = ""
) -> Workspace:
    ws = make_workspace(tmp_path / "ws", RULE % extra)
    line = {"ResourceId": "gpu-1", "BilledCost": "100", "ConsumedQuantity": consumed}
    bill = write_focus(tmp_path / "bill.csv", [line])
    ingest(ws, bill, write_drivers(tmp_path / "drivers.csv", drivers))
    allocate(ws)
    return ws


IDLE = "    idle: {capacity: gpu_capacity%s}\n"


def test_idle_is_kept_as_a_line_of_its_own(tmp_path: Path) -> None:
    """Capacity 100, used 40: a 30, b 10, and 60 idle under __idle__, the owner's."""
    extra = IDLE % ", owner: {cost_centre: ml-platform}"
    ws = _cluster(tmp_path, extra, USED + CAPACITY)
    assert billed_by(ws, "use_case") == {"a": D(30), "b": D(10), t.IDLE: D(60)}
    assert billed_by(ws, "cost_centre") == {"ml-platform": D(60), t.UNALLOCATED: D(40)}
    final = final_allocations(ws, Period.parse("2026-10"))
    rows = ws.data.to_arrow(final.select("quantity", "pool_quantity", "dimensions")).to_pylist()
    idle = next(r for r in rows if dict(r["dimensions"])["use_case"] == t.IDLE)
    assert (idle["quantity"], idle["pool_quantity"]) == (D(60), D(100))  # lineage says why


def test_idle_spread_over_the_users_by_their_use(tmp_path: Path) -> None:
    ws = _cluster(tmp_path, IDLE % ", charge: spread", USED + CAPACITY)
    assert billed_by(ws, "use_case") == {"a": D(75), "b": D(25)}


def test_idle_charged_to_the_owner(tmp_path: Path) -> None:
    extra = IDLE % ", charge: owner, owner: {use_case: platform}"
    ws = _cluster(tmp_path, extra, USED + CAPACITY)
    assert billed_by(ws, "use_case") == {"a": D(30), "b": D(10), "platform": D(60)}


def test_reservations_charge_the_larger_of_reserved_and_used(tmp_path: Path) -> None:
    """a max(20, 30) = 30, b max(40, 10) = 40, idle 100 - 70 = 30."""
    extra = IDLE % "" + "    reservations: gpu_reserved\n"
    ws = _cluster(tmp_path, extra, USED + RESERVED + CAPACITY)
    assert billed_by(ws, "use_case") == {"a": D(30), "b": D(40), t.IDLE: D(30)}


def test_reservations_without_idle_split_the_whole_day(tmp_path: Path) -> None:
    """100 by 30:40: a 300/7 = 42.857142857142857142|857, b 400/7 = 57.142857142857142857|142;
    the unit left goes to a's larger remainder."""
    ws = _cluster(tmp_path, "    reservations: gpu_reserved\n", USED + RESERVED)
    assert billed_by(ws, "use_case") == {
        "a": D("42.857142857142857143"),
        "b": D("57.142857142857142857"),
    }


def test_capacity_from_the_lines_own_consumed_quantity(tmp_path: Path) -> None:
    extra = "    idle: {capacity: ConsumedQuantity}\n"
    ws = _cluster(tmp_path, extra, USED, consumed="100")
    assert billed_by(ws, "use_case") == {"a": D(30), "b": D(10), t.IDLE: D(60)}


def test_used_beyond_capacity_leaves_no_idle(tmp_path: Path) -> None:
    ws = _cluster(tmp_path, IDLE % "", [*USED, _row("gpu_capacity", "20")])
    assert billed_by(ws, "use_case") == {"a": D(75), "b": D(25)}


def test_a_day_nobody_used_is_all_idle(tmp_path: Path) -> None:
    ws = _cluster(tmp_path, IDLE % "", CAPACITY)
    assert billed_by(ws, "use_case") == {t.IDLE: D(100)}


def test_idle_owner_is_needed_to_charge_the_owner() -> None:
    text = "version: 1\n" + RULE % "    idle: {capacity: c, charge: owner}\n"
    with pytest.raises((ValidationError, ValueError), match="charge: owner needs the owner"):
        parse_config(text)
