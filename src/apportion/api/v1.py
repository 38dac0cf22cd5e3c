"""The REST API, version 1: the JSON twin of every web page, and the ledger's decisions for
admins. Each endpoint calls one library function with the caller; scoping happens there, in
the queries (apportion.explore)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from apportion.access import Caller
from apportion.analyse.maturity import maturity as assess_maturity
from apportion.analyse.unit_economics import unit_economics as cost_per_decision
from apportion.api.auth import AdminCaller, AnalystCaller, AnyCaller, Authenticated, current
from apportion.api.exact import ExactJSONRoute
from apportion.api.exports import bill_lines_csv
from apportion.api.jobs import Jobs
from apportion.api.uploads import ingest_metrics
from apportion.api.work import start_allocation
from apportion.control.audit import entries
from apportion.errors import NotFoundError
from apportion.explore import drill, overview, trace, views
from apportion.explore.drill import BILL_LINE_SORTS, MAX_PAGE, Page
from apportion.ledger import disputes, periods
from apportion.ledger.close import close_period
from apportion.ledger.published import review_period
from apportion.ledger.statement import payers
from apportion.periods import Period
from apportion.tags.coverage import tag_coverage as coverage
from apportion.workspace import Workspace

PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"
LINE_ID = r"^([0-9a-f]{16}|adj-\d{1,12})$"
NAME = r"^[^\x00-\x1f/]{1,200}$"  # a name in one path segment: no control characters, no /
# a cost centre or use case comes from tags and may hold a "/" (team/sub-team): its routes
# take the rest of the path ({name:path}), so the name's links open
DIMENSION_VALUE = r"^[^\x00-\x1f]{1,200}$"
POOL_ID = r"^[0-9a-f]{1,64}$"
BILL_LINE_ID = r"^[0-9a-zA-Z:_-]{1,80}$"
ALLOCATION_ID = r"^[0-9a-f]{1,64}:\d{1,12}$"
TEXT = r"^[^\x00-\x1f]*$"  # searched or matched text: no control characters (no NUL in SQL)

PeriodPath = Annotated[str, Path(pattern=PERIOD, description="Billing month, YYYY-MM.")]
LinePath = Annotated[str, Path(pattern=LINE_ID, description="A statement line's id.")]
NamePath = Annotated[str, Path(pattern=NAME)]
ValuePath = Annotated[str, Path(pattern=DIMENSION_VALUE)]
PoolPath = Annotated[str, Path(pattern=POOL_ID, description="A pool's id.")]
BillLinePath = Annotated[str, Path(pattern=BILL_LINE_ID, description="A bill line's x_LineId.")]
DisputePath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The dispute's number.")]
Offset = Annotated[int, Query(ge=0, le=10**9)]
Limit = Annotated[int, Query(ge=1, le=drill.MAX_PAGE)]

router = APIRouter(prefix="/api/v1", route_class=ExactJSONRoute)


def paged(offset: Offset = 0, limit: Limit = 50) -> Page:
    """A long list's page, from ``offset`` and ``limit`` (the API and the pages alike)."""
    return Page(offset, limit)


Paged = Annotated[Page, Depends(paged)]


def workspace_of(request: Request) -> Workspace:
    found: Workspace = request.app.state.workspace
    return found


# -- who, and which periods ----------------------------------------------------------------
@router.get("/me", summary="The caller: token name, role and the cost centres it may see")
def me(found: Annotated[Authenticated, Depends(current)]) -> dict[str, object]:
    """A browser session also gets the CSRF token its changes must send (X-CSRF-Token)."""
    return {**found.caller.as_dict(), "csrf_token": found.csrf}


@router.get("/periods", summary="Every period with data or a ledger record, and its state")
def period_list(request: Request, caller: AnyCaller) -> list[dict[str, Any]]:
    return [status.as_dict() for status in periods.list_periods(workspace_of(request))]


@router.get("/periods/{period}/overview", summary="A period: totals, breakdowns and trend")
def period_overview(request: Request, period: PeriodPath, caller: AnyCaller) -> dict[str, Any]:
    return overview.overview(workspace_of(request), period, caller)


@router.get("/periods/{period}/cost-centres", summary="The cost centres the caller may see")
def cost_centres(request: Request, period: PeriodPath, caller: AnyCaller) -> list[str]:
    return caller.visible(payers(workspace_of(request), period))


@router.get("/periods/{period}/cost-centres/{name:path}", summary="A cost centre's statement")
def cost_centre(
    request: Request, period: PeriodPath, name: ValuePath, caller: AnyCaller
) -> dict[str, Any]:
    return views.cost_centre(workspace_of(request), period, name, caller)


