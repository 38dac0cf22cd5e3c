"""The catalogue: the cost centres, use cases (and any dimension's values) an organisation
recognises, with their owners, and what a value says of the other dimensions (a use case's
cost centre). A CSV with columns ``dimension,value[,owner]`` and optionally one column per
other dimension, or YAML::

    cost_centre:
      - {value: ml-platform, owner: ana@example.com}
      - research
    use_case:
      - {value: fraud-detection, cost_centre: research, environment: production}
      - support-assistant

Allocation fills a target's missing dimensions from these (a use case's cost centre), after
the rule and the cost it splits have said what they say.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apportion.tags.documents import DocumentError, read_documents


@dataclass(frozen=True)
class Entry:
    dimension: str
    value: str
    owner: str | None = None
    implies: tuple[tuple[str, str], ...] = ()  # (other dimension, its value), in file order


def read_catalogue(path: Path, dimensions: list[str]) -> list[Entry]:
    if not path.is_file():
        raise DocumentError(f"tag catalogue {path} not found (tags.catalogue in apportion.yaml)")
    entries = _csv(path, dimensions) if path.suffix.lower() == ".csv" else _yaml(path, dimensions)
    for entry in entries:
        if entry.dimension not in dimensions:
            raise DocumentError(f"{path}: dimension {entry.dimension!r} is not one of {dimensions}")
        if any(other == entry.dimension for other, _ in entry.implies):
            raise DocumentError(
                f"{path}: {entry.dimension} {entry.value!r} names its own dimension again"
            )
    seen: dict[tuple[str, str], Entry] = {}
    for entry in entries:
        earlier = seen.setdefault((entry.dimension, entry.value), entry)
        if earlier is not entry and earlier.implies != entry.implies and entry.implies:
            raise DocumentError(
                f"{path}: {entry.dimension} {entry.value!r} is listed twice with different values"
            )
    return entries


def implied_values(entries: list[Entry]) -> dict[tuple[str, str], dict[str, str]]:
    """What each catalogued value says of the other dimensions: (dimension, value) -> values."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for entry in entries:
        if entry.implies:
            found.setdefault((entry.dimension, entry.value), {}).update(entry.implies)
    return found


def values_by_dimension(entries: list[Entry]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for entry in entries:
        values.setdefault(entry.dimension, []).append(entry.value)
    return values


def _csv(path: Path, dimensions: list[str]) -> list[Entry]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        header = [name.strip() for name in reader.fieldnames or [] if name]
        missing = {"dimension", "value"} - set(header)
        if missing:
            raise DocumentError(f"{path}: needs the columns dimension and value (and owner)")
        unknown = [n for n in header if n not in ("dimension", "value", "owner", *dimensions)]
        if unknown:
            raise DocumentError(
                f"{path}: unknown column {unknown[0]!r}; use dimension, value, owner or a "
                f"dimension ({', '.join(dimensions)})"
            )
        others = [name for name in header if name in dimensions]
        entries: list[Entry] = []
        for line, row in enumerate(reader, start=2):
            dimension, value = (row.get("dimension") or "").strip(), (row.get("value") or "")
            if not dimension or not value.strip():
                raise DocumentError(f"{path}, line {line}: dimension and value are required")
            cells = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            implies = tuple((d, cells[d]) for d in others if cells.get(d))
            entries.append(Entry(dimension, value.strip(), cells.get("owner") or None, implies))
    return entries


def _yaml(path: Path, dimensions: list[str]) -> list[Entry]:
    documents = read_documents(path)
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise DocumentError(f"{path}: expected one mapping of dimension -> values")
    entries: list[Entry] = []
    for dimension, items in documents[0].items():
        if not isinstance(items, list):
            raise DocumentError(f"{path}: {dimension}: expected a list of values")
        entries.extend(_entry(path, str(dimension), item, dimensions) for item in items)
    return entries


def _entry(path: Path, dimension: str, item: Any, dimensions: list[str]) -> Entry:
    implies: tuple[tuple[str, str], ...] = ()
    if isinstance(item, dict):
        value, owner = item.get("value"), item.get("owner")
        unknown = [k for k in item if k not in ("value", "owner", *dimensions)]
        if unknown:
            raise DocumentError(
                f"{path}: {dimension}: unknown key {str(unknown[0])!r}; use value, owner or a "
                f"dimension ({', '.join(dimensions)})"
            )
        implies = tuple(
            (str(k), str(v).strip())
            for k, v in item.items()
            if k in dimensions and v is not None and str(v).strip()
        )
    else:
        value, owner = item, None
    if not isinstance(value, str | int) or not str(value).strip():
        raise DocumentError(f"{path}: {dimension}: every entry needs a value")
    return Entry(dimension, str(value).strip(), str(owner) if owner else None, implies)
