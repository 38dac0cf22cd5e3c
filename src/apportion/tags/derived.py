"""Each bill line's dimension values, and where each one came from.

A dimension's value is, in order:

1. the first ``tags.virtual`` rule with ``override: true`` that matches the line;
2. the line's own tag: every key that folds to the dimension (``CostCenter``, ``user:team``
   where ``team`` is an alias), the key spelled as the dimension first; an empty value is none;
3. the first ``tags.inherit`` mapping table with a row for the line's account, project or
   other column, in effect on the line's charge date;
4. the first other ``tags.virtual`` rule that matches the line.

The source travels with the value (``tag``, ``inherited:<file>``, ``rule:<name>``) into each
pool's lineage, and the totals report adds cost up by it.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apportion.config.models import Config, InheritedTags, VirtualTag
from apportion.engine import DataPlane
from apportion.engine.carried import carried_keys
from apportion.rules.columns import Resolver, compile_match, line_columns
from apportion.rules.expr import parse_match
from apportion.schema.focus import canonical_name
from apportion.tags.documents import DocumentError
from apportion.tags.policy import TagPolicy, folded_key, load_policy

TAG = "tag"
EFFECTIVE_FROM = "effective_from"
# columns a mapping table may carry for people to read; apportion ignores them
_COMMENTARY = ("name", "description", "owner", "notes")


def inherited_source(table: InheritedTags) -> str:
    return f"inherited:{table.file}"


def rule_source(rule: VirtualTag) -> str:
    return f"rule:{rule.name}"


def source_kind(source: str | None) -> str | None:
    """``tag``, ``inherited`` or ``rule``: how a value was found, without which table or rule."""
    return None if source is None else source.split(":", 1)[0]


@dataclass(frozen=True)
class MappingRow:
    key: str
    values: dict[str, str]  # dimension -> canonical value
    start: date | None  # the row applies from here ...
    end: date | None  # ... until the key's next row


@dataclass(frozen=True)
class MappingTable:
    spec: InheritedTags
    rows: list[MappingRow]

    @property
    def source(self) -> str:
        return inherited_source(self.spec)


def _spelled(rule: VirtualTag, policy: TagPolicy) -> VirtualTag:
    """The rule with its values checked against the policy and spelled as it spells them."""
    for dimension, value in rule.set.items():
        if not policy.is_valid(dimension, value):
            raise DocumentError(
                f"tags.virtual {rule.name!r}: {dimension} {value!r} is not an allowed value"
            )
    spelled = {d: policy.canonical_value(d, v) for d, v in rule.set.items()}
    return rule.model_copy(update={"set": spelled})


def read_mapping_table(path: Path, spec: InheritedTags, policy: TagPolicy) -> list[MappingRow]:
    """The rows of a ``tags.inherit`` CSV, checked: every value allowed by the policy, every
    key once per effective date. Values are spelled as the policy spells them."""
    if not path.is_file():
        raise DocumentError(f"mapping table {path} not found (tags.inherit in apportion.yaml)")
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        header = [name.strip() for name in reader.fieldnames or []]
        dimensions = _mapping_header(path, header, spec.column, policy)
        found: dict[str, dict[date | None, dict[str, str]]] = {}
        for line, row in enumerate(reader, start=2):
            cells = {name.strip(): (value or "").strip() for name, value in row.items() if name}
            key = cells.get(spec.column, "")
            if not key:
                raise DocumentError(f"{path}, line {line}: {spec.column} is empty")
            start = _date(path, line, cells.get(EFFECTIVE_FROM, ""))
            if start in found.get(key, {}):
                raise DocumentError(f"{path}, line {line}: {key!r} is listed twice for one date")
            values = {d: cells[d] for d in dimensions if cells.get(d)}
            for dimension, value in values.items():
                if not policy.is_valid(dimension, value):
                    raise DocumentError(
                        f"{path}, line {line}: {dimension} {value!r} is not an allowed value"
                    )
            canonical = {d: policy.canonical_value(d, v) for d, v in values.items()}
            found.setdefault(key, {})[start] = canonical
    return _in_effect(found)


def _mapping_header(path: Path, header: list[str], column: str, policy: TagPolicy) -> list[str]:
    if column not in header:
        raise DocumentError(f"{path}: needs the column {column} (tags.inherit column)")
    known = {column, EFFECTIVE_FROM, *_COMMENTARY}
    dimensions = [name for name in header if policy.dimension_of(name) == name]
    unknown = [name for name in header if name not in known and name not in dimensions]
    if unknown:
        raise DocumentError(
            f"{path}: unknown column {unknown[0]!r}; use {column}, dimension names "
            f"({', '.join(sorted(set(policy.aliases.values())))}), {EFFECTIVE_FROM}, "
            f"or {', '.join(_COMMENTARY)}"
        )
    if not dimensions:
        raise DocumentError(f"{path}: name at least one dimension column")
    return dimensions


def _date(path: Path, line: int, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DocumentError(
            f"{path}, line {line}: {EFFECTIVE_FROM} {text!r} is not a date (YYYY-MM-DD)"
        ) from None


def _in_effect(found: dict[str, dict[date | None, dict[str, str]]]) -> list[MappingRow]:
    """Each key's rows as date ranges that do not overlap: a row lasts until the next one."""
    rows: list[MappingRow] = []
    for key, by_start in found.items():
        starts = sorted(by_start, key=lambda d: (d is not None, d or date.min))
        for index, start in enumerate(starts):
            end = starts[index + 1] if index + 1 < len(starts) else None
            rows.append(MappingRow(key, by_start[start], start, end))
    return rows


