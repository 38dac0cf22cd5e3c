"""Keys from cost: an activity rule whose driver is the cost of the lines another selector
matches, by the dimension values each of those lines has (``cost_of``): a shared database
split by each product's own compute spend, a platform fee by each team's model spend; or the
cost earlier rules allocated to each target (``allocated_by``): overhead by allocated spend.

The weights are the lines' ``cost_metric`` summed per target and window (the rule's day or
month), rounded half to even to the quantity scale; a target whose lines add up to nothing or
less (credits) carries no weight, and lines that name no dimension value at all are nobody's
to weigh.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apportion.allocate.arrow_decimal import decimals, units
from apportion.allocate.drivers import Quantities, target_order, windowed
from apportion.allocate.pool import Pool
from apportion.config import ActivityRule, Rule
from apportion.engine import DataPlane
from apportion.periods import Period
from apportion.rules.columns import compile_match
from apportion.rules.expr import parse_match
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.tags.derived import DerivedLines

_HALF = 10 ** (t.MONEY_SCALE - t.QUANTITY_SCALE) // 2


def cost_quantities(
    plane: DataPlane,
    lines: DerivedLines,
    rule: ActivityRule,
    dims: Sequence[str],
    period: Period,
) -> Quantities:
    """The rule's targets per window: the cost of the lines ``rule.cost_of`` matches."""
    assert rule.cost_of is not None
    table = lines.table
    window = (
        table.ChargePeriodStart.fill_null(table.BillingPeriodStart).truncate("D")
        if rule.window == "day"
        else ibis.literal(period.start).cast("timestamp")
    )
    named = {f"d{i}": lines.values[d] for i, d in enumerate(dims)}
    keyed = table.mutate(
        _window=window,
        _keyed=compile_match(parse_match(rule.cost_of), lines.columns()),
        _cost=table[rule.cost_metric],
        **named,
    )
    keyed = keyed.filter(keyed._keyed.fill_null(False))
    if named:
        keyed = keyed.filter(ibis.or_(*(keyed[name].notnull() for name in named)))
    grouped = keyed.group_by(
        **{col.WINDOW_START: keyed._window, "resource": ibis.null("string")},
        **{name: keyed[name] for name in named},
    ).aggregate(cost=keyed._cost.sum())
    order = [col.WINDOW_START, *named]
    found = plane.to_arrow(grouped.order_by([ibis.asc(c, nulls_first=True) for c in order]))
    weights = np.array([_rounded(u) for u in units(found.column("cost"), t.MONEY_SCALE)], object)
    positive = pa.array(weights > 0)
    found = found.filter(positive)
    quantity = decimals(weights[weights > 0], t.QUANTITY_SCALE)
    found = found.drop_columns(["cost"]).append_column(col.QUANTITY, quantity)
    return windowed(found, list(dims), dims, ())


def _rounded(money_units: int) -> int:
    """Units of 10^-18 as units of 10^-12, half to even."""
    step = 10 ** (t.MONEY_SCALE - t.QUANTITY_SCALE)
    whole, rest = divmod(money_units, step)
    if rest > _HALF or (rest == _HALF and whole % 2):
        whole += 1
    return int(whole)


def allocated_quantities(
    allocations: Sequence[pa.Table],
    claimed: Collection[str],
    pools: Sequence[Pool],
    rules: Mapping[str, Rule],
    dims: Sequence[str],
) -> dict[str, Quantities]:
    """Per rule weighed by allocations (``allocated_by``) among ``pools``: each target's cost
    as the named rules allocated it so far (allocations not split again), one month window."""
    found: dict[str, Quantities] = {}
    table = pa.concat_tables(allocations).unify_dictionaries() if allocations else None
    for name in sorted({pool.rule for pool in pools if pool.rule}):
        rule = rules[name]
        assert isinstance(rule, ActivityRule)
        windows = {pool.window_start for pool in pools if pool.rule == name}
        found[name] = _allocated(table, claimed, rule, dims, windows)
    return found


def _allocated(
    table: pa.Table | None,
    claimed: Collection[str],
    rule: ActivityRule,
    dims: Sequence[str],
    windows: Collection[datetime | None],
) -> Quantities:
    targets: dict[tuple[str | None, ...], int] = {}
    if table is not None and table.num_rows:
        chosen = table.filter(_allocated_by(table, claimed, rule))
        keys = {f"d{i}": _named(chosen, d) for i, d in enumerate(dims)}
        summed = (
            pa.table({**keys, "cost": chosen[rule.cost_metric]})
            .group_by(list(keys), use_threads=False)
            .aggregate([("cost", "sum")])
        )
        values = [summed[k].to_pylist() for k in keys]
        for r, cost in enumerate(units(summed["cost_sum"], t.MONEY_SCALE)):
            target = tuple(column[r] for column in values)
            weight = _rounded(int(cost))
            if weight > 0 and any(value is not None for value in target):
                targets[target] = weight
    # sorted by target, as driver rows are, so a split never depends on read order
    order = sorted(targets, key=target_order)
    count = len(order)
    return Quantities(
        dims=[pa.array([target[k] for target in order], pa.string()) for k in range(len(dims))],
        weights=np.array([targets[target] for target in order], dtype=object),
        slices={(window, None): (0, count) for window in windows if count},
    )


def _allocated_by(table: pa.Table, claimed: Collection[str], rule: ActivityRule) -> pa.Array:
    """The allocations of the named rules that reached a target and were not split again."""
    by_rule = pc.is_in(pc.cast(table[col.RULE], pa.string()), pa.array(rule.allocated_by))
    split = pc.not_equal(pc.cast(table[col.METHOD], pa.string()), "unallocated")
    again = pc.is_in(table[col.ALLOCATION_ID], pa.array(sorted(claimed), pa.string()))
    return pc.and_(pc.and_(by_rule, split), pc.invert(again))


def _named(table: pa.Table, dimension: str) -> pa.Array:
    """An allocation's value of a dimension; none where it is __unallocated__."""
    values = pc.map_lookup(table[col.DIMENSIONS], dimension, "first")
    return pc.if_else(pc.equal(values, t.UNALLOCATED), pa.scalar(None, pa.string()), values)
