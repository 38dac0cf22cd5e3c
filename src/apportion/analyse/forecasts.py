"""Forecast to actual (MISSION R6.2): forecasts and budgets submitted per cost centre, use case
and period, compared each month with the actuals, the period's statement lines summed per
cost centre, use case and currency.

Per line, the variance is ``actual - forecast`` (positive: it cost more than forecast), in
money and in percent of the forecast. Per owner (and per currency overall), accuracy is

- WAPE = sum |actual - forecast| / sum |actual|, the error weighted by what was spent, and
- MAPE = the mean of |actual - forecast| / |actual| over the lines that cost something (a
  percentage of nothing is no number: such lines count in WAPE only).

A line (or an owner's total) is over-forecast in a period when its forecast exceeds its actual
and under-forecast when it falls short; doing either in at least ``forecasts.bias_count`` of
the last ``forecasts.bias_periods`` periods (default 3 of 4, this one included) is a
persistent bias and is flagged. Amounts never mix currencies: an owner forecasting in two has
a row for each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from apportion.analyse.forecast_input import (
    BASELINE,
    BUDGET,
    FORECAST,
    KINDS,
    ForecastError,
    ForecastRow,
    ForecastScopeError,
    Key,
    read_file,
)
from apportion.control import audit
from apportion.control.audit import aware
from apportion.control.models import Forecast
from apportion.ledger.lines import stated_lines
from apportion.ledger.periods import ConcurrentChangeError
from apportion.money import EXACT, add, at_least, exact_sum, ratio
from apportion.periods import Period
from apportion.schema.currency import minor_units
from apportion.workspace import Workspace

__all__ = [
    "BASELINE",
    "BUDGET",
    "FORECAST",
    "ForecastError",
    "ForecastScopeError",
    "accuracy",
    "actuals",
    "forecast_report",
    "submit",
    "submit_file",
    "submitted",
]

OVER, UNDER, ON = "over", "under", "exact"
FRACTION = Decimal(1).scaleb(-10)
HUNDREDTH = Decimal("0.01")
MAX_SOURCE = 100  # as the API's source: a label, kept short
Visible = Callable[[str], bool]  # may the caller see this cost centre?


# -- submitting --------------------------------------------------------------------------
@dataclass(frozen=True)
class Submission:
    source: str
    created: int
    replaced: int
    unchanged: int
    periods: list[str]
    removed: int = 0  # stored rows a replacing submission no longer had

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "created": self.created,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "periods": self.periods,
        }


def submit_file(
    workspace: Workspace, path: Path, actor: str, *, now: datetime | None = None
) -> Submission:
    """A forecast CSV, all or nothing; its file name is the rows' source."""
    ledger = workspace.config.ledger
    rows = read_file(path, ledger.payer, ledger.workload)
    return submit(workspace, rows, source=source_of(path), actor=actor, now=now)


def source_of(path: Path) -> str:
    """A file's name as a submission's source: control characters as ``?`` (it is shown and
    logged) and at most MAX_SOURCE characters, the end kept (it tells versions apart)."""
    name = "".join(char if char.isprintable() else "?" for char in path.name)
    return name[-MAX_SOURCE:] or "file"


def _check_source(source: str) -> None:
    if not source or len(source) > MAX_SOURCE or not source.isprintable():
        raise ForecastError(
            f"source {source!r} is no label: 1 to {MAX_SOURCE} printable characters"
        )


def submit(
    workspace: Workspace,
    rows: Sequence[ForecastRow],
    *,
    source: str,
    actor: str,
    visible: Visible | None = None,
    now: datetime | None = None,
    replace_periods: bool = False,
) -> Submission:
    """Store checked rows in one transaction: new ones are added, a row for a kind, period,
    cost centre, use case and currency already submitted replaces its amount and owner (the
    audit log keeps both), and the same figures again change nothing. ``replace_periods``:
    the rows are the whole of their kinds' periods, and a stored row of the same kind and
    period that they do not have is removed (the audit log keeps it)."""
    if not rows:
        raise ForecastError("no forecast rows to submit")
    _check_source(source)
    for row in rows:
        if visible is not None and not visible(row.payer):
            raise ForecastScopeError(f"{row.where}: cost centre {row.payer!r} is not yours")
    moment = now or datetime.now(UTC)
    counts = {"created": 0, "replaced": 0, "unchanged": 0, "removed": 0}
    try:
        with workspace.control.transaction() as session:
            stored = {
                _identity(found): found
                for found in session.scalars(
                    select(Forecast).where(
                        Forecast.period.in_({row.period for row in rows}),
                        Forecast.kind.in_({row.kind for row in rows}),
                    )
                )
            }
            for row in rows:
                outcome = _store(session, stored.get(row.identity), row, source, actor, moment)
                counts[outcome] += 1
            if replace_periods:
                counts["removed"] = _remove_others(session, stored, rows, source, actor)
            periods = sorted({row.period for row in rows})
            audit.record(session, actor, "forecast.submit", source, periods=periods, **counts)
    except IntegrityError:
        # another submission added one of these rows between our read and our write
        raise ConcurrentChangeError(
            "another submission of the same forecasts came first; nothing was written: submit again"
        ) from None
    return Submission(
        source,
        counts["created"],
        counts["replaced"],
        counts["unchanged"],
        periods,
        counts["removed"],
    )