@dataclass(frozen=True)
class Derivation:
    """How a workspace derives dimension values: its tag policy, mapping tables and rules."""

    policy: TagPolicy
    tables: tuple[MappingTable, ...] = ()
    rules: tuple[VirtualTag, ...] = ()

    @classmethod
    def of_config(cls, config: Config, base: Path) -> Derivation:
        policy = load_policy(config, base)
        tables = tuple(
            MappingTable(spec, read_mapping_table(base / spec.file, spec, policy))
            for spec in config.tags.inherit
        )
        rules = tuple(_spelled(rule, policy) for rule in config.tags.virtual)
        return cls(policy, tables, rules)

    @property
    def derives(self) -> bool:
        """Whether any value can come from elsewhere than the line's own tags."""
        return bool(self.tables or self.rules)

    def lines(
        self,
        plane: DataPlane,
        lines: ir.Table,
        dimensions: Sequence[str],
        tag_keys: Sequence[str] | None = None,
    ) -> DerivedLines:
        """The lines with their mapping tables joined on, and the expressions of their values.
        ``tag_keys``: the bills' tag keys (read from the workspace when not given)."""
        keys = list(tag_keys) if tag_keys is not None else bill_tag_keys(plane, lines)
        joined = lines
        for index, table in enumerate(self.tables):
            joined = _join_mapping(joined, index, table, dimensions)
        return DerivedLines(self, plane, joined, list(dimensions), keys)


class DerivedLines:
    """Bill lines with every dimension's value and source as expressions on ``table``."""

    def __init__(
        self,
        derivation: Derivation,
        plane: DataPlane,
        table: ir.Table,
        dimensions: list[str],
        tag_keys: list[str],
    ) -> None:
        self.derivation = derivation
        self.plane = plane
        self.table = table
        self.dimensions = dimensions
        self.tag_keys = tag_keys
        self.own = {d: self.own_value(self.keys_of(d)) for d in dimensions}
        self._spelled: dict[str, ir.StringValue] = {}
        charged = _charged(table)
        plain = line_columns(table, dimensions, tag=self.tag)
        override = _first_rule([r for r in derivation.rules if r.override], plain, charged)
        fallback = _first_rule([r for r in derivation.rules if not r.override], plain, charged)
        self.values: dict[str, ir.StringValue] = {}
        self.sources: dict[str, ir.StringValue] = {}
        for d in dimensions:
            found: list[tuple[ir.StringValue, ir.StringValue]] = []  # (value, source), in order
            found += _rule_values(override, d)
            found.append((self.own[d], ibis.literal(TAG)))
            found += [
                (table[_mapped(i, d)], ibis.literal(m.source))
                for i, m in enumerate(derivation.tables)
                if any(d in row.values for row in m.rows)
            ]
            found += _rule_values(fallback, d)
            values = [value for value, _ in found]
            self.values[d] = ibis.coalesce(*values) if len(values) > 1 else values[0]
            self.sources[d] = ibis.cases(
                *((value.notnull(), source) for value, source in found), else_=ibis.null("string")
            )

    def keys_of(self, key: str) -> list[str]:
        """The bills' raw keys that mean ``key``: those that fold to the same dimension (or,
        for a key that is no dimension, to the same spelling), ``key`` itself first. With a
        dimension's own name first, a line tagged both ``use_case`` and ``UseCase`` reads
        ``use_case``; the others follow in name order."""
        policy = self.derivation.policy
        dimension = policy.dimension_of(key)
        if dimension is not None:
            same = [k for k in self.tag_keys if policy.dimension_of(k) == dimension]
        else:
            same = [k for k in self.tag_keys if folded_key(k) == folded_key(key)]
        # a key no bill has is NULL on every line: not looked up (engine/carried.py)
        return sorted(same, key=lambda k: (k != key, k))

    def own_value(self, keys: list[str]) -> ir.StringValue:
        """The first non-empty value among the keys (NULL when none), trimmed."""
        values = [self.plane.map_value(self.table.Tags, k).strip().nullif("") for k in keys]
        if not values:
            return ibis.null("string")
        return values[0] if len(values) == 1 else ibis.coalesce(*values)

    def tag(self, key: str) -> ir.Value:
        """``tags['key']`` in a match: the line's own tag, under any spelling of its key."""
        return self.own_value(self.keys_of(key))

    def dimension(self, name: str) -> ir.Value:
        """A bare dimension in a match: the derived value, spelled as the policy spells it."""
        if name not in self._spelled:  # one scan per dimension, however many rules name it
            policy = self.derivation.policy
            self._spelled[name] = canonical(self.plane, self.table, policy, name, self.values[name])
        return self._spelled[name]

    def columns(self) -> tuple[Resolver, Resolver]:
        """Resolvers for ``match`` expressions over these lines."""
        return line_columns(self.table, self.dimensions, tag=self.tag, dimension=self.dimension)


