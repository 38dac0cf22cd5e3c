"""The hash chain over closings: verify() recomputes every closed period's content hash from
what is stored, and each closing's link to the one before, so an edit made behind the ledger's
back (raw SQL on the control-plane database) is reported with the period it touched."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apportion.ledger import close, journal
from apportion.ledger.close import Closed
from apportion.ledger.lines import frozen_lines
from apportion.ledger.models import JournalLineRecord
from apportion.workspace import Workspace
from tests.ledger.cases import close_now, execute, line

EDITED = (
    "{}: the stored statements or journal differ from what was closed (content hash "
    "mismatch): they were changed after closing"
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


TAMPERING: dict[str, tuple[Callable[[Workspace], None], list[str]]] = {
    "statement amount": (_edit_statement, [EDITED.format("2026-10")]),
    "statement payer of the later period": (_edit_november_statement, [EDITED.format("2026-11")]),
    "journal credit": (_edit_journal, [EDITED.format("2026-10")]),
    "statement line added": (_add_statement_line, [EDITED.format("2026-10")]),
    "journal lines deleted": (_delete_journal_line, [EDITED.format("2026-10")]),
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
            "closing 1 is missing from the chain",
            "2026-11: does not chain to the closing before it",
            "2 periods are marked closed but 1 closings exist",
        ],
    }


def test_a_deleted_last_closing_is_counted(two_closed: tuple[Workspace, Closed, Closed]) -> None:
    ws = two_closed[0]
    _delete_closing(ws, "2026-11")
    assert close.verify(ws.control).problems == ["2 periods are marked closed but 1 closings exist"]


def test_rewriting_the_hashes_to_cover_an_edit_breaks_the_next_link(
    two_closed: tuple[Workspace, Closed, Closed],
) -> None:
    ws, october, _ = two_closed
    _edit_statement(ws)
    # whoever edited the line also rewrites its content hash to match...
    with ws.control.reading() as session:
        stored = frozen_lines(session, "2026-10") or []
        entries = [
            journal.from_record(row)
            for row in session.query(JournalLineRecord).filter_by(period="2026-10")
        ]
    content = close.content_hash("2026-10", october.run_id, "EffectiveCost", stored, entries)
    execute(
        ws.control,
        "UPDATE closings SET content_hash = :content WHERE period = '2026-10'",
        {"content": content},
    )
    assert close.verify(ws.control).problems == [
        "2026-10: its chain hash does not match its content"
    ]
    # ...and its chain hash: then the next closing no longer links to it
    execute(
        ws.control,
        "UPDATE closings SET chain_hash = :chain WHERE period = '2026-10'",
        {"chain": close.chain_hash(None, "2026-10", content)},
    )
    assert close.verify(ws.control).problems == ["2026-11: does not chain to the closing before it"]
