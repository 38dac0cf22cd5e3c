"""Fully loaded cost per decision (MISSION R5): per use case and period, the cost of every
statement line of the use case (direct, plus its share of shared resources, plus allocated
overhead) over the decisions it served, beside what it delivered (value per decision, margin,
value to cost), and for products the cost per user against the feature's price. The portfolio
is then sorted on two axes, total cost and cost per decision:

- high cost per decision at a low total: a re-architecture or retirement candidate, unless
  its value is known and exceeds its cost (a positive margin): then it earns its cost;
- a high total at a low cost per decision: possibly unrecognised value;
- high on both: optimise first;
- low on both: efficient at its scale.

"High" is above ``unit_economics.high_total`` / ``high_cost_per_decision`` when set, else above
the median of the portfolio's use cases (per currency). Costs are the statements' (rounded
once); ratios are exact divisions shown to 10 places.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import median
from typing import Any

from apportion.analyse.delivered import Delivered, delivered
from apportion.ledger.lines import Line, stated_lines
from apportion.money import EXACT, add, at_least, exact_sum, ratio, subtract
from apportion.periods import Period
from apportion.schema.currency import minor_units
from apportion.schema.tables import IDLE, UNALLOCATED
from apportion.workspace import Workspace

TREND_PERIODS = 6
PLACES = Decimal(1).scaleb(-10)
# how each allocation method's cost counts in the fully loaded cost
PARTS = {
    "direct": "direct",
    "proportional": "shared",
    "activity": "shared",
    "even": "overhead",
    "fixed": "overhead",
}
RETIRE = "re-architecture or retirement candidate"
EARNS = "high cost per decision, but its value exceeds its cost: keep it, watch the unit cost"
UNRECOGNISED = "possibly unrecognised value"
OPTIMISE = "high cost, high cost per decision: optimise first"
EFFICIENT = "efficient at its scale"


@dataclass
class UseCaseEconomics:
    workload: str
    currency: str
    cost: Decimal
    parts: dict[str, Decimal]  # direct, shared, overhead, adjustments
    delivered: Delivered | None
    trend: list[dict[str, str | None]] = field(default_factory=list)
    verdict: str | None = None  # the portfolio class; None without decisions

    @property
    def decisions(self) -> Decimal | None:
        found = self.delivered.decisions if self.delivered else None
        return found if found else None  # no decisions and zero decisions alike: no ratio

    @property
    def cost_per_decision(self) -> Decimal | None:
        return _ratio(self.cost, self.decisions)

    @property
    def value(self) -> Decimal | None:
        """Revenue plus cost saved, when given in the cost's currency."""
        if self.delivered is None or self.delivered.currency != self.currency:
            return None
        given = [v for v in (self.delivered.revenue, self.delivered.cost_saved) if v is not None]
        return exact_sum(given) if given else None

    @property
    def cost_per_user(self) -> Decimal | None:
        return _ratio(self.cost, self.delivered.users if self.delivered else None)

    def as_dict(self) -> dict[str, Any]:
        found = self.delivered
        value = self.value
        price = found.feature_price if found and found.currency == self.currency else None
        per_user = self.cost_per_user
        return {
            "use_case": self.workload,
            "currency": self.currency,
            "cost": _money(self.cost, self.currency),
            **{part: _money(amount, self.currency) for part, amount in self.parts.items()},
            "decisions": _count(self.decisions),
            "decision_unit": found.decision_unit if found else None,
            "cost_per_decision": _text(self.cost_per_decision),
            "value": _money(value, self.currency),
            "value_per_decision": _text(_ratio(value, self.decisions)),
            "margin": _money(None if value is None else subtract(value, self.cost), self.currency),
            "value_to_cost": _text(_ratio(value, self.cost)),
            "quality_score": _count(found.quality_score if found else None),
            "users": _count(found.users if found else None),
            "cost_per_user": _text(per_user),
            "feature_price": _money(price, self.currency),
            "price_margin_per_user": _text(
                None
                if price is None or per_user is None
                else subtract(price, per_user).quantize(PLACES, context=EXACT)
            ),
            "verdict": self.verdict,
            "trend": self.trend,
        }


@dataclass(frozen=True)
class Portfolio:
    period: str
    use_cases: list[UseCaseEconomics]
    thresholds: dict[str, dict[str, str]]  # currency -> high_total, high_cost_per_decision
    notes: list[str]

    def points(self) -> dict[str, list[tuple[str, Decimal, Decimal]]]:
        """What the portfolio chart plots: per class, each use case's total and cost per
        decision."""
        found: dict[str, list[tuple[str, Decimal, Decimal]]] = {}
        for use_case in self.use_cases:
            per = use_case.cost_per_decision
            if use_case.verdict and per is not None:
                found.setdefault(use_case.verdict, []).append(
                    (use_case.workload, use_case.cost, per)
                )
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "thresholds": self.thresholds,
            "use_cases": [u.as_dict() for u in self.use_cases],
            "notes": self.notes,
        }


