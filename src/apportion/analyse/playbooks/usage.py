"""The period's token usage as the playbooks read it: one group per use case, account, model,
day and price variant, with the sums each playbook needs worked out in the engine, in one
grouped scan.

Usage is measured in up to three places (a provider's report, a gateway, telemetry); adding
them would count a request two or three times, so each provider's usage comes from one of
them: the first of ``playbooks.usage_origins`` it has (per-request gateway logs first, as
they show each request's size and content hash). A request's use case is the ledger's
workload dimension as the usage names it; a provider report names none, so its use case is
that of its project or workspace in a ``tags.inherit`` table keyed by ``SubAccountId``, else
``__unallocated__``. A row whose provider the usage does not name as billed (a gateway's call
to a provider it does not know) goes by its genai-prices provider id, else ``(unknown)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from apportion.config.playbooks import PlaybooksConfig
from apportion.engine.dataplane import DataPlane
from apportion.engine.tables import USAGE_QUANTITIES
from apportion.pricing.tokens import TokenUsage
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.focus import canonical_name
from apportion.tags.derived import read_mapping_table
from apportion.tags.policy import load_policy
from apportion.workspace import Workspace

# what TokenUsage prices; ``requests`` is counted beside them
PRICED = tuple(name for name in USAGE_QUANTITIES if name != "requests")
# the sums of a subset of rows the playbooks price: short requests, repeated requests
SUBSETS = ("short", "repeated")
_NO_HASH = ("", "cache off")  # what LiteLLM writes as the cache key when caching is off
UNKNOWN = "(unknown)"  # the provider of a usage row that names none
_KEYS = (
    "use_case",
    "account_id",
    col.PROVIDER_NAME,
    "provider",
    "model",
    "day",
    "batch",
    "service_tier",
    "long_context",
    "per_request",
)


@dataclass(frozen=True)
class Group:
    """One use case's usage of one model (and price variant) on one day."""

    use_case: str
    account: str | None
    provider_name: str
    provider: str  # genai-prices' id
    model: str
    day: datetime
    batch: bool
    service_tier: str | None
    long_context: bool
    per_request: bool  # a gateway's or telemetry's rows: one request each
    requests: int
    tokens: dict[str, int]  # every priced quantity of the group
    sized_requests: int  # requests of rows that count them (a usage report may not)
    sized_input: int  # input tokens of those rows
    long_uncached: int  # uncached input tokens of requests of at least min_prompt_tokens
    excess_input: int  # uncached input tokens above the target context, per request
    short_requests: int
    hashed_requests: int  # requests with a content hash
    repeats: int  # requests identical to an earlier one of the month
    subsets: dict[str, dict[str, int]] = field(default_factory=dict)  # short, repeated

    def usage(self, tokens: Mapping[str, int], model: str | None = None) -> TokenUsage:
        """These tokens as the price source prices them: this group's day and variant, on its
        own model or another one."""
        return TokenUsage(
            provider=self.provider,
            model=model or self.model,
            at=self.day,
            batch=self.batch,
            service_tier=self.service_tier,
            long_context=self.long_context,
            **{name: tokens.get(name, 0) for name in PRICED},
        )

    @property
    def cache_read_tokens(self) -> int:
        return self.tokens["cache_read_tokens"]

    @property
    def input_tokens(self) -> int:
        return self.tokens["input_tokens"]


@dataclass(frozen=True)
class Mapped:
    """A mapping table's row: the use case of a project or workspace from a date."""

    account: str
    start: date | None
    end: date | None
    use_case: str

    def applies(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day < self.end)


@dataclass(frozen=True)
class PeriodUsage:
    groups: list[Group]
    origins: dict[str, str]  # provider (as billed) -> whose usage was read


def period_usage(workspace: Workspace, period: str, config: PlaybooksConfig) -> PeriodUsage:
    plane = workspace.data
    usage = workspace.data.table(t.USAGE)
    usage = usage.filter(usage[t.BILLING_PERIOD] == period)
    usage = usage.mutate(ProviderName=_provider_name(usage))
    origins = _origins(plane, usage, config.usage_origins)
    chosen = usage.filter(
        ibis.or_(
            ibis.literal(False),
            *[
                (usage.ProviderName == provider) & (_origin(usage) == origin)
                for provider, origin in sorted(origins.items())
            ],
        )
    )
    prepared = _prepared(plane, chosen, workspace.config.ledger.workload, config)
    rows = plane.to_arrow(_grouped(prepared, config)).to_pylist()
    accounts = _account_use_cases(workspace)
    return PeriodUsage([_group(row, accounts) for row in rows], origins)


def _origin(usage: ir.Table) -> ir.StringValue:
    return usage.origin.fill_null("provider")  # rows from before origins were recorded


def _provider_name(usage: ir.Table) -> ir.StringValue:
    """The provider as billed; where the usage names none, its genai-prices id or
    ``(unknown)``, so that the row is read, grouped and sorted like any other."""
    return ibis.coalesce(
        usage.ProviderName.nullif(""), usage.provider.nullif(""), ibis.literal(UNKNOWN)
    )


def _origins(plane: DataPlane, usage: ir.Table, order: list[str]) -> dict[str, str]:
    pairs = usage.select(col.PROVIDER_NAME, origin=_origin(usage)).distinct()
    found: dict[str, set[str]] = {}
    for row in plane.to_arrow(pairs).to_pylist():
        found.setdefault(row[col.PROVIDER_NAME], set()).add(row["origin"])
    chosen = {
        provider: next((origin for origin in order if origin in origins), None)
        for provider, origins in found.items()
    }
    return {provider: origin for provider, origin in sorted(chosen.items()) if origin}


