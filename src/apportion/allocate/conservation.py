"""The first invariant: for every currency and cost metric, final allocations plus unallocated
equal the ingested cost exactly, every pool is split completely, and summed by any of the
bill's own columns (provider, service, account, region, charge and AI category, and the
dimension values the bill lines themselves had) the allocations equal the bill lines."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from apportion.allocate.pool import Pool
from apportion.engine import DataPlane
from apportion.errors import WorkError
from apportion.money import EXACT, add
from apportion.periods import Period
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS

# (currency, each bill dimension, each origin dimension value): what the bill itself says of
# a line, and so of every cent allocated from it
BillKey = tuple[str | None, ...]
Sums = dict[str, Decimal]


class ConservationError(WorkError):
    """The run does not add up; it is not published. The message says where it broke."""


def ingested_totals(plane: DataPlane, period: Period) -> dict[tuple[str, str], Decimal]:
    lines = plane.table(t.COST_LINES)
    lines = lines.filter(lines[t.BILLING_PERIOD] == str(period))
    sums = lines.group_by(col.BILLING_CURRENCY).aggregate(
        **{metric: lines[metric].sum() for metric in COST_METRICS}
    )
    totals: dict[tuple[str, str], Decimal] = {}
    for row in plane.to_arrow(sums).to_pylist():
        for metric in COST_METRICS:
            totals[(row[col.BILLING_CURRENCY], metric)] = row[metric] or Decimal(0)
    return totals


def check_conservation(
    plane: DataPlane,
    period: Period,
    pools: list[Pool],
    allocations: pa.Table,
    dims: Sequence[str],
) -> dict[tuple[str, str], Decimal]:
    """The ingested totals the run conserves, by currency and metric; raises if it does not
    conserve them, or any pool, or any bill dimension.

    The bill by every bill dimension is the first generation's pools: one grouped scan of
    the lines keyed by all of them, so their sums are the bill's whatever happens after. The
    final allocations, summed by what their pools say of the bill, must equal it."""
    problems = _unsplit_pools(pools, allocations)
    bill = _by_bill_key([pool for pool in pools if pool.generation == 0], lambda pool: pool.amounts)
    final_sums = _pool_sums(allocations, allocations[col.IS_FINAL])
    final = _by_bill_key(
        pools,
        lambda pool: (
            {m: found[f"{m}_sum"] for m in COST_METRICS}
            if (found := final_sums.get(pool.pool_id))
            else None
        ),
    )
    problems += _dimension_problems(bill, final, dims)
    per_currency: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for key, sums in final.items():
        for metric, value in sums.items():
            per_currency[(str(key[0]), metric)] = add(per_currency[(str(key[0]), metric)], value)
    ingested = ingested_totals(plane, period)
    for key in sorted(set(ingested) | set(per_currency)):
        expected, got_total = ingested.get(key, Decimal(0)), per_currency.get(key, Decimal(0))
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


def _pool_sums(allocations: pa.Table, rows: pa.Array | None = None) -> dict[str, dict[str, Any]]:
    """Per pool id, the allocations' sums of every metric (of the given rows only)."""
    table = allocations.select([col.POOL_ID, *COST_METRICS])
    if rows is not None:
        table = table.filter(rows)
    # grouped on the pool id's dictionary code: hashing integers, not 1.5 M strings
    encoded = table.set_column(0, col.POOL_ID, pc.dictionary_encode(table[col.POOL_ID]))
    sums = [(metric, "sum") for metric in COST_METRICS]
    return {
        row[col.POOL_ID]: row for row in encoded.group_by(col.POOL_ID).aggregate(sums).to_pylist()
    }


def _unsplit_pools(pools: list[Pool], allocations: pa.Table) -> list[str]:
    split = _pool_sums(allocations)
    problems = []
    for pool in pools:
        got = split.get(pool.pool_id, {})
        for metric in COST_METRICS:
            value = got.get(f"{metric}_sum", Decimal(0))
            if value != pool.amounts[metric]:
                problems.append(
                    f"pool {pool.pool_id} (rule {pool.rule}) {metric}: "
                    f"pool {pool.amounts[metric]} but allocations {value}"
                )
    return problems


def _by_bill_key(
    pools: list[Pool], sums_of: Callable[[Pool], Mapping[str, Any] | None]
) -> dict[BillKey, Sums]:
    """Amounts of the pools (``sums_of`` a pool: its metrics, None for nothing) summed by
    what each pool says of the bill."""
    found: dict[BillKey, Sums] = defaultdict(dict)
    for pool in pools:
        sums = sums_of(pool)
        if sums is None:
            continue
        into = found[pool.bill_key()]
        for metric in COST_METRICS:
            into[metric] = add(into.get(metric, Decimal(0)), sums[metric] or Decimal(0))
    return dict(found)


def _dimension_problems(
    bill: dict[BillKey, Sums], final: dict[BillKey, Sums], dims: Sequence[str]
) -> list[str]:
    """Equal sums for every full key mean equal sums by any one dimension; where they differ,
    say so per dimension (what a report grouped by it would show)."""
    if all(_same(bill.get(key), final.get(key)) for key in set(bill) | set(final)):
        return []
    names = ["currency", *t.BILL_DIMENSIONS, *(f"origin {d}" for d in dims)]
    problems = []
    for position, name in enumerate(names):
        by_bill, by_final = _by_position(bill, position), _by_position(final, position)
        for currency, value in sorted(set(by_bill) | set(by_final), key=str):
            for metric in COST_METRICS:
                expected = by_bill.get((currency, value), {}).get(metric, Decimal(0))
                got = by_final.get((currency, value), {}).get(metric, Decimal(0))
                if expected != got:
                    problems.append(
                        f"{currency} {metric} by {name} {value!r}: the bill {expected} but "
                        f"allocations {got}"
                    )
    return problems or ["allocations and the bill differ in a combination of bill dimensions"]


def _by_position(sums: dict[BillKey, Sums], position: int) -> dict[Any, Sums]:
    found: dict[Any, Sums] = defaultdict(dict)
    for key, values in sums.items():
        into = found[(key[0], key[position])]
        for metric, value in values.items():
            into[metric] = add(into.get(metric, Decimal(0)), value)
    return found


def _same(left: Sums | None, right: Sums | None) -> bool:
    return all(
        (left or {}).get(metric, Decimal(0)) == (right or {}).get(metric, Decimal(0))
        for metric in COST_METRICS
    )
