"""Adjustments: corrections to a closed period land in the next period not closed, and cost is
conserved across periods. An accepted dispute moves its amount from the payer to
__unallocated__ (or another payer); a restated bill posts exactly the difference it made, and a
second restatement only the further difference."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from apportion.config.ledger import LedgerConfig
from apportion.control import audit
from apportion.control.models import Adjustment, Dispute
from apportion.ledger import adjustments, close, disputes, journal, periods
from apportion.ledger.lines import Line, allocated_lines, period_lines
from apportion.workspace import Workspace
from tests.helpers import ingest
from tests.ledger.cases import (
    FMA,
    NOV_LINES,
    OCT_LINES,
    OCT_ROWS,
    OPENAI,
    UNALLOCATED,
    actions,
    close_now,
    line,
    row,
    summary,
    write_oct,
)

USD = "USD"
Key = tuple[str, ...]


def _accept(ws: Workspace, amount: str, reassign_to: str | None = None) -> int:
    bot = line(ws, "2026-10", "cx", "bot")
    dispute = disputes.open_dispute(ws, "2026-10", bot.line_id, "not ours", "bob")
    disputes.take_under_review(ws.control, dispute.id, "alice")
    payers = disputes.receivers(ws, dispute.id)
    disputes.accept(
        ws.control,
        dispute.id,
        "alice",
        Decimal(amount),
        "agreed",
        reassign_to=reassign_to,
        payers=payers,
    )
    return dispute.id


def _adjustments(ws: Workspace) -> list[Adjustment]:
    with ws.control.reading() as session:
        return list(session.scalars(select(Adjustment).order_by(Adjustment.id)))


def _with_modes(ws: Workspace, *modes: dict[str, Any]) -> None:
    """ws's configuration with more ledger.modes entries, as if apportion.yaml were edited."""
    ledger = ws.config.ledger.model_dump()
    ledger["modes"] = [*ledger["modes"], *modes]
    ws.config = ws.config.model_copy(update={"ledger": LedgerConfig.model_validate(ledger)})


def _view(found: list[Line] | None) -> list[tuple[str, str, str, Decimal, str, int | None]]:
    return [(x.payer, x.category, x.method, x.amount, x.mode, x.adjustment_id) for x in found or []]


def test_an_accepted_dispute_on_a_closed_period_lands_in_the_next(ws: Workspace) -> None:
    close_now(ws, "2026-10")
    bot = line(ws, "2026-10", "cx", "bot").line_id
    number = _accept(ws, "2.00")
    posted = _adjustments(ws)
    assert [
        (a.period, a.corrects_period, a.kind, a.dispute_id, a.corrects_line_id, a.payer, a.amount)
        for a in posted
    ] == [
        ("2026-11", "2026-10", "dispute", number, bot, "cx", Decimal("-2.00")),
        ("2026-11", "2026-10", "dispute", number, bot, UNALLOCATED, Decimal("2.00")),
    ]
    assert all(
        (a.workload, a.category, a.rule, a.currency) == ("bot", FMA, "tagged", USD) for a in posted
    )
    assert disputes.show(ws.control, number).adjustment_id == posted[0].id
    # 2026-11 has no allocation yet: its statement is the two adjustments, which cancel out
    assert periods.status(ws.control, "2026-11").state == "open"
    november = period_lines(ws, "2026-11")
    assert _view(november) == [
        ("cx", FMA, "adjustment", Decimal("-2.00"), "chargeback", 1),
        (UNALLOCATED, FMA, "adjustment", Decimal("2.00"), "unallocated", 2),
    ]
    assert sum((x.amount for x in november or []), Decimal(0)) == 0
    # the closed period is as it was
    assert summary(period_lines(ws, "2026-10")) == OCT_LINES
    # 2026-11 allocated and closed: its statement and journal carry the adjustment
    close_now(ws, "2026-11")
    frozen = period_lines(ws, "2026-11") or []
    allocated = {k: v for k, v in summary([x for x in frozen if x.adjustment_id is None]).items()}
    assert allocated == NOV_LINES
    assert _view([x for x in frozen if x.adjustment_id is not None]) == _view(november)
    assert sum((x.amount for x in frozen), Decimal(0)) == Decimal("6.00")
    cx = [j for j in journal.posted(ws.control, "2026-11") if j.payer == "cx"]
    assert sorted((j.account, j.statement_line_id == "adj-1", j.debit, j.credit) for j in cx) == [
        ("4900", False, Decimal(0), Decimal("2.00")),
        ("6410", False, Decimal("4.00"), Decimal(0)),
        ("6410", True, Decimal(0), Decimal("2.00")),
    ]
    assert close.verify(ws.control).intact


