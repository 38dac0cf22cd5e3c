"""OpenAI's organisation Costs API (``GET /v1/organization/costs``) as FOCUS cost lines, and
its Usage API (``GET /v1/organization/usage/completions``, ``/embeddings``,
``/moderations``) as token usage.

A page holds daily buckets (``start_time``, ``end_time``: Unix seconds). A costs result is an
``organization.costs.result`` with ``amount`` (``value`` in the currency's units, dollars, and
a lower-case ``currency``) and, when the request grouped by them, ``project_id`` and
``line_item`` (``"gpt-4.1-mini-2025-04-14, input"``, ``"Image models"``). It is one cost
line: the project is its sub-account and resource, the model its SKU and the meter after the
comma (input, cached input, output) its SKU meter. Any other field travels as an ``x_``
extension column.

A usage result (``organization.usage.completions.result`` and the embeddings and moderations
ones) counts ``input_tokens`` (text tokens, cached ones included: ``input_cached_tokens`` is
part of it, and is priced at the text cache rate), ``output_tokens``,
``input_audio_tokens`` and ``output_audio_tokens`` (on top of the text counts, priced at the
model's audio rates) and ``num_model_requests``, grouped by ``project_id``, ``api_key_id``,
``user_id``, ``model``, ``batch`` and ``service_tier`` as the request asked. Speech
(``audio_speeches``: ``characters``), transcription (``audio_transcriptions``:
``seconds``) and image (``images``, with its ``size`` and ``source`` kept as ``x_`` columns)
results are read too. Vector store and code interpreter usage (storage and sessions) is
quarantined with that reason: its cost is in the Costs API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apportion.ingest.registry import reader
from apportion.ingest.reports import FocusRow, Page, Report, charge, flag, instant, text
from apportion.schema import columns as col

PROVIDER = "OpenAI"
_COSTS = "organization.costs.result"
_USAGE = "organization.usage."
# the usage results read; vector store and code interpreter usage are billed by storage and
# session, which is not usage apportion prices
_READ_USAGE = {
    f"{_USAGE}{kind}.result"
    for kind in (
        "completions",
        "embeddings",
        "moderations",
        "images",
        "audio_speeches",
        "audio_transcriptions",
    )
}
_COST_READ = {"object", "amount", "project_id", "line_item"}
_USAGE_READ = {
    "object",
    "input_tokens",
    "input_cached_tokens",
    "output_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
    "characters",
    "seconds",
    "images",
    "num_model_requests",
    "project_id",
    "api_key_id",
    "user_id",
    "model",
    "batch",
    "service_tier",
}


def _results(page: Page) -> list[Any]:
    if page.get("object") != "page" or not isinstance(page.get("data"), list):
        return []
    return [r for b in page["data"] if isinstance(b, dict) for r in b.get("results") or []]


def _costs_page(page: Page) -> bool:
    results = _results(page)
    return bool(results) and all(isinstance(r, dict) and r.get("object") == _COSTS for r in results)


def _usage_page(page: Page) -> bool:
    results = _results(page)
    return bool(results) and all(
        isinstance(r, dict) and str(r.get("object", "")).startswith(_USAGE) for r in results
    )


def _cost_row(bucket: Mapping[str, Any], result: Mapping[str, Any]) -> FocusRow:
    given = result.get("amount")
    amount: Mapping[str, Any] = given if isinstance(given, dict) else {}
    currency = text(amount.get("currency"))
    line_item = text(result.get("line_item"))
    model, _, meter = (line_item or "").partition(", ")
    project = text(result.get("project_id"))
    row = charge(
        PROVIDER,
        instant(bucket.get("start_time")),
        instant(bucket.get("end_time")),
        text(amount.get("value")),
        currency.upper() if currency else None,
    )
    row.update(
        ServiceName="OpenAI API",
        ChargeDescription=line_item,
        SkuId=model or None,
        SkuMeter=meter or None,
        SubAccountId=project,
        SubAccountType="Project" if project else None,
        ResourceId=project,
        ResourceType="Project" if project else None,
    )
    row.update({f"x_{key}": text(value) for key, value in result.items() if key not in _COST_READ})
    return row


def _usage_row(bucket: Mapping[str, Any], result: Mapping[str, Any]) -> FocusRow:
    kind = str(result.get("object"))
    row: FocusRow = {
        col.PROVIDER_NAME: PROVIDER,
        "provider": "openai",
        col.WINDOW_START: instant(bucket.get("start_time")),
        "window_end": instant(bucket.get("end_time")),
        "account_id": text(result.get("project_id")),
        "api_key_id": text(result.get("api_key_id")),
        "user_id": text(result.get("user_id")),
        "model": text(result.get("model")),
        "service_tier": text(result.get("service_tier")),
        "batch": flag(result.get("batch")),
        "input_tokens": text(result.get("input_tokens")),
        "cache_read_tokens": text(result.get("input_cached_tokens")),
        "output_tokens": text(result.get("output_tokens")),
        "requests": text(result.get("num_model_requests")),
        # input_tokens counts text only: audio tokens come on top, at audio prices
        "input_audio_tokens": text(result.get("input_audio_tokens")),
        "output_audio_tokens": text(result.get("output_audio_tokens")),
        "characters": text(result.get("characters")),
        "audio_seconds": text(result.get("seconds")),
        "images": text(result.get("images")),
    }
    if kind not in _READ_USAGE:
        usage = kind.removeprefix(_USAGE).removesuffix(".result")
        row["_reason"] = (
            f"{usage} usage is not usage apportion prices (its cost is in the Costs API)"
        )
    row.update({f"x_{key}": text(v) for key, v in result.items() if key not in _USAGE_READ})
    return row


COSTS = Report(
    reader("openai-costs"),
    recognise=_costs_page,
    rows=_cost_row,
)
USAGE = Report(
    reader("openai-usage"),
    recognise=_usage_page,
    rows=_usage_row,
)
