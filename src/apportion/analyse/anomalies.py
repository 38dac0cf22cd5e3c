"""Anomalies in daily cost (MISSION R7.3): each use case's daily cost per cost category,
provider and currency, as the published allocations assigned it (apportion.analyse.
daily_cost), held against a baseline that adapts: weekday factors, a rolling median level
and a rolling MAD of its own errors (apportion.analyse.anomaly_baseline). The days checked
are the period's; the months before it, where they have a published allocation, are the
baseline's warm-up, so a series needs 28 days of history before a day can be checked.

Consecutive flagged days in the same direction make one anomaly: its start and end (an
anomaly running when the period began keeps its true start), its size in money (the days'
cost minus their baseline, each day rounded to the currency's minor unit), direction (spike
or drop), and the bill lines of those days that drove it, with the cost each sent to the
series. A series with too little history is listed as not checked, with how much it had.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from apportion.analyse.anomaly_baseline import HISTORY_NEEDED, Check, check_series
from apportion.analyse.daily_cost import (
    LINE_FIELDS,
    Owner,
    PeriodCost,
    SeriesKey,
    bill_lines,
    period_cost,
)
from apportion.config.anomalies import AnomaliesConfig
from apportion.ledger.published import NotAllocatedError
from apportion.money import add, at_least, exact_sum, subtract, to_minor, to_minor_text
from apportion.periods import Period
from apportion.schema import tables as t
from apportion.schema.currency import minor_units
from apportion.workspace import Workspace

SPIKE = "spike"
DROP = "drop"


@dataclass(frozen=True)
class Day:
    day: date
    cost: Decimal  # rounded to the currency's minor unit, as every amount here
    baseline: Decimal
    tolerance: Decimal  # how far from the baseline the day could have been unflagged

    def as_dict(self) -> dict[str, str]:
        return {
            "day": self.day.isoformat(),
            "cost": f"{self.cost:f}",
            "baseline": f"{self.baseline:f}",
            "tolerance": f"{self.tolerance:f}",
        }


@dataclass(frozen=True)
class Anomaly:
    series: SeriesKey
    direction: str  # spike or drop
    days: list[Day]
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def start(self) -> date:
        return self.days[0].day

    @property
    def end(self) -> date:
        return self.days[-1].day

    @property
    def cost(self) -> Decimal:
        return exact_sum(d.cost for d in self.days)

    @property
    def baseline(self) -> Decimal:
        return exact_sum(d.baseline for d in self.days)

    @property
    def size(self) -> Decimal:
        """Cost minus baseline over the anomaly's days: negative for a drop."""
        return subtract(self.cost, self.baseline)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.series.as_dict(),
            "direction": self.direction,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": len(self.days),
            "cost": f"{self.cost:f}",
            "baseline": f"{self.baseline:f}",
            "size": f"{self.size:f}",
            "daily": [d.as_dict() for d in self.days],
            "lines": self.lines,
        }


@dataclass(frozen=True)
class Unchecked:
    """A series with days of the period that could not be checked for want of history."""

    series: SeriesKey
    history_days: int  # days of the series before the period's last checked day
    checked_from: date | None  # the first day of the period it could be checked, if any

    @property
    def reason(self) -> str:
        if self.checked_from is None:
            return f"not checked ({self.history_days} days of history, {HISTORY_NEEDED} needed)"
        return f"checked from {self.checked_from.isoformat()} (too little history before)"

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.series.as_dict(),
            "history_days": self.history_days,
            "checked_from": self.checked_from.isoformat() if self.checked_from else None,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class AnomalyReport:
    period: str
    metric: str
    settings: AnomaliesConfig
    first_day: date | None  # the period's days checked
    last_day: date | None
    series_checked: int
    anomalies: list[Anomaly]
    unchecked: list[Unchecked]
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "metric": self.metric,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "settings": self.settings.model_dump(mode="json"),
            "series_checked": self.series_checked,
            "anomalies": [a.as_dict() for a in self.anomalies],
            "not_checked": [u.as_dict() for u in self.unchecked],
            "notes": self.notes,
        }


