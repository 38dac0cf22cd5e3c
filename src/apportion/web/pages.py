"""The pages. Each calls the same library function as its JSON twin in apportion.api.v1 (and
links to it) and renders the result; scoping happened in that function's queries. Signed-out
visitors are sent to /login; forms carry the session's CSRF token."""

from __future__ import annotations

import hmac
import secrets
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from apportion.access import Caller
from apportion.access.sessions import LIFETIME, close_session, open_session
from apportion.api import v1
from apportion.api.auth import COOKIE, Authenticated, authenticated, current
from apportion.explore import drill, overview, views
from apportion.explore.drill import Page
from apportion.ledger import disputes, periods
from apportion.ledger.statement import payers
from apportion.web import charts
from apportion.web.render import render
from apportion.web.tables import Table

router = APIRouter(include_in_schema=False)


class SignInFirst(Exception):
    """A page asked for without a session: the visitor goes to /login, then back."""

    def __init__(self, back: str) -> None:
        self.back = back


async def page_caller(request: Request) -> Caller:
    if authenticated(request) is None:
        query = request.url.query
        raise SignInFirst(request.url.path + (f"?{query}" if query else ""))
    found: Authenticated = await current(request)
    return found.caller


PageCaller = Annotated[Caller, Depends(page_caller)]


def mount(app: FastAPI) -> None:
    from importlib import resources

    static = resources.files("apportion.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.include_router(router)

    @app.exception_handler(SignInFirst)
    async def _sign_in(request: Request, exc: SignInFirst) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": exc.back}), status_code=303)


def _workspace(request: Request) -> Any:
    return request.app.state.workspace


# -- signing in and out ----------------------------------------------------------------------
LOGIN_COOKIE = "apportion_login"  # the sign-in form's own CSRF token (double submit)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str, Query(max_length=500)] = "/") -> Response:
    return _login_page(request, _local(next), None, 200)


def _login_page(request: Request, next: str, error: str | None, status: int) -> Response:
    """The form, with a fresh token in a cookie and in the form: another site can post a
    form here but cannot read the cookie, so it cannot sign a visitor in as someone else."""
    nonce = secrets.token_urlsafe(24)
    context = {"error": error, "next": next, "login_csrf": nonce}
    response = render(request, "login.html", context, caller=None, status=status)
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_https(request),
        path="/login",
    )
    return response


