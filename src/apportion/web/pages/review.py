"""The monthly review page: what moved beyond its threshold in the caller's cost centres, and
the form its owners explain it with."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from apportion.analyse.review import monthly_review
from apportion.api import v1
from apportion.api.review import ExplanationRequest
from apportion.api.review import explain as explain_line
from apportion.web.pages.common import PageCaller, workspace_of
from apportion.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/periods/{period}/cost-review", response_class=HTMLResponse)
def review_page(
    request: Request, period: v1.PeriodPath, caller: PageCaller, everything: bool = False
) -> Response:
    found = monthly_review(workspace_of(request), period, caller.payers)
    return render(
        request,
        "review.html",
        {
            "r": found,
            "period": period,
            "items": found.items if everything else found.flagged(),
            "everything": everything,
            "may_explain": caller.role != "analyst",
        },
        caller=caller,
        twin=f"/api/v1/periods/{period}/cost-review",
    )


@router.post("/periods/{period}/cost-review/explanations")
def explain_page(
    request: Request,
    period: v1.PeriodPath,
    caller: PageCaller,
    cost_centre: Annotated[str, Form(min_length=1, max_length=200)],
    use_case: Annotated[str, Form(min_length=1, max_length=200)],
    category: Annotated[str, Form(min_length=1, max_length=200)],
    currency: Annotated[str, Form(pattern=r"^[A-Z]{3}$")],
    text: Annotated[str, Form(min_length=1, max_length=4000)],
) -> Response:
    body = ExplanationRequest(
        cost_centre=cost_centre, use_case=use_case, category=category, currency=currency, text=text
    )
    explain_line(request, period, caller, body)
    return RedirectResponse(f"/periods/{period}/cost-review", status_code=303)