def anomalies(workspace: Workspace, period: str) -> AnomalyReport:
    """The anomalies of the period's days, largest first."""
    month = Period.parse(period)
    if workspace.control.published_run(str(month)) is None:
        raise NotAllocatedError(
            f"period {month} has no published allocation: run `apportion allocate --period "
            f"{month}` first"
        )
    settings = workspace.config.anomalies
    history, notes = _history(workspace, month, settings)
    daily = _merged(history)
    known_start = Period.parse(history[0].period).start.date()
    current = history[-1]
    found: list[Anomaly] = []
    unchecked: list[Unchecked] = []
    checked = 0
    last = min((month.end - timedelta(days=1)).date(), current.last_day or month.start.date())
    if current.last_day is None or current.last_day < month.start.date():
        notes.append(f"no bill line of {month} is dated in {month}: no day to check")
        return AnomalyReport(
            str(month), workspace.config.ledger.metric, settings, None, None, 0, [], [], notes
        )
    if last < (month.end - timedelta(days=1)).date():
        notes.append(f"no bill line is dated after {last.isoformat()}: later days not checked")
    for key in sorted(daily):
        series = _series(daily[key], max(min(daily[key]), known_start), last)
        if series is None:
            continue
        start, costs = series
        checks = check_series([float(c) for c in costs], settings)
        first = max(start, month.start.date())
        in_period = checks[(first - start).days :]
        if any(check is not None for check in in_period):
            checked += 1
        if any(check is None for check in in_period):
            from_day = next((c.index for c in in_period if c is not None), None)
            unchecked.append(
                Unchecked(
                    key,
                    (last - start).days,
                    None if from_day is None else start + timedelta(days=from_day),
                )
            )
        for direction, run in _runs(checks, costs, start, key.currency):
            if run[-1].day >= month.start.date():
                lines = _driving_lines(workspace, history, key, direction, run, settings)
                found.append(Anomaly(key, direction, run, lines))
    found.sort(key=lambda a: (-abs(a.size), a.start, a.series))
    return AnomalyReport(
        period=str(month),
        metric=workspace.config.ledger.metric,
        settings=settings,
        first_day=month.start.date(),
        last_day=last,
        series_checked=checked,
        anomalies=found,
        unchecked=unchecked,
        notes=notes,
    )


def _history(
    workspace: Workspace, month: Period, settings: AnomaliesConfig
) -> tuple[list[PeriodCost], list[str]]:
    """The period and the months before it that the baseline reads (oldest first): back to
    three windows before its first day (a baseline's window, behind the window of
    baselines that sets the spread), stopping at a month with no published allocation."""
    earliest = month.start.date() - timedelta(days=3 * settings.window_days)
    months = [month]
    notes: list[str] = []
    while months[-1].start.date() > earliest:
        before = months[-1].previous
        if workspace.control.published_run(str(before)) is None:
            notes.append(
                f"{before} has no published allocation: the baseline's history starts in "
                f"{months[-1]}"
            )
            break
        months.append(before)
    found = [period_cost(workspace, m) for m in reversed(months)]
    notes += [note for cost in found for note in cost.notes]
    return found, notes


def _merged(history: list[PeriodCost]) -> dict[SeriesKey, dict[date, Decimal]]:
    """Every month's series as one: a line billed in one month may be dated in another."""
    merged: dict[SeriesKey, dict[date, Decimal]] = defaultdict(dict)
    for cost in history:
        for key, days in cost.daily.items():
            into = merged[key]
            for day, amount in days.items():
                into[day] = add(into.get(day, Decimal(0)), amount)
    return dict(merged)


def _series(
    days: dict[date, Decimal], start: date, last: date
) -> tuple[date, list[Decimal]] | None:
    """The series' cost on every day from its start to the last day checked (nothing billed
    on a day: it cost nothing)."""
    if start > last:
        return None
    count = (last - start).days + 1
    return start, [days.get(start + timedelta(days=i), Decimal(0)) for i in range(count)]


def _runs(
    checks: list[Check | None], costs: list[Decimal], start: date, currency: str
) -> list[tuple[str, list[Day]]]:
    """Consecutive flagged days in the same direction, with that direction (the check's: a
    deviation of less than a minor unit rounds its cost and baseline to the same figure)."""
    runs: list[tuple[str, list[Day]]] = []
    previous: Check | None = None
    for check in checks:
        if check is None or not check.flagged:
            previous = None
            continue
        day = Day(
            day=start + timedelta(days=check.index),
            cost=to_minor(costs[check.index], currency),
            baseline=to_minor(Decimal(check.expected), currency),
            tolerance=to_minor(Decimal(check.tolerance), currency),
        )
        if previous is not None and previous.direction == check.direction:
            runs[-1][1].append(day)
        else:
            runs.append((check.direction, [day]))
        previous = check
    return runs


def _driving_lines(
    workspace: Workspace,
    history: list[PeriodCost],
    key: SeriesKey,
    direction: str,
    run: list[Day],
    settings: AnomaliesConfig,
) -> list[dict[str, Any]]:
    """The bill lines of the anomaly's days with the most cost sent to the series (for a
    drop, the least: credits and refunds first)."""
    first, last = run[0].day, run[-1].day
    owner = Owner(key.use_case, key.category, key.currency)
    rows: list[dict[str, Any]] = []
    for cost in history:
        days = cost.daily.get(key, {})
        if any(first <= day <= last for day in days):
            pools = cost.fractions.get(owner, {})
            rows += bill_lines(workspace, cost.period, pools, key.provider, first, last)
    rows.sort(key=lambda r: (-r["share"] if direction == SPIKE else r["share"], r[t.LINE_ID]))
    digits = minor_units(key.currency)
    return [
        {
            "line_id": row[t.LINE_ID],
            "day": row["day"].date().isoformat(),
            **{name: row[name] for name in LINE_FIELDS},
            "cost": None if row["cost"] is None else at_least(row["cost"], digits),
            "share": to_minor_text(row["share"], key.currency),
        }
        for row in rows[: settings.top_lines]
    ]
