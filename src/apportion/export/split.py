"""Splitting origin amounts to targets in integer units, exact on both margins.

A pool has origin rows (bill lines, or in a cascade the bill lines an earlier split passed on)
with amounts ``a_i`` and targets (its allocations) with amounts ``b_j``; both sum to the pool's
total ``B``. The exact cell is ``a_i * b_j / B``. Cells are integers of 10^-18, so they must be
rounded, and rounded so that every row still sums to its ``a_i`` (per origin line) and every
column to its ``b_j`` (per published allocation).

The rounding used here is the corner differencing of floored cumulative sums: with the row
prefix sums ``A_i = a_1 + ... + a_i`` and the column prefix sums ``P_j = b_1 + ... + b_j``, let
``G(i, j) = floor(A_i * P_j / B)`` and ``G(0, j) = G(i, 0) = 0``. The cell is
``G(i, j) - G(i-1, j) - G(i, j-1) + G(i-1, j-1)``. A row sums to ``G(i, n) - G(i-1, n) =
A_i - A_(i-1) = a_i`` because ``P_n = B``; a column sums to ``G(m, j) - G(m, j-1) = P_j -
P_(j-1) = b_j`` because ``A_m = B``. So both margins hold exactly, whatever the signs (credits
are negative), and every cell is within two units (2 x 10^-18) of its exact value. It needs no
search and works in blocks of rows (a block only needs the prefix sum before it), so a pool of
a million lines is split a few thousand lines at a time.

When a metric's ``B`` is 0 there is no share to take; the cell is then ``a_i / n + b_j / m``
(an equal share of each line to each target, plus the target's own amount spread evenly over
the lines: its rows and columns still sum to ``a_i`` and ``b_j``), floored the same way.

Amounts travel as numpy arrays of Python integers: a DECIMAL(38, 18) amount times another does
not fit 64 bits, and exactness is not negotiable.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from apportion.allocate.arrow_decimal import IntArray
from apportion.errors import WorkError

Mask = npt.NDArray[np.bool_]


class SplitError(WorkError):
    """A pool's origin rows and its targets do not add up to the same total."""


def _ints(values: list[int] | IntArray) -> IntArray:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


class MarginSplit:
    """One pool's split of one metric, fed the origin rows a block at a time, in order."""

    def __init__(self, targets: IntArray, rows: int) -> None:
        self.targets = _ints(targets)
        self.total = int(self.targets.sum()) if len(self.targets) else 0
        self.prefix = np.cumsum(self.targets) if len(self.targets) else self.targets
        self.rows = rows  # how many origin rows the pool has in all (for a total of zero)
        self.seen = 0  # origin rows split so far
        self.before = 0  # the sum of their amounts (A before the next block)

    def cells(self, amounts: IntArray) -> IntArray:
        """The next block of origin rows split to every target: an (m, n) array."""
        amounts = _ints(amounts)
        m, n = len(amounts), len(self.targets)
        if n == 0:
            raise SplitError("a pool with origin rows has no targets")
        if n == 1:  # the whole row goes to the only target: no arithmetic
            cells = amounts.reshape(m, 1).copy()
        else:
            prefix = self.before + np.cumsum(amounts)
            rows = np.r_[_ints([self.before]), prefix]  # A_(first-1) .. A_last
            start = self.seen
            floored = self._floored(rows, start)
            cells = np.diff(np.diff(floored, axis=0), axis=1, prepend=0)
        self.seen += m
        self.before += int(amounts.sum()) if m else 0
        return cells

    def skip(self, amounts: IntArray) -> None:
        """Count a block whose cells were taken from an identical split (another metric with
        the same amounts on both margins)."""
        self.seen += len(amounts)
        self.before += int(_ints(amounts).sum()) if len(amounts) else 0

    def _floored(self, prefix: IntArray, start: int) -> IntArray:
        """G(i, j) for the rows whose prefix sums are given (the first is the row before the
        block, numbered ``start``)."""
        floored: IntArray
        if self.total != 0:
            floored = np.multiply.outer(prefix, self.prefix) // self.total
            return floored
        # B = 0: cell a_i / n + b_j / m, floored over the cumulative sums
        n, m = len(self.targets), max(self.rows, 1)
        counts = _ints(list(range(start, start + len(prefix))))
        share = np.multiply.outer(prefix, _ints(list(range(1, n + 1)))) * m
        spread = np.multiply.outer(counts, self.prefix) * n
        floored = (share + spread) // (n * m)
        return floored

    def finish(self) -> None:
        """Refuse a pool whose origin rows did not add up to its targets' total."""
        if self.before != self.total:
            raise SplitError(f"origin rows sum to {self.before} units, targets to {self.total}")
        if self.seen != self.rows:
            raise SplitError(f"expected {self.rows} origin rows, split {self.seen}")


def split_rows(values: IntArray, weights: IntArray) -> IntArray:
    """Each row's value split over the columns in proportion to that row's weights, exactly on
    the row (quantities and the allocated ratio follow a cost metric's cells). A row whose
    weights sum to zero puts its whole value in the first column."""
    values = _ints(values)
    m, n = weights.shape
    totals = weights.sum(axis=1) if n else np.zeros(m, dtype=object)
    empty = np.asarray(totals == 0, dtype=bool)
    cumulative = np.cumsum(weights, axis=1)
    if empty.any():
        cumulative = cumulative.copy()
        cumulative[empty] = 1
        totals = totals.copy()
        totals[empty] = 1
    floored = (values.reshape(m, 1) * cumulative) // totals.reshape(m, 1)
    cells: IntArray = np.diff(floored, axis=1, prepend=0)
    return cells
