"""Native cloud billing exports mapped to FOCUS cost lines: the AWS Cost and Usage Report,
legacy (``--format aws-cur``) and 2.0 (``aws-cur2``), the Azure Enterprise Agreement cost export
(``azure-ea``), the Azure Microsoft Customer Agreement cost details, actual (``azure-mca``) and
amortized (``azure-mca-amortized``), Oracle Cloud's cost report (``oci``) and, in
apportion.ingest.gcp, Google Cloud's billing export (``gcp``).

Each CSV export's mapping is a column map (apportion.ingest.columnmap), run in the staging
engine: each row of the export becomes one FOCUS row of text, and the rows go through the same
parsing, quarantine and categories as a FOCUS file. Amounts are added, subtracted and
multiplied as exact decimals (the effective cost of a reservation's fee is two of its
columns; a list cost is a rate x a quantity), never as floating point.

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

Cells are read trimmed, so `` Usage`` is Usage. The row number of a quarantined row is its
line in the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from functools import cache

import ibis
import ibis.expr.types as ir

from apportion.ingest import services, values
from apportion.ingest.columnmap import (
    Cells,
    ColumnMap,
    Derived,
    Outputs,
    Refusal,
    Text,
    json_members,
    lookup,
    total,
)
from apportion.ingest.conform import charge_frequency, pricing_unit
from apportion.ingest.registry import reader
from apportion.ingest.reports import NO_AMOUNT, billing_month
from apportion.ingest.services import ai_service, service_columns
from apportion.money import EXACT, rounded_text
from apportion.schema import columns as col

Columns = dict[str, ir.Value]
_NULL = ibis.null("string")


def _when(condition: ir.BooleanValue, value: Text | str) -> Text:
    """The value where the condition holds, else NULL."""
    return ibis.ifelse(condition, value, _NULL)


def _pricing(category: Text, quantity: Text, unit: Text) -> Columns:
    """PricingQuantity and PricingUnit: both, where the export has both and the line is not
    tax; otherwise neither (apportion.ingest.conform.pricing)."""
    both = (category != "Tax") & quantity.strip().nullif("").notnull() & unit.notnull()
    return {col.PRICING_QUANTITY: _when(both, quantity), col.PRICING_UNIT: _when(both, unit)}


def _services(derived: Cells, name: str) -> Columns:
    return {
        col.SERVICE_CATEGORY: derived.derived(name, 0),
        col.SERVICE_SUBCATEGORY: derived.derived(name, 1),
    }


def _service(*found: services.Service | None) -> Outputs:
    columns = service_columns(*found)
    return columns[col.SERVICE_CATEGORY], columns[col.SERVICE_SUBCATEGORY]


def _unit(given: str) -> Outputs:
    return (pricing_unit(given),)


def _json_members(text: str) -> dict[str, str] | None:
    """A cell holding a JSON object, its members with text values; None when the cell is
    not a JSON object."""
    try:
        found = json.loads(text)
    except (json.JSONDecodeError, RecursionError):  # RecursionError: nested past Python's stack
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
_AWS_NEGATION = "SavingsPlanNegation"


def _aws_category(kind: Text) -> Text:
    return lookup(kind, {k: v[0] for k, v in _AWS_LINE_ITEMS.items()}, _AWS_OTHER_LINE[0])


def _aws_prices(cell: Cells, kind: Text) -> Columns:
    """Unit price, quantity and unit, and the list and contracted cost they make. The list
    cost is the public on-demand rate x the quantity, as the FinOps Foundation's converter
    has it (AWS rounds ``pricing/publicOnDemandCost``, so it is not that product); where there
    is no rate, the public on-demand cost of usage, and the cost itself for the rest."""
    category = _aws_category(kind)
    unblended = cell.cost("lineItem/UnblendedCost")
    rate = _when(category.isin(["Usage", "Purchase"]), cell("pricing/publicOnDemandRate"))
    negation = kind == _AWS_NEGATION
    # a negation has no usage of its own
    quantities = _pricing(
        category,
        _when(~negation, cell.raw("lineItem/UsageAmount")),
        cell.derived("unit"),
    )
    quantity = quantities[col.PRICING_QUANTITY]
    on_demand = _when(category == "Usage", cell("pricing/publicOnDemandCost"))
    # the product of the cells themselves, not of the expressions that choose them: each
    # term of a map is written out in full wherever it is used
    product = cell.times("quantity", "rate")
    listed = ibis.coalesce(
        _when(rate.notnull() & quantity.notnull(), product), on_demand, unblended
    )
    return {
        col.LIST_UNIT_PRICE: rate,
        **quantities,
        col.LIST_COST: ibis.ifelse(negation, "0", listed),
        col.CONTRACTED_COST: ibis.ifelse(negation, "0", unblended),
    }


def _aws_effective_cost(cell: Cells, kind: Text) -> Text:
    """The cost with commitments amortised, as the FOCUS converter computes it: covered usage
    at its share of the commitment, the commitment's fees at what went unused."""
    unblended = cell.cost("lineItem/UnblendedCost")
    return ibis.cases(
        (kind == "DiscountedUsage", cell("reservation/EffectiveCost").fill_null(unblended)),
        (
            kind == "SavingsPlanCoveredUsage",
            cell("savingsPlan/SavingsPlanEffectiveCost").fill_null(unblended),
        ),
        (kind.isin(["SavingsPlanNegation", "SavingsPlanUpfrontFee"]), "0"),
        # a reservation's upfront payment: amortised into the usage it covers
        ((kind == "Fee") & cell("reservation/ReservationARN").notnull(), "0"),
        (kind == "RIFee", total(cell.amount("unused upfront"), cell.amount("unused recurring"))),
        (
            kind == "SavingsPlanRecurringFee",
            total(cell.amount("commitment"), minus=cell.amount("used commitment")),
        ),
        else_=unblended,
    )


