"""The first invariant: for every currency and cost metric, final allocations plus unallocated
equal the ingested cost exactly, and every pool is split completely."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from apportion.engine import DataPlane
from apportion.money import EXACT
from apportion.periods import Period
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
    allocations: pa.Table,
) -> dict[tuple[str, str], Decimal]:
    """The ingested totals the run conserves, by currency and metric; raises if it does not."""
    problems: list[str] = []
    sums = ["sum"] * len(COST_METRICS)
    # grouped on the pool id's dictionary code: hashing integers, not 1.5 M strings
    encoded = allocations.select(["pool_id", *COST_METRICS]).set_column(
        0, "pool_id", pc.dictionary_encode(allocations["pool_id"])
    )
    per_pool = encoded.group_by("pool_id").aggregate(list(zip(COST_METRICS, sums, strict=True)))
    split = {row["pool_id"]: row for row in per_pool.to_pylist()}
    for pool in pools:
        got = split.get(pool["pool_id"], {})
        for metric in COST_METRICS:
            value = got.get(f"{metric}_sum", Decimal(0))
            if value != pool[metric]:
                problems.append(
                    f"pool {pool['pool_id']} (rule {pool['rule']}) {metric}: "
                    f"pool {pool[metric]} but allocations {value}"
                )
    # only the columns summed: filtering the whole table would copy every column
    final_rows = allocations.select(["BillingCurrency", *COST_METRICS]).filter(
        allocations["is_final"]
    )
    per_currency = final_rows.group_by("BillingCurrency").aggregate(
        list(zip(COST_METRICS, sums, strict=True))
    )
    final: dict[tuple[str, str], Decimal] = {}
    for row in per_currency.to_pylist():
        for metric in COST_METRICS:
            final[(row["BillingCurrency"], metric)] = row[f"{metric}_sum"]
    ingested = ingested_totals(plane, period)
    for key in sorted(set(ingested) | set(final)):
        expected, got_total = ingested.get(key, Decimal(0)), final.get(key, Decimal(0))
        if expected != got_total:
            currency, metric = key
            problems.append(
                f"{currency} {metric}: ingested {expected} but allocated plus unallocated "
                f"{got_total} (difference {EXACT.subtract(got_total, expected)})"
            )
    if problems:
        raise ConservationError(
            f"period {period} does not balance; the run was not published:\n  "
            + "\n  ".join(problems[:20])
        )
    return ingested
