"""Statements: allocated cost grouped by dimensions, categories, rules or the bill's own
columns, in figures that agree everywhere.

Amounts are rounded to the currency's minor unit once, at one grain (:func:`statement_grain`:
every dimension, category, rule, method, unallocated reason and bill column an allocation
carries), by largest remainder so the grain lines add up to the rounded total. Every view
sums those same rounded lines: a statement by cost centre, by provider and service, the
ledger's lines, the journal, the pages and the API give the same figure to the cent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from apportion.allocate.split import round_to
from apportion.errors import UsageError
from apportion.ledger.published import final_allocations
from apportion.money import EXACT, exact_sum
from apportion.periods import Period
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.currency import minor_units
from apportion.schema.focus import COST_METRICS
from apportion.workspace import Workspace

NONE = "(none)"
UNALLOCATED_REASON = "unallocated_reason"

# Groupings besides the configured dimensions, and the allocation column each one reads.
EXTRA_GROUPS = {
    "category": t.CATEGORY,
    col.METHOD: col.METHOD,
    col.RULE: col.RULE,
    "provider": col.PROVIDER_NAME,
    "service": col.SERVICE_NAME,
    "service_category": col.SERVICE_CATEGORY,
    "sub_account": col.SUB_ACCOUNT_ID,
    "billing_account": col.BILLING_ACCOUNT_ID,
    "region": col.REGION_ID,
    "charge_category": col.CHARGE_CATEGORY,
    "resource": col.RESOURCE_NAME,
}
# the groupings that are the bill's own columns: what statement lines are rounded within,
# a provider's service first
SERVICE = ("provider", "service")
BILL_GROUPS = (
    "provider",
    "service",
    "service_category",
    "sub_account",
    "billing_account",
    "region",
    "charge_category",
    "category",
)


class StatementError(UsageError):
    pass


@dataclass(frozen=True)
class StatementLine:
    keys: dict[str, str]
    currency: str
    amounts: dict[str, Decimal]  # rounded to the currency's minor unit
    exact: dict[str, Decimal]

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.keys,
            "currency": self.currency,
            **{metric: str(value) for metric, value in self.amounts.items()},
        }


def groupings(workspace: Workspace) -> list[str]:
    """What a statement can be grouped by: the dimensions, then the other groupings."""
    return [*workspace.config.dimensions, *EXTRA_GROUPS, UNALLOCATED_REASON]


def grain_columns(workspace: Workspace, final: ir.Table) -> dict[str, ir.Value]:
    """The grain's keys as expressions over final allocations."""
    dims = workspace.config.dimensions
    payer = workspace.config.ledger.payer
    # why cost has no payer: its pool's reason (no rule, no driver), else why its rule and
    # its cost named no payer; empty where it has one
    reason = ibis.ifelse(
        final.dimensions[payer] == t.UNALLOCATED,
        final.reason.fill_null(final.gap_reason).fill_null("unknown"),
        ibis.null("string"),
    )
    return {
        **{d: final.dimensions[d] for d in dims},
        **{name: final[column] for name, column in EXTRA_GROUPS.items()},
        UNALLOCATED_REASON: reason,
    }


def statement_grain(workspace: Workspace, period: Period) -> list[StatementLine]:
    """The period's final allocations at the finest grain any view groups by, each line
    rounded once. The bill is the anchor: per currency and metric, each provider's service
    is that part of the bill rounded to the minor unit (so a statement by provider and
    service shows the bill's own figures), its parts by the bill's other columns (account,
    region, charge and AI category) add up to it by largest remainder, and the lines of each
    part add up to the part the same way; every other grouping adds up the same lines."""
    final = final_allocations(workspace, period)
    keys = {name: value.fill_null(NONE) for name, value in grain_columns(workspace, final).items()}
    grouped = final.group_by(currency=final.BillingCurrency, **keys).aggregate(
        **{metric: final[metric].sum() for metric in COST_METRICS}
    )
    rows = workspace.data.to_arrow(grouped.order_by(["currency", *keys])).to_pylist()
    services: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        services[(row["currency"], *(row[name] for name in SERVICE))].append(row)
    lines: list[StatementLine] = []
    for (currency, *_), group in sorted(services.items()):
        rounded = {
            metric: _rounded_within(group, metric, minor_units(currency)) for metric in COST_METRICS
        }
        lines.extend(
            StatementLine(
                keys={name: row[name] for name in keys},
                currency=currency,
                amounts={metric: rounded[metric][index] for metric in COST_METRICS},
                exact={metric: row[metric] or Decimal(0) for metric in COST_METRICS},
            )
            for index, row in enumerate(group)
        )
    return sorted(lines, key=lambda line: (line.currency, *line.keys.values()))


def _rounded_within(rows: list[dict[str, Any]], metric: str, places: int) -> list[Decimal]:
    """One provider's service, rounded: its total to the minor unit (half away from zero, as
    invoices round), its parts by the rest of the bill's columns to that total, each part's
    lines to the part (largest remainder)."""
    exact = [row[metric] or Decimal(0) for row in rows]
    total = exact_sum(exact).quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=EXACT
    )
    parts: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        parts[tuple(row[name] for name in BILL_GROUPS)].append(index)
    members = list(parts.values())
    part_totals = round_to([exact_sum(exact[i] for i in m) for m in members], places, total)
    found: list[Decimal] = [Decimal(0)] * len(rows)
    for indices, part_total in zip(members, part_totals, strict=True):
        for index, amount in zip(
            indices, round_to([exact[i] for i in indices], places, part_total), strict=True
        ):
            found[index] = amount
    return found


def statements(
    workspace: Workspace, period: Period, by: Sequence[str]
) -> tuple[list[StatementLine], list[StatementLine]]:
    """The statement lines grouped by ``by`` (sums of the rounded grain) and one total line
    per currency."""
    known = groupings(workspace)
    unknown = [name for name in by if name not in known]
    if unknown or not by:
        raise StatementError(
            f"cannot group by {', '.join(unknown) or 'nothing'}: choose from {', '.join(known)}"
        )
    return summed(statement_grain(workspace, period), by)


def summed(
    grain: Sequence[StatementLine], by: Sequence[str]
) -> tuple[list[StatementLine], list[StatementLine]]:
    """Grain lines added up by ``by``, and one total line per currency."""
    groups: dict[tuple[str, ...], list[StatementLine]] = defaultdict(list)
    for line in grain:
        groups[(line.currency, *(line.keys[name] for name in by))].append(line)
    lines = [
        StatementLine(
            keys=dict(zip(by, key[1:], strict=True)),
            currency=key[0],
            amounts=_sums(members, rounded=True),
            exact=_sums(members, rounded=False),
        )
        for key, members in sorted(groups.items())
    ]
    totals = []
    for currency in sorted({line.currency for line in grain}):
        members = [line for line in grain if line.currency == currency]
        totals.append(
            StatementLine(
                keys=dict.fromkeys(by, "TOTAL"),
                currency=currency,
                amounts=_sums(members, rounded=True),
                exact=_sums(members, rounded=False),
            )
        )
    return lines, totals


def _sums(lines: Sequence[StatementLine], *, rounded: bool) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for metric in COST_METRICS:
        values = (line.amounts[metric] if rounded else line.exact[metric] for line in lines)
        found[metric] = exact_sum(values)
    return found
