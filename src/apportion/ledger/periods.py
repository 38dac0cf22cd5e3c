"""A period's life in the ledger: open -> allocated -> in_review -> closed.

Allocation may run again while a period is open, allocated or in review; closing freezes it
(apportion.ledger.close) and nothing changes it afterwards. Every transition is one conditional
UPDATE on the period's version, so of two writers exactly one wins, on SQLite and PostgreSQL
alike, and each is written to the audit log in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from apportion.control import audit
from apportion.control.models import (
    ALLOCATED,
    CLOSED,
    IN_REVIEW,
    OPEN,
    Closing,
    PeriodRecord,
    Run,
)
from apportion.control.plane import ControlPlane
from apportion.errors import RefusedError, WorkError
from apportion.schema import tables as t
from apportion.workspace import Workspace


class PeriodStateError(RefusedError):
    """The transition is not allowed from the period's state (bad usage: exit code 2)."""


class ConcurrentChangeError(WorkError):
    """Someone else changed the period first; nothing was written (run it again)."""


@dataclass(frozen=True)
class PeriodStatus:
    period: str
    state: str
    run_id: str | None
    updated_at: datetime | None
    closed_by: str | None = None
    closed_at: datetime | None = None
    forced: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "state": self.state,
            "run_id": self.run_id,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "closed_by": self.closed_by,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "forced": self.forced,
        }


def status(control: ControlPlane, period: str) -> PeriodStatus:
    with control.reading() as session:
        return _status(session, period, session.get(PeriodRecord, period))


def statuses(control: ControlPlane, with_data: Iterable[str] = ()) -> list[PeriodStatus]:
    """Every period the ledger knows, and as open those that only have data."""
    with control.reading() as session:
        known = {row.period: row for row in session.scalars(select(PeriodRecord))}
        return [
            _status(session, period, known.get(period))
            for period in sorted(set(known) | set(with_data))
        ]


def list_periods(workspace: Workspace) -> list[PeriodStatus]:
    """Every period with data or a ledger record: its state, run and who closed it."""
    lines = workspace.data.table(t.COST_LINES)
    found = workspace.data.to_arrow(lines.select(lines[t.BILLING_PERIOD]).distinct())
    with_data = {period for period in found.column(0).to_pylist() if period}
    return statuses(workspace.control, with_data)


def _status(session: Session, period: str, row: PeriodRecord | None) -> PeriodStatus:
    if row is None:
        return PeriodStatus(period, OPEN, None, None)
    closing = closing_of(session, period)
    return PeriodStatus(
        period,
        row.state,
        row.run_id,
        audit.aware(row.updated_at),
        closed_by=closing.closed_by if closing else None,
        closed_at=audit.aware(closing.closed_at) if closing else None,
        forced=closing.forced if closing else False,
    )


def closing_of(session: Session, period: str) -> Closing | None:
    """The period's closing, if it is closed: what every "is it frozen?" asks."""
    return session.scalars(select(Closing).where(Closing.period == period)).first()


def refuse_if_closed(control: ControlPlane, period: str) -> None:
    with control.reading() as session:
        row = session.get(PeriodRecord, period)
        if row is not None and row.state == CLOSED:
            raise PeriodStateError(_closed_message(session, period))


def _closed_message(session: Session, period: str) -> str:
    closing = closing_of(session, period)
    when = f" ({audit.aware(closing.closed_at):%Y-%m-%d} by {closing.closed_by})" if closing else ""
    return (
        f"period {period} is closed{when} and never changes; a restated bill becomes an "
        f"adjustment in the next open period: run `apportion period adjust {period}`"
    )


def record_allocation(
    session: Session, period: str, run_id: str, actor: str, claimed: int | None = None
) -> None:
    """A run was published: an open period becomes allocated; one allocated or in review
    keeps its state with the new run. Refused if the period closed, or another run claimed it,
    since this run claimed it (``claimed``)."""
    row = session.get(PeriodRecord, period)
    if row is None:
        session.add(
            PeriodRecord(
                period=period, state=ALLOCATED, version=1, run_id=run_id, updated_at=_now()
            )
        )
        audit.record(session, actor, "period.allocated", period, run_id=run_id, previous=OPEN)
        return
    state = ALLOCATED if row.state == OPEN else row.state
    transition(
        session,
        period,
        (OPEN, ALLOCATED, IN_REVIEW),
        state,
        actor,
        run_id=run_id,
        expected_version=claimed,
    )


