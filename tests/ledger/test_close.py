"""Closing a period: what it freezes, what it refuses (changed inputs, unresolved disputes),
what a forced close records, and that a failure midway leaves the period as it was."""

from __future__ import annotations

import hashlib
import re
import stat
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import apportion.allocate.plan as planner
from apportion.control import audit
from apportion.control.models import Closing, PeriodRecord, StatementLineRecord
from apportion.ledger import close, disputes, journal, periods
from apportion.ledger import lines as statement_lines
from apportion.ledger.allocation import allocate_period
from apportion.ledger.close import CloseRefusedError
from apportion.ledger.journal import JournalError
from apportion.ledger.lines import Line, period_lines
from apportion.ledger.published import UnpublishedRowsError
from apportion.workspace import Workspace
from tests.helpers import allocate, ingest
from tests.ledger.cases import (
    FMA,
    OCT_LINES,
    OCT_ROWS,
    OPENAI,
    actions,
    count,
    line,
    row,
    summary,
    to_review,
    write_oct,
)

ENTRY = "JE-2026-10-" + hashlib.sha256(b"2026-10\x1fcx\x1fUSD").hexdigest()[:12]


def test_closing_freezes_the_statement_and_posts_the_journal(ws: Workspace) -> None:
    to_review(ws, "2026-10")
    before = period_lines(ws, "2026-10")
    assert summary(before) == OCT_LINES
    assert sum((item.amount for item in before or []), Decimal(0)) == Decimal("19.84")
    closed = close.close_period(ws, "2026-10", "alice")
    run = ws.control.published_run("2026-10")
    assert run is not None
    assert (closed.period, closed.run_id, closed.seq, closed.lines, closed.journal_lines) == (
        "2026-10",
        run.run_id,
        1,
        4,
        3,
    )
    assert not closed.forced
    # the frozen lines are the lines as reviewed, ids and all
    with ws.control.reading() as session:
        frozen = statement_lines.frozen_lines(session, "2026-10")
    assert frozen is not None
    assert sorted(frozen, key=lambda x: x.line_id) == sorted(before or [], key=lambda x: x.line_id)
    assert period_lines(ws, "2026-10") == frozen
    # cx's two chargeback lines debit its own expense account; ops is shown back, the
    # unallocated line is nobody's: neither posts
    posted = journal.posted(ws.control, "2026-10")
    bot = line(ws, "2026-10", "cx", "bot").line_id
    search = line(ws, "2026-10", "cx", "search").line_id
    expected = {
        (f"{ENTRY}-{bot}", "6410", "bot", FMA, Decimal("10.01"), Decimal(0), bot),
        (f"{ENTRY}-{search}", "6410", "search", FMA, Decimal("5.50"), Decimal(0), search),
        (f"{ENTRY}-recovery", "4900", None, None, Decimal(0), Decimal("15.51"), None),
    }
    assert {
        (j.line_id, j.account, j.workload, j.category, j.debit, j.credit, j.statement_line_id)
        for j in posted
    } == expected
    assert {j.entry_id for j in posted} == {ENTRY}
    assert [j.line_no for j in posted] == [1, 2, 3]
    assert posted[-1].memo == "AI platform recovery 2026-10 from cx"
    assert journal.imbalances(posted) == {}
    # the stored closing hashes what it froze, and who closed it when, and starts the chain
    with ws.control.reading() as session:
        stored = session.get_one(Closing, 1)
    assert (stored.closed_by, stored.forced, stored.reason) == ("alice", False, None)
    assert closed.content_hash == stored.content_hash
    assert closed.content_hash == close.content_hash(stored, frozen, posted)
    # ...and seals its link with the ledger key, made (owner-only) in the workspace folder
    key_file = ws.root / "ledger.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip().encode()
    assert closed.chain_hash == close.chain_hash(None, "2026-10", closed.content_hash, key)
    assert closed.chain_hash != close.chain_hash(None, "2026-10", closed.content_hash)
    assert stored.seal == "hmac-sha256"
    assert close.verify(ws.control).as_dict() == {
        "closings": 1,
        "intact": True,
        "problems": [],
        "sealed": 1,
        "head": closed.chain_hash,
        "anchor": None,
    }


