"""The control plane on SQLite (default) and on a real PostgreSQL server (the `control_url`
fixture, tests/ledger/conftest.py)."""

from __future__ import annotations

from decimal import Decimal

from apportion.control import ControlPlane
from apportion.ledger.allocation import allocate_period
from apportion.workspace import Workspace


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


def test_allocation_with_the_control_plane_on_either_database(ws: Workspace) -> None:
    result = allocate_period(ws, "2026-10")
    assert result.published
    published = ws.control.published_run("2026-10")
    assert published is not None
    assert (published.run_id, published.status) == (result.run_id, "published")
    # the run records the input partitions it read: 2026-10 has only oct.csv's cost lines
    assert published.inputs is not None
    assert list(published.inputs) == ["cost_lines/oct"]


def test_an_audit_subject_of_long_names_fits_its_column(control_url: str) -> None:
    """Explanations, forecasts and the like name their subject by cost centre and use case,
    each up to 200 characters: PostgreSQL refuses a subject longer than its column, so it is
    shortened there and the details keep the names in full."""
    from apportion.analyse.explanations import record as explain
    from apportion.control import audit

    control = ControlPlane(control_url)
    long = "c" * 200
    explain(control, "2026-10", (long, "u" * 200, "*", "USD"), Decimal("1.00"), "why", "ann")
    [entry] = audit.entries(control)
    assert len(entry.subject) == audit.SUBJECT_LENGTH and entry.subject.endswith("…")
    assert entry.details and entry.details["cost_centre"] == long
    control.dispose()
