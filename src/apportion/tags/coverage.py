"""Tag coverage of a period's bills: how much cost carries each required dimension with an
allowed value, where the gaps are (by provider, category and sub-account), which resources
cost the most without them, and how that has moved month on month.

Lines are read as :mod:`apportion.tags.lines` says. Amounts are exact sums; a share is the
covered amount over the total, per currency and cost metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from apportion.money import EXACT, add, plain
from apportion.periods import Period
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS
from apportion.tags.lines import TaggedLines
from apportion.tags.policy import TagPolicy
from apportion.workspace import Workspace

BREAKDOWNS = {
    "provider": col.PROVIDER_NAME,
    "category": t.CATEGORY,
    "sub_account": col.SUB_ACCOUNT_NAME,
}
ALL = "all required"  # the row for "every required dimension present and valid"


@dataclass
class Covered:
    """The cost of some lines, and how much of it each dimension covers."""

    total: dict[str, Decimal] = field(default_factory=dict)  # metric -> cost
    present: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # dim -> metric -> cost
    valid: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # ALL: every dimension

    def share(self, dimension: str, metric: str, *, valid: bool = True) -> Decimal | None:
        """Covered / total as a fraction (None when the total is zero)."""
        total = self.total.get(metric, Decimal(0))
        covered = (self.valid if valid else self.present)[dimension].get(metric, Decimal(0))
        return None if total == 0 else EXACT.divide(covered, total)

    def add(self, other: Covered) -> None:
        _add_into(self.total, other.total)
        for mine, theirs in ((self.present, other.present), (self.valid, other.valid)):
            for dimension, amounts in theirs.items():
                _add_into(mine.setdefault(dimension, {}), amounts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": _text(self.total),
            "present": {d: _text(v) for d, v in self.present.items()},
            "valid": {d: _text(v) for d, v in self.valid.items()},
        }


@dataclass
class Group:
    value: str | None  # the provider, category or sub-account (None: not given on the line)
    currency: str
    covered: Covered


@dataclass
class Offender:
    """A resource with cost that lacks a required dimension or has a value not allowed."""

    currency: str
    resource_id: str | None
    resource_name: str | None
    provider: str | None
    sub_account: str | None
    cost: dict[str, Decimal]  # metric -> cost of its lines that break the policy
    problems: list[str]  # dimensions missing or invalid on some of its lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "resource_id": self.resource_id,
            "resource_name": self.resource_name,
            "provider": self.provider,
            "sub_account": self.sub_account,
            "cost": _text(self.cost),
            "problems": self.problems,
        }


@dataclass
class Coverage:
    period: str
    required: list[str]
    overall: dict[str, Covered]  # currency -> coverage of the period
    by: dict[str, list[Group]]  # "provider", "category", "sub_account" -> groups
    top: list[Offender]
    trend: list[tuple[str, str, Covered]]  # (period, currency, coverage), oldest first
    keys: dict[str, str]  # raw tag key -> the dimension it was read as, where they differ

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "required": self.required,
            "overall": {currency: c.as_dict() for currency, c in self.overall.items()},
            "by": {
                name: [
                    {"value": g.value, "currency": g.currency, **g.covered.as_dict()}
                    for g in groups
                ]
                for name, groups in self.by.items()
            },
            "top": [o.as_dict() for o in self.top],
            "trend": [
                {"period": period, "currency": currency, **c.as_dict()}
                for period, currency, c in self.trend
            ],
            "keys": self.keys,
        }


def tag_coverage(
    workspace: Workspace,
    period: Period,
    policy: TagPolicy | None = None,
    *,
    months: int = 6,
    top: int = 10,
) -> Coverage:
    """``policy``: the workspace's own (apportion.yaml) unless given."""
    tagged = TaggedLines.of_workspace(workspace, period, months, policy)
    in_period = tagged.of(period)
    by = {name: _grouped(tagged, in_period, column) for name, column in BREAKDOWNS.items()}
    overall: dict[str, Covered] = {}
    for group in by["provider"]:
        overall.setdefault(group.currency, Covered()).add(group.covered)
    trend = [
        (group.value or "", group.currency, group.covered)
        for group in _grouped(tagged, tagged.lines, t.BILLING_PERIOD)
    ]
    trend.sort(key=lambda row: (row[0], row[1]))
    return Coverage(
        period=str(period),
        required=tagged.required,
        overall=overall,
        by=by,
        top=_offenders(tagged, in_period, top),
        trend=trend,
        keys=tagged.renamed(),
    )


