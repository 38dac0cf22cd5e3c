"""A payer's statement for a period: its lines by workload and category, each with method,
rule, mode (showback or chargeback), the change against the previous period and the dispute
status; totals per currency, split by mode; and whether the figures are frozen (closed) or
may still change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from apportion.config.ledger import CHARGEBACK
from apportion.control.models import CLOSED, IN_REVIEW, Adjustment
from apportion.errors import NotFoundError
from apportion.ledger import disputes
from apportion.ledger import periods as states
from apportion.ledger.disputes import UNRESOLVED
from apportion.ledger.lines import ADJUSTMENT, Line, amounts_by_key, period_lines
from apportion.money import EXACT, exact_sum, subtract
from apportion.periods import Period
from apportion.schema.currency import minor_units
from apportion.schema.tables import UNALLOCATED
from apportion.workspace import Workspace

ZERO = Decimal(0)


class StatementNotFoundError(NotFoundError):
    pass


@dataclass(frozen=True)
class StatementEntry:
    line: Line
    previous: Decimal | None  # the same line's amount last period; None if it had none
    dispute: str | None  # the latest dispute's state and number, "open (#3)"
    note: str | None = None  # what an adjustment corrects

    @property
    def change(self) -> Decimal | None:
        return None if self.previous is None else subtract(self.line.amount, self.previous)

    def as_dict(self) -> dict[str, Any]:
        line = self.line
        return {
            "line_id": line.line_id,
            "workload": line.workload,
            "category": line.category,
            "method": line.method,
            "rule": line.rule,
            "mode": line.mode,
            "currency": line.currency,
            "amount": f"{line.amount:f}",
            "previous": None if self.previous is None else f"{self.previous:f}",
            "change": None if self.change is None else f"{self.change:f}",
            "dispute": self.dispute,
            "note": self.note,
        }


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    chargeback: Decimal
    showback: Decimal
    total: Decimal
    previous: Decimal | None

    @property
    def change(self) -> Decimal | None:
        return None if self.previous is None else subtract(self.total, self.previous)

    def as_dict(self) -> dict[str, Any]:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else f"{value:f}"

        return {
            "currency": self.currency,
            "chargeback": text(self.chargeback),
            "showback": text(self.showback),
            "total": text(self.total),
            "previous": text(self.previous),
            "change": text(self.change),
        }


@dataclass(frozen=True)
class Statement:
    period: str
    previous_period: str
    payer_dimension: str
    workload_dimension: str
    payer: str
    state: str  # the period's: allocated and in_review statements may still change
    metric: str
    run_id: str | None
    entries: list[StatementEntry]
    totals: list[CurrencyTotal]
    unresolved_disputes: int
    ledger_hash: str | None = None
    closed_by: str | None = None
    closed_at: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.state == CLOSED

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "previous_period": self.previous_period,
            "payer_dimension": self.payer_dimension,
            "workload_dimension": self.workload_dimension,
            "payer": self.payer,
            "state": self.state,
            "final": self.final,
            "metric": self.metric,
            "run_id": self.run_id,
            "lines": [entry.as_dict() for entry in self.entries],
            "totals": [total.as_dict() for total in self.totals],
            "unresolved_disputes": self.unresolved_disputes,
            "ledger_hash": self.ledger_hash,
            "closed_by": self.closed_by,
            "closed_at": self.closed_at,
            "notes": self.notes,
        }


def payers(workspace: Workspace, period: str) -> list[str]:
    """Everyone with a line in the period's statement (``__unallocated__`` last)."""
    return _payers(_lines(workspace, period))


def _payers(lines: Iterable[Line]) -> list[str]:
    found = {line.payer for line in lines}
    return sorted(found - {UNALLOCATED}) + ([UNALLOCATED] if UNALLOCATED in found else [])


def statement(workspace: Workspace, period: str, payer: str) -> Statement:
    [found] = statements(workspace, period, [payer])
    return found


def statements(
    workspace: Workspace, period: str, names: Sequence[str] | None = None
) -> list[Statement]:
    """The statements of ``names`` (default: every payer's), the period's and the previous
    period's lines read once for all of them."""
    Period.parse(period)
    ledger = workspace.config.ledger
    lines = _lines(workspace, period)
    everyone = _payers(lines)
    for name in names or ():
        if name not in everyone:
            raise StatementNotFoundError(
                f"{ledger.payer} {name!r} has no lines in {period} (payers: "
                f"{', '.join(everyone) or 'none'})"
            )
    previous_period = str(Period.parse(period).previous)
    before = period_lines(workspace, previous_period) or []
    control = workspace.control
    context = _Context(
        period=period,
        previous_period=previous_period,
        status=states.status(control, period),
        closing=_closing(workspace, period),
        disputed=disputes.latest_states(control, period),
        notes=_adjustment_notes(workspace, period),
        unresolved=[
            d.payer for d in disputes.list_disputes(control, period=period) if d.state in UNRESOLVED
        ],
    )
    return [
        _statement(
            workspace,
            context,
            payer,
            [line for line in lines if line.payer == payer],
            [line for line in before if line.payer == payer],
        )
        for payer in (names or everyone)
    ]


