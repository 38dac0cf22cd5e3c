"""What a name in a ``match`` expression refers to, for cost lines and for allocations.

- FOCUS columns, in any case (``servicename`` is ``ServiceName``);
- apportion's own columns (``x_Category``, ``x_Source``, ...);
- dimensions (``use_case``): a cost line's tag of that name, an allocation's target value;
- ``x_Name``: an extension column the file carried, as ``x_Name`` or ``Name``;
- ``tags['key']``: the line's tag (allocations have no tags).
Any other name is an error, so a typo never silently matches nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir

from apportion.rules.expr import Match, MatchError, referenced_columns, to_ibis
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.focus import canonical_name

Resolver = Callable[[str], ir.Value]


def line_columns(
    table: ir.Table,
    dimensions: Sequence[str],
    tag: Resolver | None = None,
    dimension: Resolver | None = None,
) -> tuple[Resolver, Resolver]:
    """Resolvers over the cost-lines table. ``tag`` and ``dimension`` say how a tag and a bare
    dimension are read (apportion.tags.derived folds keys and derives values); by default
    both read the tag of exactly that key."""

    def raw_tag(key: str) -> ir.Value:
        return table[col.TAGS][key]

    read_tag = tag or raw_tag
    read_dimension = dimension or read_tag

    def column(name: str) -> ir.Value:
        if name in dimensions:
            return read_dimension(name)
        return _common(table, name) if name != col.TAGS else _no_tags_column()

    return column, read_tag


def allocation_columns(table: ir.Table, dimensions: Sequence[str]) -> tuple[Resolver, Resolver]:
    """Resolvers over allocation rows that a later rule may split again."""

    def tag(key: str) -> ir.Value:
        return ibis.null("string")

    def column(name: str) -> ir.Value:
        if name in dimensions:
            return table["dimensions"][name]
        if name in table.columns:
            return table[name]
        focus = canonical_name(name)
        if focus is not None:
            return table[focus] if focus in table.columns else ibis.null("string")
        if name.startswith("x_"):
            return ibis.null("string")
        raise MatchError(_unknown(name))

    return column, tag


def compile_match(match: Match, columns: tuple[Resolver, Resolver]) -> ir.BooleanValue:
    column, tag = columns
    return to_ibis(match, column, tag)


def check_names(match: Match, dimensions: Sequence[str]) -> None:
    """Fail early, at config time, on names that refer to nothing."""
    for name in referenced_columns(match):
        known = (
            name in dimensions
            or canonical_name(name) is not None
            or name.startswith("x_")
            or name == col.TAGS
        )
        if not known:
            raise MatchError(_unknown(name))


def _common(table: ir.Table, name: str) -> ir.Value:
    if name in table.columns:
        return table[name]
    focus = canonical_name(name)
    if focus is not None:
        return table[focus]
    if name.startswith("x_"):
        extensions = table[t.EXTENSIONS]
        return extensions[name].fill_null(extensions[name.removeprefix("x_")])
    raise MatchError(_unknown(name))


def _no_tags_column() -> ir.Value:
    raise MatchError("use tags['key'] to test a tag")


def _unknown(name: str) -> str:
    return (
        f"unknown column {name!r}: use a FOCUS column, an x_ extension column, x_Category, "
        "a dimension, or tags['key']"
    )
