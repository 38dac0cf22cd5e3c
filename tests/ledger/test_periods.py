"""A period's state machine, open -> allocated -> in_review -> closed, and every transition it
refuses, each with the message that says what to do instead."""

from __future__ import annotations

import re

import pytest

from apportion.control import audit
from apportion.control.models import PeriodRecord
from apportion.ledger import adjustments, close, periods
from apportion.ledger.allocation import allocate_period
from apportion.ledger.close import CloseRefusedError
from apportion.ledger.periods import PeriodStateError
from apportion.workspace import Workspace
from tests.helpers import allocate
from tests.ledger.cases import close_now, to_review


def _version(ws: Workspace, period: str) -> int:
    with ws.control.reading() as session:
        return session.get_one(PeriodRecord, period).version


def test_a_period_goes_open_allocated_in_review_closed(ws: Workspace) -> None:
    control = ws.control
    assert periods.status(control, "2026-10").state == "open"
    assert periods.status(control, "2026-10").run_id is None
    first = allocate_period(ws, "2026-10", actor="alice")
    assert periods.status(control, "2026-10").state == "allocated"
    assert periods.status(control, "2026-10").run_id == first.run_id
    # a run raises the version twice: claiming the period before it publishes (which makes
    # the period's row, open, the first time), then recording what it published
    assert _version(ws, "2026-10") == 2
    # allocating again while allocated keeps the state and points at the new run
    second = allocate_period(ws, "2026-10", actor="alice")
    assert (periods.status(control, "2026-10").state, _version(ws, "2026-10")) == ("allocated", 4)
    assert periods.status(control, "2026-10").run_id == second.run_id
    reviewed = periods.start_review(control, "2026-10", "bob")
    assert (reviewed.state, reviewed.run_id, _version(ws, "2026-10")) == (
        "in_review",
        second.run_id,
        5,
    )
    # and again while in review: still in review, with the newest run
    third = allocate_period(ws, "2026-10", actor="alice")
    assert periods.status(control, "2026-10").state == "in_review"
    assert periods.status(control, "2026-10").run_id == third.run_id
    closed = close.close_period(ws, "2026-10", "carol")
    assert closed.run_id == third.run_id
    found = periods.status(control, "2026-10")
    assert (found.state, found.run_id, found.closed_by, found.forced) == (
        "closed",
        third.run_id,
        "carol",
        False,
    )
    assert found.closed_at is not None and found.closed_at.tzinfo is not None
    assert _version(ws, "2026-10") == 8
    transitions = [
        (e.actor, e.action, (e.details or {}).get("previous"))
        for e in audit.entries(control)
        if e.subject == "2026-10"
    ]
    assert transitions == [
        ("alice", "period.allocated", "open"),
        ("alice", "period.allocated", "allocated"),
        ("bob", "period.in_review", "allocated"),
        ("alice", "period.in_review", "in_review"),
        ("carol", "period.closed", "in_review"),
    ]


def test_an_open_period_neither_goes_to_review_nor_closes(ws: Workspace) -> None:
    with pytest.raises(
        PeriodStateError,
        match=re.escape(
            "period 2026-10 has no published allocation to review: run "
            "`apportion allocate --period 2026-10` first"
        ),
    ):
        periods.start_review(ws.control, "2026-10", "alice")
    with pytest.raises(
        PeriodStateError, match=r"^only a period in review closes; 2026-10 is open$"
    ):
        close.close_period(ws, "2026-10", "alice")
    # a period with a row (made open by an adjustment posted to it) and no run: the same
    with ws.control.transaction() as session:
        periods.ensure_open_period(session, "2026-11")
    with pytest.raises(PeriodStateError, match="no published allocation to review"):
        periods.start_review(ws.control, "2026-11", "alice")
    with pytest.raises(PeriodStateError, match="only a period in review closes; 2026-11 is open"):
        close.close_period(ws, "2026-11", "alice")
    assert [s.state for s in periods.statuses(ws.control)] == ["open"]
    assert audit.entries(ws.control) == []


def test_an_allocated_period_does_not_close_before_review(ws: Workspace) -> None:
    allocate(ws, "2026-10")
    with pytest.raises(
        PeriodStateError,
        match=re.escape(
            "only a period in review closes; 2026-10 is allocated: run "
            "`apportion period review 2026-10` first"
        ),
    ):
        close.close_period(ws, "2026-10", "alice")
    assert periods.status(ws.control, "2026-10").state == "allocated"


