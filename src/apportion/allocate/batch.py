"""Splitting every pool of a generation at once, in columns.

A run can have hundreds of thousands of (pool, target) pairs (a thousand shared resources x
31 daily windows x the use cases metered on each), so the exact largest-remainder split runs
over numpy arrays of Python integers rather than row by row: amounts in units of 10^-18,
weights in units of 10^-12. Rows are grouped by pool, targets sorted within a pool, and ties go
to the earlier target, exactly as :func:`apportion.allocate.split.split` does for one pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from apportion.allocate.arrow_decimal import IntArray
from apportion.money import to_units
from apportion.schema.focus import COST_METRICS
from apportion.schema.tables import MONEY_SCALE

Dims = tuple[str | None, ...]
Weighted = list[tuple[Dims, int]]  # targets with integer weights, in a fixed order


@dataclass(frozen=True)
class TargetRows:
    """(pool, target) rows grouped by pool, in pool order; columns, never Python rows."""

    pool: npt.NDArray[np.int64]
    dims: list[pa.Array]  # one string column per dimension
    weight: IntArray  # units of 10^-12
    measured: npt.NDArray[np.bool_]  # a driver quantity, not a rule weight

    def __len__(self) -> int:
        return len(self.pool)


@dataclass
class Targets:
    """Collects the targets of a generation's pools: single rows (an owner, an even or fixed
    share) and whole blocks of measured driver quantities, which stay in columns."""

    dimensions: int
    _pool: list[int] = field(default_factory=list)
    _dims: list[list[str | None]] = field(default_factory=list)
    _weight: list[int] = field(default_factory=list)
    _measured: list[bool] = field(default_factory=list)
    _blocks: list[TargetRows] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._dims = [[] for _ in range(self.dimensions)]

    def add(self, pool: int, dims: Dims, weight: int, *, measured: bool) -> None:
        self._pool.append(pool)
        for column, value in zip(self._dims, dims, strict=True):
            column.append(value)
        self._weight.append(weight)
        self._measured.append(measured)

    def add_measured(
        self, pool: npt.NDArray[np.int64], dims: Sequence[pa.Array], weight: IntArray
    ) -> None:
        """Measured targets of many pools at once; ``pool`` names each row's pool, and a
        pool's rows are in the order the split must see them."""
        if len(dims) != self.dimensions:
            raise ValueError(f"expected {self.dimensions} dimension columns, got {len(dims)}")
        measured = np.ones(len(pool), dtype=bool)
        self._blocks.append(TargetRows(pool, list(dims), weight, measured))

    def rows(self) -> TargetRows:
        """Every row, grouped by pool in pool order (a pool's own rows keep their order)."""
        single = TargetRows(
            np.asarray(self._pool, dtype=np.int64),
            [pa.array(column, pa.string()) for column in self._dims],
            np.array(self._weight, dtype=object),
            np.asarray(self._measured, dtype=bool),
        )
        blocks = [single, *self._blocks]
        pool = np.concatenate([b.pool for b in blocks])
        order = np.argsort(pool, kind="stable")
        taken = pa.array(order, pa.int64())
        return TargetRows(
            pool=pool[order],
            dims=[
                pa.concat_arrays([b.dims[i] for b in blocks]).take(taken)
                for i in range(self.dimensions)
            ],
            weight=np.concatenate([b.weight for b in blocks])[order],
            measured=np.concatenate([b.measured for b in blocks])[order],
        )


@dataclass
class Split:
    """The parts of every metric for every target row, and each row's place in its pool."""

    parts: dict[str, IntArray]  # metric -> units of 10^-18 per row
    index_in_pool: npt.NDArray[np.int64]
    pool_weight: IntArray  # the pool's total weight, per row


