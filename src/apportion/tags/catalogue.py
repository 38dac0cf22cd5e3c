"""The catalogue: the cost centres, use cases (and any dimension's values) an organisation
recognises, with their owners. A CSV with columns ``dimension,value[,owner]``, or YAML::

    cost_centre:
      - {value: ml-platform, owner: ana@example.com}
      - research
    use_case: [fraud-detection, support-assistant]
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


def read_catalogue(path: Path, dimensions: list[str]) -> list[Entry]:
    if not path.is_file():
        raise DocumentError(f"tag catalogue {path} not found (tags.catalogue in apportion.yaml)")
    entries = _csv(path) if path.suffix.lower() == ".csv" else _yaml(path)
    for entry in entries:
        if entry.dimension not in dimensions:
            raise DocumentError(f"{path}: dimension {entry.dimension!r} is not one of {dimensions}")
    return entries


def values_by_dimension(entries: list[Entry]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for entry in entries:
        values.setdefault(entry.dimension, []).append(entry.value)
    return values


def _csv(path: Path) -> list[Entry]:
    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.DictReader(stream)
        missing = {"dimension", "value"} - set(reader.fieldnames or [])
        if missing:
            raise DocumentError(f"{path}: needs the columns dimension and value (and owner)")
        entries: list[Entry] = []
        for line, row in enumerate(reader, start=2):
            dimension, value = (row.get("dimension") or "").strip(), (row.get("value") or "")
            if not dimension or not value.strip():
                raise DocumentError(f"{path}, line {line}: dimension and value are required")
            entries.append(
                Entry(dimension, value.strip(), (row.get("owner") or "").strip() or None)
            )
    return entries


def _yaml(path: Path) -> list[Entry]:
    documents = read_documents(path)
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise DocumentError(f"{path}: expected one mapping of dimension -> values")
    entries: list[Entry] = []
    for dimension, items in documents[0].items():
        if not isinstance(items, list):
            raise DocumentError(f"{path}: {dimension}: expected a list of values")
        entries.extend(_entry(path, str(dimension), item) for item in items)
    return entries


def _entry(path: Path, dimension: str, item: Any) -> Entry:
    if isinstance(item, dict):
        value, owner = item.get("value"), item.get("owner")
    else:
        value, owner = item, None
    if not isinstance(value, str | int) or not str(value).strip():
        raise DocumentError(f"{path}: {dimension}: every entry needs a value")
    return Entry(dimension, str(value).strip(), str(owner) if owner else None)
