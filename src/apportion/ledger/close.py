"""Closing a period: its statement lines and chargeback journal entries are frozen in one
transaction, with a content hash chained to the closing before it, so an edited statement is
detectable (:func:`verify`). Each link of the chain is an HMAC with the ledger key, which is
kept outside the database (:mod:`apportion.control.seal`): write access to the database is not
enough to forge a chain that verifies. The chain hash of the newest closing, the chain head,
is printed at close and carried by statements and journal exports, for an auditor to keep and
hand back to :func:`verify`.

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

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from apportion.allocate.inputs import changed_partitions, input_partitions, runs_held
from apportion.control import audit
from apportion.control.models import (
    CLOSED,
    IN_REVIEW,
    OPEN,
    AuditEntry,
    Closing,
    JournalLineRecord,
    PeriodRecord,
)
from apportion.control.plane import ControlPlane
from apportion.control.seal import HMAC_SHA256, SEALS, LedgerKey, link
from apportion.errors import RefusedError
from apportion.ledger import disputes, journal
from apportion.ledger import lines as statement_lines
from apportion.ledger import periods as states
from apportion.ledger.journal import JournalLine
from apportion.ledger.lines import Line
from apportion.periods import Period
from apportion.workspace import Workspace

# any number, the same in every process (migrate.py's lock is another)
_CHAIN_LOCK = 7_402_118


class CloseRefusedError(RefusedError):
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
        state = row.state if row else OPEN
        if state != IN_REVIEW or row is None or row.run_id is None:
            raise states.PeriodStateError(states.forbidden(period, state, CLOSED))
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
    published = runs_held(workspace.data, period)  # read after the lines
    if published - {run_id}:  # none at all: a month without cost closes empty
        raise states.ConcurrentChangeError(
            f"the allocation of {period} in the data plane is from run "
            f"{', '.join(sorted(published))}, not {run_id}: a run is being published, or "
            f"one failed after writing it; wait for it, or run `apportion allocate --period "
            f"{period}` again, then close"
        )
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
        unbalanced = journal.imbalances(plan.entries)
        assert not unbalanced, f"journal entries do not balance: {unbalanced}"
        # forced only where there was something to override
        closing = _closing(
            session, plan, control.ledger_key, forced=plan.forced and bool(unresolved)
        )
        details: dict[str, Any] = {
            "run_id": plan.run_id,
            "content_hash": closing.content_hash,
            "chain_hash": closing.chain_hash,
            "seal": closing.seal,
        }
        if closing.forced:
            details |= {"forced": True, "reason": plan.reason, "unresolved_disputes": unresolved}
        states.transition(session, plan.period, (IN_REVIEW,), CLOSED, plan.actor, **details)
        session.add(closing)
        session.flush()  # the closing row exists before the rows that refer to it
        session.add_all(statement_lines.record(plan.period, line) for line in plan.lines)
        session.add_all(journal.record(entry) for entry in plan.entries)
        session.flush()  # a unique id clash, say, fails here, inside the transaction
        return Closed(
            period=plan.period,
            run_id=plan.run_id,
            seq=closing.seq,
            content_hash=closing.content_hash,
            chain_hash=closing.chain_hash,
            lines=len(plan.lines),
            journal_lines=len(plan.entries),
            forced=closing.forced,
        )


def _closing(session: Session, plan: ClosePlan, ledger_key: LedgerKey, forced: bool) -> Closing:
    """The closing row, its place in the chain taken and its hashes computed."""
    if session.get_bind().dialect.name == "postgresql":
        # two periods closing at once would both take the same place in the chain; SQLite
        # lets one writer in at a time already
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    previous = session.scalars(select(Closing).order_by(Closing.seq.desc()).limit(1)).first()
    closing = Closing(
        seq=(previous.seq if previous else 0) + 1,
        period=plan.period,
        run_id=plan.run_id,
        metric=plan.metric,
        previous_hash=previous.chain_hash if previous else None,
        closed_at=datetime.now(UTC),
        closed_by=plan.actor,
        forced=forced,
        reason=plan.reason if forced else None,
    )
    key = _sealing_key(ledger_key, previous)
    closing.seal = HMAC_SHA256 if key is not None else None
    closing.content_hash = content_hash(closing, plan.lines, plan.entries)
    closing.chain_hash = chain_hash(closing.previous_hash, plan.period, closing.content_hash, key)
    return closing


def _sealing_key(ledger_key: LedgerKey, previous: Closing | None) -> bytes | None:
    """The ledger key, made at the first close that needs one; but a key made now, after
    closings sealed with a lost one, would break the chain for good: refused."""
    if previous is not None and previous.seal is not None and ledger_key.load() is None:
        raise CloseRefusedError(
            f"the ledger key ({ledger_key.where()}) is missing, and the closings before this one "
            "were sealed with it: restore it from where you keep it and close again (a new key "
            "would leave the earlier closings unverifiable)"
        )
    return ledger_key.load_or_create()


def content_hash(closing: Closing, lines: Sequence[Line], entries: Sequence[JournalLine]) -> str:
    """SHA-256 of a canonical JSON of everything a closing froze: who closed it, when, whether
    forced and why, and every statement and journal line."""
    document = {
        "period": closing.period,
        "run_id": closing.run_id,
        "metric": closing.metric,
        "closed_by": closing.closed_by,
        "closed_at": audit.aware(closing.closed_at).isoformat(),
        "forced": bool(closing.forced),
        "reason": closing.reason,
        "lines": sorted((line.canonical() for line in lines), key=lambda line: line["line_id"]),
        "journal": sorted((entry.as_dict() for entry in entries), key=lambda e: e["line_id"]),
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def chain_hash(previous: str | None, period: str, content: str, key: bytes | None = None) -> str:
    """The closing's link: keyed with the ledger key; key None for a closing sealed before the
    ledger had one (plain SHA-256), which still verifies as it was made."""
    return link(previous, period, content, key)


@dataclass(frozen=True)
class Verification:
    closings: int
    problems: list[str]
    head: str | None = None  # the newest closing's chain hash: what an auditor keeps
    sealed: int = 0  # closings sealed with the ledger key; the rest predate it (plain SHA-256)
    anchor: str | None = None  # the period whose closing the expected head belongs to

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        found = {"closings": self.closings, "intact": self.intact, "problems": self.problems}
        return found | {"sealed": self.sealed, "head": self.head, "anchor": self.anchor}


def verify(control: ControlPlane, expect_head: str | None = None) -> Verification:
    """Recompute every closed period's content hash from what is stored and every link of the
    chain (keyed with the ledger key, or plain SHA-256 for closings from before it), compare
    each with the hash the append-only audit log recorded when the period first closed, and,
    given the chain head an auditor kept, check that it is still a link of this chain."""
    key = control.ledger_key.load()
    with control.reading() as session:
        closings = list(session.scalars(select(Closing).order_by(Closing.seq)))
        problems = _chain_problems(session, closings, key)
        if key is None and any(closing.seal is not None for closing in closings):
            problems.append(
                f"the ledger key ({control.ledger_key.where()}) is missing: the closings sealed "
                "with it cannot be checked"
            )
        problems += _audit_problems(session, closings)
        problems += _state_problems(session, closings)
    head = closings[-1].chain_hash if closings else None
    anchor = None
    if expect_head is not None:
        anchor = _anchor(closings, expect_head)
        if anchor is None:
            problems.append(
                f"the chain head you hold ({expect_head}) is not a link of this ledger's chain "
                f"(its head is {head or 'none: nothing closed'}): closings were rewritten, "
                "added or removed, or the head is from another workspace"
            )
    sealed = sum(closing.seal is not None for closing in closings)
    return Verification(len(closings), problems, head, sealed, anchor)


def _chain_problems(session: Session, closings: Sequence[Closing], key: bytes | None) -> list[str]:
    problems: list[str] = []
    previous: Closing | None = None
    for closing in closings:
        if closing.seq != (previous.seq if previous else 0) + 1:
            problems.append(f"{closing.period}: the closing before it is missing")
        stored = content_hash(
            closing,
            statement_lines.frozen_lines(session, closing.period) or [],
            _stored_entries(session, closing.period),
        )
        if stored != closing.content_hash:
            problems.append(
                f"{closing.period}: the stored statements, journal or closing record differ "
                "from what was closed (content hash mismatch): changed after closing"
            )
        if closing.previous_hash != (previous.chain_hash if previous else None):
            problems.append(f"{closing.period}: does not chain to the closing before it")
        problems += _link_problems(closing, previous, key)
        previous = closing
    return problems


def _link_problems(closing: Closing, previous: Closing | None, key: bytes | None) -> list[str]:
    """The closing's own chain hash, made again the way its seal says it was made."""
    if closing.seal is not None and closing.seal not in SEALS:
        return [f"{closing.period}: sealed by an unknown scheme {closing.seal!r}"]
    if closing.seal is None and previous is not None and previous.seal is not None:
        # closings before the key are a prefix of the chain: an unkeyed one after a keyed one
        # is someone without the key rewriting the chain in plain SHA-256
        return [
            f"{closing.period}: sealed without the ledger key after closings sealed with it: "
            "the closings were rewritten"
        ]
    if closing.seal is not None and key is None:
        return []  # reported once, for the whole chain
    keyed = key if closing.seal is not None else None
    made = chain_hash(closing.previous_hash, closing.period, closing.content_hash, keyed)
    if made == closing.chain_hash:
        return []
    if closing.seal is None:
        return [f"{closing.period}: its chain hash does not match its content"]
    return [
        f"{closing.period}: its chain hash does not match its content and the ledger key: "
        "rewritten by someone without the key, or this is not the key it was sealed with"
    ]