@dataclass(frozen=True)
class _Context:
    """What every payer's statement of the period shares."""

    period: str
    previous_period: str
    status: states.PeriodStatus
    closing: dict[str, str] | None
    disputed: dict[str, str]
    notes: dict[int, str]
    unresolved: list[str]  # the payer of each unresolved dispute


def _statement(
    workspace: Workspace,
    context: _Context,
    payer: str,
    lines: list[Line],
    before: list[Line],
) -> Statement:
    ledger = workspace.config.ledger
    earlier = amounts_by_key(line for line in before if line.method != ADJUSTMENT)
    entries = [
        StatementEntry(
            line=line,
            previous=None if line.method == ADJUSTMENT else earlier.get(line.key),
            dispute=context.disputed.get(line.line_id),
            note=context.notes.get(line.adjustment_id) if line.adjustment_id else None,
        )
        for line in sorted(lines, key=_order)
    ]
    status, closing = context.status, context.closing
    return Statement(
        period=context.period,
        previous_period=context.previous_period,
        payer_dimension=ledger.payer,
        workload_dimension=ledger.workload,
        payer=payer,
        state=status.state,
        metric=closing["metric"] if closing else ledger.metric,
        run_id=status.run_id,
        entries=entries,
        totals=_totals(lines, before),
        unresolved_disputes=context.unresolved.count(payer),
        ledger_hash=closing["hash"] if closing else None,
        closed_by=status.closed_by,
        closed_at=status.closed_at.isoformat() if status.closed_at else None,
        notes=_state_notes(status.state, context.period),
    )


def _lines(workspace: Workspace, period: str) -> list[Line]:
    found = period_lines(workspace, period)
    if found is None:
        raise StatementNotFoundError(
            f"period {period} has no statement: run `apportion allocate --period {period}` first"
        )
    return found


def _order(line: Line) -> tuple[bool, str, str, str, str]:
    return (line.method == ADJUSTMENT, line.currency, line.workload, line.category, line.rule)


def _totals(lines: Sequence[Line], before: Sequence[Line]) -> list[CurrencyTotal]:
    # a currency billed last period and not this one shows as a drop to zero
    currencies = sorted({line.currency for line in [*lines, *before]})
    totals = []
    for currency in currencies:
        mine = [line for line in lines if line.currency == currency]
        earlier = [line.amount for line in before if line.currency == currency]
        totals.append(
            CurrencyTotal(
                currency=currency,
                chargeback=currency_sum(currency, (x.amount for x in mine if x.mode == CHARGEBACK)),
                showback=currency_sum(currency, (x.amount for x in mine if x.mode != CHARGEBACK)),
                total=currency_sum(currency, (x.amount for x in mine)),
                previous=currency_sum(currency, earlier) if earlier else None,
            )
        )
    return totals


def currency_sum(currency: str, amounts: Iterable[Decimal]) -> Decimal:
    """At the currency's minor unit, like the lines, so a total of no lines reads 0.00, not 0
    (the lines are rounded there already: this never rounds)."""
    return EXACT.quantize(exact_sum(amounts), Decimal(1).scaleb(-minor_units(currency)))


def _adjustment_notes(workspace: Workspace, period: str) -> dict[int, str]:
    with workspace.control.reading() as session:
        rows = session.scalars(select(Adjustment).where(Adjustment.period == period))
        return {row.id: f"corrects {row.corrects_period}: {row.description}" for row in rows}


def _closing(workspace: Workspace, period: str) -> dict[str, str] | None:
    with workspace.control.reading() as session:
        found = states.closing_of(session, period)
        return {"hash": found.chain_hash, "metric": found.metric} if found else None


def _state_notes(state: str, period: str) -> list[str]:
    if state == CLOSED:
        return [f"{period} is closed: these figures are final"]
    if state == IN_REVIEW:
        return [f"{period} is in review: figures may still change before it closes"]
    return [f"{period} is {state}, not yet reviewed: figures may change"]