def _identity(found: Forecast) -> tuple[str, str, str, str, str]:
    return (found.kind, found.period, found.payer, found.workload, found.currency)


def _store(
    session: Session,
    found: Forecast | None,
    row: ForecastRow,
    source: str,
    actor: str,
    moment: datetime,
) -> str:
    if found is None:
        session.add(
            Forecast(
                kind=row.kind,
                period=row.period,
                payer=row.payer,
                workload=row.workload,
                currency=row.currency,
                amount=row.amount,
                owner=row.owner,
                submitted_by=actor,
                submitted_at=moment,
                source=source,
            )
        )
        return "created"
    if (found.amount, found.owner) == (row.amount, row.owner):
        return "unchanged"  # and keeps when it was first submitted: no late change
    audit.record(
        session,
        actor,
        "forecast.replace",
        f"{row.kind} {row.period} {row.payer}/{row.workload} {row.currency}",
        before=f"{found.amount:f}",
        after=f"{row.amount:f}",
        owner_before=found.owner,
        owner_after=row.owner,
        submitted_before_by=found.submitted_by,
        source=source,
    )
    found.amount, found.owner, found.source = row.amount, row.owner, source
    found.submitted_by, found.submitted_at = actor, moment
    return "replaced"


def _remove_others(
    session: Session,
    stored: dict[tuple[str, str, str, str, str], Forecast],
    rows: Sequence[ForecastRow],
    source: str,
    actor: str,
) -> int:
    """Delete the stored rows of the rows' kinds and periods that the rows do not have."""
    kept = {row.identity for row in rows}
    replaced = {(row.kind, row.period) for row in rows}
    removed = 0
    for identity, found in stored.items():
        if identity in kept or (found.kind, found.period) not in replaced:
            continue
        audit.record(
            session,
            actor,
            "forecast.remove",
            f"{found.kind} {found.period} {found.payer}/{found.workload} {found.currency}",
            before=f"{found.amount:f}",
            owner_before=found.owner,
            submitted_before_by=found.submitted_by,
            source=source,
        )
        session.delete(found)
        removed += 1
    return removed


# -- reading -----------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredForecast:
    kind: str
    period: str
    payer: str
    workload: str
    currency: str
    amount: Decimal
    owner: str
    submitted_by: str
    submitted_at: datetime
    source: str

    @property
    def key(self) -> Key:
        return (self.payer, self.workload, self.currency)

    @property
    def late(self) -> bool:
        """Submitted (or last changed) once the period was over: a forecast of what was
        already known. Never a baseline: it reads only the periods before its own, whenever
        it is saved."""
        if self.kind == BASELINE:
            return False
        end = Period.parse(self.period).end.replace(tzinfo=UTC)
        return self.submitted_at >= end


def stored(
    workspace: Workspace, periods: Iterable[str], kind: str = FORECAST
) -> list[StoredForecast]:
    _check_kind(kind)
    with workspace.control.reading() as session:
        found = session.scalars(
            select(Forecast)
            .where(Forecast.kind == kind, Forecast.period.in_(list(periods)))
            .order_by(Forecast.period, Forecast.payer, Forecast.workload, Forecast.currency)
        )
        return [
            StoredForecast(
                kind=row.kind,
                period=row.period,
                payer=row.payer,
                workload=row.workload,
                currency=row.currency,
                amount=row.amount,
                owner=row.owner,
                submitted_by=row.submitted_by,
                submitted_at=aware(row.submitted_at),
                source=row.source,
            )
            for row in found
        ]


def submitted(workspace: Workspace, period: str, kind: str = FORECAST) -> dict[Key, Decimal]:
    """The period's forecasts (or budgets, or saved baselines), keyed (payer, workload,
    currency)."""
    period = str(Period.parse(period))  # as stored: " 2026-10" is 2026-10
    return {found.key: found.amount for found in stored(workspace, [period], kind)}


