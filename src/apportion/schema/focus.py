"""FOCUS cost columns (1.0-1.3) as apportion stores them.

Readers map whatever casing a file uses onto these names; a column that is neither FOCUS nor
known stays in the line's ``x_Extensions`` map so nothing a provider sent is lost.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """How a FOCUS column is parsed and stored."""

    STRING = "string"
    MONEY = "money"  # one of the four cost metrics: exact, never NULL after ingest
    DECIMAL = "decimal"  # prices and quantities: exact when present
    TIMESTAMP = "timestamp"
    TAGS = "tags"


COST_METRICS: tuple[str, ...] = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")

_DECIMALS = (
    "CommitmentDiscountQuantity",
    "ConsumedQuantity",
    "ContractedUnitPrice",
    "ListUnitPrice",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "PricingQuantity",
)
_TIMESTAMPS = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")
_STRINGS = (
    "AvailabilityZone",
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "BillingCurrency",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountUnit",
    "ConsumedUnit",
    "ContractApplied",
    "HostProviderName",
    "InvoiceId",
    "InvoiceIssuerName",
    "PricingCategory",
    "PricingCurrency",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceProviderName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
)

FOCUS_COLUMNS: dict[str, Kind] = {
    **dict.fromkeys(COST_METRICS, Kind.MONEY),
    **dict.fromkeys(_DECIMALS, Kind.DECIMAL),
    **dict.fromkeys(_TIMESTAMPS, Kind.TIMESTAMP),
    **dict.fromkeys(_STRINGS, Kind.STRING),
    "Tags": Kind.TAGS,
}

# Columns whose presence makes a file recognisably FOCUS.
IDENTIFYING_COLUMNS: frozenset[str] = frozenset(
    {*COST_METRICS, "BillingPeriodStart", "ChargePeriodStart", "BillingCurrency", "ChargeCategory"}
)

# FOCUS 1.3 allocation columns, written by the FOCUS export.
ALLOCATED_COLUMNS: tuple[str, ...] = (
    "AllocatedMethodId",
    "AllocatedMethodDetails",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
)

_BY_LOWER = {name.lower(): name for name in FOCUS_COLUMNS}


def canonical_name(header: str) -> str | None:
    """The FOCUS name a file's header stands for, ignoring case and stray spaces."""
    return _BY_LOWER.get(header.strip().lower())
