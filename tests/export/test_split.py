"""The margin-exact split of a pool's origin amounts to its targets (apportion.export.split)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from apportion.allocate.arrow_decimal import IntArray
from apportion.export.split import MarginSplit, SplitError, split_rows

UNIT = 10**18  # one currency unit in units of 10^-18


def _ints(values: list[int]) -> IntArray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _split(amounts: list[int], targets: list[int], block: int) -> IntArray:
    split = MarginSplit(_ints(targets), len(amounts))
    blocks = [split.cells(_ints(amounts[k : k + block])) for k in range(0, len(amounts), block)]
    split.finish()
    return np.vstack(blocks) if blocks else np.zeros((0, len(targets)), dtype=object)


def test_thirds() -> None:
    """1 and 2 to three targets of 1: G(1, j) = floor(10^18 x j / 3), G(2, j) = j x 10^18;
    the corner differences are 1/3 (the last target takes the odd unit) and 2/3."""
    cells = _split([UNIT, 2 * UNIT], [UNIT, UNIT, UNIT], block=1)
    third = 333_333_333_333_333_333
    assert cells.tolist() == [
        [third, third, third + 1],
        [2 * third + 1, 2 * third + 1, 2 * third],
    ]


def test_a_total_of_zero_is_shared_equally() -> None:
    """5 and -5 to two targets of 0: each line half to each target."""
    assert _split([5 * UNIT, -5 * UNIT], [0, 0], block=2).tolist() == [
        [5 * UNIT // 2, 5 * UNIT // 2],
        [-5 * UNIT // 2, -5 * UNIT // 2],
    ]


def test_origin_rows_that_do_not_add_up_are_refused() -> None:
    split = MarginSplit(_ints([UNIT, UNIT]), 1)
    split.cells(_ints([UNIT]))
    with pytest.raises(SplitError, match="targets"):
        split.finish()


_AMOUNT = st.integers(-(10**24), 10**24)


@given(
    amounts=st.lists(_AMOUNT, min_size=1, max_size=8),
    weights=st.lists(st.integers(0, 10**6), min_size=1, max_size=6),
    zero_total=st.booleans(),
    block=st.integers(1, 4),
)
def test_both_margins_are_exact_and_cells_near_exact(
    amounts: list[int], weights: list[int], zero_total: bool, block: int
) -> None:
    """Any amounts (credits included), any targets the total is split to (by weights, the
    rounding unit going to the first), in blocks of any size: every row sums to its amount and
    every column to its target, exactly; with a non-zero total every cell is within two units
    of a_i x b_j / B."""
    if zero_total:
        amounts = [*amounts, -sum(amounts)]
    total = sum(amounts)
    if not any(weights):
        weights = [1, *weights[1:]]
    targets = [total * w // sum(weights) for w in weights]
    targets[0] += total - sum(targets)
    cells = _split(amounts, targets, block)
    assert cells.sum(axis=1).tolist() == amounts
    assert cells.sum(axis=0).tolist() == targets
    if total:
        for i, a in enumerate(amounts):
            for j, b in enumerate(targets):
                assert abs(cells[i, j] - Fraction(a * b, total)) < 2


@given(
    rows=st.lists(
        st.tuples(_AMOUNT, st.lists(st.integers(-(10**20), 10**20), min_size=3, max_size=3)),
        min_size=1,
        max_size=6,
    )
)
def test_a_row_follows_its_weights_exactly(rows: list[tuple[int, list[int]]]) -> None:
    """A quantity split by a row's cost cells sums exactly to the quantity; a row whose
    weights sum to zero keeps it all in the first column."""
    values = _ints([value for value, _ in rows])
    weights = np.array([w for _, w in rows], dtype=object)
    cells = split_rows(values, weights)
    assert cells.sum(axis=1).tolist() == values.tolist()
    for k, (value, w) in enumerate(rows):
        if sum(w) == 0:
            assert cells[k].tolist() == [value, 0, 0]
