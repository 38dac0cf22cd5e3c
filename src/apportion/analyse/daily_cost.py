"""Daily cost per use case, cost category, provider and currency, as a period's published
allocation assigned it (MISSION R7.3).

An allocation names its pool, not its days: a direct pool holds a month of bill lines, a
cascade's pool holds earlier allocations. So each final allocation is traced back to the
generation-0 pools (of bill lines) its cost came from, with the fraction of each pool it
received (its share of its pool, times that pool's fractions of earlier pools), and a
series' cost on a day is the sum over those pools of fraction times the pool's bill lines of
that day and provider. The daily grouping of bill lines runs in the engine; the fractions,
few (one per allocation), in Python, exactly (Decimal).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import ibis
import ibis.expr.types as ir

from apportion.money import EXACT, add
from apportion.periods import Period
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.workspace import Workspace

NONE = "(none)"  # a dimension, category or provider a line has no value for
LINE_FIELDS = (col.SERVICE_NAME, col.RESOURCE_ID, col.SKU_ID, col.CHARGE_DESCRIPTION)


class Owner(NamedTuple):
    """What a final allocation's cost belongs to: everything in a series but the provider,
    which comes from the bill lines (one pool may hold several providers' lines)."""

    use_case: str
    category: str
    currency: str


class SeriesKey(NamedTuple):
    use_case: str
    category: str
    provider: str
    currency: str

    def as_dict(self) -> dict[str, str]:
        return self._asdict()


@dataclass
class PeriodCost:
    """One period's published allocation, as daily series."""

    period: str
    daily: dict[SeriesKey, dict[date, Decimal]] = field(default_factory=dict)
    fractions: dict[Owner, dict[str, Decimal]] = field(default_factory=dict)  # pool -> share
    notes: list[str] = field(default_factory=list)

    @property
    def last_day(self) -> date | None:
        return max((day for days in self.daily.values() for day in days), default=None)


def period_cost(workspace: Workspace, period: Period) -> PeriodCost:
    """The period's daily series: its bill lines' days, allocated as its published run did."""
    found = PeriodCost(str(period))
    fractions, evenly = _fractions(workspace, str(period))
    found.fractions = fractions
    if evenly:
        found.notes.append(
            f"{period}: {evenly} pools whose cost nets to zero and that have no driver "
            "quantity: their daily cost is shared evenly by their allocations"
        )
    by_pool: dict[str, list[tuple[Owner, Decimal]]] = defaultdict(list)
    for owner, pools in fractions.items():
        for pool_id, fraction in pools.items():
            by_pool[pool_id].append((owner, fraction))
    daily: dict[SeriesKey, dict[date, Decimal]] = defaultdict(dict)
    undated = longer = 0
    for row in workspace.data.to_arrow(_pool_days(workspace, str(period))).to_pylist():
        if row["longer"]:
            longer += row["lines"]
            continue
        if row["day"] is None:
            undated += 1
            continue
        day = row["day"].date()
        for owner, fraction in by_pool.get(row[col.POOL_ID], ()):
            key = SeriesKey(owner.use_case, owner.category, row["provider"], owner.currency)
            amount = EXACT.multiply(fraction, row["cost"] or Decimal(0))
            daily[key][day] = add(daily[key].get(day, Decimal(0)), amount)
    if undated:
        found.notes.append(
            f"{period}: bill lines without a ChargePeriodStart in {undated} pools: their cost "
            "is in no day"
        )
    if longer:
        found.notes.append(
            f"{period}: {longer} bill lines charged for more than a day (monthly fees, "
            "licences, commitments) are not checked day by day: the monthly review compares "
            "them with the month before"
        )
    found.daily = dict(daily)
    return found


def _fractions(workspace: Workspace, period: str) -> tuple[dict[Owner, dict[str, Decimal]], int]:
    """Per owner, the fraction of each generation-0 pool its final allocations received;
    and how many pools were split evenly for want of anything better (no cost, no
    quantity)."""
    plane = workspace.data
    metric = workspace.config.ledger.metric
    pools = plane.table(t.POOLS)
    pools = pools.filter(pools[t.BILLING_PERIOD] == period)
    totals = {
        row[col.POOL_ID]: (row[col.GENERATION], row["amount"] or Decimal(0))
        for row in plane.to_arrow(
            pools.select(col.POOL_ID, col.GENERATION, amount=pools[metric])
        ).to_pylist()
    }
    allocations = _allocations(workspace, period)
    members = _later_members(workspace, period)
    counts = Counter(row[col.POOL_ID] for row in allocations)
    shares: dict[str, dict[str, Decimal]] = {}  # allocation id -> gen-0 pool -> fraction
    evenly: set[str] = set()
    found: dict[Owner, dict[str, Decimal]] = defaultdict(dict)
    for row in sorted(allocations, key=lambda r: totals[r[col.POOL_ID]][0]):
        pool_id = row[col.POOL_ID]
        generation, total = totals[pool_id]
        share, even = _share(row, total, counts[pool_id])
        if even:
            evenly.add(pool_id)
        sources = {pool_id: Decimal(1)} if generation == 0 else _sources(members[pool_id], shares)
        mine = {source: EXACT.multiply(part, share) for source, part in sources.items()}
        if row[col.IS_FINAL]:
            owner = found[Owner(row["use_case"], row["category"], row["currency"])]
            for source, part in mine.items():
                owner[source] = add(owner.get(source, Decimal(0)), part)
        else:
            shares[row[col.ALLOCATION_ID]] = mine
    return dict(found), len(evenly)


def _share(row: dict[str, Any], total: Decimal, count: int) -> tuple[Decimal, bool]:
    """An allocation's share of its pool: of the pool's cost; where that nets to nothing
    (credits against charges), all of it for a pool's only allocation, else of the driver
    quantity; and where neither can say, an even share (the second value: True)."""
    if total != 0:
        return EXACT.divide(row["amount"] or Decimal(0), total), False
    if count == 1:
        return Decimal(1), False
    if row[col.QUANTITY] is not None and row[col.POOL_QUANTITY]:
        return EXACT.divide(row[col.QUANTITY], row[col.POOL_QUANTITY]), False
    return EXACT.divide(Decimal(1), Decimal(count)), True


def _sources(members: list[str], shares: dict[str, dict[str, Decimal]]) -> dict[str, Decimal]:
    """A later pool's fractions of generation-0 pools: the sum of its members'."""
    found: dict[str, Decimal] = {}
    for member in members:
        for source, part in shares.get(member, {}).items():
            found[source] = add(found.get(source, Decimal(0)), part)
    return found


def _allocations(workspace: Workspace, period: str) -> list[dict[str, Any]]:
    plane = workspace.data
    metric = workspace.config.ledger.metric
    workload = workspace.config.ledger.workload
    table = plane.table(t.ALLOCATIONS)
    table = table.filter(table[t.BILLING_PERIOD] == period)
    rows: list[dict[str, Any]] = plane.to_arrow(
        table.select(
            col.ALLOCATION_ID,
            col.POOL_ID,
            col.IS_FINAL,
            col.QUANTITY,
            col.POOL_QUANTITY,
            use_case=plane.map_value(table.dimensions, workload).fill_null(NONE),
            category=table[t.CATEGORY].fill_null(NONE),
            currency=table.BillingCurrency,
            amount=table[metric],
        )
    ).to_pylist()
    return rows


def _later_members(workspace: Workspace, period: str) -> dict[str, list[str]]:
    """The allocations each later-generation pool was filled with."""
    plane = workspace.data
    pools = plane.table(t.POOLS)
    later = pools.filter((pools[t.BILLING_PERIOD] == period) & (pools.generation > 0))
    members = plane.table(t.POOL_MEMBERS)
    members = members.filter(members[t.BILLING_PERIOD] == period).semi_join(
        later.select(col.POOL_ID), col.POOL_ID
    )
    found: dict[str, list[str]] = defaultdict(list)
    for row in plane.to_arrow(members.select(col.POOL_ID, col.MEMBER_ID)).to_pylist():
        found[row[col.POOL_ID]].append(row[col.MEMBER_ID])
    return found


def _bill_lines(workspace: Workspace, period: str) -> ir.Table:
    """The period's bill lines with the generation-0 pool each went into."""
    plane = workspace.data
    pools = plane.table(t.POOLS)
    first = pools.filter((pools[t.BILLING_PERIOD] == period) & (pools.generation == 0))
    members = plane.table(t.POOL_MEMBERS)
    members = members.filter(members[t.BILLING_PERIOD] == period).semi_join(
        first.select(col.POOL_ID), col.POOL_ID
    )
    lines = plane.table(t.COST_LINES)
    lines = lines.filter(lines[t.BILLING_PERIOD] == period)
    joined = members.join(lines, members.member_id == lines[t.LINE_ID])
    day = joined.ChargePeriodStart.truncate("D")
    return joined.mutate(
        day=day,
        provider=joined.ProviderName.fill_null(NONE),
        # a monthly licence or fee is charged for its whole period, not on its first day
        longer=joined.ChargePeriodEnd.notnull()
        & (joined.ChargePeriodEnd > day + ibis.interval(days=1)),
    )


def _pool_days(workspace: Workspace, period: str) -> ir.Table:
    """Each generation-0 pool's cost per day and provider: one grouped scan of the lines."""
    lines = _bill_lines(workspace, period)
    metric = workspace.config.ledger.metric
    return lines.group_by(col.POOL_ID, "day", "provider", "longer").aggregate(
        cost=lines[metric].sum(), lines=lines.count()
    )


def bill_lines(
    workspace: Workspace,
    period: str,
    pools: dict[str, Decimal],
    provider: str,
    first: date,
    last: date,
) -> list[dict[str, Any]]:
    """The bill lines of the given pools, provider and days (``first`` to ``last``), each
    with the cost that reached the series (``share``: its pool's fraction of the line)."""
    if not pools:
        return []
    metric = workspace.config.ledger.metric
    lines = _bill_lines(workspace, period)
    wanted = ibis.memtable({col.POOL_ID: sorted(pools)}, schema={col.POOL_ID: "string"})
    start = ibis.literal(first).cast("timestamp")
    end = ibis.literal(last + timedelta(days=1)).cast("timestamp")
    lines = lines.semi_join(wanted, col.POOL_ID).filter(
        lines.provider == provider, lines.day >= start, lines.day < end, ~lines.longer
    )
    rows: list[dict[str, Any]] = workspace.data.to_arrow(
        lines.select(col.POOL_ID, t.LINE_ID, "day", *LINE_FIELDS, cost=lines[metric])
    ).to_pylist()
    for row in rows:
        row["share"] = EXACT.multiply(pools[row[col.POOL_ID]], row["cost"] or Decimal(0))
    return rows
