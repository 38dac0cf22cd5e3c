"""Reconciliation: what the providers' usage reports cost at our prices against what their
invoices (cost reports, FOCUS exports) charged, per provider, account (project, workspace)
and day or month.

Usage is priced as read (apportion.pricing.tokens): grouped first by everything a price
depends on (model, day, batch, service tier, long context), priced per unit, then added up
per account. Invoiced cost is the BilledCost of the period's cost lines of the same
providers, by ``SubAccountId`` and charge day. Each pair shows the difference in money and
percent; a pair outside the tolerance fails the check. Usage with no invoice line behind it,
invoice lines with no usage, and usage that could not be priced are listed on their own.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import ibis.expr.types as ir

from apportion.engine.tables import USAGE_QUANTITIES
from apportion.money import EXACT, add, plain
from apportion.periods import Period
from apportion.pricing.tokens import CURRENCY, Pricer, TokenUsage
from apportion.schema import tables as t
from apportion.workspace import Workspace

Grain = Literal["day", "month"]
# what a price depends on, beside the provider and account the result is reported by
_PRICE_KEY = ("provider", "model", "batch", "service_tier", "long_context")


@dataclass(frozen=True)
class Gap:
    """One provider, account and day (or month): priced usage against invoiced cost."""

    provider: str
    account: str | None
    when: str  # YYYY-MM-DD, or YYYY-MM by month
    currency: str
    invoiced: Decimal
    priced: Decimal
    usage_rows: int
    invoice_lines: int

    @property
    def difference(self) -> Decimal:
        return EXACT.subtract(self.priced, self.invoiced)

    @property
    def percent(self) -> Decimal | None:
        return None if not self.invoiced else EXACT.divide(self.difference * 100, self.invoiced)

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "account": self.account,
            "when": self.when,
            "currency": self.currency,
            "invoiced": str(self.invoiced),
            "priced": str(self.priced),
            "difference": str(self.difference),
            "percent": None if self.percent is None else f"{self.percent:.4f}",
        }


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
    quarantined_cost_rows: int = 0  # refused bill rows of the period: in no invoiced figure

    def within(self, gap: Gap) -> bool:
        """A gap within the tolerance: a percent of the invoice, or the minimum in money."""
        allowed = max(self.minimum, abs(gap.invoiced) * self.tolerance_percent / 100)
        return abs(gap.difference) <= allowed

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
            "quarantined_cost_rows": self.quarantined_cost_rows,
        }


def reconcile(
    workspace: Workspace,
    period: Period,
    *,
    tolerance_percent: Decimal = Decimal(1),
    minimum: Decimal = Decimal("0.01"),
    grain: Grain = "day",
) -> Reconciliation:
    result = Reconciliation(str(period), tolerance_percent, minimum)
    pricer = Pricer(workspace.config.pricing)
    priced, usage_rows, sources = _priced_usage(workspace, period, pricer, grain, result)
    result.sources = sorted(sources)
    providers = {key[0] for key in usage_rows}  # every provider with usage, priced or not
    invoiced, lines = _invoiced(workspace, period, providers, grain)
    for key in sorted(set(priced) | set(invoiced), key=_order):
        gap = Gap(
            *key,
            CURRENCY,
            invoiced=invoiced.get(key, Decimal(0)),
            priced=priced.get(key, Decimal(0)),
            usage_rows=usage_rows.get(key, 0),
            invoice_lines=lines.get(key, 0),
        )
        if not gap.invoice_lines:
            result.usage_without_invoice.append(gap)
        elif not gap.usage_rows:
            result.invoice_without_usage.append(gap)
        else:
            result.compared.append(gap)
    result.quarantined_cost_rows = _quarantined_cost_rows(workspace, period)
    for gaps in (result.compared, result.usage_without_invoice, result.invoice_without_usage):
        gaps.sort(key=lambda gap: (-abs(gap.difference), _order(_key(gap))))
    return result


Key = tuple[str, str | None, str]  # provider, account, day or month


def _key(gap: Gap) -> Key:
    return gap.provider, gap.account, gap.when


def _order(key: Key) -> tuple[str, str, str]:
    return key[0], key[1] or "", key[2]


def _when(grain: Grain, column: ir.TimestampValue) -> ir.StringValue:
    return column.strftime("%Y-%m-%d" if grain == "day" else "%Y-%m")


def _priced_usage(
    workspace: Workspace, period: Period, pricer: Pricer, grain: Grain, result: Reconciliation
) -> tuple[dict[Key, Decimal], dict[Key, int], set[str]]:
    plane = workspace.data
    usage = plane.table(t.USAGE)
    usage = usage.filter(usage[t.BILLING_PERIOD] == str(period))
    grouped = usage.group_by(
        "ProviderName",
        "account_id",
        *_PRICE_KEY,
        day=usage.window_start.truncate("D"),
        when=_when(grain, usage.window_start),
    ).aggregate(rows=usage.count(), **{name: usage[name].sum() for name in USAGE_QUANTITIES})
    priced: dict[Key, Decimal] = defaultdict(Decimal)
    counted: dict[Key, int] = defaultdict(int)
    sources: set[str] = set()
    unpriced: dict[tuple[str, str, str], int] = defaultdict(int)
    for row in plane.to_arrow(grouped).to_pylist():
        key: Key = (row["ProviderName"], row["account_id"], row["when"])
        counted[key] += row["rows"]
        price = pricer.price(_token_usage(row))
        if price.amount is None:
            reason = price.reason or "no price"
            unpriced[(row["provider"], row["model"], reason)] += int(
                row["input_tokens"] or 0
            ) + int(row["output_tokens"] or 0)
            continue
        priced[key] = add(priced[key], price.amount)
        sources.add(price.source)
    result.unpriced = [
        Unpriced(provider, model, reason, tokens)
        for (provider, model, reason), tokens in sorted(unpriced.items())
    ]
    return dict(priced), dict(counted), sources


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
        batch=bool(row["batch"]),
        service_tier=row["service_tier"],
        long_context=bool(row["long_context"]),
    )


def _invoiced(
    workspace: Workspace, period: Period, providers: set[str], grain: Grain
) -> tuple[dict[Key, Decimal], dict[Key, int]]:
    """BilledCost of the providers' cost lines in the period's currency of prices, by
    sub-account and day or month."""
    plane = workspace.data
    lines = plane.table(t.COST_LINES)
    lines = lines.filter(
        (lines[t.BILLING_PERIOD] == str(period))
        & lines.ProviderName.isin(sorted(providers) or [""])
        & (lines.BillingCurrency == CURRENCY)
    )
    charged = lines.ChargePeriodStart.fill_null(lines.BillingPeriodStart)
    grouped = lines.group_by("ProviderName", "SubAccountId", when=_when(grain, charged)).aggregate(
        cost=lines.BilledCost.sum(), lines=lines.count()
    )
    invoiced: dict[Key, Decimal] = {}
    counted: dict[Key, int] = {}
    for row in plane.to_arrow(grouped).to_pylist():
        key: Key = (row["ProviderName"], row["SubAccountId"], row["when"])
        invoiced[key] = row["cost"] if row["cost"] is not None else Decimal(0)
        counted[key] = row["lines"]
    return invoiced, counted


def _quarantined_cost_rows(workspace: Workspace, period: Period) -> int:
    table = workspace.data.table(t.QUARANTINE)
    refused = table.filter((table[t.BILLING_PERIOD] == str(period)) & (table.kind == "cost"))
    return int(workspace.data.scalar(refused.count()))


def reconciliation_rows(result: Reconciliation) -> dict[str, list[dict[str, Any]]]:
    """The reconciliation as titled tables for people."""

    def rows(gaps: list[Gap]) -> list[dict[str, Any]]:
        return [
            {
                "provider": gap.provider,
                "account": gap.account or "(none)",
                "when": gap.when,
                "invoiced": plain(gap.invoiced),
                "priced": plain(gap.priced),
                "difference": plain(gap.difference),
                "percent": "" if gap.percent is None else f"{gap.percent:.2f}",
                "ok": "yes" if result.within(gap) else "NO",
            }
            for gap in gaps
        ]

    return {
        f"Priced usage against invoiced cost ({CURRENCY}), largest gap first": rows(
            result.compared
        ),
        "Usage with no invoice line": rows(result.usage_without_invoice),
        "Invoice lines with no usage": rows(result.invoice_without_usage),
        "Usage that could not be priced": [u.as_dict() for u in result.unpriced],
    }
