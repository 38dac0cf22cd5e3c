"""The adaptive baseline of a daily cost series (MISSION R7.3), in plain Python: statistics,
so floats; the money around it stays Decimal (apportion.analyse.anomalies).

For each day ``d`` of a series, from the days before it only:

1. weekday factors: the median cost of each weekday over the last ``window_days``, the
   seven scaled to average 1 (all 1 when the series is not ``weekly``);
2. level: the median of the last 14 days' costs, each divided by its weekday's factor;
3. expected cost on ``d``: level times ``d``'s weekday factor;
4. spread: 1.4826 times the median absolute deviation (MAD) of the baseline's own errors
   (cost minus expected, over the factor) on the last 2 x ``window_days`` days: the baseline is
   judged by how far off it usually is, not by how far costs spread around their own median,
   which would understate a weekly series' noise;
5. ``d`` is flagged when it is more than ``sensitivity`` spreads (times the size of its
   factor: noise scales with the weekday, a weekday of credits included) from expected, and
   by at least the minimum size. A weekday that usually costs nothing (factor 0) has no noise
   to scale: any deviation of the minimum size counts.

A baseline needs 14 days (two of every weekday) before the day; the spread needs 14 of those
baselines. A day with less behind it is not checked: a series needs 28 days of history.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from apportion.config.anomalies import AnomaliesConfig

LEVEL_DAYS = 14  # two of every weekday: the least a baseline is drawn from
MIN_ERRORS = 14  # baselines behind a day before its spread is trusted
HISTORY_NEEDED = LEVEL_DAYS + MIN_ERRORS
MAD_SCALE = 1.4826  # MAD to standard deviation for normal noise
WEEK = 7


@dataclass(frozen=True)
class Expected:
    cost: float
    factor: float  # the day's weekday factor; its size is how its noise scales


@dataclass(frozen=True)
class Check:
    """One day of a series held against its baseline."""

    index: int  # position in the series
    expected: float
    tolerance: float  # sensitivity times the spread, at this weekday's scale: never negative
    minimum: float  # the least deviation in money that counts here
    deviation: float  # cost minus expected

    @property
    def flagged(self) -> bool:
        return abs(self.deviation) > self.tolerance and abs(self.deviation) >= self.minimum

    @property
    def direction(self) -> str:
        return "spike" if self.deviation > 0 else "drop"


def check_series(costs: list[float], settings: AnomaliesConfig) -> list[Check | None]:
    """A check for every day of a series of consecutive daily costs (the first day is the
    series' first), None where too little history stands behind the day."""
    window = settings.window_days
    expected: list[Expected | None] = [
        _expected(costs, day, window, settings.weekly) for day in range(len(costs))
    ]
    errors = [_error(costs[day], found) for day, found in enumerate(expected)]
    checks: list[Check | None] = []
    for day, found in enumerate(expected):
        behind = [e for e in errors[max(0, day - 2 * window) : day] if e is not None]
        if found is None or len(behind) < MIN_ERRORS:
            checks.append(None)
            continue
        spread = MAD_SCALE * _mad(behind)
        recent = costs[max(0, day - window) : day]
        mean = sum(recent) / len(recent)
        checks.append(
            Check(
                index=day,
                expected=found.cost,
                # a weekday whose median is a credit scales noise by its size, not its sign
                tolerance=float(settings.sensitivity) * spread * abs(found.factor),
                minimum=max(float(settings.min_amount), float(settings.min_percent) / 100 * mean),
                deviation=costs[day] - found.cost,
            )
        )
    return checks


def _factors(costs: list[float], day: int, window: int) -> list[float]:
    """Weekday factors for ``day``, by how many days before it a weekday falls (0: its own
    weekday): each weekday's median cost over the window, scaled so the seven average 1. A
    spike moves only its own weekday's median, and that by one value of four."""
    medians = []
    for offset in range(WEEK):
        same = [
            costs[before]
            for before in range(max(0, day - window), day)
            if (day - before) % WEEK == offset
        ]
        medians.append(median(same) if same else 0.0)
    mean = sum(medians) / WEEK
    return [m / mean for m in medians] if mean > 0 else [1.0] * WEEK


def _expected(costs: list[float], day: int, window: int, weekly: bool) -> Expected | None:
    if day < LEVEL_DAYS:
        return None
    factors = _factors(costs, day, window) if weekly else [1.0] * WEEK
    # a weekday that usually costs nothing says nothing about the level
    levelled = [
        costs[before] / f
        for before in range(day - LEVEL_DAYS, day)
        if (f := factors[(day - before) % WEEK]) > 0
    ]
    level = median(levelled) if levelled else 0.0
    return Expected(cost=level * factors[0], factor=factors[0])


def _error(cost: float, expected: Expected | None) -> float | None:
    """How far off the baseline was, at the scale of an average weekday (None for a weekday
    that usually costs nothing: it has no scale)."""
    if expected is None or expected.factor == 0:
        return None
    return (cost - expected.cost) / abs(expected.factor)


def _mad(values: list[float]) -> float:
    centre = median(values)
    return median(abs(v - centre) for v in values)
