"""Items are what rules claim: cost lines (generation 0) and the allocations earlier rules made
(later generations). Both are brought to one column layout so one pooling step serves both.
Each source table must already carry ``claim``: the name of the rule that owns the row."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import ibis
import ibis.expr.types as ir

from apportion.allocate.carried import to_read
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS

CARRIED = ("ResourceId", "ResourceName", "ServiceName", "ProviderName")


def dim_column(dimension: str) -> str:
    return f"dim__{dimension}"


def from_lines(
    lines: ir.Table, dimensions: Sequence[str], carried: Collection[str] | None = None
) -> ir.Table:
    """``carried``: the dimensions the lines can have as tag keys (None: any); the others are
    NULL without a lookup."""
    read = to_read(dimensions, carried)
    return lines.select(
        claim=lines.claim,
        member_id=lines[t.LINE_ID],
        path=ibis.literal(""),
        BillingCurrency=lines.BillingCurrency,
        ChargeCategory=lines.ChargeCategory,
        **{t.CATEGORY: lines[t.CATEGORY]},
        charge_start=lines.ChargePeriodStart.fill_null(lines.BillingPeriodStart),
        **{name: lines[name] for name in CARRIED},
        **{dim_column(d): lines.Tags[d] if d in read else ibis.null("string") for d in dimensions},
        **{metric: lines[metric] for metric in COST_METRICS},
    )


def from_allocations(allocations: ir.Table, dimensions: Sequence[str]) -> ir.Table:
    return allocations.select(
        claim=allocations.claim,
        member_id=allocations.allocation_id,
        path=allocations.path,
        BillingCurrency=allocations.BillingCurrency,
        ChargeCategory=allocations.ChargeCategory,
        **{t.CATEGORY: allocations[t.CATEGORY]},
        charge_start=allocations.window_start,
        **{name: allocations[name] for name in CARRIED},
        **{dim_column(d): allocations.dimensions[d] for d in dimensions},
        **{metric: allocations[metric] for metric in COST_METRICS},
    )