def test_an_adjustment_skips_a_closed_next_period(ws: Workspace) -> None:
    close_now(ws, "2026-10")
    close_now(ws, "2026-11")
    number = _accept(ws, "2.50", reassign_to="ops")
    assert [(a.period, a.corrects_period, a.payer, a.amount) for a in _adjustments(ws)] == [
        ("2026-12", "2026-10", "cx", Decimal("-2.50")),
        ("2026-12", "2026-10", "ops", Decimal("2.50")),
    ]
    assert periods.status(ws.control, "2026-12").state == "open"
    # reassigned to ops, the line is ops's chargeback now (foundation models are charged back)
    assert _view(period_lines(ws, "2026-12")) == [
        ("cx", FMA, "adjustment", Decimal("-2.50"), "chargeback", 1),
        ("ops", FMA, "adjustment", Decimal("2.50"), "chargeback", 2),
    ]
    # both closed periods are untouched
    assert summary(period_lines(ws, "2026-10")) == OCT_LINES
    assert summary(period_lines(ws, "2026-11")) == NOV_LINES
    posts = [e for e in audit.entries(ws.control) if e.action == "adjustment.dispute"]
    assert [(e.subject, (e.details or {})["amount"]) for e in posts] == [
        ("2026-12", "-2.50"),
        ("2026-12", "2.50"),
    ]
    assert disputes.show(ws.control, number).state == "accepted"
    assert close.verify(ws.control).intact


def _by_key(found: list[Line]) -> dict[Key, Decimal]:
    totals: dict[Key, Decimal] = defaultdict(Decimal)
    for item in found:
        totals[item.key] += item.amount
    return dict(totals)


def _restatements(ws: Workspace) -> dict[Key, Decimal]:
    totals: dict[Key, Decimal] = defaultdict(Decimal)
    for a in _adjustments(ws):
        if a.kind == "restatement":
            key = (a.payer, a.workload, a.category, a.rule, a.method, a.currency)
            totals[key] += a.amount
    return dict(totals)


def _combined(*parts: dict[Key, Decimal]) -> dict[Key, Decimal]:
    totals: dict[Key, Decimal] = defaultdict(Decimal)
    for part in parts:
        for key, amount in part.items():
            totals[key] += amount
    return {key: amount for key, amount in totals.items() if amount != 0}


CX_BOT = ("cx", "bot", FMA, "tagged", "direct", USD)
CX_SUMMARISE = ("cx", "summarise", FMA, "tagged", "direct", USD)
OPS_BOT = ("ops", "bot", "uncategorised", "tagged", "direct", USD)
NOBODY = (UNALLOCATED, UNALLOCATED, "uncategorised", "(none)", "unallocated", USD)


