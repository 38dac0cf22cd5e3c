"""The disputes of the caller's cost centres, one dispute's history, and the decisions."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from apportion.api import v1
from apportion.ledger import disputes
from apportion.web.pages.common import PageCaller, workspace_of
from apportion.web.pages.forms import amount as form_amount
from apportion.web.render import render
from apportion.web.tables import Table

router = APIRouter(include_in_schema=False)

DISPUTE_COLUMNS = (
    "id",
    "period",
    "payer",
    "workload",
    "category",
    "line_amount",
    "state",
    "opened_by",
    "age_days",
)


# -- disputes --------------------------------------------------------------------------------
@router.get("/disputes", response_class=HTMLResponse)
def disputes_page(
    request: Request,
    caller: PageCaller,
    period: Annotated[str | None, Query(pattern=v1.PERIOD)] = None,
    state: v1.DisputeState | None = None,
    sort: Annotated[str, Query(max_length=40)] = "id",
    desc: bool = False,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    found = disputes.list_disputes(
        workspace_of(request).control, period=period, state=state, payers=caller.payers
    )
    table = Table(
        [dispute.as_dict() for dispute in found],
        columns=DISPUTE_COLUMNS,
        numeric=("id", "line_amount", "age_days"),
        sort=sort,
        descending=desc,
        search=q,
    )
    filters = {"period": period, "state": state}
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "disputes.html",
        {
            "table": table,
            "period": period,
            "state": state,
            "params": {k: v for k, v in {**filters, "q": q}.items() if v},
            "aging": disputes.aging(found),
        },
        caller=caller,
        twin="/api/v1/disputes" + (f"?{query}" if query else ""),
    )


@router.get("/disputes/{number}", response_class=HTMLResponse)
def dispute_page(request: Request, number: v1.DisputePath, caller: PageCaller) -> Response:
    found = v1.visible_dispute(workspace_of(request), number, caller)
    return render(
        request,
        "dispute.html",
        {"d": found, "unresolved": found.state in disputes.UNRESOLVED},
        caller=caller,
        twin=f"/api/v1/disputes/{number}",
    )


@router.post("/disputes/{number}/{action}")
def dispute_action(
    request: Request,
    number: v1.DisputePath,
    action: v1.DisputeAction,
    caller: PageCaller,
    reason: Annotated[str, Form(max_length=4000)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    reassign_to: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    body = v1.Decision(
        reason=reason or None,
        amount=form_amount(amount, "amount"),
        reassign_to=reassign_to or None,
    )
    v1.decide(workspace_of(request), number, action, caller, body)
    return RedirectResponse(f"/disputes/{number}", status_code=303)
