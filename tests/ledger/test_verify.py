"""The hash chain over closings: verify() recomputes every closed period's content hash from
what is stored (the closing record's who, when, forced and why included), each closing's link
to the one before, and each chain hash against the one the append-only audit log recorded when
the period closed, so an edit made behind the ledger's back (raw SQL on the control-plane
database) is reported with the period it touched."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apportion.ledger import close, journal
from apportion.ledger.close import Closed
from apportion.ledger.lines import frozen_lines
from apportion.ledger.models import Closing, JournalLineRecord
from apportion.workspace import Workspace
from tests.ledger.cases import close_now, execute, line

EDITED = (
    "{}: the stored statements, journal or closing record differ from what was closed "
    "(content hash mismatch): changed after closing"
)
REWRITTEN = (
    "{}: its chain hash is not the one the audit log recorded when it closed: the closings "
    "were rewritten"
)


@pytest.fixture
def two_closed(ws: Workspace) -> tuple[Workspace, Closed, Closed]:
    october = close_now(ws, "2026-10")
    november = close_now(ws, "2026-11")
    assert (october.seq, november.seq) == (1, 2)
    assert close.verify(ws.control).as_dict() == {"closings": 2, "intact": True, "problems": []}
    return ws, october, november


def _edit_statement(ws: Workspace) -> None:
    bot = line(ws, "2026-10", "cx", "bot").line_id
    changed = execute(
        ws.control,
        "UPDATE statement_lines SET amount = '1.01' WHERE period = '2026-10' AND line_id = :id",
        {"id": bot},
    )
    assert changed == 1


def _edit_november_statement(ws: Workspace) -> None:
    statement = "UPDATE statement_lines SET payer = 'ops' WHERE period = '2026-11' AND payer = 'cx'"
    assert execute(ws.control, statement) == 1


def _edit_journal(ws: Workspace) -> None:
    statement = (
        "UPDATE journal_lines SET credit = '15.50' WHERE period = '2026-10' AND account = '4900'"
    )
    assert execute(ws.control, statement) == 1


def _add_statement_line(ws: Workspace) -> None:
    execute(
        ws.control,
        "INSERT INTO statement_lines (period, line_id, payer, workload, category, rule, method, "
        "mode, currency, amount) VALUES ('2026-10', 'extra', 'ops', 'bot', 'uncategorised', "
        "'tagged', 'direct', 'showback', 'USD', '0.01')",
    )


def _delete_journal_line(ws: Workspace) -> None:
    statement = "DELETE FROM journal_lines WHERE period = '2026-10' AND account = '6410'"
    assert execute(ws.control, statement) == 2


def _edit_closing(column: str, value: object) -> Callable[[Workspace], None]:
    """The closing record itself edited: who closed 2026-10, whether forced, and why."""

    def edit(ws: Workspace) -> None:
        statement = f"UPDATE closings SET {column} = :value WHERE period = '2026-10'"
        assert execute(ws.control, statement, {"value": value}) == 1

    return edit


TAMPERING: dict[str, tuple[Callable[[Workspace], None], list[str]]] = {
    "statement amount": (_edit_statement, [EDITED.format("2026-10")]),
    "statement payer of the later period": (_edit_november_statement, [EDITED.format("2026-11")]),
    "journal credit": (_edit_journal, [EDITED.format("2026-10")]),
    "statement line added": (_add_statement_line, [EDITED.format("2026-10")]),
    "journal lines deleted": (_delete_journal_line, [EDITED.format("2026-10")]),
    "closing made forced": (_edit_closing("forced", True), [EDITED.format("2026-10")]),
    "closing reason": (_edit_closing("reason", "month end"), [EDITED.format("2026-10")]),
    "closing closed_by": (_edit_closing("closed_by", "mallory"), [EDITED.format("2026-10")]),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_an_edited_closed_period_is_reported(
    two_closed: tuple[Workspace, Closed, Closed], case: str
) -> None:
    ws = two_closed[0]
    tamper, problems = TAMPERING[case]
    tamper(ws)
    found = close.verify(ws.control)
    assert (found.closings, found.intact, found.problems) == (2, False, problems)


def _delete_closing(ws: Workspace, period: str) -> None:
    """The closing and every row that refers to it (PostgreSQL enforces the foreign keys)."""
    for table in ("statement_lines", "journal_lines", "closings"):
        execute(ws.control, f"DELETE FROM {table} WHERE period = :period", {"period": period})


def test_a_deleted_closing_breaks_the_chain(two_closed: tuple[Workspace, Closed, Closed]) -> None:
    ws = two_closed[0]
    _delete_closing(ws, "2026-10")
    assert close.verify(ws.control).as_dict() == {
        "closings": 1,
        "intact": False,
        "problems": [
            "2026-11: the closing before it is missing",
            "2026-11: does not chain to the closing before it",
            "2026-10: marked closed but its closing is missing",
        ],
    }


def test_a_deleted_last_closing_is_found(two_closed: tuple[Workspace, Closed, Closed]) -> None:
    ws = two_closed[0]
    _delete_closing(ws, "2026-11")
    assert close.verify(ws.control).problems == [
        "2026-11: marked closed but its closing is missing"
    ]


def test_a_deleted_last_closing_and_its_closed_state_are_found_in_the_audit_log(
    two_closed: tuple[Workspace, Closed, Closed],
) -> None:
    """Nothing left in the closings or the periods says 2026-11 closed: the append-only audit
    log still does."""
    ws = two_closed[0]
    _delete_closing(ws, "2026-11")
    reopened = "UPDATE periods SET state = 'in_review' WHERE period = '2026-11'"
    assert execute(ws.control, reopened) == 1
    assert close.verify(ws.control).as_dict() == {
        "closings": 1,
        "intact": False,
        "problems": ["2026-11: the audit log records its close, but nothing else does"],
    }


def test_a_closing_that_lost_its_closed_state_is_found(
    two_closed: tuple[Workspace, Closed, Closed],
) -> None:
    ws = two_closed[0]
    reopened = "UPDATE periods SET state = 'in_review' WHERE period = '2026-10'"
    assert execute(ws.control, reopened) == 1
    assert close.verify(ws.control).problems == ["2026-10: has a closing but is not marked closed"]


def test_rewriting_the_hashes_to_cover_an_edit_breaks_the_next_link(
    two_closed: tuple[Workspace, Closed, Closed],
) -> None:
    ws, october, november = two_closed
    _edit_statement(ws)
    # whoever edited the line also rewrites its content hash to match...
    with ws.control.reading() as session:
        closing = session.get_one(Closing, october.seq)
        stored = frozen_lines(session, "2026-10") or []
        entries = [
            journal.from_record(row)
            for row in session.query(JournalLineRecord).filter_by(period="2026-10")
        ]
    content = close.content_hash(closing, stored, entries)
    assert content != october.content_hash
    execute(
        ws.control,
        "UPDATE closings SET content_hash = :content WHERE period = '2026-10'",
        {"content": content},
    )
    assert close.verify(ws.control).problems == [
        "2026-10: its chain hash does not match its content"
    ]
    # ...and its chain hash: then the next closing no longer links to it, and the audit log
    # recorded another chain hash when 2026-10 closed
    chain = close.chain_hash(None, "2026-10", content)
    execute(
        ws.control,
        "UPDATE closings SET chain_hash = :chain WHERE period = '2026-10'",
        {"chain": chain},
    )
    assert close.verify(ws.control).problems == [
        REWRITTEN.format("2026-10"),
        "2026-11: does not chain to the closing before it",
    ]
    # ...and the rest of the chain after it: every link holds, the audit log still differs
    execute(
        ws.control,
        "UPDATE closings SET previous_hash = :previous, chain_hash = :chain "
        "WHERE period = '2026-11'",
        {"previous": chain, "chain": close.chain_hash(chain, "2026-11", november.content_hash)},
    )
    assert close.verify(ws.control).problems == [
        REWRITTEN.format("2026-10"),
        REWRITTEN.format("2026-11"),
    ]