def test_a_period_not_closed_has_no_journal(ws: Workspace) -> None:
    to_review(ws, "2026-10")
    with pytest.raises(
        JournalError,
        match=re.escape(
            "period 2026-10 is not closed: journal entries are posted when it closes "
            "(`apportion period close 2026-10`)"
        ),
    ):
        journal.posted(ws.control, "2026-10")


def test_closing_refuses_inputs_changed_since_the_run(ws: Workspace, tmp_path: Path) -> None:
    to_review(ws, "2026-10")
    reviewed = periods.status(ws.control, "2026-10").run_id
    restated = [row("12", "bot", "cx", **OPENAI), *OCT_ROWS[1:]]
    ingest(ws, write_oct(tmp_path / "oct.csv", restated))
    with pytest.raises(CloseRefusedError) as refused:
        close.close_period(ws, "2026-10", "alice")
    assert str(refused.value) == (
        f"the inputs of 2026-10 changed since run {reviewed} (cost_lines/oct): run "
        "`apportion allocate --period 2026-10` again, then close"
    )
    assert periods.status(ws.control, "2026-10").state == "in_review"
    assert count(ws.control, "closings") == 0
    # allocated again (still in review), it closes with the restated bill
    allocate(ws, "2026-10")
    assert periods.status(ws.control, "2026-10").state == "in_review"
    closed = close.close_period(ws, "2026-10", "alice")
    assert closed.run_id != reviewed
    assert line(ws, "2026-10", "cx", "bot").amount == Decimal("12.00")


def _unresolved(numbers: str) -> str:
    return re.escape(
        f"period 2026-10 has unresolved disputes ({numbers}): accept, reject or withdraw them "
        "(`apportion dispute list --period 2026-10`), or close with --force --reason TEXT"
    )


def test_closing_refuses_unresolved_disputes_unless_forced(ws: Workspace) -> None:
    to_review(ws, "2026-10")
    control = ws.control
    for workload in ("bot", "search"):
        target = line(ws, "2026-10", "cx", workload).line_id
        disputes.open_dispute(ws, "2026-10", target, "not ours", "bob")
    disputes.take_under_review(control, 2, "alice")
    with pytest.raises(CloseRefusedError, match=f"^{_unresolved('#1, #2')}$"):
        close.close_period(ws, "2026-10", "alice")
    disputes.withdraw(control, 1, "bob")
    with pytest.raises(CloseRefusedError, match=f"^{_unresolved('#2')}$"):
        close.close_period(ws, "2026-10", "alice")
    assert periods.status(control, "2026-10").state == "in_review"
    assert "period.closed" not in actions(control)

    closed = close.close_period(ws, "2026-10", "carol", force=True, reason="  month end  ")
    assert closed.forced
    found = periods.status(control, "2026-10")
    assert (found.state, found.forced, found.closed_by) == ("closed", True, "carol")
    entry = next(e for e in audit.entries(control) if e.action == "period.closed")
    assert (entry.actor, entry.subject) == ("carol", "2026-10")
    assert entry.details == {
        "previous": "in_review",
        "run_id": closed.run_id,
        "content_hash": closed.content_hash,
        "chain_hash": closed.chain_hash,
        "seal": "hmac-sha256",
        "forced": True,
        "reason": "month end",
        "unresolved_disputes": [2],
    }
    with control.reading() as session:
        stored = session.get_one(Closing, 1)
        assert (stored.forced, stored.reason, stored.closed_by) == (True, "month end", "carol")
    # the dispute outlives the close, and is still resolved by an adjustment
    assert disputes.show(control, 2).state == "under_review"
    disputes.accept(control, 2, "alice", Decimal("1.50"), "fair")
    assert count(control, "adjustments", period="2026-11") == 2
    assert close.verify(control).intact


def test_a_dispute_opened_after_the_close_was_prepared_refuses_it(ws: Workspace) -> None:
    to_review(ws, "2026-10")
    plan = close.prepare_close(ws, "2026-10", "alice")
    assert plan.unresolved_disputes == []
    disputes.open_dispute(ws, "2026-10", line(ws, "2026-10", "cx", "bot").line_id, "no", "bob")
    with pytest.raises(CloseRefusedError, match=f"^{_unresolved('#1')}$"):
        close.commit_close(ws.control, plan)
    assert periods.status(ws.control, "2026-10").state == "in_review"
    assert count(ws.control, "closings") == 0


