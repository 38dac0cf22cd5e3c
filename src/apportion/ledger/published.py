"""The published allocations of a period: what every report reads.

Only what the control plane says is published is read. A run writes the period's data-plane
rows, then records itself as published in the control plane; a crash between the two leaves
rows of a run the control plane never published. Readers then refuse, naming what to do,
rather than show that run's figures under the published run's id.
"""

from __future__ import annotations

import ibis.expr.types as ir

from apportion.allocate.inputs import runs_held
from apportion.control.plane import RunRecord
from apportion.errors import NotFoundError
from apportion.ledger.periods import PeriodStatus, start_review
from apportion.periods import Period
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.workspace import Workspace


class NotAllocatedError(NotFoundError):
    pass


class UnpublishedRowsError(NotAllocatedError):
    """The data plane holds rows of a run the control plane never published."""


def published_run(workspace: Workspace, period: Period) -> RunRecord:
    """The period's published run, once the data plane is seen to hold its rows (one small
    scan of the period's pools); NotAllocatedError without one."""
    run = workspace.control.published_run(str(period))
    if run is None:
        raise NotAllocatedError(
            f"period {period} has no published allocation: run `apportion allocate --period "
            f"{period}` first"
        )
    held = runs_held(workspace.data, str(period))
    empty_run = isinstance(run.totals, dict) and run.totals.get("pools") == 0
    if held == {run.run_id} or (not held and empty_run):
        return run
    others = ", ".join(sorted(str(r) for r in held - {run.run_id})) or "none"
    raise UnpublishedRowsError(
        f"period {period}: the data plane holds the allocation of run(s) {others}, which the "
        f"control plane never published, not that of its published run {run.run_id} (a run "
        f"stopped between writing and publishing): run `apportion allocate --period {period}` "
        "again"
    )


def final_allocations(workspace: Workspace, period: Period) -> ir.Table:
    """Allocations of the published run that are not split again by a later rule,
    unallocated included."""
    run = published_run(workspace, period)
    allocations = workspace.data.table(t.ALLOCATIONS)
    return allocations.filter(
        (allocations[t.BILLING_PERIOD] == str(period))
        & (allocations.run_id == run.run_id)
        & allocations.is_final
    )


def review_period(workspace: Workspace, period: Period, actor: str) -> PeriodStatus:
    """Put the period in review, once its published allocation is the one the data plane
    holds: statements must not go out on a run that was never published."""

    published_run(workspace, period)
    return start_review(workspace.control, str(period), actor)


def owner_sources(workspace: Workspace, period: Period) -> dict[str, dict[str, str]]:
    """For each direct pool of bill lines, where each owner value came from (pool id ->
    dimension -> ``tag``, ``inherited:<file>`` or ``rule:<name>``; apportion.tags.derived)."""
    run = published_run(workspace, period)
    pools = workspace.data.table(t.POOLS)
    found = workspace.data.to_arrow(
        pools.filter(
            (pools[t.BILLING_PERIOD] == str(period))
            & (pools.run_id == run.run_id)
            & pools.sources.notnull()
        ).select(col.POOL_ID, col.SOURCES)
    )
    return {row[col.POOL_ID]: dict(row[col.SOURCES]) for row in found.to_pylist()}
