"""The published allocations of a period: what every report reads."""

from __future__ import annotations

import ibis.expr.types as ir

from apportion.allocate.periods import Period
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
