"""Who each pool goes to, with every dimension filled or said why not.

A target's dimension values come, in order, from:

1. the rule: the driver row's values (proportional, activity), the values an even or fixed
   target names, the line's own values (direct);
2. the cost being split: what its bill lines said (tags, mapping tables, mapping rules) and,
   in a cascade, what earlier rules allocated it to; a later rule adds or narrows, and never
   erases a value it does not set itself;
3. the catalogue: what a value already known says of the others (a use case's cost centre);
4. the defaults declared for the rule, then for the workspace (``defaults``,
   ``dimension_defaults``);
5. otherwise ``__unallocated__``, with the reason recorded (``gap_reason``: one per pool, so
   one per allocation, whichever dimensions it lacks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from apportion.allocate.batch import TargetRows, Targets, Weighted
from apportion.allocate.capacity import Capacity, capacity_split, idle_target
from apportion.allocate.drivers import Quantities
from apportion.allocate.pool import Pool
from apportion.config import ActivityRule, DirectRule, EvenRule, FixedRule, ProportionalRule, Rule
from apportion.money import to_units
from apportion.schema import tables as t

# why a pool stays unallocated when its line named no owner (what tagging would have fixed)
NO_RULE = "no rule matched"
NO_OWNER = "no owner: no tag, mapping table or mapping rule gave a value"
# why a direct target lacks a dimension its line did not name
NOT_NAMED_BY_LINE = "the line's tags, mapping tables and mapping rules gave none, nor the catalogue"

_ONE = 10**t.QUANTITY_SCALE  # a weight of 1 in quantity units

Implied = Mapping[tuple[str, str], Mapping[str, str]]


@dataclass(frozen=True)
class Measured:
    """What a generation's pools are split by beyond the rules themselves."""

    quantities: Mapping[str, Quantities]  # per driver rule: its rows by window (and resource)
    # per rule that splits evenly on_zero: every target its driver measured in the month
    monthly: Mapping[str, Quantities] = field(default_factory=dict)
    # per proportional rule with idle capacity or reservations: those measures
    capacities: Mapping[str, Capacity] = field(default_factory=dict)
    # per pool a rule group claimed (by index): its solved targets, or why it has none
    grouped: Mapping[int, Weighted | str] = field(default_factory=dict)
    workload: str = "use_case"  # the dimension an __idle__ target names


def pool_targets(
    pools: list[Pool],
    rules: Mapping[str, Rule],
    dims: list[str],
    measured: Measured,
) -> tuple[TargetRows, dict[int, str]]:
    """Each pool's targets as the rule gives them (dimensions the rule does not name are
    NULL), and for pools that go nowhere, why (they stay unallocated)."""
    targets = Targets(len(dims))
    reasons: dict[int, str] = {}
    spans: dict[str, list[tuple[int, tuple[int, int]]]] = {}  # rule -> (pool, driver rows)
    quantities = measured.quantities
    for index, pool in enumerate(pools):
        rule = rules.get(pool.rule) if pool.rule else None
        solved = measured.grouped.get(index)
        if isinstance(solved, str):
            reasons[index] = solved
        elif solved is not None:
            for values, solved_weight in solved:
                targets.add(index, values, solved_weight, measured=False)
        elif rule is None:
            reasons[index] = NO_RULE
        elif isinstance(rule, DirectRule):
            if all(value is None for value in pool.values):
                reasons[index] = NO_OWNER
            else:
                targets.add(index, pool.values, _ONE, measured=False)
        elif isinstance(rule, ProportionalRule | ActivityRule):
            found = _measured(rule, pool, quantities.get(rule.name))
            capacity = measured.capacities.get(rule.name)
            shared = (
                _shared(rule, pool, quantities, capacity, dims, measured.workload)
                if isinstance(rule, ProportionalRule) and capacity is not None
                else None
            )
            if shared:
                for values, used in shared:
                    targets.add(index, values, used, measured=True)
            elif isinstance(found, tuple) and shared is None:
                spans.setdefault(rule.name, []).append((index, found))
            else:
                fallback = _on_zero(rule, dims, measured.monthly.get(rule.name))
                if fallback:
                    for values in fallback:
                        targets.add(index, values, _ONE, measured=False)
                else:
                    # the pool keeps its resource and window; the reason says what was missing
                    reasons[index] = found if isinstance(found, str) else _nothing(rule)
        elif isinstance(rule, EvenRule | FixedRule):
            for named, weight in rule.target_weights():
                values = tuple(named.get(d) for d in dims)
                targets.add(index, values, to_units(weight, t.QUANTITY_SCALE), measured=False)
    for name, found_spans in spans.items():
        span, columns, weights = quantities[name].rows([rows for _, rows in found_spans])
        pool_of_span = np.array([index for index, _ in found_spans], dtype=np.int64)
        targets.add_measured(pool_of_span[span], columns, weights)
    return targets.rows(), reasons


def _measured(
    rule: ProportionalRule | ActivityRule, pool: Pool, found: Quantities | None
) -> tuple[int, int] | str:
    """The driver rows that split a pool of a driver rule, or why it has none."""
    if isinstance(rule, ProportionalRule) and pool.pool_resource is None:
        return "no ResourceId to measure the driver on"
    if pool.window_start is None:
        # cost that reached a daily rule through a cascade from a rule without windows
        return f"no {rule.window} window (split by an earlier rule without one)"
    start, end = found.span((pool.window_start, pool.pool_resource)) if found else (0, 0)
    return (start, end) if end > start else _nothing(rule)