@router.post("/login")
def login(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    login_csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), login_csrf.encode()):
        error = "the sign-in form expired or came from elsewhere: sign in again here"
        return _login_page(request, _local(next), error, 403)
    opened = open_session(_workspace(request).control, token.strip())
    if opened is None:
        return _login_page(request, _local(next), "unknown or revoked token", 401)
    secret, _ = opened
    response = RedirectResponse(_local(next), status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    response.set_cookie(
        COOKIE,
        secret,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_https(request),
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request, found: Annotated[Authenticated, Depends(current)]) -> Response:
    if found.session_secret is not None:
        close_session(_workspace(request).control, found.session_secret, found.caller)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _local(target: str) -> str:
    """Only a path on this site: /login?next= must not send anyone elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _https(request: Request) -> bool:
    """Behind TLS, directly or through a proxy that says so, the cookie is Secure."""
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.lower() == "https"


# -- overview, cost centres, use cases -------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def home(request: Request, caller: PageCaller) -> Response:
    """The newest period with a statement."""
    workspace = _workspace(request)
    listed = [s for s in periods.listing(workspace) if s.run_id is not None]
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
    workspace = _workspace(request)
    found = overview.overview(workspace, period, caller)
    centres = caller.visible(payers(workspace, period)) if found["has_statement"] else []
    return render(
        request,
        "overview.html",
        {
            "o": found,
            "centres": centres,
            "periods": [s.period for s in periods.listing(workspace)],
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


@router.get("/periods/{period}/cost-centres/{name}", response_class=HTMLResponse)
def cost_centre_page(
    request: Request,
    period: v1.PeriodPath,
    name: v1.NamePath,
    caller: PageCaller,
    sort: Annotated[str, Query(max_length=40)] = "",
    desc: bool = False,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    found = views.cost_centre(_workspace(request), period, name, caller)
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
        twin=f"/api/v1/periods/{period}/cost-centres/{name}",
    )


@router.get("/periods/{period}/use-cases/{name}", response_class=HTMLResponse)
def use_case_page(
    request: Request, period: v1.PeriodPath, name: v1.NamePath, caller: PageCaller
) -> Response:
    found = views.use_case(_workspace(request), period, name, caller)
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
        twin=f"/api/v1/periods/{period}/use-cases/{name}",
    )


# -- drill-down ------------------------------------------------------------------------------
@router.get("/periods/{period}/lines/{line_id}", response_class=HTMLResponse)
def line_page(
    request: Request,
    period: v1.PeriodPath,
    line_id: v1.LinePath,
    caller: PageCaller,
    offset: v1.Offset = 0,
    limit: v1.Limit = 50,
) -> Response:
    found = drill.line_detail(_workspace(request), period, line_id, caller, Page(offset, limit))
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
        claimed_amount=_amount(claimed_amount, "claimed_amount"),
    )
    opened = v1.open_dispute(_workspace(request), period, line_id, caller, body)
    return RedirectResponse(f"/disputes/{opened.id}", status_code=303)


@router.get("/periods/{period}/pools/{pool_id}", response_class=HTMLResponse)
def pool_page(
    request: Request,
    period: v1.PeriodPath,
    pool_id: v1.PoolPath,
    caller: PageCaller,
    offset: v1.Offset = 0,
    limit: v1.Limit = 50,
) -> Response:
    found = drill.pool_detail(_workspace(request), period, pool_id, caller, Page(offset, limit))
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
    allocation_id: Annotated[str | None, Query(pattern=v1.ALLOCATION_ID)] = None,
    offset: v1.Offset = 0,
    limit: v1.Limit = 50,
) -> Response:
    found = drill.driver_rows(
        _workspace(request),
        period,
        pool_id,
        caller,
        allocation_id=allocation_id,
        page=Page(offset, limit),
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
    found = v1.bill_line_listing(_workspace(request), period, caller, query)
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
    found = drill.bill_line(_workspace(request), period, bill_line_id, caller)
    return render(
        request,
        "bill_line.html",
        {"b": found, "period": period},
        caller=caller,
        twin=f"/api/v1/periods/{period}/bill-lines/{bill_line_id}",
    )


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
    found = disputes.listing(
        _workspace(request).control, period=period, state=state, payers=caller.payers
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
    found = v1.visible_dispute(_workspace(request), number, caller)
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
        amount=_amount(amount, "amount"),
        reassign_to=reassign_to or None,
    )
    v1.decide(_workspace(request), number, action, caller, body)
    return RedirectResponse(f"/disputes/{number}", status_code=303)


def _amount(text: str, field: str) -> Decimal | None:
    """A form's amount: blank is none; anything but a number is the form's mistake (422)."""
    if not text.strip():
        return None
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise HTTPException(422, f"{field}: {text!r} is not an amount") from None
    if not value.is_finite():
        raise HTTPException(422, f"{field}: {text!r} is not an amount")
    return value


# -- rules and coverage ----------------------------------------------------------------------
@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request, caller: PageCaller) -> Response:
    config = _workspace(request).config
    return render(
        request,
        "rules.html",
        {"rules": [rule.model_dump(mode="json") for rule in config.rules]},
        caller=caller,
        twin="/api/v1/rules",
    )


@router.get("/periods/{period}/coverage", response_class=HTMLResponse)
def coverage_page(request: Request, period: v1.PeriodPath, caller: PageCaller) -> Response:
    if caller.role not in ("admin", "analyst"):
        raise HTTPException(403, "tag coverage is for admins and analysts")
    from apportion.periods import Period
    from apportion.tags.coverage import coverage_tables, tag_coverage

    found = tag_coverage(_workspace(request), Period.parse(period))
    tables = coverage_tables(found, _workspace(request).config.ledger.metric)
    return render(
        request,
        "coverage.html",
        {"period": period, "tables": tables, "required": found.required},
        caller=caller,
        twin=f"/api/v1/periods/{period}/tag-coverage",
    )
