"""One allocation run for a period, as numbered steps (OpenCost style, each a small function):

1. claim: every cost line goes to the first rule whose match is true;
2. pool: claimed items with the same rule, currency, category, window and resource (and, for
   direct rules, the same tagged owner) form one pool: one grouped scan, no row-multiplying join;
3. split: each pool is split once by its targets' weights, exactly (largest remainder);
4. cascade: allocations a later rule matches are claimed and split again, until none are;
   an allocation that would return to a rule already in its path is a cycle;
5. conserve: allocations plus unallocated must equal ingested cost exactly, per currency and
   cost metric, and every pool must be split completely;
6. publish: only a run that conserves replaces the period's allocations.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apportion.allocate import items as item_columns
from apportion.allocate.conservation import ConservationError, check_conservation
from apportion.allocate.drivers import Target, driver_quantities
from apportion.allocate.periods import Period
from apportion.allocate.split import split
from apportion.config import (
    ActivityRule,
    Config,
    DirectRule,
    EvenRule,
    ProportionalRule,
    Rule,
    config_hash,
)
from apportion.engine import DataPlane
from apportion.engine.tables import ALLOCATIONS, POOLS
from apportion.money import exact_sum
from apportion.rules.columns import allocation_columns, check_names, compile_match, line_columns
from apportion.rules.expr import Match, parse_match, referenced_columns
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS
from apportion.workspace import Workspace

Progress = Callable[[str], None]
UNALLOCATED = t.UNALLOCATED


class AllocationError(ValueError):
    """The rules cannot be applied as written (e.g. a cycle); a configuration problem."""


@dataclass
class RunResult:
    run_id: str
    period: str
    published: bool
    pools: int = 0
    allocations: int = 0
    generations: int = 0
    message: str | None = None


@dataclass
class _Plan:
    """Everything one run computes before it publishes."""

    pools: list[dict[str, Any]] = field(default_factory=list)
    allocations: list[dict[str, Any]] = field(default_factory=list)
    member_exprs: list[ir.Table] = field(default_factory=list)
    members: list[dict[str, str]] = field(default_factory=list)


def allocate_period(
    workspace: Workspace, period_text: str, progress: Progress | None = None
) -> RunResult:
    say = progress or (lambda _: None)
    config = workspace.config
    period = Period.parse(period_text)
    rules = _parsed_rules(config)
    run_id = f"{period}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    control = workspace.control
    control.start_run(run_id, str(period), config_hash(config))
    plane = workspace.data
    try:
        plan = _plan(plane, config, rules, period, run_id, say)
        say("checking conservation")
        check_conservation(plane, period, plan.pools, plan.allocations)
    except ConservationError as exc:
        control.finish_run(run_id, "failed", str(exc), None)
        return RunResult(run_id, str(period), published=False, message=str(exc))
    except Exception as exc:
        control.finish_run(run_id, "failed", str(exc), None)
        raise
    say("publishing")
    try:
        _publish(plane, period, run_id, plan)
    except Exception as exc:  # the transaction rolled back: the last good state stands
        control.finish_run(run_id, "failed", f"publishing failed: {exc}", None)
        raise
    control.finish_run(run_id, "published", None, {"pools": len(plan.pools)})
    generations = max((p["generation"] for p in plan.pools), default=-1) + 1
    return RunResult(
        run_id,
        str(period),
        published=True,
        pools=len(plan.pools),
        allocations=len(plan.allocations),
        generations=generations,
    )


def _parsed_rules(config: Config) -> list[tuple[Rule, Match]]:
    parsed = []
    for rule in config.rules:
        match = parse_match(rule.match)
        check_names(match, config.dimensions)
        parsed.append((rule, match))
    return parsed


# -- 1-4: claim, pool, split, cascade ---------------------------------------------------------
def _plan(
    plane: DataPlane,
    config: Config,
    rules: list[tuple[Rule, Match]],
    period: Period,
    run_id: str,
    say: Progress,
) -> _Plan:
    dims = config.dimensions
    plan = _Plan()
    lines = plane.table(t.COST_LINES)
    lines = lines.filter(lines[t.BILLING_PERIOD] == str(period))
    claim = _claim(rules, line_columns(lines, dims), producer=None)
    items = item_columns.from_lines(lines.mutate(claim=claim), dims)
    say("pooling cost lines")
    for generation in range(len(rules) + 1):
        new = _pool_and_split(plane, config, rules, period, run_id, generation, items, plan, say)
        claimed = _claim_allocations(rules, dims, new)
        if claimed is None:
            return plan
        items = claimed
    raise AllocationError("allocation did not settle; report this with your rules")


def _claim(
    rules: Sequence[tuple[Rule, Match]],
    columns: Any,
    producer: ir.StringValue | None,
) -> ir.StringValue:
    cases = []
    for rule, match in rules:
        condition = compile_match(match, columns)
        if producer is not None:
            # an allocation is never claimed again by the rule that made it
            condition = condition & (producer != rule.name)
        cases.append((condition, rule.name))
    if not cases:
        return ibis.null("string")
    return ibis.cases(*cases, else_=ibis.null("string"))


def _claim_allocations(
    rules: list[tuple[Rule, Match]], dims: list[str], new: list[dict[str, Any]]
) -> ir.Table | None:
    # Only rules that name a dimension see allocations: a cascade is written on the values an
    # earlier rule allocated to ("use_case = 'shared-services'"), and a rule about bill
    # columns (ServiceName, x_Category) must not claim the cost it already split.
    cascading = [(rule, match) for rule, match in rules if referenced_columns(match) & set(dims)]
    candidates = [a for a in new if a["method"] != "unallocated"]
    if not candidates or not cascading:
        return None
    table = ibis.memtable(_allocations_arrow(candidates))
    claim = _claim(cascading, allocation_columns(table, dims), producer=table.rule)
    claimed = table.mutate(claim=claim).filter(lambda s: s.claim.notnull())
    return item_columns.from_allocations(claimed, dims)


def _pool_and_split(
    plane: DataPlane,
    config: Config,
    rules: list[tuple[Rule, Match]],
    period: Period,
    run_id: str,
    generation: int,
    items: ir.Table,
    plan: _Plan,
    say: Progress,
) -> list[dict[str, Any]]:
    dims = config.dimensions
    by_name = {rule.name: rule for rule, _ in rules}
    keyed = _with_pool_keys(items, by_name, dims, period, generation)
    pools = _aggregate_pools(plane, keyed, dims)
    if generation == 0:
        plan.member_exprs.append(
            keyed.select(
                run_id=ibis.literal(run_id),
                **{t.BILLING_PERIOD: ibis.literal(str(period))},
                pool_id=keyed.pool_id,
                member_kind=keyed.member_kind,
                member_id=keyed.member_id,
            )
        )
        paths: dict[str, str] = {}
    else:
        rows = plane.to_arrow(keyed.select("pool_id", "member_id", "path")).to_pylist()
        paths = _cascade_paths(rows, pools)
        plan.members.extend(
            {
                "run_id": run_id,
                t.BILLING_PERIOD: str(period),
                "pool_id": r["pool_id"],
                "member_kind": "allocation",
                "member_id": r["member_id"],
            }
            for r in rows
        )
        claimed_ids = {r["member_id"] for r in rows}
        for allocation in plan.allocations:
            if allocation["allocation_id"] in claimed_ids:
                allocation["is_final"] = False
    say(f"splitting {len(pools)} pools (generation {generation})")
    quantities = _quantities(plane, config, by_name, pools, period)
    new: list[dict[str, Any]] = []
    for pool in pools:
        pool.update(run_id=run_id, generation=generation, x_BillingPeriod=str(period))
        rule = by_name.get(pool["rule"]) if pool["rule"] else None
        pool["method"] = rule.method if rule else "unallocated"
        pool["driver"] = getattr(rule, "driver", None)
        path = paths.get(pool["pool_id"], "")
        new.extend(_split_pool(pool, rule, dims, quantities, path))
        plan.pools.append(pool)
    plan.allocations.extend(new)
    return new


def _with_pool_keys(
    items: ir.Table,
    rules: dict[str, Rule],
    dims: list[str],
    period: Period,
    generation: int,
) -> ir.Table:
    """Add the pool key columns and a stable pool id to every item."""
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
    proportional = [name for name, rule in rules.items() if rule.method == "proportional"]
    direct = [name for name, rule in rules.items() if rule.method == "direct"]
    resource = ibis.ifelse(items.claim.isin(proportional or [""]), items.ResourceId, None)
    is_direct = items.claim.isin(direct or [""])
    owner = {
        f"key__{d}": ibis.ifelse(is_direct, items[item_columns.dim_column(d)], None) for d in dims
    }
    keyed = items.mutate(pool_window=window, pool_resource=resource, **owner)
    parts = [
        ibis.literal(str(generation)),
        keyed.claim.fill_null("~unclaimed"),
        keyed.BillingCurrency,
        keyed.ChargeCategory.fill_null("~"),
        keyed[t.CATEGORY],
        keyed.pool_window.cast("string").fill_null("~"),
        keyed.pool_resource.fill_null("~"),
        *[keyed[f"key__{d}"].fill_null("~") for d in dims],
    ]
    pool_id = ibis.literal("\x1f").join(parts).hexdigest("md5").substr(0, 20)
    return keyed.mutate(pool_id=pool_id)


def _aggregate_pools(plane: DataPlane, keyed: ir.Table, dims: list[str]) -> list[dict[str, Any]]:
    grouped = keyed.group_by(
        "pool_id",
        rule=keyed.claim,
        BillingCurrency=keyed.BillingCurrency,
        ChargeCategory=keyed.ChargeCategory,
        **{t.CATEGORY: keyed[t.CATEGORY]},
        window_start=keyed.pool_window,
        ResourceId=keyed.pool_resource,
        **{f"key__{d}": keyed[f"key__{d}"] for d in dims},
    ).aggregate(
        members=keyed.count(),
        ResourceName=keyed.ResourceName.min(),
        ServiceName=keyed.ServiceName.min(),
        ProviderName=keyed.ProviderName.min(),
        **{metric: keyed[metric].sum() for metric in COST_METRICS},
    )
    pools: list[dict[str, Any]] = plane.to_arrow(grouped.order_by("pool_id")).to_pylist()
    for pool in pools:
        for metric in COST_METRICS:
            pool[metric] = pool[metric] if pool[metric] is not None else Decimal(0)
        pool["owner"] = tuple(pool.pop(f"key__{d}") for d in dims)
    return pools


def _cascade_paths(rows: list[dict[str, Any]], pools: list[dict[str, Any]]) -> dict[str, str]:
    """The rules each pool's cost has passed through; returning to one of them is a cycle."""
    rule_of = {pool["pool_id"]: pool["rule"] for pool in pools}
    paths: dict[str, list[str]] = {}
    for row in rows:
        before = [name for name in row["path"].split(" -> ") if name]
        rule = rule_of[row["pool_id"]]
        if rule in before:
            cycle = " -> ".join([*before[before.index(rule) :], rule])
            raise AllocationError(f"rules form a cycle: {cycle}")
        known = paths.setdefault(row["pool_id"], [])
        for name in before:
            if name not in known:
                known.append(name)
    return {pool_id: " -> ".join(names) for pool_id, names in paths.items()}


