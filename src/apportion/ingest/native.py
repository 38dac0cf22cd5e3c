"""Native cloud billing exports mapped to FOCUS cost lines: the legacy AWS Cost and Usage
Report (``--format aws-cur``), the Azure Enterprise Agreement cost export (``--format
azure-ea``) and Oracle Cloud's cost report (``--format oci``).

Each row of the export becomes one FOCUS row of text, and the rows go through the same parsing,
quarantine and categories as a FOCUS file. Amounts are added and subtracted as exact decimals
(the effective cost of a reservation's fee is two of its columns), never as floating point.
The mapping is done row by row in Python: fine for the millions of rows a month of a large
account has, slower than reading a FOCUS export, which AWS Data Exports write directly.

The row number of a quarantined row is its line in the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

import pyarrow as pa

from apportion.ingest.reports import NO_AMOUNT, FocusRow, billing_month, csv_records, text_table
from apportion.schema.tables import MONEY_SCALE

Row = Mapping[str, str]
_MONEY_PLACE = Decimal(1).scaleb(-MONEY_SCALE)


@dataclass(frozen=True)
class Native:
    name: str  # the --format value
    title: str
    recognise: Callable[[list[str]], bool]  # on the header
    row: Callable[[Row], FocusRow]


def native_table(native: Native, path: Path) -> pa.Table:
    """Every row of the export as a FOCUS row of text, numbered by its line in the file."""
    rows: list[FocusRow] = []
    lines: list[int] = []
    for line, row in csv_records(path, native.recognise, native.title):
        rows.append(native.row(row))
        lines.append(line)
    columns = list(dict.fromkeys(name for row in rows for name in row))
    return text_table(rows, lines, columns)


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text.strip() else None
    except InvalidOperation:
        return None


def _or(*texts: str) -> str | None:
    """The first non-empty text."""
    return next((text for text in texts if text.strip()), None)


def _cost(text: str) -> str:
    """A cost cell as it is read: an empty one is quarantined, not read as no cost."""
    return text if text.strip() else NO_AMOUNT


def _sum(row: Row, *names: str, minus: str | None = None) -> str:
    """Columns added (and one taken away) exactly; an empty column counts nothing, and text
    that is not a number is returned as written so the row is quarantined with it."""
    total = Decimal(0)
    for name in (*names, *([minus] if minus else [])):
        cell = row.get(name, "")
        value = _number(cell)
        if value is None and cell.strip():
            return cell
        total += (value or Decimal(0)) * (-1 if name == minus else 1)
    return format(total, "f")


# -- AWS Cost and Usage Report (legacy) -----------------------------------------------------
# LineItemType -> FOCUS ChargeCategory
_AWS_CHARGE_CATEGORY = {
    "Usage": "Usage",
    "DiscountedUsage": "Usage",
    "SavingsPlanCoveredUsage": "Usage",
    "Tax": "Tax",
    "Credit": "Credit",
    "Refund": "Credit",
    "BundledDiscount": "Credit",
    "EdpDiscount": "Credit",
    "PrivateRateDiscount": "Credit",
    "SavingsPlanNegation": "Credit",
    "Fee": "Purchase",
    "RIFee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase",
    "SavingsPlanUpfrontFee": "Purchase",
}


def _aws_effective_cost(row: Row) -> str:
    """The cost with commitments amortised, as the FOCUS converter computes it: covered usage
    at its share of the commitment, the commitment's fees at what went unused."""
    kind, unblended = (
        row.get("lineItem/LineItemType", ""),
        _cost(row.get("lineItem/UnblendedCost", "")),
    )
    if kind == "DiscountedUsage":
        return _or(row.get("reservation/EffectiveCost", ""), unblended) or unblended
    if kind == "SavingsPlanCoveredUsage":
        return _or(row.get("savingsPlan/SavingsPlanEffectiveCost", ""), unblended) or unblended
    if kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return "0"
    if kind == "Fee" and row.get("reservation/ReservationARN", "").strip():
        return "0"  # a reservation's upfront payment: amortised into the usage it covers
    if kind == "RIFee":
        return _sum(
            row,
            "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
            "reservation/UnusedRecurringFee",
        )
    if kind == "SavingsPlanRecurringFee":
        return _sum(row, "savingsPlan/TotalCommitmentToDate", minus="savingsPlan/UsedCommitment")
    return unblended


