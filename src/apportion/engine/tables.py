"""Ibis schemas of the data-plane tables."""

from __future__ import annotations

import ibis
import ibis.expr.schema as sch

from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS, FOCUS_COLUMNS, Kind

_KIND_TYPES = {
    Kind.STRING: "string",
    Kind.MONEY: t.MONEY_TYPE,
    Kind.DECIMAL: t.MONEY_TYPE,
    Kind.TIMESTAMP: "timestamp",
    Kind.TAGS: "map<string, string>",
}

COST_LINES = ibis.schema(
    {
        t.LINE_ID: "string",
        t.SOURCE: "string",
        t.FILE_HASH: "string",
        t.ROW_NUMBER: "int64",
        t.BILLING_PERIOD: "string",
        t.CATEGORY: "string",
        **{name: _KIND_TYPES[kind] for name, kind in FOCUS_COLUMNS.items()},
        t.EXTENSIONS: "map<string, string>",
    }
)

DRIVERS = ibis.schema(
    {
        t.SOURCE: "string",
        t.FILE_HASH: "string",
        t.ROW_NUMBER: "int64",
        t.BILLING_PERIOD: "string",
        col.TIMESTAMP: "timestamp",
        col.DRIVER: "string",
        col.QUANTITY: t.QUANTITY_TYPE,
        col.DRIVER_RESOURCE_ID: "string",
        col.DIMENSIONS: "map<string, string>",
    }
)

QUARANTINE = ibis.schema(
    {
        t.SOURCE: "string",
        t.FILE_HASH: "string",
        "file": "string",
        "kind": "string",  # cost | driver
        "line": "int64",
        col.REASON: "string",
        t.BILLING_PERIOD: "string",
        "currency": "string",
        "cost_text": "string",  # the BilledCost cell as written, so quarantined cost is visible
        # the other cost metrics' cells as written (NULL where the row had none), and the
        # column the reason names: apportion quarantine shows the money at stake per metric
        "effective_cost_text": "string",
        "list_cost_text": "string",
        "contracted_cost_text": "string",
        "column": "string",
    }
)

LOADS = ibis.schema(
    {
        t.SOURCE: "string",
        t.FILE_HASH: "string",
        "file": "string",
        "kind": "string",
        "raw_path": "string",
        "rows": "int64",
        "quarantined": "int64",
        "periods": "string",
        "loaded_at": "timestamp",
        # every key of the file's rows' map: a driver file's dimensions, a bill's tag keys;
        # NULL for loads recorded before this column existed (then any key may be present).
        # Allocation looks up only keys some file has (engine/carried.py).
        "keys": "array<string>",
    }
)

ALLOCATIONS = ibis.schema(
    {
        col.RUN_ID: "string",
        col.ALLOCATION_ID: "string",
        col.POOL_ID: "string",
        col.RULE: "string",
        col.METHOD: "string",
        col.DRIVER: "string",
        col.GENERATION: "int64",
        col.IS_FINAL: "boolean",
        col.REASON: "string",
        t.BILLING_PERIOD: "string",
        col.BILLING_CURRENCY: "string",
        **dict.fromkeys(t.BILL_DIMENSIONS, "string"),
        # the pool's resource where it has one (direct and proportional pools are per resource)
        col.RESOURCE_ID: "string",
        col.RESOURCE_NAME: "string",
        col.WINDOW_START: "timestamp",
        col.DIMENSIONS: "map<string, string>",
        # why the dimensions that are __unallocated__ in ``dimensions`` have no value (one
        # reason per pool, so one per row); NULL when every dimension has one
        col.GAP_REASON: "string",
        col.QUANTITY: t.QUANTITY_TYPE,
        col.POOL_QUANTITY: t.QUANTITY_TYPE,
        col.PATH: "string",  # the rules this cost passed through, "platform -> shared"
        **{metric: t.MONEY_TYPE for metric in COST_METRICS},
    }
)

POOLS = ibis.schema(
    {
        col.RUN_ID: "string",
        col.POOL_ID: "string",
        col.RULE: "string",
        col.METHOD: "string",
        col.DRIVER: "string",
        col.GENERATION: "int64",
        t.BILLING_PERIOD: "string",
        col.BILLING_CURRENCY: "string",
        **dict.fromkeys(t.BILL_DIMENSIONS, "string"),
        col.RESOURCE_ID: "string",
        col.RESOURCE_NAME: "string",
        col.WINDOW_START: "timestamp",
        col.MEMBERS: "int64",
        # what the pool's cost already said of each dimension (NULL: nothing): its targets
        # keep these unless the rule names another value
        col.DIMENSIONS: "map<string, string>",
        # the dimension values the bill lines themselves had (tags, mappings): bill-side, like
        # ProviderName; an allocation's ``dimensions`` are where the cost went
        col.ORIGIN: "map<string, string>",
        # a direct pool of bill lines: where each owner value came from (apportion.tags.derived:
        # "tag", "inherited:<file>", "rule:<name>"); NULL for other pools
        col.SOURCES: "map<string, string>",
        **{metric: t.MONEY_TYPE for metric in COST_METRICS},
    }
)