def _quantities(
    plane: DataPlane,
    config: Config,
    rules: dict[str, Rule],
    pools: list[dict[str, Any]],
    period: Period,
) -> dict[str, dict[Any, list[tuple[Target, Decimal]]]]:
    """Driver quantities for every driver-based rule that has pools, one grouped scan each."""
    found: dict[str, dict[Any, list[tuple[Target, Decimal]]]] = {}
    for name, rule in rules.items():
        if not isinstance(rule, ProportionalRule | ActivityRule):
            continue
        windows = [p["window_start"] for p in pools if p["rule"] == name]
        if not windows:
            continue
        found[name] = driver_quantities(
            plane,
            driver=rule.driver,
            window=rule.window,
            by_resource=isinstance(rule, ProportionalRule),
            windows=windows,
            period_start=period.start,
            period_end=period.end,
            dimensions=config.dimensions,
        )
    return found


def _split_pool(
    pool: dict[str, Any],
    rule: Rule | None,
    dims: list[str],
    quantities: dict[str, dict[Any, list[tuple[Target, Decimal]]]],
    path: str,
) -> list[dict[str, Any]]:
    if rule is None:
        return [_unallocated(pool, dims, "no rule matched", path)]
    if isinstance(rule, DirectRule):
        return _allocations(pool, dims, [(pool["owner"], Decimal(1))], path, quantity=False)
    if isinstance(rule, ProportionalRule | ActivityRule):
        key = (pool["window_start"], pool["ResourceId"])
        targets = [(d, q) for d, q in quantities.get(rule.name, {}).get(key, []) if q > 0]
        if not targets:
            # the pool row keeps its resource and window; the reason says what was missing
            reason = f"no {rule.driver} quantity"
            return [_unallocated(pool, dims, reason, path)]
        return _allocations(pool, dims, targets, path, quantity=True)
    if isinstance(rule, EvenRule):
        ((dimension, names),) = rule.targets.items()
        weighted = [(name, Decimal(1)) for name in names]
    else:
        ((dimension, shares),) = rule.shares.items()
        weighted = list(shares.items())
    targets = [
        (tuple(value if d == dimension else None for d in dims), weight)
        for value, weight in sorted(weighted)
    ]
    return _allocations(pool, dims, targets, path, quantity=False)


