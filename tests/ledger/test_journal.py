"""Chargeback journal entries: balanced per payer and currency, never a negative debit or
credit, only chargeback lines posting, and ids that depend on what is posted, not on order."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from apportion.config.ledger import Accounts
from apportion.ledger import journal
from apportion.ledger.journal import JournalLine
from apportion.ledger.lines import Line

ACCOUNTS = Accounts(expense_by_payer={"cx": "6410"})
ZERO = Decimal(0)


def _line(line_id: str, payer: str, mode: str, amount: str, currency: str = "USD") -> Line:
    return Line(
        line_id,
        payer,
        "bot",
        "foundation_model_api",
        "tagged",
        "direct",
        mode,
        currency,
        Decimal(amount),
    )


def _entry_id(period: str, payer: str, currency: str) -> str:
    digest = hashlib.sha256(f"{period}\x1f{payer}\x1f{currency}".encode()).hexdigest()[:12]
    return f"JE-{period}-{digest}"


def test_a_journal_by_hand() -> None:
    lines = [
        _line("b-refund", "cx", "chargeback", "-3.00"),
        _line("a-usage", "cx", "chargeback", "10.00"),
        _line("c-zero", "cx", "chargeback", "0.00"),
        _line("d-eur", "ops", "chargeback", "2.50", "EUR"),
        _line("e-eur", "ops", "chargeback", "-2.50", "EUR"),
        _line("f-shown", "research", "showback", "5.00"),
        _line("g-nobody", "__unallocated__", "unallocated", "1.00"),
    ]
    cx, ops = _entry_id("2026-10", "cx", "USD"), _entry_id("2026-10", "ops", "EUR")
    found = [
        (j.entry_id, j.line_id, j.line_no, j.currency, j.account, j.payer, j.debit, j.credit)
        for j in journal.journal("2026-10", lines, ACCOUNTS)
    ]
    assert found == [
        # a refund credits the payer's expense account; the recovery takes the net 7.00
        (cx, f"{cx}-a-usage", 1, "USD", "6410", "cx", Decimal("10.00"), ZERO),
        (cx, f"{cx}-b-refund", 2, "USD", "6410", "cx", ZERO, Decimal("3.00")),
        (cx, f"{cx}-recovery", 3, "USD", "4900", "cx", ZERO, Decimal("7.00")),
        # a net of zero posts no recovery line, and the entry still balances
        (ops, f"{ops}-d-eur", 1, "EUR", "6400", "ops", Decimal("2.50"), ZERO),
        (ops, f"{ops}-e-eur", 2, "EUR", "6400", "ops", ZERO, Decimal("2.50")),
    ]
    # a net credit: the recovery account is debited
    refund = journal.journal("2026-11", [_line("x", "cx", "chargeback", "-4.20")], ACCOUNTS)
    assert [(j.account, j.debit, j.credit) for j in refund] == [
        ("6410", ZERO, Decimal("4.20")),
        ("4900", Decimal("4.20"), ZERO),
    ]
    assert journal.imbalances(refund) == {}


def test_imbalances_reports_what_does_not_balance() -> None:
    posted = journal.journal("2026-10", [_line("a", "cx", "chargeback", "10.00")], ACCOUNTS)
    assert journal.imbalances(posted) == {}
    usage, recovery = posted
    skewed = [usage, JournalLine(**(vars(recovery) | {"credit": Decimal("9.99")}))]
    assert journal.imbalances(skewed) == {(usage.entry_id, "USD"): Decimal("0.01")}


LINES = st.builds(
    Line,
    line_id=st.text(alphabet="0123456789abcdef", min_size=16, max_size=16),
    payer=st.sampled_from(["cx", "ops", "research", "__unallocated__"]),
    workload=st.sampled_from(["bot", "search"]),
    category=st.sampled_from(["foundation_model_api", "uncategorised"]),
    rule=st.just("tagged"),
    method=st.sampled_from(["direct", "proportional", "adjustment"]),
    mode=st.sampled_from(["chargeback", "showback", "unallocated"]),
    currency=st.sampled_from(["USD", "EUR"]),
    amount=st.integers(-(10**9), 10**9).map(lambda cents: Decimal(cents).scaleb(-2)),
)


@settings(max_examples=40, deadline=None)
@given(lines=st.lists(LINES, max_size=25, unique_by=lambda line: line.line_id), data=st.data())
def test_journals_of_random_lines_balance(lines: list[Line], data: st.DataObject) -> None:
    posted = journal.journal("2026-10", lines, ACCOUNTS)
    assert journal.imbalances(posted) == {}
    for entry in posted:
        assert entry.debit >= 0 and entry.credit >= 0
        assert (entry.debit == 0) != (entry.credit == 0), "exactly one side of each line"
    # only chargeback lines post, each non-zero one exactly once, to its payer's account
    charged = {x.line_id: x for x in lines if x.mode == "chargeback" and x.amount != 0}
    expense = [entry for entry in posted if entry.statement_line_id is not None]
    assert sorted(e.statement_line_id or "" for e in expense) == sorted(charged)
    for entry in expense:
        source = charged[entry.statement_line_id or ""]
        assert (entry.payer, entry.currency, entry.workload, entry.category) == (
            source.payer,
            source.currency,
            source.workload,
            source.category,
        )
        assert entry.account == ACCOUNTS.expense_for(source.payer)
        assert entry.debit - entry.credit == source.amount
    # the expense side of each payer and currency nets to its chargeback total, which the
    # recovery account takes the other side of
    wanted: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for source in charged.values():
        wanted[(source.payer, source.currency)] += source.amount
    booked: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    recovered: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in posted:
        side = booked if entry.statement_line_id is not None else recovered
        if side is recovered:
            assert (entry.account, entry.workload, entry.category) == ("4900", None, None)
        side[(entry.payer, entry.currency)] += entry.debit - entry.credit
    assert dict(booked) == dict(wanted)
    assert dict(recovered) == {k: -v for k, v in wanted.items() if v != 0}
    # one entry per payer and currency charged, numbered from 1, ids unique and derived
    numbers: dict[str, list[int]] = defaultdict(list)
    for entry in posted:
        assert entry.entry_id == _entry_id("2026-10", entry.payer, entry.currency)
        numbers[entry.entry_id].append(entry.line_no)
    assert all(found == list(range(1, len(found) + 1)) for found in numbers.values())
    assert len(numbers) == len(wanted)
    assert len({entry.line_id for entry in posted}) == len(posted)
    # the same lines, again or in any order, give the same entries
    assert journal.journal("2026-10", lines, ACCOUNTS) == posted
    shuffled = data.draw(st.permutations(lines))
    assert journal.journal("2026-10", shuffled, ACCOUNTS) == posted