def _audit_problems(session: Session, closings: Sequence[Closing]) -> list[str]:
    """Each closing against the first period.closed entry of its period: the log refuses
    UPDATE and DELETE, but whoever can write to the database can INSERT, so a later entry
    proves nothing and a second one is itself a sign of tampering."""
    recorded, counts = _audited_hashes(session)
    problems = [
        f"{period}: the audit log records {count} closings of it, where a period closes once: "
        "entries were added to the log"
        for period, count in sorted(counts.items())
        if count > 1
    ]
    for closing in closings:
        if recorded.get(closing.period, closing.chain_hash) != closing.chain_hash:
            problems.append(
                f"{closing.period}: its chain hash is not the one the audit log recorded "
                "when it closed: the closings were rewritten"
            )
    frozen = {closing.period for closing in closings}
    closed = _closed_periods(session)
    for period in sorted(set(counts) - frozen - closed):
        problems.append(f"{period}: the audit log records its close, but nothing else does")
    return problems


def _state_problems(session: Session, closings: Sequence[Closing]) -> list[str]:
    closed = _closed_periods(session)
    frozen = {closing.period for closing in closings}
    return [
        *(
            f"{period}: marked closed but its closing is missing"
            for period in sorted(closed - frozen)
        ),
        *(
            f"{period}: has a closing but is not marked closed"
            for period in sorted(frozen - closed)
        ),
    ]


