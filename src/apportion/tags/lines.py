"""Bill lines as the tag policy reads them: each required dimension's value (column
``tag__<dimension>``), and whether it is present and allowed, for a range of periods.

A line's dimension is read from every tag key that folds to it (``CostCenter`` and
``cost-centre`` are both ``cost_centre``); when a line has several, the key spelled exactly as
the dimension wins, then the others in name order. An empty value is a missing one.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from apportion.allocate.carried import carried_keys
from apportion.allocate.periods import Period
from apportion.engine import DataPlane
from apportion.schema import tables as t
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
        self.keys = {
            k: d for k in _tag_keys(plane, lines) if (d := policy.dimension_of(k)) in self.required
        }
        values = {d: _value(plane, lines, self.keys_of(d)) for d in self.required}
        self.lines = lines.mutate(**{column(d): v for d, v in values.items()})
        self.present: dict[str, ir.BooleanValue] = {}
        self.valid: dict[str, ir.BooleanValue] = {}
        for d in self.required:
            value = self.lines[column(d)]
            self.present[d] = value.notnull()
            if policy.allowed.get(d):
                allowed = [v for v in self.distinct(column(d)) if policy.is_valid(d, v)]
                valid = value.isin(allowed) if allowed else ibis.literal(False)
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

    def keys_of(self, dimension: str) -> list[str]:
        """The raw keys of a dimension in the order they are read: its own name first."""
        names = [k for k, d in self.keys.items() if d == dimension]
        return sorted(names, key=lambda k: (k != dimension, k))

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


def _value(plane: DataPlane, lines: ir.Table, keys: list[str]) -> ir.StringValue:
    """The first non-empty value among the keys (NULL when none)."""
    values = [plane.map_value(lines.Tags, key).strip().nullif("") for key in keys]
    if not values:
        return ibis.null("string")
    return values[0] if len(values) == 1 else ibis.coalesce(*values)


def _tag_keys(plane: DataPlane, lines: ir.Table) -> list[str]:
    """Tag keys of the bills: as recorded at ingest, else (older loads) read from the lines."""
    recorded = carried_keys(plane, "focus")
    if recorded is not None:
        return sorted(recorded)
    found = plane.to_arrow(lines.select(key=lines.Tags.keys().unnest()).distinct())
    return sorted(k for k in found["key"].to_pylist() if k is not None)
