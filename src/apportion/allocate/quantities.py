"""Quantities that are not money: energy, emissions, GPU time, split by their own keys.

Each quantity (``quantities`` in apportion.yaml) is measured per window and resource by one
driver (``source``: a node's kWh, a cluster's kgCO2e) and split between the consumers of that
resource in that window by another (``key``: their gpu_seconds), exactly: in integer units of
10^-12 by the largest-remainder method, so the parts of every (window, resource) add up to
what was measured. Where no key row exists the amount stays unallocated, with the reason. The
split is its own table, in the quantity's unit, never added to money: a run writes it beside
the cost allocation it publishes, and checks that every quantity's parts add up to its source.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from apportion.allocate.arrow_decimal import decimals
from apportion.allocate.conservation import ConservationError
from apportion.allocate.drivers import Quantities, Spell, driver_quantities
from apportion.allocate.split import split_units
from apportion.allocate.targets import dimension_maps
from apportion.config import Config
from apportion.config.models import QuantitySplit
from apportion.engine import DataPlane
from apportion.engine.carried import carried_keys
from apportion.engine.dataplane import conform_arrow
from apportion.engine.tables import QUANTITY_ALLOCATIONS
from apportion.periods import Period
from apportion.schema import columns as col
from apportion.schema import tables as t

# window, resource, target values, amount, the target's key quantity, the window's key total
Row = tuple[datetime | None, str | None, tuple[str | None, ...], int, int | None, int | None]


class QuantityError(ConservationError):
    """A quantity's parts do not add up to what its source measured: not published."""


def split_quantities(
    plane: DataPlane, config: Config, period: Period, run_id: str, spell: Spell
) -> pa.Table:
    """Every configured quantity of the period, split by its key: one table of rows."""
    carried = carried_keys(plane, "drivers")
    tables = [
        _split(plane, config.dimensions, quantity, period, run_id, spell, carried)
        for quantity in config.quantities
    ]
    if not tables:
        return QUANTITY_ALLOCATIONS.to_pyarrow().empty_table()
    return pa.concat_tables(tables)


def _split(
    plane: DataPlane,
    dims: Sequence[str],
    quantity: QuantitySplit,
    period: Period,
    run_id: str,
    spell: Spell,
    carried: Collection[str] | None,
) -> pa.Table:
    measured = _read(plane, quantity.source, quantity.window, [], period, spell, carried)
    keys = _read(plane, quantity.key, quantity.window, dims, period, spell, carried)
    rows: list[Row] = []
    reasons: list[str | None] = []
    source_total = 0
    for (window, resource), (start, end) in sorted(
        measured.slices.items(), key=lambda item: (item[0][0] or datetime.min, item[0][1] or "")
    ):
        amount = int(sum(measured.weights[start:end]))
        source_total += amount
        first, last = keys.span((window, resource))
        if last <= first:
            rows.append((window, resource, (None,) * len(dims), amount, None, None))
            reasons.append(f"no {quantity.key} quantity")
            continue
        _, columns, weights = keys.rows([(first, last)])
        values = [column.to_pylist() for column in columns]
        counts = [int(w) for w in weights]
        total = sum(counts)
        for r, part in enumerate(split_units(amount, counts)):
            rows.append((window, resource, tuple(v[r] for v in values), part, counts[r], total))
            reasons.append(None)
    if sum(row[3] for row in rows) != source_total:
        raise QuantityError(f"quantity {quantity.name}: its parts do not add up to its source")
    return _table(rows, reasons, dims, quantity, period, run_id)


def _read(
    plane: DataPlane,
    driver: str,
    window: str,
    dims: Sequence[str],
    period: Period,
    spell: Spell,
    carried: Collection[str] | None,
) -> Quantities:
    """A driver's rows of the period per window and resource (by target, with ``dims``)."""
    last_day = period.end - timedelta(days=1)
    return driver_quantities(
        plane,
        driver=driver,
        window=window,
        by_resource=True,
        windows=[period.start, last_day],
        period_start=period.start,
        period_end=period.end,
        dimensions=dims,
        carried=carried,
        spell=spell,
    )


def _table(
    rows: list[Row],
    reasons: list[str | None],
    dims: Sequence[str],
    quantity: QuantitySplit,
    period: Period,
    run_id: str,
) -> pa.Table:
    count = len(rows)

    def units(index: int) -> pa.Array:
        values = np.array([row[index] or 0 for row in rows], dtype=object)
        column = decimals(values, t.QUANTITY_SCALE)
        missing = pa.array([row[index] is None for row in rows])
        return pc.if_else(missing, pa.scalar(None, column.type), column)

    columns = [pa.array([row[2][k] for row in rows], pa.string()) for k in range(len(dims))]
    table = pa.table(
        {
            col.RUN_ID: pa.array([run_id] * count, pa.string()),
            t.BILLING_PERIOD: pa.array([str(period)] * count, pa.string()),
            "quantity_name": pa.array([quantity.name] * count, pa.string()),
            "unit": pa.array([quantity.unit] * count, pa.string()),
            col.WINDOW_START: pa.array([row[0] for row in rows], pa.timestamp("us")),
            col.RESOURCE_ID: pa.array([row[1] for row in rows], pa.string()),
            col.DIMENSIONS: dimension_maps(dims, columns),
            "amount": units(3),
            col.QUANTITY: units(4),
            col.POOL_QUANTITY: units(5),
            col.REASON: pa.array(reasons, pa.string()),
        }
    )
    return conform_arrow(table, QUANTITY_ALLOCATIONS.to_pyarrow())
