"""The rule group solve against a plain statement of the same equations in Python fractions:
random groups of services with random shares between them and to targets outside."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from apportion.allocate.groups import Target, solve
from apportion.config import RuleGroup

OUTSIDE = [("search",), ("chat",), ("fraud",)]


@st.composite
def groups(draw: st.DrawFn) -> tuple[list[str], dict[str, list[Target]]]:
    n = draw(st.integers(1, 6))
    names = [f"s{i}" for i in range(n)]
    splits: dict[str, list[Target]] = {}
    for name in names:
        targets = [
            Target(("x",), draw(st.integers(0, 10**14)), claimed_by=other)
            for other in draw(st.lists(st.sampled_from(names), max_size=n, unique=True))
        ]
        targets += [
            Target(values, draw(st.integers(1, 10**14)))
            for values in draw(st.lists(st.sampled_from(OUTSIDE), max_size=3, unique=True))
        ]
        splits[name] = [target for target in targets if target.weight]
    return names, splits


def _expected(
    order: list[str], good: list[str], splits: dict[str, list[Target]], step_down: bool
) -> dict[str, dict[tuple[str, ...], Fraction]]:
    """X = S X + E for the services whose cost all leaves the group (``good``: they reach only
    each other), solved by Gauss-Jordan elimination in fractions."""
    at = {name: i for i, name in enumerate(order)}
    names = good
    rows: dict[str, tuple[dict[str, Fraction], dict[tuple[str, ...], Fraction]]] = {}
    for name in names:
        i = at[name]
        kept = [
            t
            for t in splits[name]
            if not (step_down and t.claimed_by is not None and at[t.claimed_by] <= i)
        ]
        total = sum(t.weight for t in kept)
        inside: dict[str, Fraction] = {}
        outside: dict[tuple[str, ...], Fraction] = {}
        for t in kept:
            share = Fraction(t.weight, total)
            if t.claimed_by is None:
                outside[t.values] = outside.get(t.values, Fraction(0)) + share
            else:
                inside[t.claimed_by] = inside.get(t.claimed_by, Fraction(0)) + share
        rows[name] = (inside, outside)
    # Gaussian elimination on (I - S) X = E, in fractions, one unknown row per service
    n = len(names)
    keys = sorted({v for _, out in rows.values() for v in out})
    matrix = [
        [Fraction(int(i == k)) - rows[names[i]][0].get(names[k], Fraction(0)) for k in range(n)]
        + [rows[names[i]][1].get(v, Fraction(0)) for v in keys]
        for i in range(n)
    ]
    for k in range(n):
        pivot = next(r for r in range(k, n) if matrix[r][k] != 0)
        matrix[k], matrix[pivot] = matrix[pivot], matrix[k]
        matrix[k] = [v / matrix[k][k] for v in matrix[k]]
        for r in range(n):
            if r != k and matrix[r][k] != 0:
                factor = matrix[r][k]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[k], strict=True)]
    return {names[i]: dict(zip(keys, matrix[i][n:], strict=True)) for i in range(n)}


@settings(max_examples=150, deadline=None)
@given(groups(), st.sampled_from(["reciprocal", "step-down"]))
def test_the_solve_matches_the_equations(
    group: tuple[list[str], dict[str, list[Target]]], method: str
) -> None:
    names, splits = group
    solution = solve(RuleGroup(name="g", rules=names, method=method), splits)  # type: ignore[arg-type]
    good = [name for name in names if name not in solution.stuck]
    expected_of = _expected(names, good, splits, method == "step-down")
    for name in names:
        if name in solution.stuck:
            continue  # checked below: cost that cannot leave is never given shares
        weights = solution.leaving[name]
        assert all(weight > 0 for _, weight in weights)
        total = sum(weight for _, weight in weights)
        got = {values: Fraction(weight, total) for values, weight in weights}
        assert got == {v: s for v, s in expected_of[name].items() if s}
        assert sum(got.values()) == 1


@settings(max_examples=150, deadline=None)
@given(groups())
def test_a_service_is_stuck_exactly_when_some_of_its_cost_never_leaves(
    group: tuple[list[str], dict[str, list[Target]]],
) -> None:
    """Stuck: it reaches (or is) a service with no way out, following shares inside."""
    names, splits = group
    solution = solve(RuleGroup(name="g", rules=names, method="reciprocal"), splits)
    inside = {n: {t.claimed_by for t in splits[n] if t.claimed_by} for n in names}
    exits = {n for n in names if any(t.claimed_by is None for t in splits[n])}

    def reach(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for other in inside[todo.pop()]:
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    for name in names:
        caught = any(not (reach(m) & exits) for m in reach(name))
        assert (name in solution.stuck) == caught
