"""A run that does not balance is not published, says where it broke, and leaves the last good
allocation in place."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from apportion.allocate import allocate_period
from apportion.allocate import run as run_module
from tests.helpers import billed_by, ingest, make_workspace, write_focus

RULES = """rules:
  - name: split
    match: "ResourceId = 'r-1'"
    method: even
    targets: {use_case: [a, b, c]}
"""


def test_unbalanced_run_is_refused_and_previous_allocation_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_workspace(tmp_path / "ws", RULES)
    ingest(ws, write_focus(tmp_path / "b.csv", [{"BilledCost": "10"}]))
    first = allocate_period(ws, "2026-10")
    assert first.published
    good = billed_by(ws, "use_case")

    def leaky_split(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
        parts = [amount / len(weights) for _ in weights]  # rounds: loses a unit
        return [p.quantize(Decimal("1e-18")) for p in parts]

    monkeypatch.setattr(run_module, "split", leaky_split)
    second = allocate_period(ws, "2026-10")
    assert not second.published
    assert second.message is not None
    assert "does not balance" in second.message
    assert "rule split" in second.message and "BilledCost" in second.message
    assert billed_by(ws, "use_case") == good
    statuses = {run.run_id: run.status for run in ws.control.runs("2026-10")}
    assert statuses == {first.run_id: "published", second.run_id: "failed"}
    assert ws.control.published_run("2026-10").run_id == first.run_id  # type: ignore[union-attr]