def _aws_tags(row: Row) -> str | None:
    tags = {
        name.removeprefix("resourceTags/"): value
        for name, value in row.items()
        if name.startswith("resourceTags/") and value.strip()
    }
    return json.dumps(tags, sort_keys=True) if tags else None


def _aws_row(row: Row) -> FocusRow:
    unblended = _cost(row.get("lineItem/UnblendedCost", ""))
    kind = row.get("lineItem/LineItemType", "")
    usage = _AWS_CHARGE_CATEGORY.get(kind) == "Usage"
    return {
        "ProviderName": "AWS",
        "PublisherName": _or(row.get("bill/BillingEntity", "")),
        "InvoiceIssuerName": _or(row.get("bill/InvoicingEntity", "")),
        "InvoiceId": _or(row.get("bill/InvoiceId", "")),
        "BillingAccountId": _or(row.get("bill/PayerAccountId", "")),
        "SubAccountId": _or(row.get("lineItem/UsageAccountId", "")),
        "BillingPeriodStart": _or(row.get("bill/BillingPeriodStartDate", "")),
        "BillingPeriodEnd": _or(row.get("bill/BillingPeriodEndDate", "")),
        "ChargePeriodStart": _or(row.get("lineItem/UsageStartDate", "")),
        "ChargePeriodEnd": _or(row.get("lineItem/UsageEndDate", "")),
        "ChargeCategory": _AWS_CHARGE_CATEGORY.get(kind, "Adjustment"),
        "ChargeDescription": _or(row.get("lineItem/LineItemDescription", "")),
        "BillingCurrency": _or(row.get("lineItem/CurrencyCode", "")),
        "BilledCost": unblended,
        "EffectiveCost": _aws_effective_cost(row),
        # usage at the public on-demand price; tax, fees and credits have no list price
        "ListCost": (_or(row.get("pricing/publicOnDemandCost", "")) if usage else None)
        or unblended,
        "ContractedCost": unblended,
        "ServiceName": _or(row.get("product/ProductName", ""), row.get("lineItem/ProductCode", "")),
        "ResourceId": _or(row.get("lineItem/ResourceId", "")),
        "RegionId": _or(row.get("product/regionCode", ""), row.get("product/region", "")),
        "AvailabilityZone": _or(row.get("lineItem/AvailabilityZone", "")),
        "SkuId": _or(row.get("product/sku", "")),
        "ListUnitPrice": _or(row.get("pricing/publicOnDemandRate", "")),
        "PricingUnit": _or(row.get("pricing/unit", "")),
        "ConsumedQuantity": _or(row.get("lineItem/UsageAmount", "")) if usage else None,
        "ConsumedUnit": _or(row.get("pricing/unit", "")) if usage else None,
        "Tags": _aws_tags(row),
        "x_LineItemType": kind or None,
        "x_UsageType": _or(row.get("lineItem/UsageType", "")),
        "x_Operation": _or(row.get("lineItem/Operation", "")),
        "x_ProductCode": _or(row.get("lineItem/ProductCode", "")),
    }


AWS_CUR = Native(
    name="aws-cur",
    title="AWS Cost and Usage Report",
    recognise=lambda header: (
        {"lineItem/UnblendedCost", "bill/BillingPeriodStartDate"} <= set(header)
    ),
    row=_aws_row,
)


# -- Azure Enterprise Agreement cost export ---------------------------------------------------
_AZURE_CHARGE_CATEGORY = {
    "Usage": "Usage",
    "UnusedReservation": "Usage",
    "UnusedSavingsPlan": "Usage",
    "Purchase": "Purchase",
    "Refund": "Credit",
    "RoundingAdjustment": "Adjustment",
    "Tax": "Tax",
}


