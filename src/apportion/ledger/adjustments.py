"""Adjustments: corrections to a period posted in the next period that is not closed, linked to
what they correct. A closed period never changes, so an accepted dispute or a restated bill
for it shows up here instead; across periods the cost is conserved (a dispute moves cost
from the disputing payer to ``__unallocated__`` or another payer; a restatement adds exactly the
difference the restated bill made)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from apportion.allocate.inputs import input_partitions
from apportion.control import audit
from apportion.control.models import CLOSED, Adjustment, Closing, PeriodRecord
from apportion.control.plane import ControlPlane, RunRecord
from apportion.ledger import periods as states
from apportion.ledger.allocation import allocate_period
from apportion.ledger.lines import (
    ADJUSTMENT,
    KEY_FIELDS,
    LineKey,
    allocated_lines,
    amounts_by_key,
    frozen_lines,
)
from apportion.money import add, subtract
from apportion.periods import Period
from apportion.progress import Progress, quiet
from apportion.workspace import Workspace

RESTATEMENT = "restatement"
DISPUTE = "dispute"
ZERO = Decimal(0)


def next_open_period(session: Session, after: str) -> str:
    """The first period after ``after`` that is not closed (made, as open, if it is new).

    An existing one's version rises, as with any transition: a close of it prepared before
    this adjustment is then refused (its statement would miss the adjustment), and a close
    that commits first makes this posting fail rather than land in a closed period."""
    period = Period.parse(after)
    while True:
        period = period.next
        row = session.get(PeriodRecord, str(period))
        if row is None:
            states.ensure_open_period(session, str(period))
            return str(period)
        if row.state != CLOSED:
            states.bump(session, row)
            return str(period)


def post(
    session: Session,
    *,
    corrects: str,
    kind: str,
    payer: str,
    workload: str,
    category: str,
    rule: str,
    method: str,
    mode: str,
    currency: str,
    amount: Decimal,
    description: str,
    actor: str,
    dispute_id: int | None = None,
    corrects_line_id: str | None = None,
) -> Adjustment:
    adjustment = Adjustment(
        period=next_open_period(session, corrects),
        corrects_period=corrects,
        kind=kind,
        dispute_id=dispute_id,
        corrects_line_id=corrects_line_id,
        payer=payer,
        workload=workload,
        category=category,
        rule=rule,
        method=method,
        mode=mode,
        currency=currency,
        amount=amount,
        description=description,
        created_at=datetime.now(UTC),
        created_by=actor,
    )
    session.add(adjustment)
    session.flush()
    audit.record(
        session,
        actor,
        f"adjustment.{kind}",
        adjustment.period,
        adjustment_id=adjustment.id,
        corrects=corrects,
        payer=payer,
        currency=currency,
        amount=f"{amount:f}",
    )
    return adjustment


@dataclass(frozen=True)
class Restatement:
    period: str
    run_id: str
    posted_to: str | None
    adjustments: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def adjust_restated(
    workspace: Workspace, period: str, actor: str, progress: Progress | None = None
) -> Restatement:
    """Allocate a closed period's current (restated) data again and post what changed against
    its closed statement, less earlier restatements of it, to the next open period."""

    control = workspace.control
    if states.status(control, period).state != CLOSED:
        raise states.PeriodStateError(
            f"period {period} is not closed: allocate it again instead "
            f"(`apportion allocate --period {period}`)"
        )
    closing, latest = _closing_and_latest_run(control, period)
    current = input_partitions(workspace.data, Period.parse(period))
    if latest.inputs == current:
        return Restatement(
            period=period,
            run_id=latest.run_id,
            posted_to=None,
            adjustments=[],
            notes=[
                f"the inputs of {period} are those run {latest.run_id} allocated: nothing "
                "was restated since"
            ],
        )
    result = allocate_period(workspace, period, progress or quiet, restatement=True, actor=actor)
    if not result.published:
        raise states.PeriodStateError(f"the restated {period} does not allocate: {result.message}")
    restated = allocated_lines(workspace, period, metric=closing.metric)
    ledger = workspace.config.ledger
    notes = []
    run = control.run(result.run_id)
    if run is not None and run.config_hash != _config_hash(control, closing.run_id):
        notes.append(
            f"the configuration changed since {period} closed: the adjustments include what "
            "the changed rules or settings moved, not only the restated bills"
        )
    with control.transaction() as session:
        # one restatement at a time: a second one waits here, then finds the period changed
        _lock_closed(session, period)
        closed = [line for line in frozen_lines(session, period) or [] if line.method != ADJUSTMENT]
        before = amounts_by_key(closed)
        modes = {line.key: line.mode for line in closed}
        for key, amount in _restated_before(session, period).items():
            before[key] = add(before.get(key, ZERO), amount)
        after = amounts_by_key(restated)
        posted: list[dict[str, Any]] = []
        for key in sorted(set(before) | set(after)):
            change = subtract(after.get(key, ZERO), before.get(key, ZERO))
            if change == ZERO:
                continue
            payer, workload, category, rule, method, currency = key
            adjustment = post(
                session,
                corrects=period,
                kind=RESTATEMENT,
                payer=payer,
                workload=workload,
                category=category,
                rule=rule,
                method=method,
                mode=modes.get(key) or ledger.mode(category, payer, period),
                currency=currency,
                amount=change,
                description=f"restated bill for {period} (run {result.run_id})",
                actor=actor,
            )
            posted.append(
                {"adjustment_id": adjustment.id, "period": adjustment.period, **_named(key)}
                | {"amount": f"{change:f}"}
            )
    return Restatement(
        period=period,
        run_id=result.run_id,
        posted_to=posted[0]["period"] if posted else None,
        adjustments=posted,
        notes=notes,
    )


def _closing_and_latest_run(control: ControlPlane, period: str) -> tuple[Closing, RunRecord]:
    with control.reading() as session:
        closing = states.closing_of(session, period)
    assert closing is not None, "only a closed period is restated"
    latest = control.published_run(period)
    assert latest is not None, "a closed period has a published run"
    return closing, latest


def _config_hash(control: ControlPlane, run_id: str) -> str | None:
    run = control.run(run_id)
    return run.config_hash if run else None


def _lock_closed(session: Session, period: str) -> None:
    row = session.get_one(PeriodRecord, period)
    changed = session.execute(
        update(PeriodRecord)
        .where(
            PeriodRecord.period == period,
            PeriodRecord.version == row.version,
            PeriodRecord.state == CLOSED,
        )
        .values(version=row.version + 1)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise states.ConcurrentChangeError(
            f"{period} is being restated by someone else; nothing was posted: run "
            f"`apportion period adjust {period}` again when it has finished"
        )


def _restated_before(session: Session, period: str) -> dict[LineKey, Decimal]:
    """What earlier restatements of the period already posted, by the key of the line each
    corrected."""
    rows = session.scalars(
        select(Adjustment).where(
            Adjustment.corrects_period == period, Adjustment.kind == RESTATEMENT
        )
    )
    found: dict[LineKey, Decimal] = defaultdict(Decimal)
    for row in rows:
        key = (row.payer, row.workload, row.category, row.rule, row.method, row.currency)
        found[key] = add(found[key], row.amount)
    return dict(found)


def _named(key: LineKey) -> dict[str, str]:
    return dict(zip(KEY_FIELDS, key, strict=True))
