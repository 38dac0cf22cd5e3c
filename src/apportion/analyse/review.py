"""The monthly cost review (MISSION R6.1): per cost centre and use case, what changed.

Two kinds of review line, from the period's statement lines (apportion.ledger.lines):

- per cost centre, use case, category and currency: the change against the previous period;
- per cost centre and use case (category ``*``): the total against its forecast and its budget
  (apportion.analyse.forecasts), where one was submitted.

A line whose change passes its category's threshold (``review.thresholds``: absolute AND
percent, apportion.config.review) needs an explanation from its owner; the review lists what
is explained (by whom, when), what is not, and what stayed within its threshold.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from apportion.analyse.explanations import ExplanationError, ExplanationView, ItemKey
from apportion.analyse.explanations import latest as latest_explanations
from apportion.analyse.explanations import record as record_explanation
from apportion.analyse.forecasts import submitted
from apportion.config.ledger import ALL_CATEGORIES
from apportion.config.review import ReviewConfig, Threshold
from apportion.ledger.lines import Line, stated_lines
from apportion.ledger.published import NotAllocatedError
from apportion.money import EXACT, add
from apportion.periods import Period
from apportion.workspace import Workspace

TOTAL = ALL_CATEGORIES  # the category of a use case's total line
PREVIOUS, FORECAST, BUDGET = "previous period", "forecast", "budget"
EXPLAINED, UNEXPLAINED, WITHIN = "explained", "needs an explanation", "within threshold"
PERCENT_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Comparison:
    against: str  # PREVIOUS, FORECAST or BUDGET
    amount: Decimal  # what the actual is compared with
    change: Decimal  # actual - amount
    exceeded: bool

    @property
    def percent(self) -> Decimal | None:
        """The change in percent of the compared amount; None when that is zero."""
        if not self.amount:
            return None
        # copy_abs, not abs(): abs() rounds to the default context's 28 digits
        whole = self.amount.copy_abs()
        return EXACT.divide(EXACT.multiply(self.change, Decimal(100)), whole).quantize(
            PERCENT_PLACES, context=EXACT
        )

    @property
    def shown_percent(self) -> str:
        """The percent as a report shows it: "new" for a line the previous period did not
        have, "-" where there is nothing to take a percent of (a plan of 0)."""
        percent = self.percent
        if percent is not None:
            return f"{percent:f}"
        return "new" if self.against == PREVIOUS and self.change else "-"

    def as_dict(self) -> dict[str, Any]:
        percent = self.percent
        return {
            "against": self.against,
            "amount": f"{self.amount:f}",
            "change": f"{self.change:f}",
            "percent": None if percent is None else f"{percent:f}",
            "exceeded": self.exceeded,
        }


@dataclass(frozen=True)
class ReviewItem:
    payer: str
    workload: str
    category: str  # a cost category, or TOTAL
    currency: str
    actual: Decimal
    comparisons: tuple[Comparison, ...]
    threshold: Threshold
    explanation: ExplanationView | None

    @property
    def key(self) -> ItemKey:
        return (self.payer, self.workload, self.category, self.currency)

    @property
    def needs_explanation(self) -> bool:
        return any(c.exceeded for c in self.comparisons)

    @property
    def explained(self) -> bool:
        """Explained as it stands: an explanation given before the line changed (a rerun, an
        adjustment) explains another amount, and is shown but no longer counts."""
        return self.explanation is not None and self.explanation.actual == self.actual

    @property
    def status(self) -> str:
        if not self.needs_explanation:
            return WITHIN
        return EXPLAINED if self.explained else UNEXPLAINED

    def as_dict(self) -> dict[str, Any]:
        return {
            "cost_centre": self.payer,
            "use_case": self.workload,
            "category": self.category,
            "currency": self.currency,
            "actual": f"{self.actual:f}",
            "comparisons": [c.as_dict() for c in self.comparisons],
            "threshold": {
                "category": self.threshold.category,
                "absolute": f"{self.threshold.absolute:f}",
                "percent": f"{self.threshold.percent:f}",
            },
            "status": self.status,
            "explanation": self.explanation.as_dict() if self.explanation else None,
            "explanation_outdated": self.explanation is not None and not self.explained,
        }


@dataclass(frozen=True)
class Review:
    period: str
    previous: str
    items: tuple[ReviewItem, ...]
    previous_allocated: bool = True  # False: every line is new, nothing to compare with

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for i in self.items if i.status == s) for s in (EXPLAINED, UNEXPLAINED)}

    def flagged(self) -> list[ReviewItem]:
        return [i for i in self.items if i.needs_explanation]

    def item(self, key: ItemKey) -> ReviewItem | None:
        return next((i for i in self.items if i.key == key), None)

    def as_dict(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "period": self.period,
            "previous_period": self.previous,
            "previous_allocated": self.previous_allocated,
            "needs_explanation": len(self.flagged()),
            "explained": counts[EXPLAINED],
            "unexplained": counts[UNEXPLAINED],
            "items": [i.as_dict() for i in self.items],
        }


def monthly_review(
    workspace: Workspace, period: str, payers: Collection[str] | None = None
) -> Review:
    """The period's review lines, of every cost centre or only of ``payers``."""
    previous = str(Period.parse(period).previous)
    current = stated_lines(workspace, period)
    if current is None:
        raise NotAllocatedError(
            f"period {period} has no published allocation: run `apportion allocate --period "
            f"{period}` first"
        )
    stated_before = stated_lines(workspace, previous)
    before = stated_before or []
    if payers is not None:
        current = [line for line in current if line.payer in payers]
        before = [line for line in before if line.payer in payers]
    config = workspace.config.review
    explained = latest_explanations(workspace.control, period)
    planned = {
        kind: {key: amount for key, amount in amounts.items() if payers is None or key[0] in payers}
        for kind, amounts in _planned(workspace, period).items()
    }
    items = [
        *category_items(config, current, before),
        *total_items(config, current, planned),
    ]
    items = [replace(item, explanation=explained.get(item.key)) for item in items]
    return Review(
        period=period,
        previous=previous,
        items=tuple(sorted(items, key=_order)),
        previous_allocated=stated_before is not None,
    )


