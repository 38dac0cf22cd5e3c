"""Google Cloud's billing export to BigQuery (the standard usage cost export, or the detailed
one), saved from BigQuery as JSON (``--format gcp``): one row per line as ``bq extract`` and the
console write it, or one JSON array as ``bq query --format=json`` prints it. BigQuery cannot
write the export's nested columns as CSV. Each row becomes one FOCUS cost line:

- BilledCost and EffectiveCost are ``cost`` plus the row's credits (which are negative: a
  committed use discount, a sustained use discount, free tier, promotions), so the billed total
  is what the invoice charges. Google's FOCUS view and the FinOps Foundation's converter keep
  ``cost`` as the billed cost and set the credits aside; here a credit cannot go missing.
- ListCost is ``cost_at_list`` (the cost at list prices), or ``cost`` where the export has
  none (older exports; tax, adjustments); ContractedCost is ``cost``, before credits.
- The billing period is ``invoice.month`` (``202403``: the invoice the row is on, which for
  usage at the end of a month can be the month before it in UTC); the charge period is
  ``usage_start_time`` to ``usage_end_time``, written by BigQuery as ``2024-03-01 08:00:00 UTC``
  or as RFC 3339.
- ``cost_type`` gives the charge category as Google's FOCUS view has it: regular is Usage, tax
  Tax, adjustment and rounding_error Adjustment (an adjustment is a correction, ChargeClass
  Correction). A commitment's fee is regular usage, PricingCategory Committed, as is usage a
  committed use discount covers, named by the discount's credit.
- PricingQuantity and PricingUnit are ``usage.amount_in_pricing_units`` and
  ``usage.pricing_unit`` (``gibibyte month`` written as FOCUS's ``GiB-Months``), where the
  row has both; ServiceCategory and ServiceSubcategory come from the service's description
  (apportion.ingest.services). A commitment's fee is Recurring, other usage Usage-Based.
- The project is the sub-account. Tags are the resource's ``labels`` over its project's
  ``project.labels``, which every line of the project inherits (a resource's own label wins
  on the same key); ``system_labels`` (Google's, such as a machine type) are kept in
  ``x_SystemLabels``, not as tags.

Numbers are read as exact decimals (the export's FLOAT64 amounts as BigQuery wrote them), an
amount written as text too; an amount past the 18 places money keeps (float noise such as
``1.1368683772161603e-13``) is rounded to them, half to even. A row whose cost or credit is not
a number is quarantined; its line number is its line in the file (its position in an array).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any

import pyarrow as pa

from apportion.engine.dataplane import FileError
from apportion.ingest import services, values
from apportion.ingest.conform import charge_frequency, pricing, pricing_unit
from apportion.ingest.readers import Look, Read, Staging
from apportion.ingest.registry import Reader, reader
from apportion.ingest.reports import (
    FOCUS_ALWAYS,
    NO_AMOUNT,
    FocusRow,
    billing_month,
    bounded_text,
    exact_json,
    nested,
    text,
    text_table,
)
from apportion.ingest.services import ai_service, lookup, service_columns
from apportion.money import EXACT, rounded_text
from apportion.schema import columns as col
from apportion.schema.tables import MONEY_SCALE

PROVIDER = "Google Cloud"
_CHARGE_CATEGORY = {
    "regular": "Usage",
    "tax": "Tax",
    "adjustment": "Adjustment",
    "rounding_error": "Adjustment",
}
# committed use discount credits, and the FOCUS commitment category of each
_COMMITMENT_CREDITS = {
    "COMMITTED_USAGE_DISCOUNT": "Usage",
    "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE": "Spend",
}
_FIELDS = {"billing_account_id", "service", "sku", "cost", "usage_start_time"}


def _amount(value: Any) -> Decimal | None:
    """An amount as a decimal (a JSON number, or a number written as text); None otherwise."""
    if not isinstance(value, str | Decimal):
        return None
    try:
        return values.number(value)
    except values.NotANumber:
        return None


def _money(value: Decimal) -> str:
    """An amount as money text: beyond the places money keeps it is float noise, rounded."""
    exponent = value.as_tuple().exponent  # a letter for NaN and infinity, left as they are
    if isinstance(exponent, int) and exponent < -MONEY_SCALE:
        return rounded_text(value)
    return format(value, "f")


def _cost_type(row: Mapping[str, Any]) -> str:
    """The row's cost_type; exports from before it was added hold only regular rows."""
    return str(row.get("cost_type") or "regular")


