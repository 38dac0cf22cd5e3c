"""Shared capacity: what a cluster's users reserved, what they used, and what stood idle.

A proportional rule with ``reservations`` charges each consumer ``max(reserved, used)`` of
each window (Kubernetes requests beside measured usage: a team that reserved four GPUs pays
for four, however few it kept busy). With ``idle``, the resource's capacity in the window
(a capacity driver, or the cost lines' own ConsumedQuantity) less what the consumers are
charged is idle: an ``__idle__`` target of its own (``keep``), the owner's (``owner``), or
nothing apart, so the users carry it by their use (``spread``). All three are quantities of
the rule's driver, in its unit, in integer units of 10^-QUANTITY_SCALE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from apportion.allocate.batch import Dims
from apportion.allocate.drivers import Quantities, WindowKey, target_order
from apportion.allocate.pool import Pool
from apportion.config.models import ProportionalRule
from apportion.money import EXACT
from apportion.schema import tables as t


@dataclass(frozen=True)
class Capacity:
    """The measures beside a rule's usage: reservations and capacity per window and
    resource (None: not configured, or capacity read from the pool's own lines)."""

    reserved: Quantities | None = None
    available: Quantities | None = None


def capacity_split(
    rule: ProportionalRule,
    pool: Pool,
    used: Quantities | None,
    capacity: Capacity,
    idle_values: Dims,
) -> list[tuple[Dims, int]]:
    """The pool's targets and weights: each consumer's max(reserved, used), and the idle
    rest as the rule charges it; sorted by target (a split never depends on read order)."""
    where = (pool.window_start, pool.pool_resource)
    weights = _summed(used, where)
    if capacity.reserved is not None:
        for values, reserved in _summed(capacity.reserved, where).items():
            weights[values] = max(weights.get(values, 0), reserved)
    if rule.idle is not None and rule.idle.charge != "spread":
        idle = _available(pool, capacity, where) - sum(weights.values())
        if idle > 0:
            weights[idle_values] = weights.get(idle_values, 0) + idle
    return sorted(((v, w) for v, w in weights.items() if w > 0), key=lambda p: target_order(p[0]))


def idle_target(rule: ProportionalRule, dims: Sequence[str], workload: str) -> Dims:
    """Who the idle part goes to: the ``__idle__`` workload (of the owner's values, if named),
    or the owner."""
    assert rule.idle is not None
    named = dict(rule.idle.owner)
    if rule.idle.charge == "keep":
        named[workload] = t.IDLE
    return tuple(named.get(d) for d in dims)


def _summed(quantities: Quantities | None, where: WindowKey) -> dict[Dims, int]:
    """The window's rows by target (rows that fold to one target are added)."""
    found: dict[Dims, int] = {}
    if quantities is None:
        return found
    start, end = quantities.span(where)
    if end <= start:
        return found
    _, columns, weights = quantities.rows([(start, end)])
    values = [column.to_pylist() for column in columns]
    for r, weight in enumerate(weights):
        key = tuple(column[r] for column in values)
        found[key] = found.get(key, 0) + int(weight)
    return found


def _available(pool: Pool, capacity: Capacity, where: WindowKey) -> int:
    """The resource's capacity in the window: the capacity driver's rows, or what its lines
    say they consumed (rounded half to even to the quantity scale)."""
    if capacity.available is not None:
        start, end = capacity.available.span(where)
        return int(sum(capacity.available.weights[start:end])) if end > start else 0
    if pool.consumed is None:
        return 0
    scaled = EXACT.scaleb(pool.consumed, t.QUANTITY_SCALE)
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_EVEN, context=EXACT))