@dataclass(frozen=True)
class Subject:
    """The review line an owner explains: a cost centre and use case, and where that leaves a
    choice, the category (or * for the total) and the currency."""

    payer: str
    workload: str
    category: str | None = None
    currency: str | None = None

    def matches(self, item: ReviewItem) -> bool:
        return (
            (item.payer, item.workload) == (self.payer, self.workload)
            and self.category in (None, item.category)
            and self.currency in (None, item.currency)
        )


def explain(
    workspace: Workspace,
    period: str,
    subject: Subject,
    text: str,
    actor: str,
    payers: Collection[str] | None = None,
) -> ReviewItem:
    """Record why a review line moved. ``subject`` must name one of the period's lines (of
    ``payers`` only, when given); left open, category and currency are those of the one line
    that needs an explanation."""
    found = _one(monthly_review(workspace, period, payers), subject)
    record_explanation(workspace.control, period, found.key, found.actual, text, actor)
    explained = monthly_review(workspace, period, payers).item(found.key)
    assert explained is not None
    return explained


def _one(found: Review, subject: Subject) -> ReviewItem:
    candidates = [i for i in found.items if subject.matches(i)]
    if len(candidates) > 1:
        flagged = [i for i in candidates if i.needs_explanation]
        candidates = flagged if len(flagged) == 1 else candidates
    if len(candidates) == 1:
        return candidates[0]
    named = f"cost centre {subject.payer!r}, use case {subject.workload!r}"
    if subject.category:
        named += f", category {subject.category!r}"
    if subject.currency:
        named += f" in {subject.currency}"
    if not candidates:
        raise ExplanationError(f"{found.period} has no review line for {named}")
    choices = ", ".join(f"{i.category} ({i.currency})" for i in candidates)
    raise ExplanationError(
        f"{found.period} has several review lines for {named}: name the category and "
        f"currency (one of {choices})"
    )


def category_items(
    config: ReviewConfig, current: Iterable[Line], before: Iterable[Line]
) -> list[ReviewItem]:
    """Per cost centre, use case, category and currency: the change against the previous
    period's lines ``before``."""
    items = []
    for key, (actual, before_amount) in _paired(_summed(current), _summed(before)):
        threshold = config.threshold(key[2])
        comparison = _compare(PREVIOUS, actual, before_amount, threshold)
        items.append(ReviewItem(*key, actual, (comparison,), threshold, None))
    return items


def total_items(
    config: ReviewConfig,
    current: Iterable[Line],
    planned: dict[str, dict[tuple[str, str, str], Decimal]],
) -> list[ReviewItem]:
    """Per cost centre and use case: the total against each plan (forecast, budget) that has
    an amount for it."""
    threshold = config.threshold(TOTAL)
    actuals = _summed(current, totals=True)
    # a plan with no cost against it moved by all of it: an underspend is reviewed too
    for amounts in planned.values():
        for payer, workload, currency in amounts:
            actuals.setdefault((payer, workload, TOTAL, currency), Decimal(0))
    items = []
    for key, actual in sorted(actuals.items()):
        payer, workload, _, currency = key
        comparisons = tuple(
            _compare(kind, actual, amounts[(payer, workload, currency)], threshold)
            for kind, amounts in planned.items()
            if (payer, workload, currency) in amounts
        )
        if comparisons:
            items.append(ReviewItem(*key, actual, comparisons, threshold, None))
    return items


def _compare(against: str, actual: Decimal, amount: Decimal, limit: Threshold) -> Comparison:
    # in EXACT throughout: unary minus, abs() and * round to the default context's 28 digits
    change = EXACT.subtract(actual, amount)
    size = change.copy_abs()
    beyond_percent = not amount or EXACT.multiply(size, Decimal(100)) >= EXACT.multiply(
        limit.percent, amount.copy_abs()
    )
    return Comparison(
        against=against,
        amount=amount,
        change=change,
        exceeded=bool(change) and size >= limit.absolute and beyond_percent,
    )


def _summed(lines: Iterable[Line], *, totals: bool = False) -> dict[ItemKey, Decimal]:
    """The lines' amounts per review line: per category, or per use case (category ``*``)."""
    found: dict[ItemKey, Decimal] = {}
    for line in lines:
        key = (line.payer, line.workload, TOTAL if totals else line.category, line.currency)
        found[key] = add(found.get(key, Decimal(0)), line.amount)
    return found


def _paired(
    current: dict[ItemKey, Decimal], before: dict[ItemKey, Decimal]
) -> list[tuple[ItemKey, tuple[Decimal, Decimal]]]:
    """Every line of either period, with its amount in each: one that disappeared moved by
    all it was."""
    return [
        (key, (current.get(key, Decimal(0)), before.get(key, Decimal(0))))
        for key in sorted(current.keys() | before.keys())
    ]


def _planned(workspace: Workspace, period: str) -> dict[str, dict[tuple[str, str, str], Decimal]]:
    return {
        FORECAST: submitted(workspace, period, "forecast"),
        BUDGET: submitted(workspace, period, "budget"),
    }


def _order(item: ReviewItem) -> tuple[str, str, bool, str, str]:
    return (item.payer, item.workload, item.category == TOTAL, item.category, item.currency)