@router.get("/periods/{period}/use-cases/{name:path}", summary="A use case's cost over time")
def use_case(
    request: Request, period: PeriodPath, name: ValuePath, caller: AnyCaller
) -> dict[str, Any]:
    return views.use_case(workspace_of(request), period, name, caller)


# -- drill-down ----------------------------------------------------------------------------
@router.get("/periods/{period}/lines/{line_id}", summary="A line and the allocations behind it")
def statement_line(
    request: Request,
    period: PeriodPath,
    line_id: LinePath,
    caller: AnyCaller,
    page: Paged,
) -> dict[str, Any]:
    return drill.line_detail(workspace_of(request), period, line_id, caller, page)


@router.get(
    "/periods/{period}/lines/{line_id}/trace",
    summary="A line traced to its bill lines, each one's part summing to the line",
)
def statement_line_trace(
    request: Request,
    period: PeriodPath,
    line_id: LinePath,
    caller: AnyCaller,
    limit: Annotated[int, Query(ge=0, le=MAX_PAGE, description="0: every bill line")] = 50,
) -> dict[str, Any]:
    selection = trace.Selection(line_id=line_id)
    return trace.trace(workspace_of(request), period, selection, caller, limit=limit or None)


@router.get("/periods/{period}/pools/{pool_id}", summary="A pool: its rule, sources and split")
def pool(
    request: Request,
    period: PeriodPath,
    pool_id: PoolPath,
    caller: AnyCaller,
    page: Paged,
) -> dict[str, Any]:
    return drill.pool_detail(workspace_of(request), period, pool_id, caller, page)


@router.get("/periods/{period}/pools/{pool_id}/drivers", summary="The driver rows behind shares")
def pool_drivers(
    request: Request,
    period: PeriodPath,
    pool_id: PoolPath,
    caller: AnyCaller,
    page: Paged,
    allocation_id: Annotated[str | None, Query(pattern=ALLOCATION_ID)] = None,
) -> dict[str, Any]:
    return drill.driver_rows(
        workspace_of(request),
        period,
        pool_id,
        caller,
        allocation_id=allocation_id,
        page=page,
    )


class BillLineQuery(BaseModel):
    """Which bill lines, in what order: sources of a pool or a statement line, a search over
    resource, service, description and SKU, and exact filters."""

    pool: str | None = Field(default=None, pattern=POOL_ID)
    line: str | None = Field(default=None, pattern=LINE_ID)
    q: str | None = Field(default=None, max_length=200, pattern=TEXT)
    ProviderName: str | None = Field(default=None, max_length=200, pattern=TEXT)
    ServiceName: str | None = Field(default=None, max_length=200, pattern=TEXT)
    ChargeCategory: str | None = Field(default=None, max_length=200, pattern=TEXT)
    ResourceId: str | None = Field(default=None, max_length=1000, pattern=TEXT)
    x_Category: str | None = Field(default=None, max_length=200, pattern=TEXT)
    sort: Literal[BILL_LINE_SORTS] = "ChargePeriodStart"  # type: ignore[valid-type]
    desc: bool = False
    offset: int = Field(default=0, ge=0, le=10**9)
    limit: int = Field(default=50, ge=1, le=drill.MAX_PAGE)
    format: Literal["json", "csv"] = "json"

    def filters(self) -> dict[str, str]:
        return {
            name: value
            for name in drill.BILL_LINE_FILTERS
            if (value := getattr(self, name)) is not None
        }


def bill_line_listing(
    workspace: Workspace, period: str, caller: Caller, query: BillLineQuery, every: bool = False
) -> dict[str, Any]:
    return drill.bill_lines(
        workspace,
        period,
        caller,
        pool_id=query.pool,
        line_id=query.line,
        search=query.q,
        filters=query.filters(),
        sort=query.sort,
        descending=query.desc,
        page=None if every else Page(query.offset, query.limit),
    )


@router.get(
    "/periods/{period}/bill-lines",
    summary="Bill lines: paginated, sorted, filtered; format=csv exports every match",
    response_model=None,
)
def bill_lines(
    request: Request,
    period: PeriodPath,
    caller: AnyCaller,
    query: Annotated[BillLineQuery, Query()],
) -> dict[str, Any] | PlainTextResponse:
    workspace = workspace_of(request)
    if query.format == "csv":
        return bill_lines_csv(bill_line_listing(workspace, period, caller, query, every=True))
    return bill_line_listing(workspace, period, caller, query)


@router.get("/periods/{period}/bill-lines/{bill_line_id}", summary="One bill line, every column")
def bill_line(
    request: Request, period: PeriodPath, bill_line_id: BillLinePath, caller: AnyCaller
) -> dict[str, Any]:
    return drill.bill_line(workspace_of(request), period, bill_line_id, caller)