def _us_date(text: str, days_after: int = 0) -> str | None:
    """An EA date (``9/2/2023``, month first, or ``2023-09-02``) as RFC 3339 text,
    ``days_after`` later (the export's end dates are the last day, FOCUS's the day after).
    Anything else passes as written, so the row is quarantined with it."""
    iso = text.strip().split("-")
    parts = [iso[1], iso[2], iso[0]] if len(iso) == 3 else text.strip().split("/")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return _or(text)
    month, day, year = (int(part) for part in parts)
    try:
        found = date(year, month, day) + timedelta(days=days_after)
    except ValueError:
        return text
    return f"{found.isoformat()}T00:00:00Z"


def _times(quantity: str, price: str) -> str | None:
    """quantity x unit price, to the 18 places money keeps (half to even: the product of two
    long decimals can run past them); None when either is missing or not a number."""
    amount, rate = _number(quantity), _number(price)
    if amount is None or rate is None:
        return None
    return format((amount * rate).quantize(_MONEY_PLACE, ROUND_HALF_EVEN), "f")


def _azure_tags(text: str) -> str | None:
    """EA exports write tags as the members of a JSON object without its braces."""
    body = text.strip()
    if not body:
        return None
    return body if body.startswith("{") else "{" + body + "}"


def _azure_row(row: Row) -> FocusRow:
    cost = _cost(row.get("CostInBillingCurrency", ""))
    kind = row.get("ChargeType", "")
    usage = _AZURE_CHARGE_CATEGORY.get(kind) == "Usage"
    return {
        "ProviderName": "Microsoft",
        "PublisherName": _or(row.get("PublisherName", ""), row.get("PublisherType", "")),
        "InvoiceIssuerName": "Microsoft",
        "BillingAccountId": _or(row.get("BillingAccountId", "")),
        "BillingAccountName": _or(row.get("BillingAccountName", "")),
        "SubAccountId": _or(row.get("SubscriptionId", "")),
        "SubAccountName": _or(row.get("SubscriptionName", "")),
        "BillingPeriodStart": _us_date(row.get("BillingPeriodStartDate", "")),
        "BillingPeriodEnd": _us_date(row.get("BillingPeriodEndDate", ""), days_after=1),
        "ChargePeriodStart": _us_date(row.get("Date", "")),
        "ChargePeriodEnd": _us_date(row.get("Date", ""), days_after=1),
        "ChargeCategory": _AZURE_CHARGE_CATEGORY.get(kind, "Adjustment"),
        "ChargeFrequency": _or(row.get("Frequency", "")),
        "PricingCategory": _or(row.get("PricingModel", "")),
        "BillingCurrency": _or(row.get("BillingCurrencyCode", "")),
        "BilledCost": cost,
        "EffectiveCost": cost,
        # pay-as-you-go price for the list, the agreement's price for the contract
        "ListCost": _times(row.get("Quantity", ""), row.get("PayGPrice", "")) or cost,
        "ContractedCost": _times(row.get("Quantity", ""), row.get("UnitPrice", "")) or cost,
        "ListUnitPrice": _or(row.get("PayGPrice", "")),
        "ContractedUnitPrice": _or(row.get("UnitPrice", "")),
        "ServiceName": _or(row.get("MeterCategory", ""), row.get("ConsumedService", "")),
        "ChargeDescription": _or(row.get("ProductName", "")),
        "ResourceId": _or(row.get("ResourceId", "")),
        "ResourceName": _or(row.get("ResourceName", "")),
        "RegionName": _or(row.get("ResourceLocation", "")),
        "AvailabilityZone": _or(row.get("AvailabilityZone", "")),
        "SkuId": _or(row.get("PartNumber", ""), row.get("MeterId", "")),
        "SkuMeter": _or(row.get("MeterName", "")),
        "PricingUnit": _or(row.get("UnitOfMeasure", "")),
        "ConsumedQuantity": _or(row.get("Quantity", "")) if usage else None,
        "ConsumedUnit": _or(row.get("UnitOfMeasure", "")) if usage else None,
        "CommitmentDiscountId": _or(row.get("ReservationId", ""), row.get("benefitId", "")),
        "Tags": _azure_tags(row.get("Tags", "")),
        "x_ResourceGroup": _or(row.get("ResourceGroup", "")),
        "x_MeterSubCategory": _or(row.get("MeterSubCategory", "")),
        "x_CostCenter": _or(row.get("CostCenter", "")),
    }