def _aws_columns(cell: Cells, tags: Text) -> Columns:
    """A CUR row, read by its legacy column names, with its tags as a JSON object."""
    kind = cell("lineItem/LineItemType").fill_null("")
    category = _aws_category(kind)
    usage = category == "Usage"
    frequencies = {k: v[1] for k, v in _AWS_LINE_ITEMS.items()}
    return {
        col.PROVIDER_NAME: ibis.literal("AWS"),
        col.PUBLISHER_NAME: cell("bill/BillingEntity").fill_null("AWS"),
        col.INVOICE_ISSUER_NAME: cell("bill/InvoicingEntity").fill_null("AWS"),
        col.INVOICE_ID: cell("bill/InvoiceId"),
        col.BILLING_ACCOUNT_ID: cell("bill/PayerAccountId", "lineItem/UsageAccountId"),
        col.BILLING_ACCOUNT_NAME: cell("bill/PayerAccountName"),
        col.SUB_ACCOUNT_ID: cell("lineItem/UsageAccountId"),
        col.SUB_ACCOUNT_NAME: cell("lineItem/UsageAccountName"),
        col.BILLING_PERIOD_START: cell("bill/BillingPeriodStartDate"),
        col.BILLING_PERIOD_END: cell("bill/BillingPeriodEndDate"),
        col.CHARGE_PERIOD_START: cell("lineItem/UsageStartDate"),
        col.CHARGE_PERIOD_END: cell("lineItem/UsageEndDate"),
        col.CHARGE_CATEGORY: category,
        col.CHARGE_FREQUENCY: lookup(kind, frequencies, _AWS_OTHER_LINE[1]),
        col.CHARGE_DESCRIPTION: cell("lineItem/LineItemDescription"),
        col.BILLING_CURRENCY: cell("lineItem/CurrencyCode"),
        col.BILLED_COST: cell.cost("lineItem/UnblendedCost"),
        col.EFFECTIVE_COST: _aws_effective_cost(cell, kind),
        **_aws_prices(cell, kind),
        col.SERVICE_NAME: cell("product/ProductName", "lineItem/ProductCode"),
        **_services(cell, "service"),
        col.RESOURCE_ID: cell("lineItem/ResourceId"),
        col.REGION_ID: cell("product/regionCode", "product/region"),
        col.AVAILABILITY_ZONE: cell("lineItem/AvailabilityZone"),
        col.SKU_ID: cell("product/sku"),
        col.CONSUMED_QUANTITY: _when(usage, cell("lineItem/UsageAmount")),
        col.CONSUMED_UNIT: _when(usage, cell.derived("unit")),
        col.TAGS: tags,
        "x_LineItemType": kind.nullif(""),
        "x_UsageType": cell("lineItem/UsageType"),
        "x_Operation": cell("lineItem/Operation"),
        "x_ProductCode": cell("lineItem/ProductCode"),
    }


