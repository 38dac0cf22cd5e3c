"""Metering that under-reports: a shared resource whose driver quantities cover far less than
its bill says it consumed.

A proportional rule splits a shared resource (an API key, a GPU cluster) by what each use case
metered on it. A workload that meters less than it uses pushes its cost onto the others, and
nothing in the split shows it: shares always add up to 100%. The bill does show it where it
counts the same unit as the driver (``ConsumedUnit`` Tokens, driver ``tokens``): the key's
billed tokens, priced at the key's own cost per token, against the tokens the gateway metered.
The gap in money is the cost of the consumption no meter accounts for.

Read from the published allocation of the period (its pools, their quantities and their bill
lines), so the comparison is exactly what the split used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import ibis

from apportion.money import EXACT, add, plain
from apportion.periods import Period
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.workspace import Workspace

DEFAULT_COVERAGE = Decimal("0.8")  # metered below this share of billed consumption: a finding
_GAP_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class UnderMetered:
    rule: str
    resource: str
    currency: str
    unit: str
    billed: Decimal  # quantity the bill says was consumed, in the driver's unit
    metered: Decimal  # quantity the driver rows measured on the resource
    cost: Decimal  # BilledCost of the bill lines counted in ``billed``

    @property
    def coverage(self) -> Decimal:
        return EXACT.divide(self.metered, self.billed)

    @property
    def gap(self) -> Decimal:
        """The cost of the consumption no meter accounts for, at the resource's own price."""
        unmetered = EXACT.subtract(self.billed, self.metered)
        gap = EXACT.divide(EXACT.multiply(self.cost, unmetered), self.billed)
        return EXACT.quantize(gap, _GAP_PLACES)

    def describe(self) -> str:
        return (
            f"rule {self.rule}: {plain(self.metered)} {self.unit} metered of "
            f"{plain(self.billed)} billed ({self.coverage:.0%}); the unmetered part costs "
            f"{plain(self.gap)} of {plain(self.cost)}"
        )


def same_unit(driver: str, unit: str) -> bool:
    """Whether a driver counts what the bill's ``ConsumedUnit`` counts: ``tokens`` and
    ``Tokens``, ``requests`` and ``Request``; ``gpu_seconds`` and ``Hours`` do not (a node
    hour holds several GPU hours: no safe conversion)."""
    return _unit(driver) == _unit(unit)


def _unit(text: str) -> str:
    folded = re.sub(r"[^a-z0-9]+", "", text.lower())
    return folded.removesuffix("s")


def under_metered(
    workspace: Workspace, period: Period, coverage: Decimal = DEFAULT_COVERAGE
) -> list[UnderMetered] | None:
    """Shared resources whose metering covers less than ``coverage`` of their billed
    consumption; None when the period has no published allocation to compare with."""
    if workspace.control.published_run(str(period)) is None:
        return None
    plane = workspace.data
    pools = plane.table(t.POOLS)
    pools = pools.filter(
        (pools[t.BILLING_PERIOD] == str(period))
        & (pools.method == "proportional")
        & (pools.generation == 0)
    ).select(col.POOL_ID, "rule", "driver", col.RESOURCE_ID, col.BILLING_CURRENCY)
    allocations = plane.table(t.ALLOCATIONS)
    allocations = allocations.filter(allocations[t.BILLING_PERIOD] == str(period))
    # every row of a split pool carries the pool's total quantity; an unsplit pool has none
    metered = allocations.group_by(metered_pool=allocations.pool_id).aggregate(
        metered=allocations.pool_quantity.max()
    )
    members = plane.table(t.POOL_MEMBERS)
    members = members.filter(members[t.BILLING_PERIOD] == str(period))
    lines = plane.table(t.COST_LINES)
    lines = lines.filter(lines[t.BILLING_PERIOD] == str(period))
    consumed = (
        members.join(lines, members.member_id == lines[t.LINE_ID])
        .join(pools, members.pool_id == pools.pool_id)
        .filter(lambda s: s.ConsumedQuantity.notnull() & s.ConsumedUnit.notnull())
    )
    by_pool = consumed.group_by(
        col.POOL_ID, "rule", "driver", col.RESOURCE_ID, col.BILLING_CURRENCY, col.CONSUMED_UNIT
    ).aggregate(billed=consumed.ConsumedQuantity.sum(), cost=consumed.BilledCost.sum())
    joined = by_pool.left_join(metered, by_pool.pool_id == metered.metered_pool)
    rows = plane.to_arrow(
        joined.select(
            *[by_pool[name] for name in by_pool.columns],
            metered=joined.metered.fill_null(ibis.literal(0).cast(t.QUANTITY_TYPE)),
        )
    ).to_pylist()
    return _findings(rows, coverage)


def _findings(rows: list[dict[str, object]], coverage: Decimal) -> list[UnderMetered]:
    totals: dict[tuple[str, str, str, str], list[Decimal]] = {}
    counted: set[object] = set()  # pools whose metered quantity is already added
    for row in rows:
        driver = str(row["driver"])
        if not same_unit(driver, str(row[col.CONSUMED_UNIT])):
            continue
        key = (str(row["rule"]), str(row[col.RESOURCE_ID]), str(row[col.BILLING_CURRENCY]), driver)
        billed, metered, cost = totals.setdefault(key, [Decimal(0), Decimal(0), Decimal(0)])
        if row[col.POOL_ID] not in counted:
            metered = add(metered, _decimal(row["metered"]))
        counted.add(row[col.POOL_ID])
        totals[key] = [
            add(billed, _decimal(row["billed"])),
            metered,
            add(cost, _decimal(row["cost"])),
        ]
    found = [
        UnderMetered(rule, resource, currency, unit, billed, metered, cost)
        for (rule, resource, currency, unit), (billed, metered, cost) in totals.items()
        if billed > 0 and metered < EXACT.multiply(billed, coverage)
    ]
    return sorted(found, key=lambda f: (f.gap.copy_negate(), f.currency, f.resource))


def _decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(0)
