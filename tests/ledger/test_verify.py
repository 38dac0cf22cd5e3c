"""The hash chain over closings: verify() recomputes every closed period's content hash from
what is stored (the closing record's who, when, forced and why included), each closing's link
to the one before, and each chain hash against the one the append-only audit log recorded when
the period first closed, so an edit made behind the ledger's back (raw SQL on the
control-plane database) is reported with the period it touched. The links are keyed with the
ledger key, kept outside the database: whoever can write to the database but lacks the key
cannot forge a chain that verifies, and a chain head kept by an auditor catches even a forger
who holds both."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apportion.control import audit
from apportion.control.models import Closing, JournalLineRecord
from apportion.ledger import close, journal
from apportion.ledger.close import Closed
from apportion.ledger.lines import frozen_lines
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
    found = close.verify(ws.control)
    assert (found.closings, found.sealed, found.problems) == (2, 2, [])
    assert found.head == november.chain_hash
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


def _summary(ws: Workspace) -> dict[str, object]:
    found = close.verify(ws.control)
    return {"closings": found.closings, "intact": found.intact, "problems": found.problems}


def _delete_closing(ws: Workspace, period: str) -> None:
    """The closing and every row that refers to it (PostgreSQL enforces the foreign keys)."""
    for table in ("statement_lines", "journal_lines", "closings"):
        execute(ws.control, f"DELETE FROM {table} WHERE period = :period", {"period": period})


def test_a_deleted_closing_breaks_the_chain(two_closed: tuple[Workspace, Closed, Closed]) -> None:
    ws = two_closed[0]
    _delete_closing(ws, "2026-10")
    assert _summary(ws) == {
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
    assert _summary(ws) == {
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


def _content_after_edit(ws: Workspace, closed: Closed) -> str:
    """The content hash of the edited period, recomputed from what is stored now, as whoever
    edited it can (the content hash needs no key)."""
    with ws.control.reading() as session:
        closing = session.get_one(Closing, closed.seq)
        stored = frozen_lines(session, closed.period) or []
        entries = [
            journal.from_record(row)
            for row in session.query(JournalLineRecord).filter_by(period=closed.period)
        ]
    content = close.content_hash(closing, stored, entries)
    assert content != closed.content_hash
    return content


def _rewrite_closing(ws: Workspace, period: str, **columns: object) -> None:
    sets = ", ".join(f"{column} = :{column}" for column in columns)
    statement = f"UPDATE closings SET {sets} WHERE period = :period"
    assert execute(ws.control, statement, {**columns, "period": period}) == 1


def _forge_audit(ws: Workspace, period: str, chain: str, content: str) -> None:
    """A new period.closed entry with the forged hashes: the log refuses UPDATE and DELETE,
    not INSERT."""
    with ws.control.transaction() as session:
        audit.record(
            session, "alice", "period.closed", period, chain_hash=chain, content_hash=content
        )


def _forge_chain(
    ws: Workspace, october: Closed, november: Closed, seal: str | None
) -> tuple[str, str]:
    """The attack of issue 23: a closed statement line edited in the database, its content
    hash and every chain hash after it recomputed with plain SHA-256 (no key), and new audit
    entries inserted that record the forged hashes."""
    _edit_statement(ws)
    content = _content_after_edit(ws, october)
    first = close.chain_hash(None, "2026-10", content)
    second = close.chain_hash(first, "2026-11", november.content_hash)
    _rewrite_closing(ws, "2026-10", content_hash=content, chain_hash=first, seal=seal)
    _rewrite_closing(ws, "2026-11", previous_hash=first, chain_hash=second, seal=seal)
    _forge_audit(ws, "2026-10", first, content)
    _forge_audit(ws, "2026-11", second, november.content_hash)
    return first, second


ADDED = (
    "{}: the audit log records 2 closings of it, where a period closes once: entries were "
    "added to the log"
)
UNKEYED = (
    "{}: its chain hash does not match its content and the ledger key: rewritten by someone "
    "without the key, or this is not the key it was sealed with"
)


def test_an_edit_covered_by_a_recomputed_chain_and_new_audit_entries_is_reported(
    two_closed: tuple[Workspace, Closed, Closed],
) -> None:
    """Before the ledger key, this attack verified as intact: verify trusted the latest audit
    entry, and anyone could recompute plain SHA-256 links."""
    ws, october, november = two_closed
    _forge_chain(ws, october, november, seal="hmac-sha256")
    assert close.verify(ws.control).problems == [
        UNKEYED.format("2026-10"),
        UNKEYED.format("2026-11"),
        ADDED.format("2026-10"),
        ADDED.format("2026-11"),
        REWRITTEN.format("2026-10"),
        REWRITTEN.format("2026-11"),
    ]


def test_a_chain_rewritten_as_if_made_before_the_key_is_reported(
    two_closed: tuple[Workspace, Closed, Closed],
) -> None:
    """The forger marks the closings as unkeyed (plain SHA-256, as before the ledger key): the
    links then hold, but the first audit entries still hold the sealed hashes."""
    ws, october, november = two_closed
    _forge_chain(ws, october, november, seal=None)
    found = close.verify(ws.control)
    assert found.problems == [
        ADDED.format("2026-10"),
        ADDED.format("2026-11"),
        REWRITTEN.format("2026-10"),
        REWRITTEN.format("2026-11"),
    ]
    assert (found.sealed, found.closings) == (0, 2)


def test_an_unkeyed_closing_after_a_keyed_one_is_reported(
    two_closed: tuple[Workspace, Closed, Closed],
) -> None:
    ws, october, _ = two_closed
    chain = close.chain_hash(october.chain_hash, "2026-11", two_closed[2].content_hash)
    _rewrite_closing(ws, "2026-11", chain_hash=chain, seal=None)
    assert close.verify(ws.control).problems == [
        "2026-11: sealed without the ledger key after closings sealed with it: the closings "
        "were rewritten",
        REWRITTEN.format("2026-11"),
    ]


def test_a_duplicate_closing_record_is_reported_and_only_the_first_counts(
    two_closed: tuple[Workspace, Closed, Closed],
) -> None:
    """A second period.closed entry that repeats the right hash is tampering all the same."""
    ws, october, _ = two_closed
    _forge_audit(ws, "2026-10", october.chain_hash, october.content_hash)
    assert close.verify(ws.control).problems == [ADDED.format("2026-10")]


def test_verify_checks_the_head_an_auditor_kept(
    two_closed: tuple[Workspace, Closed, Closed],
) -> None:
    ws, october, november = two_closed
    found = close.verify(ws.control, expect_head=november.chain_hash.upper())
    assert (found.intact, found.head, found.anchor) == (True, november.chain_hash, "2026-11")
    # a head kept when October closed is still a link of the chain after November closed
    assert close.verify(ws.control, expect_head=october.chain_hash).anchor == "2026-10"
    wrong = "0" * 64
    assert close.verify(ws.control, expect_head=wrong).problems == [
        f"the chain head you hold ({wrong}) is not a link of this ledger's chain (its head is "
        f"{november.chain_hash}): closings were rewritten, added or removed, or the head is "
        "from another workspace"
    ]


def test_someone_holding_the_key_and_the_database_is_caught_by_the_kept_head(
    two_closed: tuple[Workspace, Closed, Closed],
) -> None:
    """With the key and the power to rewrite the audit log, a forger can make every link hold;
    the head an auditor kept at close no longer is a link of the chain."""
    ws, october, november = two_closed
    _edit_statement(ws)
    key = ws.control.ledger_key.load()
    content = _content_after_edit(ws, october)
    first = close.chain_hash(None, "2026-10", content, key)
    _rewrite_closing(ws, "2026-10", content_hash=content, chain_hash=first)
    second = close.chain_hash(first, "2026-11", november.content_hash, key)
    _rewrite_closing(ws, "2026-11", previous_hash=first, chain_hash=second)
    found = close.verify(ws.control, expect_head=november.chain_hash)
    assert found.problems[-1].startswith(
        f"the chain head you hold ({november.chain_hash}) is not a link of this ledger's chain"
    )


def test_the_wrong_or_missing_key_is_reported(
    two_closed: tuple[Workspace, Closed, Closed], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = two_closed[0]
    monkeypatch.setenv("APPORTION_LEDGER_KEY", "another key, at least thirty-two characters")
    assert close.verify(ws.control).problems == [
        UNKEYED.format("2026-10"),
        UNKEYED.format("2026-11"),
    ]
    monkeypatch.delenv("APPORTION_LEDGER_KEY")
    (ws.root / "ledger.key").unlink()
    assert close.verify(ws.control).problems == [
        f"the ledger key ({ws.root / 'ledger.key'}) is missing: the closings sealed with it "
        "cannot be checked"
    ]


def test_a_chain_made_before_the_ledger_key_still_verifies_and_goes_on_sealed(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as before_the_key:  # closes as apportion did before 0008
        before_the_key.setattr(close, "_sealing_key", lambda *_: None)
        october = close_now(ws, "2026-10")
    plain = close.chain_hash(None, "2026-10", october.content_hash)
    assert october.chain_hash == plain
    assert not (ws.root / "ledger.key").exists()
    assert close.verify(ws.control).as_dict() == {
        "closings": 1,
        "intact": True,
        "problems": [],
        "sealed": 0,
        "head": plain,
        "anchor": None,
    }
    # the next close makes the key and seals its link over the unkeyed head
    november = close_now(ws, "2026-11")
    key = (ws.root / "ledger.key").read_text().strip().encode()
    assert november.chain_hash == close.chain_hash(plain, "2026-11", november.content_hash, key)
    found = close.verify(ws.control, expect_head=plain)
    assert (found.intact, found.sealed, found.head, found.anchor) == (
        True,
        1,
        november.chain_hash,
        "2026-10",
    )
    # an unkeyed closing is covered by the keyed link after it: rewriting it breaks that link
    _edit_statement(ws)
    content = _content_after_edit(ws, october)
    forged = close.chain_hash(None, "2026-10", content)
    _rewrite_closing(ws, "2026-10", content_hash=content, chain_hash=forged)
    _rewrite_closing(ws, "2026-11", previous_hash=forged)
    assert UNKEYED.format("2026-11") in close.verify(ws.control).problems


def test_a_lost_key_refuses_the_next_close(ws: Workspace) -> None:
    close_now(ws, "2026-10")
    (ws.root / "ledger.key").unlink()
    with pytest.raises(close.CloseRefusedError, match=r"the ledger key .* is missing"):
        close_now(ws, "2026-11")
    assert not (ws.root / "ledger.key").exists()