def _aws_service(code: str, name: str) -> Outputs:
    return _service(services.lookup(services.AWS, code), ai_service(code, name))


def _aws_amounts(cell: Cells) -> dict[str, Text]:
    return {
        "quantity": cell.raw("lineItem/UsageAmount"),
        "rate": cell.raw("pricing/publicOnDemandRate"),
        "unused upfront": cell.raw("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"),
        "unused recurring": cell.raw("reservation/UnusedRecurringFee"),
        "commitment": cell.raw("savingsPlan/TotalCommitmentToDate"),
        "used commitment": cell.raw("savingsPlan/UsedCommitment"),
    }


_AWS_DERIVED = (
    Derived("unit", _unit, ("pricing/unit",)),
    Derived("service", _aws_service, ("lineItem/ProductCode", "product/ProductName"), 2),
)

AWS_CUR = ColumnMap(
    reader("aws-cur"),
    recognise=lambda header: (
        {"lineItem/UnblendedCost", "bill/BillingPeriodStartDate"} <= set(header)
    ),
    columns=lambda cell: _aws_columns(cell, json_members(cell.prefixed("resourceTags/"))),
    derive=_AWS_DERIVED,
    amounts=_aws_amounts,
    products=(("quantity", "rate"),),
)


# -- AWS Cost and Usage Report 2.0 (Data Exports) -------------------------------------------
_WORD_START = re.compile(r"(?<=[^/])(?=[A-Z])")
# CUR 2.0 writes a tag key's "user:" or "aws:" prefix as "user_" or "aws_"
_CUR2_TAG_PREFIX = re.compile(r"^(user|aws)_")
# product attributes the legacy mapping reads, found in CUR 2.0's ``product`` map where they
# are not columns of their own
_CUR2_PRODUCT = ("product/ProductName", "product/regionCode", "product/region", "product/sku")


@cache
def _cur2_name(legacy: str) -> str:
    """The CUR 2.0 column of a legacy CUR column: every capital starts a word, as AWS names
    them (``lineItem/UnblendedCost`` is ``line_item_unblended_cost``, ``reservation/
    ReservationARN`` is ``reservation_reservation_a_r_n``)."""
    return _WORD_START.sub("_", legacy).replace("/", "_").lower()


def _cur2_product(text: str) -> Outputs:
    """The product attributes of CUR 2.0's ``product`` map (``product_name``), by the legacy
    names the mapping reads them under."""
    members = _json_members(text or "{}") or {}
    return tuple(members.get(_cur2_name(name).removeprefix("product_")) for name in _CUR2_PRODUCT)


def _cur2_tags(text: str) -> Outputs:
    """CUR 2.0 writes all of a line's tags as one JSON object, a user tag as ``user_team``
    (``user:team`` in the legacy report): the prefix is written back as the legacy report has
    it, so the tag policy folds both alike. A cell that is not a JSON object is passed on as
    written, so the row is quarantined for it."""
    if not text.strip():
        return (None,)
    members = _json_members(text)
    if members is None:
        return (text,)
    tags = {_CUR2_TAG_PREFIX.sub(r"\1:", key): value for key, value in members.items() if value}
    return (json.dumps(tags, sort_keys=True) if tags else None,)


def _cur2_columns(cell: Cells) -> Columns:
    columns = _aws_columns(cell, cell.derived("tags"))
    # cost categories are AWS's own allocation, kept beside the tags rather than mixed in
    categories = cell("cost_category")
    columns["x_CostCategory"] = _when(categories != "{}", categories)
    return columns


