"""The tag audit: signs that tags are wrong or being gamed, from the bills themselves.

- **new values**: a dimension's value the catalogue does not allow, or one no earlier month
  had (a new cost centre appearing is worth a look even where any value is allowed);
- **changed tags**: a resource whose value of a dimension changed within the month (two
  values, or tagged on some lines and not on others);
- **shared keys**: a sub-account (an OpenAI project, an Anthropic workspace, an account) or a
  resource (an API key, an endpoint) whose cost went to more than one use case;
- **moved to untagged**: a resource that was fully tagged last month and now has cost without
  an allowed value of every required dimension;
- **under-metered**: a shared resource whose driver quantities cover far less than its bill
  says it consumed (apportion.tags.metering), from the period's published allocation.

Each finding carries the month's BilledCost it concerns (for under-metering: the cost of the
unmetered consumption), per currency, largest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from apportion.money import plain
from apportion.periods import Period
from apportion.schema import columns as col
from apportion.schema import tables as t
from apportion.tags.lines import TaggedLines, column, months_before
from apportion.tags.metering import DEFAULT_COVERAGE, under_metered
from apportion.tags.policy import TagPolicy
from apportion.workspace import Workspace

USE_CASE = "use_case"  # the dimension "shared keys" looks at


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    subject: str  # the value, resource or sub-account concerned
    currency: str
    cost: Decimal  # BilledCost of the period it concerns
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "currency": self.currency,
            "cost": str(self.cost),
            "detail": self.detail,
        }


@dataclass
class Audit:
    period: str
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "findings": {k: [f.as_dict() for f in v] for k, v in self.findings.items()},
            "notes": self.notes,
        }


KINDS = ("new_value", "changed_tags", "shared_key", "moved_to_untagged", "under_metered")


def tag_audit(
    workspace: Workspace,
    period: Period,
    policy: TagPolicy | None = None,
    *,
    months: int = 6,
    top: int = 20,
    metering: Decimal = DEFAULT_COVERAGE,
) -> Audit:
    """``policy``: the workspace's own (apportion.yaml) unless given; ``metering``: the share
    of a shared resource's billed consumption its meters must cover."""
    tagged = TaggedLines.of_workspace(workspace, period, months, policy)
    audit = Audit(str(period))
    history = bool(tagged.distinct(t.BILLING_PERIOD, tagged.before(period)))
    if not history:
        audit.notes.append(
            f"no bills before {period} in the {months} months looked at: values first seen "
            "this month and resources untagged since last month are not checked"
        )
    audit.findings["new_value"] = _new_values(tagged, period, history=history)[:top]
    audit.findings["changed_tags"] = _changed_tags(tagged, period)[:top]
    if USE_CASE in tagged.required:
        audit.findings["shared_key"] = _shared_keys(tagged, period)[:top]
    else:
        audit.notes.append(f"shared keys not checked: {USE_CASE} is not a required dimension")
    audit.findings["moved_to_untagged"] = _moved_to_untagged(tagged, period)[:top]
    short = under_metered(workspace, period, metering)
    if short is None:
        audit.notes.append(
            f"metering not checked: {period} has no published allocation (apportion allocate)"
        )
    audit.findings["under_metered"] = [
        Finding("under_metered", f"resource {f.resource}", f.currency, f.gap, f.describe())
        for f in short or []
    ][:top]
    return audit


def _new_values(tagged: TaggedLines, period: Period, *, history: bool) -> list[Finding]:
    policy = tagged.policy
    lines = tagged.of(period)
    findings = []
    for d in tagged.required:
        seen_before = set(tagged.distinct(column(d), tagged.before(period))) if history else set()
        tagged_lines = lines.filter(lines[column(d)].notnull())
        table = tagged_lines.group_by(
            value=tagged_lines[column(d)], currency=tagged_lines.BillingCurrency
        ).aggregate(cost=tagged_lines.BilledCost.sum(), rows=tagged_lines.count())
        for row in tagged.plane.to_arrow(table).to_pylist():
            value = row["value"]
            if not policy.is_valid(d, value):
                why = "not an allowed value" + (
                    " (not in the catalogue)" if _listed(policy, d) else ""
                )
            elif not _listed(policy, d) and history and value not in seen_before:
                # a listed value is known by the catalogue: new to the bills is not new
                why = "first seen this month"
            else:
                continue
            detail = f"{d}={value!r}: {why}, on {row['rows']} lines"
            findings.append(
                Finding("new_value", f"{d}={value}", row["currency"], row["cost"], detail)
            )
    return _largest_first(findings)


def _listed(policy: TagPolicy, dimension: str) -> bool:
    return bool(policy.allowed.get(dimension))