AZURE_EA = Native(
    name="azure-ea",
    title="Azure EA cost export",
    recognise=lambda header: (
        {"CostInBillingCurrency", "MeterCategory", "SubscriptionId"} <= set(header)
    ),
    row=_azure_row,
)


# -- Oracle Cloud Infrastructure cost report ---------------------------------------------------
_MINUTES = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(Z|[+-]\d{2}:?\d{2})$")


def _oci_time(text: str) -> str | None:
    """OCI writes interval starts to the minute (``2023-11-13T10:00Z``): seconds added."""
    found = _MINUTES.match(text.strip())
    return f"{found.group(1)}:00{found.group(2)}" if found else _or(text)


def _oci_tags(row: Row) -> str | None:
    tags = {
        name.removeprefix("tags/"): value
        for name, value in row.items()
        if name.startswith("tags/") and value.strip()
    }
    return json.dumps(tags, sort_keys=True) if tags else None


def _oci_row(row: Row) -> FocusRow:
    cost = _cost(row.get("cost/myCost", ""))
    overage = _number(row.get("cost/myCostOverage", ""))
    if overage:  # usage beyond the commitment is billed on top
        base = _number(cost)
        cost = format(base + overage, "f") if base is not None else cost
    start = _oci_time(row.get("lineItem/intervalUsageStart", ""))
    # OCI reports have no billing period: the calendar month of the usage
    period_start, period_end = billing_month(start)
    correction = row.get("lineItem/isCorrection", "").strip().lower() == "true"
    return {
        "ProviderName": "Oracle",
        "PublisherName": "Oracle",
        "InvoiceIssuerName": "Oracle",
        "BillingAccountId": _or(row.get("lineItem/tenantId", "")),
        "SubAccountId": _or(row.get("product/compartmentId", "")),
        "SubAccountName": _or(row.get("product/compartmentName", "")),
        "BillingPeriodStart": period_start,
        "BillingPeriodEnd": period_end,
        "ChargePeriodStart": start,
        "ChargePeriodEnd": _oci_time(row.get("lineItem/intervalUsageEnd", "")),
        "ChargeCategory": "Adjustment" if correction else "Usage",
        "BillingCurrency": _or(row.get("cost/currencyCode", "")),
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "ListUnitPrice": _or(row.get("cost/unitPrice", "")),
        "ServiceName": _or(row.get("product/service", "")),
        "ChargeDescription": _or(row.get("product/Description", "")),
        "ResourceId": _or(row.get("product/resourceId", "")),
        "RegionId": _or(row.get("product/region", "")),
        "AvailabilityZone": _or(row.get("product/availabilityDomain", "")),
        "SkuId": _or(row.get("cost/productSku", "")),
        "PricingUnit": _or(row.get("cost/billingUnitReadable", "")),
        "ConsumedQuantity": _or(row.get("usage/billedQuantity", "")),
        "ConsumedUnit": _or(row.get("cost/skuUnitDescription", "")),
        "Tags": _oci_tags(row),
        "x_ReferenceNo": _or(row.get("lineItem/referenceNo", "")),
        "x_SubscriptionId": _or(row.get("cost/subscriptionId", "")),
    }


OCI = Native(
    name="oci",
    title="OCI cost report",
    recognise=lambda header: {"cost/myCost", "lineItem/intervalUsageStart"} <= set(header),
    row=_oci_row,
)