def _credits(row: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = row.get("credits")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def _net(row: Mapping[str, Any]) -> str:
    """cost plus every credit, exactly; a cost or credit that is not a number is returned as
    written, so the row is quarantined with it."""
    cost = row.get("cost")
    if cost is None:
        return NO_AMOUNT
    total = _amount(cost)
    if total is None:
        return text(cost) or NO_AMOUNT
    for credit in _credits(row):
        amount = _amount(credit.get("amount", Decimal(0)))
        if amount is None:
            return text(credit.get("amount")) or NO_AMOUNT
        total = EXACT.add(total, amount)  # the 28-digit default context could round
    return _money(total)


def _as_money(value: Any) -> str | None:
    """A single amount as money text; text that is not a number as written; None if absent."""
    if value is None:
        return None
    amount = _amount(value)
    return _money(amount) if amount is not None else text(value)


def _time(value: Any) -> str | None:
    """BigQuery writes a TIMESTAMP as ``2024-03-01 08:00:00 UTC``: the zone as RFC 3339's."""
    written = text(value)
    if written and written.endswith(" UTC"):
        return written.removesuffix(" UTC") + "Z"
    return written


def _invoice_month(value: Any) -> tuple[str | None, str | None]:
    """``invoice.month`` (``202403``) as BillingPeriodStart and -End; other text is passed as
    written so the row is quarantined for it, and no month leaves the period to the charge."""
    month = text(value)
    if month is None:
        return None, None
    if len(month) == 6 and month.isdigit() and 1 <= int(month[4:]) <= 12:
        return billing_month(f"{month[:4]}-{month[4:]}")
    return month, None


def _labels(value: Any) -> dict[str, str]:
    """A list of {key, value} labels as a mapping."""
    if not isinstance(value, list):
        return {}
    return {
        str(label["key"]): str(label.get("value") or "")
        for label in value
        if isinstance(label, dict) and label.get("key") is not None
    }


def _tags(row: Mapping[str, Any]) -> str | None:
    """The resource's labels over its project's, which it inherits."""
    tags = {**_labels(nested(row, "project", "labels")), **_labels(row.get("labels"))}
    return text({key: tags[key] for key in sorted(tags)}) if tags else None


def _commitment(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """The row's committed use discount credit, or nothing."""
    return next((c for c in _credits(row) if c.get("type") in _COMMITMENT_CREDITS), {})


def _pricing_category(row: Mapping[str, Any], committed: bool) -> str | None:
    if _cost_type(row) != "regular":
        return None
    return "Committed" if committed or _commitment_fee(row) else "Standard"


def _commitment_fee(row: Mapping[str, Any]) -> bool:
    """A committed use discount's monthly fee, which Google bills as regular usage."""
    return (text(nested(row, "sku", "description")) or "").startswith("Commitment")


def _period_columns(row: Mapping[str, Any]) -> FocusRow:
    start, end = _invoice_month(nested(row, "invoice", "month"))
    adjustment = row.get("adjustment_info")
    category = _CHARGE_CATEGORY.get(_cost_type(row), "Adjustment")
    return {
        col.BILLING_PERIOD_START: start,
        col.BILLING_PERIOD_END: end,
        col.CHARGE_PERIOD_START: _time(row.get("usage_start_time")),
        col.CHARGE_PERIOD_END: _time(row.get("usage_end_time")),
        col.CHARGE_CATEGORY: category,
        col.CHARGE_CLASS: "Correction" if isinstance(adjustment, dict) and adjustment else None,
        col.CHARGE_FREQUENCY: charge_frequency(
            category, "Recurring" if _commitment_fee(row) else None
        ),
    }


def _cost_columns(row: Mapping[str, Any]) -> FocusRow:
    net = _net(row)
    cost = _as_money(row.get("cost")) or NO_AMOUNT
    return {
        col.BILLING_CURRENCY: text(row.get("currency")),
        col.BILLED_COST: net,
        col.EFFECTIVE_COST: net,
        col.LIST_COST: _as_money(row.get("cost_at_list")) or cost,
        col.CONTRACTED_COST: cost,
        # tax has no unit price in FOCUS
        col.CONTRACTED_UNIT_PRICE: (
            text(nested(row, "price", "effective_price")) if _cost_type(row) != "tax" else None
        ),
    }


def _usage_columns(row: Mapping[str, Any]) -> FocusRow:
    usage = _cost_type(row) == "regular"
    return {
        col.CONSUMED_QUANTITY: text(nested(row, "usage", "amount")) if usage else None,
        col.CONSUMED_UNIT: text(nested(row, "usage", "unit")) if usage else None,
        **pricing(
            _CHARGE_CATEGORY.get(_cost_type(row), "Adjustment"),
            text(nested(row, "usage", "amount_in_pricing_units")),
            pricing_unit(text(nested(row, "usage", "pricing_unit"))),
        ),
    }


def _gcp_row(row: Mapping[str, Any]) -> FocusRow:
    cud = _commitment(row)
    # Marketplace sales (THIRD_PARTY_RESELLER, _AGENCY) are published by their seller
    third_party = row.get("transaction_type") not in (None, "GOOGLE")
    service = text(nested(row, "service", "description"))
    return {
        col.PROVIDER_NAME: PROVIDER,
        col.PUBLISHER_NAME: (text(row.get("seller_name")) if third_party else None) or PROVIDER,
        col.INVOICE_ISSUER_NAME: PROVIDER,
        col.BILLING_ACCOUNT_ID: text(row.get("billing_account_id")),
        col.SUB_ACCOUNT_ID: text(nested(row, "project", "id")),
        col.SUB_ACCOUNT_NAME: text(nested(row, "project", "name")),
        **_period_columns(row),
        **_cost_columns(row),
        **_usage_columns(row),
        col.CHARGE_DESCRIPTION: text(nested(row, "sku", "description")),
        col.PRICING_CATEGORY: _pricing_category(row, bool(cud)),
        col.COMMITMENT_DISCOUNT_CATEGORY: _COMMITMENT_CREDITS.get(str(cud.get("type"))),
        col.COMMITMENT_DISCOUNT_ID: text(cud.get("id")),
        col.COMMITMENT_DISCOUNT_NAME: text(cud.get("full_name") or cud.get("name")),
        col.SERVICE_NAME: service,
        **service_columns(lookup(services.GCP, service), ai_service(service)),
        col.SKU_ID: text(nested(row, "sku", "id")),
        col.REGION_ID: text(nested(row, "location", "region")),
        col.AVAILABILITY_ZONE: text(nested(row, "location", "zone")),
        col.RESOURCE_ID: text(nested(row, "resource", "global_name")),  # the detailed export's
        col.RESOURCE_NAME: text(nested(row, "resource", "name")),
        col.TAGS: _tags(row),
        "x_CostType": _cost_type(row),
        "x_Cost": text(row.get("cost")),
        "x_Credits": text(row.get("credits") or None),
        "x_CurrencyConversionRate": text(row.get("currency_conversion_rate")),
        "x_ServiceId": text(nested(row, "service", "id")),
        "x_ProjectNumber": text(nested(row, "project", "number")),
        "x_SystemLabels": text(_labels(row.get("system_labels")) or None),
        "x_Location": text(nested(row, "location", "location")),
    }


# -- JSON exports, object by object ----------------------------------------------------------
@dataclass(frozen=True)
class JsonExport:
    """A JSON export's mapping to FOCUS, object by object (a stager of
    apportion.ingest.readers): auto recognises it by its first object's keys."""

    reader: Reader  # its registry entry: --format name, title, how auto recognises it
    recognise: Callable[[list[str]], bool]  # on the first JSON object's keys
    row: Callable[[Mapping[str, Any]], FocusRow]

    def recognises(self, look: Look) -> bool:
        return look.first is not None and self.recognise(list(look.first))

    def stage(self, path: Path, at: Staging) -> Read:
        notes = [f"read as {self.reader.title} ({self.reader.name}), mapped to FOCUS"]
        return Read.arrow(at, export_table(self, path), notes=notes)


def export_table(export: JsonExport, path: Path) -> pa.Table:
    """Every object of the export as a FOCUS row of text, numbered by its line in the file."""
    rows: list[FocusRow] = []
    lines: list[int] = []
    for line, row in json_records(path, export.recognise, export.reader.title):
        rows.append(export.row(row))
        lines.append(line)
    # a header-only export (a month with no charges) is still a cost file: it loads nothing
    columns = list(dict.fromkeys([*FOCUS_ALWAYS, *(name for row in rows for name in row)]))
    return text_table(rows, lines, columns)


def json_records(
    path: Path, keys_ok: Callable[[list[str]], bool], what: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    """A JSON export's objects, numbers exact: JSON Lines numbered by line, or one JSON array
    (what a query tool saves) numbered by position. The file is refused whole when it is not
    UTF-8, when a line or item is not a JSON object, or when the first object's keys are not
    ``what``'s (as ``keys_ok`` tells)."""
    for index, (number, record) in enumerate(_json_objects(path)):
        if index == 0 and not keys_ok(list(record)):
            raise FileError(f"{path.name}: not a {what} (its fields are not)")
        yield number, record


def _json_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            lines = ((n, line) for n, line in enumerate(handle, start=1) if line.strip())
            first = next(lines, None)
            if first is not None and first[1].lstrip().startswith("["):
                yield from _json_array(path)  # the whole file is one JSON array
                return
            for number, line in chain([first] if first else [], lines):
                yield number, _json_object(line, path.name, f"line {number}")
    except UnicodeDecodeError as exc:
        raise FileError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc


def _json_array(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        items = exact_json(bounded_text(path))
    except ValueError as exc:  # JSONDecodeError is one, and so is NaN
        raise FileError(f"{path.name}: not a readable JSON array ({exc})") from exc
    if not isinstance(items, list):
        raise FileError(f"{path.name}: not a JSON array of objects")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise FileError(f"{path.name}: item {number} is not a JSON object")
        yield number, item


def _json_object(text: str, file_name: str, where: str) -> dict[str, Any]:
    try:
        found = exact_json(text)
    except ValueError as exc:  # JSONDecodeError is one, and so is NaN
        raise FileError(f"{file_name}: {where} is not valid JSON ({exc})") from exc
    if not isinstance(found, dict):
        raise FileError(f"{file_name}: {where} is not a JSON object")
    return found


GCP = JsonExport(
    reader("gcp"),
    recognise=lambda keys: set(keys) >= _FIELDS,
    row=_gcp_row,
)
