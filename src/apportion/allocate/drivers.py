"""Driver quantities per window (and resource), grouped by the dimension values they name."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from apportion.allocate.arrow_decimal import IntArray, units
from apportion.engine import DataPlane
from apportion.engine.carried import to_read
from apportion.schema import columns as col
from apportion.schema import tables as t

WindowKey = tuple[datetime | None, str | None]  # (window start, resource id or None)
Spell = Callable[[str, str], str]  # (dimension, raw value) -> the policy's spelling
Folding = tuple[str, str, str]  # (dimension, value as the driver rows spell it, as folded)


@dataclass(frozen=True)
class Quantities:
    """Targets of every window: rows sorted by window, resource, then target values."""

    dims: list[pa.Array]  # one string column per dimension
    weights: IntArray  # units of 10^-QUANTITY_SCALE, all positive
    slices: dict[WindowKey, tuple[int, int]]
    folded: tuple[Folding, ...] = ()  # values respelled as the tag policy spells them

    def span(self, key: WindowKey) -> tuple[int, int]:
        """The rows of one window (and resource): start and end, empty when it has none."""
        return self.slices.get(key, (0, 0))

    def rows(
        self, spans: Sequence[tuple[int, int]]
    ) -> tuple[npt.NDArray[np.int64], list[pa.Array], IntArray]:
        """The rows of many spans, one after another: each row's span number, its dimension
        values and its weight."""
        starts = np.array([start for start, _ in spans], dtype=np.int64)
        lengths = np.array([end - start for start, end in spans], dtype=np.int64)
        offsets = np.cumsum(lengths) - lengths
        rows = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(starts - offsets, lengths)
        taken = pa.array(rows, pa.int64())
        span = np.repeat(np.arange(len(spans), dtype=np.int64), lengths)
        return span, [column.take(taken) for column in self.dims], self.weights[rows]


def driver_quantities(
    plane: DataPlane,
    *,
    driver: str,
    window: str,
    by_resource: bool,
    windows: Sequence[datetime],
    only_resource: str | None = None,
    period_start: datetime,
    period_end: datetime,
    dimensions: Sequence[str],
    carried: Collection[str] | None = None,
    spell: Spell | None = None,
) -> Quantities:
    """One grouped scan of the driver rows a rule's pools need. ``only_resource``: read the
    rows of that resource only (an activity rule's ``driver_resource``). ``carried``: the
    dimension keys the driver rows can hold (:func:`~apportion.engine.carried.carried_keys`);
    None when not known. ``spell``: how the tag policy spells a dimension's value; driver
    values are folded by it as tag values are (``Web`` is ``web``), or a rule written on the
    policy's spelling would silently never match them."""
    empty = Quantities(
        [pa.array([], pa.string()) for _ in dimensions], np.array([], dtype=object), {}
    )
    if not windows:
        return empty
    rows = plane.table(t.DRIVERS)
    if window == "day":
        start, end = min(windows), max(windows) + timedelta(days=1)
    else:
        start, end = period_start, period_end
    selected = rows.filter(
        (rows.driver == driver) & (rows.timestamp >= start) & (rows.timestamp < end)
    )
    if by_resource:
        selected = selected.filter(selected.resource_id.notnull())
    if only_resource is not None:
        selected = selected.filter(selected.resource_id == only_resource)
    window_start = (
        selected.timestamp.truncate("D")
        if window == "day"
        else ibis.literal(period_start).cast("timestamp")
    )
    # a key no driver row carries is NULL everywhere: grouping by it would cost a map lookup
    # per row (a quarter of the scan for each) and change nothing
    read = to_read(dimensions, carried)
    keys = {
        col.WINDOW_START: window_start,
        "resource": selected.resource_id if by_resource else ibis.null("string"),
        **{f"d{i}": plane.map_value(selected.dimensions, d) for i, d in enumerate(read)},
    }
    grouped = (
        selected.group_by(**keys)
        .aggregate(quantity=selected.quantity.sum())
        .filter(lambda g: g.quantity > 0)
    )
    # targets sorted within a window so splits never depend on storage order
    order = [col.WINDOW_START, "resource", *[f"d{i}" for i in range(len(read))]]
    table = plane.to_arrow(grouped.order_by([ibis.asc(c, nulls_first=True) for c in order]))
    if table.num_rows == 0:
        return empty
    folded: tuple[Folding, ...] = ()
    if spell is not None:
        table, folded = _folded(table, read, order, spell)
    return windowed(table, read, dimensions, folded)


def windowed(
    table: pa.Table, read: Sequence[str], dimensions: Sequence[str], folded: tuple[Folding, ...]
) -> Quantities:
    """Sorted rows (window, resource, d0.., quantity) as Quantities: each (window, resource)
    is one run of rows, found where the runs change."""
    window_ids = table.column(col.WINDOW_START).cast(pa.int64()).fill_null(-1).to_numpy()
    resources = pc.dictionary_encode(table.column("resource")).combine_chunks()
    codes = resources.indices.fill_null(-1).to_numpy()
    changes = np.flatnonzero((np.diff(window_ids) != 0) | (np.diff(codes) != 0)) + 1
    bounds = np.r_[0, changes, table.num_rows]
    keys_at = table.select([col.WINDOW_START, "resource"]).take(pa.array(bounds[:-1])).to_pylist()
    slices: dict[WindowKey, tuple[int, int]] = {
        (key[col.WINDOW_START], key["resource"]): (int(start), int(end))
        for key, start, end in zip(keys_at, bounds[:-1], bounds[1:], strict=True)
    }
    position = {d: i for i, d in enumerate(read)}
    return Quantities(
        dims=[
            table.column(f"d{position[d]}").combine_chunks().cast(pa.string())
            if d in position
            else pa.nulls(table.num_rows, pa.string())
            for d in dimensions
        ],
        weights=units(table.column(col.QUANTITY), t.QUANTITY_SCALE),
        slices=slices,
        folded=folded,
    )


def target_order(values: Sequence[str | None]) -> tuple[tuple[bool, str], ...]:
    """How targets are ordered within a window, as driver rows are: a missing value first."""
    return tuple((value is not None, value or "") for value in values)


def month_quantities(
    plane: DataPlane,
    *,
    driver: str,
    only_resource: str | None,
    period_start: datetime,
    period_end: datetime,
    dimensions: Sequence[str],
    carried: Collection[str] | None,
    spell: Spell | None,
) -> Quantities:
    """Everything a driver measured in the month, on any resource (or ``only_resource``), as
    one window: the targets a rule group's activity rule splits by, and those a rule splits
    evenly between when its own window measured nothing (``on_zero: even``)."""
    return driver_quantities(
        plane,
        driver=driver,
        window="month",
        by_resource=False,
        only_resource=only_resource,
        windows=[period_start],
        period_start=period_start,
        period_end=period_end,
        dimensions=dimensions,
        carried=carried,
        spell=spell,
    )


def _folded(
    table: pa.Table, read: Sequence[str], order: list[str], spell: Spell
) -> tuple[pa.Table, tuple[Folding, ...]]:
    """The grouped rows with their dimension values spelled as the policy spells them; rows
    that fold to the same target are summed into one, still sorted by ``order``. Each
    distinct value is spelled once, not once per row."""
    changes: list[Folding] = []
    for i, dimension in enumerate(read):
        name = f"d{i}"
        encoded = pc.dictionary_encode(table.column(name).combine_chunks().cast(pa.string()))
        raw = encoded.dictionary.to_pylist()
        spelt = [spell(dimension, value) for value in raw]
        if spelt == raw:
            continue
        changes.extend((dimension, r, s) for r, s in zip(raw, spelt, strict=True) if r != s)
        respelled = pa.DictionaryArray.from_arrays(encoded.indices, pa.array(spelt, pa.string()))
        table = table.set_column(
            table.schema.get_field_index(name), name, respelled.dictionary_decode()
        )
    if not changes:
        return table, ()
    summed = table.group_by(order, use_threads=False).aggregate([(col.QUANTITY, "sum")])
    summed = summed.rename_columns(
        [col.QUANTITY if c == "quantity_sum" else c for c in summed.column_names]
    )
    ordered = summed.sort_by([(c, "ascending", "at_start") for c in order])
    return ordered, tuple(sorted(set(changes)))