# What each pool was made of. A generation-0 pool's members are bill lines (x_LineId), a later
# generation's are allocations (allocation_id); the run is the pool's. Kept to three columns:
# a period has a row per bill line, and every constant text column costs as much to write as
# the line ids (two seconds per 20 M rows).
POOL_MEMBERS = ibis.schema(
    {
        t.BILLING_PERIOD: "string",
        col.POOL_ID: "string",
        col.MEMBER_ID: "string",
    }
)

# Token usage as the providers' usage reports, gateways and telemetry give it, one row per
# report result or request: priced when read (apportion.pricing), never stored priced, so a
# changed override reprices every month.
USAGE_QUANTITIES = (
    "input_tokens",  # every input token, cached ones included
    "cache_read_tokens",
    "cache_write_tokens",  # 5-minute cache writes
    "cache_write_1h_tokens",
    "output_tokens",
    "web_searches",
    "requests",
    "input_audio_tokens",  # on top of input_tokens (OpenAI counts text there)
    "output_audio_tokens",  # on top of output_tokens
    "characters",  # text turned into speech
    "audio_seconds",  # audio transcribed
    "images",  # images generated or edited
)
# who measured the usage: the provider's usage report, a gateway in front of it (LiteLLM), or
# the application's telemetry (OpenTelemetry GenAI spans); reconcile compares one at a time
USAGE_ORIGINS = ("provider", "gateway", "telemetry")
USAGE = ibis.schema(
    {
        t.SOURCE: "string",
        t.FILE_HASH: "string",
        t.ROW_NUMBER: "int64",
        t.BILLING_PERIOD: "string",
        col.PROVIDER_NAME: "string",  # as the provider's bill names it: OpenAI, Anthropic
        "provider": "string",  # genai-prices' provider id: openai, anthropic
        col.WINDOW_START: "timestamp",
        "window_end": "timestamp",
        "account_id": "string",  # the project or workspace: the bill's SubAccountId
        "api_key_id": "string",
        "user_id": "string",
        "model": "string",
        "service_tier": "string",
        "batch": "boolean",
        "long_context": "boolean",
        **dict.fromkeys(USAGE_QUANTITIES, "int64"),
        t.EXTENSIONS: "map<string, string>",
        # who measured it (USAGE_ORIGINS); NULL in rows loaded before this column existed,
        # which all came from provider reports
        col.ORIGIN: "string",
        # the cost the source itself reported (a gateway's spend): it wins over the computed
        # price, which is kept beside it for checking; NULL where the source reports none
        "reported_cost": t.MONEY_TYPE,
        # the dimensions the usage names (a gateway's request tags, a span's attributes)
        col.DIMENSIONS: "map<string, string>",
    }
)

# What each use case delivered in a period, beside what it cost (MISSION R5): decisions served
# in the use case's own unit, users, and the value side (revenue, cost saved, a quality
# score, the price of the feature per user per month). Money is in ``currency``.
BUSINESS_METRICS = ibis.schema(
    {
        t.SOURCE: "string",
        t.FILE_HASH: "string",
        t.ROW_NUMBER: "int64",
        t.BILLING_PERIOD: "string",
        "workload": "string",  # a value of the ledger's workload dimension (use_case)
        "decisions": t.QUANTITY_TYPE,
        "decision_unit": "string",  # what one decision is: "requests answered", ...
        "users": t.QUANTITY_TYPE,
        "revenue": t.MONEY_TYPE,
        "cost_saved": t.MONEY_TYPE,
        "quality_score": t.QUANTITY_TYPE,
        "feature_price": t.MONEY_TYPE,  # per user per month
        "currency": "string",
    }
)

# A period's quantities that are not money, as its published run split them (config
# ``quantities``): per quantity, window and resource, the source's amount split by the key's
# driver rows, in the quantity's own unit; a row without dimensions is what no key reached.
QUANTITY_ALLOCATIONS = ibis.schema(
    {
        col.RUN_ID: "string",
        t.BILLING_PERIOD: "string",
        "quantity_name": "string",
        "unit": "string",
        col.WINDOW_START: "timestamp",
        col.RESOURCE_ID: "string",
        col.DIMENSIONS: "map<string, string>",
        "amount": t.QUANTITY_TYPE,
        col.QUANTITY: t.QUANTITY_TYPE,  # the key's quantity for the target
        col.POOL_QUANTITY: t.QUANTITY_TYPE,  # the key's quantity in the window and resource
        col.REASON: "string",
    }
)

SCHEMAS: dict[str, sch.Schema] = {
    t.COST_LINES: COST_LINES,
    t.DRIVERS: DRIVERS,
    t.QUARANTINE: QUARANTINE,
    t.LOADS: LOADS,
    t.ALLOCATIONS: ALLOCATIONS,
    t.POOLS: POOLS,
    t.POOL_MEMBERS: POOL_MEMBERS,
    t.USAGE: USAGE,
    t.BUSINESS_METRICS: BUSINESS_METRICS,
    t.QUANTITY_ALLOCATIONS: QUANTITY_ALLOCATIONS,
}