def _closed_periods(session: Session) -> set[str]:
    return set(session.scalars(select(PeriodRecord.period).where(PeriodRecord.state == "closed")))


def _anchor(closings: Sequence[Closing], expect_head: str) -> str | None:
    """The period whose closing has the chain hash the auditor kept, if any has."""
    wanted = expect_head.strip().lower()
    return next((c.period for c in closings if c.chain_hash == wanted), None)


def _audited_hashes(session: Session) -> tuple[dict[str, str], dict[str, int]]:
    """The chain hash the first period.closed audit entry of each period recorded, and how
    many such entries each period has."""
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "period.closed").order_by(AuditEntry.id)
    )
    first: dict[str, str] = {}
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.subject] = counts.get(entry.subject, 0) + 1
        if counts[entry.subject] == 1 and entry.details and "chain_hash" in entry.details:
            first[entry.subject] = str(entry.details["chain_hash"])
    return first, counts


def _stored_entries(session: Session, period: str) -> list[JournalLine]:
    rows = session.scalars(select(JournalLineRecord).where(JournalLineRecord.period == period))
    return [journal.from_record(row) for row in rows]


def _unresolved_message(period: str, unresolved: list[int]) -> str:
    numbers = ", ".join(f"#{number}" for number in unresolved)
    return (
        f"period {period} has unresolved disputes ({numbers}): accept, reject or withdraw them "
        f"(`apportion dispute list --period {period}`), or close with --force --reason TEXT"
    )
