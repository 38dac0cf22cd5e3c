"""Reconciliation: what the providers' usage reports cost at our prices against what their
invoices (cost reports, FOCUS exports) charged, per provider, account (project, workspace)
and day or month.

Usage is priced as read (apportion.pricing.tokens): grouped first by everything a price
depends on (model, day, batch, service tier, long context), priced per unit, then added up
per account. Invoiced cost is the BilledCost of the period's cost lines of the same
providers, by ``SubAccountId`` and charge day. Each pair shows the difference in money and
percent; a pair outside the tolerance fails the check. Usage with no invoice line behind it
(with the use cases and other dimensions it names), invoice lines with no usage, and usage
that could not be priced are listed on their own.

Usage is measured in up to three places (``usage.origin``): the provider's own usage report,
a gateway in front of it (LiteLLM) and the application's telemetry (OpenTelemetry spans).
Each provider is compared with one of them, never their sum, which would count a request two
or three times: the one asked for, or (``auto``) the provider's report where there is one,
else the gateway's, else the telemetry's. A gateway or a span does not know the provider's
project or workspace, so their usage is compared per provider and day, against the invoice
added up over its accounts. Where the source reported a cost itself (LiteLLM's ``spend``),
that cost is what is compared and the list price is shown beside it.

Invoiced cost is read from lines in ServiceCategory "AI and Machine Learning" (the provider
reports' lines, and the native exports' AI services: apportion.ingest.reports.ai_category),
so a cloud provider's Bedrock or Azure OpenAI lines are compared without its virtual
machines.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from apportion.engine.tables import USAGE_ORIGINS, USAGE_QUANTITIES
from apportion.ingest.quarantine import money_at_stake, money_texts, quarantined
from apportion.ingest.reports import AI_SERVICE_CATEGORY
from apportion.money import EXACT, add, plain
from apportion.periods import Period
from apportion.pricing.tokens import CURRENCY, Pricer, TokenUsage
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.workspace import Workspace

Grain = Literal["day", "month"]
Origin = Literal["auto", "provider", "gateway", "telemetry"]
# what a price depends on, beside the provider and account the result is reported by
_PRICE_KEY = ("provider", "model", "batch", "service_tier", "long_context")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Gap:
    """One provider, account and day (or month): priced usage against invoiced cost."""

    provider: str
    account: str | None
    when: str  # YYYY-MM-DD, or YYYY-MM by month
    currency: str
    invoiced: Decimal
    priced: Decimal  # the usage at list (or overridden) prices
    usage_rows: int
    invoice_lines: int
    origin: str = "provider"  # whose usage: provider, gateway or telemetry
    # the usage's cost as compared: its reported cost where the source reported one for
    # every row of a priced group, else its price
    tracked: Decimal | None = None
    reported: Decimal | None = None  # what the source said the usage cost; None if it said not
    named: tuple[tuple[str, tuple[str, ...]], ...] = ()  # dimension -> values the usage names

    @property
    def usage_cost(self) -> Decimal:
        return self.priced if self.tracked is None else self.tracked

    @property
    def difference(self) -> Decimal:
        return EXACT.subtract(self.usage_cost, self.invoiced)

    @property
    def percent(self) -> Decimal | None:
        if not self.invoiced:
            return None
        return EXACT.divide(EXACT.multiply(self.difference, HUNDRED), self.invoiced)

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "account": self.account,
            "when": self.when,
            "currency": self.currency,
            "origin": self.origin,
            "invoiced": str(self.invoiced),
            "usage_cost": str(self.usage_cost),
            "priced": str(self.priced),
            "reported": None if self.reported is None else str(self.reported),
            "difference": str(self.difference),
            "percent": None if self.percent is None else f"{self.percent:.4f}",
            "named": {dimension: list(values) for dimension, values in self.named},
        }

    def named_text(self) -> str:
        return "; ".join(f"{d}={', '.join(values)}" for d, values in self.named)


@dataclass(frozen=True)
class Unpriced:
    provider: str
    model: str
    reason: str
    tokens: int

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__}


@dataclass
class Reconciliation:
    period: str
    tolerance_percent: Decimal
    minimum: Decimal
    compared: list[Gap] = field(default_factory=list)  # both sides present, largest gap first
    usage_without_invoice: list[Gap] = field(default_factory=list)
    invoice_without_usage: list[Gap] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # the price sources used
    origins: dict[str, str] = field(default_factory=dict)  # provider -> whose usage compared
    quarantined_cost_rows: int = 0  # refused bill rows of the period: in no invoiced figure
    # the money those rows hold back: currency -> cost metric -> amount
    quarantined_money: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    # the compared providers' AI lines billed in another currency than prices: in no figure
    other_currency_lines: int = 0

    def within(self, gap: Gap) -> bool:
        """A gap within the tolerance: a percent of the invoice, or the minimum in money."""
        share = EXACT.multiply(gap.invoiced.copy_abs(), self.tolerance_percent)
        allowed = max(self.minimum, EXACT.divide(share, HUNDRED))
        return gap.difference.copy_abs() <= allowed  # abs() would round to 28 digits

    @property
    def outside(self) -> list[Gap]:
        every = [*self.compared, *self.usage_without_invoice, *self.invoice_without_usage]
        return [gap for gap in every if not self.within(gap)]

    @property
    def reconciles(self) -> bool:
        return not self.outside and not self.unpriced

    def as_dict(self) -> dict[str, Any]:
        def rows(gaps: list[Gap]) -> list[dict[str, Any]]:
            return [{**gap.as_dict(), "within_tolerance": self.within(gap)} for gap in gaps]

        return {
            "period": self.period,
            "tolerance_percent": str(self.tolerance_percent),
            "minimum": str(self.minimum),
            "reconciles": self.reconciles,
            "compared": rows(self.compared),
            "usage_without_invoice": rows(self.usage_without_invoice),
            "invoice_without_usage": rows(self.invoice_without_usage),
            "unpriced": [u.as_dict() for u in self.unpriced],
            "price_sources": self.sources,
            "usage_origins": self.origins,
            "quarantined_cost_rows": self.quarantined_cost_rows,
            "quarantined_money": money_texts(self.quarantined_money),
            "other_currency_lines": self.other_currency_lines,
        }


def reconcile(
    workspace: Workspace,
    period: Period,
    *,
    tolerance_percent: Decimal = Decimal(1),
    minimum: Decimal = Decimal("0.01"),
    grain: Grain = "day",
    usage: Origin = "auto",
) -> Reconciliation:
    result = Reconciliation(str(period), tolerance_percent, minimum)
    result.origins = _origins(workspace, period, usage)
    pricer = Pricer(workspace.config.pricing)
    metered = _metered_usage(workspace, period, pricer, grain, result)
    by_account = {p for p, origin in result.origins.items() if origin == "provider"}
    invoiced = _invoiced(workspace, period, set(result.origins), by_account, grain)
    for key in sorted(set(metered) | set(invoiced.cost), key=_order):
        found = metered.get(key, _Metered())
        gap = Gap(
            *key,
            CURRENCY,
            invoiced=invoiced.cost.get(key, Decimal(0)),
            priced=found.priced,
            usage_rows=found.rows,
            invoice_lines=invoiced.lines.get(key, 0),
            origin=result.origins.get(key[0], "provider"),
            tracked=found.tracked,
            reported=found.reported_whole,
            named=found.named_values(workspace.config.dimensions),
        )
        if not gap.invoice_lines:
            result.usage_without_invoice.append(gap)
        elif not gap.usage_rows:
            result.invoice_without_usage.append(gap)
        else:
            result.compared.append(gap)
    result.quarantined_cost_rows = _quarantined_cost_rows(workspace, period)
    refused = quarantined(workspace.data, period=str(period))
    result.quarantined_money = money_at_stake(
        [r for r in refused if r.kind == "cost" and r.period == str(period)]  # as counted
    )
    result.other_currency_lines = invoiced.other_currency_lines
    for gaps in (result.compared, result.usage_without_invoice, result.invoice_without_usage):
        gaps.sort(key=lambda gap: (gap.difference.copy_abs().copy_negate(), _order(_key(gap))))
    return result


Key = tuple[str, str | None, str]  # provider, account, day or month


def _key(gap: Gap) -> Key:
    return gap.provider, gap.account, gap.when


def _order(key: Key) -> tuple[str, str, str]:
    return key[0], key[1] or "", key[2]


def _when(grain: Grain, column: ir.TimestampValue) -> ir.StringValue:
    return column.strftime("%Y-%m-%d" if grain == "day" else "%Y-%m")


def _origins(workspace: Workspace, period: Period, wanted: Origin) -> dict[str, str]:
    """Whose usage each provider with usage in the period is compared with: the one asked
    for, or the first of the provider's report, a gateway and telemetry that has any."""
    usage = _period_usage(workspace, period)
    pairs = usage.select(col.PROVIDER_NAME, origin=_origin(usage)).distinct()
    found: dict[str, set[str]] = defaultdict(set)
    for row in workspace.data.to_arrow(pairs).to_pylist():
        found[row[col.PROVIDER_NAME]].add(row["origin"])
    if wanted != "auto":
        return {provider: wanted for provider, origins in found.items() if wanted in origins}
    return {
        provider: next(origin for origin in USAGE_ORIGINS if origin in origins)
        for provider, origins in found.items()
    }