def canonical(
    plane: DataPlane, table: ir.Table, policy: TagPolicy, dimension: str, value: ir.StringValue
) -> ir.StringValue:
    """``value`` with each spelling replaced by the policy's (``ML Platform`` is
    ``ml-platform``): one scan for the distinct spellings, a lookup only for those that differ."""
    found = plane.to_arrow(table.select(value=value).distinct())["value"].to_pylist()
    respelled = {
        raw: spelled
        for raw in found
        if raw is not None and (spelled := policy.canonical_value(dimension, raw)) != raw
    }
    return value.substitute(respelled) if respelled else value


def bill_tag_keys(plane: DataPlane, lines: ir.Table) -> list[str]:
    """Tag keys of the bills: as recorded at ingest, else (older loads) read from the lines."""
    recorded = carried_keys(plane, "focus")
    if recorded is not None:
        return sorted(recorded)
    found = plane.to_arrow(lines.select(key=lines.Tags.keys().unnest()).distinct())
    return sorted(k for k in found["key"].to_pylist() if k is not None)


def _mapped(index: int, dimension: str) -> str:
    return f"inherit{index}__{dimension}"


def _join_mapping(
    lines: ir.Table, index: int, table: MappingTable, dimensions: Sequence[str]
) -> ir.Table:
    """The lines with the table's values for them (NULL where it has none) as columns
    ``inherit<index>__<dimension>``: a left join on the key and the charge date. A table's
    ranges for one key never overlap, so no line is repeated."""
    prefix = f"inherit{index}__"
    rows = table.rows
    mapping = ibis.memtable(
        pa.table(
            {
                f"{prefix}key": pa.array([r.key for r in rows], pa.string()),
                f"{prefix}start": pa.array([_midnight(r.start) for r in rows], pa.timestamp("us")),
                f"{prefix}end": pa.array([_midnight(r.end) for r in rows], pa.timestamp("us")),
                **{
                    _mapped(index, d): pa.array([r.values.get(d) for r in rows], pa.string())
                    for d in dimensions
                },
            }
        )
    )
    column = _bill_column(lines, table.spec.column)
    charged = _charged(lines)
    start, end = mapping[f"{prefix}start"], mapping[f"{prefix}end"]
    joined = lines.left_join(
        mapping,
        [
            column.cast("string") == mapping[f"{prefix}key"],
            start.isnull() | (charged >= start),
            end.isnull() | (charged < end),
        ],
    )
    return joined.select(*lines.columns, *[_mapped(index, d) for d in dimensions])


def _charged(lines: ir.Table) -> ir.TimestampValue:
    """The date a mapping's or rule's effective dates are compared with."""
    return lines.ChargePeriodStart.fill_null(lines.BillingPeriodStart)


def _bill_column(lines: ir.Table, name: str) -> ir.Value:
    column, _ = line_columns(lines, [])
    return column(canonical_name(name) or name)


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


def _first_rule(
    rules: list[VirtualTag], columns: tuple[Resolver, Resolver], charged: ir.TimestampValue
) -> list[tuple[VirtualTag, ir.BooleanValue]]:
    """Each rule, in order, with its condition on a line: its match within its dates."""
    found = []
    for rule in rules:
        condition = compile_match(parse_match(rule.match), columns)
        if rule.effective_from is not None:
            condition = condition & (charged >= ibis.literal(_midnight(rule.effective_from)))
        if rule.effective_until is not None:
            condition = condition & (charged < ibis.literal(_midnight(rule.effective_until)))
        found.append((rule, condition.fill_null(False)))
    return found


def _rule_values(
    rules: list[tuple[VirtualTag, ir.BooleanValue]], dimension: str
) -> list[tuple[ir.StringValue, ir.StringValue]]:
    """One (value, source) pair for the first of the rules that sets the dimension and
    matches: a CASE that returns the rule's name, and the value looked up from that name."""
    setting = [(rule, condition) for rule, condition in rules if dimension in rule.set]
    if not setting:
        return []
    name = ibis.cases(
        *((condition, rule.name) for rule, condition in setting), else_=ibis.null("string")
    )
    value = name.substitute({rule.name: rule.set[dimension] for rule, _ in setting})
    source = name.substitute({rule.name: rule_source(rule) for rule, _ in setting})
    return [(value, source)]
