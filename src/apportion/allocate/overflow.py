"""Pools whose sum does not fit DECIMAL(38, 18): refused by name, never a raw engine error.

Each cost line fits the column (ingest quarantines one that does not), but a pool adds lines up:
two lines of 6e19 make 1.2e20, past the 20 integer digits a DECIMAL(38, 18) amount has. DuckDB
then hands back a value no column can store (or fails past its 128-bit accumulator), and Spark
fails with ANSI overflow. Either way the run is refused with the pool and its lines named.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from apportion.engine.dataplane import DataPlane
from apportion.errors import WorkError
from apportion.money import plain
from apportion.schema import columns as col
from apportion.schema.focus import COST_METRICS
from apportion.schema.tables import MONEY_SCALE

LIMIT = Decimal(10) ** (38 - MONEY_SCALE)  # the first amount a DECIMAL(38, 18) cannot hold
SHOWN_LINES = 5  # line ids named per pool; the count says how many more there are
_COARSE = dt.Decimal(38, 0)  # whole units: a sum of these cannot overflow below 10^38


class PoolOverflowError(WorkError, OverflowError):
    """A pool's lines sum past what DECIMAL(38, 18) holds; the message names the pool and its
    lines. An OverflowError, so the run is refused (exit 1) like any amount that cannot be kept
    exactly."""


def oversized(table: pa.Table) -> list[tuple[Mapping[str, Any], str]]:
    """Each aggregated pool with the first cost metric whose sum the column cannot hold;
    looked at row by row only when a column's extremes pass the limit."""
    if not any(_passes(table[metric]) for metric in COST_METRICS):
        return []
    found: list[tuple[Mapping[str, Any], str]] = []
    for row in table.to_pylist():
        for metric in COST_METRICS:
            value = row.get(metric)
            if isinstance(value, Decimal) and value.copy_abs() >= LIMIT:
                found.append((row, metric))
                break
    return found


def _passes(column: pa.ChunkedArray) -> bool:
    extremes = pc.min_max(column).as_py()
    return any(value is not None and value.copy_abs() >= LIMIT for value in extremes.values())


def overflowing_pools(
    plane: DataPlane, keyed: ir.Table, key: list[str]
) -> list[tuple[Mapping[str, Any], str]]:
    """After the engine failed to sum the pools: the pools whose lines may pass the limit,
    found by summing whole units of their absolute amounts (a sum that cannot overflow; the
    places dropped are at most half a unit a line, counted in the bound)."""
    grouped = keyed.group_by(*key).aggregate(
        members=keyed.count(),
        **{
            metric: keyed[metric].abs().cast(_COARSE).sum().cast(_COARSE) for metric in COST_METRICS
        },
    )
    rows = plane.to_arrow(grouped).to_pylist()
    found: list[tuple[Mapping[str, Any], str]] = []
    for row in rows:
        slack = Decimal(row[col.MEMBERS]) / 2
        for metric in COST_METRICS:
            if row[metric] is not None and row[metric] + slack >= LIMIT:
                found.append(({**row, metric: None}, metric))  # its exact sum is unknown
                break
    return found


def pool_overflow(
    plane: DataPlane,
    keyed: ir.Table,
    key: list[str],
    pools: list[tuple[Mapping[str, Any], str]],
) -> PoolOverflowError:
    """The error naming every pool found, with its first lines."""
    described = [_describe(row, metric, _line_ids(plane, keyed, key, row)) for row, metric in pools]
    return PoolOverflowError(
        "a pool's lines add up to more than a DECIMAL(38, 18) amount holds (under 10^20): "
        + "; ".join(described)
        + ". Check these lines for an amount in the wrong unit, or split the cost with a rule "
        "whose pools are smaller (a daily window, a narrower match)"
    )


def _line_ids(
    plane: DataPlane, keyed: ir.Table, key: list[str], row: Mapping[str, Any]
) -> list[str]:
    # NULL matches NULL: a pool without a window or resource is still one pool
    same = [keyed[name].identical_to(ibis.literal(row[name], keyed[name].type())) for name in key]
    chosen = keyed.filter(*same).select(col.MEMBER_ID).order_by(col.MEMBER_ID).limit(SHOWN_LINES)
    return [str(found) for found in plane.to_arrow(chosen).column(col.MEMBER_ID).to_pylist()]


def _describe(row: Mapping[str, Any], metric: str, lines: list[str]) -> str:
    where = [f"rule {row['claim']!r}" if row.get("claim") else "the unallocated cost"]
    resource = row.get("pool_resource")
    if resource:
        where.append(f"resource {resource!r}")
    window = row.get("pool_window")
    if window is not None:
        where.append(f"window {_day(window)}")
    where.append(f"currency {row.get('BillingCurrency')}")
    count = int(row[col.MEMBERS])
    more = f" and {count - len(lines)} more" if count > len(lines) else ""
    value = row.get(metric)
    if isinstance(value, Decimal):
        total = f" sums {metric} to {plain(value)}"
    else:
        total = f" adds {metric} past that"
    return f"the pool of {', '.join(where)}{total} over {count} lines ({', '.join(lines)}{more})"


def _day(value: Any) -> str:
    return value.date().isoformat() if isinstance(value, datetime) else str(value)
