"""Anthropic's Admin API cost report (``GET /v1/organizations/cost_report``) as FOCUS cost
lines, and its usage report (``GET /v1/organizations/usage_report/messages``) as token usage.

A page holds daily buckets (``starting_at``, ``ending_at``: RFC 3339). A cost result has
``amount``, a decimal string in the currency's lowest units (cents: ``"123.45"`` USD is
$1.2345), ``currency`` and, when the request grouped by them, ``workspace_id`` (null for the
default workspace), ``description``, ``cost_type`` (tokens, web_search, code_execution, ...),
``model``, ``token_type``, ``service_tier``, ``context_window`` and ``inference_geo``. It is
one cost line: the workspace is its sub-account and resource, the model its SKU, the token
type its SKU meter; the other fields travel as ``x_`` extension columns.

A usage result counts ``uncached_input_tokens``, ``cache_read_input_tokens``,
``cache_creation`` (``ephemeral_5m_input_tokens``, ``ephemeral_1h_input_tokens``),
``output_tokens`` and ``server_tool_use.web_search_requests``, grouped by ``workspace_id``,
``api_key_id``, ``model``, ``service_tier`` and ``context_window`` as the request asked. The
input tokens stored are all of them, cache reads and writes included, as OpenAI counts them
(the uncached count read as the total would leave the cached tokens out of the input price
and in again at the cache rate); a ``context_window`` of "200k-1M" is the long-context tier,
a ``service_tier`` of batch the batch price.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apportion.ingest import values
from apportion.ingest.registry import reader
from apportion.ingest.reports import FocusRow, Page, Report, charge, flag, nested, text, total
from apportion.money import EXACT
from apportion.schema import columns as col
from apportion.schema.currency import MINOR_UNITS

PROVIDER = "Anthropic"
UNKNOWN_UNITS = "(lowest units of an unknown currency)"
_COST_READ = {"amount", "currency", "workspace_id", "description", "model", "token_type"}
_USAGE_READ = {
    "uncached_input_tokens",
    "cache_read_input_tokens",
    "cache_creation",
    "output_tokens",
    "server_tool_use",
    "workspace_id",
    "api_key_id",
    "model",
    "service_tier",
}


def _results(page: Page) -> list[dict[str, Any]]:
    data = page.get("data")
    if not isinstance(data, list) or "has_more" not in page:
        return []
    buckets = [b for b in data if isinstance(b, dict)]
    if not all("starting_at" in b for b in buckets):
        return []
    return [r for b in buckets for r in b.get("results") or [] if isinstance(r, dict)]


def _costs_page(page: Page) -> bool:
    """Every result has an amount (a decimal string); a null one is still a cost result, and
    its row is quarantined for want of an amount rather than the file refused."""
    results = _results(page)
    return bool(results) and all(
        "amount" in r and (r["amount"] is None or isinstance(r["amount"], str)) for r in results
    )


def _usage_page(page: Page) -> bool:
    results = _results(page)
    return bool(results) and all("uncached_input_tokens" in r for r in results)


def in_units(amount: str | None, currency: str | None) -> str | None:
    """A lowest-units amount (``"123.45"`` cents) in the currency's units (``1.2345``),
    exactly. Text that is not a number passes as written, and an amount in a currency not
    known is marked as lowest units, so the row is quarantined with what the report said."""
    if amount is None:
        return None
    try:
        value = values.number(amount)
    except values.NotANumber:
        return amount
    if value is None:
        return amount
    places = MINOR_UNITS.get(currency or "")
    if places is None:
        # how many lowest units make one is unknown: the amount is kept marked as what it is,
        # never shown as if it were whole units (a hundred times too much for cents)
        return f"{amount.strip()} {UNKNOWN_UNITS}"
    return format(EXACT.scaleb(value, -places), "f")


def _cost_row(bucket: Mapping[str, Any], result: Mapping[str, Any]) -> FocusRow:
    currency = (text(result.get("currency")) or "").upper() or None
    workspace = text(result.get("workspace_id"))
    row = charge(
        PROVIDER,
        text(bucket.get("starting_at")),
        text(bucket.get("ending_at")),
        in_units(text(result.get("amount")), currency),
        currency,
    )
    row.update(
        ServiceName="Claude API",
        ChargeDescription=text(result.get("description")),
        SkuId=text(result.get("model")),
        SkuMeter=text(result.get("token_type")),
        SubAccountId=workspace,
        SubAccountType="Workspace" if workspace else None,
        ResourceId=workspace,
        ResourceType="Workspace" if workspace else None,
    )
    row.update({f"x_{key}": text(value) for key, value in result.items() if key not in _COST_READ})
    return row


def _usage_row(bucket: Mapping[str, Any], result: Mapping[str, Any]) -> FocusRow:
    cache_read = result.get("cache_read_input_tokens")
    write_5m = nested(result, "cache_creation", "ephemeral_5m_input_tokens")
    write_1h = nested(result, "cache_creation", "ephemeral_1h_input_tokens")
    tier = text(result.get("service_tier"))
    window = text(result.get("context_window"))
    row: FocusRow = {
        col.PROVIDER_NAME: PROVIDER,
        "provider": "anthropic",
        col.WINDOW_START: text(bucket.get("starting_at")),
        "window_end": text(bucket.get("ending_at")),
        "account_id": text(result.get("workspace_id")),
        "api_key_id": text(result.get("api_key_id")),
        "model": text(result.get("model")),
        "service_tier": tier,
        "batch": flag(tier == "batch") if tier else None,
        "long_context": flag(window is not None and window.startswith("200k")),
        "input_tokens": total(result.get("uncached_input_tokens"), cache_read, write_5m, write_1h),
        "cache_read_tokens": text(cache_read),
        "cache_write_tokens": text(write_5m),
        "cache_write_1h_tokens": text(write_1h),
        "output_tokens": text(result.get("output_tokens")),
        "web_searches": text(nested(result, "server_tool_use", "web_search_requests")),
    }
    row.update({f"x_{key}": text(v) for key, v in result.items() if key not in _USAGE_READ})
    return row


COSTS = Report(
    reader("anthropic-costs"),
    recognise=_costs_page,
    rows=_cost_row,
)
USAGE = Report(
    reader("anthropic-usage"),
    recognise=_usage_page,
    rows=_usage_row,
)
