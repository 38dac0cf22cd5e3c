"""The statistical baseline forecast (MISSION R6.2): what each cost centre and use case would
cost in a period if it went on as its history says, by exponential smoothing (statsmodels'
Holt-Winters ``ExponentialSmoothing``):

- 24 periods of history or more: additive trend and additive 12-month seasonality;
- 3 to 23 periods: Holt's additive trend, no seasonality (a season needs two cycles to be told
  from noise);
- 1 or 2 periods: naive, the last actual (two points make a trend of anything).

The history is the run of consecutive periods with a statement that ends at the latest one
before the forecast period, however far back that is (at most ``forecasts.baseline_history``
periods of it); a line absent
from a period of that run cost nothing in it; a line's series starts where it first appears.
A forecast period further ahead than the month after the history is forecast that many steps
ahead. Each baseline says in ``method`` how it was made, fallbacks included; the model runs
in floating point, the amount is rounded half-even to the currency's minor unit and floored at
zero, whatever the method (a last actual of credits included): a forecast is a cost. The fit is
deterministic: the same history gives the same baseline.

statsmodels is an optional extra (``pip install 'apportion[forecast]'``): it serves this one
model. Without it every baseline is the last actual, and its ``method`` says why.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from apportion.analyse.forecast_input import BASELINE, ForecastError, ForecastRow, Key
from apportion.analyse.forecasts import Submission, actuals, submit
from apportion.control.models import Closing, Run
from apportion.money import to_minor
from apportion.periods import Period
from apportion.workspace import Workspace

SEASON = 12
NO_SMOOTHING = "statsmodels is not installed (pip install 'apportion[forecast]')"
SEASONAL_HISTORY = 2 * SEASON
TREND_HISTORY = 3
BASELINE_OWNER = "baseline"


@dataclass(frozen=True)
class Baseline:
    key: Key
    amount: Decimal
    method: str
    history: int  # periods of this line's history the method used

    def as_dict(self) -> dict[str, Any]:
        payer, workload, currency = self.key
        return {
            "cost_centre": payer,
            "use_case": workload,
            "currency": currency,
            "amount": f"{self.amount:f}",
            "method": self.method,
            "history_periods": self.history,
        }


@dataclass(frozen=True)
class BaselineResult:
    period: str
    history: list[str]  # the periods read, oldest first
    baselines: list[Baseline]
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "history": self.history,
            "baselines": [b.as_dict() for b in self.baselines],
            "notes": self.notes,
        }


def baseline(workspace: Workspace, period: str) -> BaselineResult:
    """The baseline of every line with history before ``period``."""
    target = Period.parse(period)
    period = str(target)
    labels, months = _history(workspace, target, workspace.config.forecasts.baseline_history)
    if not labels:
        note = f"no period before {period} has a statement: there is no history to forecast from"
        return BaselineResult(period, [], [], [note])
    horizon = _months_between(Period.parse(labels[-1]), target)
    found = [
        _line_baseline(key, series, horizon) for key, series in sorted(_series(months).items())
    ]
    notes = []
    if horizon > 1:
        notes.append(
            f"the latest statement before {period} is {labels[-1]}: forecast {horizon} "
            "periods ahead"
        )
    return BaselineResult(period, labels, found, notes)


def save_baseline(
    workspace: Workspace, period: str, actor: str, *, now: datetime | None = None
) -> tuple[BaselineResult, Submission]:
    """Store the baseline as kind "baseline", so that its accuracy is reported like anyone's
    (apportion report forecast --kind baseline). Saving again replaces it, in one
    transaction: a line the new baseline no longer has is removed."""
    result = baseline(workspace, period)
    rows = [
        ForecastRow(
            kind=BASELINE,
            period=result.period,
            payer=found.key[0],
            workload=found.key[1],
            currency=found.key[2],
            amount=found.amount,
            owner=BASELINE_OWNER,
            where=f"the baseline of {found.key[0]}/{found.key[1]} {found.key[2]}",
        )
        for found in result.baselines
    ]
    if not rows:
        raise ForecastError(f"no baseline to save for {result.period}: {'; '.join(result.notes)}")
    return result, submit(
        workspace, rows, source=BASELINE, actor=actor, now=now, replace_periods=True
    )


def extrapolate(series: Sequence[Decimal], horizon: int, currency: str) -> tuple[Decimal, str]:
    """The amount ``horizon`` periods after the last of ``series`` (oldest first), and how it
    was made."""
    count = len(series)
    if count == 0 or horizon < 1:
        raise ValueError("a baseline needs a period of history and a period ahead of it")
    ahead = "" if horizon == 1 else f", {horizon} periods ahead"
    history = f"{count} period{'s' if count > 1 else ''} of history"
    last = to_minor(series[-1], currency)
    if count < TREND_HISTORY:
        return _floored(last, f"naive, the last actual ({history}{ahead})", currency)
    seasonal = count >= SEASONAL_HISTORY
    try:
        value = _smoothed([float(amount) for amount in series], horizon, seasonal)
    except ImportError:
        method = f"naive, the last actual: {NO_SMOOTHING} ({history})"
        return _floored(last, method, currency)
    except (ValueError, ArithmeticError) as exc:  # numpy's LinAlgError is a ValueError
        method = f"naive, the last actual: the smoothing failed, {exc} ({history})"
        return _floored(last, method, currency)
    method = (
        f"holt-winters, additive trend and {SEASON}-month seasonality ({history}{ahead})"
        if seasonal
        else f"holt, additive trend ({history}{ahead})"
    )
    # repr: the shortest decimal that is the float, not its binary expansion
    return _floored(to_minor(Decimal(repr(value)), currency), method, currency)


def _floored(amount: Decimal, method: str, currency: str) -> tuple[Decimal, str]:
    """No cost is below nothing: a negative projection (or last actual, of credits) is 0."""
    if amount < 0:
        return to_minor(Decimal(0), currency), f"{method}, floored at 0 from {amount:f}"
    return amount, method


def _smoothed(values: list[float], horizon: int, seasonal: bool) -> float:
    # imported here: statsmodels is an optional extra, and heavy to import
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    model = ExponentialSmoothing(
        values,
        trend="add",
        seasonal="add" if seasonal else None,
        seasonal_periods=SEASON if seasonal else None,
        initialization_method="estimated",
    )
    with warnings.catch_warnings():
        # a flat or short series makes the optimiser warn (log of zero, no convergence) while
        # its forecast is still the level it found; a forecast that is no number is refused
        warnings.simplefilter("ignore")
        value = float(model.fit().forecast(horizon)[-1])
    if not math.isfinite(value):
        raise ValueError("the forecast is not a number")
    return value


def _line_baseline(key: Key, series: list[Decimal], horizon: int) -> Baseline:
    amount, method = extrapolate(series, horizon, key[2])
    return Baseline(key, amount, method, len(series))


def _history(
    workspace: Workspace, target: Period, limit: int
) -> tuple[list[str], list[dict[Key, Decimal]]]:
    """The run of consecutive periods with a statement ending at the latest before
    ``target``, at most ``limit`` of them, oldest first (a period with no statement is
    unknown, not zero). The months between that one and ``target`` are no part of the run,
    so they do not count against ``limit``."""
    labels: list[str] = []
    months: list[dict[Key, Decimal]] = []
    month = _latest_statement(workspace, target)
    while month is not None and len(labels) < limit:
        found = actuals(workspace, str(month))
        if found is None:
            break  # the run ends at the first gap
        labels.append(str(month))
        months.append(found)
        month = month.previous
    labels.reverse()
    months.reverse()
    return labels, months


def _latest_statement(workspace: Workspace, target: Period) -> Period | None:
    """The latest period before ``target`` with a statement: closed, or with a published
    allocation (periods are YYYY-MM, so their text sorts as they do)."""
    before = str(target)
    with workspace.control.reading() as session:
        published = session.scalar(
            select(func.max(Run.period)).where(Run.status == "published", Run.period < before)
        )
        closed = session.scalar(select(func.max(Closing.period)).where(Closing.period < before))
    latest = max((found for found in (published, closed) if found), default=None)
    return None if latest is None else Period.parse(latest)


def _series(months: list[dict[Key, Decimal]]) -> dict[Key, list[Decimal]]:
    """Per line, its cost in each period from the one it first appears in."""
    found: dict[Key, list[Decimal]] = {}
    for index, month in enumerate(months):
        for key in month:
            if key not in found:
                found[key] = [m.get(key, Decimal(0)) for m in months[index:]]
    return found


def _months_between(earlier: Period, later: Period) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month