def _shared(
    rule: ProportionalRule,
    pool: Pool,
    quantities: Mapping[str, Quantities],
    capacity: Capacity,
    dims: Sequence[str],
    workload: str,
) -> list[tuple[tuple[str | None, ...], int]]:
    """A pool of a shared resource split by reservations and idle capacity."""
    if pool.pool_resource is None or pool.window_start is None:
        return []
    idle = idle_target(rule, dims, workload) if rule.idle is not None else ()
    return capacity_split(rule, pool, quantities.get(rule.name), capacity, idle)


def _nothing(rule: ProportionalRule | ActivityRule) -> str:
    return f"no {rule.driver} quantity"


def _on_zero(
    rule: ProportionalRule | ActivityRule, dims: Sequence[str], monthly: Quantities | None
) -> list[tuple[str | None, ...]]:
    """Where a pool the driver measured nothing for goes instead of staying unallocated:
    the rule's fallback target, or every target its driver measured in the month, evenly."""
    if isinstance(rule.on_zero, dict):
        return [tuple(rule.on_zero.get(d) for d in dims)]
    if rule.on_zero == "even" and monthly is not None:
        columns = [column.to_pylist() for column in monthly.dims]
        return [tuple(column[r] for column in columns) for r in range(len(monthly.weights))]
    return []


def completed(
    columns: Sequence[pa.Array],
    pool_of_row: npt.NDArray[np.int64],
    pools: Sequence[Pool],
    dims: Sequence[str],
    implied: Implied,
    defaults: Sequence[Mapping[str, str]] | None = None,
    split: npt.NDArray[np.bool_] | None = None,
) -> tuple[list[pa.Array], npt.NDArray[np.bool_]]:
    """Every dimension of every allocation row: the rule's value, else the pool's own, else
    the catalogue's, else the pool's rule's default (NULL where none gives one); and which rows
    still lack one. ``defaults``: per pool; ``split``: the rows they apply to (not the rows
    of a pool left unallocated)."""
    taken = pa.array(pool_of_row, pa.int64())
    filled = []
    for k, column in enumerate(columns):
        own = pa.array([pool.values[k] for pool in pools], pa.string()).take(taken)
        filled.append(pc.coalesce(column, own) if len(column) else column)
    filled = _catalogue_filled(filled, dims, implied)
    if defaults is not None and any(defaults):
        mask = pa.array(~split) if split is not None else None
        for k, d in enumerate(dims):
            default = pa.array([found.get(d) for found in defaults], pa.string()).take(taken)
            if mask is not None:
                default = pc.if_else(mask, pa.scalar(None, pa.string()), default)
            if len(filled[k]):
                filled[k] = pc.coalesce(filled[k], default)
    lacking = np.zeros(len(pool_of_row), dtype=bool)
    for column in filled:
        if column.null_count:
            lacking |= np.asarray(pc.is_null(column))
    return filled, lacking


def _catalogue_filled(
    columns: list[pa.Array], dims: Sequence[str], implied: Implied
) -> list[pa.Array]:
    """Missing values filled from what the catalogue says of the values present, the earlier
    dimension first; twice over, so a value filled once can fill another (a use case's cost
    centre, then that cost centre's business unit)."""
    if not implied:
        return columns
    position = {d: k for k, d in enumerate(dims)}
    for _ in range(2):
        for target in dims:
            for source in dims:
                pairs = [
                    (value, says[target])
                    for (dimension, value), says in implied.items()
                    if dimension == source and target in says
                ]
                k = position[target]
                if not pairs or not columns[k].null_count:
                    continue
                keys = pa.array([key for key, _ in pairs], pa.string())
                values = pa.array([value for _, value in pairs], pa.string())
                found = values.take(pc.index_in(columns[position[source]], value_set=keys))
                columns[k] = pc.coalesce(columns[k], found)
    return columns


def gap_reason(rule: Rule | None, pool_reason: str | None) -> str:
    """What a row of a pool says of a dimension it has no value for."""
    if pool_reason is not None:
        return pool_reason
    if isinstance(rule, DirectRule):
        return NOT_NAMED_BY_LINE
    name = rule.name if rule is not None else "?"
    return f"rule {name} named none, nor did the cost it split or the catalogue"


def dimension_maps(dims: Sequence[str], columns: Sequence[pa.Array]) -> pa.MapArray:
    """One map per row, {dimension: value}, with a missing value shown as __unallocated__."""
    rows, width = (len(columns[0]) if columns else 0), len(dims)
    filled = [pc.fill_null(column, t.UNALLOCATED) for column in columns]
    stacked = pa.concat_arrays(filled) if filled else pa.array([], pa.string())
    # row r's value of dimension k sits at k * rows + r; a map lists a row's values together
    interleaved = (np.arange(rows)[:, None] + np.arange(width)[None, :] * rows).ravel()
    values = stacked.take(pa.array(interleaved, pa.int64()))
    keys = _repeated_text(list(dims), rows)
    offsets = pa.array(np.arange(rows + 1, dtype=np.int32) * width)
    return pa.MapArray.from_arrays(offsets, keys, values)


def _repeated_text(texts: list[str], times: int) -> pa.StringArray:
    """The texts one after another, ``times`` over, written straight into Arrow's buffers."""
    encoded = [text.encode() for text in texts]
    lengths = np.tile(np.array([len(e) for e in encoded], dtype=np.int64), times)
    offsets = np.r_[0, np.cumsum(lengths)]
    if offsets[-1] >= 2**31:
        raise OverflowError("too much text for one column")
    data = b"".join(encoded) * times
    return pa.StringArray.from_buffers(
        len(lengths), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)
    )