def split_pools(amounts: Sequence[Mapping[str, Decimal]], targets: TargetRows) -> Split:
    count = len(targets)
    pool = targets.pool
    if count and np.any(np.diff(pool) < 0):
        raise ValueError("target rows must be grouped by pool in pool order")
    starts = np.flatnonzero(np.r_[True, pool[1:] != pool[:-1]]) if count else np.array([], int)
    sizes = np.diff(np.r_[starts, count])
    index_in_pool = np.arange(count) - np.repeat(starts, sizes)
    weight = targets.weight
    totals = np.add.reduceat(weight, starts) if count else np.array([], dtype=object)
    if count and any(total <= 0 for total in totals):
        raise ValueError("every pool with targets needs a positive total weight")
    pool_weight = np.repeat(totals, sizes)
    # a rule group's solved weights can pass a float's range: ranked by Python's exact
    # int / int division then (correctly rounded), else by numpy's, far faster
    wide = bool(count) and max(int(total) for total in totals).bit_length() > _FLOAT_BITS
    rank_weight = None if wide else pool_weight.astype(np.float64)
    parts: dict[str, IntArray] = {}
    split_before: list[tuple[IntArray, IntArray]] = []  # (pool amounts, parts) per metric
    for metric in COST_METRICS:
        amount = np.array(
            [to_units(amounts[p][metric], MONEY_SCALE) for p in pool[starts]], dtype=object
        )
        # metrics often carry the same amounts (ListCost = BilledCost without discounts)
        same = next((done for seen, done in split_before if np.array_equal(seen, amount)), None)
        if same is not None:
            parts[metric] = same  # the same array: nothing changes parts once split
            continue
        exact = np.repeat(amount, sizes) * weight  # amount x weight, against the pool weight
        base, remainder = exact // pool_weight, exact % pool_weight
        leftover = amount - (np.add.reduceat(base, starts) if count else amount)
        key = (
            (remainder / pool_weight).astype(np.float64)
            if rank_weight is None
            else remainder.astype(np.float64) / rank_weight
        )
        _distribute(base, remainder, key, starts, sizes, leftover)
        parts[metric] = base
        split_before.append((amount, base))
    return Split(parts=parts, index_in_pool=index_in_pool, pool_weight=pool_weight)


def _distribute(
    base: IntArray,
    remainder: IntArray,
    key: npt.NDArray[np.float64],
    starts: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
    leftover: IntArray,
) -> None:
    """Give each pool's leftover units to its largest remainders, earlier target on ties.

    Remainders are ranked by their float value (``key``: remainder / pool weight, in [0, 1))
    in one vectorised sort; only a pool whose last chosen and first unchosen remainders are
    too close for a float to tell apart is ranked again exactly, with Python integers.
    """
    count = len(base)
    if not count:
        return
    pool = np.repeat(np.arange(len(starts)), sizes)
    order, packed = _ranked(key, pool, len(starts))
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(count) - np.repeat(starts, sizes)
    wanted = np.array([int(units) for units in leftover], dtype=np.int64)
    chosen = rank < np.repeat(wanted, sizes)
    sorted_key = key[order]
    for p in np.flatnonzero((wanted > 0) & (wanted < sizes)).tolist():
        start, cut = int(starts[p]), int(starts[p] + wanted[p])
        last_in, first_out = sorted_key[cut - 1], sorted_key[cut]
        tied = packed is not None and packed[cut - 1] == packed[cut]
        if tied or last_in - first_out <= _CLOSE * max(abs(last_in), 1e-300):
            _exact(chosen, remainder, start, int(sizes[p]), int(wanted[p]))
    base[chosen] += 1


def _ranked(
    key: npt.NDArray[np.float64], pool: npt.NDArray[np.int64], pools: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64] | None]:
    """Rows ordered by pool, then largest key first, the earlier row on equal keys.

    One stable sort of a packed integer (the pool in the high bits, the key's complement,
    truncated, below) is ten times faster than a two-key sort. Truncation can only merge keys,
    never swap them; the packed values, sorted, come back so a caller can see where two rows
    were merged at its cut. With too many pools to leave 32 bits for the key: the two-key sort.
    """
    key_bits = 63 - max(1, pools.bit_length())
    if key_bits < 32:
        return np.lexsort((-key, pool)), None  # lexsort is stable too
    # (1 - key) x 2^bits is at most 2^bits (a key of 0): clipped so it never reaches the pool
    scaled = ((1.0 - key) * np.float64(2.0**key_bits)).astype(np.uint64)
    truncated = np.minimum(scaled, np.uint64((1 << key_bits) - 1))
    packed = (pool.astype(np.uint64) << np.uint64(key_bits)) | truncated
    order = np.argsort(packed, kind="stable")
    return order, packed[order]


_FLOAT_BITS = 1000  # a float64 holds integers up to about 2^1024
_CLOSE = 1e-9  # relative gap below which float ranking might differ from exact ranking


def _exact(
    chosen: npt.NDArray[np.bool_], remainder: IntArray, start: int, size: int, units: int
) -> None:
    window = remainder[start : start + size].tolist()
    chosen[start : start + size] = False
    for i in sorted(range(size), key=lambda i: (-window[i], i))[:units]:
        chosen[start + i] = True
