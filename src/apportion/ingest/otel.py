"""OpenTelemetry GenAI spans (an OTLP JSON export: ``resourceSpans``, one request per line as
the collector's file exporter writes them, or one document) as driver rows.

Every span that carries token usage (``gen_ai.usage.input_tokens`` or ``output_tokens``)
gives a ``llm_tokens`` driver row (input plus output tokens; the cache read and creation
counts are part of the input) at its start time, with the provider (``gen_ai.provider.name``,
or the older ``gen_ai.system``) as resource. Dimension values come from the span's attributes
over its resource's (``service.name`` and the like), keys read as the tag policy reads them:
name the attribute that carries a use case in ``tags.aliases`` (``use_case:
[service.name]``). Spans without token usage are skipped and counted in a note.

Each such span is also a row of telemetry usage, for reconcile: the provider as its bill names
it, the response model (else the requested one), the input tokens (cached ones included, as
the conventions count them), ``gen_ai.usage.cache_read.input_tokens`` and
``cache_creation.input_tokens`` (or their older underscored names), the output tokens and the
same dimensions. Spans report no cost, so telemetry usage is priced by the list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from apportion.engine.dataplane import FileError
from apportion.ingest import values
from apportion.ingest.litellm import TOKENS, KeyReader, dimensions_from, driver_columns
from apportion.ingest.providers import bare_model, provider
from apportion.ingest.readers import Look, Read, Staging
from apportion.ingest.registry import Reader, reader
from apportion.ingest.reports import json_documents, text_table
from apportion.ingest.usage import DIMENSION
from apportion.schema import columns as col

_INPUT = "gen_ai.usage.input_tokens"
_OUTPUT = "gen_ai.usage.output_tokens"
_PROVIDER = ("gen_ai.provider.name", "gen_ai.system")
_MODEL = ("gen_ai.response.model", "gen_ai.request.model")
_CACHE_READ = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
_CACHE_WRITE = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
)


@dataclass
class Spans:
    drivers: pa.Table
    usage: pa.Table
    skipped: int  # spans without token usage


def is_otlp(document: Any) -> bool:
    return isinstance(document, dict) and isinstance(document.get("resourceSpans"), list)


def read(path: Path, policy: KeyReader, dimensions: list[str]) -> Spans:
    """A driver row and a usage row of text per span with token usage, numbered by the
    export's line."""
    drivers: list[dict[str, str | None]] = []
    usage: list[dict[str, str | None]] = []
    lines: list[int] = []
    skipped = 0
    for number, document in json_documents(path, is_otlp, "an OTLP trace export"):
        for resource_spans in _objects(document.get("resourceSpans"), path, number):
            resource = _attributes(_object(resource_spans.get("resource")).get("attributes"))
            for scope in _objects(resource_spans.get("scopeSpans"), path, number):
                for span in _objects(scope.get("spans"), path, number):
                    attributes = _attributes(span.get("attributes"))
                    if _INPUT not in attributes and _OUTPUT not in attributes:
                        skipped += 1
                        continue
                    found = dimensions_from((resource, attributes), policy, dimensions)
                    drivers.append(_driver_row(span, attributes, found, dimensions))
                    usage.append(_usage_row(span, attributes, found))
                    lines.append(number)
    return Spans(
        text_table(drivers, lines, driver_columns(dimensions)),
        text_table(usage, lines),
        skipped,
    )


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


def _driver_row(
    span: Mapping[str, Any],
    attributes: Mapping[str, Any],
    found: Mapping[str, str],
    dimensions: list[str],
) -> dict[str, str | None]:
    tokens = [attributes.get(_INPUT), attributes.get(_OUTPUT)]
    odd = next((count for count in tokens if not _is_count(count)), None)
    quantity = (
        str(sum(values.number(count, count=True) or 0 for count in tokens))
        if odd is None
        else f"{odd} tokens"  # not a count: the row is quarantined with what the span said
    )
    provider = _first(attributes, _PROVIDER)
    return {
        "timestamp": _time(span.get("startTimeUnixNano")),
        "driver": TOKENS,
        "quantity": quantity,
        "resource_id": provider,
        **{d: found.get(d) for d in dimensions},
    }


def _usage_row(
    span: Mapping[str, Any], attributes: Mapping[str, Any], found: Mapping[str, str]
) -> dict[str, str | None]:
    given = _first(attributes, _PROVIDER) or ""
    billed_by = provider(given)
    row: dict[str, str | None] = {
        "origin": "telemetry",
        col.PROVIDER_NAME: billed_by.bill_name or None,
        "provider": billed_by.prices_id or None,
        col.WINDOW_START: _time(span.get("startTimeUnixNano")),
        "window_end": _time(span.get("endTimeUnixNano")),
        "model": bare_model(_first(attributes, _MODEL) or "", given) or None,
        "input_tokens": _first(attributes, (_INPUT,)),
        "cache_read_tokens": _first(attributes, _CACHE_READ),
        "cache_write_tokens": _first(attributes, _CACHE_WRITE),
        "output_tokens": _first(attributes, (_OUTPUT,)),
        "requests": "1",
        **{f"{DIMENSION}{d}": v for d, v in found.items()},
        "x_trace_id": _first(span, ("traceId",)),
        "x_span_id": _first(span, ("spanId",)),
    }
    if not given:
        row["_reason"] = "no provider (gen_ai.provider.name or gen_ai.system)"
    return row


def _first(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first of these attributes that has a value, as text."""
    value = next((attributes[k] for k in keys if attributes.get(k) not in (None, "")), None)
    return None if value is None else str(value)


def _is_count(value: Any) -> bool:
    if value is None:
        return True
    try:
        values.number(value, count=True)
    except values.NotANumber:
        return False  # Infinity, NaN, 1.5, or beyond int64
    return True


def _time(nanos: Any) -> str | None:
    try:
        seconds, rest = divmod(int(str(nanos)), 1_000_000_000)
        stamp = datetime.fromtimestamp(seconds, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None if nanos is None else str(nanos)  # quarantined as not a time
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{rest // 1000:06d}Z"


@dataclass(frozen=True)
class SpanExport:
    """The otel reader's stager (apportion.ingest.readers): driver rows, usage beside."""

    reader: Reader

    def recognises(self, look: Look) -> bool:
        return is_otlp(look.first)

    def stage(self, path: Path, at: Staging) -> Read:
        spans = read(path, at.policy(), at.config.dimensions)
        notes = [f"read as {self.reader.title} ({self.reader.name}): llm_tokens drivers and usage"]
        if spans.skipped:
            notes.append(f"skipped {spans.skipped} spans without token usage")
        return Read.arrow(at, spans.drivers, usage=spans.usage, notes=notes)


READER = SpanExport(reader("otel"))
