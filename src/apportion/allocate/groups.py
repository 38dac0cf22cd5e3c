"""Rule groups: shared services that use each other, solved instead of refused as a cycle.

A platform team's cluster runs the observability stack, and the observability stack watches
the cluster: each service's cost is split partly to the other. Rules written for that form a
cycle, which an ungrouped run refuses. A rule group (``rule_groups`` in apportion.yaml) names
the rules and how to solve them:

- **reciprocal**: the simultaneous equations ``total_i = entering_i + sum_k s_ki total_k``,
  solved exactly. Each rule's shares are integers (its targets' weights), so the system is
  one of integers, solved without fractions by fraction-free Gauss-Jordan elimination: every
  share out of the group comes out over one common denominator, the system's determinant.
- **step-down**: the rules in precedence order; a rule's shares to itself and to rules before
  it are dropped (each drop is reported) and its other shares renormalised, so cost only
  flows forward, and the same solve gives the step-down result.

Either way a pool that enters the group is split once, straight to the targets outside it,
by the solved shares: exact rational shares as integer weights, so the split's one rounding
(largest remainder) keeps conservation. A target is inside the group when a group rule would
claim the allocation it makes (the same claim a cascade makes, evaluated in the engine on the
target's values as the allocation would carry them); the group's own allocations are not
claimed by its rules again. Cost that can never leave the group (its rules send everything to
each other, or one has no targets this month) stays unallocated, with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import ibis
import numpy as np
import pyarrow as pa

from apportion.allocate import claims
from apportion.allocate.batch import Dims, Weighted
from apportion.allocate.drivers import Folding, Spell, month_quantities
from apportion.allocate.pool import Pool
from apportion.allocate.targets import Implied, completed, dimension_maps
from apportion.config import ActivityRule, Config, EvenRule, FixedRule, Rule, RuleGroup
from apportion.engine import DataPlane
from apportion.engine.dataplane import plain_arrow
from apportion.money import to_units
from apportion.periods import Period
from apportion.rules.columns import allocation_columns, compile_match
from apportion.rules.expr import Match
from apportion.schema import columns as col
from apportion.schema import tables as t

Classified = dict[str, list[str | None]]  # group rule -> the rule claiming each target


@dataclass(frozen=True)
class Target:
    """One target of a group rule: the values it names, its weight, and the group rule that
    takes in the allocation it would make (None: the cost leaves the group there)."""

    values: Dims
    weight: int
    claimed_by: str | None = None


@dataclass
class Solution:
    """A group solved for one way of classifying its targets."""

    leaving: dict[str, Weighted] = field(default_factory=dict)  # entry rule -> targets out
    stuck: dict[str, str] = field(default_factory=dict)  # entry rule -> why nothing leaves
    dropped: list[tuple[str, str, Fraction]] = field(default_factory=list)  # step-down

    def share(self, entry: str, values: Dims) -> Fraction:
        """The exact share of a unit entering ``entry`` that reaches ``values``."""
        weights = self.leaving[entry]
        total = sum(weight for _, weight in weights)
        return Fraction(sum(w for v, w in weights if v == values), total)


def solve(
    group: RuleGroup,
    splits: Mapping[str, Sequence[Target]],
    empty: Mapping[str, str] | None = None,
) -> Solution:
    """The group's shares out, per rule a pool may enter by. ``splits``: every group rule's
    targets; ``empty``: why a rule has none (its driver measured nothing this month)."""
    order = list(group.rules)
    at = {name: i for i, name in enumerate(order)}
    solution = Solution()
    internal: list[dict[int, int]] = []  # per rule: group rule -> weight sent to it
    leaving: list[dict[Dims, int]] = []  # per rule: target outside -> weight
    totals: list[int] = []
    for i, name in enumerate(order):
        inside: dict[int, int] = {}
        outside: dict[Dims, int] = {}
        targets = list(splits.get(name, ()))
        if group.method == "step-down":
            targets = _stepped_down(name, i, targets, at, solution)
        for target in targets:
            if target.claimed_by is None:
                outside[target.values] = outside.get(target.values, 0) + target.weight
            else:
                k = at[target.claimed_by]
                inside[k] = inside.get(k, 0) + target.weight
        internal.append(inside)
        leaving.append(outside)
        totals.append(sum(inside.values()) + sum(outside.values()))
    why = _why_stuck(order, internal, leaving, totals, dict(empty or {}))
    solution.stuck = {order[i]: reason for i, reason in why.items()}
    good = [i for i in range(len(order)) if i not in why]
    if good:
        solution.leaving = _solved(order, good, internal, leaving, totals)
    return solution


def _stepped_down(
    name: str, i: int, targets: list[Target], at: Mapping[str, int], solution: Solution
) -> list[Target]:
    """A rule's targets without those that would return its cost to itself or to a rule
    before it in the order; what was dropped is recorded."""
    back = [t for t in targets if t.claimed_by is not None and at[t.claimed_by] <= i]
    if not back:
        return targets
    total = sum(target.weight for target in targets)
    for earlier in sorted({target.claimed_by for target in back if target.claimed_by}):
        weight = sum(target.weight for target in back if target.claimed_by == earlier)
        solution.dropped.append((name, earlier, Fraction(weight, total)))
    return [t for t in targets if t.claimed_by is None or at[t.claimed_by] > i]


def _why_stuck(
    order: list[str],
    internal: list[dict[int, int]],
    leaving: list[dict[Dims, int]],
    totals: list[int],
    empty: dict[str, str],
) -> dict[int, str]:
    """Rules whose entering cost could not all leave the group, with why: it can reach a rule
    that has no targets, or rules that only send cost to each other."""
    n = len(order)
    reach = [_reachable(i, internal) for i in range(n)]
    exits = {i for i in range(n) if leaving[i]}
    traps = {i for i in range(n) if not (reach[i] | {i}) & exits}
    why: dict[int, str] = {}
    for i in range(n):
        caught = sorted((reach[i] | {i}) & traps)
        if not caught:
            continue
        barren = [order[k] for k in caught if totals[k] == 0]
        if barren:
            name = barren[0]
            why[i] = f"rule {name} of its group has {empty.get(name, 'no targets')}"
        else:
            names = ", ".join(order[k] for k in caught)
            why[i] = f"rules {names} send all their cost to each other and none leaves the group"
    return why


def _reachable(start: int, internal: list[dict[int, int]]) -> set[int]:
    seen: set[int] = set()
    todo = [k for k, weight in internal[start].items() if weight]
    while todo:
        k = todo.pop()
        if k not in seen:
            seen.add(k)
            todo.extend(m for m, weight in internal[k].items() if weight and m not in seen)
    return seen


def _solved(
    order: list[str],
    good: list[int],
    internal: list[dict[int, int]],
    leaving: list[dict[Dims, int]],
    totals: list[int],
) -> dict[str, Weighted]:
    """Shares out of the group for the rules whose cost all leaves it, as integer weights
    over one denominator: the system W (I - S) X = L in integers (W: each rule's total
    weight), solved by fraction-free Gauss-Jordan elimination of [W (I - S) | I], which gives
    d.(W (I - S))^-1 in integers; times L (a few targets a rule) it is d.X."""
    position = {i: p for p, i in enumerate(good)}
    outside = sorted({v for i in good for v in leaving[i]}, key=_order_key)
    column = {values: c for c, values in enumerate(outside)}
    m = len(good)
    rows: list[list[int]] = []
    for p, i in enumerate(good):
        row = [0] * (2 * m)
        row[p] = totals[i]
        for k, weight in internal[i].items():
            # every rule a good rule reaches is good: no cost of it is caught
            row[position[k]] -= weight
        row[m + p] = 1
        rows.append(row)
    determinant = _gauss_jordan(rows, m)
    sign = -1 if determinant < 0 else 1
    # L, sparse: each rule's weights to the targets outside, by column
    right = [[(column[v], w) for v, w in leaving[i].items()] for i in good]
    solved: dict[str, Weighted] = {}
    for p, i in enumerate(good):
        weights = [0] * len(outside)
        for k, inverse in enumerate(rows[p][m:]):
            if inverse:
                for c, weight in right[k]:
                    weights[c] += inverse * weight
        weights = [sign * w for w in weights]
        if sum(weights) != abs(determinant) or any(w < 0 for w in weights):
            raise ArithmeticError(f"rule group solve for {order[i]} did not conserve")
        common = math.gcd(*weights)
        solved[order[i]] = [
            (values, w // common) for values, w in zip(outside, weights, strict=True) if w
        ]
    return solved


def _gauss_jordan(rows: list[list[int]], m: int) -> int:
    """Reduce ``rows`` (m equations, then right-hand sides) in place to d.I | d.X, where d is
    the determinant up to sign, in integers only: every division below is exact (Bareiss's
    method, carried to the reduced form)."""
    previous = 1
    for k in range(m):
        pivot_row = next((r for r in range(k, m) if rows[r][k] != 0), None)
        if pivot_row is None:
            raise ArithmeticError("rule group equations are singular")
        if pivot_row != k:
            rows[k], rows[pivot_row] = rows[pivot_row], rows[k]
        pivot = rows[k][k]
        pivot_values = rows[k]
        for r in range(m):
            if r == k:
                continue
            row = rows[r]
            factor = row[k]
            rows[r] = [
                (pivot * a - factor * b) // previous for a, b in zip(row, pivot_values, strict=True)
            ]
        previous = pivot
    return previous


def _order_key(values: Dims) -> tuple[tuple[bool, str], ...]:
    return tuple((value is None, value or "") for value in values)


class GroupSplits:
    """Splits the pools that enter a rule group, for one run. Targets are read once per rule
    (a driver's monthly quantities), classified in the engine per distinct context of the
    pools that enter, and each distinct classification is solved once."""

    def __init__(
        self,
        plane: DataPlane,
        config: Config,
        rules: Sequence[tuple[Rule, Match]],
        period: Period,
        spell: Spell,
        implied: Implied,
        carried: Collection[str] | None,
    ) -> None:
        self._plane, self._config, self._period = plane, config, period
        self._rules = list(rules)
        self._by_name = {rule.name: rule for rule, _ in rules}
        self._spell, self._implied, self._carried = spell, implied, carried
        self._targets: dict[str, tuple[list[Dims], list[int], str]] = {}
        self._solutions: dict[tuple[Any, ...], Solution] = {}
        self.folded: set[Folding] = set()
        self.notes: set[str] = set()

    def group_of(self, rule: str | None) -> RuleGroup | None:
        return self._config.group_of(rule) if rule else None

    def split(self, pools: Sequence[Pool]) -> dict[int, Weighted | str]:
        """For each pool a group rule claimed (by index): its targets outside the group with
        their integer weights, or why it stays unallocated."""
        entering = [(p, pool) for p, pool in enumerate(pools) if self.group_of(pool.rule)]
        if not entering:
            return {}
        contexts: dict[tuple[Any, ...], Pool] = {}
        for _, pool in entering:
            contexts.setdefault(_context(pool), pool)
        found = self._classified(list(contexts.values()))
        result: dict[int, Weighted | str] = {}
        for p, pool in entering:
            group = self.group_of(pool.rule)
            assert group is not None and pool.rule is not None
            solution = self._solution(group, found[_context(pool)])
            if pool.rule in solution.stuck:
                result[p] = solution.stuck[pool.rule]
            else:
                result[p] = solution.leaving[pool.rule]
        return result

    def _solution(self, group: RuleGroup, claimed: Mapping[str, list[str | None]]) -> Solution:
        key = (group.name, tuple((name, tuple(claimed[name])) for name in group.rules))
        if key not in self._solutions:
            splits = {
                name: [
                    Target(values, weight, by if by in group.rules else None)
                    for values, weight, by in zip(
                        *self._rule_targets(name)[:2], claimed[name], strict=True
                    )
                ]
                for name in group.rules
            }
            empty = {name: self._rule_targets(name)[2] for name in group.rules}
            solution = solve(group, splits, empty)
            for rule, earlier, share in solution.dropped:
                self.notes.add(
                    f"rule group {group.name} (step-down): {rule}'s share to {earlier} "
                    f"({_percent(share)}) dropped, as {earlier} comes first"
                )
            self._solutions[key] = solution
        return self._solutions[key]

    def _rule_targets(self, name: str) -> tuple[list[Dims], list[int], str]:
        """A group rule's targets as it names them, their weights, and why it has none."""
        if name not in self._targets:
            self._targets[name] = self._read_targets(self._by_name[name])
        return self._targets[name]

    def _read_targets(self, rule: Rule) -> tuple[list[Dims], list[int], str]:
        dims = self._config.dimensions
        if isinstance(rule, EvenRule | FixedRule):
            named = rule.target_weights()
            values = [tuple(target.get(d) for d in dims) for target, _ in named]
            return values, [to_units(w, t.QUANTITY_SCALE) for _, w in named], "no targets"
        assert isinstance(rule, ActivityRule)
        period = self._period
        quantities = month_quantities(
            self._plane,
            driver=rule.driver,
            only_resource=rule.driver_resource,
            period_start=period.start,
            period_end=period.end,
            dimensions=dims,
            carried=self._carried,
            spell=self._spell,
        )
        self.folded.update(quantities.folded)
        count = len(quantities.weights)
        columns = [column.to_pylist() for column in quantities.dims]
        values = [tuple(column[r] for column in columns) for r in range(count)]
        return values, [int(w) for w in quantities.weights], f"no {rule.driver} quantity"

    def _classified(
        self, contexts: list[Pool]
    ) -> dict[tuple[Any, ...], dict[str, list[str | None]]]:
        """For every context and group rule, which rule would claim each of its targets'
        allocations: one query in the engine over all of them."""
        dims = self._config.dimensions
        rows_pool: list[int] = []
        rows_rule: list[str] = []
        values: list[list[str | None]] = [[] for _ in dims]
        for c, pool in enumerate(contexts):
            group = self.group_of(pool.rule)
            assert group is not None
            for name in group.rules:
                for target in self._rule_targets(name)[0]:
                    rows_pool.append(c)
                    rows_rule.append(name)
                    for k, value in enumerate(target):
                        values[k].append(value)
        pool_of_row = np.asarray(rows_pool, dtype=np.int64)
        filled, _ = completed(
            [pa.array(column, pa.string()) for column in values],
            pool_of_row,
            contexts,
            dims,
            self._implied,
            # the allocations are the entering pool's rule's: its defaults fill them
            [self._config.defaults_of(self._by_name.get(pool.rule or "")) for pool in contexts],
        )
        claimed = self._claims(contexts, pool_of_row, rows_rule, filled)
        found: dict[tuple[Any, ...], Classified] = {}
        for pool in contexts:
            group = self.group_of(pool.rule)
            assert group is not None
            per_rule: dict[str, list[str | None]] = {name: [] for name in group.rules}
            found[_context(pool)] = per_rule
        for row, (c, name) in enumerate(zip(rows_pool, rows_rule, strict=True)):
            found[_context(contexts[c])][name].append(claimed[row])
        return found

    def _claims(
        self,
        contexts: list[Pool],
        pool_of_row: np.ndarray[Any, np.dtype[np.int64]],
        rows_rule: list[str],
        filled: list[pa.Array],
    ) -> list[str | None]:
        """The rule that would claim each row's allocation, as a cascade claims it: the first
        cascading rule whose match is true, not a rule that already split the cost on its path
        (claims.done_by), and not the row's own rule when it matches only the values its
        targets kept."""
        dims = self._config.dimensions
        taken = pa.array(pool_of_row, pa.int64())

        def per_pool(read: Any) -> pa.Array:
            return pa.array([read(pool) for pool in contexts], pa.string()).take(taken)

        table = pa.table(
            {
                "row": pa.array(np.arange(len(pool_of_row)), pa.int64()),
                "split_by": pa.array(rows_rule, pa.string()),
                col.PATH: per_pool(lambda pool: pool.path),
                col.BILLING_CURRENCY: per_pool(lambda pool: pool.currency),
                **{name: per_pool(lambda pool, n=name: pool.bill[n]) for name in t.BILL_DIMENSIONS},
                col.RESOURCE_ID: per_pool(lambda pool: pool.resource_id),
                col.RESOURCE_NAME: per_pool(lambda pool: pool.resource_name),
                col.DIMENSIONS: dimension_maps(dims, filled),
            }
        )
        cascading = claims.cascading(self._rules, dims)
        paths = {pool.path for pool in contexts}
        done_by = claims.done_by(cascading, paths, dims, self._by_name)
        memtable = ibis.memtable(plain_arrow(table))
        columns = allocation_columns(memtable, dims)
        cases = []
        for rule, match in cascading:
            condition = compile_match(match, columns)
            if self.group_of(rule.name):
                # a rule does not take back what it split; other rules of its group do
                condition = condition & (memtable.split_by != rule.name)
            elif done_by.get(rule.name):
                condition = condition & ~memtable[col.PATH].isin(done_by[rule.name])
            cases.append((condition, rule.name))
        claim = claims.first_claim(cases)
        result = self._plane.to_arrow(
            memtable.mutate(claim=claim).select("row", "claim").order_by("row")
        )
        return [str(c) if c is not None else None for c in result.column("claim").to_pylist()]


def _context(pool: Pool) -> tuple[Any, ...]:
    """What decides which rule claims a pool's targets: everything a match can read."""
    return (
        pool.rule,
        pool.path,
        pool.currency,
        tuple(pool.bill[name] for name in t.BILL_DIMENSIONS),
        pool.resource_id,
        pool.resource_name,
        pool.values,
    )


def _percent(share: Fraction) -> str:
    percent = Decimal(share.numerator * 100) / Decimal(share.denominator)
    return f"{percent.quantize(Decimal('0.01'))}%"
