"""Anthropic's Admin API cost report (``GET /v1/organizations/cost_report``) as FOCUS cost
lines.

A page holds daily buckets (``starting_at``, ``ending_at``: RFC 3339); each result has
``amount``, a decimal string in the currency's lowest units (cents: ``"123.45"`` USD is
$1.2345), ``currency`` and, when the request grouped by them, ``workspace_id`` (null for the
default workspace), ``description``, ``cost_type`` (tokens, web_search, code_execution, ...),
``model``, ``token_type``, ``service_tier``, ``context_window`` and ``inference_geo``. A
result is one cost line: the workspace is its sub-account and resource, the model its SKU, the
token type its SKU meter; the other fields travel as ``x_`` extension columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from apportion.ingest.reports import FocusRow, Page, Report, charge, text
from apportion.schema.currency import MINOR_UNITS

PROVIDER = "Anthropic"
_READ = {"amount", "currency", "workspace_id", "description", "model", "token_type"}


def _recognise(page: Page) -> bool:
    data = page.get("data")
    if not isinstance(data, list) or "has_more" not in page:
        return False
    buckets = [b for b in data if isinstance(b, dict)]
    results = [r for b in buckets for r in b.get("results") or [] if isinstance(r, dict)]
    return (
        bool(results)
        and all("starting_at" in b for b in buckets)
        and all(isinstance(r.get("amount"), str) for r in results)
    )


def in_units(amount: str | None, currency: str | None) -> str | None:
    """A lowest-units amount (``"123.45"`` cents) in the currency's units (``1.2345``),
    exactly. Text that is not a number, or a currency not known, passes as written so the row
    is quarantined with what the report said."""
    if amount is None or currency not in MINOR_UNITS:
        return amount
    try:
        value = Decimal(amount.strip())
    except InvalidOperation:
        return amount
    if not value.is_finite():
        return amount
    return format(value.scaleb(-MINOR_UNITS[currency]), "f")


def _row(bucket: Mapping[str, Any], result: Mapping[str, Any]) -> FocusRow:
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
    row.update({f"x_{key}": text(value) for key, value in result.items() if key not in _READ})
    return row


COSTS = Report(
    name="anthropic-costs", title="Anthropic cost report", recognise=_recognise, rows=_row
)