def _grouped(tagged: TaggedLines, lines: ir.Table, column: str) -> list[Group]:
    sums: dict[str, ir.Value] = {}
    for m in COST_METRICS:
        cost = lines[m]
        sums[f"total__{m}"] = cost.sum()
        sums[f"all__{m}"] = cost.sum(where=tagged.compliant)
        for i, d in enumerate(tagged.required):
            sums[f"present{i}__{m}"] = cost.sum(where=tagged.present[d])
            sums[f"valid{i}__{m}"] = cost.sum(where=tagged.valid[d])
    table = lines.group_by(currency=lines.BillingCurrency, value=lines[column]).aggregate(**sums)
    groups = []
    for row in tagged.plane.to_arrow(table).to_pylist():
        covered = Covered(total=_amounts(row, "total"))
        covered.valid[ALL] = _amounts(row, "all")
        for i, d in enumerate(tagged.required):
            covered.present[d] = _amounts(row, f"present{i}")
            covered.valid[d] = _amounts(row, f"valid{i}")
        groups.append(Group(row["value"], row["currency"], covered))
    # largest first; the value breaks ties so the order never depends on the engine
    groups.sort(key=lambda g: (-g.covered.total[col.BILLED_COST], g.currency, g.value or ""))
    return groups


def _offenders(tagged: TaggedLines, lines: ir.Table, top: int) -> list[Offender]:
    failing = lines.filter(~tagged.compliant)
    table = (
        failing.group_by(
            currency=failing.BillingCurrency,
            resource_id=failing.ResourceId,
            provider=failing.ProviderName,
            sub_account=failing.SubAccountName,
        )
        .aggregate(
            resource_name=failing.ResourceName.min(),
            **{f"cost__{m}": failing[m].sum() for m in COST_METRICS},
            **{
                f"bad{i}": (~tagged.valid[d]).cast("int64").sum()
                for i, d in enumerate(tagged.required)
            },
        )
        .order_by([ibis.desc("cost__BilledCost"), "currency", "resource_id", "provider"])
        .limit(top)
    )
    return [
        Offender(
            currency=row["currency"],
            resource_id=row["resource_id"],
            resource_name=row["resource_name"],
            provider=row["provider"],
            sub_account=row["sub_account"],
            cost=_amounts(row, "cost"),
            problems=[d for i, d in enumerate(tagged.required) if row[f"bad{i}"]],
        )
        for row in tagged.plane.to_arrow(table).to_pylist()
    ]


def _amounts(row: dict[str, Any], prefix: str) -> dict[str, Decimal]:
    return {m: row[f"{prefix}__{m}"] or Decimal(0) for m in COST_METRICS}


def _add_into(into: dict[str, Decimal], amounts: dict[str, Decimal]) -> None:
    for metric, amount in amounts.items():
        into[metric] = add(into.get(metric, Decimal(0)), amount)


def _text(amounts: dict[str, Decimal]) -> dict[str, str]:
    return {metric: str(amount) for metric, amount in amounts.items()}


# -- tables for people ---------------------------------------------------------------------------
def coverage_tables(
    coverage: Coverage, metric: str = col.BILLED_COST
) -> dict[str, list[dict[str, Any]]]:
    """The report as titled tables of one cost metric, shares as percentages."""
    dims = coverage.required
    tables: dict[str, list[dict[str, Any]]] = {}
    for currency, covered in sorted(coverage.overall.items()):
        total = covered.total.get(metric, Decimal(0))
        rows = []
        for d in dims:
            present, valid = covered.present[d][metric], covered.valid[d][metric]
            rows.append(
                {
                    "dimension": d,
                    "present": _percent(covered.share(d, metric, valid=False)),
                    "valid": _percent(covered.share(d, metric)),
                    "cost without it": plain(EXACT.subtract(total, present)),
                    "cost with a value not allowed": plain(EXACT.subtract(present, valid)),
                }
            )
        # "without it" for all of them: cost that lacks at least one, or has one not allowed
        uncovered = EXACT.subtract(total, covered.valid[ALL][metric])
        rows.append(
            {
                "dimension": ALL,
                "present": "",
                "valid": _percent(covered.share(ALL, metric)),
                "cost without it": plain(uncovered),
                "cost with a value not allowed": "",
            }
        )
        tables[f"Tag coverage {coverage.period}, {metric} {plain(total)} {currency}"] = rows
    for name, groups in coverage.by.items():
        tables[f"By {name.replace('_', '-')}"] = [
            {name: g.value or "(none)", "currency": g.currency, **_shares(g.covered, dims, metric)}
            for g in groups
        ]
    tables["Costliest resources that break the policy"] = [
        {
            "resource": o.resource_id or "(no resource id)",
            "name": o.resource_name or "",
            "provider": o.provider or "",
            "sub-account": o.sub_account or "",
            "currency": o.currency,
            metric: plain(o.cost[metric]),
            "lacks or invalid": ", ".join(o.problems),
        }
        for o in coverage.top
    ]
    tables["Month on month"] = [
        {"period": period, "currency": currency, **_shares(c, dims, metric)}
        for period, currency, c in coverage.trend
    ]
    return tables


def _shares(covered: Covered, dims: list[str], metric: str) -> dict[str, str]:
    return {
        "cost": plain(covered.total.get(metric, Decimal(0))),
        ALL: _percent(covered.share(ALL, metric)),
        **{d: _percent(covered.share(d, metric)) for d in dims},
    }


def _percent(share: Decimal | None) -> str:
    if share is None:
        return "-"
    return f"{EXACT.multiply(share, Decimal(100)).quantize(Decimal('0.1'))}%"