def record_published(
    control: ControlPlane,
    run_id: str,
    period: str,
    *,
    totals: Any,
    inputs: dict[str, str],
    actor: str,
    restatement: bool = False,
    claimed: int | None = None,
) -> None:
    """The run is published: recorded with its inputs, and the period moved, in one
    transaction. A configuration no published run used before is a new rule-set version."""
    with control.transaction() as session:
        control.finish_run(run_id, "published", None, totals, inputs, session)
        run = session.get_one(Run, run_id)
        earlier = session.scalars(
            select(Run.run_id).where(
                Run.config_hash == run.config_hash,
                Run.run_id != run_id,
                Run.status == "published",
            )
        ).first()
        if earlier is None:
            audit.record(
                session,
                actor,
                "ruleset.version",
                run.config_hash[:12],
                config_hash=run.config_hash,
                first_run=run_id,
            )
        if restatement:
            audit.record(session, actor, "period.restated", period, run_id=run_id)
        else:
            record_allocation(session, period, run_id, actor, claimed)


def ensure_open_period(session: Session, period: str) -> None:
    """Make a row for a period that has none yet (an adjustment is posted to it)."""
    if session.get(PeriodRecord, period) is None:
        session.add(PeriodRecord(period=period, state=OPEN, version=0, updated_at=_now()))
        session.flush()


def start_review(control: ControlPlane, period: str, actor: str) -> PeriodStatus:
    with control.transaction() as session:
        row = session.get(PeriodRecord, period)
        if row is None or row.run_id is None:
            raise PeriodStateError(
                f"period {period} has no published allocation to review: run `apportion "
                f"allocate --period {period}` first"
            )
        transition(session, period, (ALLOCATED,), IN_REVIEW, actor)
    return status(control, period)


def transition(
    session: Session,
    period: str,
    allowed_from: tuple[str, ...],
    to: str,
    actor: str,
    run_id: str | None = None,
    expected_version: int | None = None,
    **details: Any,
) -> None:
    """Move the period to ``to`` if it is in one of ``allowed_from`` and nobody moved it since
    it was read (or since ``expected_version``): one conditional UPDATE, audited."""
    row = session.get(PeriodRecord, period)
    state = row.state if row else OPEN
    if state not in allowed_from:
        raise PeriodStateError(forbidden(period, state, to))
    assert row is not None
    values: dict[str, Any] = {"state": to, "updated_at": _now()}
    if run_id is not None:
        values["run_id"] = run_id
    bump(session, row, values, expected_version)
    audit.record(
        session,
        actor,
        f"period.{to}",
        period,
        previous=state,
        **({"run_id": run_id} if run_id else {}),
        **details,
    )


def bump(
    session: Session,
    row: PeriodRecord,
    values: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> int:
    """Raise the period's version (setting ``values`` too) if it is still the version read,
    or ``expected_version``, and the period is not closed; the new version. Of two writers
    exactly one gets here first; the other is refused and writes nothing."""
    version = row.version if expected_version is None else expected_version
    changed = session.execute(
        update(PeriodRecord)
        .where(
            PeriodRecord.period == row.period,
            PeriodRecord.version == version,
            PeriodRecord.state != CLOSED,
        )
        .values(version=version + 1, **(values or {}))
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentChangeError(
            f"period {row.period} was changed by someone else meanwhile (allocated, adjusted "
            "or closed); nothing was written: look at `apportion period list` and run the "
            "command again if it still applies"
        )
    session.expire(row)
    return version + 1


def claim_for_publishing(control: ControlPlane, period: str) -> int:
    """Before a run replaces the period's allocation in the data plane: raise its version,
    so a close prepared on the allocation before is refused, and return the version that
    :func:`record_published` must still find (else another run or a close came between)."""
    with control.transaction() as session:
        row = session.get(PeriodRecord, period)
        if row is None:
            session.add(PeriodRecord(period=period, state=OPEN, version=1, updated_at=_now()))
            try:
                session.flush()
            except IntegrityError:
                raise ConcurrentChangeError(
                    f"period {period} is being allocated by someone else; run it again"
                ) from None
            return 1
        if row.state == CLOSED:
            raise PeriodStateError(_closed_message(session, period))
        return bump(session, row)


def forbidden(period: str, state: str, to: str) -> str:
    if state == CLOSED:
        return f"period {period} is closed and never changes"
    hints = {
        IN_REVIEW: f"only an allocated period goes to review; {period} is {state}",
        CLOSED: (
            f"only a period in review closes; {period} is {state}"
            + (f": run `apportion period review {period}` first" if state == ALLOCATED else "")
        ),
    }
    return hints.get(to, f"period {period} cannot go from {state} to {to}")


def _now() -> datetime:
    return datetime.now(UTC)
