"""Allocated cost as FOCUS 1.2 rows with the FOCUS 1.3 ``Allocated*`` columns.

One row per allocation. ``AllocatedResourceId`` names the workload the cost went to (its
dimension values, e.g. ``cost_centre=risk/use_case=fraud-scorer``); the remainder row
(``__unallocated__``) has it null, as the specification requires. ``AllocatedMethodDetails``
and ``AllocatedTags`` are JSON objects; our dimensions also travel as ``x_<dimension>``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from apportion.money import EXACT
from apportion.periods import Period
from apportion.report.published import final_allocations, owner_sources
from apportion.schema import tables as t
from apportion.schema.focus import ALLOCATED_COLUMNS, COST_METRICS, FOCUS_COLUMNS, Kind
from apportion.workspace import Workspace

# FOCUS 1.3 renamed the provider columns; a 1.2 file carries the 1.2 names.
_NOT_IN_1_2 = {"ContractApplied", "HostProviderName", "ServiceProviderName"}
FOCUS_1_2 = [name for name in FOCUS_COLUMNS if name not in _NOT_IN_1_2]
_FROM_ALLOCATION = {
    "BillingCurrency",
    "ChargeCategory",
    "ProviderName",
    "ServiceName",
    "ResourceId",
    "ResourceName",
    *COST_METRICS,
}
_ARROW = {
    Kind.STRING: pa.string(),
    Kind.MONEY: pa.decimal128(38, t.MONEY_SCALE),
    Kind.DECIMAL: pa.decimal128(38, t.MONEY_SCALE),
    Kind.TIMESTAMP: pa.timestamp("us"),
    Kind.TAGS: pa.string(),
}


class ExportError(ValueError):
    pass


def export_focus(workspace: Workspace, period: Period, out: Path) -> int:
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ExportError(f"{out.name}: write .csv or .parquet")
    dims = workspace.config.dimensions
    final = final_allocations(workspace, period).order_by("allocation_id")
    daily = {rule.name for rule in workspace.config.rules if getattr(rule, "window", "") == "day"}
    sources = owner_sources(workspace, period)
    rows = [
        _focus_row(row, dims, period, daily=row["rule"] in daily, sources=sources)
        for row in workspace.data.to_arrow(final).to_pylist()
    ]
    table = pa.Table.from_pylist(rows, schema=_schema(dims))
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    if suffix == ".csv":
        pacsv.write_csv(table, partial)
    else:
        pq.write_table(table, partial)
    partial.replace(out)
    return len(rows)


def _schema(dims: list[str]) -> pa.Schema:
    return pa.schema(
        [pa.field(name, _ARROW[FOCUS_COLUMNS[name]]) for name in FOCUS_1_2]
        + [pa.field(name, pa.string()) for name in ALLOCATED_COLUMNS]
        + [pa.field(f"x_{d}", pa.string()) for d in dims]
        + [
            pa.field(name, pa.string())
            for name in (t.CATEGORY, "x_AllocationId", "x_UnallocatedReason")
        ]
    )


def _focus_row(
    row: dict[str, Any],
    dims: list[str],
    period: Period,
    *,
    daily: bool,
    sources: dict[str, dict[str, str]],
) -> dict[str, Any]:
    start, end = _charge_period(row["window_start"] if daily else None, period)
    values: dict[str, Any] = dict.fromkeys(FOCUS_1_2)
    values.update({name: row[name] for name in _FROM_ALLOCATION})
    values.update(
        BillingPeriodStart=period.start,
        BillingPeriodEnd=period.end,
        ChargePeriodStart=start,
        ChargePeriodEnd=end,
    )
    targets = dict(row["dimensions"])
    unallocated = row["method"] == "unallocated"
    named = [f"{d}={targets[d]}" for d in dims if targets.get(d) != t.UNALLOCATED]
    details = {
        "method": row["method"],
        "rule": row["rule"],
        "driver": row["driver"],
        "quantity": _text(row["quantity"]),
        "pool_quantity": _text(row["pool_quantity"]),
        "share": _share(row["quantity"], row["pool_quantity"], unallocated),
        "path": row["path"],
        "pool_id": row["pool_id"],
        "run_id": row["run_id"],
        "sources": sources.get(row["pool_id"]),  # where a direct owner's values came from
    }
    values.update(
        AllocatedMethodId=row["rule"] or t.UNALLOCATED,
        AllocatedMethodDetails=json.dumps({k: v for k, v in details.items() if v}),
        AllocatedResourceId=None if unallocated or not named else "/".join(named),
        AllocatedResourceName=None if unallocated else targets.get("use_case", targets[dims[0]]),
        AllocatedTags=None if unallocated else json.dumps({d: targets[d] for d in dims}),
    )
    values.update({f"x_{d}": targets[d] for d in dims})
    values.update(
        {
            t.CATEGORY: row[t.CATEGORY],
            "x_AllocationId": row["allocation_id"],
            "x_UnallocatedReason": row["reason"],
        }
    )
    return values


def _charge_period(window_start: datetime | None, period: Period) -> tuple[datetime, datetime]:
    """Day windows cover their day; month windows and unwindowed pools cover the period."""
    if window_start is None:
        return period.start, period.end
    return window_start, window_start + timedelta(days=1)


def _share(quantity: Decimal | None, pool: Decimal | None, unallocated: bool) -> str | None:
    """The exact share as a fraction, e.g. 2/3 (measured targets only)."""
    if unallocated or quantity is None or pool is None:
        return None
    return f"{_text(quantity)}/{_text(pool)}"


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(EXACT.normalize(value), "f")