def actuals(workspace: Workspace, period: str) -> dict[Key, Decimal] | None:
    """The period's statement lines summed per (payer, workload, currency); None when the
    period has no statement yet."""
    lines = stated_lines(workspace, period)
    if lines is None:
        return None
    found: dict[Key, Decimal] = {}
    for line in lines:
        key = (line.payer, line.workload, line.currency)
        found[key] = add(found.get(key, Decimal(0)), line.amount)
    return found


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ForecastError(f"kind {kind!r} is none of {', '.join(KINDS)}")


# -- accuracy ----------------------------------------------------------------------------
@dataclass
class Accuracy:
    """Forecast against actual over a set of lines in one currency."""

    forecast: Decimal = Decimal(0)
    actual: Decimal = Decimal(0)
    absolute_error: Decimal = Decimal(0)
    absolute_actual: Decimal = Decimal(0)
    lines: int = 0
    percentage_errors: list[Decimal] = field(default_factory=list)

    def add(self, forecast: Decimal, actual: Decimal) -> None:
        # EXACT and copy_abs: unary minus and abs() round to the default context's 28 digits
        error = EXACT.subtract(actual, forecast).copy_abs()
        self.forecast = add(self.forecast, forecast)
        self.actual = add(self.actual, actual)
        self.absolute_error = add(self.absolute_error, error)
        self.absolute_actual = add(self.absolute_actual, actual.copy_abs())
        self.lines += 1
        if actual:
            self.percentage_errors.append(EXACT.divide(error, actual.copy_abs()))

    @property
    def wape(self) -> Decimal | None:
        """As a fraction; None when nothing was spent (any error of nothing is infinite)."""
        if not self.absolute_actual:
            return None
        return EXACT.divide(self.absolute_error, self.absolute_actual).quantize(
            FRACTION, context=EXACT
        )

    @property
    def mape(self) -> Decimal | None:
        if not self.percentage_errors:
            return None
        mean = EXACT.divide(exact_sum(self.percentage_errors), len(self.percentage_errors))
        return mean.quantize(FRACTION, context=EXACT)

    @property
    def direction(self) -> str:
        return _direction(self.forecast, self.actual)


def _direction(forecast: Decimal, actual: Decimal) -> str:
    return OVER if forecast > actual else UNDER if forecast < actual else ON


def by_currency(
    forecasts: Iterable[StoredForecast], found: dict[Key, Decimal]
) -> dict[str, Accuracy]:
    """Accuracy per currency of the forecast lines, against the actuals ``found``."""
    totals: dict[str, Accuracy] = defaultdict(Accuracy)
    for forecast in forecasts:
        totals[forecast.currency].add(forecast.amount, found.get(forecast.key, Decimal(0)))
    return dict(totals)


def accuracy(workspace: Workspace, period: str) -> Decimal | None:
    """The period's WAPE of its forecasts as a fraction (0.15 is 15%); None when nothing was
    forecast, the period has no statement yet, or nothing forecast cost anything. Forecasts in
    several currencies: the worst currency's (a ratio compares across currencies; their
    amounts never add)."""
    period = str(Period.parse(period))
    forecasts = stored(workspace, [period], FORECAST)
    if not forecasts:
        return None
    found = actuals(workspace, period)
    if found is None:
        return None
    wapes = [a.wape for a in by_currency(forecasts, found).values() if a.wape is not None]
    return max(wapes) if wapes else None


# -- the report --------------------------------------------------------------------------
@dataclass(frozen=True)
class Bias:
    direction: str  # over | under
    count: int
    periods: int

    def describe(self) -> str:
        return f"{self.direction}-forecast in {self.count} of the last {self.periods} periods"


@dataclass(frozen=True)
class ForecastLine:
    forecast: StoredForecast | None
    key: Key
    actual: Decimal | None  # None: the period has no statement yet
    history: dict[str, str | None]  # period -> over | under | exact | None (not comparable)
    bias: Bias | None

    @property
    def variance(self) -> Decimal | None:
        if self.forecast is None or self.actual is None:
            return None
        return EXACT.subtract(self.actual, self.forecast.amount)  # -x rounds to 28 digits

    @property
    def direction(self) -> str | None:
        if self.forecast is None or self.actual is None:
            return None
        return _direction(self.forecast.amount, self.actual)

    def as_dict(self) -> dict[str, Any]:
        payer, workload, currency = self.key
        forecast = self.forecast.amount if self.forecast else None
        variance = self.variance
        return {
            "cost_centre": payer,
            "use_case": workload,
            "currency": currency,
            "owner": self.forecast.owner if self.forecast else None,
            "forecast": _money(forecast, currency),
            "actual": _money(self.actual, currency),
            "variance": _money(variance, currency),
            "variance_percent": _percent(ratio(variance, forecast)),
            "error_percent": _percent(
                ratio(
                    None if variance is None else abs(variance),
                    None if self.actual is None else abs(self.actual),
                )
            ),
            "direction": self.direction,
            "bias": self.bias.describe() if self.bias else None,
            "history": self.history,
            "late": self.forecast.late if self.forecast else None,
            "submitted_by": self.forecast.submitted_by if self.forecast else None,
            "submitted_at": self.forecast.submitted_at.isoformat() if self.forecast else None,
        }


