"""What each use case delivered in a period (apportion.ingest.metrics), summed per use case:
decisions, users, revenue and cost saved add up over a period's rows; the quality score is the
decision-weighted mean (the plain mean where no decisions are given); the feature price is the
highest one given."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from apportion.money import EXACT, exact_sum
from apportion.schema import tables as t
from apportion.workspace import Workspace


@dataclass(frozen=True)
class Delivered:
    workload: str
    currency: str
    decisions: Decimal | None
    decision_unit: str | None
    users: Decimal | None
    revenue: Decimal | None
    cost_saved: Decimal | None
    quality_score: Decimal | None
    feature_price: Decimal | None


def delivered(workspace: Workspace, period: str) -> dict[str, Delivered]:
    """Per use case (the ledger's workload dimension), what its rows of the period say."""
    table = workspace.data.table(t.BUSINESS_METRICS)
    rows = workspace.data.to_arrow(
        table.filter(table[t.BILLING_PERIOD] == period).order_by(["workload", t.ROW_NUMBER])
    ).to_pylist()
    grouped: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        grouped.setdefault(str(row["workload"]), []).append(row)
    return {name: _summed(name, members) for name, members in sorted(grouped.items())}


def _summed(name: str, rows: list[dict[str, object]]) -> Delivered:
    def given(field: str) -> list[Decimal]:
        return [v for v in (row[field] for row in rows) if isinstance(v, Decimal)]

    def total(field: str) -> Decimal | None:
        found = given(field)
        return exact_sum(found) if found else None

    units = sorted({str(row["decision_unit"]) for row in rows if row["decision_unit"]})
    currencies = sorted({str(row["currency"]) for row in rows if row["currency"]})
    return Delivered(
        workload=name,
        currency=currencies[0] if currencies else "",
        decisions=total("decisions"),
        decision_unit=", ".join(units) or None,
        users=total("users"),
        revenue=total("revenue"),
        cost_saved=total("cost_saved"),
        quality_score=_quality(rows),
        feature_price=max(given("feature_price"), default=None),
    )


def _quality(rows: list[dict[str, object]]) -> Decimal | None:
    scored = [r for r in rows if isinstance(r["quality_score"], Decimal)]
    if not scored:
        return None
    weighted = [r for r in scored if isinstance(r["decisions"], Decimal) and r["decisions"] > 0]
    if weighted:
        weight = exact_sum(r["decisions"] for r in weighted)  # type: ignore[misc]
        score = exact_sum(EXACT.multiply(r["quality_score"], r["decisions"]) for r in weighted)  # type: ignore[arg-type]
        return EXACT.divide(score, weight)
    return EXACT.divide(exact_sum(r["quality_score"] for r in scored), Decimal(len(scored)))  # type: ignore[misc]