def _changed_tags(tagged: TaggedLines, period: Period) -> list[Finding]:
    lines = tagged.of(period)
    lines = lines.filter(lines.ResourceId.notnull())
    measures: dict[str, ir.Value] = {"cost": lines.BilledCost.sum(), "rows": lines.count()}
    for i, d in enumerate(tagged.required):
        measures[f"values{i}"] = lines[column(d)].nunique()
        measures[f"tagged{i}"] = tagged.present[d].cast("int64").sum()
    table = lines.group_by(resource=lines.ResourceId, currency=lines.BillingCurrency).aggregate(
        **measures
    )
    findings = []
    for row in tagged.plane.to_arrow(table).to_pylist():
        changed = [
            d
            for i, d in enumerate(tagged.required)
            if row[f"values{i}"] > 1 or 0 < row[f"tagged{i}"] < row["rows"]
        ]
        if changed:
            detail = "changed within the month: " + ", ".join(changed)
            findings.append(
                Finding("changed_tags", row["resource"], row["currency"], row["cost"], detail)
            )
    return _largest_first(findings)


def _shared_keys(tagged: TaggedLines, period: Period) -> list[Finding]:
    lines = tagged.of(period)
    use_case = lines[column(USE_CASE)]
    findings = []
    for label, key in (("sub-account", col.SUB_ACCOUNT_ID), ("resource", col.RESOURCE_ID)):
        keyed = lines.filter(lines[key].notnull() & use_case.notnull())
        # the use cases come back with each subject: one query, not one per finding
        table = (
            keyed.group_by(subject=keyed[key], currency=keyed.BillingCurrency)
            .aggregate(
                cost=keyed.BilledCost.sum(),
                use_cases=keyed[column(USE_CASE)].collect(distinct=True),
            )
            .filter(lambda s: s.use_cases.length() > 1)
        )
        for row in tagged.plane.to_arrow(table).to_pylist():
            names = sorted(row["use_cases"])
            detail = f"{label} used by {len(names)} use cases: {', '.join(names)}"
            subject = f"{label} {row['subject']}"
            findings.append(Finding("shared_key", subject, row["currency"], row["cost"], detail))
    return _largest_first(findings)


def _moved_to_untagged(tagged: TaggedLines, period: Period) -> list[Finding]:
    before = str(months_before(period, 1))
    lines = tagged.lines.filter(
        tagged.lines.ResourceId.notnull()
        & tagged.lines[t.BILLING_PERIOD].isin([before, str(period)])
    )
    now = lines[t.BILLING_PERIOD] == str(period)
    then = lines[t.BILLING_PERIOD] == before
    measures: dict[str, ir.Value] = {
        "untagged_now": lines.BilledCost.sum(where=now & ~tagged.compliant),
        "lines_then": then.cast("int64").sum(),
        "tagged_then": (then & tagged.compliant).cast("int64").sum(),
    }
    for i, d in enumerate(tagged.required):
        measures[f"lacks{i}"] = (now & ~tagged.valid[d]).cast("int64").sum()
    table = (
        lines.group_by(resource=lines.ResourceId, currency=lines.BillingCurrency)
        .aggregate(**measures)
        .filter(lambda s: (s.lines_then > 0) & (s.lines_then == s.tagged_then))
        .filter(lambda s: s.untagged_now.notnull() & (s.untagged_now != ibis.literal(0)))
    )
    findings = []
    for row in tagged.plane.to_arrow(table).to_pylist():
        lacks = [d for i, d in enumerate(tagged.required) if row[f"lacks{i}"]]
        detail = f"fully tagged in {before}; now lacks {', '.join(lacks)}"
        findings.append(
            Finding(
                "moved_to_untagged", row["resource"], row["currency"], row["untagged_now"], detail
            )
        )
    return _largest_first(findings)


def _largest_first(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.cost, f.currency, f.subject))


def audit_rows(audit: Audit) -> dict[str, list[dict[str, str]]]:
    """The findings as titled tables for people."""
    titles = {
        "new_value": "New or unknown tag values",
        "changed_tags": "Resources whose tags changed within the month",
        "shared_key": "Sub-accounts and resources used by more than one use case",
        "moved_to_untagged": "Resources that were tagged last month and are not now",
        "under_metered": "Shared resources metered for too little of their bill "
        "(BilledCost: the unmetered part)",
    }
    return {
        titles[kind]: [
            {
                "subject": f.subject,
                "currency": f.currency,
                col.BILLED_COST: plain(f.cost),
                "detail": f.detail,
            }
            for f in audit.findings.get(kind, [])
        ]
        for kind in KINDS
    }
