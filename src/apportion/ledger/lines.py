"""Statement lines: a period's allocated cost per payer, workload, category and rule, rounded
once (largest remainder, so the lines add up to the rounded total), with the charge mode that
applies to each, and the adjustments posted to the period.

A closed period's lines are the frozen ones (apportion.ledger.close); any other period's are
drawn from its published allocation whenever they are read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from apportion.config import Config
from apportion.control.models import Adjustment, StatementLineRecord
from apportion.ledger.grain import statements
from apportion.ledger.periods import closing_of
from apportion.money import add
from apportion.periods import Period
from apportion.workspace import Workspace

ADJUSTMENT = "adjustment"  # the method of an adjustment line
# what identifies a line across periods and reruns: payer, workload, category, rule, method,
# currency
LineKey = tuple[str, str, str, str, str, str]
KEY_FIELDS = ("payer", "workload", "category", "rule", "method", "currency")


@dataclass(frozen=True)
class Line:
    line_id: str
    payer: str
    workload: str
    category: str
    rule: str
    method: str
    mode: str
    currency: str
    amount: Decimal
    adjustment_id: int | None = None

    @property
    def key(self) -> LineKey:
        return (self.payer, self.workload, self.category, self.rule, self.method, self.currency)

    def canonical(self) -> dict[str, Any]:
        """Exactly what a closing hashes: every field, money as plain text."""
        return {
            "line_id": self.line_id,
            "payer": self.payer,
            "workload": self.workload,
            "category": self.category,
            "rule": self.rule,
            "method": self.method,
            "mode": self.mode,
            "currency": self.currency,
            "amount": f"{self.amount:f}",
            "adjustment_id": self.adjustment_id,
        }


def line_id(period: str, key: Iterable[str]) -> str:
    """Stable across reruns of the period: the same payer, workload, category, rule, method and
    currency give the same id, so a dispute keeps pointing at its line."""
    text = "\x1f".join([period, *key])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def allocated_lines(workspace: Workspace, period: str, metric: str | None = None) -> list[Line]:
    """The published allocation's lines, rounded to minor units per currency, in ``metric``
    (default: the configured one; a restatement compares in the metric the period closed in)."""
    config = workspace.config
    ledger = config.ledger
    metric = metric or ledger.metric
    by = [ledger.payer, ledger.workload, "category", "rule", "method"]
    found, _ = statements(workspace, Period.parse(period), by)
    lines = []
    for statement in found:
        keys = statement.keys
        payer, workload = keys[ledger.payer], keys[ledger.workload]
        key = (payer, workload, keys["category"], keys["rule"], keys["method"], statement.currency)
        lines.append(
            Line(
                line_id=line_id(period, key),
                payer=payer,
                workload=workload,
                category=keys["category"],
                rule=keys["rule"],
                method=keys["method"],
                mode=ledger.mode(keys["category"], payer, period),
                currency=statement.currency,
                amount=statement.amounts[metric],
            )
        )
    return lines


def amounts_by_key(lines: Iterable[Line]) -> dict[LineKey, Decimal]:
    found: dict[LineKey, Decimal] = {}
    for line in lines:
        found[line.key] = add(found.get(line.key, Decimal(0)), line.amount)
    return found


def adjustment_lines(session: Session, config: Config, period: str) -> list[Line]:
    """The corrections posted to the period, one line each."""
    found = session.scalars(
        select(Adjustment).where(Adjustment.period == period).order_by(Adjustment.id)
    )
    return [
        Line(
            line_id=f"adj-{adjustment.id}",
            payer=adjustment.payer,
            workload=adjustment.workload,
            category=adjustment.category,
            rule=adjustment.rule,
            method=ADJUSTMENT,
            mode=adjustment.mode,
            currency=adjustment.currency,
            amount=adjustment.amount,
            adjustment_id=adjustment.id,
        )
        for adjustment in found
    ]


def frozen_lines(session: Session, period: str) -> list[Line] | None:
    """A closed period's lines as stored, or None if the period is not closed."""
    if closing_of(session, period) is None:
        return None
    rows = session.scalars(
        select(StatementLineRecord)
        .where(StatementLineRecord.period == period)
        .order_by(StatementLineRecord.id)
    )
    return [frozen(row) for row in rows]


def frozen(row: StatementLineRecord) -> Line:
    return Line(
        line_id=row.line_id,
        payer=row.payer,
        workload=row.workload,
        category=row.category,
        rule=row.rule,
        method=row.method,
        mode=row.mode,
        currency=row.currency,
        amount=row.amount,
        adjustment_id=row.adjustment_id,
    )


def record(period: str, line: Line) -> StatementLineRecord:
    return StatementLineRecord(period=period, **{k: v for k, v in vars(line).items()})


def period_lines(workspace: Workspace, period: str) -> list[Line] | None:
    """The period's statement lines: frozen if closed, else drawn from its published
    allocation with the adjustments posted to it; a period with no published allocation has
    only its adjustments, and None if it has none."""
    return _lines(workspace, period, adjustments_alone=True)


def stated_lines(workspace: Workspace, period: str) -> list[Line] | None:
    """As period_lines, but None unless the period has a statement (it is closed, or has a
    published allocation): what an analysis compares, where adjustments posted ahead of an
    allocation are not yet the month's cost."""
    return _lines(workspace, period, adjustments_alone=False)


def _lines(workspace: Workspace, period: str, *, adjustments_alone: bool) -> list[Line] | None:
    control = workspace.control
    with control.reading() as session:
        closed = frozen_lines(session, period)
        if closed is not None:
            return closed
        adjustments = adjustment_lines(session, workspace.config, period)
    if control.published_run(period) is None:
        return (adjustments or None) if adjustments_alone else None
    return allocated_lines(workspace, period) + adjustments
