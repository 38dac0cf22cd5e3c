"""The tag policy: which dimensions every resource must carry, which values each may take, and
how the many spellings of a key or value fold to one canonical form.

Keys fold by spelling, not by guesswork: ``CostCentre``, ``cost-centre``, ``COST_CENTRE``,
``user:cost_centre`` and ``example.com/cost-centre`` are all ``cost_centre`` (provider and
domain prefixes dropped, camel case split, separators and case ignored); ``cost_center`` is too,
because American and British spellings of "centre" are the same key. Anything else, such as
``team`` for ``cost_centre``, is an alias the policy names. Values fold to the catalogue's
spelling when they differ only in case, spaces or separators (``ML Platform`` is
``ml-platform``); without a catalogue a value is trimmed and lower-cased.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from apportion.config.models import Config, TagPolicyConfig
from apportion.tags.catalogue import implied_values, read_catalogue, values_by_dimension

_PREFIX = re.compile(r"^.*[:/]")  # user:, aws:, example.com/ ... up to the last ':' or '/'
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^a-z0-9]+")
_SPACES = re.compile(r"\s+")
# words that mean the same in a key, whichever side of the Atlantic wrote it
_SAME_WORD = {"center": "centre"}


def folded_key(raw: str) -> str:
    """The comparable form of a tag key: ``user:CostCenter`` -> ``costcentre``."""
    bare = _PREFIX.sub("", raw.strip())
    words = _SEPARATORS.split(_CAMEL.sub("_", bare).lower())
    return "".join(_SAME_WORD.get(word, word) for word in words if word)


def folded_value(raw: str) -> str:
    """The comparable form of a tag value: case, spaces and separators do not count."""
    return _SEPARATORS.sub("", raw.lower())


@dataclass(frozen=True)
class Violation:
    """One way a resource's tags break the policy."""

    dimension: str
    problem: str  # "missing" or "invalid"
    value: str | None = None
    allowed: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.problem == "missing":
            return f"{self.dimension} missing"
        shown = ", ".join(self.allowed[:8]) + (", ..." if len(self.allowed) > 8 else "")
        return f"{self.dimension}={self.value!r} not allowed (allowed: {shown})"


@dataclass(frozen=True)
class Reading:
    """A resource's tags as the policy reads them."""

    values: dict[str, str]  # dimension -> canonical value
    renamed: dict[str, str] = field(default_factory=dict)  # raw key -> dimension, where folded
    unchecked: tuple[str, ...] = ()  # dimensions whose value is only known when applied
    violations: tuple[Violation, ...] = ()


UNKNOWN = object()  # a value that is only known when the plan is applied (a reference)


@dataclass(frozen=True)
class TagPolicy:
    required: tuple[str, ...]
    allowed: Mapping[str, tuple[str, ...]]
    aliases: Mapping[str, str]  # folded alias -> dimension
    # what a catalogued value says of other dimensions: (dimension, value) -> {dimension: value}
    implied: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def from_config(
        cls,
        config: TagPolicyConfig,
        dimensions: list[str],
        catalogue: Mapping[str, list[str]],
        implied: Mapping[tuple[str, str], Mapping[str, str]] | None = None,
    ) -> TagPolicy:
        required = tuple(config.required if config.required is not None else dimensions)
        allowed: dict[str, tuple[str, ...]] = {}
        for dimension in {*config.allowed, *catalogue}:
            values = [*config.allowed.get(dimension, []), *catalogue.get(dimension, [])]
            allowed[dimension] = tuple(dict.fromkeys(values))  # once each, in order given
        aliases = {folded_key(d): d for d in {*dimensions, *required}}
        for dimension, names in config.aliases.items():
            aliases.update({folded_key(name): dimension for name in names})
        policy = cls(required, allowed, aliases)
        # implied values are spelled as the policy spells them, like every other value
        spelled = {
            key: {d: policy.canonical_value(d, v) for d, v in values.items()}
            for key, values in (implied or {}).items()
        }
        return cls(required, allowed, aliases, spelled)

    def dimension_of(self, raw_key: str) -> str | None:
        return self.aliases.get(folded_key(raw_key))

    def canonical_value(self, dimension: str, raw: str) -> str:
        allowed = self.allowed.get(dimension)
        if allowed:
            wanted = folded_value(raw)
            for value in allowed:
                if folded_value(value) == wanted:
                    return value
        return _SPACES.sub(" ", raw.strip()).lower()

    def is_valid(self, dimension: str, raw: str) -> bool:
        """Whether a present value is one the policy allows (any value, with no list)."""
        allowed = self.allowed.get(dimension)
        return not allowed or self.canonical_value(dimension, raw) in allowed

    def read(self, tags: Mapping[str, object]) -> Reading:
        """Fold the keys and values of one resource's tags and check them.

        A value may be :data:`UNKNOWN` (set by a reference, known only when applied): the key
        counts as present and its value is not checked. Where two raw keys fold to one
        dimension, the later one wins: readers list inherited tags (provider defaults, a
        workload's own labels) before the resource's own, which override them.
        """
        values: dict[str, str] = {}
        renamed: dict[str, str] = {}
        unchecked: dict[str, None] = {}  # an ordered set
        for key, value in tags.items():
            dimension = self.dimension_of(key)
            if dimension is None or not (
                value is UNKNOWN or (isinstance(value, str) and value.strip())
            ):
                continue
            if value is UNKNOWN:
                values.pop(dimension, None)
                unchecked[dimension] = None
            else:
                unchecked.pop(dimension, None)
                values[dimension] = self.canonical_value(dimension, str(value))
            if key != dimension:
                renamed[key] = dimension
        violations: list[Violation] = []
        for dimension in self.required:
            if dimension in unchecked:
                continue
            if dimension not in values:
                violations.append(Violation(dimension, "missing"))
        for dimension, value in values.items():
            if not self.is_valid(dimension, value):
                allowed = self.allowed[dimension]
                violations.append(Violation(dimension, "invalid", value, allowed))
        return Reading(values, renamed, tuple(unchecked), tuple(violations))


def load_policy(config: Config, base: Path) -> TagPolicy:
    """The policy of a configuration; a catalogue path is relative to ``base`` (the folder of
    apportion.yaml)."""
    catalogue: dict[str, list[str]] = {}
    implied: dict[tuple[str, str], dict[str, str]] = {}
    if config.tags.catalogue:
        path = base / config.tags.catalogue
        entries = read_catalogue(path, config.dimensions)
        catalogue, implied = values_by_dimension(entries), implied_values(entries)
    return TagPolicy.from_config(config.tags, config.dimensions, catalogue, implied)
