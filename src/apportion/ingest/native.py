"""Native cloud billing exports mapped to FOCUS cost lines: the AWS Cost and Usage Report,
legacy (``--format aws-cur``) and 2.0 (``aws-cur2``), the Azure Enterprise Agreement cost export
(``azure-ea``), the Azure Microsoft Customer Agreement cost details, actual (``azure-mca``) and
amortized (``azure-mca-amortized``), Oracle Cloud's cost report (``oci``) and, in
apportion.ingest.gcp, Google Cloud's billing export (``gcp``).

Each row of the export becomes one FOCUS row of text, and the rows go through the same parsing,
quarantine and categories as a FOCUS file. Amounts are added and subtracted as exact decimals
(the effective cost of a reservation's fee is two of its columns), never as floating point.
The mapping is done row by row in Python: fine for the millions of rows a month of a large
account has, slower than reading a FOCUS export, which AWS Data Exports write directly.

The lines are FOCUS 1.2 as far as the export allows (tests/ingest/test_focus_validity.py runs
the FinOps Foundation's validator on them): every line has a ServiceCategory and
ServiceSubcategory from its provider's table (apportion.ingest.services, ``Other`` for a
service not named there), a ChargeFrequency, and PricingQuantity and PricingUnit where the
export gives both (not on tax; units in FOCUS's format: apportion.ingest.conform). Where a
line has a list unit price and a quantity, its ListCost is their product, and its
ContractedCost likewise with the contracted unit price.

A CUR's list cost is the public on-demand rate x the usage amount, as the FinOps Foundation's
converter has it (AWS's ``pricing/publicOnDemandCost`` is rounded), or the cost where there is
no rate. A Savings Plan negation takes back the billed cost of the usage the plan covered,
which keeps its list and contracted cost: the negation's are 0, so it does not take back the
savings too. OCI's cost report has no list price (``cost/unitPrice`` is the price the tenancy
pays, its contracted unit price): its list cost is its cost.

CUR 2.0 is the legacy report under other names (``line_item_unblended_cost`` for
``lineItem/UnblendedCost``), its tags one JSON column: it is read through the legacy mapping.

An Azure MCA export is an actual-cost or an amortized-cost export with the same columns, so the
two are two formats (``auto`` reads the actual one). Both take the cost of a row as it is
(``costInBillingCurrency``) except where the export cannot show it: in the actual export,
commitment purchases are billed when bought and usage they cover costs nothing, so its
effective cost is its billed cost (nothing is amortised); in the amortized export, usage a
reservation or savings plan covers, and the commitment's unused part, carry the amortised cost
as effective cost and bill nothing (the purchase, billed, is in the actual export only).
The pay-as-you-go price x quantity is the list cost (``paygCostInBillingCurrency`` where there
is no price), the negotiated unit price x quantity the contracted cost, each the cost where
the export has neither. A file whose rows show it is the other export is refused whole, so a
commitment is never counted twice or not at all.

The row number of a quarantined row is its line in the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cache
from itertools import chain
from pathlib import Path
from typing import Any, Protocol

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
    csv_records,
    exact_json,
    text_table,
)
from apportion.ingest.services import ai_service, lookup, service_columns
from apportion.money import EXACT, rounded_text
from apportion.schema import columns as col

Row = Mapping[str, str]


class Cells(Protocol):
    """What a mapping reads a row's cells through: the row itself, or a view of it under
    other names (a CUR 2.0 row read under legacy CUR names)."""

    def get(self, name: str, default: str, /) -> str: ...


class OtherExport(ValueError):
    """A row that shows the file is another export than the one named (an amortized Azure
    export read as the actual one): the file is refused whole."""


@dataclass(frozen=True)
class Native:
    """A native export's mapping to FOCUS (a stager of apportion.ingest.readers). Its registry
    entry says whether it is CSV (auto looks at the header) or JSON (at the first object's
    keys), and whether auto recognises it."""

    reader: Reader  # its registry entry: --format name, title, how auto recognises it
    recognise: Callable[[list[str]], bool]  # on the CSV header, or the first JSON object's keys
    row: Callable[[Mapping[str, Any]], FocusRow]  # a CSV row (text) or a JSON object

    def recognises(self, look: Look) -> bool:
        if self.reader.looks == "json":
            return look.first is not None and self.recognise(list(look.first))
        return self.recognise(look.header)

    def stage(self, path: Path, at: Staging) -> Read:
        notes = [f"read as {self.reader.title} ({self.reader.name}), mapped to FOCUS"]
        return Read.arrow(at, native_table(self, path), notes=notes)


def native_table(native: Native, path: Path) -> pa.Table:
    """Every row of the export as a FOCUS row of text, numbered by its line in the file."""
    records = json_records if native.reader.looks == "json" else csv_records
    rows: list[FocusRow] = []
    lines: list[int] = []
    for line, row in records(path, native.recognise, native.reader.title):
        try:
            rows.append(native.row(row))
        except OtherExport as exc:
            raise FileError(f"{path.name}: line {line}: {exc}") from exc
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


def _number(text: str) -> Decimal | None:
    """A cell as a number to compute with; None when blank or not a number a column can hold
    (``Infinity``, ``1e99999``: see apportion.ingest.values.number)."""
    try:
        return values.number(text)
    except values.NotANumber:
        return None


def _or(*texts: str) -> str | None:
    """The first non-empty text."""
    return next((text for text in texts if text.strip()), None)


def _cost(text: str) -> str:
    """A cost cell as it is read: an empty one is quarantined, not read as no cost."""
    return text if text.strip() else NO_AMOUNT


def _sum(row: Cells, *names: str, minus: str | None = None) -> str:
    """Columns added (and one taken away) exactly; an empty column counts nothing, and text
    that is not a number is returned as written so the row is quarantined with it."""
    total = Decimal(0)
    for name in (*names, *([minus] if minus else [])):
        cell = row.get(name, "")
        value = _number(cell)
        if value is None and cell.strip():
            return cell
        total = EXACT.add(total, EXACT.multiply(value or Decimal(0), -1 if name == minus else 1))
    return format(total, "f")


def _json_members(text: str) -> dict[str, str] | None:
    """A cell holding a JSON object, its members with text values; None when the cell is
    not a JSON object."""
    try:
        found = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(found, dict):
        return None
    return {str(key): value for key, value in found.items() if isinstance(value, str)}


# -- AWS Cost and Usage Report (legacy) -----------------------------------------------------
# LineItemType -> FOCUS ChargeCategory and ChargeFrequency
_AWS_LINE_ITEMS: dict[str, tuple[str, str]] = {
    "Usage": ("Usage", "Usage-Based"),
    "DiscountedUsage": ("Usage", "Usage-Based"),
    "SavingsPlanCoveredUsage": ("Usage", "Usage-Based"),
    "Tax": ("Tax", "Usage-Based"),
    "Credit": ("Credit", "One-Time"),
    "Refund": ("Credit", "One-Time"),
    # discounts on the usage they follow
    "BundledDiscount": ("Credit", "Usage-Based"),
    "EdpDiscount": ("Credit", "Usage-Based"),
    "PrivateRateDiscount": ("Credit", "Usage-Based"),
    "SavingsPlanNegation": ("Credit", "Usage-Based"),
    "Fee": ("Purchase", "One-Time"),
    "RIFee": ("Purchase", "Recurring"),
    "SavingsPlanRecurringFee": ("Purchase", "Recurring"),
    "SavingsPlanUpfrontFee": ("Purchase", "One-Time"),
}
_AWS_OTHER_LINE = ("Adjustment", "One-Time")
# lines that take back the on-demand cost of usage a Savings Plan covered: the covered line
# keeps its list and contracted cost, so these have none (the spec's ListCost of a negation),
# or the savings of covered usage would be taken back with it
_AWS_NEGATIONS = {"SavingsPlanNegation"}


def _aws_prices(row: Cells, kind: str) -> FocusRow:
    """Unit price, quantity and unit, and the list and contracted cost they make. The list
    cost is the public on-demand rate x the quantity, as the FinOps Foundation's converter
    has it (AWS rounds ``pricing/publicOnDemandCost``, so it is not that product); where there
    is no rate, the public on-demand cost of usage, and the cost itself for the rest."""
    category = _AWS_LINE_ITEMS.get(kind, _AWS_OTHER_LINE)[0]
    unblended = _cost(row.get("lineItem/UnblendedCost", ""))
    priced = category in ("Usage", "Purchase")
    rate = _or(row.get("pricing/publicOnDemandRate", "")) if priced else None
    negation = kind in _AWS_NEGATIONS
    quantities = pricing(
        category,
        None if negation else row.get("lineItem/UsageAmount", ""),  # it has no usage of its own
        pricing_unit(row.get("pricing/unit", "")),
    )
    quantity = quantities[col.PRICING_QUANTITY]
    on_demand = _or(row.get("pricing/publicOnDemandCost", "")) if category == "Usage" else None
    listed = (_times(quantity, rate) if rate and quantity else None) or on_demand or unblended
    return {
        col.LIST_UNIT_PRICE: rate,
        **quantities,
        col.LIST_COST: "0" if negation else listed,
        col.CONTRACTED_COST: "0" if negation else unblended,
    }


def _aws_effective_cost(row: Cells) -> str:
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
    return _aws_line(row, _aws_tags(row))


def _aws_line(row: Cells, tags: str | None) -> FocusRow:
    """A CUR row, read by its legacy column names, with its tags as a JSON object."""
    unblended = _cost(row.get("lineItem/UnblendedCost", ""))
    kind = row.get("lineItem/LineItemType", "")
    category, frequency = _AWS_LINE_ITEMS.get(kind, _AWS_OTHER_LINE)
    usage = category == "Usage"
    product_code = row.get("lineItem/ProductCode", "")
    product_name = row.get("product/ProductName", "")
    return {
        col.PROVIDER_NAME: "AWS",
        col.PUBLISHER_NAME: _or(row.get("bill/BillingEntity", "")) or "AWS",
        col.INVOICE_ISSUER_NAME: _or(row.get("bill/InvoicingEntity", "")) or "AWS",
        col.INVOICE_ID: _or(row.get("bill/InvoiceId", "")),
        col.BILLING_ACCOUNT_ID: _or(
            row.get("bill/PayerAccountId", ""), row.get("lineItem/UsageAccountId", "")
        ),
        col.BILLING_ACCOUNT_NAME: _or(row.get("bill/PayerAccountName", "")),
        col.SUB_ACCOUNT_ID: _or(row.get("lineItem/UsageAccountId", "")),
        col.SUB_ACCOUNT_NAME: _or(row.get("lineItem/UsageAccountName", "")),
        col.BILLING_PERIOD_START: _or(row.get("bill/BillingPeriodStartDate", "")),
        col.BILLING_PERIOD_END: _or(row.get("bill/BillingPeriodEndDate", "")),
        col.CHARGE_PERIOD_START: _or(row.get("lineItem/UsageStartDate", "")),
        col.CHARGE_PERIOD_END: _or(row.get("lineItem/UsageEndDate", "")),
        col.CHARGE_CATEGORY: category,
        col.CHARGE_FREQUENCY: frequency,
        col.CHARGE_DESCRIPTION: _or(row.get("lineItem/LineItemDescription", "")),
        col.BILLING_CURRENCY: _or(row.get("lineItem/CurrencyCode", "")),
        col.BILLED_COST: unblended,
        col.EFFECTIVE_COST: _aws_effective_cost(row),
        **_aws_prices(row, kind),
        col.SERVICE_NAME: _or(product_name, product_code),
        **service_columns(
            lookup(services.AWS, product_code), ai_service(product_code, product_name)
        ),
        col.RESOURCE_ID: _or(row.get("lineItem/ResourceId", "")),
        col.REGION_ID: _or(row.get("product/regionCode", ""), row.get("product/region", "")),
        col.AVAILABILITY_ZONE: _or(row.get("lineItem/AvailabilityZone", "")),
        col.SKU_ID: _or(row.get("product/sku", "")),
        col.CONSUMED_QUANTITY: _or(row.get("lineItem/UsageAmount", "")) if usage else None,
        col.CONSUMED_UNIT: pricing_unit(row.get("pricing/unit", "")) if usage else None,
        col.TAGS: tags,
        "x_LineItemType": kind or None,
        "x_UsageType": _or(row.get("lineItem/UsageType", "")),
        "x_Operation": _or(row.get("lineItem/Operation", "")),
        "x_ProductCode": _or(row.get("lineItem/ProductCode", "")),
    }


AWS_CUR = Native(
    reader("aws-cur"),
    recognise=lambda header: (
        {"lineItem/UnblendedCost", "bill/BillingPeriodStartDate"} <= set(header)
    ),
    row=_aws_row,
)


# -- AWS Cost and Usage Report 2.0 (Data Exports) -------------------------------------------
_WORD_START = re.compile(r"(?<=[^/])(?=[A-Z])")
# CUR 2.0 writes a tag key's "user:" or "aws:" prefix as "user_" or "aws_"
_CUR2_TAG_PREFIX = re.compile(r"^(user|aws)_")


@cache
def _cur2_name(legacy: str) -> str:
    """The CUR 2.0 column of a legacy CUR column: every capital starts a word, as AWS names
    them (``lineItem/UnblendedCost`` is ``line_item_unblended_cost``, ``reservation/
    ReservationARN`` is ``reservation_reservation_a_r_n``)."""
    return _WORD_START.sub("_", legacy).replace("/", "_").lower()


@dataclass(frozen=True)
class _Cur2Cells:
    """A CUR 2.0 row read under legacy CUR names, so that one mapping serves both. A product
    attribute outside CUR 2.0's fixed columns (``product/ProductName``) is a key of its
    ``product`` map (``product_name``)."""

    row: Row
    product: Mapping[str, str]

    def get(self, name: str, default: str, /) -> str:
        column = _cur2_name(name)
        if column in self.row:
            return self.row[column]
        if name.startswith("product/"):
            return self.product.get(column.removeprefix("product_"), default)
        return default


def _cur2_tags(text: str) -> str | None:
    """CUR 2.0 writes all of a line's tags as one JSON object, a user tag as ``user_team``
    (``user:team`` in the legacy report): the prefix is written back as the legacy report has
    it, so the tag policy folds both alike. A cell that is not a JSON object is passed on as
    written, so the row is quarantined for it."""
    if not text.strip():
        return None
    members = _json_members(text)
    if members is None:
        return text
    tags = {_CUR2_TAG_PREFIX.sub(r"\1:", key): value for key, value in members.items() if value}
    return json.dumps(tags, sort_keys=True) if tags else None


def _cur2_row(row: Row) -> FocusRow:
    cells = _Cur2Cells(row, _json_members(row.get("product", "") or "{}") or {})
    line = _aws_line(cells, _cur2_tags(row.get("resource_tags", "")))
    # cost categories are AWS's own allocation, kept beside the tags rather than mixed in
    categories = row.get("cost_category", "").strip()
    line["x_CostCategory"] = None if categories in ("", "{}") else categories
    return line


AWS_CUR2 = Native(
    reader("aws-cur2"),
    recognise=lambda header: (
        {"line_item_unblended_cost", "bill_billing_period_start_date"} <= set(header)
    ),
    row=_cur2_row,
)


# -- Azure cost exports: Enterprise Agreement, Microsoft Customer Agreement --------------------
_AZURE_CHARGE_CATEGORY = {
    "Usage": "Usage",
    "UnusedReservation": "Usage",
    "UnusedSavingsPlan": "Usage",
    "Purchase": "Purchase",
    "Refund": "Credit",
    "RoundingAdjustment": "Adjustment",
    "Tax": "Tax",
}
_COMMITMENT_MODELS = {"reservation", "savingsplan"}
_COMMITMENT_SERVICES = {"microsoft.capacity", "microsoft.billingbenefits"}
_UNUSED_COMMITMENT = {"UnusedReservation", "UnusedSavingsPlan"}


def _us_date(text: str, days_after: int = 0) -> str | None:
    """An Azure date (``9/2/2023``, month first, or ``2023-09-02``) as RFC 3339 text,
    ``days_after`` later (the export's end dates are the last day, FOCUS's the day after).
    Anything else passes as written, so the row is quarantined with it."""
    iso = text.strip().split("-")
    if len(iso) == 3 and all(part.isdigit() for part in iso):
        written = f"{iso[1]}/{iso[2]}/{iso[0]}"
    else:
        written = text
    day = values.us_date(written)  # the one reading of m/d/yy every reader shares
    if day is None:
        return _or(text)
    try:
        found = day + timedelta(days=days_after)
    except OverflowError:
        return text
    return f"{found.isoformat()}T00:00:00Z"


def _times(quantity: str, price: str, rate: str = "") -> str | None:
    """quantity x unit price x the exchange rate from the pricing to the billing currency
    (1 where the export has none), to the 18 places money keeps (half to even: the product
    of long decimals can run past them); None when one is missing. A cell that is not a number
    a column can hold is returned as written, so the row is quarantined with it."""
    cells = (quantity, price, rate or "1")
    odd = next((c for c in cells if c.strip() and _number(c) is None), None)
    if odd is not None:
        return odd
    amount, unit, exchange = (_number(c) for c in cells)
    if amount is None or unit is None or exchange is None:
        return None
    return rounded_text(EXACT.multiply(EXACT.multiply(amount, unit), exchange))


def _azure_tags(text: str) -> str | None:
    """EA exports write tags as the members of a JSON object without its braces."""
    body = text.strip()
    if not body:
        return None
    return body if body.startswith("{") else "{" + body + "}"


@dataclass(frozen=True)
class _AnyCase:
    """A row read by column names in any case: EA exports write ``CostInBillingCurrency``,
    MCA exports ``costInBillingCurrency``, and both mean the same."""

    cells: Row

    @classmethod
    def of(cls, row: Row) -> _AnyCase:
        return cls({name.strip().lower(): value for name, value in row.items()})

    def __call__(self, *names: str) -> str:
        """The first of these columns with a value, or empty text."""
        return _or(*(self.cells.get(name.lower(), "") for name in names)) or ""


def _azure_commitment(cell: _AnyCase) -> bool:
    """A row a reservation or savings plan made (Microsoft's own test in its FOCUS converter):
    its purchase, the usage it covers, or its unused part."""
    return bool(
        cell("PricingModel").lower() in _COMMITMENT_MODELS
        or cell("ConsumedService").lower() in _COMMITMENT_SERVICES
        or cell("ReservationId", "benefitId")
    )


def _azure_costs(cell: _AnyCase, *, amortized: bool) -> FocusRow:
    """The four cost metrics of a row (see the module docstring for the two exports), and
    the unit prices and quantity its list and contracted cost are the product of."""
    cost = _cost(cell("CostInBillingCurrency"))
    kind = cell("ChargeType")
    category = _AZURE_CHARGE_CATEGORY.get(kind, "Adjustment")
    commitment = _azure_commitment(cell)
    covered = amortized and commitment and kind in ("Usage", *_UNUSED_COMMITMENT)
    bought = amortized and commitment and kind == "Purchase"
    quantity = cell("Quantity")
    prices = _azure_prices(cell, category)
    listed, contracted = (
        _times(quantity, price) if price else None
        for price in (prices[col.LIST_UNIT_PRICE], prices[col.CONTRACTED_UNIT_PRICE])
    )
    return {
        col.BILLED_COST: "0" if covered else cost,  # billed as the purchase, in the actual export
        col.EFFECTIVE_COST: "0" if bought else cost,  # amortised into the usage it covers
        # pay-as-you-go price for the list, the agreement's price for the contract
        col.LIST_COST: listed or cell("paygCostInBillingCurrency") or cost,
        col.CONTRACTED_COST: contracted or cost,
        **prices,
        **pricing(category, quantity, pricing_unit(cell("UnitOfMeasure"))),
    }


def _azure_prices(cell: _AnyCase, category: str) -> FocusRow:
    """Unit prices in the billing currency; an MCA export's prices are in its pricing
    currency (USD for a EUR bill), kept as FOCUS's PricingCurrency columns too. Tax has no
    unit price in FOCUS."""
    if category == "Tax":
        return dict.fromkeys(_AZURE_PRICES)
    rate, priced = cell("exchangeRatePricingToBilling"), cell(col.PRICING_CURRENCY)
    return {
        col.LIST_UNIT_PRICE: _times("1", cell("PayGPrice"), rate),
        col.CONTRACTED_UNIT_PRICE: _times("1", cell("UnitPrice"), rate),
        col.PRICING_CURRENCY: priced or None,
        col.PRICING_CURRENCY_LIST_UNIT_PRICE: _or(cell("PayGPrice")) if priced else None,
        col.PRICING_CURRENCY_CONTRACTED_UNIT_PRICE: _or(cell("UnitPrice")) if priced else None,
    }


_AZURE_PRICES = (
    col.LIST_UNIT_PRICE,
    col.CONTRACTED_UNIT_PRICE,
    col.PRICING_CURRENCY,
    col.PRICING_CURRENCY_LIST_UNIT_PRICE,
    col.PRICING_CURRENCY_CONTRACTED_UNIT_PRICE,
)


def _azure_line(cell: _AnyCase, *, amortized: bool) -> FocusRow:
    kind = cell("ChargeType")
    category = _AZURE_CHARGE_CATEGORY.get(kind, "Adjustment")
    usage = category == "Usage"
    meter, consumed, family = cell("MeterCategory"), cell("ConsumedService"), cell("ServiceFamily")
    return {
        col.PROVIDER_NAME: "Microsoft",
        col.PUBLISHER_NAME: _or(cell(col.PUBLISHER_NAME, "PublisherType")) or "Microsoft",
        col.INVOICE_ISSUER_NAME: cell("PartnerName") or "Microsoft",
        col.INVOICE_ID: _or(cell(col.INVOICE_ID)),
        col.BILLING_ACCOUNT_ID: _or(cell(col.BILLING_ACCOUNT_ID)),
        col.BILLING_ACCOUNT_NAME: _or(cell(col.BILLING_ACCOUNT_NAME)),
        col.SUB_ACCOUNT_ID: _or(cell("SubscriptionId")),
        col.SUB_ACCOUNT_NAME: _or(cell("SubscriptionName")),
        col.BILLING_PERIOD_START: _us_date(cell("BillingPeriodStartDate")),
        col.BILLING_PERIOD_END: _us_date(cell("BillingPeriodEndDate"), days_after=1),
        col.CHARGE_PERIOD_START: _us_date(cell("Date")),
        col.CHARGE_PERIOD_END: _us_date(cell("Date"), days_after=1),
        col.CHARGE_CATEGORY: category,
        col.CHARGE_FREQUENCY: charge_frequency(category, cell("Frequency")),
        col.PRICING_CATEGORY: _or(cell("PricingModel")),
        col.BILLING_CURRENCY: _or(cell("BillingCurrencyCode", col.BILLING_CURRENCY)),
        **_azure_costs(cell, amortized=amortized),
        # a rounding adjustment names no service: its product is the adjustment
        col.SERVICE_NAME: _or(cell("MeterCategory", "ConsumedService", "ProductName")),
        **service_columns(
            lookup(services.AZURE_METERS, meter),
            lookup(services.AZURE_PROVIDERS, consumed),
            ai_service(family, meter, consumed),
            lookup(services.AZURE_FAMILIES, family),
        ),
        col.CHARGE_DESCRIPTION: _or(cell("ProductName")),
        col.RESOURCE_ID: _or(cell(col.RESOURCE_ID)),
        col.RESOURCE_NAME: _or(cell(col.RESOURCE_NAME)),
        col.REGION_NAME: _or(cell("ResourceLocation")),
        col.AVAILABILITY_ZONE: _or(cell(col.AVAILABILITY_ZONE)),
        col.SKU_ID: _or(cell("PartNumber", "ProductId", "MeterId")),
        col.SKU_METER: _or(cell("MeterName")),
        col.CONSUMED_QUANTITY: _or(cell("Quantity")) if usage else None,
        col.CONSUMED_UNIT: pricing_unit(cell("UnitOfMeasure")) if usage else None,
        col.COMMITMENT_DISCOUNT_ID: _or(cell("ReservationId", "benefitId")),
        col.COMMITMENT_DISCOUNT_NAME: _or(cell("ReservationName", "benefitName")),
        col.TAGS: _azure_tags(cell(col.TAGS)),
        "x_ResourceGroup": _or(cell("ResourceGroup", "ResourceGroupName")),
        "x_MeterSubCategory": _or(cell("MeterSubCategory")),
        "x_CostCenter": _or(cell("CostCenter")),
        "x_BillingProfileId": _or(cell("BillingProfileId")),
        "x_InvoiceSectionId": _or(cell("InvoiceSectionId")),
        "x_ServiceFamily": _or(cell("ServiceFamily")),
    }


def _actual_row(amortized_format: str) -> Callable[[Row], FocusRow]:
    """An actual-cost export's row, refusing the file when the row shows it is amortized."""

    def row(given: Row) -> FocusRow:
        cell = _AnyCase.of(given)
        kind = cell("ChargeType")
        billed = _number(cell("CostInBillingCurrency"))
        # only the amortized export has these: read as actual, the commitment would count twice
        if kind in _UNUSED_COMMITMENT or (kind == "Usage" and _azure_commitment(cell) and billed):
            raise OtherExport(
                f"a {kind} row with an amortised commitment cost: this is an amortized-cost "
                f"export; use --format {amortized_format}"
            )
        return _azure_line(cell, amortized=False)

    return row


def _amortized_row(actual_format: str) -> Callable[[Row], FocusRow]:
    """An amortized-cost export's row, refusing the file when the row shows it is actual."""

    def row(given: Row) -> FocusRow:
        cell = _AnyCase.of(given)
        billed = _number(cell("CostInBillingCurrency"))
        # only the actual export bills a commitment's purchase
        if cell("ChargeType") == "Purchase" and _azure_commitment(cell) and billed:
            raise OtherExport(
                "a commitment purchase with a cost: this is an actual-cost export; use "
                f"--format {actual_format}"
            )
        return _azure_line(cell, amortized=True)

    return row


def _ea_header(header: list[str]) -> bool:
    return {"CostInBillingCurrency", "MeterCategory", "SubscriptionId"} <= set(header)


def _mca_header(header: list[str]) -> bool:
    return {"costInBillingCurrency", "billingProfileId", "meterCategory"} <= set(header)


# Actual and amortized exports share their columns: auto reads both as the actual one, and a
# row only the other kind has refuses the file with the --format to use.
AZURE_EA = Native(
    reader("azure-ea"),
    recognise=_ea_header,
    row=_actual_row("azure-ea-amortized"),
)
AZURE_EA_AMORTIZED = Native(
    reader("azure-ea-amortized"),
    recognise=_ea_header,
    row=_amortized_row("azure-ea"),
)
AZURE_MCA = Native(
    reader("azure-mca"),
    recognise=_mca_header,
    row=_actual_row("azure-mca-amortized"),
)
AZURE_MCA_AMORTIZED = Native(
    reader("azure-mca-amortized"),
    recognise=_mca_header,
    row=_amortized_row("azure-mca"),
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


# cost/billingUnitReadable is "<quantity> <size> <time> <what>" ("1 GiB MONTHS STORAGE_SIZE",
# "1 NONE HOURS OCPUS", "1000000 NONE NONE DATAPOINTS"), NONE where a part does not apply
_OCI_UNIT = re.compile(r"^(\d+) (\S+) (\S+) (\S+)$")
_OCI_SIZES = {"B", "KB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "PiB"}
_OCI_TIMES = {
    "SECONDS": "Seconds",
    "MINUTES": "Minutes",
    "HOURS": "Hours",
    "DAYS": "Days",
    "MONTHS": "Months",
    "YEARS": "Years",
}
_OCI_THINGS = {"OCPUS": "OCPUs", "ECPUS": "ECPUs", "GPUS": "GPUs"}


def _oci_unit(text: str) -> str | None:
    """An OCI billing unit in FOCUS's unit format (``GiB-Months``, ``OCPUS-Hours``,
    ``1000000 Datapoints``); one it cannot put so passes as written."""
    found = _OCI_UNIT.match(text.strip())
    if not found:
        return _or(text)
    count, size, time, what = found.groups()
    if (size != "NONE" and size not in _OCI_SIZES) or (time != "NONE" and time not in _OCI_TIMES):
        return text.strip()
    thing = _OCI_THINGS.get(what) or what.replace("_", " ").title().replace(" ", "")
    base = size if size in _OCI_SIZES else thing
    if time != "NONE":  # FOCUS writes no block size before a unit of time
        return f"{base}-{_OCI_TIMES[time]}" if count == "1" else text.strip()
    return base if count == "1" else f"{count} {base}"


def _oci_row(row: Row) -> FocusRow:
    cost = _cost(row.get("cost/myCost", ""))
    if cost != NO_AMOUNT and row.get("cost/myCostOverage", "").strip():
        # usage beyond the commitment is billed on top (an overage that is not a number
        # comes back as written, and the row is quarantined with it)
        cost = _sum(row, "cost/myCost", "cost/myCostOverage")
    start = _oci_time(row.get("lineItem/intervalUsageStart", ""))
    # OCI reports have no billing period: the calendar month of the usage
    period_start, period_end = billing_month(start)
    correction = row.get("lineItem/isCorrection", "").strip().lower() == "true"
    category = "Adjustment" if correction else "Usage"
    service = row.get("product/service", "")
    return {
        col.PROVIDER_NAME: "Oracle",
        col.PUBLISHER_NAME: "Oracle",
        col.INVOICE_ISSUER_NAME: "Oracle",
        col.BILLING_ACCOUNT_ID: _or(row.get("lineItem/tenantId", "")),
        col.SUB_ACCOUNT_ID: _or(row.get("product/compartmentId", "")),
        col.SUB_ACCOUNT_NAME: _or(row.get("product/compartmentName", "")),
        col.BILLING_PERIOD_START: period_start,
        col.BILLING_PERIOD_END: period_end,
        col.CHARGE_PERIOD_START: start,
        col.CHARGE_PERIOD_END: _oci_time(row.get("lineItem/intervalUsageEnd", "")),
        col.CHARGE_CATEGORY: category,
        col.CHARGE_FREQUENCY: "Usage-Based",  # the report holds usage and its corrections
        col.BILLING_CURRENCY: _or(row.get("cost/currencyCode", "")),
        col.BILLED_COST: cost,
        col.EFFECTIVE_COST: cost,
        # the report has no list price: cost/unitPrice is the price the tenancy pays
        col.LIST_COST: cost,
        col.CONTRACTED_COST: cost,
        col.CONTRACTED_UNIT_PRICE: _or(row.get("cost/unitPrice", "")),
        **pricing(
            category,
            row.get("usage/billedQuantity", ""),
            _oci_unit(row.get("cost/billingUnitReadable", "")),
        ),
        col.SERVICE_NAME: _or(service),
        **service_columns(lookup(services.OCI, service), ai_service(service)),
        col.CHARGE_DESCRIPTION: _or(row.get("product/Description", "")),
        col.RESOURCE_ID: _or(row.get("product/resourceId", "")),
        col.REGION_ID: _or(row.get("product/region", "")),
        col.AVAILABILITY_ZONE: _or(row.get("product/availabilityDomain", "")),
        col.SKU_ID: _or(row.get("cost/productSku", "")),
        # FOCUS: a consumed quantity is usage's, not a correction's
        col.CONSUMED_QUANTITY: _or(row.get("usage/billedQuantity", "")) if not correction else None,
        col.CONSUMED_UNIT: _or(row.get("cost/skuUnitDescription", "")) if not correction else None,
        col.TAGS: _oci_tags(row),
        "x_ReferenceNo": _or(row.get("lineItem/referenceNo", "")),
        "x_SubscriptionId": _or(row.get("cost/subscriptionId", "")),
    }


OCI = Native(
    reader("oci"),
    recognise=lambda header: {"cost/myCost", "lineItem/intervalUsageStart"} <= set(header),
    row=_oci_row,
)