def _period_usage(workspace: Workspace, period: Period) -> ir.Table:
    usage = workspace.data.table(t.USAGE)
    return usage.filter(usage[t.BILLING_PERIOD] == str(period))


def _origin(usage: ir.Table) -> ir.StringValue:
    return usage.origin.fill_null("provider")  # rows from before origins were recorded


def _compared_usage(
    workspace: Workspace, period: Period, origins: dict[str, str]
) -> tuple[ir.Table, ir.StringValue]:
    """The period's usage of the origin each provider is compared with, and the account it is
    compared by (none for a gateway's or telemetry's usage)."""
    usage = _period_usage(workspace, period)
    chosen = ibis.or_(
        ibis.literal(False),
        *[
            (usage.ProviderName == provider) & (_origin(usage) == origin)
            for provider, origin in sorted(origins.items())
        ],
    )
    usage = usage.filter(chosen)
    account = ibis.ifelse(_origin(usage) == "provider", usage.account_id, ibis.null("string"))
    return usage, account


@dataclass
class _Metered:
    """One provider, account and day's usage: its price, and what its source reported."""

    priced: Decimal = Decimal(0)
    tracked: Decimal = Decimal(0)
    reported: Decimal | None = None
    rows: int = 0
    reported_rows: int = 0
    # the dimension values (use cases, cost centres, ...) the usage names: what usage without
    # an invoice line is for
    named: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def named_values(self, dimensions: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return tuple((d, tuple(sorted(self.named[d]))) for d in dimensions if self.named.get(d))

    @property
    def reported_whole(self) -> Decimal | None:
        """What the source reported, where it reported a cost for every row; a part of the
        usage's cost is no figure to compare or show."""
        return self.reported if self.rows and self.reported_rows == self.rows else None


def _metered_usage(
    workspace: Workspace, period: Period, pricer: Pricer, grain: Grain, result: Reconciliation
) -> dict[Key, _Metered]:
    usage, account = _compared_usage(workspace, period, result.origins)
    dimensions = workspace.config.dimensions
    # grouped by the dimensions too, to name them; prices are per unit, so the finer groups
    # price to the same total
    grouped = usage.group_by(
        col.PROVIDER_NAME,
        *_PRICE_KEY,
        account=account,
        day=usage.window_start.truncate("D"),
        when=_when(grain, usage.window_start),
        **{f"_{d}": usage.dimensions.get(d) for d in dimensions},
    ).aggregate(
        rows=usage.count(),
        reported=usage.reported_cost.sum(),
        reported_rows=usage.reported_cost.count(),
        **{name: usage[name].sum() for name in USAGE_QUANTITIES},
    )
    metered: dict[Key, _Metered] = defaultdict(_Metered)
    unpriced: dict[tuple[str, str, str], int] = defaultdict(int)
    sources: set[str] = set()
    for row in workspace.data.to_arrow(grouped).to_pylist():
        found = metered[(row[col.PROVIDER_NAME], row["account"], row["when"])]
        found.rows += row["rows"]
        found.reported_rows += row["reported_rows"]
        for d in dimensions:
            if row[f"_{d}"] is not None:
                found.named[d].add(row[f"_{d}"])
        reported = row["reported"] if row["reported_rows"] == row["rows"] else None
        if row["reported"] is not None:
            found.reported = add(found.reported or Decimal(0), row["reported"])
        price = pricer.price(_token_usage(row))
        if price.amount is not None:
            found.priced = add(found.priced, price.amount)
            sources.add(price.source)
        elif reported is None:  # a reported cost stands in for a price the list lacks
            reason = price.reason or "no price"
            unpriced[(row["provider"], row["model"], reason)] += int(
                row["input_tokens"] or 0
            ) + int(row["output_tokens"] or 0)
        tracked = reported if reported is not None else price.amount
        found.tracked = add(found.tracked, tracked or Decimal(0))
    result.unpriced = [
        Unpriced(provider, model, reason, tokens)
        for (provider, model, reason), tokens in sorted(unpriced.items())
    ]
    result.sources = sorted(sources)
    return dict(metered)


def _token_usage(row: dict[str, Any]) -> TokenUsage:
    day = row["day"]  # a datetime: prices are dated by the day the usage fell on
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return TokenUsage(
        provider=row["provider"],
        model=row["model"],
        at=at,
        input_tokens=int(row["input_tokens"] or 0),
        cache_read_tokens=int(row["cache_read_tokens"] or 0),
        cache_write_tokens=int(row["cache_write_tokens"] or 0),
        cache_write_1h_tokens=int(row["cache_write_1h_tokens"] or 0),
        output_tokens=int(row["output_tokens"] or 0),
        web_searches=int(row["web_searches"] or 0),
        input_audio_tokens=int(row["input_audio_tokens"] or 0),
        output_audio_tokens=int(row["output_audio_tokens"] or 0),
        characters=int(row["characters"] or 0),
        audio_seconds=int(row["audio_seconds"] or 0),
        images=int(row["images"] or 0),
        batch=bool(row["batch"]),
        service_tier=row["service_tier"],
        long_context=bool(row["long_context"]),
    )


@dataclass
class _Invoiced:
    cost: dict[Key, Decimal]
    lines: dict[Key, int]
    other_currency_lines: int  # AI lines billed in another currency than prices: compared not


def _invoiced(
    workspace: Workspace,
    period: Period,
    providers: set[str],
    by_account: set[str],
    grain: Grain,
) -> _Invoiced:
    """BilledCost of the providers' AI cost lines in the currency of prices, by day or month,
    and by sub-account for the providers whose own usage report is compared."""
    plane = workspace.data
    lines = workspace.data.table(t.COST_LINES)
    lines = lines.filter(
        (lines[t.BILLING_PERIOD] == str(period))
        & lines.ProviderName.isin(sorted(providers) or [""])
        & (lines.ServiceCategory == AI_SERVICE_CATEGORY)
    )
    account = ibis.ifelse(
        lines.ProviderName.isin(sorted(by_account) or [""]),
        lines.SubAccountId,
        ibis.null("string"),
    )
    charged = lines.ChargePeriodStart.fill_null(lines.BillingPeriodStart)
    grouped = lines.group_by(
        col.PROVIDER_NAME,
        account=account,
        when=_when(grain, charged),
        priced_currency=lines.BillingCurrency == CURRENCY,
    ).aggregate(cost=lines.BilledCost.sum(), lines=lines.count())
    found = _Invoiced({}, {}, 0)
    for row in plane.to_arrow(grouped).to_pylist():
        if not row["priced_currency"]:
            found.other_currency_lines += row["lines"]
            continue
        key: Key = (row[col.PROVIDER_NAME], row["account"], row["when"])
        found.cost[key] = row["cost"] if row["cost"] is not None else Decimal(0)
        found.lines[key] = row["lines"]
    return found


def _quarantined_cost_rows(workspace: Workspace, period: Period) -> int:
    table = workspace.data.table(t.QUARANTINE)
    refused = table.filter((table[t.BILLING_PERIOD] == str(period)) & (table.kind == "cost"))
    return int(workspace.data.scalar(refused.count()))


def reconciliation_rows(result: Reconciliation) -> dict[str, list[dict[str, Any]]]:
    """The reconciliation as titled tables for people. The usage cost is what is compared: a
    gateway's reported spend where it reported one, else the price (shown beside it)."""

    def rows(gaps: list[Gap], *, named: bool = False) -> list[dict[str, Any]]:
        return [
            {
                "provider": gap.provider,
                "account": gap.account or ("(none)" if gap.origin == "provider" else "(all)"),
                "when": gap.when,
                "usage": gap.origin,
                "invoiced": plain(gap.invoiced),
                "usage cost": plain(gap.usage_cost),
                "priced": plain(gap.priced),
                "difference": plain(gap.difference),
                "percent": "" if gap.percent is None else f"{gap.percent:.2f}",
                "ok": "yes" if result.within(gap) else "NO",
                **({"named": gap.named_text()} if named else {}),
            }
            for gap in gaps
        ]

    return {
        f"Usage against invoiced cost ({CURRENCY}), largest gap first": rows(result.compared),
        "Usage with no invoice line": rows(result.usage_without_invoice, named=True),
        "Invoice lines with no usage": rows(result.invoice_without_usage),
        "Usage that could not be priced": [u.as_dict() for u in result.unpriced],
    }
