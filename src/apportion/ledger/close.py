"""Closing a period: its statement lines and chargeback journal entries are frozen in one
transaction, with a content hash chained to the closing before it, so an edited statement is
detectable (:func:`verify`).

Closing is two steps. :func:`prepare_close` reads the data plane (the published allocation)
and refuses what should not close; :func:`commit_close` writes to the control plane only, so
two people closing at once race on one conditional UPDATE, which exactly one wins, and a
failure anywhere in it leaves the period as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from apportion.allocate.inputs import changed_partitions, input_partitions
from apportion.ledger import disputes, journal
from apportion.ledger import lines as statement_lines
from apportion.ledger import periods as states
from apportion.ledger.controlplane import ControlPlane
from apportion.ledger.journal import JournalLine
from apportion.ledger.lines import Line
from apportion.ledger.models import Closing, JournalLineRecord, PeriodRecord
from apportion.periods import Period
from apportion.workspace import Workspace

# any number, the same in every process (migrate.py's lock is another)
_CHAIN_LOCK = 7_402_118


class CloseRefusedError(ValueError):
    """The period should not close as it stands; the message says what to do (exit code 2)."""


@dataclass(frozen=True)
class ClosePlan:
    period: str
    run_id: str
    version: int  # the period's version when prepared: a change since refuses the commit
    metric: str
    lines: list[Line]
    entries: list[JournalLine]
    actor: str
    forced: bool = False
    reason: str | None = None
    unresolved_disputes: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Closed:
    period: str
    run_id: str
    seq: int
    content_hash: str
    chain_hash: str
    lines: int
    journal_lines: int
    forced: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def close_period(
    workspace: Workspace, period: str, actor: str, *, force: bool = False, reason: str | None = None
) -> Closed:
    return commit_close(workspace.control, prepare_close(workspace, period, actor, force, reason))


def prepare_close(
    workspace: Workspace, period: str, actor: str, force: bool = False, reason: str | None = None
) -> ClosePlan:
    if force and not (reason and reason.strip()):
        raise CloseRefusedError("--force needs --reason: why this period closes anyway")
    control = workspace.control
    with control.reading() as session:
        row = session.get(PeriodRecord, period)
        state = row.state if row else states.OPEN
        if state != states.IN_REVIEW or row is None or row.run_id is None:
            raise states.PeriodStateError(states.forbidden(period, state, states.CLOSED))
        run_id, version = row.run_id, row.version
        unresolved = disputes.unresolved_ids(session, period)
    if unresolved and not force:
        raise CloseRefusedError(_unresolved_message(period, unresolved))
    run = control.run(run_id)
    assert run is not None, "a period's run is recorded before the period points at it"
    changed = changed_partitions(
        run.inputs or {}, input_partitions(workspace.data, Period.parse(period))
    )
    if changed:
        raise CloseRefusedError(
            f"the inputs of {period} changed since run {run_id} ({', '.join(changed)}): run "
            f"`apportion allocate --period {period}` again, then close"
        )
    found = statement_lines.period_lines(workspace, period) or []
    ledger = workspace.config.ledger
    return ClosePlan(
        period=period,
        run_id=run_id,
        version=version,
        metric=ledger.metric,
        lines=found,
        entries=journal.journal(period, found, ledger.accounts),
        actor=actor,
        forced=force,
        reason=reason.strip() if reason else None,
        unresolved_disputes=unresolved,
    )


def commit_close(control: ControlPlane, plan: ClosePlan) -> Closed:
    with control.transaction() as session:
        row = session.get(PeriodRecord, plan.period)
        if row is None or row.version != plan.version or row.run_id != plan.run_id:
            raise states.ConcurrentChangeError(
                f"period {plan.period} changed after this close was prepared (allocated again, "
                "adjusted, or closed by someone else); nothing was written: look at "
                "`apportion period list` and close again if it still applies"
            )
        unresolved = disputes.unresolved_ids(session, plan.period)
        if unresolved and not plan.forced:  # a dispute opened since the close was prepared
            raise CloseRefusedError(_unresolved_message(plan.period, unresolved))
        details: dict[str, Any] = {"run_id": plan.run_id}
        if plan.forced:
            details |= {"forced": True, "reason": plan.reason, "unresolved_disputes": unresolved}
        states.transition(
            session, plan.period, (states.IN_REVIEW,), states.CLOSED, plan.actor, **details
        )
        return _freeze(session, plan)


def _freeze(session: Session, plan: ClosePlan) -> Closed:
    if session.get_bind().dialect.name == "postgresql":
        # two periods closing at once would both take the same place in the chain; SQLite
        # lets one writer in at a time already
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    previous = session.scalars(select(Closing).order_by(Closing.seq.desc()).limit(1)).first()
    seq = (previous.seq if previous else 0) + 1
    content = content_hash(plan.period, plan.run_id, plan.metric, plan.lines, plan.entries)
    previous_hash = previous.chain_hash if previous else None
    chain = chain_hash(previous_hash, plan.period, content)
    session.add(
        Closing(
            seq=seq,
            period=plan.period,
            run_id=plan.run_id,
            metric=plan.metric,
            content_hash=content,
            previous_hash=previous_hash,
            chain_hash=chain,
            closed_at=datetime.now(UTC),
            closed_by=plan.actor,
            forced=plan.forced,
            reason=plan.reason,
        )
    )
    # the closing row exists before the rows that refer to it
    session.flush()
    session.add_all(statement_lines.record(plan.period, line) for line in plan.lines)
    session.add_all(journal.record(entry) for entry in plan.entries)
    session.flush()  # a unique id clash, say, fails here, inside the transaction
    return Closed(
        period=plan.period,
        run_id=plan.run_id,
        seq=seq,
        content_hash=content,
        chain_hash=chain,
        lines=len(plan.lines),
        journal_lines=len(plan.entries),
        forced=plan.forced,
    )


def content_hash(
    period: str,
    run_id: str,
    metric: str,
    lines: Sequence[Line],
    entries: Sequence[JournalLine],
) -> str:
    """SHA-256 of a canonical JSON of everything a closing froze."""
    document = {
        "period": period,
        "run_id": run_id,
        "metric": metric,
        "lines": sorted((line.canonical() for line in lines), key=lambda line: line["line_id"]),
        "journal": sorted((entry.as_dict() for entry in entries), key=lambda e: e["line_id"]),
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def chain_hash(previous: str | None, period: str, content: str) -> str:
    return hashlib.sha256(f"{previous or ''}:{period}:{content}".encode()).hexdigest()


@dataclass(frozen=True)
class Verification:
    closings: int
    problems: list[str]

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"closings": self.closings, "intact": self.intact, "problems": self.problems}


def verify(control: ControlPlane) -> Verification:
    """Recompute every closed period's content hash from what is stored, and the chain."""
    problems: list[str] = []
    with control.reading() as session:
        closings = list(session.scalars(select(Closing).order_by(Closing.seq)))
        previous: str | None = None
        for expected_seq, closing in enumerate(closings, start=1):
            if closing.seq != expected_seq:
                problems.append(f"closing {expected_seq} is missing from the chain")
            stored = content_hash(
                closing.period,
                closing.run_id,
                closing.metric,
                statement_lines.frozen_lines(session, closing.period) or [],
                _stored_entries(session, closing.period),
            )
            if stored != closing.content_hash:
                problems.append(
                    f"{closing.period}: the stored statements or journal differ from what was "
                    "closed (content hash mismatch): they were changed after closing"
                )
            if closing.previous_hash != previous:
                problems.append(f"{closing.period}: does not chain to the closing before it")
            if chain_hash(closing.previous_hash, closing.period, closing.content_hash) != (
                closing.chain_hash
            ):
                problems.append(f"{closing.period}: its chain hash does not match its content")
            previous = closing.chain_hash
        states_closed = session.scalar(
            select(func.count()).select_from(PeriodRecord).where(PeriodRecord.state == "closed")
        )
        if states_closed != len(closings):
            problems.append(
                f"{states_closed} periods are marked closed but {len(closings)} closings exist"
            )
    return Verification(len(closings), problems)


def _stored_entries(session: Session, period: str) -> list[JournalLine]:
    rows = session.scalars(select(JournalLineRecord).where(JournalLineRecord.period == period))
    return [journal.from_record(row) for row in rows]


def _unresolved_message(period: str, unresolved: list[int]) -> str:
    numbers = ", ".join(f"#{number}" for number in unresolved)
    return (
        f"period {period} has unresolved disputes ({numbers}): accept, reject or withdraw them "
        f"(`apportion dispute list --period {period}`), or close with --force --reason TEXT"
    )