def _named(dims: Sequence[str], target: Target) -> dict[str, str]:
    """Target values by dimension; a dimension the target does not name is __unallocated__."""
    return {d: value or UNALLOCATED for d, value in zip(dims, target, strict=True)}


def _allocations(
    pool: dict[str, Any],
    dims: Sequence[str],
    targets: list[tuple[Target, Decimal]],
    path: str,
    *,
    quantity: bool,
) -> list[dict[str, Any]]:
    weights = [weight for _, weight in targets]
    total = exact_sum(weights)
    parts = {metric: split(pool[metric], weights) for metric in COST_METRICS}
    new_path = " -> ".join(p for p in (path, pool["rule"]) if p)
    rows = []
    for index, (target, weight) in enumerate(targets):
        rows.append(
            _allocation_row(
                pool,
                index,
                dimensions=_named(dims, target),
                amounts={metric: parts[metric][index] for metric in COST_METRICS},
                quantity=weight if quantity else None,
                pool_quantity=total if quantity else None,
                share=f"{_plain(weight)}/{_plain(total)}",
                reason=None,
                path=new_path,
            )
        )
    return rows


def _plain(value: Decimal) -> str:
    """2.000000000000 -> 2, so a share reads as 2/3."""
    return format(value.normalize(), "f")


def _unallocated(
    pool: dict[str, Any], dims: Sequence[str], reason: str, path: str
) -> dict[str, Any]:
    return _allocation_row(
        pool,
        0,
        dimensions=dict.fromkeys(dims, UNALLOCATED),
        amounts={metric: pool[metric] for metric in COST_METRICS},
        quantity=None,
        pool_quantity=None,
        share="1/1",
        reason=reason,
        path=path,
        method="unallocated",
    )


