"""Driver quantities per window (and resource), grouped by the dimension values they name."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import ibis

from apportion.engine import DataPlane
from apportion.schema import tables as t

Target = tuple[str | None, ...]
WindowKey = tuple[datetime | None, str | None]  # (window start, resource id or None)


def driver_quantities(
    plane: DataPlane,
    *,
    driver: str,
    window: str,
    by_resource: bool,
    windows: Sequence[datetime],
    period_start: datetime,
    period_end: datetime,
    dimensions: Sequence[str],
) -> dict[WindowKey, list[tuple[Target, Decimal]]]:
    """{(window start, resource): [(target dimension values, quantity), ...]} for the windows
    that pools need; targets are sorted so splits never depend on storage order."""
    if not windows:
        return {}
    rows = plane.table(t.DRIVERS)
    if window == "day":
        start, end = min(windows), max(windows) + timedelta(days=1)
    else:
        start, end = period_start, period_end
    selected = rows.filter(
        (rows.driver == driver) & (rows.timestamp >= start) & (rows.timestamp < end)
    )
    window_start = (
        selected.timestamp.truncate("D")
        if window == "day"
        else ibis.literal(period_start).cast("timestamp")
    )
    keys = {
        "window_start": window_start,
        "resource": selected.resource_id if by_resource else ibis.null("string"),
        **{f"d{i}": selected.dimensions[d] for i, d in enumerate(dimensions)},
    }
    grouped = selected.group_by(**keys).aggregate(quantity=selected.quantity.sum())
    found: dict[WindowKey, list[tuple[Target, Decimal]]] = defaultdict(list)
    for row in plane.to_arrow(grouped).to_pylist():
        target = tuple(row[f"d{i}"] for i in range(len(dimensions)))
        found[(row["window_start"], row["resource"])].append((target, row["quantity"]))
    for targets in found.values():
        targets.sort(key=lambda pair: tuple(value or "" for value in pair[0]))
    return dict(found)
