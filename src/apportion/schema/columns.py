"""Every column name apportion reads or writes, in one place: the FOCUS columns as the data
plane stores them, and the columns of apportion's own tables (allocations, pools, drivers).
Code names a column by its constant here (``col.BILLING_CURRENCY``, ``col.POOL_ID``), never by
a bare string, so a misspelt column is a type error (mypy) before it is a wrong figure. Table
names and the ``x_`` bookkeeping columns of cost lines are in apportion.schema.tables.
"""

from __future__ import annotations

from typing import Final

# -- FOCUS (1.0-1.3) ---------------------------------------------------------------------------

# the four cost metrics
BILLED_COST: Final = "BilledCost"
EFFECTIVE_COST: Final = "EffectiveCost"
LIST_COST: Final = "ListCost"
CONTRACTED_COST: Final = "ContractedCost"

# prices and quantities
COMMITMENT_DISCOUNT_QUANTITY: Final = "CommitmentDiscountQuantity"
CONSUMED_QUANTITY: Final = "ConsumedQuantity"
CONTRACTED_UNIT_PRICE: Final = "ContractedUnitPrice"
LIST_UNIT_PRICE: Final = "ListUnitPrice"
PRICING_CURRENCY_CONTRACTED_UNIT_PRICE: Final = "PricingCurrencyContractedUnitPrice"
PRICING_CURRENCY_EFFECTIVE_COST: Final = "PricingCurrencyEffectiveCost"
PRICING_CURRENCY_LIST_UNIT_PRICE: Final = "PricingCurrencyListUnitPrice"
PRICING_QUANTITY: Final = "PricingQuantity"

# timestamps
BILLING_PERIOD_START: Final = "BillingPeriodStart"
BILLING_PERIOD_END: Final = "BillingPeriodEnd"
CHARGE_PERIOD_START: Final = "ChargePeriodStart"
CHARGE_PERIOD_END: Final = "ChargePeriodEnd"

# text
AVAILABILITY_ZONE: Final = "AvailabilityZone"
BILLING_ACCOUNT_ID: Final = "BillingAccountId"
BILLING_ACCOUNT_NAME: Final = "BillingAccountName"
BILLING_ACCOUNT_TYPE: Final = "BillingAccountType"
BILLING_CURRENCY: Final = "BillingCurrency"
CAPACITY_RESERVATION_ID: Final = "CapacityReservationId"
CAPACITY_RESERVATION_STATUS: Final = "CapacityReservationStatus"
CHARGE_CATEGORY: Final = "ChargeCategory"
CHARGE_CLASS: Final = "ChargeClass"
CHARGE_DESCRIPTION: Final = "ChargeDescription"
CHARGE_FREQUENCY: Final = "ChargeFrequency"
COMMITMENT_DISCOUNT_CATEGORY: Final = "CommitmentDiscountCategory"
COMMITMENT_DISCOUNT_ID: Final = "CommitmentDiscountId"
COMMITMENT_DISCOUNT_NAME: Final = "CommitmentDiscountName"
COMMITMENT_DISCOUNT_STATUS: Final = "CommitmentDiscountStatus"
COMMITMENT_DISCOUNT_TYPE: Final = "CommitmentDiscountType"
COMMITMENT_DISCOUNT_UNIT: Final = "CommitmentDiscountUnit"
CONSUMED_UNIT: Final = "ConsumedUnit"
CONTRACT_APPLIED: Final = "ContractApplied"
HOST_PROVIDER_NAME: Final = "HostProviderName"
INVOICE_ID: Final = "InvoiceId"
INVOICE_ISSUER_NAME: Final = "InvoiceIssuerName"
PRICING_CATEGORY: Final = "PricingCategory"
PRICING_CURRENCY: Final = "PricingCurrency"
PRICING_UNIT: Final = "PricingUnit"
PROVIDER_NAME: Final = "ProviderName"
PUBLISHER_NAME: Final = "PublisherName"
REGION_ID: Final = "RegionId"
REGION_NAME: Final = "RegionName"
RESOURCE_ID: Final = "ResourceId"
RESOURCE_NAME: Final = "ResourceName"
RESOURCE_TYPE: Final = "ResourceType"
SERVICE_CATEGORY: Final = "ServiceCategory"
SERVICE_NAME: Final = "ServiceName"
SERVICE_PROVIDER_NAME: Final = "ServiceProviderName"
SERVICE_SUBCATEGORY: Final = "ServiceSubcategory"
SKU_ID: Final = "SkuId"
SKU_METER: Final = "SkuMeter"
SKU_PRICE_DETAILS: Final = "SkuPriceDetails"
SKU_PRICE_ID: Final = "SkuPriceId"
SUB_ACCOUNT_ID: Final = "SubAccountId"
SUB_ACCOUNT_NAME: Final = "SubAccountName"
SUB_ACCOUNT_TYPE: Final = "SubAccountType"

# the tags map
TAGS: Final = "Tags"

# FOCUS 1.3's allocation columns, written by the FOCUS export
ALLOCATED_METHOD_ID: Final = "AllocatedMethodId"
ALLOCATED_METHOD_DETAILS: Final = "AllocatedMethodDetails"
ALLOCATED_RESOURCE_ID: Final = "AllocatedResourceId"
ALLOCATED_RESOURCE_NAME: Final = "AllocatedResourceName"
ALLOCATED_TAGS: Final = "AllocatedTags"

# -- apportion's tables: allocations, pools and their members ------------------------------------
RUN_ID: Final = "run_id"
ALLOCATION_ID: Final = "allocation_id"
POOL_ID: Final = "pool_id"
MEMBER_ID: Final = "member_id"  # a cost line's x_LineId, or the allocation a later rule split
RULE: Final = "rule"
METHOD: Final = "method"
DRIVER: Final = "driver"
GENERATION: Final = "generation"  # 0: split from bill lines; n: from generation n - 1's
IS_FINAL: Final = "is_final"  # not split again by a later rule
REASON: Final = "reason"  # why a pool stayed unallocated
GAP_REASON: Final = "gap_reason"  # why a dimension of an allocation has no value
WINDOW_START: Final = "window_start"
DIMENSIONS: Final = "dimensions"  # map: dimension -> value
ORIGIN: Final = "origin"  # map: the values the bill lines had, carried through every split
SOURCES: Final = "sources"  # map: where each dimension's value came from
QUANTITY: Final = "quantity"
POOL_QUANTITY: Final = "pool_quantity"
PATH: Final = "path"  # the rules the cost passed through, "platform -> shared"
MEMBERS: Final = "members"

# -- drivers ---------------------------------------------------------------------------------------
TIMESTAMP: Final = "timestamp"
DRIVER_RESOURCE_ID: Final = "resource_id"