@dataclass(frozen=True)
class OwnerAccuracy:
    owner: str | None  # None: a currency's total
    currency: str
    accuracy: Accuracy
    history: dict[str, str | None]
    bias: Bias | None

    def as_dict(self) -> dict[str, Any]:
        found = self.accuracy
        variance = EXACT.subtract(found.actual, found.forecast)  # -x rounds to 28 digits
        return {
            **({} if self.owner is None else {"owner": self.owner}),
            "currency": self.currency,
            "lines": found.lines,
            "forecast": _money(found.forecast, self.currency),
            "actual": _money(found.actual, self.currency),
            "variance": _money(variance, self.currency),
            "variance_percent": _percent(ratio(variance, found.forecast)),
            "wape_percent": _percent(found.wape),
            "mape_percent": _percent(found.mape),
            **(
                {}
                if self.owner is None
                else {"bias": self.bias.describe() if self.bias else None, "history": self.history}
            ),
        }


@dataclass(frozen=True)
class ForecastReport:
    period: str
    kind: str
    periods: list[str]  # the bias window, oldest first, this period last
    lines: list[ForecastLine]  # forecast lines, then the actuals nobody forecast
    owners: list[OwnerAccuracy]
    totals: list[OwnerAccuracy]
    notes: list[str]

    @property
    def forecast_lines(self) -> list[ForecastLine]:
        return [line for line in self.lines if line.forecast is not None]

    @property
    def not_forecast(self) -> list[ForecastLine]:
        return [line for line in self.lines if line.forecast is None]

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "kind": self.kind,
            "bias_periods": self.periods,
            "lines": [line.as_dict() for line in self.forecast_lines],
            "owners": [owner.as_dict() for owner in self.owners],
            "totals": [total.as_dict() for total in self.totals],
            "not_forecast": [
                {
                    "cost_centre": line.key[0],
                    "use_case": line.key[1],
                    "currency": line.key[2],
                    "actual": _money(line.actual, line.key[2]),
                }
                for line in self.not_forecast
            ],
            "notes": self.notes,
        }


@dataclass(frozen=True)
class _Month:
    """One period of the bias window: its forecasts and its actuals (None: no statement)."""

    period: str
    forecasts: list[StoredForecast]
    actuals: dict[Key, Decimal] | None

    # looked up once per line and per owner of the report: indexed once, not scanned each time
    @cached_property
    def by_key(self) -> dict[Key, StoredForecast]:
        return {f.key: f for f in self.forecasts}

    @cached_property
    def by_owner(self) -> dict[tuple[str, str], list[StoredForecast]]:
        grouped: dict[tuple[str, str], list[StoredForecast]] = defaultdict(list)
        for forecast in self.forecasts:
            grouped[(forecast.owner, forecast.currency)].append(forecast)
        return dict(grouped)

    def line_direction(self, key: Key) -> str | None:
        forecast = self.by_key.get(key)
        if forecast is None or self.actuals is None:
            return None
        return _direction(forecast.amount, self.actuals.get(key, Decimal(0)))

    def owner_direction(self, owner: str, currency: str) -> str | None:
        mine = self.by_owner.get((owner, currency))
        if not mine or self.actuals is None:
            return None
        return by_currency(mine, self.actuals)[currency].direction


def forecast_report(
    workspace: Workspace, period: str, kind: str = FORECAST, visible: Visible | None = None
) -> ForecastReport:
    """Forecast (or budget, or saved baseline) against actual for the period: per line, per
    owner and per currency, with the bias of the last periods. ``visible`` limits it to the
    cost centres a caller may see."""
    _check_kind(kind)
    period = str(Period.parse(period))
    months = _window(workspace, period, kind, visible)
    this = months[-1]
    actual = this.actuals
    lines = [_line(f, months, workspace) for f in this.forecasts]
    forecast_keys = {f.key for f in this.forecasts}
    lines += [
        ForecastLine(None, key, amount, {}, None)
        for key, amount in sorted((actual or {}).items())
        if key not in forecast_keys and amount
    ]
    owners = _owners(months, workspace) if actual is not None else []
    totals = (
        [
            OwnerAccuracy(None, currency, found, {}, None)
            for currency, found in sorted(by_currency(this.forecasts, actual).items())
        ]
        if actual is not None
        else []
    )
    months_shown = [m.period for m in months]
    report = ForecastReport(period, kind, months_shown, lines, owners, totals, [])
    report.notes.extend(_notes(report, actual is None))
    return report


