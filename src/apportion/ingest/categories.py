"""Assign each cost line its AI cost category (MISSION R1) by ordered first-match rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir

from apportion.config.models import CategoryRule
from apportion.rules.columns import compile_match, line_columns
from apportion.rules.expr import parse_match
from apportion.schema.tables import UNCATEGORISED


def categoriser(
    rules: Sequence[CategoryRule], dimensions: Sequence[str]
) -> Callable[[ir.Table], ir.StringValue]:
    """A function that assigns the category column over a table of cost lines."""
    parsed = [(parse_match(rule.match), rule.category) for rule in rules]

    def categorise(lines: ir.Table) -> ir.StringValue:
        columns = line_columns(lines, dimensions)
        cases = [(compile_match(match, columns), category) for match, category in parsed]
        if not cases:
            return ibis.literal(UNCATEGORISED)
        return ibis.cases(*cases, else_=UNCATEGORISED)

    return categorise