def _prepared(
    plane: DataPlane, usage: ir.Table, workload: str, config: PlaybooksConfig
) -> ir.Table:
    """Per row: its use case, whether it is one request, its uncached input, its content
    hash and whether an earlier request of the month had the same one."""
    # each key's "no hash" values are blanked before the first present one is taken, so a
    # gateway's "Cache OFF" does not hide an application's prompt hash under a later key
    hashes = [
        _hash(plane.map_value(usage[t.EXTENSIONS], key))
        for key in config.response_caching.hash_keys
    ]
    content = hashes[0] if len(hashes) == 1 else ibis.coalesce(*hashes)
    uncached = (
        usage.input_tokens
        - usage.cache_read_tokens
        - usage.cache_write_tokens
        - usage.cache_write_1h_tokens
    )
    rows = usage.mutate(
        use_case=plane.map_value(usage.dimensions, workload),
        per_request=_origin(usage) != "provider",
        day=usage.window_start.truncate("D"),
        batch=usage.batch.fill_null(False),
        long_context=usage.long_context.fill_null(False),
        _uncached=ibis.greatest(uncached, 0),
        _hash=content,
    )
    # ibis numbers rows from 0: every row after the first of its hash is a repeat
    order = ibis.window(
        group_by=[rows.use_case, rows.provider, rows.model, rows._hash],
        order_by=[rows.window_start, rows[t.FILE_HASH], rows[t.ROW_NUMBER]],
    )
    return rows.mutate(_repeat=rows._hash.notnull() & (ibis.row_number().over(order) > 0))


def _hash(value: ir.StringValue) -> ir.StringValue:
    return ibis.ifelse(value.strip().lower().isin(list(_NO_HASH)), ibis.null("string"), value)


def _grouped(rows: ir.Table, config: PlaybooksConfig) -> ir.Table:
    def total(when: ir.BooleanValue, value: ir.IntegerValue) -> ir.IntegerScalar:
        return ibis.ifelse(when, value, 0).sum()

    sized = rows.requests > 0
    long = sized & (rows.input_tokens >= config.prompt_caching.min_prompt_tokens * rows.requests)
    routing = config.routing
    short = (
        rows.per_request
        & (rows.input_tokens <= routing.max_prompt_tokens)
        & (rows.output_tokens <= routing.max_output_tokens)
    )
    target = config.retrieval.target_input_tokens * rows.requests
    excess = ibis.least(ibis.greatest(rows.input_tokens - target, 0), rows._uncached)
    subsets = {"short": short, "repeated": rows._repeat}
    return rows.group_by(*_KEYS).aggregate(
        requests=rows.requests.sum(),
        sized_requests=total(sized, rows.requests),
        sized_input=total(sized, rows.input_tokens),
        long_uncached=total(long, rows._uncached),
        excess_input=total(sized, excess),
        short_requests=total(short, rows.requests),
        hashed_requests=total(rows._hash.notnull(), rows.requests),
        repeats=total(rows._repeat, rows.requests),
        **{name: rows[name].sum() for name in PRICED},
        **{
            f"{subset}__{name}": total(when, rows[name])
            for subset, when in subsets.items()
            for name in PRICED
        },
    )


def _group(row: dict[str, Any], accounts: list[list[Mapped]]) -> Group:
    day = row["day"]
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)  # prices are dated by the day

    def count(name: str) -> int:
        return int(row[name] or 0)

    return Group(
        use_case=row["use_case"] or _account_use_case(accounts, row["account_id"], at.date()),
        account=row["account_id"],
        provider_name=row[col.PROVIDER_NAME],
        provider=row["provider"] or "",
        model=row["model"],
        day=at,
        batch=bool(row["batch"]),
        service_tier=row["service_tier"],
        long_context=bool(row["long_context"]),
        per_request=bool(row["per_request"]),
        requests=count("requests"),
        tokens={name: count(name) for name in PRICED},
        sized_requests=count("sized_requests"),
        sized_input=count("sized_input"),
        long_uncached=count("long_uncached"),
        excess_input=count("excess_input"),
        short_requests=count("short_requests"),
        hashed_requests=count("hashed_requests"),
        repeats=count("repeats"),
        subsets={s: {name: count(f"{s}__{name}") for name in PRICED} for s in SUBSETS},
    )


def _account_use_cases(workspace: Workspace) -> list[list[Mapped]]:
    """The mapping tables that give a project or workspace (SubAccountId) its use case, most
    specific first, as tags.inherit lists them."""
    config = workspace.config
    policy = load_policy(config, workspace.root)
    workload = config.ledger.workload
    tables = []
    for spec in config.tags.inherit:
        if canonical_name(spec.column) != col.SUB_ACCOUNT_ID:
            continue
        rows = read_mapping_table(Path(workspace.root) / spec.file, spec, policy)
        tables.append(
            [
                Mapped(r.key, r.start, r.end, r.values[workload])
                for r in rows
                if workload in r.values
            ]
        )
    return tables


def _account_use_case(tables: list[list[Mapped]], account: str | None, day: date) -> str:
    for rows in tables:
        for row in rows:
            if row.account == account and row.applies(day):
                return row.use_case
    return t.UNALLOCATED