def _line(forecast: StoredForecast, months: list[_Month], workspace: Workspace) -> ForecastLine:
    actual = months[-1].actuals
    directions = [m.line_direction(forecast.key) for m in months]
    return ForecastLine(
        forecast=forecast,
        key=forecast.key,
        actual=None if actual is None else actual.get(forecast.key, Decimal(0)),
        history=dict(zip([m.period for m in months], directions, strict=True)),
        bias=_bias(directions, workspace),
    )


def _window(workspace: Workspace, period: str, kind: str, visible: Visible | None) -> list[_Month]:
    """The bias window's periods, oldest first; actuals are read only where there are
    forecasts to compare them with (and always for this period)."""
    month = Period.parse(period)
    labels = []
    for _ in range(workspace.config.forecasts.bias_periods):
        labels.append(str(month))
        month = month.previous
    labels.reverse()
    forecasts: dict[str, list[StoredForecast]] = defaultdict(list)
    for found in stored(workspace, labels, kind):
        if visible is None or visible(found.payer):
            forecasts[found.period].append(found)
    months = []
    for label in labels:
        wanted = forecasts[label] or label == labels[-1]
        found_actuals = actuals(workspace, label) if wanted else None
        if found_actuals is not None and visible is not None:
            found_actuals = {k: v for k, v in found_actuals.items() if visible(k[0])}
        months.append(_Month(label, forecasts[label], found_actuals))
    return months


def _owners(months: list[_Month], workspace: Workspace) -> list[OwnerAccuracy]:
    this = months[-1]
    assert this.actuals is not None
    found = []
    for (owner, currency), mine in sorted(this.by_owner.items()):
        history = [m.owner_direction(owner, currency) for m in months]
        found.append(
            OwnerAccuracy(
                owner,
                currency,
                by_currency(mine, this.actuals)[currency],
                dict(zip([m.period for m in months], history, strict=True)),
                _bias(history, workspace),
            )
        )
    return found


def _bias(directions: Sequence[str | None], workspace: Workspace) -> Bias | None:
    """Over- or under-forecast in at least bias_count of the window's periods, and more often
    than the other way (with bias_count 2 of 4, twice each way is no bias)."""
    config = workspace.config.forecasts
    over, under = directions.count(OVER), directions.count(UNDER)
    if over >= config.bias_count and over > under:
        return Bias(OVER, over, len(directions))
    if under >= config.bias_count and under > over:
        return Bias(UNDER, under, len(directions))
    return None


def _notes(report: ForecastReport, no_statement: bool) -> list[str]:
    notes = []
    period, kind = report.period, report.kind
    if not report.forecast_lines:
        how = (
            "apportion forecast baseline --save"
            if kind == BASELINE
            else "apportion forecast submit FILE"
        )
        notes.append(f"no {kind} was submitted for {period}: {how}")
    if no_statement:
        notes.append(
            f"{period} has no statement yet (allocate it): actuals are unknown, so there is no "
            "variance or accuracy"
        )
    missed: dict[str, list[Decimal]] = defaultdict(list)
    for line in report.not_forecast:
        missed[line.key[2]].append(line.actual or Decimal(0))
    for currency, amounts in sorted(missed.items()):
        notes.append(
            f"{len(amounts)} cost centre and use case lines cost {period} "
            f"{_money(exact_sum(amounts), currency)} {currency} without a {kind}: they count in "
            "no accuracy"
        )
    late = [line for line in report.forecast_lines if line.forecast and line.forecast.late]
    if late:
        notes.append(f"{len(late)} {kind} lines were submitted after {period} ended (late)")
    unspent = [line for line in report.forecast_lines if line.actual == 0]
    if unspent and not no_statement:
        notes.append(
            f"{len(unspent)} {kind} lines cost nothing: they count in WAPE (all of the "
            "forecast is error) but not in MAPE (no percentage of nothing)"
        )
    return notes


# -- formatting --------------------------------------------------------------------------
def _percent(fraction: Decimal | None) -> str | None:
    if fraction is None:
        return None
    return f"{EXACT.multiply(fraction, Decimal(100)).quantize(HUNDREDTH, context=EXACT):f}"


def _money(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else at_least(value, minor_units(currency))
