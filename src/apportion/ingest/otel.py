"""OpenTelemetry GenAI spans (an OTLP JSON export: ``resourceSpans``, one request per line as
the collector's file exporter writes them, or one document) as driver rows.

Every span that carries token usage (``gen_ai.usage.input_tokens`` or ``output_tokens``)
gives a ``llm_tokens`` driver row (input plus output tokens; the cache read and creation
counts are part of the input) at its start time, with the provider (``gen_ai.provider.name``,
or the older ``gen_ai.system``) as resource. Dimension values come from the span's attributes
over its resource's (``service.name`` and the like), keys read as the tag policy reads them:
name the attribute that carries a use case in ``tags.aliases`` (``use_case:
[service.name]``). Spans without token usage are skipped and counted in a note.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from apportion.engine.dataplane import FileError
from apportion.ingest.litellm import TOKENS, KeyReader
from apportion.ingest.reports import bounded_text, exact_json, text_table

_INPUT = "gen_ai.usage.input_tokens"
_OUTPUT = "gen_ai.usage.output_tokens"
_PROVIDER = ("gen_ai.provider.name", "gen_ai.system")


@dataclass
class Spans:
    table: pa.Table
    skipped: int  # spans without token usage


def is_otlp(document: Any) -> bool:
    return isinstance(document, dict) and isinstance(document.get("resourceSpans"), list)


def driver_table(path: Path, policy: KeyReader, dimensions: list[str]) -> Spans:
    rows: list[dict[str, str | None]] = []
    lines: list[int] = []
    skipped = 0
    for number, document in _documents(path):
        for resource_spans in _objects(document.get("resourceSpans"), path, number):
            resource = _attributes(_object(resource_spans.get("resource")).get("attributes"))
            for scope in _objects(resource_spans.get("scopeSpans"), path, number):
                for span in _objects(scope.get("spans"), path, number):
                    row = _row(span, resource, policy, dimensions)
                    if row is None:
                        skipped += 1
                        continue
                    rows.append(row)
                    lines.append(number)
    columns = ["timestamp", "driver", "quantity", "resource_id", *dimensions]
    table = text_table(rows, lines, columns)
    return Spans(table, skipped)


def _documents(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The export's requests with their line numbers: one document, or one per line."""
    text = bounded_text(path)
    try:
        whole = exact_json(text)
        if is_otlp(whole):
            return [(1, whole)]
    except (json.JSONDecodeError, ValueError):
        pass
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = exact_json(line)
        except (json.JSONDecodeError, ValueError) as exc:
            raise FileError(f"{path.name}: line {number} is not valid JSON ({exc})") from exc
        if not is_otlp(document):
            raise FileError(f"{path.name}: line {number} is not an OTLP trace export")
        found.append((number, document))
    return found


def _objects(given: Any, path: Path, number: int) -> list[dict[str, Any]]:
    """A list of JSON objects, as OTLP nests them; anything else is not an export."""
    if given is None:
        return []
    if not isinstance(given, list) or not all(isinstance(item, dict) for item in given):
        raise FileError(f"{path.name}: line {number} is not an OTLP trace export")
    return given


def _object(given: Any) -> dict[str, Any]:
    return given if isinstance(given, dict) else {}


def _attributes(given: Any) -> dict[str, Any]:
    """OTLP key/value attributes as a plain mapping (``intValue`` comes as text)."""
    found: dict[str, Any] = {}
    for item in given if isinstance(given, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            continue
        value = item["value"]
        for kind in ("stringValue", "intValue", "doubleValue", "boolValue"):
            if kind in value:
                found[str(item.get("key"))] = value[kind]
                break
    return found


def _row(
    span: Mapping[str, Any],
    resource: Mapping[str, Any],
    policy: KeyReader,
    dimensions: list[str],
) -> dict[str, str | None] | None:
    attributes = _attributes(span.get("attributes"))
    if _INPUT not in attributes and _OUTPUT not in attributes:
        return None
    tokens = [attributes.get(_INPUT), attributes.get(_OUTPUT)]
    odd = next((count for count in tokens if not _is_count(count)), None)
    quantity = (
        str(sum(Decimal(str(count)) for count in tokens if count is not None))
        if odd is None
        else f"{odd} tokens"  # not a count: the row is quarantined with what the span said
    )
    found: dict[str, str] = {}
    for source in (resource, attributes):  # the span's own attributes win
        for key, value in source.items():
            dimension = policy.dimension_of(key)
            if dimension in dimensions and isinstance(value, str) and value.strip():
                found[dimension] = policy.canonical_value(dimension, value)
    provider = next((attributes[k] for k in _PROVIDER if attributes.get(k)), None)
    return {
        "timestamp": _time(span.get("startTimeUnixNano")),
        "driver": TOKENS,
        "quantity": quantity,
        "resource_id": str(provider) if provider else None,
        **{d: found.get(d) for d in dimensions},
    }


def _is_count(value: Any) -> bool:
    if value is None:
        return True
    try:
        return Decimal(str(value)) == Decimal(str(value)).to_integral_value()
    except ArithmeticError:
        return False


def _time(nanos: Any) -> str | None:
    try:
        seconds, rest = divmod(int(str(nanos)), 1_000_000_000)
        stamp = datetime.fromtimestamp(seconds, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None if nanos is None else str(nanos)  # quarantined as not a time
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{rest // 1000:06d}Z"
