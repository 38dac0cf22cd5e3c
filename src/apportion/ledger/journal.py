"""Chargeback journal entries: on close, each payer's chargeback lines debit its expense
account and credit the AI platform's recovery account, one balanced entry per payer and
currency. Ids derive from the period, payer, currency and statement line, so exporting twice,
or from another machine, gives the same entries (an import can be idempotent on them)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from apportion.config.ledger import CHARGEBACK, Accounts
from apportion.control.models import JournalLineRecord
from apportion.control.plane import ControlPlane
from apportion.errors import UsageError
from apportion.ledger.lines import Line
from apportion.ledger.periods import closing_of
from apportion.money import add, exact_sum, subtract
from apportion.schema.currency import minor_units

ZERO = Decimal(0)


class JournalError(UsageError):
    pass


@dataclass(frozen=True)
class JournalLine:
    line_id: str
    entry_id: str
    line_no: int
    period: str
    currency: str
    account: str
    payer: str
    workload: str | None
    category: str | None
    debit: Decimal
    credit: Decimal
    memo: str
    statement_line_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "line_id": self.line_id,
            "line_no": self.line_no,
            "period": self.period,
            "currency": self.currency,
            "account": self.account,
            "payer": self.payer,
            "workload": self.workload,
            "category": self.category,
            "debit": f"{self.debit:f}",
            "credit": f"{self.credit:f}",
            "memo": self.memo,
            "statement_line_id": self.statement_line_id,
        }


def journal(period: str, lines: Iterable[Line], accounts: Accounts) -> list[JournalLine]:
    """The entries of a period's chargeback lines; showback and unallocated lines post none."""
    entries: dict[tuple[str, str], list[Line]] = defaultdict(list)
    for line in lines:
        if line.mode == CHARGEBACK and line.amount != ZERO:
            entries[(line.payer, line.currency)].append(line)
    posted: list[JournalLine] = []
    for (payer, currency), charged in sorted(entries.items()):
        posted.extend(_entry(period, payer, currency, charged, accounts))
    return posted


def _entry(
    period: str, payer: str, currency: str, charged: list[Line], accounts: Accounts
) -> list[JournalLine]:
    entry_id = "JE-" + period + "-" + _digest(period, payer, currency)
    expense = accounts.expense_for(payer)
    # 0.00 beside 12.50, not 0: every amount at the currency's minor unit
    zero = Decimal(0).scaleb(-minor_units(currency))
    posted = []
    for number, line in enumerate(sorted(charged, key=lambda line: line.line_id), start=1):
        # a credit or refund (negative) credits the expense account instead
        debit, credit = (line.amount, zero) if line.amount > 0 else (zero, -line.amount)
        posted.append(
            JournalLine(
                line_id=f"{entry_id}-{line.line_id}",
                entry_id=entry_id,
                line_no=number,
                period=period,
                currency=currency,
                account=expense,
                payer=payer,
                workload=line.workload,
                category=line.category,
                debit=debit,
                credit=credit,
                memo=f"AI chargeback {period}: {line.workload} {line.category} ({line.rule})",
                statement_line_id=line.line_id,
            )
        )
    total = exact_sum(line.amount for line in charged)
    if total != ZERO:
        debit, credit = (zero, total) if total > 0 else (-total, zero)
        posted.append(
            JournalLine(
                line_id=f"{entry_id}-recovery",
                entry_id=entry_id,
                line_no=len(posted) + 1,
                period=period,
                currency=currency,
                account=accounts.recovery,
                payer=payer,
                workload=None,
                category=None,
                debit=debit,
                credit=credit,
                memo=f"AI platform recovery {period} from {payer}",
                statement_line_id=None,
            )
        )
    return posted


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]


def imbalances(lines: Iterable[JournalLine]) -> dict[tuple[str, str], Decimal]:
    """Debits minus credits per entry and currency, where they differ: empty when balanced."""
    difference: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        key = (line.entry_id, line.currency)
        difference[key] = add(difference[key], subtract(line.debit, line.credit))
    return {key: value for key, value in difference.items() if value != ZERO}


def record(line: JournalLine) -> JournalLineRecord:
    return JournalLineRecord(**vars(line))


def posted(control: ControlPlane, period: str) -> list[JournalLine]:
    """The entries posted when the period closed."""
    with control.reading() as session:
        if closing_of(session, period) is None:
            raise JournalError(
                f"period {period} is not closed: journal entries are posted when it closes "
                f"(`apportion period close {period}`)"
            )
        rows = session.scalars(
            select(JournalLineRecord)
            .where(JournalLineRecord.period == period)
            .order_by(JournalLineRecord.entry_id, JournalLineRecord.line_no)
        )
        return [from_record(row) for row in rows]


def chain_head_of(control: ControlPlane, period: str) -> str | None:
    """The chain hash of the period's closing: the chain head printed when it closed."""
    with control.reading() as session:
        found = closing_of(session, period)
        return found.chain_hash if found else None


def from_record(row: JournalLineRecord) -> JournalLine:
    return JournalLine(**{name: getattr(row, name) for name in JournalLine.__dataclass_fields__})