def test_restated_bills_post_exactly_the_difference(ws: Workspace, tmp_path: Path) -> None:
    closed = close_now(ws, "2026-10")
    frozen = period_lines(ws, "2026-10") or []
    assert _by_key(frozen) == {
        CX_BOT: Decimal("10.01"),
        ("cx", "search", FMA, "tagged", "direct", USD): Decimal("5.50"),
        OPS_BOT: Decimal("3.33"),
        NOBODY: Decimal("1.00"),
    }
    # the bill is restated: cx/bot 10.005 -> 12, ops/bot 3.333 -> 3.5, the untagged 1 gone,
    # a new cx/summarise 0.25; 19.84 closed becomes 21.25
    restated = [
        row("12", "bot", "cx", **OPENAI),
        OCT_ROWS[1],
        row("3.5", "bot", "ops"),
        row("0.25", "summarise", "cx", **OPENAI),
    ]
    ingest(ws, write_oct(tmp_path / "first" / "oct.csv", restated))
    first = adjustments.adjust_restated(ws, "2026-10", "alice")
    assert (first.posted_to, first.notes) == ("2026-11", [])
    assert [(a["period"], a["payer"], a["workload"], a["amount"]) for a in first.adjustments] == [
        ("2026-11", UNALLOCATED, UNALLOCATED, "-1.00"),
        ("2026-11", "cx", "bot", "1.99"),
        ("2026-11", "cx", "summarise", "0.25"),
        ("2026-11", "ops", "bot", "0.17"),
    ]
    assert _restatements(ws) == {
        NOBODY: Decimal("-1.00"),
        CX_BOT: Decimal("1.99"),
        CX_SUMMARISE: Decimal("0.25"),
        OPS_BOT: Decimal("0.17"),
    }
    now = allocated_lines(ws, "2026-10")
    assert _combined(_by_key(frozen), _restatements(ws)) == _by_key(now)
    assert sum((x.amount for x in now), Decimal(0)) == Decimal("21.25")
    # the closed period and its closing are untouched; the restatement is audited
    assert period_lines(ws, "2026-10") == frozen
    assert periods.status(ws.control, "2026-10").run_id == closed.run_id
    assert close.verify(ws.control).intact
    restated_runs = [e for e in audit.entries(ws.control) if e.action == "period.restated"]
    assert [(e.subject, (e.details or {})["run_id"]) for e in restated_runs] == [
        ("2026-10", first.run_id)
    ]
    # 2026-11 closes with the restatement in it; a second restatement lands in 2026-12
    close_now(ws, "2026-11")
    november = period_lines(ws, "2026-11") or []
    assert sum((x.amount for x in november), Decimal(0)) == Decimal("6.00") + Decimal("1.41")
    again = [row("12.5", "bot", "cx", **OPENAI), *restated[1:]]
    ingest(ws, write_oct(tmp_path / "second" / "oct.csv", again))
    second = adjustments.adjust_restated(ws, "2026-10", "alice")
    assert [(a["period"], a["payer"], a["workload"], a["amount"]) for a in second.adjustments] == [
        ("2026-12", "cx", "bot", "0.50")
    ]
    newest = allocated_lines(ws, "2026-10")
    assert _combined(_by_key(frozen), _restatements(ws)) == _by_key(newest)
    assert sum((x.amount for x in newest), Decimal(0)) == Decimal("21.75")
    # nothing further changed: nothing further is posted, and nothing is allocated again
    runs = len(ws.control.runs("2026-10"))
    third = adjustments.adjust_restated(ws, "2026-10", "alice")
    assert (third.run_id, third.posted_to, third.adjustments) == (second.run_id, None, [])
    assert third.notes == [
        f"the inputs of 2026-10 are those run {second.run_id} allocated: nothing was restated since"
    ]
    assert len(ws.control.runs("2026-10")) == runs
    assert actions(ws.control, "2026-10").count("period.restated") == 2
    assert len(_adjustments(ws)) == 5
    assert close.verify(ws.control).intact


def test_restating_unchanged_inputs_allocates_nothing(ws: Workspace) -> None:
    closed = close_now(ws, "2026-10")
    runs = len(ws.control.runs("2026-10"))
    result = adjustments.adjust_restated(ws, "2026-10", "alice")
    assert (result.run_id, result.posted_to, result.adjustments) == (closed.run_id, None, [])
    assert result.notes == [
        f"the inputs of 2026-10 are those run {closed.run_id} allocated: nothing was restated since"
    ]
    assert len(ws.control.runs("2026-10")) == runs
    assert "period.restated" not in actions(ws.control)
    assert _adjustments(ws) == []
    assert periods.status(ws.control, "2026-10").state == "closed"


