"""What a period's allocation read: per table and source, a hash of the files its rows came
from. Recorded with every run, so closing can tell that the bills or meters changed since."""

from __future__ import annotations

import hashlib
from collections import defaultdict

import ibis

from apportion.engine import DataPlane
from apportion.periods import Period
from apportion.schema import columns as col
from apportion.schema import tables as t

INPUT_TABLES = (t.COST_LINES, t.DRIVERS, t.USAGE)


def input_partitions(plane: DataPlane, period: Period) -> dict[str, str]:
    """``{"cost_lines/aws": sha256 of its sorted file hashes, ...}``, in one query."""
    parts = []
    for name in INPUT_TABLES:
        table = plane.table(name)
        table = table.filter(table[t.BILLING_PERIOD] == str(period))
        parts.append(
            table.select(
                kind=ibis.literal(name), source=table[t.SOURCE], file_hash=table[t.FILE_HASH]
            ).distinct()
        )
    found = plane.to_arrow(ibis.union(*parts, distinct=True)).to_pylist()
    files: dict[str, list[str]] = defaultdict(list)
    for row in found:
        files[f"{row['kind']}/{row['source']}"].append(row["file_hash"] or "")
    return {
        partition: hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()
        for partition, hashes in sorted(files.items())
    }


def changed_partitions(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    return sorted(p for p in set(recorded) | set(current) if recorded.get(p) != current.get(p))


def runs_held(plane: DataPlane, period: str) -> set[str]:
    """The runs whose pools of the period the data plane holds: one, once a run is published."""
    pools = plane.table(t.POOLS)
    found = pools.filter(pools[t.BILLING_PERIOD] == period).select(col.RUN_ID).distinct()
    return set(plane.to_arrow(found).column(0).to_pylist())
