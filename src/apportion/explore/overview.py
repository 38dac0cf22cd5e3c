"""A period at a glance, from its statement lines (so every figure is one the statements add
up to): totals per currency, by category, by cost centre and by allocation method, what was
left unallocated, and the trend over the periods before."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from apportion.access import Caller
from apportion.config.ledger import CHARGEBACK
from apportion.ledger import periods as states
from apportion.ledger.lines import Line, period_lines
from apportion.ledger.statement import currency_sum
from apportion.money import EXACT
from apportion.periods import Period
from apportion.report.totals import placed_by, unallocated_reasons
from apportion.schema.tables import UNALLOCATED
from apportion.workspace import Workspace

TREND_PERIODS = 6
HUNDRED = Decimal(100)
PERCENT_PLACES = Decimal("0.1")  # a share of the total, as shown


def visible_lines(workspace: Workspace, period: str, caller: Caller) -> list[Line] | None:
    """The period's statement lines of the cost centres the caller may see; None when the
    period has no statement."""
    lines = period_lines(workspace, period)
    if lines is None:
        return None
    return [line for line in lines if caller.may_see(line.payer)]


def overview(workspace: Workspace, period: str, caller: Caller) -> dict[str, Any]:
    Period.parse(period)
    lines = visible_lines(workspace, period, caller) or []
    status = states.status(workspace.control, period)
    ledger = workspace.config.ledger
    # why cost reached no payer: only those who see every cost centre see it
    reasons = (
        unallocated_reasons(workspace, Period.parse(period))
        if caller.sees_everything() and workspace.control.published_run(period) is not None
        else {}
    )
    return {
        "period": period,
        "state": status.state,
        "metric": ledger.metric,
        "payer_dimension": ledger.payer,
        "workload_dimension": ledger.workload,
        "has_statement": bool(lines),
        "totals": [
            {
                "currency": currency,
                "total": _sum(currency, group),
                "chargeback": _sum(currency, [x for x in group if x.mode == CHARGEBACK]),
                "showback": _sum(currency, [x for x in group if x.mode != CHARGEBACK]),
                "unallocated": _sum(currency, [x for x in group if x.payer == UNALLOCATED]),
                "unallocated_by_reason": {
                    reason: f"{amount:f}" for reason, amount in reasons.get(currency, {}).items()
                },
            }
            for currency, group in _by(lines, lambda x: x.currency).items()
        ],
        "by_category": _breakdown(lines, "category", lambda x: x.category),
        "by_cost_centre": _breakdown(lines, "cost_centre", lambda x: x.payer),
        "by_method": _breakdown(lines, "method", lambda x: placed_by(x.payer, x.method)),
        "trend": trend(workspace, period, caller, lines),
    }


def trend(
    workspace: Workspace, period: str, caller: Caller, current: list[Line]
) -> list[dict[str, str]]:
    """Totals per currency of this period (``current``, its lines already read) and the ones
    before it that have a statement."""
    found = []
    month = Period.parse(period)
    for _ in range(TREND_PERIODS):
        lines = current if str(month) == period else visible_lines(workspace, str(month), caller)
        for currency, group in _by(lines or [], lambda x: x.currency).items():
            found.append(
                {
                    "period": str(month),
                    "currency": currency,
                    "total": _sum(currency, group),
                }
            )
        month = month.previous
    return sorted(found, key=lambda row: (row["currency"], row["period"]))


def _breakdown(
    lines: Iterable[Line], name: str, key: Callable[[Line], str]
) -> list[dict[str, str]]:
    """Amount and share of the currency's total per key, largest first."""
    rows = []
    for currency, group in _by(lines, lambda x: x.currency).items():
        total = currency_sum(currency, (x.amount for x in group))
        for value, members in _by(group, key).items():
            amount = currency_sum(currency, (x.amount for x in members))
            rows.append(
                {
                    name: value,
                    "currency": currency,
                    "amount": f"{amount:f}",
                    "share": _share(amount, total),
                }
            )
    return sorted(rows, key=lambda row: (row["currency"], -Decimal(row["amount"]), row[name]))


def _by(lines: Iterable[Line], key: Callable[[Line], str]) -> dict[str, list[Line]]:
    grouped: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        grouped[key(line)].append(line)
    return dict(sorted(grouped.items()))


def _share(amount: Decimal, total: Decimal) -> str:
    """Percent of the total, one decimal place; empty when the total is zero."""
    if total == 0:
        return ""
    percent = EXACT.divide(EXACT.multiply(amount, HUNDRED), total)
    return f"{EXACT.quantize(percent, PERCENT_PLACES):f}"


def _sum(currency: str, lines: Iterable[Line]) -> str:
    return f"{currency_sum(currency, (line.amount for line in lines)):f}"
