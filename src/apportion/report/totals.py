"""Per currency and cost metric: ingested, allocated by method, unallocated, quarantined, and
whether it balances."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apportion.allocate.conservation import ingested_totals
from apportion.ingest.values import decimal
from apportion.money import add, exact_sum
from apportion.periods import Period
from apportion.report.published import final_allocations, owner_sources
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS
from apportion.tags.derived import source_kind
from apportion.workspace import Workspace

METHODS = ("direct", "proportional", "activity", "even", "fixed")
# where a direct allocation's owner came from: the line's own tags, a mapping table
# (tags.inherit) or a mapping rule (tags.virtual)
SOURCES = ("tags", "inherited", "mapped")


@dataclass
class MetricTotals:
    currency: str
    metric: str
    ingested: Decimal
    allocated: dict[str, Decimal]
    unallocated: Decimal
    direct_by_source: dict[str, Decimal] = field(default_factory=dict)

    @property
    def allocated_total(self) -> Decimal:
        return exact_sum(self.allocated.values())

    @property
    def balanced(self) -> bool:
        return add(self.allocated_total, self.unallocated) == self.ingested

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "metric": self.metric,
            "ingested": str(self.ingested),
            "allocated": {method: str(value) for method, value in self.allocated.items()},
            "allocated_total": str(self.allocated_total),
            "direct_by_source": {
                source: str(self.direct_by_source.get(source, Decimal(0))) for source in SOURCES
            },
            "unallocated": str(self.unallocated),
            "balanced": self.balanced,
        }


@dataclass
class PeriodTotals:
    period: str
    run_id: str
    metrics: list[MetricTotals]
    quarantined_rows: dict[str, int] = field(default_factory=dict)  # by kind: cost, driver
    quarantined_cost: dict[str, Decimal] = field(default_factory=dict)  # by currency, BilledCost
    unallocated_reasons: dict[str, Decimal] = field(default_factory=dict)  # BilledCost by reason
    # BilledCost of direct allocations whose owner lacks a dimension, by currency and dimension
    direct_missing: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return all(metric.balanced for metric in self.metrics)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "run_id": self.run_id,
            "balanced": self.balanced,
            "totals": [metric.as_dict() for metric in self.metrics],
            "quarantined_rows": self.quarantined_rows,
            "quarantined_billed_cost": {k: str(v) for k, v in self.quarantined_cost.items()},
            "unallocated_billed_cost_by_reason": {
                k: str(v) for k, v in self.unallocated_reasons.items()
            },
            "direct_billed_cost_missing_a_dimension": {
                currency: {d: str(v) for d, v in missing.items()}
                for currency, missing in self.direct_missing.items()
            },
        }


def totals(workspace: Workspace, period: Period) -> PeriodTotals:
    plane = workspace.data
    final = final_allocations(workspace, period)
    sums = final.group_by(["BillingCurrency", "method", "reason"]).aggregate(
        **{metric: final[metric].sum() for metric in COST_METRICS}
    )
    by_method: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(METHODS, Decimal(0))
    )
    unallocated: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    reasons: dict[str, Decimal] = defaultdict(Decimal)
    for row in plane.to_arrow(sums).to_pylist():
        for metric in COST_METRICS:
            key = (row["BillingCurrency"], metric)
            if row["method"] == "unallocated":
                unallocated[key] = add(unallocated[key], row[metric])
            else:
                by_method[key][row["method"]] = add(by_method[key][row["method"]], row[metric])
        if row["method"] == "unallocated":
            reason = row["reason"] or "unknown"
            reasons[reason] = add(reasons[reason], row["BilledCost"])
    by_source = _direct_by_source(workspace, period, final)
    ingested = ingested_totals(plane, period)
    keys = sorted(set(ingested) | set(by_method) | set(unallocated))
    metrics = [
        MetricTotals(
            currency=currency,
            metric=metric,
            ingested=ingested.get((currency, metric), Decimal(0)),
            allocated=by_method[(currency, metric)],
            unallocated=unallocated[(currency, metric)],
            direct_by_source=by_source[(currency, metric)],
        )
        for currency, metric in keys
    ]
    run = workspace.control.published_run(str(period))
    rows, cost = _quarantined(workspace, period)
    return PeriodTotals(
        period=str(period),
        run_id=run.run_id if run else "",
        metrics=metrics,
        quarantined_rows=rows,
        quarantined_cost=cost,
        unallocated_reasons=dict(reasons),
        direct_missing=_direct_missing(workspace, final),
    )


def _direct_by_source(
    workspace: Workspace, period: Period, final: ir.Table
) -> dict[tuple[str, str], dict[str, Decimal]]:
    """Direct allocations added up by where their owner came from, read from their pools'
    lineage: a pool that took any value from a mapping rule counts as mapped, else one that
    inherited any as inherited, else as tagged."""
    basis = {
        pool_id: _source(sources) for pool_id, sources in owner_sources(workspace, period).items()
    }
    found: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(SOURCES, Decimal(0))
    )
    if not basis:
        return found
    lookup = ibis.memtable(pa.table({"basis_pool": list(basis), "basis": list(basis.values())}))
    direct = final.filter(final.method == "direct")
    joined = direct.join(lookup, direct.pool_id == lookup.basis_pool)
    sums = joined.group_by(["BillingCurrency", "basis"]).aggregate(
        **{metric: joined[metric].sum() for metric in COST_METRICS}
    )
    for row in workspace.data.to_arrow(sums).to_pylist():
        for metric in COST_METRICS:
            into = found[(row["BillingCurrency"], metric)]
            into[row["basis"]] = add(into[row["basis"]], row[metric])
    return found


def _direct_missing(workspace: Workspace, final: ir.Table) -> dict[str, dict[str, Decimal]]:
    """Direct allocations are made to what a line's tags and mappings name; a dimension none of
    them gave is __unallocated__ in the allocation. How much BilledCost that is, per dimension."""
    dims = workspace.config.dimensions
    direct = final.filter(final.method == "direct")
    sums = direct.group_by("BillingCurrency").aggregate(
        **{d: direct.BilledCost.sum(where=direct.dimensions[d] == t.UNALLOCATED) for d in dims}
    )
    return {
        row["BillingCurrency"]: {d: row[d] if row[d] is not None else Decimal(0) for d in dims}
        for row in workspace.data.to_arrow(sums).to_pylist()
    }


def _source(sources: dict[str, str]) -> str:
    kinds = {source_kind(source) for source in sources.values()}
    return "mapped" if "rule" in kinds else "inherited" if "inherited" in kinds else "tags"


def _quarantined(workspace: Workspace, period: Period) -> tuple[dict[str, int], dict[str, Decimal]]:
    plane = workspace.data
    table = plane.table(t.QUARANTINE)
    table = table.filter(
        (table[t.BILLING_PERIOD] == str(period)) | table[t.BILLING_PERIOD].isnull()
    )
    counts = table.group_by("kind").aggregate(rows=table.count())
    rows = {row["kind"]: int(row["rows"]) for row in plane.to_arrow(counts).to_pylist()}
    cost = decimal(table.cost_text).value
    costs = table.mutate(parsed=cost).filter(lambda s: s.parsed.notnull())
    sums = costs.group_by("currency").aggregate(cost=costs.parsed.sum())
    return rows, {row["currency"] or "?": row["cost"] for row in plane.to_arrow(sums).to_pylist()}
