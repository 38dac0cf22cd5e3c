"""OpenAI's organisation Costs API (``GET /v1/organization/costs``) as FOCUS cost lines.

A page holds daily buckets (``start_time``, ``end_time``: Unix seconds); each result is an
``organization.costs.result`` with ``amount`` (``value`` in the currency's units, dollars, and
a lower-case ``currency``) and, when the request grouped by them, ``project_id`` and
``line_item`` (``"gpt-4.1-mini-2025-04-14, input"``, ``"Image models"``). A result is one cost
line: the project is its sub-account and resource, the model its SKU and the meter after the
comma (input, cached input, output) its SKU meter. Any other field travels as an ``x_``
extension column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apportion.ingest.reports import FocusRow, Page, Report, charge, instant, text

PROVIDER = "OpenAI"
_RESULT = "organization.costs.result"
_READ = {"object", "amount", "project_id", "line_item"}


def _recognise(page: Page) -> bool:
    if page.get("object") != "page" or not isinstance(page.get("data"), list):
        return False
    results = [r for b in page["data"] if isinstance(b, dict) for r in b.get("results") or []]
    return bool(results) and all(
        isinstance(r, dict) and r.get("object") == _RESULT for r in results
    )


def _row(bucket: Mapping[str, Any], result: Mapping[str, Any]) -> FocusRow:
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
    row.update({f"x_{key}": text(value) for key, value in result.items() if key not in _READ})
    return row


COSTS = Report(name="openai-costs", title="OpenAI Costs API", recognise=_recognise, rows=_row)