def test_a_restatement_notes_a_configuration_changed_since_the_close(
    ws: Workspace, tmp_path: Path
) -> None:
    """After 2026-10 closed, cx's foundation models were made shown back from 2026-10 on. The
    restated bill is told apart from the changed rules by a note; a closed line's correction
    keeps the mode it closed with, a line new in the restated bill takes the configured one."""
    close_now(ws, "2026-10")
    cx_shown_back = {"category": FMA, "mode": "showback", "effective_from": "2026-10"}
    _with_modes(ws, cx_shown_back | {"payer": "cx"})
    restated = [row("12", "bot", "cx", **OPENAI), *OCT_ROWS[1:]]
    restated.append(row("0.25", "summarise", "cx", **OPENAI))
    ingest(ws, write_oct(tmp_path / "oct.csv", restated))
    result = adjustments.adjust_restated(ws, "2026-10", "alice")
    assert result.notes == [
        "the configuration changed since 2026-10 closed: the adjustments include what the "
        "changed rules or settings moved, not only the restated bills"
    ]
    assert [(a["payer"], a["workload"], a["amount"]) for a in result.adjustments] == [
        ("cx", "bot", "1.99"),
        ("cx", "summarise", "0.25"),
    ]
    assert [(a.workload, a.amount, a.mode) for a in _adjustments(ws)] == [
        ("bot", Decimal("1.99"), "chargeback"),
        ("summarise", Decimal("0.25"), "showback"),
    ]
    assert summary(period_lines(ws, "2026-10")) == OCT_LINES
    assert close.verify(ws.control).intact


def test_a_correction_keeps_the_mode_of_the_line_it_corrects(ws: Workspace) -> None:
    """Foundation models are charged back in 2026-10 and shown back from 2026-11. Disputes on
    2026-10's charged-back lines, accepted, land in 2026-11 as chargebacks still (the credit,
    and the charge reassigned to ops), so 2026-11's journal posts them."""
    _with_modes(ws, {"category": FMA, "mode": "showback", "effective_from": "2026-11"})
    close_now(ws, "2026-10")
    assert summary(period_lines(ws, "2026-10")) == OCT_LINES
    _accept(ws, "2.00")
    search = line(ws, "2026-10", "cx", "search")
    number = disputes.open_dispute(ws, "2026-10", search.line_id, "ops's", "bob").id
    disputes.take_under_review(ws.control, number, "alice")
    payers = disputes.receivers(ws, number)
    disputes.accept(
        ws.control, number, "alice", Decimal("1.50"), "agreed", reassign_to="ops", payers=payers
    )
    with ws.control.reading() as session:
        assert list(session.scalars(select(Dispute.mode).order_by(Dispute.id))) == [
            "chargeback",
            "chargeback",
        ]
    assert [(a.period, a.payer, a.amount, a.mode) for a in _adjustments(ws)] == [
        ("2026-11", "cx", Decimal("-2.00"), "chargeback"),
        ("2026-11", UNALLOCATED, Decimal("2.00"), "unallocated"),
        ("2026-11", "cx", Decimal("-1.50"), "chargeback"),
        ("2026-11", "ops", Decimal("1.50"), "chargeback"),
    ]
    close_now(ws, "2026-11")
    frozen = period_lines(ws, "2026-11") or []
    # 2026-11's own cx/bot line is shown back; the corrections are charged back
    assert [(x.payer, x.category, x.amount, x.mode) for x in frozen if not x.adjustment_id] == [
        ("cx", FMA, Decimal("4.00"), "showback"),
        ("ops", "uncategorised", Decimal("2.00"), "showback"),
    ]
    posted = journal.posted(ws.control, "2026-11")
    assert sorted((j.payer, j.account, j.statement_line_id, j.debit, j.credit) for j in posted) == [
        ("cx", "4900", None, Decimal("3.50"), Decimal(0)),
        ("cx", "6410", "adj-1", Decimal(0), Decimal("2.00")),
        ("cx", "6410", "adj-3", Decimal(0), Decimal("1.50")),
        ("ops", "4900", None, Decimal(0), Decimal("1.50")),
        ("ops", "6400", "adj-4", Decimal("1.50"), Decimal(0)),
    ]
    assert journal.imbalances(posted) == {}
    assert close.verify(ws.control).intact
