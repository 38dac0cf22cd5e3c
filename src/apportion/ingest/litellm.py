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

Every request the provider answered is also a row of gateway usage, for reconcile: the
provider (``custom_llm_provider``) as its bill names it, the model without a provider prefix,
``prompt_tokens`` as the input (cached tokens included, as LiteLLM counts them),
``completion_tokens`` as the output, the cache reads and writes from the ``usage_object`` in
its metadata, the same dimensions, and ``spend`` as its reported cost (rounded to the 18
places money keeps; a spend of 0 for a request that used tokens is LiteLLM not knowing the
price, so no reported cost). A request LiteLLM answered from its own cache (``cache_hit``)
reached no provider: it is a driver row but not usage, and is counted in a note.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from apportion.ingest import values
from apportion.ingest.providers import bare_model, provider
from apportion.ingest.readers import Look, Read, Staging
from apportion.ingest.registry import Reader, reader
from apportion.ingest.reports import csv_records, text_table
from apportion.ingest.usage import DIMENSION
from apportion.money import rounded_text
from apportion.schema import columns as col
from apportion.schema.tables import MONEY_SCALE, QUANTITY_SCALE

TOKENS = "llm_tokens"
SPEND = "llm_spend"
_SIGNATURE = {"request_id", "spend", "starttime", "total_tokens"}
# request columns kept with each usage row as x_ columns, to find the request again
# cache_key: the hash LiteLLM keys its response cache with, the response-caching playbook's
# evidence of repeated identical requests
_KEPT = ("request_id", "team_id", "end_user", "model_group", "call_type", "status", "cache_key")


def recognise(header: list[str]) -> bool:
    return {name.strip().lower() for name in header} >= _SIGNATURE


class KeyReader(Protocol):
    """How keys and values are read as dimensions (apportion.tags.policy.TagPolicy)."""

    def dimension_of(self, raw_key: str) -> str | None: ...

    def canonical_value(self, dimension: str, raw: str) -> str: ...


@dataclass
class GatewayLog:
    drivers: pa.Table
    usage: pa.Table
    cache_hits: int  # requests the gateway answered itself: drivers, not provider usage


def read(path: Path, policy: KeyReader, dimensions: list[str]) -> GatewayLog:
    """Two driver rows of text per request and one usage row per request a provider answered,
    numbered by the request's line in the file."""
    drivers: list[dict[str, str | None]] = []
    driver_lines: list[int] = []
    usage: list[dict[str, str | None]] = []
    usage_lines: list[int] = []
    cache_hits = 0
    for line, row in csv_records(path):
        cells = {key.strip().lower(): value for key, value in row.items()}
        found = _dimensions(cells, policy, dimensions)
        common = {
            "timestamp": cells.get("starttime") or None,
            "resource_id": cells.get("model_group") or cells.get("model") or None,
            **{d: found.get(d) for d in dimensions},
        }
        drivers.append({**common, "driver": TOKENS, "quantity": cells.get("total_tokens")})
        drivers.append({**common, "driver": SPEND, "quantity": _rounded(cells.get("spend"))})
        driver_lines += [line, line]
        if (cells.get("cache_hit") or "").strip().lower() == "true":
            cache_hits += 1
            continue
        usage.append(_usage_row(cells, found))
        usage_lines.append(line)
    return GatewayLog(
        text_table(drivers, driver_lines, driver_columns(dimensions)),
        text_table(usage, usage_lines),
        cache_hits,
    )


def driver_columns(dimensions: list[str]) -> list[str]:
    """A driver file's columns, as the gateway and span readers write them."""
    return ["timestamp", "driver", "quantity", "resource_id", *dimensions]


