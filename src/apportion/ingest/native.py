"""Native cloud billing exports mapped to FOCUS cost lines: the legacy AWS Cost and Usage
Report (``--format aws-cur``).

Each row of the export becomes one FOCUS row of text, and the rows go through the same parsing,
quarantine and categories as a FOCUS file. Amounts are added and subtracted as exact decimals
(the effective cost of a reservation's fee is two of its columns), never as floating point.
The mapping is done row by row in Python: fine for the millions of rows a month of a large
account has, slower than reading a FOCUS export, which AWS Data Exports write directly.

The row number of a quarantined row is its line in the file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyarrow as pa

from apportion.engine.dataplane import FileError
from apportion.ingest.reports import FocusRow
from apportion.schema import tables as t

Row = Mapping[str, str]


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
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                if None in row:  # more fields than the header: a malformed export
                    raise FileError(
                        f"{path.name}: line {reader.line_num} has more fields than the header"
                    )
                rows.append(native.row({k: v or "" for k, v in row.items()}))
                lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise FileError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise FileError(f"{path.name}: not a readable CSV file ({exc})") from exc
    columns = list(dict.fromkeys(name for row in rows for name in row))
    return pa.table(
        {
            t.ROW_NUMBER: pa.array(lines, pa.int64()),
            **{name: pa.array([row.get(name) for row in rows], pa.string()) for name in columns},
        }
    )


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text.strip() else None
    except InvalidOperation:
        return None


def _or(*texts: str) -> str | None:
    """The first non-empty text."""
    return next((text for text in texts if text.strip()), None)


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
    kind, unblended = row.get("lineItem/LineItemType", ""), row.get("lineItem/UnblendedCost", "")

    def column(name: str) -> Decimal:
        return _number(row.get(name, "")) or Decimal(0)

    if kind == "DiscountedUsage":
        return _or(row.get("reservation/EffectiveCost", ""), unblended) or unblended
    if kind == "SavingsPlanCoveredUsage":
        return _or(row.get("savingsPlan/SavingsPlanEffectiveCost", ""), unblended) or unblended
    if kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return "0"
    if kind == "RIFee":
        unused = column("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod") + column(
            "reservation/UnusedRecurringFee"
        )
        return format(unused, "f")
    if kind == "SavingsPlanRecurringFee":
        unused = column("savingsPlan/TotalCommitmentToDate") - column("savingsPlan/UsedCommitment")
        return format(unused, "f")
    return unblended


def _aws_tags(row: Row) -> str | None:
    tags = {
        name.removeprefix("resourceTags/"): value
        for name, value in row.items()
        if name.startswith("resourceTags/") and value.strip()
    }
    return json.dumps(tags, sort_keys=True) if tags else None


def _aws_row(row: Row) -> FocusRow:
    unblended = row.get("lineItem/UnblendedCost", "")
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
