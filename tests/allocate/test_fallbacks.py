"""What a rule does where its driver is silent: a pool measured nothing (``on_zero``), and a
target that leaves a dimension empty (``defaults``, ``dimension_defaults``). Hand-computed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from apportion.config import parse_config
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import (
    allocate,
    billed_by,
    ingest,
    make_workspace,
    period_totals,
    write_drivers,
    write_focus,
)

pytestmark = pytest.mark.usefixtures("engine")

D = Decimal

GPU = """rules:
  - name: gpu
    match: "ResourceId = 'gpu-cluster'"
    method: proportional
    driver: gpu_seconds
    window: day
%s"""


def _gpu(tmp_path: Path, extra: str) -> Workspace:
    """Day 3 costs 100 and was metered (a 3, b 1); day 4 costs 40 and was not."""
    ws = make_workspace(tmp_path / "ws", GPU % extra)
    bill = [
        {
            "ResourceId": "gpu-cluster",
            "BilledCost": c,
            "ChargePeriodStart": f"2026-10-0{d}T00:00:00Z",
        }
        for d, c in ((3, "100"), (4, "40"))
    ]
    drivers = [
        {
            "timestamp": "2026-10-03T10:00:00Z",
            "driver": "gpu_seconds",
            "resource_id": "gpu-cluster",
            "quantity": q,
            "use_case": u,
        }
        for u, q in (("a", "3"), ("b", "1"))
    ]
    ingest(ws, write_focus(tmp_path / "b.csv", bill), write_drivers(tmp_path / "d.csv", drivers))
    allocate(ws)
    return ws


def test_an_unmeasured_window_stays_unallocated_by_default(tmp_path: Path) -> None:
    ws = _gpu(tmp_path, "")
    assert billed_by(ws, "use_case") == {"a": D(75), "b": D(25), t.UNALLOCATED: D(40)}
    assert period_totals(ws).unallocated_reasons["no gpu_seconds quantity"] == D(40)


def test_on_zero_even_splits_between_the_months_targets(tmp_path: Path) -> None:
    """Day 4's 40 goes evenly to a and b, the targets measured in the month: a 75 + 20."""
    ws = _gpu(tmp_path, "    on_zero: even\n")
    assert billed_by(ws, "use_case") == {"a": D(95), "b": D(45)}


def test_on_zero_names_a_fallback_target(tmp_path: Path) -> None:
    ws = _gpu(tmp_path, "    on_zero: {use_case: platform, environment: shared}\n")
    assert billed_by(ws, "use_case") == {"a": D(75), "b": D(25), "platform": D(40)}
    assert billed_by(ws, "environment") == {t.UNALLOCATED: D(100), "shared": D(40)}


def test_on_zero_even_without_anything_measured_stays_unallocated(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path / "ws",
        """rules:
  - {name: shared, match: "ServiceName = 'Shared'", method: activity, driver: requests,
     on_zero: even}
""",
    )
    ingest(ws, write_focus(tmp_path / "b.csv", [{"ServiceName": "Shared", "BilledCost": "7"}]))
    allocate(ws)
    assert period_totals(ws).unallocated_reasons == {"no requests quantity": D(7)}


def test_defaults_fill_what_the_driver_rows_leave_empty(tmp_path: Path) -> None:
    """Requests name a use case (and one of them an environment): the rule's default gives the
    others production, the workspace's gives every allocation a lifecycle stage. Shared 60:
    a 40 (production), b 20 (staging, as its row says). The line no rule claims keeps its
    dimensions unallocated: defaults are for what a rule allocates."""
    ws = make_workspace(
        tmp_path / "ws",
        """rules:
  - {name: shared, match: "ServiceName = 'Shared'", method: activity, driver: requests,
     defaults: {environment: production}}
dimension_defaults: {lifecycle_stage: active, environment: research}
""",
    )
    bill = [
        {"ServiceName": "Shared", "BilledCost": "60"},
        {"ServiceName": "Unclaimed", "BilledCost": "5"},
    ]
    drivers = [
        {"timestamp": "2026-10-02", "driver": "requests", "quantity": "2", "use_case": "a"},
        {
            "timestamp": "2026-10-02",
            "driver": "requests",
            "quantity": "1",
            "use_case": "b",
            "environment": "staging",
        },
    ]
    ingest(ws, write_focus(tmp_path / "b.csv", bill), write_drivers(tmp_path / "d.csv", drivers))
    allocate(ws)
    assert billed_by(ws, "use_case") == {"a": D(40), "b": D(20), t.UNALLOCATED: D(5)}
    assert billed_by(ws, "environment") == {
        "production": D(40),
        "staging": D(20),
        t.UNALLOCATED: D(5),
    }
    assert billed_by(ws, "lifecycle_stage") == {"active": D(60), t.UNALLOCATED: D(5)}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("dimension_defaults: {team: x}\n", "dimension_defaults names 'team'"),
        ("dimension_defaults: {use_case: ' '}\n", "give 'use_case' a value"),
    ],
)
def test_defaults_are_checked_when_read(extra: str, message: str) -> None:
    with pytest.raises((ValidationError, ValueError), match=message):
        parse_config("version: 1\n" + extra)


def test_on_zero_target_is_checked_when_read() -> None:
    text = (
        "version: 1\nrules:\n  - {name: r, match: \"ServiceName = 'x'\", method: activity,"
        " driver: d, on_zero: {team: x}}\n"
    )
    with pytest.raises((ValidationError, ValueError), match="on_zero names 'team'"):
        parse_config(text)