def _journal_fails(monkeypatch: pytest.MonkeyPatch) -> type[BaseException]:
    """The journal's rows fail to build after the closing and the statement lines were added."""

    def broken(entry: journal.JournalLine) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(journal, "record", broken)
    return RuntimeError


def _database_refuses(monkeypatch: pytest.MonkeyPatch) -> type[BaseException]:
    """Every statement line gets the same id: the database refuses the flush (a unique
    violation), inside the close's transaction."""
    from sqlalchemy.exc import IntegrityError

    def clashing(period: str, item: Line) -> StatementLineRecord:
        return StatementLineRecord(period=period, **(vars(item) | {"line_id": "same"}))

    monkeypatch.setattr(statement_lines, "record", clashing)
    return IntegrityError


@pytest.mark.parametrize("failure", [_journal_fails, _database_refuses])
def test_a_failure_midway_through_closing_leaves_the_period_unchanged(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, failure: Any
) -> None:
    to_review(ws, "2026-10")
    control = ws.control
    with control.reading() as session:
        version = session.get_one(PeriodRecord, "2026-10").version
    plan = close.prepare_close(ws, "2026-10", "alice")
    with monkeypatch.context() as patch:
        expected = failure(patch)
        with pytest.raises(expected):
            close.commit_close(control, plan)
    found = periods.status(control, "2026-10")
    assert (found.state, found.closed_by, found.closed_at) == ("in_review", None, None)
    with control.reading() as session:
        assert session.get_one(PeriodRecord, "2026-10").version == version
    for table in ("closings", "statement_lines", "journal_lines"):
        assert count(control, table) == 0, table
    assert "period.closed" not in actions(control)
    assert close.verify(control).as_dict() == {
        "closings": 0,
        "intact": True,
        "problems": [],
        "sealed": 0,
        "head": None,
        "anchor": None,
    }
    # the same plan commits once nothing fails
    closed = close.commit_close(control, plan)
    assert (closed.seq, closed.lines, closed.journal_lines) == (1, 4, 3)
    assert (count(control, "statement_lines"), count(control, "journal_lines")) == (4, 3)
    assert actions(control, "2026-10").count("period.closed") == 1
    assert close.verify(control).intact


def test_closing_twice_in_one_process(ws: Workspace) -> None:
    """The second of two plans prepared for the same state finds the period moved on."""
    to_review(ws, "2026-10")
    first = close.prepare_close(ws, "2026-10", "alice")
    second = close.prepare_close(ws, "2026-10", "bob")
    assert close.commit_close(ws.control, first).seq == 1
    with pytest.raises(periods.ConcurrentChangeError, match="changed after this close was"):
        close.commit_close(ws.control, second)
    assert count(ws.control, "closings") == 1
    assert periods.status(ws.control, "2026-10").closed_by == "alice"


def test_an_adjustment_posted_after_the_close_was_prepared_refuses_it(ws: Workspace) -> None:
    """A dispute on closed 2026-10 accepted while 2026-11's close is prepared: its adjustments
    land in 2026-11, whose prepared statement lacks them, so that close must not commit."""
    to_review(ws, "2026-10")
    close.close_period(ws, "2026-10", "alice")
    to_review(ws, "2026-11")
    plan = close.prepare_close(ws, "2026-11", "alice")
    bot = line(ws, "2026-10", "cx", "bot").line_id
    number = disputes.open_dispute(ws, "2026-10", bot, "not ours", "bob").id
    disputes.take_under_review(ws.control, number, "alice")
    disputes.accept(ws.control, number, "alice", Decimal("2.00"), "agreed")
    assert count(ws.control, "adjustments", period="2026-11") == 2
    with pytest.raises(periods.ConcurrentChangeError, match="changed after this close was"):
        close.commit_close(ws.control, plan)
    assert periods.status(ws.control, "2026-11").state == "in_review"
    # prepared again, the close freezes the adjustments with the allocation: 6.00 in all
    closed = close.close_period(ws, "2026-11", "alice")
    frozen = period_lines(ws, "2026-11") or []
    assert (closed.lines, sorted(x.line_id for x in frozen if x.adjustment_id)) == (
        4,
        ["adj-1", "adj-2"],
    )
    assert sum((x.amount for x in frozen), Decimal(0)) == Decimal("6.00")
    assert close.verify(ws.control).intact


