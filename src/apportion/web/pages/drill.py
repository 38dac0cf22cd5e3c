"""From a statement line down: its allocations, their pools, the driver rows behind the
shares and the bill lines; and the form that disputes the line."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from apportion.api import v1
from apportion.explore import drill
from apportion.web.pages.common import PageCaller, workspace_of
from apportion.web.pages.forms import amount
from apportion.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/periods/{period}/lines/{line_id}", response_class=HTMLResponse)
def line_page(
    request: Request,
    period: v1.PeriodPath,
    line_id: v1.LinePath,
    caller: PageCaller,
    page: v1.Paged,
) -> Response:
    found = drill.line_detail(workspace_of(request), period, line_id, caller, page)
    return render(
        request,
        "line.html",
        {"d": found, "period": period, "may_dispute": caller.role != "analyst"},
        caller=caller,
        twin=f"/api/v1/periods/{period}/lines/{line_id}",
    )


@router.post("/periods/{period}/lines/{line_id}/disputes")
def dispute_line(
    request: Request,
    period: v1.PeriodPath,
    line_id: v1.LinePath,
    caller: PageCaller,
    reason: Annotated[str, Form(min_length=1, max_length=4000)],
    claimed_amount: Annotated[str, Form(max_length=40)] = "",
    evidence: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    body = v1.DisputeRequest(
        reason=reason,
        evidence=evidence or None,
        claimed_amount=amount(claimed_amount, "claimed_amount"),
    )
    opened = v1.open_dispute(workspace_of(request), period, line_id, caller, body)
    return RedirectResponse(f"/disputes/{opened.id}", status_code=303)


@router.get("/periods/{period}/pools/{pool_id}", response_class=HTMLResponse)
def pool_page(
    request: Request,
    period: v1.PeriodPath,
    pool_id: v1.PoolPath,
    caller: PageCaller,
    page: v1.Paged,
) -> Response:
    found = drill.pool_detail(workspace_of(request), period, pool_id, caller, page)
    return render(
        request,
        "pool.html",
        {"p": found, "period": period},
        caller=caller,
        twin=f"/api/v1/periods/{period}/pools/{pool_id}",
    )


@router.get("/periods/{period}/pools/{pool_id}/drivers", response_class=HTMLResponse)
def drivers_page(
    request: Request,
    period: v1.PeriodPath,
    pool_id: v1.PoolPath,
    caller: PageCaller,
    page: v1.Paged,
    allocation_id: Annotated[str | None, Query(pattern=v1.ALLOCATION_ID)] = None,
) -> Response:
    found = drill.driver_rows(
        workspace_of(request),
        period,
        pool_id,
        caller,
        allocation_id=allocation_id,
        page=page,
    )
    query = urlencode({"allocation_id": allocation_id} if allocation_id else {})
    return render(
        request,
        "drivers.html",
        {"r": found, "period": period, "allocation_id": allocation_id},
        caller=caller,
        twin=f"/api/v1/periods/{period}/pools/{pool_id}/drivers" + (f"?{query}" if query else ""),
    )


@router.get("/periods/{period}/bill-lines", response_class=HTMLResponse)
def bill_lines_page(
    request: Request,
    period: v1.PeriodPath,
    caller: PageCaller,
    query: Annotated[v1.BillLineQuery, Query()],
) -> Response:
    found = v1.bill_line_listing(workspace_of(request), period, caller, query)
    kept = {k: v for k, v in query.model_dump().items() if v not in (None, "", False)}
    kept.pop("format", None)
    return render(
        request,
        "bill_lines.html",
        {
            "b": found,
            "period": period,
            "query": query,
            "kept": kept,
            "sorts": drill.BILL_LINE_SORTS,
            "filters": drill.BILL_LINE_FILTERS,
        },
        caller=caller,
        twin=f"/api/v1/periods/{period}/bill-lines?{urlencode(kept)}",
    )


@router.get("/periods/{period}/bill-lines/{bill_line_id}", response_class=HTMLResponse)
def bill_line_page(
    request: Request, period: v1.PeriodPath, bill_line_id: v1.BillLinePath, caller: PageCaller
) -> Response:
    found = drill.bill_line(workspace_of(request), period, bill_line_id, caller)
    return render(
        request,
        "bill_line.html",
        {"b": found, "period": period},
        caller=caller,
        twin=f"/api/v1/periods/{period}/bill-lines/{bill_line_id}",
    )
