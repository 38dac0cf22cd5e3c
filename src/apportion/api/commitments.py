"""Commitments over the API: admins record them, admins and analysts read them and the
period's commitment report (apportion.analyse.commitments). A commitment the library refuses
is a ValueError: 422, as every bad input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field

from apportion.analyse.commitment_records import Kind, add_commitment, commitments
from apportion.analyse.commitments import commitment_report as compute
from apportion.api.auth import AdminCaller, AnalystCaller
from apportion.api.exact import ExactJSONRoute
from apportion.api.v1 import TEXT, PeriodPath, workspace_of

router = APIRouter(prefix="/api/v1", route_class=ExactJSONRoute)


class CommitmentRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=TEXT)
    kind: Kind
    provider: str = Field(min_length=1, max_length=200, pattern=TEXT)
    amount: Decimal = Field(gt=0, max_digits=30, decimal_places=4)
    currency: str = Field(min_length=3, max_length=3)
    start: date
    end: date
    scope: str | None = Field(default=None, max_length=10_000, pattern=TEXT)
    commitment_id: str | None = Field(default=None, max_length=400, pattern=TEXT)


@router.get("/commitments", summary="Every recorded commitment (admin, analyst)")
def commitment_list(request: Request, caller: AnalystCaller) -> list[dict[str, Any]]:
    return [c.as_dict() for c in commitments(workspace_of(request))]


@router.post("/commitments", status_code=201, summary="Record a commitment (admin)")
def commitment_add(
    request: Request, caller: AdminCaller, body: Annotated[CommitmentRequest, Body()]
) -> dict[str, Any]:
    found = add_commitment(workspace_of(request), actor=caller.actor, **body.model_dump())
    return found.as_dict()


@router.get(
    "/periods/{period}/commitments",
    summary="Commitment utilisation, coverage, idle cost and burn-down (admin, analyst)",
)
def commitment_report(
    request: Request, period: PeriodPath, caller: AnalystCaller
) -> dict[str, Any]:
    return compute(workspace_of(request), period).as_dict()
