"""A period's overview, a cost centre's statement and a use case over time."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from apportion import charts
from apportion.api import v1
from apportion.explore import overview, views
from apportion.ledger import periods
from apportion.web.pages.common import PageCaller, workspace_of
from apportion.web.render import render
from apportion.web.tables import Table

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, caller: PageCaller) -> Response:
    """The newest period with a statement."""
    workspace = workspace_of(request)
    listed = [s for s in periods.list_periods(workspace) if s.run_id is not None]
    if not listed:
        return render(request, "empty.html", {}, caller=caller)
    return RedirectResponse(f"/periods/{listed[-1].period}", status_code=303)


@router.get("/periods", response_class=HTMLResponse)
def period_pick(
    request: Request, caller: PageCaller, period: Annotated[str, Query(pattern=v1.PERIOD)]
) -> Response:
    """The period picker's target: htmx is told where to go, a plain form is redirected."""
    target = f"/periods/{period}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/periods/{period}", response_class=HTMLResponse)
def period_page(request: Request, period: v1.PeriodPath, caller: PageCaller) -> Response:
    workspace = workspace_of(request)
    found = overview.overview(workspace, period, caller)
    return render(
        request,
        "overview.html",
        {
            "o": found,
            "periods": [s.period for s in periods.list_periods(workspace)],
            "charts": _overview_charts(found),
        },
        caller=caller,
        twin=f"/api/v1/periods/{period}/overview",
    )


def _overview_charts(found: dict[str, Any]) -> list[Any]:
    drawn = []
    for total in found["totals"]:
        currency = total["currency"]
        for key, title in (("by_category", "category"), ("by_cost_centre", "cost_centre")):
            rows = [row for row in found[key] if row["currency"] == currency]
            drawn.append(
                charts.horizontal_bars(
                    f"{currency} by {title.replace('_', ' ')}",
                    [row[title] for row in rows],
                    [Decimal(row["amount"]) for row in rows],
                )
            )
    trend = found["trend"]
    if trend:
        months = sorted({row["period"] for row in trend})
        series: dict[str, list[Decimal | None]] = {}
        for currency in sorted({row["currency"] for row in trend}):
            amounts = {r["period"]: Decimal(r["total"]) for r in trend if r["currency"] == currency}
            series[currency] = [amounts.get(month) for month in months]
        drawn.append(charts.lines("Total by period", months, series))
    return drawn


@router.get("/periods/{period}/cost-centres/{name:path}", response_class=HTMLResponse)
def cost_centre_page(
    request: Request,
    period: v1.PeriodPath,
    name: v1.ValuePath,
    caller: PageCaller,
    sort: Annotated[str, Query(max_length=40)] = "",
    desc: bool = False,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    found = views.cost_centre(workspace_of(request), period, name, caller)
    table = Table(
        found["lines"],
        columns=("workload", "category", "rule", "method", "mode", "amount", "change"),
        numeric=("amount", "change"),
        sort=sort,
        descending=desc,
        search=q,
    )
    return render(
        request,
        "cost_centre.html",
        {"s": found, "table": table, "period": period},
        caller=caller,
        twin=f"/api/v1/periods/{period}/cost-centres/{quote(name)}",
    )


@router.get("/periods/{period}/use-cases/{name:path}", response_class=HTMLResponse)
def use_case_page(
    request: Request, period: v1.PeriodPath, name: v1.ValuePath, caller: PageCaller
) -> Response:
    found = views.use_case(workspace_of(request), period, name, caller)
    drawn = []
    for currency in sorted({row["currency"] for row in found["history"]}):
        rows = [row for row in found["history"] if row["currency"] == currency]
        months = sorted({row["period"] for row in rows})
        series: dict[str, list[Decimal | None]] = {}
        for category in sorted({row["key"] for row in rows}):
            amounts = {r["period"]: Decimal(r["amount"]) for r in rows if r["key"] == category}
            series[category] = [amounts.get(month) for month in months]
        drawn.append(charts.stacked_bars(f"{currency} by category and period", months, series))
    return render(
        request,
        "use_case.html",
        {"u": found, "charts": drawn, "period": period},
        caller=caller,
        twin=f"/api/v1/periods/{period}/use-cases/{quote(name)}",
    )