def _usage_row(cells: Mapping[str, str], found: Mapping[str, str]) -> dict[str, str | None]:
    given = (cells.get("custom_llm_provider") or "").strip()
    billed_by = provider(given)
    cached = _object(_object(_json(cells.get("metadata", ""))).get("usage_object"))
    row: dict[str, str | None] = {
        "origin": "gateway",
        col.PROVIDER_NAME: billed_by.bill_name or None,
        "provider": billed_by.prices_id or None,
        col.WINDOW_START: cells.get("starttime") or None,
        "window_end": cells.get("endtime") or None,
        "api_key_id": cells.get("api_key") or None,
        "user_id": cells.get("user") or None,
        "model": bare_model(cells.get("model") or "", given) or None,
        "input_tokens": cells.get("prompt_tokens") or None,
        "cache_read_tokens": _count(
            cached.get("cache_read_input_tokens"),
            _object(cached.get("prompt_tokens_details")).get("cached_tokens"),
        ),
        "cache_write_tokens": _count(cached.get("cache_creation_input_tokens")),
        "output_tokens": cells.get("completion_tokens") or None,
        "requests": "1",
        "reported_cost": _reported(cells),
        **{f"{DIMENSION}{d}": v for d, v in found.items()},
        **{f"x_{name}": cells.get(name) or None for name in _KEPT},
    }
    if not given:
        row["_reason"] = "no provider (custom_llm_provider is empty)"
    return row


def _reported(cells: Mapping[str, str]) -> str | None:
    """The gateway's spend as the request's reported cost. LiteLLM writes 0 where it could not
    cost the model (a custom deployment, a model missing from its price map): with tokens
    used, that is no report at all, and the list price stands."""
    spend = _rounded(cells.get("spend"), MONEY_SCALE)
    try:
        nothing = spend is not None and Decimal(spend) == 0
    except InvalidOperation:
        return spend  # quarantined with what it said
    tokens = (cells.get("total_tokens") or "").strip()
    return None if nothing and tokens not in ("", "0") else spend


def _count(*given: Any) -> str | None:
    """The first count the usage object gives, as text (a float or text is kept as written,
    so the row is quarantined with it)."""
    value = next((v for v in given if v is not None), None)
    return None if value is None else str(value)


def _object(given: Any) -> dict[str, Any]:
    return given if isinstance(given, dict) else {}


def _rounded(text: str | None, places: int = QUANTITY_SCALE) -> str | None:
    """LiteLLM keeps spend as a float and writes its binary noise (0.00030849999999999996):
    rounded half-even to the places a quantity (12) or money (18) keeps. Text that is not a
    number passes as written, so the row is quarantined with it."""
    try:
        value = values.number(text)
    except values.NotANumber:
        return text
    return text if value is None else rounded_text(value, places)


def _dimensions(
    cells: Mapping[str, str], policy: KeyReader, dimensions: list[str]
) -> dict[str, str]:
    """The request's dimension values: its tags over its metadata, spelled by the policy."""
    sources = (_metadata(cells.get("metadata", "")), _tags(cells.get("request_tags", "")))
    return dimensions_from(sources, policy, dimensions)


def dimensions_from(
    sources: Iterable[Mapping[str, Any]],
    policy: KeyReader,
    dimensions: list[str],
    skip: Collection[str] = (),
) -> dict[str, str]:
    """Dimension values from keys and values (tags, attributes, labels), each key read as the
    tag policy reads it and each value spelled by it; a later source wins. ``skip``: keys
    that say where something was measured, not whose it is."""
    found: dict[str, str] = {}
    for source in sources:
        for key, value in source.items():
            if key in skip:
                continue
            dimension = policy.dimension_of(str(key))
            if dimension in dimensions and isinstance(value, str) and value.strip():
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


@dataclass(frozen=True)
class SpendLogs:
    """The litellm reader's stager (apportion.ingest.readers): driver rows, usage beside."""

    reader: Reader

    def recognises(self, look: Look) -> bool:
        return recognise(look.header)

    def stage(self, path: Path, at: Staging) -> Read:
        log = read(path, at.policy(), at.config.dimensions)
        what = "llm_tokens and llm_spend drivers and usage"
        notes = [f"read as {self.reader.title} ({self.reader.name}): {what}"]
        if log.cache_hits:
            notes.append(f"{log.cache_hits} requests answered from the gateway's cache: no usage")
        return Read.arrow(at, log.drivers, usage=log.usage, notes=notes)


READER = SpendLogs(reader("litellm"))
