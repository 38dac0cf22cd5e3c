"""Bill lines as the tag policy reads them: each required dimension's value (column
``tag__<dimension>``), and whether it is present and allowed, for a range of periods.

A line's dimension is read from every tag key that folds to it (``CostCenter`` and
``cost-centre`` are both ``cost_centre``), as allocation reads it (apportion.tags.derived).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from apportion.engine import DataPlane
from apportion.periods import Period
from apportion.schema import tables as t
from apportion.tags.derived import Derivation
from apportion.tags.policy import TagPolicy, load_policy
from apportion.workspace import Workspace


class TaggedLines:
    def __init__(self, plane: DataPlane, policy: TagPolicy, first: Period, last: Period) -> None:
        self.plane = plane
        self.policy = policy
        self.required = list(policy.required)
        lines = plane.table(t.COST_LINES)
        lines = lines.filter(
            (lines[t.BILLING_PERIOD] >= str(first)) & (lines[t.BILLING_PERIOD] <= str(last))
        )
        # the lines' own tags only: coverage and audit measure tagging, not what mapping fills
        own = Derivation(policy).lines(plane, lines, self.required)
        self.keys = {k: d for d in self.required for k in own.keys_of(d)}
        self.lines = lines.mutate(**{column(d): own.own[d] for d in self.required})
        self.present: dict[str, ir.BooleanValue] = {}
        self.valid: dict[str, ir.BooleanValue] = {}
        for d in self.required:
            value = self.lines[column(d)]
            self.present[d] = value.notnull()
            if policy.allowed.get(d):
                allowed = [v for v in self.distinct(column(d)) if policy.is_valid(d, v)]
                # no value is allowed: false on every line (column-shaped, so it sums)
                valid = value.isin(allowed) if allowed else value.notnull() & ibis.literal(False)
                self.valid[d] = valid.fill_null(False)  # a missing value is not a valid one
            else:
                self.valid[d] = self.present[d]
        self.compliant = ibis.and_(*self.valid.values()) if self.valid else ibis.literal(True)

    @classmethod
    def of_workspace(
        cls, workspace: Workspace, period: Period, months: int, policy: TagPolicy | None = None
    ) -> TaggedLines:
        """The ``months`` up to ``period``, read by the workspace's policy unless given."""
        policy = policy or load_policy(workspace.config, workspace.root)
        return cls(workspace.data, policy, months_before(period, months - 1), period)

    def renamed(self) -> dict[str, str]:
        """Raw key -> dimension, where they differ: the mapping a report shows."""
        return {k: d for k, d in self.keys.items() if k != d}

    def of(self, period: Period) -> ir.Table:
        return self.lines.filter(self.lines[t.BILLING_PERIOD] == str(period))

    def before(self, period: Period) -> ir.Table:
        return self.lines.filter(self.lines[t.BILLING_PERIOD] < str(period))

    def distinct(self, name: str, lines: ir.Table | None = None) -> list[str]:
        table = self.lines if lines is None else lines
        found = self.plane.to_arrow(table.select(name).distinct())
        return sorted(v for v in found[name].to_pylist() if v is not None)


def column(dimension: str) -> str:
    return f"tag__{dimension}"


def months_before(period: Period, count: int) -> Period:
    index = period.year * 12 + period.month - 1 - count
    return Period(index // 12, index % 12 + 1)