def _allocation_row(
    pool: dict[str, Any],
    index: int,
    *,
    dimensions: dict[str, str],
    amounts: dict[str, Decimal],
    quantity: Decimal | None,
    pool_quantity: Decimal | None,
    share: str,
    reason: str | None,
    path: str,
    method: str | None = None,
) -> dict[str, Any]:
    return {
        "run_id": pool["run_id"],
        "allocation_id": f"{pool['pool_id']}:{index}",
        "pool_id": pool["pool_id"],
        "rule": pool["rule"],
        "method": method or pool["method"],
        "driver": pool["driver"],
        "generation": pool["generation"],
        "is_final": True,
        "reason": reason,
        t.BILLING_PERIOD: pool[t.BILLING_PERIOD],
        "BillingCurrency": pool["BillingCurrency"],
        "ChargeCategory": pool["ChargeCategory"],
        t.CATEGORY: pool[t.CATEGORY],
        "ResourceId": pool["ResourceId"],
        "ResourceName": pool["ResourceName"],
        "ServiceName": pool["ServiceName"],
        "ProviderName": pool["ProviderName"],
        "window_start": pool["window_start"],
        "dimensions": dimensions,
        "quantity": quantity,
        "pool_quantity": pool_quantity,
        "share": share,
        "path": path,
        **amounts,
    }


def _allocations_arrow(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist([_stored(row) for row in rows], schema=ALLOCATIONS.to_pyarrow())


# -- 6: publish -------------------------------------------------------------------------------
def _publish(plane: DataPlane, period: Period, run_id: str, plan: _Plan) -> None:
    allocations = _allocations_arrow(plan.allocations)
    pools = pa.Table.from_pylist(
        [{name: pool.get(name) for name in POOLS.names} for pool in plan.pools],
        schema=POOLS.to_pyarrow(),
    )
    with plane.transaction():
        for name in (t.ALLOCATIONS, t.POOLS, t.POOL_MEMBERS):
            plane.delete(name, {t.BILLING_PERIOD: str(period)})
        plane.insert(t.ALLOCATIONS, allocations)
        plane.insert(t.POOLS, pools)
        for expr in plan.member_exprs:
            plane.insert(t.POOL_MEMBERS, expr)
        if plan.members:
            plane.insert(t.POOL_MEMBERS, pa.Table.from_pylist(plan.members))


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    stored = {name: row.get(name) for name in ALLOCATIONS.names}
    stored["dimensions"] = list(row["dimensions"].items())
    return stored
