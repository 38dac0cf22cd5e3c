"""Disputes: a payer disagrees with a statement line. A dispute moves open -> under_review ->
accepted (with an amount, posted as an adjustment to the next open period) or rejected (with
a reason); it may be withdrawn until it is resolved. Every transition records who, when and
why, in the dispute's events and in the audit log; the CLI, REST API and web UI all call these
functions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from apportion.config.ledger import NOT_CHARGED
from apportion.control import audit
from apportion.control.models import Dispute, DisputeEvent
from apportion.control.plane import ControlPlane
from apportion.errors import RefusedError
from apportion.ledger import adjustments
from apportion.ledger.lines import period_lines
from apportion.ledger.periods import ConcurrentChangeError
from apportion.money import EXACT
from apportion.schema.currency import minor_units
from apportion.schema.tables import UNALLOCATED
from apportion.tags.catalogue import read_catalogue
from apportion.workspace import Workspace

OPEN = "open"
UNDER_REVIEW = "under_review"
ACCEPTED = "accepted"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
STATES = (OPEN, UNDER_REVIEW, ACCEPTED, REJECTED, WITHDRAWN)
UNRESOLVED = (OPEN, UNDER_REVIEW)
NEXT: dict[str, tuple[str, ...]] = {
    OPEN: (UNDER_REVIEW, WITHDRAWN),
    UNDER_REVIEW: (ACCEPTED, REJECTED, WITHDRAWN),
}
# The disputed amount has one meaning, named the same in the CLI, the API and the web pages:
# the part of the line the payer believes is wrongly charged, i.e. what they ask to have taken
# off it (the amount an admin accepts is taken off the same way). Stored as claimed_amount.
DISPUTED_AMOUNT = "Amount disputed"
DISPUTED_AMOUNT_MEANS = (
    "the part of the line you believe is wrongly charged, to be taken off it "
    "(at most the line's amount)"
)
# how old an unresolved dispute is, in days: the aging report's buckets
AGING = ((0, 7, "0-7 days"), (8, 30, "8-30 days"), (31, 60, "31-60 days"), (61, None, "61+ days"))


class DisputeError(RefusedError):
    """Not allowed, or not possible as asked (bad usage: exit code 2)."""


class UnknownPayerError(DisputeError):
    """A charge reassigned to a payer that does not exist: bad input (the API's 422), not a
    refusal of the dispute's state (409)."""


@dataclass(frozen=True)
class Event:
    from_state: str | None
    to_state: str
    actor: str
    at: datetime
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.from_state,
            "to": self.to_state,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class DisputeView:
    id: int
    period: str
    line_id: str
    payer: str
    workload: str
    category: str
    rule: str
    currency: str
    line_amount: Decimal
    claimed_amount: Decimal | None
    reason: str
    evidence: str | None
    state: str
    opened_by: str
    opened_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    accepted_amount: Decimal | None
    adjustment_id: int | None
    events: tuple[Event, ...] = ()

    def age_days(self, now: datetime | None = None) -> int:
        """Days open: until now while unresolved, until resolution after."""
        end = self.resolved_at or now or datetime.now(UTC)
        return (end - self.opened_at).days

    def as_dict(self, now: datetime | None = None) -> dict[str, Any]:
        def decimal_text(value: Decimal | None) -> str | None:
            return None if value is None else f"{value:f}"

        return {
            "id": self.id,
            "period": self.period,
            "line_id": self.line_id,
            "payer": self.payer,
            "workload": self.workload,
            "category": self.category,
            "rule": self.rule,
            "currency": self.currency,
            "line_amount": decimal_text(self.line_amount),
            "claimed_amount": decimal_text(self.claimed_amount),
            "reason": self.reason,
            "evidence": self.evidence,
            "state": self.state,
            "opened_by": self.opened_by,
            "opened_at": self.opened_at.isoformat(),
            "age_days": self.age_days(now),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolution": self.resolution,
            "accepted_amount": decimal_text(self.accepted_amount),
            "adjustment_id": self.adjustment_id,
            "events": [event.as_dict() for event in self.events],
        }


def open_dispute(
    workspace: Workspace,
    period: str,
    line_id: str,
    reason: str,
    actor: str,
    *,
    evidence: str | None = None,
    claimed_amount: Decimal | None = None,
) -> DisputeView:
    """Dispute one line of a period's statement (as it stands now, or as closed)."""
    reason = _required(reason, "a dispute needs a reason")
    lines = period_lines(workspace, period)
    if lines is None:
        raise DisputeError(f"period {period} has no statement yet: nothing to dispute")
    line = next((line for line in lines if line.line_id == line_id), None)
    if line is None:
        raise DisputeError(
            f"period {period} has no statement line {line_id!r}: the ids are in `apportion "
            f"statement --period {period} --cost-centre PAYER`"
        )
    if line.payer == UNALLOCATED:
        raise DisputeError("__unallocated__ lines are nobody's charge: there is no one to dispute")
    if claimed_amount is not None:
        _check_amount(claimed_amount, line.currency, line.amount, "the claimed amount")
    with workspace.control.transaction() as session:
        already = session.scalars(
            select(Dispute.id).where(
                Dispute.period == period,
                Dispute.line_id == line_id,
                Dispute.state.in_(UNRESOLVED),
            )
        ).first()
        if already is not None:
            raise DisputeError(f"dispute #{already} on this line is still unresolved")
        now = datetime.now(UTC)
        dispute = Dispute(
            period=period,
            line_id=line_id,
            payer=line.payer,
            workload=line.workload,
            category=line.category,
            rule=line.rule,
            currency=line.currency,
            line_amount=line.amount,
            mode=line.mode,
            claimed_amount=claimed_amount,
            reason=reason,
            evidence=evidence.strip() if evidence and evidence.strip() else None,
            state=OPEN,
            version=0,
            opened_by=actor,
            opened_at=now,
        )
        session.add(dispute)
        session.flush()
        session.add(
            DisputeEvent(
                dispute_id=dispute.id,
                from_state=None,
                to_state=OPEN,
                actor=actor,
                at=now,
                reason=reason,
            )
        )
        audit.record(
            session,
            actor,
            "dispute.open",
            f"dispute #{dispute.id}",
            period=period,
            line_id=line_id,
            payer=line.payer,
            reason=reason,
        )
        number = dispute.id
    return show(workspace.control, number)


def take_under_review(
    control: ControlPlane, number: int, actor: str, note: str | None = None
) -> DisputeView:
    with control.transaction() as session:
        _move(session, number, UNDER_REVIEW, actor, note)
    return show(control, number)


def reject(control: ControlPlane, number: int, actor: str, reason: str) -> DisputeView:
    reason = _required(reason, "rejecting a dispute needs a reason")
    with control.transaction() as session:
        _move(session, number, REJECTED, actor, reason, resolution=reason)
    return show(control, number)


def withdraw(
    control: ControlPlane, number: int, actor: str, reason: str | None = None
) -> DisputeView:
    with control.transaction() as session:
        _move(session, number, WITHDRAWN, actor, reason, resolution=reason or "withdrawn")
    return show(control, number)


def accept(
    control: ControlPlane,
    number: int,
    actor: str,
    amount: Decimal,
    reason: str,
    *,
    reassign_to: str | None = None,
    payers: Collection[str] = (),
) -> DisputeView:
    """Accept with the amount taken off the payer's line: posted to the next open period as a
    credit to the payer and a charge to ``reassign_to`` (default ``__unallocated__``, which the
    platform absorbs), so the cost is conserved. ``reassign_to`` must be one of ``payers``
    (:func:`receivers`): a mistyped name would otherwise become a cost centre."""
    reason = _required(reason, "accepting a dispute needs a reason")
    with control.transaction() as session:
        dispute = _get(session, number)
        _check_amount(amount, dispute.currency, dispute.line_amount, "the accepted amount")
        amount = EXACT.quantize(amount, Decimal(1).scaleb(-minor_units(dispute.currency)))
        receiver = reassign_to.strip() if reassign_to else UNALLOCATED
        if receiver == dispute.payer:
            raise DisputeError("--reassign-to names the payer who disputed the line")
        if receiver != UNALLOCATED and receiver not in payers:
            others = set(payers) - {dispute.payer}
            raise UnknownPayerError(_unknown_receiver(receiver, dispute.period, others))
        _move(session, number, ACCEPTED, actor, reason, resolution=reason)
        description = f"dispute #{number} on {dispute.period} accepted: {reason}"
        common: dict[str, Any] = {
            "corrects": dispute.period,
            "kind": adjustments.DISPUTE,
            "workload": dispute.workload,
            "category": dispute.category,
            "rule": dispute.rule,
            "method": "dispute",
            "currency": dispute.currency,
            "description": description,
            "actor": actor,
            "dispute_id": number,
            "corrects_line_id": dispute.line_id,
        }
        # a credit or refund line disputed: the correction runs the other way
        signed = amount if dispute.line_amount > 0 else -amount
        credit = adjustments.post(
            session, payer=dispute.payer, amount=-signed, mode=dispute.mode, **common
        )
        adjustments.post(
            session,
            payer=receiver,
            amount=signed,
            mode=NOT_CHARGED if receiver == UNALLOCATED else dispute.mode,
            **common,
        )
        dispute.accepted_amount = amount
        dispute.adjustment_id = credit.id
    return show(control, number)


def unresolved_ids(session: Session, period: str) -> list[int]:
    return list(
        session.scalars(
            select(Dispute.id)
            .where(Dispute.period == period, Dispute.state.in_(UNRESOLVED))
            .order_by(Dispute.id)
        )
    )


def show(control: ControlPlane, number: int) -> DisputeView:
    with control.reading() as session:
        dispute = _get(session, number)
        events = session.scalars(
            select(DisputeEvent).where(DisputeEvent.dispute_id == number).order_by(DisputeEvent.id)
        )
        return _view(dispute, tuple(_event(event) for event in events))


def list_disputes(
    control: ControlPlane,
    *,
    period: str | None = None,
    state: str | None = None,
    payer: str | None = None,
    payers: Collection[str] | None = None,
) -> list[DisputeView]:
    """``payers``: only the disputes of these cost centres (a consumer's)."""
    query = select(Dispute).order_by(Dispute.id)
    if payers is not None:
        query = query.where(Dispute.payer.in_(sorted(payers)))
    if period:
        query = query.where(Dispute.period == period)
    if state:
        query = query.where(Dispute.state == state)
    if payer:
        query = query.where(Dispute.payer == payer)
    with control.reading() as session:
        return [_view(dispute) for dispute in session.scalars(query)]


def aging(disputes: list[DisputeView], now: datetime | None = None) -> dict[str, int]:
    """How many unresolved disputes fall in each age bucket."""
    counts: Counter[str] = Counter()
    for dispute in disputes:
        if dispute.state in UNRESOLVED:
            age = dispute.age_days(now)
            counts[next(label for low, high, label in AGING if high is None or age <= high)] += 1
    return {label: counts[label] for _, _, label in AGING}


def latest_states(control: ControlPlane, period: str) -> dict[str, str]:
    """Each disputed line's most recent dispute state, by line id."""
    with control.reading() as session:
        rows = session.execute(
            select(Dispute.line_id, Dispute.state, Dispute.id)
            .where(Dispute.period == period)
            .order_by(Dispute.id)
        )
        return {line_id: f"{state} (#{number})" for line_id, state, number in rows}


def _move(
    session: Session,
    number: int,
    to: str,
    actor: str,
    reason: str | None,
    resolution: str | None = None,
) -> None:
    dispute = _get(session, number)
    if to not in NEXT.get(dispute.state, ()):
        allowed = ", ".join(NEXT.get(dispute.state, ())) or "nothing: it is resolved"
        raise DisputeError(
            f"dispute #{number} is {dispute.state}: it cannot become {to} (it can become {allowed})"
        )
    previous, now = dispute.state, datetime.now(UTC)
    values: dict[str, Any] = {"state": to, "version": dispute.version + 1}
    if to not in UNRESOLVED:
        values |= {"resolved_at": now, "resolution": resolution}
    changed = session.execute(
        update(Dispute)
        .where(Dispute.id == number, Dispute.version == dispute.version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentChangeError(
            f"dispute #{number} was changed by someone else meanwhile; nothing was written"
        )
    session.expire(dispute)
    session.add(
        DisputeEvent(
            dispute_id=number, from_state=previous, to_state=to, actor=actor, at=now, reason=reason
        )
    )
    audit.record(
        session, actor, f"dispute.{to}", f"dispute #{number}", previous=previous, reason=reason
    )


def _get(session: Session, number: int) -> Dispute:
    dispute = session.get(Dispute, number)
    if dispute is None:
        raise DisputeError(f"there is no dispute #{number}")
    return dispute


def _required(text: str | None, message: str) -> str:
    if not text or not text.strip():
        raise DisputeError(message)
    return text.strip()


def receivers(workspace: Workspace, number: int) -> set[str]:
    """Whom dispute ``number``'s charge may be reassigned to: every payer with a line in the
    disputed period's statement, and every one the tag catalogue names."""
    period = show(workspace.control, number).period
    found = {line.payer for line in period_lines(workspace, period) or []}
    config = workspace.config
    if config.tags.catalogue:
        entries = read_catalogue(workspace.root / config.tags.catalogue, config.dimensions)
        found |= {entry.value for entry in entries if entry.dimension == config.ledger.payer}
    return found - {UNALLOCATED}


def _unknown_receiver(receiver: str, period: str, payers: Collection[str]) -> str:
    known = sorted(payers)
    shown = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
    return (
        f"--reassign-to {receiver!r} is not a payer of {period} nor in the tag catalogue "
        f"(known: {shown or 'none'}; leave it out to charge {UNALLOCATED})"
    )


def _check_amount(amount: Decimal, currency: str, line_amount: Decimal, what: str) -> None:
    if not amount.is_finite() or amount <= 0:
        raise DisputeError(f"{what} must be more than zero")
    # 10.000 is ten dollars; 10.005 is not an amount of dollars
    if amount.normalize().as_tuple().exponent < -minor_units(currency):  # type: ignore[operator]
        raise DisputeError(f"{what} {amount} has more decimals than {currency} has")
    if amount > abs(line_amount):
        raise DisputeError(f"{what} {amount} is more than the line's {line_amount} {currency}")


def _event(event: DisputeEvent) -> Event:
    return Event(event.from_state, event.to_state, event.actor, audit.aware(event.at), event.reason)


def _view(dispute: Dispute, events: tuple[Event, ...] = ()) -> DisputeView:
    return DisputeView(
        id=dispute.id,
        period=dispute.period,
        line_id=dispute.line_id,
        payer=dispute.payer,
        workload=dispute.workload,
        category=dispute.category,
        rule=dispute.rule,
        currency=dispute.currency,
        line_amount=dispute.line_amount,
        claimed_amount=dispute.claimed_amount,
        reason=dispute.reason,
        evidence=dispute.evidence,
        state=dispute.state,
        opened_by=dispute.opened_by,
        opened_at=audit.aware(dispute.opened_at),
        resolved_at=audit.aware(dispute.resolved_at) if dispute.resolved_at else None,
        resolution=dispute.resolution,
        accepted_amount=dispute.accepted_amount,
        adjustment_id=dispute.adjustment_id,
        events=events,
    )
