"""LiteLLM proxy spend logs (a CSV export of its ``LiteLLM_SpendLogs`` table) as driver rows:
what each use case sent through the gateway, to split a shared key's or project's cost by.

Every request gives two driver rows at its ``startTime``: ``llm_tokens`` (``total_tokens``)
and ``llm_spend`` (``spend``, the gateway's own price of the request, rounded to 12 places:
LiteLLM writes a float's binary noise). Their
resource is the request's ``model_group`` (else ``model``). Dimension values come from the
request's ``request_tags`` (a JSON list of ``key:value`` or ``key=value`` texts) and from its
``metadata`` (a JSON object), keys read as the tag policy reads them (``UseCase``,
``cost-centre`` and aliases count); a tag wins over metadata. A request that names no use case
still counts, with its dimensions empty, so its share of the cost stays visible as
``__unallocated__``.

An activity rule splits a shared bill line by these rows whatever their resource, e.g.
``match: "SubAccountId = 'proj_shared'"``, ``method: activity``, ``driver: llm_spend``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from apportion.ingest.reports import csv_records, text_table
from apportion.schema.tables import QUANTITY_SCALE

TOKENS = "llm_tokens"
SPEND = "llm_spend"
_SIGNATURE = {"request_id", "spend", "starttime", "total_tokens"}


def recognise(header: list[str]) -> bool:
    return {name.strip().lower() for name in header} >= _SIGNATURE


class KeyReader(Protocol):
    """How keys and values are read as dimensions (apportion.tags.policy.TagPolicy)."""

    def dimension_of(self, raw_key: str) -> str | None: ...

    def canonical_value(self, dimension: str, raw: str) -> str: ...


def driver_table(path: Path, policy: KeyReader, dimensions: list[str]) -> pa.Table:
    """Two driver rows of text per request, numbered by the request's line in the file."""
    rows: list[dict[str, str | None]] = []
    lines: list[int] = []
    for line, row in csv_records(path):
        cells = {key.strip().lower(): value for key, value in row.items()}
        found = _dimensions(cells, policy, dimensions)
        common = {
            "timestamp": cells.get("starttime") or None,
            "resource_id": cells.get("model_group") or cells.get("model") or None,
            **{d: found.get(d) for d in dimensions},
        }
        rows.append({**common, "driver": TOKENS, "quantity": cells.get("total_tokens")})
        rows.append({**common, "driver": SPEND, "quantity": _weight(cells.get("spend"))})
        lines += [line, line]
    columns = ["timestamp", "driver", "quantity", "resource_id", *dimensions]
    return text_table(rows, lines, columns)


def _weight(text: str | None) -> str | None:
    """LiteLLM keeps spend as a float and writes its binary noise (0.00030849999999999996);
    as a split weight it is rounded to the 12 places quantities keep. Text that is not a
    number passes as written, so the row is quarantined with it."""
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        return text
    if not value.is_finite():
        return text
    return format(value.quantize(Decimal(1).scaleb(-QUANTITY_SCALE), ROUND_HALF_EVEN), "f")


def _dimensions(
    cells: Mapping[str, str], policy: KeyReader, dimensions: list[str]
) -> dict[str, str]:
    """The request's dimension values: its tags over its metadata, spelled by the policy."""
    found: dict[str, str] = {}
    for source in (_metadata(cells.get("metadata", "")), _tags(cells.get("request_tags", ""))):
        for key, value in source.items():
            dimension = policy.dimension_of(key)
            if dimension in dimensions and value.strip():
                found[dimension] = policy.canonical_value(dimension, value)
    return found


def _metadata(text: str) -> dict[str, str]:
    parsed = _json(text)
    if not isinstance(parsed, dict):
        return {}
    return {str(k): v for k, v in parsed.items() if isinstance(v, str)}


def _tags(text: str) -> dict[str, str]:
    parsed = _json(text)
    if not isinstance(parsed, list):
        return {}
    pairs: dict[str, str] = {}
    for tag in parsed:
        if not isinstance(tag, str):
            continue
        key, separator, value = tag.partition(":") if ":" in tag else tag.partition("=")
        if separator:
            pairs[key.strip()] = value.strip()
    return pairs


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return None
