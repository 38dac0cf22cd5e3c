"""The exact split and the statement rounding, as properties over random amounts."""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from apportion.allocate.split import round_to_total, split, split_units
from apportion.money import EXACT, exact_sum

amounts = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=18, allow_nan=False
)
weights = st.lists(
    st.decimals(min_value=0, max_value=Decimal("1e9"), places=6, allow_nan=False),
    min_size=1,
    max_size=30,
).filter(lambda ws: sum(ws) > 0)


@given(amounts, weights)
def test_split_parts_sum_to_the_amount_exactly(amount: Decimal, ws: list[Decimal]) -> None:
    parts = split(amount, ws)
    assert exact_sum(parts) == amount
    total = exact_sum(ws)
    with localcontext(EXACT):
        for part, weight in zip(parts, ws, strict=True):
            # each part is within one unit (1e-18) of its exact proportional share
            assert abs(part - amount * weight / total) < Decimal("1e-18")
            if weight == 0:
                assert part == 0


@given(
    st.integers(min_value=-(10**30), max_value=10**30), st.lists(st.integers(0, 10**6), min_size=1)
)
def test_split_units_is_exact_for_any_sign(units: int, ws: list[int]) -> None:
    if sum(ws) == 0:
        ws = [*ws, 1]
    parts = split_units(units, ws)
    assert sum(parts) == units


def test_split_ties_go_to_the_earlier_target() -> None:
    assert split(Decimal("1e-18"), [Decimal(1), Decimal(1)]) == [Decimal("1e-18"), Decimal(0)]
    assert split(Decimal("-1e-18"), [Decimal(1), Decimal(1)]) == [Decimal(0), Decimal("-1e-18")]


@given(st.lists(amounts, min_size=1, max_size=40), st.sampled_from([0, 2, 3]))
def test_rounded_lines_add_up_to_the_rounded_total(values: list[Decimal], places: int) -> None:
    rounded = round_to_total(values, places)
    with localcontext(EXACT):
        quantum = Decimal(1).scaleb(-places)
        assert exact_sum(rounded) == exact_sum(values).quantize(quantum)
        for exact, value in zip(values, rounded, strict=True):
            assert value == value.quantize(quantum)
            assert abs(value - exact) < quantum


pool_weights = st.lists(
    st.lists(st.integers(0, 10**15), min_size=1, max_size=12).filter(lambda ws: sum(ws) > 0),
    min_size=1,
    max_size=8,
)


@given(pool_weights, st.lists(amounts, min_size=8, max_size=8))
def test_columnar_split_equals_the_one_pool_split(
    weights: list[list[int]], values: list[Decimal]
) -> None:
    """The vectorised split of many pools gives, pool by pool, exactly the scalar split."""
    from apportion.allocate.batch import Targets, split_pools
    from apportion.money import from_units

    metrics = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
    pools = [dict.fromkeys(metrics, values[i]) for i in range(len(weights))]
    targets = Targets(1)
    for index, ws in enumerate(weights):
        for w in ws:
            targets.add(index, ("x",), w, measured=True)
    result = split_pools(pools, targets.rows())
    offset = 0
    for index, ws in enumerate(weights):
        expected = split(values[index], [Decimal(w) for w in ws])
        got = [from_units(u) for u in result.parts["BilledCost"][offset : offset + len(ws)]]
        assert got == expected
        offset += len(ws)


def test_columnar_split_breaks_near_ties_exactly() -> None:
    from apportion.allocate.batch import Targets, split_pools

    # remainders that differ by one part in 10^30: floats cannot tell them apart
    big = 10**30
    pools = [
        dict.fromkeys(
            ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"), Decimal("1e-18")
        )
    ]
    targets = Targets(1)
    targets.add(0, ("a",), big, measured=True)
    targets.add(0, ("b",), big + 1, measured=True)
    result = split_pools(pools, targets.rows())
    assert list(result.parts["BilledCost"]) == [0, 1]
    assert split(Decimal("1e-18"), [Decimal(big), Decimal(big + 1)]) == [
        Decimal(0),
        Decimal("1e-18"),
    ]


@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0, 1, exclude_max=True)), max_size=60))
def test_packed_ranking_orders_like_a_two_key_sort(rows: list[tuple[int, float]]) -> None:
    """Ranking by one packed integer never swaps two keys; it may only merge very close ones,
    and it says where it did so the split can rank those exactly."""
    from apportion.allocate.batch import _ranked

    rows.sort(key=lambda row: row[0])
    pool = np.array([p for p, _ in rows], dtype=np.int64)
    key = np.array([k for _, k in rows], dtype=np.float64)
    order, packed = _ranked(key, pool, 4)
    assert packed is not None
    assert sorted(order.tolist()) == list(range(len(rows)))
    for i in range(len(rows) - 1):
        a, b = order[i], order[i + 1]
        assert (pool[a], -key[a], a) <= (pool[b], -key[b], b) or packed[i] == packed[i + 1]


def test_packed_ranking_reports_keys_it_cannot_tell_apart() -> None:
    from apportion.allocate.batch import _ranked

    _, packed = _ranked(np.array([1e-30, 2e-30, 0.5]), np.zeros(3, dtype=np.int64), 1)
    assert packed is not None
    assert packed[0] != packed[1] == packed[2]  # 0.5 first, then the two it merged
