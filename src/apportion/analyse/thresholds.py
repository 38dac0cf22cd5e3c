"""Thresholds that follow operation (MISSION R7.3): ``apportion thresholds review`` looks at how
the monthly review's lines moved over the last N periods and

- proposes, per category, the threshold that about one line in ten would have passed on each
  axis (the 90th percentile of the absolute change, and of the percent change, rounded up to
  two significant figures), so that explanations are asked for the unusual, not the usual;
- lists the configured thresholds that no longer fit: those that fired on most of the periods
  (they ask for explanations of normal operation) and those that never fired.

Only the category lines' change against the previous period is judged here; the comparison
with forecasts and budgets follows the forecasts' own accuracy (apportion.analyse.forecasts).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from itertools import pairwise
from typing import Any

from apportion.analyse.review import category_items
from apportion.config.review import Threshold
from apportion.ledger.lines import stated_lines
from apportion.ledger.published import NotAllocatedError
from apportion.money import EXACT
from apportion.periods import Period
from apportion.workspace import Workspace

DEFAULT_PERIODS = 6
QUANTILE = Decimal("0.9")
FIRES_ON_MOST = "fires on most periods: it asks for explanations of normal operation"
NEVER_FIRES = "never fired: it catches nothing"


@dataclass(frozen=True)
class Change:
    period: str
    size: Decimal  # the absolute change in money
    percent: Decimal | None  # in percent of the period before; None for a new line
    exceeded: bool


@dataclass(frozen=True)
class CategoryFit:
    category: str
    currency: str  # the absolute amounts' (configured thresholds apply in every currency)
    threshold: Threshold  # the one in force (the category's own, or the * entry)
    own: bool  # whether the category names its own threshold
    lines: int  # review lines over the periods with a change
    fired: int  # of those, the ones that needed an explanation
    periods_fired: int
    proposed: Threshold | None  # None without enough changes to go on
    verdict: str | None

    def as_dict(self) -> dict[str, Any]:
        def shown(threshold: Threshold | None) -> dict[str, str] | None:
            if threshold is None:
                return None
            return {"absolute": f"{threshold.absolute:f}", "percent": f"{threshold.percent:f}"}

        return {
            "category": self.category,
            "currency": self.currency,
            "configured_for": self.threshold.category,
            "configured": shown(self.threshold),
            "lines": self.lines,
            "fired": self.fired,
            "periods_fired": self.periods_fired,
            "proposed": shown(self.proposed),
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class ThresholdReview:
    periods: tuple[str, ...]  # the periods whose change was judged, oldest first
    categories: tuple[CategoryFit, ...]
    notes: tuple[str, ...]

    def misfits(self) -> list[CategoryFit]:
        return [c for c in self.categories if c.verdict]

    def as_dict(self) -> dict[str, Any]:
        return {
            "periods": list(self.periods),
            "categories": [c.as_dict() for c in self.categories],
            "notes": list(self.notes),
        }


def thresholds_review(
    workspace: Workspace, until: str | None = None, periods: int = DEFAULT_PERIODS
) -> ThresholdReview:
    """The last ``periods`` periods up to ``until`` (default: the latest with a published
    allocation), each against the one before it."""
    if periods < 1:
        raise ValueError("look at one period at least")
    last = Period.parse(until) if until else _latest(workspace)
    window = [last]
    for _ in range(periods):
        window.insert(0, window[0].previous)
    lines = {str(p): stated_lines(workspace, str(p)) for p in window}
    config = workspace.config.review
    judged, notes = [], []
    # per category and currency: amounts in two currencies are no one distribution
    changes: dict[tuple[str, str], list[Change]] = defaultdict(list)
    for before, period in pairwise(window):
        current, earlier = lines[str(period)], lines[str(before)]
        if current is None:
            notes.append(f"{period}: no published allocation, not judged")
            continue
        if earlier is None:
            # every line would be new, its whole amount a change: no measure of movement
            notes.append(f"{period}: {before} has no statement to compare with, not judged")
            continue
        judged.append(str(period))
        for item in category_items(config, current, earlier):
            comparison = item.comparisons[0]
            if comparison.change:
                percent = None if comparison.percent is None else abs(comparison.percent)
                changes[(item.category, item.currency)].append(
                    Change(str(period), abs(comparison.change), percent, comparison.exceeded)
                )
    fits = tuple(
        _fit(category, currency, config.threshold(category), found, len(judged))
        for (category, currency), found in sorted(changes.items())
    )
    return ThresholdReview(tuple(judged), fits, tuple(notes))


def _fit(
    category: str, currency: str, threshold: Threshold, changes: list[Change], judged: int
) -> CategoryFit:
    fired = [c for c in changes if c.exceeded]
    periods_fired = len({c.period for c in fired})
    percents = [c.percent for c in changes if c.percent is not None]
    proposed = (
        Threshold(
            category=category,
            absolute=_nice(_quantile([c.size for c in changes])),
            percent=_nice(_quantile(percents)),
        )
        if len(changes) >= 2 and percents
        else None
    )
    verdict = None
    if judged >= 2 and periods_fired * 2 > judged:
        verdict = FIRES_ON_MOST
    elif judged >= 2 and periods_fired == 0:
        verdict = NEVER_FIRES
    return CategoryFit(
        category=category,
        currency=currency,
        threshold=threshold,
        own=threshold.category == category,
        lines=len(changes),
        fired=len(fired),
        periods_fired=periods_fired,
        proposed=proposed,
        verdict=verdict,
    )


def _quantile(values: list[Decimal]) -> Decimal:
    """The nearest-rank quantile: the smallest value at least QUANTILE of them do not pass."""
    ordered = sorted(values)
    rank = math.ceil(QUANTILE * len(ordered))
    return ordered[max(rank, 1) - 1]


def _nice(value: Decimal) -> Decimal:
    """Rounded up to two significant figures: 1234.5 -> 1300, 0.0123 -> 0.013."""
    if not value:
        return Decimal(0)
    step = Decimal(1).scaleb(value.adjusted() - 1)
    # in the exact context: 28 digits would round a long value down before the ceiling
    scaled = EXACT.divide(value, step).to_integral_value(rounding=ROUND_CEILING, context=EXACT)
    rounded = EXACT.multiply(scaled, step)
    return rounded.quantize(Decimal(1), context=EXACT) if step >= 1 else rounded


def _latest(workspace: Workspace) -> Period:
    published = [r.period for r in workspace.control.runs() if r.status == "published"]
    if not published:
        raise NotAllocatedError("no period has a published allocation yet")
    return Period.parse(max(published))
