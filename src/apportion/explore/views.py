"""A cost centre's statement with its breakdowns, and a use case's cost over time by category
and by provider and model: the figures are the statements' own (rounded once), broken down
where a finer split is asked for so the parts add up to them."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from apportion.access import Caller
from apportion.allocate.split import round_to
from apportion.errors import NotFoundError
from apportion.explore.overview import TREND_PERIODS, visible_lines
from apportion.ledger.grain import StatementLine, statement_grain, summed
from apportion.ledger.lines import ADJUSTMENT, Line
from apportion.ledger.statement import currency_sum, statement
from apportion.money import exact_sum
from apportion.periods import Period
from apportion.schema.currency import minor_units
from apportion.workspace import Workspace


def cost_centre(workspace: Workspace, period: str, name: str, caller: Caller) -> dict[str, Any]:
    """The cost centre's statement (showback and chargeback labelled, change against the
    previous period), with totals by use case and by category."""
    if not caller.may_see(name):
        raise NotFoundError(f"no cost centre {name!r} in {period}")
    lines = [x for x in visible_lines(workspace, period, caller) or [] if x.payer == name]
    if not lines:
        raise NotFoundError(f"no cost centre {name!r} in {period}")
    found = statement(workspace, period, name).as_dict()
    found["by_use_case"] = _totals(lines, lambda x: x.workload)
    found["by_category"] = _totals(lines, lambda x: x.category)
    return found


def use_case(workspace: Workspace, period: str, name: str, caller: Caller) -> dict[str, Any]:
    """A use case (the ledger's workload dimension): its cost by category in this period and
    the ones before, and this period's by provider and model (the bill's ResourceName, which
    names the model or deployment for model APIs), within the caller's cost centres."""
    month = Period.parse(period)
    history = []
    current: list[Line] = []
    for _ in range(TREND_PERIODS):
        mine = [x for x in visible_lines(workspace, str(month), caller) or [] if x.workload == name]
        if str(month) == period:
            current = mine
        for row in _totals(mine, lambda x: x.category):
            history.append({"period": str(month), **row})
        month = month.previous
    if not current and not history:
        raise NotFoundError(f"no use case {name!r} in {period}")
    ledger = workspace.config.ledger
    return {
        "period": period,
        "workload_dimension": ledger.workload,
        "use_case": name,
        "metric": ledger.metric,
        "by_category": _totals(current, lambda x: x.category),
        "by_cost_centre": _totals(current, lambda x: x.payer),
        "history": sorted(history, key=lambda r: (r["currency"], r["key"], r["period"])),
        "by_model": _by_model(workspace, period, name, caller, current) if current else [],
    }


def _totals(lines: list[Line], key: Any) -> list[dict[str, str]]:
    grouped: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for line in lines:
        grouped[(line.currency, key(line))].append(line.amount)
    return [
        {"currency": currency, "key": value, "amount": f"{currency_sum(currency, amounts):f}"}
        for (currency, value), amounts in sorted(grouped.items())
    ]


def _by_model(
    workspace: Workspace, period: str, name: str, caller: Caller, lines: list[Line]
) -> list[dict[str, str]]:
    """This period's cost by category, provider and model: the statements' own rounded
    lines (apportion.ledger.grain) of the use case in the caller's cost centres, added
    up, so each category's parts add up to its statement total. A closed period whose
    statement a restatement has since changed keeps its frozen total: its parts are rounded
    to add up to it."""
    if workspace.control.published_run(period) is None:
        return []  # only adjustments: corrections have no model
    ledger = workspace.config.ledger
    metric = ledger.metric
    grain = [
        line
        for line in statement_grain(workspace, Period.parse(period))
        if line.keys[ledger.workload] == name and caller.may_see(line.keys[ledger.payer])
    ]
    parts, _ = summed(grain, ["category", "provider", "resource"])
    totals = {
        (currency, category): Decimal(amount)
        for currency, category, amount in (
            (row["currency"], row["key"], row["amount"])
            # adjustments are corrections, not allocations: they have no model to show
            for row in _totals([x for x in lines if x.method != ADJUSTMENT], lambda x: x.category)
        )
    }
    groups: dict[tuple[str, str], list[StatementLine]] = defaultdict(list)
    for part in parts:
        groups[(part.currency, part.keys["category"])].append(part)
    found: list[dict[str, str]] = []
    for (currency, category), members in sorted(groups.items()):
        total = totals.get((currency, category))
        if total is None:
            continue
        stated = [m.amounts[metric] for m in members]
        if exact_sum(stated) != total:  # frozen before a restatement: fit the parts to it
            stated = round_to([m.exact[metric] for m in members], minor_units(currency), total)
        found.extend(
            {
                "currency": currency,
                "category": category,
                "provider": member.keys["provider"],
                "model": member.keys["resource"],
                "amount": f"{amount:f}",
            }
            for member, amount in zip(members, stated, strict=True)
        )
    return found
