"""Which rule claims a row: the first whose match is true, for cost lines and allocations.

Rules that name a dimension see allocations too (a cascade: "use_case = 'shared-services'"),
so cost an earlier rule split can be split again. Cost is not taken back by a rule that
already split it and still matches it only because its targets kept the values it matched
on; cost a later rule sent back to it is a cycle (:mod:`apportion.allocate.plan`), unless
the rules are in one rule group, which solves their cycles (:mod:`apportion.allocate.groups`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from apportion.config import DirectRule, EvenRule, FixedRule, Rule
from apportion.rules.columns import compile_match
from apportion.rules.expr import Match, referenced_columns

PATH_SEPARATOR = " -> "


def first_claim(cases: Sequence[tuple[ir.BooleanValue, str]]) -> ir.StringValue:
    """The name paired with the first true condition, NULL where none is."""
    if not cases:
        return ibis.null("string")
    return ibis.cases(*cases, else_=ibis.null("string"))


def claim(
    rules: Sequence[tuple[Rule, Match]],
    columns: Any,
    done: ir.StringValue | None = None,
    done_by: Mapping[str, list[str]] | None = None,
) -> ir.StringValue:
    """The first rule whose match is true. ``done``/``done_by``: an allocation's path, and
    per rule the paths of cost it has already split (which it does not take back)."""
    cases = []
    for rule, match in rules:
        condition = compile_match(match, columns)
        already = (done_by or {}).get(rule.name)
        if done is not None and already:
            condition = condition & ~done.isin(already)
        cases.append((condition, rule.name))
    return first_claim(cases)


def cascading(rules: Sequence[tuple[Rule, Match]], dims: Sequence[str]) -> list[tuple[Rule, Match]]:
    """The rules that see allocations. Only rules that name a dimension do: a cascade is
    written on the values an earlier rule allocated to, and a rule about bill columns
    (ServiceName, x_Category) must not claim the cost it already split. A direct rule never
    does: an allocation already has its owner, and "use_case IS NOT NULL" is how a direct
    rule claims lines whose use case is tagged, inherited or mapped."""
    return [
        (rule, match)
        for rule, match in rules
        if referenced_columns(match) & set(dims) and not isinstance(rule, DirectRule)
    ]


def path_names(path: str) -> list[str]:
    return [name for name in path.split(PATH_SEPARATOR) if name]


def done_by(
    rules: Sequence[tuple[Rule, Match]],
    paths: Collection[str],
    dims: Sequence[str],
    by_name: Mapping[str, Rule],
) -> dict[str, list[str]]:
    """Per rule, the paths of cost it already split and does not take back."""
    return {
        rule.name: sorted(path for path in paths if already_split(rule, match, path, dims, by_name))
        for rule, match in rules
    }


def already_split(
    rule: Rule, match: Match, path: str, dims: Sequence[str], rules: Mapping[str, Rule]
) -> bool:
    """Whether cost that went down ``path`` was split by ``rule`` and still matches it only
    because its targets kept the values it matched on: no rule after it could have set one
    of them. Such cost is not taken back; cost that a later rule sent back (a value it set
    matches the rule again) is a cycle."""
    names = path_names(path)
    if rule.name not in names:
        return False
    after = names[len(names) - names[::-1].index(rule.name) :]
    matched = referenced_columns(match) & set(dims)
    return not any(may_set(rules.get(name), matched) for name in after)


def may_set(rule: Rule | None, dims: Collection[str]) -> bool:
    """Whether a rule's targets may give one of ``dims`` a value: those an even or fixed
    rule names; any, for a rule whose driver rows may carry any."""
    if isinstance(rule, EvenRule | FixedRule):
        return any(d in dims for target, _ in rule.target_weights() for d in target)
    return True
