"""A run that does not balance is not published, says where it broke, and leaves the last good
allocation in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from apportion.allocate import batch
from apportion.ledger.allocation import allocate_period
from tests.helpers import billed_by, ingest, make_workspace, write_focus

pytestmark = pytest.mark.usefixtures("engine")

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

    def forgetful(*args: object) -> None:
        """A split that forgets to hand out the leftover units: floor division alone."""

    monkeypatch.setattr(batch, "_distribute", forgetful)
    second = allocate_period(ws, "2026-10")
    assert not second.published
    assert second.message is not None
    assert "does not balance" in second.message
    assert "rule split" in second.message and "BilledCost" in second.message
    assert billed_by(ws, "use_case") == good
    statuses = {run.run_id: run.status for run in ws.control.runs("2026-10")}
    assert statuses == {first.run_id: "published", second.run_id: "failed"}
    assert ws.control.published_run("2026-10").run_id == first.run_id  # type: ignore[union-attr]
