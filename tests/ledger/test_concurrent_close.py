"""Racing processes, on SQLite and PostgreSQL: two closing the same period at once (exactly
one wins), and a close racing an accepted dispute whose adjustment lands in the period being
closed (the adjustment is in the frozen statement, or was never posted there).

Plans are prepared here (the DuckDB data-plane file opens in one process only); each child
opens the control plane itself and acts after a barrier, so both race on the period row's
conditional UPDATE."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from apportion.control import audit
from apportion.control.models import Adjustment
from apportion.ledger import close, disputes, periods
from apportion.ledger.lines import period_lines
from apportion.workspace import Workspace
from tests.ledger.cases import close_now, count, line, to_review
from tests.ledger.racers import accept_at_once, close_at_once


def _race(*racers: tuple[Callable[..., None], tuple[Any, ...]]) -> list[tuple[str, str, Any]]:
    """Run each (target, args) in a spawned process with a shared barrier and result queue
    appended to its args; their reports, sorted."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(racers))
    results: Any = context.Queue()
    processes = [
        context.Process(target=target, args=(*args, barrier, results)) for target, args in racers
    ]
    for process in processes:
        process.start()
    outcomes = sorted(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert not [outcome for outcome in outcomes if outcome[0] == "error"], outcomes
    return outcomes


def test_two_processes_closing_at_once_exactly_one_wins(ws: Workspace, control_url: str) -> None:
    to_review(ws, "2026-10")
    plan = close.prepare_close(ws, "2026-10", "alice")
    other = dataclasses.replace(plan, actor="bob")
    key_file = ws.root / "ledger.key"
    outcomes = _race(
        (close_at_once, (control_url, key_file, plan)),
        (close_at_once, (control_url, key_file, other)),
    )

    won = [outcome for outcome in outcomes if outcome[0] == "done"]
    lost = [outcome for outcome in outcomes if outcome[0] != "done"]
    assert len(won) == len(lost) == 1, outcomes
    assert won[0][2] == 1
    assert lost[0][0] in ("ConcurrentChangeError", "PeriodStateError"), lost
    assert "nothing was written" in lost[0][2] or "is closed" in lost[0][2]
    winner = won[0][1]

    control = ws.control
    found = periods.status(control, "2026-10")
    assert (found.state, found.closed_by) == ("closed", winner)
    assert count(control, "closings") == 1
    assert count(control, "statement_lines", period="2026-10") == len(plan.lines) == 4
    assert count(control, "journal_lines", period="2026-10") == len(plan.entries) == 3
    closed = [e for e in audit.entries(control) if e.action == "period.closed"]
    assert [e.actor for e in closed] == [winner]
    found = close.verify(control)
    assert (found.closings, found.sealed, found.problems) == (1, 1, [])


def test_a_close_racing_an_adjustment_to_the_same_period(ws: Workspace, control_url: str) -> None:
    """2026-10 is closed; a dispute on it is accepted while 2026-11, where its adjustments
    land, closes. Whichever commits first, no adjustment sits unseen in a closed period."""
    close_now(ws, "2026-10")
    bot = line(ws, "2026-10", "cx", "bot").line_id
    number = disputes.open_dispute(ws, "2026-10", bot, "not ours", "bob").id
    disputes.take_under_review(ws.control, number, "alice")
    to_review(ws, "2026-11")
    plan = close.prepare_close(ws, "2026-11", "carol")
    outcomes = _race(
        (close_at_once, (control_url, ws.root / "ledger.key", plan)),
        (accept_at_once, (control_url, number, "2.00")),
    )
    by_racer = {who: (outcome, detail) for outcome, who, detail in outcomes}

    control = ws.control
    with control.reading() as session:
        posted = list(session.scalars(select(Adjustment).order_by(Adjustment.id)))
    for adjustment in posted:
        if periods.status(control, adjustment.period).state == "closed":
            frozen = {x.line_id for x in period_lines(ws, adjustment.period) or []}
            assert f"adj-{adjustment.id}" in frozen, (outcomes, adjustment.period)
    state = disputes.show(control, number).state
    if by_racer["accept"][0] == "done":
        assert state == "accepted"
        assert [a.amount for a in posted] == [Decimal("-2.00"), Decimal("2.00")]
        assert {a.period for a in posted} == {by_racer["accept"][1]}
    else:
        assert by_racer["accept"][0] == "ConcurrentChangeError", outcomes
        assert (state, posted) == ("under_review", [])
    if by_racer["carol"][0] == "done":
        assert periods.status(control, "2026-11").state == "closed"
        # the close won: the adjustment was refused, or landed after it, in 2026-12
        assert by_racer["accept"][0] != "done" or by_racer["accept"][1] == "2026-12"
    else:
        assert by_racer["carol"][0] == "ConcurrentChangeError", outcomes
        assert by_racer["accept"] == ("done", "2026-11")
        assert periods.status(control, "2026-11").state == "in_review"
    assert close.verify(control).intact