def test_a_period_in_review_does_not_go_to_review_again(ws: Workspace) -> None:
    to_review(ws, "2026-10")
    with pytest.raises(
        PeriodStateError, match=r"^only an allocated period goes to review; 2026-10 is in_review$"
    ):
        periods.start_review(ws.control, "2026-10", "alice")
    assert (periods.status(ws.control, "2026-10").state, _version(ws, "2026-10")) == (
        "in_review",
        3,
    )


def test_nothing_changes_a_closed_period(ws: Workspace) -> None:
    closed = close_now(ws, "2026-10")
    control = ws.control
    version = _version(ws, "2026-10")
    entries = len(audit.entries(control))
    runs = len(control.runs("2026-10"))
    never = r"^period 2026-10 is closed and never changes$"
    with pytest.raises(PeriodStateError, match=never):
        periods.start_review(control, "2026-10", "alice")
    with pytest.raises(PeriodStateError, match=never):
        close.close_period(ws, "2026-10", "alice")
    with pytest.raises(PeriodStateError, match=never):
        close.close_period(ws, "2026-10", "alice", force=True, reason="again")
    with control.transaction() as session, pytest.raises(PeriodStateError, match=never):
        periods.record_allocation(session, "2026-10", "some-run", "alice")
    # allocating it is refused before a run starts, pointing at restatement adjustments
    with pytest.raises(PeriodStateError) as refused:
        allocate_period(ws, "2026-10")
    message = str(refused.value)
    assert message.startswith("period 2026-10 is closed (")
    assert "by alice) and never changes" in message
    assert message.endswith("run `apportion period adjust 2026-10`")
    assert len(control.runs("2026-10")) == runs
    found = periods.status(control, "2026-10")
    assert (found.state, found.run_id, _version(ws, "2026-10")) == (
        "closed",
        closed.run_id,
        version,
    )
    assert len(audit.entries(control)) == entries
    assert close.verify(control).intact


def test_restating_is_only_for_closed_periods(ws: Workspace) -> None:
    for step in (
        lambda: None,
        lambda: allocate(ws, "2026-10"),
        lambda: periods.start_review(ws.control, "2026-10", "alice"),
    ):
        step()
        state = periods.status(ws.control, "2026-10").state
        with pytest.raises(
            PeriodStateError,
            match=re.escape(
                "period 2026-10 is not closed: allocate it again instead "
                "(`apportion allocate --period 2026-10`)"
            ),
        ):
            adjustments.adjust_restated(ws, "2026-10", "alice")
        assert periods.status(ws.control, "2026-10").state == state


def test_a_stale_close_plan_is_refused(ws: Workspace) -> None:
    """Allocating again after a close was prepared moves the period on: the plan is stale."""
    to_review(ws, "2026-10")
    plan = close.prepare_close(ws, "2026-10", "alice")
    allocate(ws, "2026-10")
    with pytest.raises(
        periods.ConcurrentChangeError, match="changed after this close was prepared"
    ):
        close.commit_close(ws.control, plan)
    assert periods.status(ws.control, "2026-10").state == "in_review"
    assert close.verify(ws.control).closings == 0
    fresh = close.prepare_close(ws, "2026-10", "alice")
    assert close.commit_close(ws.control, fresh).seq == 1


def test_force_needs_a_reason(ws: Workspace) -> None:
    to_review(ws, "2026-10")
    for reason in (None, "", "   "):
        with pytest.raises(CloseRefusedError, match=r"^--force needs --reason: why"):
            close.close_period(ws, "2026-10", "alice", force=True, reason=reason)
    assert periods.status(ws.control, "2026-10").state == "in_review"


def test_statuses_list_known_periods_and_those_with_data(ws: Workspace) -> None:
    close_now(ws, "2026-10")
    found = periods.statuses(ws.control, with_data=["2026-11", "2026-09"])
    assert [(s.period, s.state) for s in found] == [
        ("2026-09", "open"),
        ("2026-10", "closed"),
        ("2026-11", "open"),
    ]


def test_a_rule_set_version_starts_with_the_first_published_run_of_its_configuration(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that failed to publish used the configuration, but never put it in force."""

    def unrecorded(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the control plane went away")

    with monkeypatch.context() as patch:
        patch.setattr(periods, "record_published", unrecorded)
        with pytest.raises(RuntimeError):
            allocate_period(ws, "2026-10")
    [failed] = ws.control.runs("2026-10")
    assert failed.status == "failed"
    first = allocate_period(ws, "2026-10")
    allocate(ws, "2026-11")
    versions = [e for e in audit.entries(ws.control) if e.action == "ruleset.version"]
    assert [(e.subject, (e.details or {}).get("first_run")) for e in versions] == [
        (failed.config_hash[:12], first.run_id)
    ]
