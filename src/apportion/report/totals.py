"""Per currency and cost metric: ingested, allocated by method, unallocated, quarantined, and
whether it balances.

Cost is *allocated* when it reaches a payer (the ledger's payer dimension, ``cost_centre`` by
default), and *unallocated* when it does not: one figure, broken down by reason and by the
dimensions it lacks. The method that placed cost last carries it in ``allocated`` (so those
and ``unallocated`` add up to what was ingested); ``moved`` credits every method with all it
split, so cost that a later rule split again counts under each rule it passed through.
Each figure comes exact (what conservation is proved on) and as statements show it: the sum
of the rounded statement lines (apportion.ledger.grain), the same figure every view gives.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apportion.allocate.conservation import ingested_totals
from apportion.ingest.quarantine import money_at_stake, money_texts, quarantined, rows_by_kind
from apportion.ledger.grain import UNALLOCATED_REASON, StatementLine, statement_grain
from apportion.ledger.published import final_allocations, owner_sources
from apportion.money import add, exact_sum
from apportion.periods import Period
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS
from apportion.tags.derived import source_kind
from apportion.workspace import Workspace

METHODS = ("direct", "proportional", "activity", "even", "fixed")
# cost no rule split that reached a payer all the same: its own line named the payer
UNSPLIT = "unsplit"
# where a direct allocation's owner came from: the line's own tags, a mapping table
# (tags.inherit) or a mapping rule (tags.virtual)
SOURCES = ("tags", "inherited", "mapped")


@dataclass
class MetricTotals:
    currency: str
    metric: str
    ingested: Decimal
    allocated: dict[str, Decimal]  # reached a payer, by the method that placed it
    unallocated: Decimal  # reached no payer
    moved: dict[str, Decimal] = field(default_factory=dict)  # all each method split
    direct_by_source: dict[str, Decimal] = field(default_factory=dict)
    # as the statements show them: sums of the rounded statement lines
    stated: dict[str, Any] = field(default_factory=dict)

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
            "moved": {method: str(value) for method, value in self.moved.items()},
            "direct_by_source": {
                source: str(self.direct_by_source.get(source, Decimal(0))) for source in SOURCES
            },
            "unallocated": str(self.unallocated),
            "stated": _texts(self.stated),
            "balanced": self.balanced,
        }


@dataclass
class PeriodTotals:
    period: str
    run_id: str
    metrics: list[MetricTotals]
    quarantined_rows: dict[str, int] = field(default_factory=dict)  # by kind: cost, driver
    quarantined_cost: dict[str, Decimal] = field(default_factory=dict)  # by currency, BilledCost
    # the money refused rows hold back: currency -> cost metric -> amount
    quarantined_money: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    # the unallocated figure as stated, by reason and by dimension, per currency and metric:
    # currency -> metric -> reason (or dimension) -> amount
    unallocated_by_reason: dict[str, dict[str, dict[str, Decimal]]] = field(default_factory=dict)
    unallocated_by_dimension: dict[str, dict[str, dict[str, Decimal]]] = field(default_factory=dict)
    metric: str = col.EFFECTIVE_COST  # the ledger's metric: what statements show

    @property
    def balanced(self) -> bool:
        return all(metric.balanced for metric in self.metrics)

    @property
    def unallocated_reasons(self) -> dict[str, Decimal]:
        """Unallocated BilledCost by reason over every currency (a single-currency period's
        breakdown)."""
        found: dict[str, Decimal] = defaultdict(Decimal)
        for by_metric in self.unallocated_by_reason.values():
            for reason, amount in by_metric.get(col.BILLED_COST, {}).items():
                found[reason] = add(found[reason], amount)
        return dict(found)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "run_id": self.run_id,
            "balanced": self.balanced,
            "totals": [metric.as_dict() for metric in self.metrics],
            "quarantined_rows": self.quarantined_rows,
            "quarantined_billed_cost": {k: str(v) for k, v in self.quarantined_cost.items()},
            "quarantined_money": money_texts(self.quarantined_money),
            "metric": self.metric,
            "unallocated_by_reason": _texts(self.unallocated_by_reason),
            "unallocated_by_dimension": _texts(self.unallocated_by_dimension),
        }


def totals(workspace: Workspace, period: Period) -> PeriodTotals:
    plane = workspace.data
    payer = workspace.config.ledger.payer
    final = final_allocations(workspace, period)
    # the statement lines carry their exact amounts beside the rounded ones: both figures
    # come from the same lines
    grain = statement_grain(workspace, period)
    moved = _moved(workspace, period)
    by_source = _direct_by_source(workspace, period, final)
    ingested = ingested_totals(plane, period)
    currencies = {currency for currency, _ in ingested} | {line.currency for line in grain}
    metrics = []
    for currency, metric in sorted((c, m) for c in currencies for m in COST_METRICS):
        mine = [line for line in grain if line.currency == currency]
        allocated, unallocated = _placed(mine, metric, payer, rounded=False)
        metrics.append(
            MetricTotals(
                currency=currency,
                metric=metric,
                ingested=ingested.get((currency, metric), Decimal(0)),
                allocated=allocated,
                unallocated=unallocated,
                moved=moved[(currency, metric)],
                direct_by_source=by_source[(currency, metric)],
                stated=_stated(mine, metric, payer),
            )
        )
    run = workspace.control.published_run(str(period))
    refused = quarantined(workspace.data, period=str(period))
    money = money_at_stake(refused)
    ledger_metric = workspace.config.ledger.metric
    return PeriodTotals(
        period=str(period),
        run_id=run.run_id if run else "",
        metrics=metrics,
        quarantined_rows=rows_by_kind(refused),
        quarantined_cost={c: m[col.BILLED_COST] for c, m in money.items() if col.BILLED_COST in m},
        quarantined_money=money,
        unallocated_by_reason=_unallocated_by_reason(grain, payer),
        unallocated_by_dimension=_unallocated_by_dimension(grain, workspace.config.dimensions),
        metric=ledger_metric,
    )


def unallocated_reasons(workspace: Workspace, period: Period) -> dict[str, dict[str, Decimal]]:
    """Per currency, the unallocated figure of the ledger's metric by reason, as stated: what
    the overview shows beside the figure."""
    grain = statement_grain(workspace, period)
    metric = workspace.config.ledger.metric
    found = _unallocated_by_reason(grain, workspace.config.ledger.payer)
    return {currency: by_metric[metric] for currency, by_metric in found.items()}


def placed_by(payer: str, method: str) -> str:
    """The method that placed cost, as these totals count it: cost that reached no payer is
    unallocated whatever split it, and cost no rule split that reached a payer by its own
    line's values is unsplit."""
    if payer == t.UNALLOCATED:
        return "unallocated"
    return UNSPLIT if method == "unallocated" else method


