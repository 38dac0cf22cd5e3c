"""Which map keys the loaded files' rows can have, as recorded at ingest (``loads.keys``): a
driver file's dimensions, a bill's tag keys. A dimension no file has is NULL on every row, so
a scan need not look it up: one map lookup per row costs about a quarter of a grouped scan of
the driver rows."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

from apportion.engine import DataPlane
from apportion.schema import tables as t

FileKind = Literal["focus", "drivers"]


def carried_keys(plane: DataPlane, kind: FileKind) -> set[str] | None:
    """The keys any loaded file of this kind has; None when a load did not record them
    (loaded by an older version: then any key may be present). Every file counts, not only a
    period's: a day window can reach into the month before."""
    loads = plane.table(t.LOADS)
    recorded = plane.to_arrow(loads.filter(loads.kind == kind).select("keys"))
    carried: set[str] = set()
    for keys in recorded["keys"].to_pylist():
        if keys is None:
            return None
        carried.update(keys)
    return carried


def to_read(dimensions: Sequence[str], carried: Collection[str] | None) -> list[str]:
    """The dimensions a scan must look up: those some file has (all when not known)."""
    return [d for d in dimensions if carried is None or d in carried]
