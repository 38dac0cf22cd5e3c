"""The monthly review over REST: the review of a period (scoped to the caller's cost centres),
owners' explanations, and the review of the thresholds themselves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from pydantic import BaseModel, Field

from apportion.analyse.review import Subject, monthly_review
from apportion.analyse.review import explain as record
from apportion.analyse.thresholds import thresholds_review as review_thresholds
from apportion.api.auth import AnalystCaller, AnyCaller
from apportion.api.exact import ExactJSONRoute
from apportion.api.v1 import PERIOD, PeriodPath, workspace_of

router = APIRouter(prefix="/api/v1", route_class=ExactJSONRoute)


@router.get(
    "/periods/{period}/cost-review",
    summary="The monthly review: what moved beyond its threshold, explained or not",
)
def cost_review(request: Request, period: PeriodPath, caller: AnyCaller) -> dict[str, Any]:
    return monthly_review(workspace_of(request), period, caller.payers).as_dict()


class ExplanationRequest(BaseModel):
    cost_centre: str = Field(min_length=1, max_length=200)
    use_case: str = Field(min_length=1, max_length=200)
    category: str | None = Field(
        default=None,
        max_length=200,
        description="The line's category, or * for the use case's total; needed only when "
        "several of its lines moved",
    )
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    text: str = Field(min_length=1, max_length=4000)


@router.post(
    "/periods/{period}/cost-review/explanations",
    status_code=201,
    summary="Explain why a review line moved (its cost centre's consumer, or an admin)",
)
def explain(
    request: Request,
    period: PeriodPath,
    caller: AnyCaller,
    body: Annotated[ExplanationRequest, Body()],
) -> dict[str, Any]:
    if caller.role == "analyst":
        raise HTTPException(403, "analysts read; the cost centre's consumer or an admin explains")
    subject = Subject(body.cost_centre, body.use_case, body.category, body.currency)
    return record(
        workspace_of(request), period, subject, body.text, caller.actor, caller.payers
    ).as_dict()


@router.get(
    "/thresholds/review",
    summary="Proposed review thresholds, and the configured ones that no longer fit",
)
def thresholds_review(
    request: Request,
    caller: AnalystCaller,
    periods: Annotated[int, Query(ge=1, le=60)] = 6,
    until: Annotated[str | None, Query(pattern=PERIOD)] = None,
) -> dict[str, Any]:
    return review_thresholds(workspace_of(request), until, periods).as_dict()