AWS_CUR2 = ColumnMap(
    reader("aws-cur2"),
    recognise=lambda header: (
        {"line_item_unblended_cost", "bill_billing_period_start_date"} <= set(header)
    ),
    columns=_cur2_columns,
    # the product map first: the service is told by its product name too
    derive=(
        Derived("product", _cur2_product, ("product",), len(_CUR2_PRODUCT)),
        *_AWS_DERIVED,
        Derived("tags", _cur2_tags, ("resource_tags",)),
    ),
    fold=_cur2_name,
    fallback={name: ("product", i) for i, name in enumerate(_CUR2_PRODUCT)},
    amounts=_aws_amounts,
    products=(("quantity", "rate"),),
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
_AZURE_OTHER_CHARGE = "Adjustment"
_COMMITMENT_MODELS = ["reservation", "savingsplan"]
_COMMITMENT_SERVICES = ["microsoft.capacity", "microsoft.billingbenefits"]
_UNUSED_COMMITMENT = ["UnusedReservation", "UnusedSavingsPlan"]


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
        return text.strip() or None
    try:
        found = day + timedelta(days=days_after)
    except OverflowError:
        return text
    return f"{found.isoformat()}T00:00:00Z"


def _azure_day(text: str) -> Outputs:
    """A usage day as its charge period: the day, and the day after."""
    return _us_date(text), _us_date(text, days_after=1)


def _azure_period(start: str, end: str) -> Outputs:
    """The billing period; the export's end is its last day, FOCUS's the day after."""
    return _us_date(start), _us_date(end, days_after=1)


def _azure_category(kind: Text) -> Text:
    return lookup(kind, _AZURE_CHARGE_CATEGORY, _AZURE_OTHER_CHARGE)


def _azure_frequency(kind: str, given: str) -> Outputs:
    category = _AZURE_CHARGE_CATEGORY.get(kind.strip(), _AZURE_OTHER_CHARGE)
    return (charge_frequency(category, given),)


def _azure_service(meter: str, consumed: str, family: str) -> Outputs:
    return _service(
        services.lookup(services.AZURE_METERS, meter),
        services.lookup(services.AZURE_PROVIDERS, consumed),
        ai_service(family, meter, consumed),
        services.lookup(services.AZURE_FAMILIES, family),
    )


def _azure_commitment(cell: Cells) -> ir.BooleanValue:
    """A row a reservation or savings plan made (Microsoft's own test in its FOCUS converter):
    its purchase, the usage it covers, or its unused part."""
    return (
        cell("PricingModel").lower().isin(_COMMITMENT_MODELS).fill_null(False)
        | cell("ConsumedService").lower().isin(_COMMITMENT_SERVICES).fill_null(False)
        | cell("ReservationId", "benefitId").notnull()
    )


def _billed(cell: Cells) -> ir.BooleanValue:
    """Whether the row bills an amount other than zero."""
    amount = values.decimal(cell.raw("CostInBillingCurrency")).value
    return (amount != 0).fill_null(False)


def _azure_costs(cell: Cells, *, amortized: bool) -> Columns:
    """The four cost metrics of a row (see the module docstring for the two exports), and
    the unit prices and quantity its list and contracted cost are the product of."""
    cost = cell.cost("CostInBillingCurrency")
    kind = cell("ChargeType").fill_null("")
    category = _azure_category(kind)
    commitment = _azure_commitment(cell)
    covered = commitment & kind.isin(["Usage", *_UNUSED_COMMITMENT]) if amortized else False
    bought = commitment & (kind == "Purchase") if amortized else False
    quantity = cell("Quantity")
    prices = _azure_prices(cell, category)
    # on the unit prices as derived (a column), not on the expression that keeps them off tax
    listed, contracted = (
        _when(category != "Tax", cell.times("quantity", price))
        for price in ("list unit price", "contracted unit price")
    )
    return {
        # billed as the purchase, in the actual export
        col.BILLED_COST: ibis.ifelse(covered, "0", cost),
        col.EFFECTIVE_COST: ibis.ifelse(bought, "0", cost),  # amortised into the usage
        # pay-as-you-go price for the list, the agreement's price for the contract
        col.LIST_COST: ibis.coalesce(listed, cell("paygCostInBillingCurrency"), cost),
        col.CONTRACTED_COST: ibis.coalesce(contracted, cost),
        **prices,
        **_pricing(category, quantity.fill_null(""), cell.derived("unit")),
    }


def _azure_unit_prices(price: str, paygo: str, rate: str) -> Outputs:
    """The unit prices in the billing currency: the export's (in its pricing currency) x the
    exchange rate from the pricing to the billing currency (1 where the export has none)."""
    return _times("1", price, rate), _times("1", paygo, rate)


def _times(quantity: str, price: str, rate: str = "") -> str | None:
    """quantity x unit price x rate, to the 18 places money keeps (half to even); None when
    one is missing; a cell that is not a number as written, so the row is quarantined."""
    cells = (quantity, price, rate or "1")
    odd = next((c for c in cells if c.strip() and _number(c) is None), None)
    if odd is not None:
        return odd
    amount, unit, exchange = (_number(c) for c in cells)
    if amount is None or unit is None or exchange is None:
        return None
    return rounded_text(EXACT.multiply(EXACT.multiply(amount, unit), exchange))


def _number(text: str) -> Decimal | None:
    try:
        return values.number(text)
    except values.NotANumber:
        return None


def _azure_prices(cell: Cells, category: Text) -> dict[str, Text]:
    """Unit prices in the billing currency; an MCA export's prices are in its pricing
    currency (USD for a EUR bill), kept as FOCUS's PricingCurrency columns too. Tax has no
    unit price in FOCUS."""
    priced = category != "Tax"
    currency = cell(col.PRICING_CURRENCY)
    return {
        col.LIST_UNIT_PRICE: _when(priced, cell.derived("prices", 1)),
        col.CONTRACTED_UNIT_PRICE: _when(priced, cell.derived("prices", 0)),
        col.PRICING_CURRENCY: _when(priced, currency),
        col.PRICING_CURRENCY_LIST_UNIT_PRICE: _when(priced & currency.notnull(), cell("PayGPrice")),
        col.PRICING_CURRENCY_CONTRACTED_UNIT_PRICE: _when(
            priced & currency.notnull(), cell("UnitPrice")
        ),
    }


def _azure_tags(cell: Cells) -> Text:
    """EA exports write tags as the members of a JSON object without its braces."""
    body = cell(col.TAGS)
    return ibis.ifelse(body.startswith("{"), body, "{" + body + "}")


def _azure_columns(cell: Cells, *, amortized: bool) -> Columns:
    kind = cell("ChargeType").fill_null("")
    category = _azure_category(kind)
    usage = category == "Usage"
    return {
        col.PROVIDER_NAME: ibis.literal("Microsoft"),
        col.PUBLISHER_NAME: cell(col.PUBLISHER_NAME, "PublisherType").fill_null("Microsoft"),
        col.INVOICE_ISSUER_NAME: cell("PartnerName").fill_null("Microsoft"),
        col.INVOICE_ID: cell(col.INVOICE_ID),
        col.BILLING_ACCOUNT_ID: cell(col.BILLING_ACCOUNT_ID),
        col.BILLING_ACCOUNT_NAME: cell(col.BILLING_ACCOUNT_NAME),
        col.SUB_ACCOUNT_ID: cell("SubscriptionId"),
        col.SUB_ACCOUNT_NAME: cell("SubscriptionName"),
        col.BILLING_PERIOD_START: cell.derived("period", 0),
        col.BILLING_PERIOD_END: cell.derived("period", 1),
        col.CHARGE_PERIOD_START: cell.derived("day", 0),
        col.CHARGE_PERIOD_END: cell.derived("day", 1),
        col.CHARGE_CATEGORY: category,
        col.CHARGE_FREQUENCY: cell.derived("frequency"),
        col.PRICING_CATEGORY: cell("PricingModel"),
        col.BILLING_CURRENCY: cell("BillingCurrencyCode", col.BILLING_CURRENCY),
        **_azure_costs(cell, amortized=amortized),
        # a rounding adjustment names no service: its product is the adjustment
        col.SERVICE_NAME: cell("MeterCategory", "ConsumedService", "ProductName"),
        **_services(cell, "service"),
        col.CHARGE_DESCRIPTION: cell("ProductName"),
        col.RESOURCE_ID: cell(col.RESOURCE_ID),
        col.RESOURCE_NAME: cell(col.RESOURCE_NAME),
        col.REGION_NAME: cell("ResourceLocation"),
        col.AVAILABILITY_ZONE: cell(col.AVAILABILITY_ZONE),
        col.SKU_ID: cell("PartNumber", "ProductId", "MeterId"),
        col.SKU_METER: cell("MeterName"),
        col.CONSUMED_QUANTITY: _when(usage, cell("Quantity")),
        col.CONSUMED_UNIT: _when(usage, cell.derived("unit")),
        col.COMMITMENT_DISCOUNT_ID: cell("ReservationId", "benefitId"),
        col.COMMITMENT_DISCOUNT_NAME: cell("ReservationName", "benefitName"),
        col.TAGS: _azure_tags(cell),
        "x_ResourceGroup": cell("ResourceGroup", "ResourceGroupName"),
        "x_MeterSubCategory": cell("MeterSubCategory"),
        "x_CostCenter": cell("CostCenter"),
        "x_BillingProfileId": cell("BillingProfileId"),
        "x_InvoiceSectionId": cell("InvoiceSectionId"),
        "x_ServiceFamily": cell("ServiceFamily"),
    }


def _amortized_rows(amortized_format: str) -> Callable[[Cells], Refusal]:
    """Rows only an amortized-cost export has: read as actual, the commitment would count
    twice."""

    def refusal(cell: Cells) -> Refusal:
        kind = cell("ChargeType").fill_null("")
        return Refusal(
            kind.isin(_UNUSED_COMMITMENT)
            | ((kind == "Usage") & _azure_commitment(cell) & _billed(cell)),
            "a "
            + kind
            + " row with an amortised commitment cost: this is an amortized-cost export; "
            + f"use --format {amortized_format}",
        )

    return refusal


def _actual_rows(actual_format: str) -> Callable[[Cells], Refusal]:
    """Rows only an actual-cost export has: it alone bills a commitment's purchase."""

    def refusal(cell: Cells) -> Refusal:
        kind = cell("ChargeType").fill_null("")
        return Refusal(
            (kind == "Purchase") & _azure_commitment(cell) & _billed(cell),
            ibis.literal(
                "a commitment purchase with a cost: this is an actual-cost export; use "
                f"--format {actual_format}"
            ),
        )

    return refusal


def _ea_header(header: list[str]) -> bool:
    return {"CostInBillingCurrency", "MeterCategory", "SubscriptionId"} <= set(header)


def _mca_header(header: list[str]) -> bool:
    return {"costInBillingCurrency", "billingProfileId", "meterCategory"} <= set(header)


def _azure(name: str, other: str, recognise: Callable[[list[str]], bool]) -> ColumnMap:
    """One of the four Azure exports; ``other`` is its twin (actual or amortized), which a
    row only the twin has names."""
    amortized = name.endswith("-amortized")
    return ColumnMap(
        reader(name),
        recognise=recognise,
        columns=lambda cell: _azure_columns(cell, amortized=amortized),
        derive=(
            Derived("unit", _unit, ("UnitOfMeasure",)),
            Derived(
                "prices",
                _azure_unit_prices,
                ("UnitPrice", "PayGPrice", "exchangeRatePricingToBilling"),
                2,
            ),
            Derived("period", _azure_period, ("BillingPeriodStartDate", "BillingPeriodEndDate"), 2),
            Derived("day", _azure_day, ("Date",), 2),
            Derived("frequency", _azure_frequency, ("ChargeType", "Frequency")),
            Derived(
                "service", _azure_service, ("MeterCategory", "ConsumedService", "ServiceFamily"), 2
            ),
        ),
        refuse=_actual_rows(other) if amortized else _amortized_rows(other),
        fold=str.lower,  # EA writes CostInBillingCurrency, MCA costInBillingCurrency
        amounts=lambda cell: {
            "quantity": cell.raw("Quantity"),
            "list unit price": cell.derived("prices", 1),
            "contracted unit price": cell.derived("prices", 0),
        },
        products=(("quantity", "list unit price"), ("quantity", "contracted unit price")),
    )


# Actual and amortized exports share their columns: auto reads both as the actual one, and a
# row only the other kind has refuses the file with the --format to use.
AZURE_EA = _azure("azure-ea", "azure-ea-amortized", _ea_header)
AZURE_EA_AMORTIZED = _azure("azure-ea-amortized", "azure-ea", _ea_header)
AZURE_MCA = _azure("azure-mca", "azure-mca-amortized", _mca_header)
AZURE_MCA_AMORTIZED = _azure("azure-mca-amortized", "azure-mca", _mca_header)


# -- Oracle Cloud Infrastructure cost report ---------------------------------------------------
_MINUTES = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(Z|[+-]\d{2}:?\d{2})$")


def _oci_time(text: str) -> str | None:
    """OCI writes interval starts to the minute (``2023-11-13T10:00Z``): seconds added."""
    found = _MINUTES.match(text.strip())
    return f"{found.group(1)}:00{found.group(2)}" if found else (text.strip() or None)


def _oci_start(text: str) -> Outputs:
    """An interval's start, and the calendar month it falls in as the billing period: OCI
    reports have none."""
    start = _oci_time(text)
    return (start, *billing_month(start))


def _oci_end(text: str) -> Outputs:
    return (_oci_time(text),)


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
        return text.strip() or None
    count, size, time, what = found.groups()
    if (size != "NONE" and size not in _OCI_SIZES) or (time != "NONE" and time not in _OCI_TIMES):
        return text.strip()
    thing = _OCI_THINGS.get(what) or what.replace("_", " ").title().replace(" ", "")
    base = size if size in _OCI_SIZES else thing
    if time != "NONE":  # FOCUS writes no block size before a unit of time
        return f"{base}-{_OCI_TIMES[time]}" if count == "1" else text.strip()
    return base if count == "1" else f"{count} {base}"


def _oci_service(service: str) -> Outputs:
    return _service(services.lookup(services.OCI, service), ai_service(service))


def _oci_columns(cell: Cells) -> Columns:
    cost = cell.cost("cost/myCost")
    # usage beyond the commitment is billed on top (an overage that is not a number comes out
    # as written, and the row is quarantined with it)
    cost = ibis.ifelse(
        (cost != NO_AMOUNT) & cell("cost/myCostOverage").notnull(),
        total(cell.amount("cost"), cell.amount("overage")),
        cost,
    )
    correction = cell("lineItem/isCorrection").lower().fill_null("") == "true"
    category = ibis.ifelse(correction, "Adjustment", "Usage")
    return {
        col.PROVIDER_NAME: ibis.literal("Oracle"),
        col.PUBLISHER_NAME: ibis.literal("Oracle"),
        col.INVOICE_ISSUER_NAME: ibis.literal("Oracle"),
        col.BILLING_ACCOUNT_ID: cell("lineItem/tenantId"),
        col.SUB_ACCOUNT_ID: cell("product/compartmentId"),
        col.SUB_ACCOUNT_NAME: cell("product/compartmentName"),
        col.BILLING_PERIOD_START: cell.derived("start", 1),
        col.BILLING_PERIOD_END: cell.derived("start", 2),
        col.CHARGE_PERIOD_START: cell.derived("start", 0),
        col.CHARGE_PERIOD_END: cell.derived("end"),
        col.CHARGE_CATEGORY: category,
        col.CHARGE_FREQUENCY: ibis.literal("Usage-Based"),  # usage and its corrections
        col.BILLING_CURRENCY: cell("cost/currencyCode"),
        col.BILLED_COST: cost,
        col.EFFECTIVE_COST: cost,
        # the report has no list price: cost/unitPrice is the price the tenancy pays
        col.LIST_COST: cost,
        col.CONTRACTED_COST: cost,
        col.CONTRACTED_UNIT_PRICE: cell("cost/unitPrice"),
        **_pricing(category, cell.raw("usage/billedQuantity").fill_null(""), cell.derived("unit")),
        col.SERVICE_NAME: cell("product/service"),
        **_services(cell, "service"),
        col.CHARGE_DESCRIPTION: cell("product/Description"),
        col.RESOURCE_ID: cell("product/resourceId"),
        col.REGION_ID: cell("product/region"),
        col.AVAILABILITY_ZONE: cell("product/availabilityDomain"),
        col.SKU_ID: cell("cost/productSku"),
        # FOCUS: a consumed quantity is usage's, not a correction's
        col.CONSUMED_QUANTITY: _when(~correction, cell("usage/billedQuantity")),
        col.CONSUMED_UNIT: _when(~correction, cell("cost/skuUnitDescription")),
        col.TAGS: json_members(cell.prefixed("tags/")),
        "x_ReferenceNo": cell("lineItem/referenceNo"),
        "x_SubscriptionId": cell("cost/subscriptionId"),
    }


OCI = ColumnMap(
    reader("oci"),
    recognise=lambda header: {"cost/myCost", "lineItem/intervalUsageStart"} <= set(header),
    columns=_oci_columns,
    derive=(
        Derived("unit", lambda text: (_oci_unit(text),), ("cost/billingUnitReadable",)),
        Derived("start", _oci_start, ("lineItem/intervalUsageStart",), 3),
        Derived("end", _oci_end, ("lineItem/intervalUsageEnd",)),
        Derived("service", _oci_service, ("product/service",), 2),
    ),
    amounts=lambda cell: {
        "cost": cell.raw("cost/myCost"),
        "overage": cell.raw("cost/myCostOverage"),
    },
)