def _placed(
    lines: Sequence[StatementLine], metric: str, payer: str, *, rounded: bool
) -> tuple[dict[str, Decimal], Decimal]:
    """What reached a payer, by the method that placed it, and what did not: of the rounded
    amounts or the exact ones."""
    allocated: dict[str, Decimal] = dict.fromkeys(METHODS, Decimal(0))
    unallocated = Decimal(0)
    for line in lines:
        amount = line.amounts[metric] if rounded else line.exact[metric]
        method = placed_by(line.keys[payer], line.keys["method"])
        if method == "unallocated":
            unallocated = add(unallocated, amount)
        elif amount or method != UNSPLIT:
            allocated[method] = add(allocated.get(method, Decimal(0)), amount)
    return allocated, unallocated


def _stated(lines: Sequence[StatementLine], metric: str, payer: str) -> dict[str, Any]:
    """The figures as the statements give them: sums of the rounded lines."""
    allocated, unallocated = _placed(lines, metric, payer, rounded=True)
    return {
        "ingested": exact_sum(line.amounts[metric] for line in lines),
        "allocated": allocated,
        "allocated_total": exact_sum(allocated.values()),
        "unallocated": unallocated,
    }


def _unallocated_by_reason(
    grain: Sequence[StatementLine], payer: str
) -> dict[str, dict[str, dict[str, Decimal]]]:
    found: dict[str, dict[str, dict[str, Decimal]]] = {}
    for line in grain:
        if line.keys[payer] != t.UNALLOCATED:
            continue
        reason = line.keys[UNALLOCATED_REASON]
        by_metric = found.setdefault(line.currency, {m: {} for m in COST_METRICS})
        for metric, into in by_metric.items():
            into[reason] = add(into.get(reason, Decimal(0)), line.amounts[metric])
    return {
        currency: {
            metric: dict(sorted(reasons.items(), key=lambda i: (-i[1], i[0])))
            for metric, reasons in by_metric.items()
        }
        for currency, by_metric in found.items()
    }


def _unallocated_by_dimension(
    grain: Sequence[StatementLine], dims: Sequence[str]
) -> dict[str, dict[str, dict[str, Decimal]]]:
    """Per currency, metric and dimension, the cost that has no value in it (as stated)."""
    found: dict[str, dict[str, dict[str, Decimal]]] = {}
    for line in grain:
        by_metric = found.setdefault(
            line.currency, {m: dict.fromkeys(dims, Decimal(0)) for m in COST_METRICS}
        )
        for metric, into in by_metric.items():
            for d in dims:
                if line.keys[d] == t.UNALLOCATED:
                    into[d] = add(into[d], line.amounts[metric])
    return found


def _moved(workspace: Workspace, period: Period) -> dict[tuple[str, str], dict[str, Decimal]]:
    """All each method split, at every step: cost split again by a later rule counts under
    the rule that split it first and under each one after."""
    allocations = workspace.data.table(t.ALLOCATIONS)
    mine = allocations.filter(
        (allocations[t.BILLING_PERIOD] == str(period)) & (allocations.method != "unallocated")
    )
    sums = mine.group_by([col.BILLING_CURRENCY, "method"]).aggregate(
        **{metric: mine[metric].sum() for metric in COST_METRICS}
    )
    found: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(METHODS, Decimal(0))
    )
    for row in workspace.data.to_arrow(sums).to_pylist():
        for metric in COST_METRICS:
            into = found[(row[col.BILLING_CURRENCY], metric)]
            into[row["method"]] = add(into.get(row["method"], Decimal(0)), row[metric])
    return found


def _texts(value: Any) -> Any:
    """Amounts as exact text, through nested dicts."""
    if isinstance(value, dict):
        return {k: _texts(v) for k, v in value.items()}
    return str(value) if isinstance(value, Decimal) else value


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
    sums = joined.group_by([col.BILLING_CURRENCY, "basis"]).aggregate(
        **{metric: joined[metric].sum() for metric in COST_METRICS}
    )
    for row in workspace.data.to_arrow(sums).to_pylist():
        for metric in COST_METRICS:
            into = found[(row[col.BILLING_CURRENCY], metric)]
            into[row["basis"]] = add(into[row["basis"]], row[metric])
    return found


def _source(sources: dict[str, str]) -> str:
    kinds = {source_kind(source) for source in sources.values()}
    return "mapped" if "rule" in kinds else "inherited" if "inherited" in kinds else "tags"
