"""Splitting every pool of a generation at once, in columns.

A run can have hundreds of thousands of (pool, target) pairs (a thousand shared resources x
31 daily windows x the use cases metered on each), so the exact largest-remainder split runs
over numpy arrays of Python integers rather than row by row: amounts in units of 10^-18,
weights in units of 10^-12. Rows are grouped by pool, targets sorted within a pool, and ties go
to the earlier target, exactly as :func:`apportion.allocate.split.split` does for one pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from apportion.allocate.arrow_decimal import IntArray
from apportion.money import to_units
from apportion.schema.focus import COST_METRICS
from apportion.schema.tables import MONEY_SCALE

Dims = tuple[str | None, ...]


@dataclass
class Targets:
    """(pool, target) rows in pool order; ``dims`` holds one list per dimension."""

    dimensions: int
    pool: list[int] = field(default_factory=list)
    dims: list[list[str | None]] = field(default_factory=list)
    weight: list[int] = field(default_factory=list)  # units of 10^-12
    measured: list[bool] = field(default_factory=list)  # a driver quantity, not a rule weight

    def __post_init__(self) -> None:
        if not self.dims:
            self.dims = [[] for _ in range(self.dimensions)]

    def add(self, pool: int, dims: Dims, weight: int, *, measured: bool) -> None:
        self.pool.append(pool)
        for column, value in zip(self.dims, dims, strict=True):
            column.append(value)
        self.weight.append(weight)
        self.measured.append(measured)

    def extend(
        self, pool: int, dims: Sequence[Sequence[str | None]], weights: Sequence[int]
    ) -> None:
        """Many measured targets of one pool at once (``dims`` by dimension)."""
        self.pool.extend([pool] * len(weights))
        for column, values in zip(self.dims, dims, strict=True):
            column.extend(values)
        self.weight.extend(weights)
        self.measured.extend([True] * len(weights))

    def __len__(self) -> int:
        return len(self.pool)


@dataclass
class Split:
    """The parts of every metric for every target row, and each row's place in its pool."""

    parts: dict[str, IntArray]  # metric -> units of 10^-18 per row
    index_in_pool: npt.NDArray[np.int64]
    pool_weight: IntArray  # the pool's total weight, per row


def split_pools(pools: Sequence[dict[str, Any]], targets: Targets) -> Split:
    count = len(targets)
    pool = np.asarray(targets.pool, dtype=np.int64)
    if count and np.any(np.diff(pool) < 0):
        raise ValueError("target rows must be grouped by pool in pool order")
    starts = np.flatnonzero(np.r_[True, pool[1:] != pool[:-1]]) if count else np.array([], int)
    sizes = np.diff(np.r_[starts, count])
    index_in_pool = np.arange(count) - np.repeat(starts, sizes)
    weight = np.array(targets.weight, dtype=object)
    totals = np.add.reduceat(weight, starts) if count else np.array([], dtype=object)
    if count and any(total <= 0 for total in totals):
        raise ValueError("every pool with targets needs a positive total weight")
    pool_weight = np.repeat(totals, sizes)
    parts: dict[str, IntArray] = {}
    for metric in COST_METRICS:
        amount = np.array(
            [to_units(pools[p][metric], MONEY_SCALE) for p in pool[starts]], dtype=object
        )
        row_amount = np.repeat(amount, sizes)
        exact = row_amount * weight  # amount x weight, compared against the pool weight
        base = exact // pool_weight
        remainder = exact - base * pool_weight
        leftover = amount - (np.add.reduceat(base, starts) if count else amount)
        _distribute(base, remainder, pool_weight, starts, sizes, leftover)
        parts[metric] = base
    return Split(parts=parts, index_in_pool=index_in_pool, pool_weight=pool_weight)


def _distribute(
    base: IntArray,
    remainder: IntArray,
    pool_weight: IntArray,
    starts: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
    leftover: IntArray,
) -> None:
    """Give each pool's leftover units to its largest remainders, earlier target on ties.

    Remainders are ranked by their float value (remainder / pool weight) in one vectorised
    sort; only a pool whose last chosen and first unchosen remainders are too close for a
    float to tell apart is ranked again exactly, with Python integers.
    """
    count = len(base)
    if not count:
        return
    pool = np.repeat(np.arange(len(starts)), sizes)
    key = (remainder / pool_weight).astype(np.float64)
    order = np.lexsort((np.arange(count), -key, pool))
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(count) - np.repeat(starts, sizes)
    wanted = np.array([int(units) for units in leftover], dtype=np.int64)
    chosen = rank < np.repeat(wanted, sizes)
    sorted_key = key[order]
    for p in np.flatnonzero((wanted > 0) & (wanted < sizes)).tolist():
        start, cut = int(starts[p]), int(starts[p] + wanted[p])
        last_in, first_out = sorted_key[cut - 1], sorted_key[cut]
        if last_in - first_out <= _CLOSE * max(abs(last_in), 1e-300):
            _exact(chosen, remainder, start, int(sizes[p]), int(wanted[p]))
    base[chosen] += 1


_CLOSE = 1e-9  # relative gap below which float ranking might differ from exact ranking


def _exact(
    chosen: npt.NDArray[np.bool_], remainder: IntArray, start: int, size: int, units: int
) -> None:
    window = remainder[start : start + size].tolist()
    chosen[start : start + size] = False
    for i in sorted(range(size), key=lambda i: (-window[i], i))[:units]:
        chosen[start + i] = True
