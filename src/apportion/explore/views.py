"""A cost centre's statement with its breakdowns, and a use case's cost over time by category
and by provider and model: the figures are the statements' own (rounded once), broken down
where a finer split is asked for so the parts add up to them."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from apportion.access import Caller
from apportion.allocate.split import round_to
from apportion.explore.overview import TREND_PERIODS, visible_lines
from apportion.explore.scope import NONE, NotFoundError, scoped
from apportion.ledger.lines import ADJUSTMENT, Line
from apportion.ledger.statement import currency_sum, statement
from apportion.periods import Period
from apportion.schema import tables as t
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
    """This period's cost by category, provider and model, each category's parts rounded to
    add up to its statement total."""
    scope = scoped(workspace, period, caller)
    metric = workspace.config.ledger.metric
    final = scope.final()
    mine = final.filter(scope.dimension(final, workspace.config.ledger.workload) == name)
    grouped = mine.group_by(
        currency=mine.BillingCurrency,
        category=mine[t.CATEGORY].fill_null(NONE),
        provider=mine.ProviderName.fill_null(NONE),
        model=mine.ResourceName.fill_null(NONE),
    ).aggregate(amount=mine[metric].sum())
    rows = workspace.data.to_arrow(
        grouped.order_by(["currency", "category", "provider", "model"])
    ).to_pylist()
    totals = {
        (currency, category): Decimal(amount)
        for currency, category, amount in (
            (row["currency"], row["key"], row["amount"])
            # adjustments are corrections, not allocations: they have no model to show
            for row in _totals([x for x in lines if x.method != ADJUSTMENT], lambda x: x.category)
        )
    }
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["currency"], row["category"])].append(row)
    found: list[dict[str, str]] = []
    for (currency, category), members in sorted(groups.items()):
        total = totals.get((currency, category))
        if total is None:
            continue
        rounded = round_to(
            [m["amount"] or Decimal(0) for m in members], minor_units(currency), total
        )
        found.extend(
            {
                "currency": currency,
                "category": category,
                "provider": member["provider"],
                "model": member["model"],
                "amount": f"{amount:f}",
            }
            for member, amount in zip(members, rounded, strict=True)
        )
    return found
