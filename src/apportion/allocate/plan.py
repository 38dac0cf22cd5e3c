"""One allocation run for a period, as numbered steps (OpenCost style, each a small function):

1. claim: every cost line goes to the first rule whose match is true;
2. pool: claimed items with the same rule, currency, category, window and resource (and, for
   direct rules, the same tagged owner) form one pool: one grouped scan, no row-multiplying join;
3. split: each pool is split once by its targets' weights, exactly (largest remainder);
4. cascade: allocations a later rule matches are claimed and split again, until none are;
   an allocation that would return to a rule already in its path is a cycle;
5. conserve: allocations plus unallocated must equal ingested cost exactly, per currency and
   cost metric, and every pool must be split completely (apportion.allocate.conservation);
6. write: only a run that conserves replaces the period's allocations in the data plane.

This is the planner: it reads the data plane and the rules and computes, and writes nothing
but the allocations it is told to. The run that records itself in the ledger around it (a
period's state, the run's record, its lease) is apportion.ledger.allocation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from apportion.allocate import arrow_decimal, claims, overflow
from apportion.allocate import items as item_columns
from apportion.allocate.batch import TargetRows, split_pools
from apportion.allocate.capacity import Capacity
from apportion.allocate.cost_keys import allocated_quantities, cost_quantities
from apportion.allocate.drivers import Quantities, driver_quantities, month_quantities
from apportion.allocate.groups import GroupSplits
from apportion.allocate.pool import Pool
from apportion.allocate.quantities import split_quantities
from apportion.allocate.targets import (
    Implied,
    Measured,
    completed,
    dimension_maps,
    gap_reason,
    pool_targets,
)
from apportion.config import ActivityRule, Config, ProportionalRule, Rule
from apportion.config.models import CONSUMED_QUANTITY
from apportion.engine import DataPlane
from apportion.engine.carried import carried_keys
from apportion.engine.dataplane import conform_arrow, plain_arrow
from apportion.engine.tables import ALLOCATIONS, POOLS
from apportion.errors import UsageError
from apportion.money import to_units
from apportion.periods import Period
from apportion.progress import Progress
from apportion.rules.columns import allocation_columns, check_names
from apportion.rules.expr import Match, parse_match
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS
from apportion.tags.derived import TAG, Derivation, DerivedLines

UNALLOCATED = t.UNALLOCATED


class AllocationError(UsageError):
    """The rules cannot be applied as written (e.g. a cycle); a configuration problem."""


class EmptyPeriodError(AllocationError):
    """The period has no cost lines: an allocation of nothing would be published as if it
    were a month of spend (reviews would then ask to explain every use case's fall to zero)."""


@dataclass
class Plan:
    """Everything one run computes before it publishes."""

    pools: list[Pool] = field(default_factory=list)
    allocations: list[pa.Table] = field(default_factory=list)  # one per generation
    claimed: set[str] = field(default_factory=set)  # allocation ids a later rule split again
    member_exprs: list[ir.Table] = field(default_factory=list)
    members: list[dict[str, str]] = field(default_factory=list)
    folded: set[tuple[str, str, str]] = field(default_factory=set)  # driver values respelled
    notes: set[str] = field(default_factory=set)  # what a run says beside its figures
    quantities: pa.Table | None = None  # the quantities that are not money, split

    def allocation_table(self) -> pa.Table:
        """All allocations, ``is_final`` false where a later rule split them again."""
        table = pa.concat_tables(self.allocations) if self.allocations else _empty()
        table = table.unify_dictionaries()  # generations encoded their text separately
        final = pc.invert(
            pc.is_in(
                table[col.ALLOCATION_ID], value_set=pa.array(sorted(self.claimed), pa.string())
            )
        )
        return table.set_column(table.schema.get_field_index(col.IS_FINAL), col.IS_FINAL, final)


def refuse_if_empty(plane: DataPlane, period: Period) -> None:
    """Refuse a period with no cost lines before a run is recorded (bad input, not a failed
    run). Lines whose rows were all quarantined count as none: nothing of them was loaded."""
    lines = plane.table(t.COST_LINES)
    found = plane.to_arrow(
        lines.filter(lines[t.BILLING_PERIOD] == str(period)).select(t.BILLING_PERIOD).limit(1)
    )
    if found.num_rows:
        return
    raise EmptyPeriodError(
        f"period {period} has no cost lines: nothing to allocate. Ingest its bills first "
        f"(`apportion ingest FILE`); a bill counts in the month of its billing period"
    )


def parsed_rules(config: Config) -> list[tuple[Rule, Match]]:
    parsed = []
    for rule in config.rules:
        match = parse_match(rule.match)
        check_names(match, config.dimensions)
        parsed.append((rule, match))
    return parsed


# -- 1-4: claim, pool, split, cascade ---------------------------------------------------------
def plan_period(
    plane: DataPlane,
    config: Config,
    derivation: Derivation,
    rules: list[tuple[Rule, Match]],
    period: Period,
    run_id: str,
    say: Progress,
) -> Plan:
    dims = config.dimensions
    plan = Plan()
    lines = plane.table(t.COST_LINES)
    lines = lines.filter(lines[t.BILLING_PERIOD] == str(period))
    derived = derivation.lines(plane, lines, dims)
    claim = claims.claim(rules, derived.columns())
    sources = derived.sources if derivation.derives else None
    consumed = _reads_consumed(config)
    items = item_columns.from_lines(
        derived.table.mutate(claim=claim), dims, derived.values, sources, consumed
    )
    policy = derivation.policy
    # the dimension keys the driver files carry: read once, for every driver scan of the run
    carried = carried_keys(plane, "drivers")
    groups = GroupSplits(
        plane, config, rules, period, policy.canonical_value, policy.implied, carried
    )
    by_name = {rule.name: rule for rule, _ in rules}
    pooling = _Pooling(config, derivation, by_name, period, groups, derived, carried)
    say("pooling cost lines")
    for generation in range(len(rules) + 1):
        new, pools = _pool_and_split(plane, pooling, run_id, generation, items, plan, say)
        claimed = _claim_allocations(rules, config, new, pools, pooling.sourced)
        if claimed is None:
            break
        items = claimed
    else:
        raise AllocationError("allocation did not settle; report this with your rules")
    plan.folded.update(groups.folded)
    plan.notes.update(groups.notes)
    if config.quantities:
        say("splitting the quantities that are not money")
        plan.quantities = split_quantities(plane, config, period, run_id, policy.canonical_value)
    return plan


def _claim_allocations(
    rules: list[tuple[Rule, Match]],
    config: Config,
    new: pa.Table,
    pools: list[Pool],
    sourced: bool,
) -> ir.Table | None:
    dims = config.dimensions
    cascading = claims.cascading(rules, dims)
    if not cascading:
        return None  # decided before touching the rows: filtering them is not free
    candidates = new.filter(pc.not_equal(new[col.METHOD], "unallocated"))
    if candidates.num_rows == 0:
        return None
    by_name = {rule.name: rule for rule, _ in rules}
    paths = set(candidates[col.PATH].unique().to_pylist()) - {None}
    done_by = claims.done_by(cascading, paths, dims, by_name)
    for rule, _ in cascading:
        group = config.group_of(rule.name)
        if group is not None:
            # a group's split already took its cost out of the group: its rules are done
            # with it (apportion.allocate.groups decided which of its targets leave)
            ended = [p for p in paths if claims.path_names(p)[-1:] in ([g] for g in group.rules)]
            done_by[rule.name] = sorted({*done_by[rule.name], *ended})
    table = ibis.memtable(plain_arrow(_with_origin(candidates, pools, dims)))
    claim = claims.claim(cascading, allocation_columns(table, dims), table.path, done_by)
    claimed = table.mutate(claim=claim).filter(lambda s: s.claim.notnull())
    return item_columns.from_allocations(claimed, dims, sourced, _reads_consumed(config))


def _reads_consumed(config: Config) -> bool:
    """Whether a rule reads idle capacity from the lines' ConsumedQuantity: only then do
    items carry it and pools sum it."""
    return any(
        isinstance(rule, ProportionalRule)
        and rule.idle is not None
        and rule.idle.capacity == CONSUMED_QUANTITY
        for rule in config.rules
    )


def _with_origin(allocations: pa.Table, pools: list[Pool], dims: list[str]) -> pa.Table:
    """The allocations with the values their bill lines had (``origin__*``), from their pools:
    a later pool is keyed by them too, so they are carried through every split."""
    at = pc.index_in(
        pc.cast(allocations[col.POOL_ID], pa.string()),
        value_set=pa.array([pool.pool_id for pool in pools], pa.string()),
    )
    for k, d in enumerate(dims):
        values = pa.array([pool.origin[k] for pool in pools], pa.string())
        allocations = allocations.append_column(item_columns.origin_column(d), values.take(at))
    return allocations


@dataclass(frozen=True)
class _Pooling:
    """What pooling needs to know beyond the items: the rules, the period, and how a line's
    dimension values were derived."""

    config: Config
    derivation: Derivation
    rules: dict[str, Rule]  # by name
    period: Period
    groups: GroupSplits
    lines: DerivedLines  # the period's bill lines, for keys from cost
    carried: set[str] | None  # dimension keys the driver files carry (None: any)

    @property
    def dims(self) -> list[str]:
        return self.config.dimensions

    def defaults(self, pool: Pool) -> dict[str, str]:
        """What the pool's allocations take for a dimension nothing else gives a value."""
        return self.config.defaults_of(self.rules.get(pool.rule) if pool.rule else None)

    @property
    def sourced(self) -> bool:
        """Whether items carry where their values came from (some may be inherited or mapped)."""
        return self.derivation.derives

    def key(self, generation: int) -> list[str]:
        """What makes items one pool: the rule, the currency, the bill's own columns (a pool
        never mixes lines that differ in one), the driver window, the resource (direct and
        proportional rules), the dimension values the items already have (with where each
        came from, when that can differ) and, for allocations split again, the values their
        bill lines had (on a line they are the values themselves)."""
        fixed = ["claim", col.BILLING_CURRENCY, *t.BILL_DIMENSIONS, "pool_window", "pool_resource"]
        values = [item_columns.dim_column(d) for d in self.dims]
        sources = [item_columns.source_column(d) for d in self.dims] if self.sourced else []
        origin = [item_columns.origin_column(d) for d in self.dims] if generation else []
        return [*fixed, *values, *sources, *origin]

    def values(self, key: dict[str, Any]) -> tuple[str | None, ...]:
        """What the pool's items already say of each dimension, spelled as the policy spells
        values (``ML Platform`` is ``ml-platform``): here, once per pool, not on every line."""
        spell = self.derivation.policy.canonical_value
        found = [(d, key[item_columns.dim_column(d)]) for d in self.dims]
        return tuple(None if value is None else spell(d, value) for d, value in found)

    def origin(
        self, key: dict[str, Any], generation: int, values: tuple[str | None, ...]
    ) -> tuple[str | None, ...]:
        """The values the pool's bill lines had: its own values in generation 0."""
        if not generation:
            return values
        return tuple(key[item_columns.origin_column(d)] for d in self.dims)

    def sources(
        self, key: dict[str, Any], values: tuple[str | None, ...]
    ) -> list[tuple[str, str]] | None:
        """Where a pool of bill lines took each value from (its lineage); None for a pool of
        allocations (its path names the rules) or one with no values."""
        if all(value is None for value in values):
            return None
        if not self.sourced:
            return [(d, TAG) for d, value in zip(self.dims, values, strict=True) if value]
        found = [(d, key[item_columns.source_column(d)]) for d in self.dims]
        return [(d, source) for d, source in found if source is not None] or None


def _pool_and_split(
    plane: DataPlane,
    pooling: _Pooling,
    run_id: str,
    generation: int,
    items: ir.Table,
    plan: Plan,
    say: Progress,
) -> tuple[pa.Table, list[Pool]]:
    """The generation's allocations, and its pools."""
    dims, period, by_name = pooling.dims, pooling.period, pooling.rules
    # Items are pooled in one grouped scan and a pool's id is made from its key afterwards;
    # lineage reads the items again and finds each one's pool by key. Two scans cost less
    # than writing every item with its id (20 M cost lines: 20 s against 8 s).
    keyed = _with_pool_keys(items, pooling)
    sums, pool_keys = _aggregate_pools(plane, keyed, pooling, generation)
    members = _members(keyed, pool_keys, pooling.key(generation))
    if generation == 0:
        plan.member_exprs.append(
            members.select(
                **{t.BILLING_PERIOD: ibis.literal(str(period))},
                pool_id=members.pool_id,
                member_id=members.member_id,
            )
        )
        paths: dict[str, str] = {}
    else:
        rows = plane.to_arrow(members.select(col.POOL_ID, col.MEMBER_ID, col.PATH)).to_pylist()
        paths = _cascade_paths(rows, {row[col.POOL_ID]: row["claim"] for row in sums})
        plan.members.extend(
            {
                t.BILLING_PERIOD: str(period),
                col.POOL_ID: r[col.POOL_ID],
                col.MEMBER_ID: r[col.MEMBER_ID],
            }
            for r in rows
        )
        plan.claimed.update(r[col.MEMBER_ID] for r in rows)
    pools = [_pool(row, pooling, generation, run_id, paths) for row in sums]
    say(f"splitting {len(pools)} pools (generation {generation})")
    # pools weighed by what earlier rules allocated are split once the others have been
    later = [_weighs_allocations(by_name.get(pool.rule or "")) for pool in pools]
    weighed = [pool for pool, last in zip(pools, later, strict=True) if last]
    first = [pool for pool, last in zip(pools, later, strict=True) if not last]
    new = _split(plane, pooling, first, plan, {})
    if weighed:
        allocated = allocated_quantities(
            [*plan.allocations, new], plan.claimed, weighed, by_name, dims
        )
        new = pa.concat_tables([new, _split(plane, pooling, weighed, plan, allocated)])
        new = new.unify_dictionaries()
    plan.pools.extend([*first, *weighed])
    plan.allocations.append(new)
    return new, [*first, *weighed]


def _weighs_allocations(rule: Rule | None) -> bool:
    return isinstance(rule, ActivityRule) and bool(rule.allocated_by)


def _split(
    plane: DataPlane,
    pooling: _Pooling,
    pools: list[Pool],
    plan: Plan,
    allocated: dict[str, Quantities],
) -> pa.Table:
    """Pools split by their rules' targets: an allocation table. ``allocated``: the
    quantities of rules weighed by earlier allocations (apportion.allocate.cost_keys)."""
    dims, by_name = pooling.dims, pooling.rules
    quantities = {**_quantities(plane, pooling, pools), **allocated}
    for found in quantities.values():
        plan.folded.update(found.folded)
    monthly = _monthly(pooling, plane, pools)
    capacities = _capacities(plane, pooling, pools)
    for found in [*monthly.values(), *(c.reserved for c in capacities.values() if c.reserved)]:
        plan.folded.update(found.folded)
    measured = Measured(
        quantities,
        monthly=monthly,
        capacities=capacities,
        grouped=pooling.groups.split(pools),
        workload=pooling.config.ledger.workload,
    )
    targets, reasons = pool_targets(pools, by_name, dims, measured)
    implied = pooling.derivation.policy.implied
    defaults = [pooling.defaults(pool) for pool in pools]
    return _allocation_table(pools, targets, reasons, by_name, dims, implied, defaults)


def _with_pool_keys(items: ir.Table, pooling: _Pooling) -> ir.Table:
    """Add the window and resource of the pool key (:meth:`_Pooling.key`) to every item."""
    rules, period = pooling.rules, pooling.period
    day = items.charge_start.truncate("D")
    month = ibis.literal(period.start).cast("timestamp")
    window_cases = [
        (items.claim == name, day if rule.window == "day" else month)
        for name, rule in rules.items()
        if rule.method in ("proportional", "activity")
    ]
    window = (
        ibis.cases(*window_cases, else_=ibis.null("timestamp"))
        if window_cases
        else (ibis.null("timestamp"))
    )
    # a direct pool is one owner's cost of one resource: splitting it costs nothing, and
    # its allocation then says which resource (a model, a deployment) it paid for
    per_resource = [name for name, rule in rules.items() if rule.method in _PER_RESOURCE]
    resource = ibis.ifelse(items.claim.isin(per_resource or [""]), items.ResourceId, None)
    return items.mutate(pool_window=window, pool_resource=resource)


_PER_RESOURCE = ("proportional", "direct")


def _pool_id(generation: int, key: list[Any]) -> str:
    """A stable id from the pool's key: the same pool gets the same id on every engine."""
    parts = [str(generation), *(None if v is None else str(v) for v in key)]
    # length-prefixed parts, "-" for none: no tag value can make two keys read alike
    encoded = "".join("-" if part is None else f"{len(part)}:{part}" for part in parts)
    return hashlib.md5(encoded.encode(), usedforsecurity=False).hexdigest()[:20]


def _aggregate_pools(
    plane: DataPlane, keyed: ir.Table, pooling: _Pooling, generation: int
) -> tuple[list[dict[str, Any]], pa.Table]:
    """The pools' sums, one row each with its id, and their keys with their ids (for finding
    each item's pool)."""
    key = pooling.key(generation)
    consumed = (
        {"consumed": keyed[item_columns.CONSUMED].sum()} if _reads_consumed(pooling.config) else {}
    )
    grouped = keyed.group_by(*key).aggregate(
        members=keyed.count(),
        # a resource the pool is not keyed by is named only when all its items share it
        resource_id_min=keyed.ResourceId.min(),
        resource_id_max=keyed.ResourceId.max(),
        resource_name_min=keyed.ResourceName.min(),
        resource_name_max=keyed.ResourceName.max(),
        **{metric: keyed[metric].sum() for metric in COST_METRICS},
        **consumed,
    )
    table = _summed_pools(plane, keyed, key, grouped)
    ids = [_pool_id(generation, list(row.values())) for row in table.select(key).to_pylist()]
    table = table.append_column(col.POOL_ID, pa.array(ids, pa.string())).sort_by(col.POOL_ID)
    keys = table.select([*key, col.POOL_ID])
    return table.to_pylist(), keys.rename_columns([f"pool__{name}" for name in keys.column_names])


def _pool(
    row: dict[str, Any], pooling: _Pooling, generation: int, run_id: str, paths: dict[str, str]
) -> Pool:
    """A pool from its sums (:func:`_aggregate_pools`), with its rule's method and driver and
    the path its cost took."""
    pool_id, claim = row[col.POOL_ID], row["claim"]
    rule = pooling.rules.get(claim) if claim else None
    values = pooling.values(row)
    return Pool(
        pool_id=pool_id,
        run_id=run_id,
        generation=generation,
        period=str(pooling.period),
        rule=claim,
        method=rule.method if rule else "unallocated",
        driver=rule.driver if isinstance(rule, ProportionalRule | ActivityRule) else None,
        path=" -> ".join(p for p in (paths.get(pool_id, ""), claim) if p),
        currency=row[col.BILLING_CURRENCY],
        bill={name: row[name] for name in t.BILL_DIMENSIONS},
        window_start=row["pool_window"],
        pool_resource=row["pool_resource"],
        resource_id=row["pool_resource"] or _uniform(row, "resource_id"),
        resource_name=_uniform(row, "resource_name"),
        values=values,
        origin=pooling.origin(row, generation, values),
        sources=pooling.sources(row, values) if not generation else None,
        members=row[col.MEMBERS],
        amounts={m: row[m] if row[m] is not None else Decimal(0) for m in COST_METRICS},
        consumed=row.get("consumed"),
    )


def _summed_pools(plane: DataPlane, keyed: ir.Table, key: list[str], grouped: ir.Table) -> pa.Table:
    """The pools' sums, or a PoolOverflowError naming each pool that passes DECIMAL(38, 18):
    DuckDB hands such a sum back (or fails past 128 bits), Spark fails on it."""
    try:
        table = plane.to_arrow(grouped)
    except Exception as failure:
        try:  # only now, so the usual run pays nothing for the check
            found = overflow.overflowing_pools(plane, keyed, key)
        except Exception:
            raise failure from None
        if not found:
            raise
        raise overflow.pool_overflow(plane, keyed, key, found) from None
    found = overflow.oversized(table)
    if found:
        raise overflow.pool_overflow(plane, keyed, key, found)
    return table


def _uniform(row: dict[str, Any], name: str) -> str | None:
    low, high = row[f"{name}_min"], row[f"{name}_max"]
    return low if low == high else None


def _members(keyed: ir.Table, pool_keys: pa.Table, key: list[str]) -> ir.Table:
    """Every item with the id of its pool: a join on the key (NULL matches NULL) against the
    pools, a few thousand rows."""
    pools = ibis.memtable(pool_keys)
    joined = keyed.join(pools, [keyed[name].identical_to(pools[f"pool__{name}"]) for name in key])
    return joined.select(
        pool_id=joined.pool__pool_id,
        member_id=joined.member_id,
        path=joined.path,
    )


def _cascade_paths(rows: list[dict[str, Any]], rule_of: dict[str, str]) -> dict[str, str]:
    """The rules each pool's cost has passed through; returning to one of them is a cycle.
    ``rule_of``: each pool's rule, by its id."""
    paths: dict[str, list[str]] = {}
    for row in rows:
        before = [name for name in row[col.PATH].split(" -> ") if name]
        rule = rule_of[row[col.POOL_ID]]
        if rule in before:
            cycle = " -> ".join([*before[before.index(rule) :], rule])
            raise AllocationError(
                f"rules form a cycle: {cycle}. To solve it, list the rules of the cycle in "
                "rule_groups with method: reciprocal or step-down"
            )
        known = paths.setdefault(row[col.POOL_ID], [])
        for name in before:
            if name not in known:
                known.append(name)
    return {pool_id: " -> ".join(names) for pool_id, names in paths.items()}


def _quantities(plane: DataPlane, pooling: _Pooling, pools: list[Pool]) -> dict[str, Quantities]:
    """Driver quantities for every driver-based rule that has pools, one grouped scan each;
    their dimension values spelled as the tag policy spells tag values."""
    found: dict[str, Quantities] = {}
    carried = pooling.carried
    period = pooling.period
    for name, rule in pooling.rules.items():
        if not isinstance(rule, ProportionalRule | ActivityRule) or pooling.groups.group_of(name):
            continue  # a group's rules read their targets for the group's solve
        windows = [p.window_start for p in pools if p.rule == name and p.window_start]
        if not windows:
            continue
        if isinstance(rule, ActivityRule) and rule.cost_of is not None:
            found[name] = cost_quantities(plane, pooling.lines, rule, pooling.dims, period)
            continue
        if _weighs_allocations(rule):
            continue  # weighed by earlier allocations, once they are made
        found[name] = driver_quantities(
            plane,
            driver=rule.driver,
            window=rule.window,
            by_resource=isinstance(rule, ProportionalRule),
            only_resource=rule.driver_resource if isinstance(rule, ActivityRule) else None,
            windows=windows,
            period_start=period.start,
            period_end=period.end,
            dimensions=pooling.dims,
            carried=carried,
            spell=pooling.derivation.policy.canonical_value,
        )
    return found


def _capacities(plane: DataPlane, pooling: _Pooling, pools: list[Pool]) -> dict[str, Capacity]:
    """Reservations and capacity per window and resource, for each proportional rule with
    pools that has either (apportion.allocate.capacity)."""
    found: dict[str, Capacity] = {}
    for name, rule in pooling.rules.items():
        if not isinstance(rule, ProportionalRule) or not (rule.idle or rule.reservations):
            continue
        windows = [p.window_start for p in pools if p.rule == name and p.window_start]
        if not windows:
            continue

        capacity = rule.idle.capacity if rule.idle else None
        reserved, dims = rule.reservations, pooling.dims
        found[name] = Capacity(
            reserved=_by_window(plane, pooling, rule, reserved, dims, windows)
            if reserved
            else None,
            # a capacity driver's rows are summed per window and resource, whoever they name
            available=_by_window(plane, pooling, rule, capacity, [], windows)
            if capacity and capacity != CONSUMED_QUANTITY
            else None,
        )
    return found


def _by_window(
    plane: DataPlane,
    pooling: _Pooling,
    rule: ProportionalRule,
    driver: str,
    dims: list[str],
    windows: list[datetime],
) -> Quantities:
    """Another driver's quantities in the windows and on the resources of a rule's pools."""
    return driver_quantities(
        plane,
        driver=driver,
        window=rule.window,
        by_resource=True,
        windows=windows,
        period_start=pooling.period.start,
        period_end=pooling.period.end,
        dimensions=dims,
        carried=pooling.carried,
        spell=pooling.derivation.policy.canonical_value,
    )


def _monthly(pooling: _Pooling, plane: DataPlane, pools: list[Pool]) -> dict[str, Quantities]:
    """The month's targets of each rule with pools that splits evenly when its own window
    measured nothing (``on_zero: even``)."""
    found: dict[str, Quantities] = {}
    with_pools = {pool.rule for pool in pools}
    for name, rule in pooling.rules.items():
        if not isinstance(rule, ProportionalRule | ActivityRule) or rule.on_zero != "even":
            continue
        if name not in with_pools or pooling.groups.group_of(name) or _weighs_allocations(rule):
            continue  # a key of allocations is the month's already
        if isinstance(rule, ActivityRule) and rule.cost_of is not None:
            month = rule.model_copy(update={"window": "month"})
            found[name] = cost_quantities(plane, pooling.lines, month, pooling.dims, pooling.period)
            continue
        found[name] = month_quantities(
            plane,
            driver=rule.driver,
            only_resource=rule.driver_resource if isinstance(rule, ActivityRule) else None,
            period_start=pooling.period.start,
            period_end=pooling.period.end,
            dimensions=pooling.dims,
            carried=pooling.carried,
            spell=pooling.derivation.policy.canonical_value,
        )
    return found


def _allocation_table(
    pools: list[Pool],
    targets: TargetRows,
    reasons: dict[int, str],
    rules: dict[str, Rule],
    dims: list[str],
    implied: Implied,
    defaults: list[dict[str, str]],
) -> pa.Table:
    """Split rows for pools with targets, one unallocated row for each pool without; every
    row with every dimension the rule, the pool or the catalogue gives, and why not where
    none does."""
    split = split_pools([pool.amounts for pool in pools], targets)
    rows = len(targets)
    unallocated = sorted(reasons)
    # the unallocated rows follow the split rows; each carries its whole pool
    every_pool = np.r_[targets.pool, np.asarray(unallocated, dtype=np.int64)]
    carried = [{name: pool.column(name) for name in _POOL_CARRIED} for pool in pools]
    for p in unallocated:
        carried[p][col.METHOD] = "unallocated"
    pool_rows = _per_pool(pa.Table.from_pylist(carried, schema=_POOL_SCHEMA), every_pool)
    index = np.r_[split.index_in_pool, np.zeros(len(unallocated), dtype=np.int64)]
    nowhere = pa.nulls(len(unallocated), pa.string())  # only what the pool itself says
    values, lacking = completed(
        [pa.concat_arrays([column, nowhere]) for column in targets.dims],
        every_pool,
        pools,
        dims,
        implied,
        defaults,
        np.r_[np.ones(rows, dtype=bool), np.zeros(len(unallocated), dtype=bool)],
    )
    # one reason per pool, shared by its rows as a dictionary entry (not a copy per row)
    said = pa.array(
        [
            gap_reason(rules.get(pool.rule) if pool.rule else None, reasons.get(p))
            for p, pool in enumerate(pools)
        ],
        pa.string(),
    )
    gap_reasons = pa.DictionaryArray.from_arrays(
        pa.array(every_pool.astype(np.int32), mask=~lacking), said
    )
    measured = np.r_[targets.measured, np.zeros(len(unallocated), dtype=bool)]
    # a weight that is not a driver quantity is not shown (a group's solved shares are
    # integers far wider than a quantity column)
    quantity = np.where(measured, np.r_[targets.weight, np.zeros(len(unallocated), object)], 0)
    pool_weight = np.where(measured, np.r_[split.pool_weight, np.ones(len(unallocated), object)], 0)
    mask = pa.array(~measured)
    quantity_column = pc.if_else(
        mask, pa.scalar(None, _QUANTITY), arrow_decimal.decimals(quantity, t.QUANTITY_SCALE)
    )
    pool_quantity_column = pc.if_else(
        mask, pa.scalar(None, _QUANTITY), arrow_decimal.decimals(pool_weight, t.QUANTITY_SCALE)
    )
    amounts: dict[str, pa.Array] = {}
    converted: dict[tuple[int, tuple[int, ...]], pa.Array] = {}  # metrics with equal amounts
    for metric in COST_METRICS:
        whole = tuple(to_units(pools[p].amounts[metric], t.MONEY_SCALE) for p in unallocated)
        key = (id(split.parts[metric]), whole)
        if key not in converted:
            units = np.r_[split.parts[metric], np.array(whole, dtype=object)]
            converted[key] = arrow_decimal.decimals(units, t.MONEY_SCALE)
        amounts[metric] = converted[key]
    allocation_id = pc.binary_join_element_wise(
        pool_rows[col.POOL_ID].dictionary_decode(), pc.cast(pa.array(index), pa.string()), ":"
    )
    reason_column = pa.array([None] * rows + [reasons[p] for p in unallocated], pa.string())
    columns = {
        col.RUN_ID: pool_rows[col.RUN_ID],
        col.ALLOCATION_ID: allocation_id,
        col.POOL_ID: pool_rows[col.POOL_ID],
        col.RULE: pool_rows[col.RULE],
        col.METHOD: pool_rows[col.METHOD],
        col.DRIVER: pool_rows[col.DRIVER],
        col.GENERATION: pool_rows[col.GENERATION],
        col.IS_FINAL: pa.array(np.ones(len(every_pool), dtype=bool)),
        col.REASON: reason_column,
        t.BILLING_PERIOD: pool_rows[t.BILLING_PERIOD],
        col.BILLING_CURRENCY: pool_rows[col.BILLING_CURRENCY],
        **{name: pool_rows[name] for name in t.BILL_DIMENSIONS},
        col.RESOURCE_ID: pool_rows[col.RESOURCE_ID],
        col.RESOURCE_NAME: pool_rows[col.RESOURCE_NAME],
        col.WINDOW_START: pool_rows[col.WINDOW_START],
        col.DIMENSIONS: dimension_maps(dims, values),
        col.GAP_REASON: gap_reasons,
        col.QUANTITY: quantity_column,
        col.POOL_QUANTITY: pool_quantity_column,
        col.PATH: pool_rows[col.PATH],
        **amounts,
    }
    return conform_arrow(pa.table(columns), ALLOCATIONS.to_pyarrow())


def _per_pool(pools: pa.Table, rows: npt.NDArray[np.int64]) -> dict[str, pa.Array]:
    """Each pool column repeated for the given rows. Text stays one value per pool with an
    index per row (dictionary-encoded), not a copy per row: at 1.5 M rows that is hundreds of
    megabytes less, and the engines and Parquet take it as it is."""
    taken = pa.array(rows, pa.int64())
    columns: dict[str, pa.Array] = {}
    for name in pools.column_names:
        column = pools[name].combine_chunks()
        if not pa.types.is_string(column.type) or name == t.BILLING_PERIOD:
            # the period stays plain: stores partition and filter on it
            columns[name] = column.take(taken)
            continue
        # distinct values once (two pools of one currency share its entry), then by row
        encoded = pc.dictionary_encode(column)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        missing = encoded.is_null().to_numpy(zero_copy_only=False)[rows]
        indices = pa.array(np.nan_to_num(codes[rows]).astype(np.int32), mask=missing)
        columns[name] = pa.DictionaryArray.from_arrays(indices, encoded.dictionary)
    return columns


_QUANTITY = pa.decimal128(38, t.QUANTITY_SCALE)
_POOL_CARRIED = (
    col.RUN_ID,
    col.POOL_ID,
    col.RULE,
    col.METHOD,
    col.DRIVER,
    col.GENERATION,
    t.BILLING_PERIOD,
    col.BILLING_CURRENCY,
    *t.BILL_DIMENSIONS,
    col.RESOURCE_ID,
    col.RESOURCE_NAME,
    col.WINDOW_START,
    col.PATH,
)
_POOL_SCHEMA = pa.schema(
    [
        ALLOCATIONS.to_pyarrow().field(name)
        if name != col.PATH
        else pa.field(col.PATH, pa.string())
        for name in _POOL_CARRIED
    ]
)


def _empty() -> pa.Table:
    return ALLOCATIONS.to_pyarrow().empty_table()


# -- 6: write ---------------------------------------------------------------------------------
def write_allocations(
    plane: DataPlane, period: Period, dims: list[str], plan: Plan, allocations: pa.Table
) -> None:
    pools = pa.Table.from_pylist(
        [_pool_record(pool, dims) for pool in plan.pools], schema=POOLS.to_pyarrow()
    )
    with plane.transaction():
        for name in (t.ALLOCATIONS, t.POOLS, t.POOL_MEMBERS, t.QUANTITY_ALLOCATIONS):
            plane.delete(name, {t.BILLING_PERIOD: str(period)})
        if plan.quantities is not None and plan.quantities.num_rows:
            plane.insert(t.QUANTITY_ALLOCATIONS, plan.quantities)
        plane.insert(t.ALLOCATIONS, allocations)
        plane.insert(t.POOLS, pools)
        for expr in plan.member_exprs:
            plane.insert(t.POOL_MEMBERS, expr)
        if plan.members:
            plane.insert(t.POOL_MEMBERS, pa.Table.from_pylist(plan.members))


def _pool_record(pool: Pool, dims: list[str]) -> dict[str, Any]:
    """A pool as the pools table keeps it: its values as maps of what is known."""
    record = {name: pool.column(name) for name in POOLS.names}
    for name, values in ((col.DIMENSIONS, pool.values), (col.ORIGIN, pool.origin)):
        record[name] = [(d, v) for d, v in zip(dims, values, strict=True) if v is not None]
    return record
