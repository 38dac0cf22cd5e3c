"""Keys from cost: an activity rule whose driver is the cost of the lines another selector
matches, by the dimension values each of those lines has (``cost_of``): a shared database
split by each product's own compute spend, a platform fee by each team's model spend.

The weights are the lines' ``cost_metric`` summed per target and window (the rule's day or
month), rounded half to even to the quantity scale; a target whose lines add up to nothing or
less (credits) carries no weight, and lines that name no dimension value at all are nobody's
to weigh.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pyarrow as pa

from apportion.allocate.arrow_decimal import decimals, units
from apportion.allocate.drivers import Quantities, windowed
from apportion.config import ActivityRule
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
