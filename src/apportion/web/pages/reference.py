"""Read-only pages: the allocation rules, and tag coverage for admins and analysts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from apportion import charts
from apportion.analyse.unit_economics import unit_economics
from apportion.api import v1
from apportion.periods import Period
from apportion.tags.coverage import coverage_tables, tag_coverage
from apportion.web.pages.common import PageCaller, StaffPageCaller, workspace_of
from apportion.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request, caller: PageCaller) -> Response:
    return render(
        request,
        "rules.html",
        {"rules": v1.visible_rules(workspace_of(request), caller)},
        caller=caller,
        twin="/api/v1/rules",
    )


@router.get("/periods/{period}/coverage", response_class=HTMLResponse)
def coverage_page(request: Request, period: v1.PeriodPath, caller: StaffPageCaller) -> Response:
    found = tag_coverage(workspace_of(request), Period.parse(period))
    tables = coverage_tables(found, workspace_of(request).config.ledger.metric)
    return render(
        request,
        "coverage.html",
        {"period": period, "tables": tables, "required": found.required},
        caller=caller,
        twin=f"/api/v1/periods/{period}/tag-coverage",
    )


@router.get("/periods/{period}/unit-economics", response_class=HTMLResponse)
def unit_economics_page(
    request: Request, period: v1.PeriodPath, caller: StaffPageCaller
) -> Response:
    portfolio = unit_economics(workspace_of(request), period)
    points = portfolio.points()
    chart = charts.portfolio(f"Portfolio {period}", points) if points else None
    found = portfolio.as_dict()
    return render(
        request,
        "unit_economics.html",
        {"u": found, "period": period, "chart": chart},
        caller=caller,
        twin=f"/api/v1/periods/{period}/unit-economics",
    )