def test_force_with_nothing_to_override_is_an_ordinary_close(ws: Workspace) -> None:
    """--force --reason without an unresolved dispute overrides nothing: not recorded as
    forced, and the reason for overriding nothing is not kept."""
    to_review(ws, "2026-10")
    closed = close.close_period(ws, "2026-10", "carol", force=True, reason="month end")
    assert not closed.forced
    found = periods.status(ws.control, "2026-10")
    assert (found.state, found.forced, found.closed_by) == ("closed", False, "carol")
    with ws.control.reading() as session:
        stored = session.get_one(Closing, 1)
        assert (stored.forced, stored.reason) == (False, None)
    [entry] = [e for e in audit.entries(ws.control) if e.action == "period.closed"]
    assert entry.details == {
        "previous": "in_review",
        "run_id": closed.run_id,
        "content_hash": closed.content_hash,
        "chain_hash": closed.chain_hash,
        "seal": "hmac-sha256",
    }
    assert close.verify(ws.control).intact


def test_a_close_prepared_before_a_run_claimed_the_period_is_refused(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run claims the period before it replaces the allocation in the data plane: a close
    prepared on the allocation being replaced, committed while the run publishes, is refused
    (else it would freeze statements the data plane no longer holds)."""
    to_review(ws, "2026-10")
    reviewed = periods.status(ws.control, "2026-10").run_id
    plan = close.prepare_close(ws, "2026-10", "alice")
    publish = planner.write_allocations
    refused: list[Exception] = []

    def publish_as_the_close_commits(*args: Any) -> None:
        try:
            close.commit_close(ws.control, plan)
        except periods.ConcurrentChangeError as exc:
            refused.append(exc)
        publish(*args)

    with monkeypatch.context() as patch:
        patch.setattr(planner, "write_allocations", publish_as_the_close_commits)
        result = allocate_period(ws, "2026-10")
    assert result.published
    assert [str(exc) for exc in refused] == [
        "period 2026-10 changed after this close was prepared (allocated again, adjusted, or "
        "closed by someone else); nothing was written: look at `apportion period list` and "
        "close again if it still applies"
    ]
    assert count(ws.control, "closings") == 0
    found = periods.status(ws.control, "2026-10")
    assert (found.state, found.run_id) == ("in_review", result.run_id)
    assert result.run_id != reviewed
    # prepared again, on the run that published, the close commits
    assert close.close_period(ws, "2026-10", "alice").run_id == result.run_id
    assert close.verify(ws.control).intact


def test_a_close_is_refused_while_the_data_plane_holds_another_runs_allocation(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run published its allocation to the data plane, but the control plane never recorded
    it: the period still names the reviewed run, whose lines the data plane no longer holds."""
    to_review(ws, "2026-10")
    reviewed = periods.status(ws.control, "2026-10").run_id

    def unrecorded(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the control plane went away")

    with monkeypatch.context() as patch:
        patch.setattr(periods, "record_published", unrecorded)
        with pytest.raises(RuntimeError, match="the control plane went away"):
            allocate_period(ws, "2026-10")
    [failed] = [run for run in ws.control.runs("2026-10") if run.status == "failed"]
    assert failed.message == "publishing failed: the control plane went away"
    found = periods.status(ws.control, "2026-10")
    assert (found.state, found.run_id) == ("in_review", reviewed)
    # the statement lines are read only from the published run, so the close stops there
    with pytest.raises(UnpublishedRowsError) as refused:
        close.prepare_close(ws, "2026-10", "alice")
    assert str(refused.value) == (
        f"period 2026-10: the data plane holds the allocation of run(s) {failed.run_id}, which "
        f"the control plane never published, not that of its published run {reviewed} (a run "
        "stopped between writing and publishing): run `apportion allocate --period 2026-10` "
        "again"
    )
    assert count(ws.control, "closings") == 0
    assert periods.status(ws.control, "2026-10").state == "in_review"
    # allocated again, published and recorded, it closes on that run
    allocate(ws, "2026-10")
    closed = close.close_period(ws, "2026-10", "alice")
    assert closed.run_id not in (reviewed, failed.run_id)
    assert summary(period_lines(ws, "2026-10")) == OCT_LINES
