"""The published allocations of a period: what every report reads."""

from __future__ import annotations

import ibis.expr.types as ir

from apportion.periods import Period
from apportion.schema import tables as t
from apportion.workspace import Workspace


class NotAllocatedError(LookupError):
    pass


def final_allocations(workspace: Workspace, period: Period) -> ir.Table:
    """Allocations that are not split again by a later rule, unallocated included."""
    if workspace.control.published_run(str(period)) is None:
        raise NotAllocatedError(
            f"period {period} has no published allocation: run `apportion allocate --period "
            f"{period}` first"
        )
    allocations = workspace.data.table(t.ALLOCATIONS)
    return allocations.filter((allocations[t.BILLING_PERIOD] == str(period)) & allocations.is_final)


def owner_sources(workspace: Workspace, period: Period) -> dict[str, dict[str, str]]:
    """For each direct pool of bill lines, where each owner value came from (pool id ->
    dimension -> ``tag``, ``inherited:<file>`` or ``rule:<name>``; apportion.tags.derived)."""
    pools = workspace.data.table(t.POOLS)
    found = workspace.data.to_arrow(
        pools.filter((pools[t.BILLING_PERIOD] == str(period)) & pools.sources.notnull()).select(
            "pool_id", "sources"
        )
    )
    return {row["pool_id"]: dict(row["sources"]) for row in found.to_pylist()}
