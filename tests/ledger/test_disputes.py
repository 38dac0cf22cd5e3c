"""A dispute's state machine, open -> under_review -> accepted / rejected, withdrawn until
resolved, and everything it refuses. Every test disputes lines of 2026-10 in review
(tests/ledger/cases.py): cx/bot is 10.01 USD."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from apportion.control import audit
from apportion.control.models import Adjustment
from apportion.ledger import disputes
from apportion.ledger.disputes import DisputeError, DisputeView
from apportion.workspace import Workspace
from tests.helpers import ingest
from tests.ledger.cases import (
    OCT_ROWS,
    OPENAI,
    UNALLOCATED,
    count,
    line,
    row,
    to_review,
    write_oct,
)


@pytest.fixture
def reviewed(ws: Workspace) -> Workspace:
    to_review(ws, "2026-10")
    return ws


def _open(ws: Workspace, payer: str = "cx", workload: str = "bot") -> DisputeView:
    target = line(ws, "2026-10", payer, workload)
    return disputes.open_dispute(ws, "2026-10", target.line_id, "not ours", "bob")


def _trail(view: DisputeView) -> list[tuple[str | None, str, str, str | None]]:
    return [(e.from_state, e.to_state, e.actor, e.reason) for e in view.events]


def test_open_review_accept(reviewed: Workspace) -> None:
    control = reviewed.control
    target = line(reviewed, "2026-10", "cx", "bot")
    opened = disputes.open_dispute(
        reviewed,
        "2026-10",
        target.line_id,
        "  bot traffic was search's  ",
        "bob",
        evidence="  gateway log  ",
        claimed_amount=Decimal("4.00"),
    )
    assert (opened.id, opened.state, opened.line_id) == (1, "open", target.line_id)
    assert (opened.payer, opened.workload, opened.category, opened.rule, opened.currency) == (
        "cx",
        "bot",
        "foundation_model_api",
        "tagged",
        "USD",
    )
    assert (opened.line_amount, opened.claimed_amount) == (Decimal("10.01"), Decimal("4.00"))
    assert (opened.reason, opened.evidence) == ("bot traffic was search's", "gateway log")
    assert (opened.resolved_at, opened.resolution, opened.accepted_amount) == (None, None, None)
    reviewing = disputes.take_under_review(control, 1, "alice", "looking")
    assert reviewing.state == "under_review" and reviewing.resolved_at is None
    accepted = disputes.accept(control, 1, "alice", Decimal("3.50"), "  half of it  ")
    assert (accepted.state, accepted.accepted_amount, accepted.resolution) == (
        "accepted",
        Decimal("3.50"),
        "half of it",
    )
    assert accepted.resolved_at is not None and accepted.adjustment_id == 1
    assert _trail(accepted) == [
        (None, "open", "bob", "bot traffic was search's"),
        ("open", "under_review", "alice", "looking"),
        ("under_review", "accepted", "alice", "half of it"),
    ]
    assert [(e.actor, e.action, e.subject) for e in audit.entries(control)][-5:] == [
        ("bob", "dispute.open", "dispute #1"),
        ("alice", "dispute.under_review", "dispute #1"),
        ("alice", "dispute.accepted", "dispute #1"),
        ("alice", "adjustment.dispute", "2026-11"),
        ("alice", "adjustment.dispute", "2026-11"),
    ]
    with control.reading() as session:
        assert disputes.unresolved_ids(session, "2026-10") == []
    assert [d.state for d in disputes.list_disputes(control, period="2026-10")] == ["accepted"]


def test_reject_and_withdraw(reviewed: Workspace) -> None:
    control = reviewed.control
    first, second, third = (
        _open(reviewed, *key) for key in [("cx", "bot"), ("cx", "search"), ("ops", "bot")]
    )
    disputes.take_under_review(control, first.id, "alice")
    rejected = disputes.reject(control, first.id, "alice", " usage is tagged bot ")
    assert (rejected.state, rejected.resolution) == ("rejected", "usage is tagged bot")
    assert rejected.resolved_at is not None and rejected.adjustment_id is None
    withdrawn = disputes.withdraw(control, second.id, "bob")
    assert (withdrawn.state, withdrawn.resolution) == ("withdrawn", "withdrawn")
    disputes.take_under_review(control, third.id, "alice")
    late = disputes.withdraw(control, third.id, "bob", "found it")
    assert (late.state, late.resolution) == ("withdrawn", "found it")
    assert _trail(late)[1:] == [
        ("open", "under_review", "alice", None),
        ("under_review", "withdrawn", "bob", "found it"),
    ]
    assert [(d.id, d.state) for d in disputes.list_disputes(control)] == [
        (1, "rejected"),
        (2, "withdrawn"),
        (3, "withdrawn"),
    ]
    assert [d.id for d in disputes.list_disputes(control, state="withdrawn", payer="cx")] == [2]
    assert count(control, "adjustments") == 0


def _refused(what: str, state: str, allowed: str) -> str:
    message = f"dispute #1 is {state}: it cannot become {what} (it can become {allowed})"
    return f"^{re.escape(message)}$"


def _snapshot(ws: Workspace) -> tuple[int, int, int]:
    """Events, audit entries and adjustments: a refused transition writes none."""
    control = ws.control
    return (
        count(control, "dispute_events"),
        len(audit.entries(control)),
        count(control, "adjustments"),
    )


def _unchanged(before: tuple[int, int, int], ws: Workspace) -> None:
    assert _snapshot(ws) == before


def test_an_open_dispute_is_neither_accepted_nor_rejected(reviewed: Workspace) -> None:
    control = reviewed.control
    _open(reviewed)
    before = _snapshot(reviewed)
    with pytest.raises(DisputeError, match=_refused("accepted", "open", "under_review, withdrawn")):
        disputes.accept(control, 1, "alice", Decimal("1.00"), "fine")
    with pytest.raises(DisputeError, match=_refused("rejected", "open", "under_review, withdrawn")):
        disputes.reject(control, 1, "alice", "no")
    _unchanged(before, reviewed)
    assert disputes.show(control, 1).state == "open"


def test_a_dispute_under_review_is_not_reviewed_again(reviewed: Workspace) -> None:
    control = reviewed.control
    _open(reviewed)
    disputes.take_under_review(control, 1, "alice")
    before = _snapshot(reviewed)
    with pytest.raises(
        DisputeError,
        match=_refused("under_review", "under_review", "accepted, rejected, withdrawn"),
    ):
        disputes.take_under_review(control, 1, "alice")
    _unchanged(before, reviewed)


ACTIONS: dict[str, Callable[[Workspace], DisputeView]] = {
    "under_review": lambda ws: disputes.take_under_review(ws.control, 1, "alice"),
    "accepted": lambda ws: disputes.accept(ws.control, 1, "alice", Decimal("1.00"), "yes"),
    "rejected": lambda ws: disputes.reject(ws.control, 1, "alice", "no"),
    "withdrawn": lambda ws: disputes.withdraw(ws.control, 1, "bob", "never mind"),
}


@pytest.mark.parametrize("resolved", ["accepted", "rejected", "withdrawn"])
def test_nothing_moves_a_resolved_dispute(reviewed: Workspace, resolved: str) -> None:
    control = reviewed.control
    _open(reviewed)
    disputes.take_under_review(control, 1, "alice")
    ACTIONS[resolved](reviewed)
    before = _snapshot(reviewed)
    for to, action in ACTIONS.items():
        with pytest.raises(DisputeError, match=_refused(to, resolved, "nothing: it is resolved")):
            action(reviewed)
    _unchanged(before, reviewed)
    assert disputes.show(control, 1).state == resolved
    # the line may be disputed again once the dispute is resolved
    again = _open(reviewed)
    assert (again.id, again.state) == (2, "open")


@pytest.mark.parametrize("blank", ["", "   "])
def test_resolving_needs_a_reason(reviewed: Workspace, blank: str) -> None:
    control = reviewed.control
    _open(reviewed)
    disputes.take_under_review(control, 1, "alice")
    before = _snapshot(reviewed)
    with pytest.raises(DisputeError, match=r"^rejecting a dispute needs a reason$"):
        disputes.reject(control, 1, "alice", blank)
    with pytest.raises(DisputeError, match=r"^accepting a dispute needs a reason$"):
        disputes.accept(control, 1, "alice", Decimal("1.00"), blank)
    with pytest.raises(DisputeError, match=r"^a dispute needs a reason$"):
        disputes.open_dispute(
            reviewed, "2026-10", line(reviewed, "2026-10", "cx", "search").line_id, blank, "bob"
        )
    _unchanged(before, reviewed)
    assert disputes.show(control, 1).state == "under_review"


def test_a_catalogued_cost_centre_without_lines_may_receive_a_disputed_charge(
    reviewed: Workspace,
) -> None:
    (reviewed.root / "catalogue.csv").write_text("dimension,value\ncost_centre,research\n")
    tags = reviewed.config.tags.model_copy(update={"catalogue": "catalogue.csv"})
    catalogued = Workspace(reviewed.root, reviewed.config.model_copy(update={"tags": tags}))
    _open(reviewed)
    disputes.take_under_review(reviewed.control, 1, "alice")
    payers = disputes.receivers(catalogued, 1)
    assert payers == {"cx", "ops", "research"}
    accepted = disputes.accept(
        reviewed.control, 1, "alice", Decimal("1.00"), "theirs", reassign_to="research",
        payers=payers,
    )  # fmt: skip
    assert accepted.state == "accepted"
    catalogued.close()


def test_accepted_amounts_are_checked(reviewed: Workspace) -> None:
    control = reviewed.control
    _open(reviewed)
    disputes.take_under_review(control, 1, "alice")
    before = _snapshot(reviewed)
    refusals = {
        Decimal("0"): "the accepted amount must be more than zero",
        Decimal("-1.00"): "the accepted amount must be more than zero",
        Decimal("1.005"): "the accepted amount 1.005 has more decimals than USD has",
        Decimal("10.02"): "the accepted amount 10.02 is more than the line's 10.01 USD",
    }
    for amount, message in refusals.items():
        with pytest.raises(DisputeError, match=f"^{re.escape(message)}$"):
            disputes.accept(control, 1, "alice", amount, "yes")
    with pytest.raises(DisputeError, match="--reassign-to names the payer who disputed the line"):
        disputes.accept(control, 1, "alice", Decimal("1.00"), "yes", reassign_to=" cx ")
    # a name that is no payer of the period (nor catalogued) would become a new cost centre
    payers = disputes.receivers(reviewed, 1)
    assert payers == {"cx", "ops"}
    for name in ("opz", "Ops", "nobody"):
        with pytest.raises(DisputeError, match=f"^--reassign-to '{name}' is not a payer of "):
            disputes.accept(
                control, 1, "alice", Decimal("1.00"), "yes", reassign_to=name, payers=payers
            )
    with pytest.raises(DisputeError, match="known: none"):  # no payers given: refused too
        disputes.accept(control, 1, "alice", Decimal("1.00"), "yes", reassign_to="ops")
    _unchanged(before, reviewed)
    # the whole line may be accepted, written with trailing zeros too (10.010 is 10.01)
    accepted = disputes.accept(control, 1, "alice", Decimal("10.010"), "all of it")
    assert (accepted.state, str(accepted.accepted_amount)) == ("accepted", "10.01")


def test_what_cannot_be_disputed(reviewed: Workspace) -> None:
    control = reviewed.control
    bot = line(reviewed, "2026-10", "cx", "bot").line_id
    with pytest.raises(DisputeError, match=r"^period 2026-09 has no statement yet: nothing to"):
        disputes.open_dispute(reviewed, "2026-09", bot, "why", "bob")
    with pytest.raises(DisputeError, match=r"^period 2026-10 has no statement line 'nope'"):
        disputes.open_dispute(reviewed, "2026-10", "nope", "why", "bob")
    unallocated = line(reviewed, "2026-10", UNALLOCATED, UNALLOCATED).line_id
    with pytest.raises(DisputeError, match=r"^__unallocated__ lines are nobody's charge"):
        disputes.open_dispute(reviewed, "2026-10", unallocated, "why", "bob")
    claims = {
        Decimal("0"): "the claimed amount must be more than zero",
        Decimal("0.001"): "the claimed amount 0.001 has more decimals than USD has",
        Decimal("10.02"): "the claimed amount 10.02 is more than the line's 10.01 USD",
    }
    for claimed, message in claims.items():
        with pytest.raises(DisputeError, match=f"^{re.escape(message)}$"):
            disputes.open_dispute(reviewed, "2026-10", bot, "why", "bob", claimed_amount=claimed)
    assert count(control, "disputes") == 0
    _open(reviewed)
    with pytest.raises(DisputeError, match=r"^dispute #1 on this line is still unresolved$"):
        _open(reviewed)
    disputes.take_under_review(control, 1, "alice")
    with pytest.raises(DisputeError, match=r"^dispute #1 on this line is still unresolved$"):
        _open(reviewed)
    with pytest.raises(DisputeError, match=r"^there is no dispute #7$"):
        disputes.take_under_review(control, 7, "alice")
    assert count(control, "disputes") == 1


def test_accepting_a_dispute_on_a_credit_line_moves_the_credit(
    ws: Workspace, tmp_path: Path
) -> None:
    """cx's 2026-10 has a refund, -4.00: accepting 1.50 of a dispute on it moves 1.50 of the
    credit to ops, so cx is charged 1.50 more and ops 1.50 less (the correction runs the
    other way from a charge's)."""
    ingest(ws, write_oct(tmp_path / "oct.csv", [*OCT_ROWS, row("-4", "refund", "cx", **OPENAI)]))
    to_review(ws, "2026-10")
    refund = line(ws, "2026-10", "cx", "refund")
    assert (refund.amount, refund.mode) == (Decimal("-4.00"), "chargeback")
    opened = disputes.open_dispute(ws, "2026-10", refund.line_id, "ops's refund", "bob")
    disputes.take_under_review(ws.control, opened.id, "alice")
    payers = disputes.receivers(ws, opened.id)
    accepted = disputes.accept(
        ws.control, opened.id, "alice", Decimal("1.50"), "agreed", reassign_to="ops", payers=payers
    )
    assert accepted.accepted_amount == Decimal("1.50")
    with ws.control.reading() as session:
        posted = list(session.scalars(select(Adjustment).order_by(Adjustment.id)))
        assert [(a.payer, a.amount, a.mode) for a in posted] == [
            ("cx", Decimal("1.50"), "chargeback"),
            ("ops", Decimal("-1.50"), "chargeback"),
        ]
    assert accepted.adjustment_id == posted[0].id
