"""FOCUS cost columns (1.0-1.3) as apportion stores them.

Readers map whatever casing a file uses onto these names; a column that is neither FOCUS nor
known stays in the line's ``x_Extensions`` map so nothing a provider sent is lost.
"""

from __future__ import annotations

from enum import StrEnum

from apportion.schema import columns as col


class Kind(StrEnum):
    """How a FOCUS column is parsed and stored."""

    STRING = "string"
    MONEY = "money"  # one of the four cost metrics: exact, never NULL after ingest
    DECIMAL = "decimal"  # prices and quantities: exact when present
    TIMESTAMP = "timestamp"
    TAGS = "tags"


COST_METRICS: tuple[str, ...] = (
    col.BILLED_COST,
    col.EFFECTIVE_COST,
    col.LIST_COST,
    col.CONTRACTED_COST,
)

_DECIMALS = (
    col.COMMITMENT_DISCOUNT_QUANTITY,
    col.CONSUMED_QUANTITY,
    col.CONTRACTED_UNIT_PRICE,
    col.LIST_UNIT_PRICE,
    col.PRICING_CURRENCY_CONTRACTED_UNIT_PRICE,
    col.PRICING_CURRENCY_EFFECTIVE_COST,
    col.PRICING_CURRENCY_LIST_UNIT_PRICE,
    col.PRICING_QUANTITY,
)
_TIMESTAMPS = (
    col.BILLING_PERIOD_START,
    col.BILLING_PERIOD_END,
    col.CHARGE_PERIOD_START,
    col.CHARGE_PERIOD_END,
)
_STRINGS = (
    col.AVAILABILITY_ZONE,
    col.BILLING_ACCOUNT_ID,
    col.BILLING_ACCOUNT_NAME,
    col.BILLING_ACCOUNT_TYPE,
    col.BILLING_CURRENCY,
    col.CAPACITY_RESERVATION_ID,
    col.CAPACITY_RESERVATION_STATUS,
    col.CHARGE_CATEGORY,
    col.CHARGE_CLASS,
    col.CHARGE_DESCRIPTION,
    col.CHARGE_FREQUENCY,
    col.COMMITMENT_DISCOUNT_CATEGORY,
    col.COMMITMENT_DISCOUNT_ID,
    col.COMMITMENT_DISCOUNT_NAME,
    col.COMMITMENT_DISCOUNT_STATUS,
    col.COMMITMENT_DISCOUNT_TYPE,
    col.COMMITMENT_DISCOUNT_UNIT,
    col.CONSUMED_UNIT,
    col.CONTRACT_APPLIED,
    col.HOST_PROVIDER_NAME,
    col.INVOICE_ID,
    col.INVOICE_ISSUER_NAME,
    col.PRICING_CATEGORY,
    col.PRICING_CURRENCY,
    col.PRICING_UNIT,
    col.PROVIDER_NAME,
    col.PUBLISHER_NAME,
    col.REGION_ID,
    col.REGION_NAME,
    col.RESOURCE_ID,
    col.RESOURCE_NAME,
    col.RESOURCE_TYPE,
    col.SERVICE_CATEGORY,
    col.SERVICE_NAME,
    col.SERVICE_PROVIDER_NAME,
    col.SERVICE_SUBCATEGORY,
    col.SKU_ID,
    col.SKU_METER,
    col.SKU_PRICE_DETAILS,
    col.SKU_PRICE_ID,
    col.SUB_ACCOUNT_ID,
    col.SUB_ACCOUNT_NAME,
    col.SUB_ACCOUNT_TYPE,
)

FOCUS_COLUMNS: dict[str, Kind] = {
    **dict.fromkeys(COST_METRICS, Kind.MONEY),
    **dict.fromkeys(_DECIMALS, Kind.DECIMAL),
    **dict.fromkeys(_TIMESTAMPS, Kind.TIMESTAMP),
    **dict.fromkeys(_STRINGS, Kind.STRING),
    col.TAGS: Kind.TAGS,
}

# Columns whose presence makes a file recognisably FOCUS.
IDENTIFYING_COLUMNS: frozenset[str] = frozenset(
    {
        *COST_METRICS,
        col.BILLING_PERIOD_START,
        col.CHARGE_PERIOD_START,
        col.BILLING_CURRENCY,
        col.CHARGE_CATEGORY,
    }
)

# FOCUS 1.3 allocation columns, written by the FOCUS export.
ALLOCATED_COLUMNS: tuple[str, ...] = (
    col.ALLOCATED_METHOD_ID,
    col.ALLOCATED_METHOD_DETAILS,
    col.ALLOCATED_RESOURCE_ID,
    col.ALLOCATED_RESOURCE_NAME,
    col.ALLOCATED_TAGS,
)

_BY_LOWER = {name.lower(): name for name in FOCUS_COLUMNS}


def canonical_name(header: str) -> str | None:
    """The FOCUS name a file's header stands for, ignoring case and stray spaces."""
    return _BY_LOWER.get(header.strip().lower())
