"""Data-plane tables: their names and the apportion columns beside the FOCUS ones."""

from __future__ import annotations

from typing import Final

from apportion.schema import columns as col

# Exact decimal types in the engines. Money keeps 18 places: enough for the sub-micro-cent
# unit prices real exports carry, with 20 integer digits left for totals.
MONEY_SCALE: Final = 18
MONEY_TYPE: Final = f"decimal(38, {MONEY_SCALE})"
QUANTITY_SCALE: Final = 12
QUANTITY_TYPE: Final = f"decimal(38, {QUANTITY_SCALE})"

COST_LINES: Final = "cost_lines"
DRIVERS: Final = "drivers"
QUARANTINE: Final = "quarantine"
LOADS: Final = "loads"
ALLOCATIONS: Final = "allocations"
POOLS: Final = "pools"
POOL_MEMBERS: Final = "pool_members"
USAGE: Final = "usage"  # token usage from the providers' usage reports
BUSINESS_METRICS: Final = "business_metrics"  # decisions, users, revenue... per use case
# quantities that are not money (energy, emissions, GPU time), split by their own keys
QUANTITY_ALLOCATIONS: Final = "quantity_allocations"

# Bookkeeping columns every cost line carries beside its FOCUS columns.
LINE_ID: Final = "x_LineId"  # "<file hash prefix>:<data row number>", stable across re-ingests
SOURCE: Final = "x_Source"
FILE_HASH: Final = "x_FileHash"
ROW_NUMBER: Final = "x_RowNumber"
BILLING_PERIOD: Final = "x_BillingPeriod"  # YYYY-MM of BillingPeriodStart
CATEGORY: Final = "x_Category"
EXTENSIONS: Final = "x_Extensions"  # map of columns that are neither FOCUS nor known

# The bill's own columns that every allocation keeps from the lines it came from. A pool never
# mixes lines that differ in one of them, so allocations summed by any of them (or by the
# origin's tag-derived dimensions, kept beside) equal the bill lines summed by it, exactly.
BILL_DIMENSIONS: Final = (
    col.PROVIDER_NAME,
    col.SERVICE_NAME,
    col.SERVICE_CATEGORY,
    col.SUB_ACCOUNT_ID,
    col.BILLING_ACCOUNT_ID,
    col.REGION_ID,
    col.CHARGE_CATEGORY,
    CATEGORY,
)

UNALLOCATED: Final = "__unallocated__"
# the use case unused commitment cost is allocated to (README: Commitments): not a workload
IDLE: Final = "__idle__"
UNCATEGORISED: Final = "uncategorised"