# -- disputes ------------------------------------------------------------------------------
DisputeState = Literal["open", "under_review", "accepted", "rejected", "withdrawn"]


@router.get("/disputes", summary="Disputes of the cost centres the caller may see")
def dispute_list(
    request: Request,
    caller: AnyCaller,
    period: Annotated[str | None, Query(pattern=PERIOD)] = None,
    state: DisputeState | None = None,
) -> list[dict[str, Any]]:
    found = disputes.list_disputes(
        workspace_of(request).control, period=period, state=state, payers=caller.payers
    )
    return [dispute.as_dict() for dispute in found]


def visible_dispute(workspace: Workspace, number: int, caller: Caller) -> disputes.DisputeView:
    try:
        found = disputes.show(workspace.control, number)
    except disputes.DisputeError:
        raise NotFoundError(f"no dispute #{number}") from None
    if not caller.may_see(found.payer):
        raise NotFoundError(f"no dispute #{number}")
    return found


@router.get("/disputes/{number}", summary="A dispute and its history")
def dispute_show(request: Request, number: DisputePath, caller: AnyCaller) -> dict[str, Any]:
    return visible_dispute(workspace_of(request), number, caller).as_dict()


class DisputeRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=4000)
    evidence: str | None = Field(default=None, max_length=4000)
    claimed_amount: Decimal | None = Field(
        default=None,
        ge=0,
        max_digits=30,
        decimal_places=18,
        title=disputes.DISPUTED_AMOUNT,
        description=f"{disputes.DISPUTED_AMOUNT}: {disputes.DISPUTED_AMOUNT_MEANS}.",
    )


def open_dispute(
    workspace: Workspace, period: str, line_id: str, caller: Caller, body: DisputeRequest
) -> disputes.DisputeView:
    if caller.role == "analyst":
        raise HTTPException(403, "analysts read; a consumer or an admin opens disputes")
    drill.find_line(workspace, period, line_id, caller)  # the caller's own line, or 404
    return disputes.open_dispute(
        workspace,
        period,
        line_id,
        body.reason,
        caller.actor,
        evidence=body.evidence,
        claimed_amount=body.claimed_amount,
    )


@router.post(
    "/periods/{period}/lines/{line_id}/disputes",
    status_code=201,
    summary="Dispute a statement line",
)
def dispute_open(
    request: Request,
    period: PeriodPath,
    line_id: LinePath,
    caller: AnyCaller,
    body: Annotated[DisputeRequest, Body()],
) -> dict[str, Any]:
    return open_dispute(workspace_of(request), period, line_id, caller, body).as_dict()


class Decision(BaseModel):
    reason: str | None = Field(default=None, max_length=4000)
    amount: Decimal | None = Field(default=None, ge=0, max_digits=30, decimal_places=18)
    reassign_to: str | None = Field(default=None, max_length=200)


def decide(
    workspace: Workspace, number: int, action: str, caller: Caller, body: Decision
) -> disputes.DisputeView:
    """An admin's move on a dispute; the disputed cost centre's consumers may withdraw it."""
    found = visible_dispute(workspace, number, caller)
    control = workspace.control
    if action == "withdraw":
        if caller.role == "analyst":
            raise HTTPException(403, "analysts read; the disputing consumer or an admin withdraws")
        return disputes.withdraw(control, found.id, caller.actor, body.reason)
    if not caller.is_admin:
        raise HTTPException(403, "deciding a dispute needs an admin token")
    if action == "review":
        return disputes.take_under_review(control, found.id, caller.actor, body.reason)
    if action == "reject":
        return disputes.reject(control, found.id, caller.actor, body.reason or "")
    if body.amount is None:
        raise HTTPException(422, "accepting a dispute needs the amount taken off the line")
    try:
        return disputes.accept(
            control,
            found.id,
            caller.actor,
            body.amount,
            body.reason or "",
            reassign_to=body.reassign_to,
            payers=disputes.receivers(workspace, found.id) if body.reassign_to else (),
        )
    except disputes.UnknownPayerError as exc:  # bad input, not a refusal of the dispute's state
        raise HTTPException(422, str(exc)) from None


DisputeAction = Literal["review", "accept", "reject", "withdraw"]


@router.post("/disputes/{number}/{action}", summary="Review, accept, reject or withdraw")
def dispute_decide(
    request: Request,
    number: DisputePath,
    action: DisputeAction,
    caller: AnyCaller,
    body: Annotated[Decision, Body()],
) -> dict[str, Any]:
    return decide(workspace_of(request), number, action, caller, body).as_dict()


# -- rules, coverage, the ledger's decisions -----------------------------------------------
# What a consumer may see of a rule: how cost is split, not what it selects or whom it names
# (a match names resource ids and other teams' tags; targets and shares name their use cases)
CONSUMER_RULE_FIELDS = ("name", "method", "driver", "window")


