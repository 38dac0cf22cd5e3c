"""What a caller may see of a period's allocation: the final allocations to the cost centres
granted to it, the pools they came from, and the pools those were filled from, back to the
bill lines. Expressed as filters and semi-joins, so the engine never reads the rest."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import ibis.expr.types as ir

from apportion.access import Caller
from apportion.ledger.published import final_allocations, published_run
from apportion.periods import Period
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.workspace import Workspace

NONE = "(none)"  # a dimension an allocation has no value for, as statements show it


@dataclass(frozen=True)
class Scoped:
    """One period's allocation as a caller may see it."""

    workspace: Workspace
    period: str
    caller: Caller
    run_id: str

    @property
    def payer(self) -> str:
        return self.workspace.config.ledger.payer

    def dimension(self, table: ir.Table, name: str) -> ir.StringValue:
        return self.workspace.data.map_value(table.dimensions, name).fill_null(NONE)

    def final(self) -> ir.Table:
        """The final allocations this caller may see."""
        final = final_allocations(self.workspace, Period.parse(self.period))
        if self.caller.payers is None:
            return final
        return final.filter(self.dimension(final, self.payer).isin(sorted(self.caller.payers)))

    def allocations(self) -> ir.Table:
        allocations = self.workspace.data.table(t.ALLOCATIONS)
        return allocations.filter(allocations[t.BILLING_PERIOD] == self.period)

    def pools(self) -> ir.Table:
        pools = self.workspace.data.table(t.POOLS)
        return pools.filter(pools[t.BILLING_PERIOD] == self.period)

    def members(self) -> ir.Table:
        members = self.workspace.data.table(t.POOL_MEMBERS)
        return members.filter(members[t.BILLING_PERIOD] == self.period)

    def visible_pool_ids(self) -> ir.Table | None:
        """The ids of the pools whose cost reached this caller's cost centres, through any
        number of rules; None when the caller sees every pool."""
        return self._visible_pool_ids

    @cached_property
    def _visible_pool_ids(self) -> ir.Table | None:
        # worked out once per request: the walk up the generations runs a query per step
        if self.caller.payers is None:
            return None
        found = self.final().select(col.POOL_ID).distinct()
        frontier = found
        # a pool of a later generation was filled by allocations of earlier pools: walk up
        # until no pool is left whose members are allocations (generations are few: rules)
        for _ in range(len(self.workspace.config.rules) + 1):
            pools = self.pools()
            upstream = pools.filter(pools.generation > 0).semi_join(frontier, col.POOL_ID)
            members = self.members().semi_join(upstream.select(col.POOL_ID), col.POOL_ID)
            allocations = self.allocations()
            parents = (
                allocations.semi_join(
                    members.select(allocation_id=members.member_id), col.ALLOCATION_ID
                )
                .select(col.POOL_ID)
                .distinct()
            )
            if self.workspace.data.scalar(parents.count()) == 0:
                break
            found = found.union(parents, distinct=True)
            frontier = parents
        # an expression, not a temporary table: a server's connections live long, and what a
        # request leaves behind would pile up in them
        return found

    def visible_pools(self) -> ir.Table:
        pools = self.pools()
        visible = self.visible_pool_ids()
        return pools if visible is None else pools.semi_join(visible, col.POOL_ID)

    def visible_bill_line_ids(self) -> ir.Table | None:
        """The ids of the bill lines in pools this caller may see; None for every line."""
        visible = self.visible_pool_ids()
        if visible is None:
            return None
        pools = self.pools()
        first = pools.filter(pools.generation == 0).semi_join(visible, col.POOL_ID)
        members = self.members().semi_join(first.select(col.POOL_ID), col.POOL_ID)
        return members.select(line_id=members.member_id).distinct()


def scoped(workspace: Workspace, period: str, caller: Caller) -> Scoped:
    # the published run, once the data plane is seen to hold it (never an unpublished one)
    run = published_run(workspace, Period.parse(period))
    return Scoped(workspace, period, caller, run.run_id)
