"""Items are what rules claim: cost lines (generation 0) and the allocations earlier rules made
(later generations). Both are brought to one column layout so one pooling step serves both.
Each source table must already carry ``claim``: the name of the rule that owns the row.

Every item carries the bill's own columns (:data:`~apportion.schema.tables.BILL_DIMENSIONS`),
its resource, the dimension values it already has (``dim__*``: a line's derived values, an
allocation's targets) and the values its bill lines had (``origin__*``: the same as ``dim__*``
on a line, carried unchanged through every later split).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir

from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS

RESOURCE = (col.RESOURCE_ID, col.RESOURCE_NAME)
CONSUMED = col.CONSUMED_QUANTITY


def dim_column(dimension: str) -> str:
    return f"dim__{dimension}"


def source_column(dimension: str) -> str:
    return f"src__{dimension}"


def origin_column(dimension: str) -> str:
    return f"origin__{dimension}"


def from_lines(
    lines: ir.Table,
    dimensions: Sequence[str],
    values: Mapping[str, ir.Value],
    sources: Mapping[str, ir.Value] | None = None,
    consumed: bool = False,
) -> ir.Table:
    """``values``: each dimension's value on a line (apportion.tags.derived); ``sources``:
    where each came from, carried only when some can come from elsewhere than the tags. A
    line's origin values are its own values, so they are not repeated here. ``consumed``:
    carry ConsumedQuantity (a rule reads idle capacity from it)."""
    carried = {source_column(d): value for d, value in (sources or {}).items()}
    if consumed:
        carried[CONSUMED] = lines[CONSUMED]
    return lines.select(
        claim=lines.claim,
        member_id=lines[t.LINE_ID],
        path=ibis.literal(""),
        BillingCurrency=lines.BillingCurrency,
        charge_start=lines.ChargePeriodStart.fill_null(lines.BillingPeriodStart),
        **{name: lines[name] for name in (*t.BILL_DIMENSIONS, *RESOURCE)},
        **{dim_column(d): values[d] for d in dimensions},
        **carried,
        **{metric: lines[metric] for metric in COST_METRICS},
    )


def from_allocations(
    allocations: ir.Table, dimensions: Sequence[str], sourced: bool = False, consumed: bool = False
) -> ir.Table:
    """``sourced``: carry (empty) source columns, as lines with sources do: an allocation's
    values come from the rule that made it, which its path names. A dimension the allocation
    left ``__unallocated__`` is no value here: a later rule may give it one. The allocations
    carry their bill lines' values as ``origin__*`` columns (from their pools)."""
    dims = allocations.dimensions
    return allocations.select(
        claim=allocations.claim,
        member_id=allocations.allocation_id,
        path=allocations.path,
        BillingCurrency=allocations.BillingCurrency,
        charge_start=allocations.window_start,
        **{name: allocations[name] for name in (*t.BILL_DIMENSIONS, *RESOURCE)},
        **{dim_column(d): dims[d].nullif(t.UNALLOCATED) for d in dimensions},
        **{source_column(d): ibis.null("string") for d in (dimensions if sourced else [])},
        **{origin_column(d): allocations[origin_column(d)] for d in dimensions},
        # an allocation consumed nothing of its own: its capacity was its bill lines'
        **({CONSUMED: ibis.null(t.QUANTITY_TYPE)} if consumed else {}),
        **{metric: allocations[metric] for metric in COST_METRICS},
    )
