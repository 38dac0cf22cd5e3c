"""The control plane on SQLite (default) and on a real PostgreSQL server (the `control_url`
fixture, tests/ledger/conftest.py)."""

from __future__ import annotations

from pathlib import Path

from apportion.allocate import allocate_period
from apportion.ledger import ControlPlane
from tests.helpers import ingest, make_workspace, write_focus

def test_run_lifecycle(control_url: str) -> None:
    control = ControlPlane(control_url)
    control.start_run("2026-10-a", "2026-10", "hash")
    assert control.published_run("2026-10") is None
    control.finish_run("2026-10-a", "published", None, {"pools": 3})
    control.start_run("2026-10-b", "2026-10", "hash")
    control.finish_run("2026-10-b", "failed", "does not balance", None)
    published = control.published_run("2026-10")
    assert published is not None
    assert (published.run_id, published.totals) == ("2026-10-a", {"pools": 3})
    assert [run.status for run in control.runs("2026-10")] == ["published", "failed"]
    control.dispose()


def test_allocation_with_the_control_plane_on_either_database(
    control_url: str, tmp_path: Path
) -> None:
    ws = make_workspace(tmp_path / "ws", extra=f"control_plane: '{control_url}'\n")
    ingest(ws, write_focus(tmp_path / "b.csv", [{"BilledCost": "1.5"}]))
    result = allocate_period(ws, "2026-10")
    assert result.published
    assert ws.control.published_run("2026-10").run_id == result.run_id  # type: ignore[union-attr]
    ws.close()
