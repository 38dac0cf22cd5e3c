"""The first invariant: for every currency and cost metric, final allocations plus unallocated
equal the ingested cost exactly, and every pool is split completely."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from apportion.allocate.periods import Period
from apportion.engine import DataPlane
from apportion.money import EXACT, add
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS


class ConservationError(AssertionError):
    """The run does not add up; it is not published. The message says where it broke."""


def ingested_totals(plane: DataPlane, period: Period) -> dict[tuple[str, str], Decimal]:
    lines = plane.table(t.COST_LINES)
    lines = lines.filter(lines[t.BILLING_PERIOD] == str(period))
    sums = lines.group_by("BillingCurrency").aggregate(
        **{metric: lines[metric].sum() for metric in COST_METRICS}
    )
    totals: dict[tuple[str, str], Decimal] = {}
    for row in plane.to_arrow(sums).to_pylist():
        for metric in COST_METRICS:
            totals[(row["BillingCurrency"], metric)] = row[metric] or Decimal(0)
    return totals


def check_conservation(
    plane: DataPlane,
    period: Period,
    pools: list[dict[str, Any]],
    allocations: list[dict[str, Any]],
) -> None:
    problems: list[str] = []
    split: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for allocation in allocations:
        for metric in COST_METRICS:
            key = (allocation["pool_id"], metric)
            split[key] = add(split[key], allocation[metric])
    for pool in pools:
        for metric in COST_METRICS:
            got = split[(pool["pool_id"], metric)]
            if got != pool[metric]:
                problems.append(
                    f"pool {pool['pool_id']} (rule {pool['rule']}) {metric}: "
                    f"pool {pool[metric]} but allocations {got}"
                )
    final: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for allocation in allocations:
        if allocation["is_final"]:
            for metric in COST_METRICS:
                key = (allocation["BillingCurrency"], metric)
                final[key] = add(final[key], allocation[metric])
    ingested = ingested_totals(plane, period)
    for key in sorted(set(ingested) | set(final)):
        expected, got = ingested.get(key, Decimal(0)), final.get(key, Decimal(0))
        if expected != got:
            currency, metric = key
            problems.append(
                f"{currency} {metric}: ingested {expected} but allocated plus unallocated {got} "
                f"(difference {EXACT.subtract(got, expected)})"
            )
    if problems:
        raise ConservationError(
            f"period {period} does not balance; the run was not published:\n  "
            + "\n  ".join(problems[:20])
        )