def unit_economics(workspace: Workspace, period: str) -> Portfolio:
    Period.parse(period)
    lines = stated_lines(workspace, period) or []
    metrics = delivered(workspace, period)
    found = _costs(lines, metrics)
    notes = [
        f"{name}: business metrics but no cost in {period}"
        for name in sorted(set(metrics) - {u.workload for u in found})
    ]
    notes += [
        f"{u.workload}: business metrics in {u.delivered.currency}, cost in {u.currency}: "
        "value is not compared"
        for u in found
        if u.delivered and u.delivered.currency and u.delivered.currency != u.currency
    ]
    thresholds = _classify(workspace, found)
    _trends(workspace, period, found)
    if not metrics:
        notes.append(f"no business metrics for {period}: ingest them to get cost per decision")
    return Portfolio(period, found, thresholds, notes)


def _costs(lines: list[Line], metrics: dict[str, Delivered]) -> list[UseCaseEconomics]:
    grouped: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(("direct", "shared", "overhead", "adjustments"), Decimal(0))
    )
    for line in lines:
        if line.workload in (UNALLOCATED, IDLE):  # neither is a use case with decisions
            continue
        parts = grouped[(line.workload, line.currency)]
        part = PARTS.get(line.method, "adjustments")
        parts[part] = add(parts[part], line.amount)
    return [
        UseCaseEconomics(
            workload=workload,
            currency=currency,
            cost=exact_sum(parts.values()),
            parts=parts,
            delivered=metrics.get(workload),
        )
        for (workload, currency), parts in sorted(grouped.items())
    ]


def _classify(workspace: Workspace, found: list[UseCaseEconomics]) -> dict[str, dict[str, str]]:
    config = workspace.config.unit_economics
    thresholds: dict[str, dict[str, str]] = {}
    for currency in sorted({u.currency for u in found}):
        ranked = [u for u in found if u.currency == currency and u.cost_per_decision and u.cost > 0]
        if not ranked:
            continue
        total = config.high_total or median([u.cost for u in ranked])
        per = config.high_cost_per_decision or median(
            [u.cost_per_decision for u in ranked if u.cost_per_decision is not None]
        )
        thresholds[currency] = {"high_total": f"{total:f}", "high_cost_per_decision": f"{per:f}"}
        for u in ranked:
            high_total = u.cost > total
            high_per = u.cost_per_decision is not None and u.cost_per_decision > per
            u.verdict = (
                OPTIMISE
                if high_total and high_per
                else _high_per_decision(u)
                if high_per
                else UNRECOGNISED
                if high_total
                else EFFICIENT
            )
    return thresholds


def _high_per_decision(use_case: UseCaseEconomics) -> str:
    """A costly decision at a small total is a retirement candidate only where what it
    delivers is unknown or worth less than it costs: value weighs where it is known."""
    value = use_case.value
    return EARNS if value is not None and value > use_case.cost else RETIRE


def _trends(workspace: Workspace, period: str, found: list[UseCaseEconomics]) -> None:
    """Cost and cost per decision of each use case over this period and the ones before."""
    month = Period.parse(period)
    history: list[tuple[str, list[UseCaseEconomics]]] = []
    for _ in range(TREND_PERIODS):
        label = str(month)
        lines = stated_lines(workspace, label) if label != period else None
        earlier = found if label == period else _costs(lines or [], delivered(workspace, label))
        history.append((label, earlier))
        month = month.previous
    for use_case in found:
        for label, earlier in reversed(history):
            match = next(
                (
                    u
                    for u in earlier
                    if (u.workload, u.currency) == (use_case.workload, use_case.currency)
                ),
                None,
            )
            if match is not None:
                use_case.trend.append(
                    {
                        "period": label,
                        "cost": _money(match.cost, match.currency),
                        "decisions": _count(match.decisions),
                        "cost_per_decision": _text(match.cost_per_decision),
                    }
                )


def _ratio(amount: Decimal | None, over: Decimal | None) -> Decimal | None:
    found = ratio(amount, over)
    return None if found is None else found.quantize(PLACES, context=EXACT)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def _count(value: Decimal | None) -> str | None:
    """A count or score as given, without the engine's trailing zeros: 1000, 0.91."""
    return None if value is None else f"{value.normalize():f}"


def _money(value: Decimal | None, currency: str) -> str | None:
    """At the currency's minor unit, or with every digit where it has more (a business
    metric given to the tenth of a cent): never rounded."""
    return None if value is None else at_least(value, minor_units(currency))