def visible_rules(workspace: Workspace, caller: Caller) -> list[dict[str, Any]]:
    """Every rule, in order: whole for admins and analysts; for a consumer, its name, method,
    driver and window only (its own statement lines say which rule made them)."""
    rules = [rule.model_dump(mode="json") for rule in workspace.config.rules]
    if caller.sees_everything():
        return rules
    return [{k: rule[k] for k in CONSUMER_RULE_FIELDS if k in rule} for rule in rules]


@router.get(
    "/rules",
    summary="The allocation rules, in claiming order (read-only); consumers see names and methods",
)
def rules(request: Request, caller: AnyCaller) -> list[dict[str, Any]]:
    return visible_rules(workspace_of(request), caller)


@router.get("/periods/{period}/tag-coverage", summary="Tag coverage of the period's bills")
def tag_coverage(request: Request, period: PeriodPath, caller: AnalystCaller) -> dict[str, Any]:
    found: dict[str, Any] = coverage(workspace_of(request), Period.parse(period)).as_dict()
    return found


@router.get(
    "/periods/{period}/unit-economics",
    summary="Cost per decision per use case beside its value; the portfolio (admin, analyst)",
)
def unit_economics(request: Request, period: PeriodPath, caller: AnalystCaller) -> dict[str, Any]:
    return cost_per_decision(workspace_of(request), period).as_dict()


@router.get(
    "/periods/{period}/maturity",
    summary="Crawl, walk or run, the figures behind it and the next step (admin, analyst)",
)
def maturity(request: Request, period: PeriodPath, caller: AnalystCaller) -> dict[str, Any]:
    return assess_maturity(workspace_of(request), period).as_dict()


class MetricsRow(BaseModel):
    """One use case's figures for a period, as a business metrics file row
    (apportion.ingest.metrics); numbers as JSON numbers or exact decimal text."""

    period: str = Field(max_length=10)
    use_case: str = Field(max_length=200)
    decisions: Decimal | str | None = None
    unit: str | None = Field(default=None, max_length=200)
    users: Decimal | str | None = None
    revenue: Decimal | str | None = None
    cost_saved: Decimal | str | None = None
    quality_score: Decimal | str | None = None
    feature_price: Decimal | str | None = None
    currency: str | None = Field(default=None, max_length=3)


class MetricsUpload(BaseModel):
    source: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    rows: list[MetricsRow] = Field(min_length=1, max_length=10_000)


@router.post(
    "/business-metrics",
    summary="Ingest business metrics rows under a source (admin); bad rows are quarantined",
)
def business_metrics(
    request: Request, caller: AdminCaller, body: Annotated[MetricsUpload, Body()]
) -> dict[str, Any]:
    return ingest_metrics(workspace_of(request), body.source, body.rows, caller.actor)


@router.post("/periods/{period}/review", summary="Put an allocated period in review (admin)")
def period_review(request: Request, period: PeriodPath, caller: AdminCaller) -> dict[str, Any]:
    return review_period(workspace_of(request), Period.parse(period), caller.actor).as_dict()


class CloseRequest(BaseModel):
    force: bool = False
    reason: str | None = Field(default=None, max_length=4000)


@router.post("/periods/{period}/close", summary="Close a period in review (admin)")
def period_close(
    request: Request,
    period: PeriodPath,
    caller: AdminCaller,
    body: Annotated[CloseRequest, Body()],
) -> dict[str, Any]:
    closed = close_period(
        workspace_of(request), period, caller.actor, force=body.force, reason=body.reason
    )
    return {"period": period, "lines": closed.lines, "chain_hash": closed.chain_hash}


@router.post(
    "/periods/{period}/allocate",
    status_code=202,
    summary="Allocate the period in the background (admin); poll the job",
)
def period_allocate(request: Request, period: PeriodPath, caller: AdminCaller) -> dict[str, Any]:
    return start_allocation(request.app, period, caller).as_dict()


@router.get("/jobs/{job_id}", summary="A background job's progress and outcome (admin)")
def job(
    request: Request,
    job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")],
    caller: AdminCaller,
) -> dict[str, Any]:
    jobs: Jobs = request.app.state.jobs
    found = jobs.get(job_id)
    if found is None:
        raise NotFoundError(f"no job {job_id}")
    return found.as_dict()


@router.get("/audit", summary="The audit log (admin)")
def audit_log(
    request: Request, caller: AdminCaller, offset: Offset = 0, limit: Limit = 100
) -> list[dict[str, Any]]:
    found = entries(workspace_of(request).control)
    return [entry.as_dict() for entry in found[offset : offset + limit]]
