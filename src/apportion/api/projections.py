"""Projections for architecture review over REST (admins and analysts): price a proposed
workload with its optimisation scenarios (and save it), list the saved ones, and compare one
with the actuals of a period. A proposal that cannot be priced is 422; a name with no saved
projection is 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict

from apportion.analyse import projections
from apportion.analyse.projections import Proposal
from apportion.api.auth import AnalystCaller
from apportion.api.exact import ExactJSONRoute
from apportion.api.v1 import PERIOD, NamePath, workspace_of

router = APIRouter(prefix="/api/v1", route_class=ExactJSONRoute)


class ProjectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proposal: Proposal
    save: bool = False


@router.post(
    "/projections",
    summary="Project a proposed workload's monthly cost and its optimisation scenarios; "
    "save: true keeps it (admin, analyst)",
    # the operationId clients know: FastAPI would otherwise derive it from the function name
    operation_id="project_api_v1_projections_post",
)
def create_projection(
    request: Request, caller: AnalystCaller, body: Annotated[ProjectionRequest, Body()]
) -> dict[str, Any]:
    workspace = workspace_of(request)
    projected = projections.project_in(workspace, body.proposal)
    found = projected.as_dict()
    if body.save:
        found["saved"] = projections.save(workspace, projected, caller.actor).as_dict()
    return found


@router.get("/projections", summary="The saved projections, oldest first (admin, analyst)")
def saved(request: Request, caller: AnalystCaller) -> list[dict[str, Any]]:
    return [projection.as_dict() for projection in projections.saved(workspace_of(request))]


@router.get(
    "/projections/{name}/compare",
    summary="A saved projection against the use case's actual cost and decisions in a period "
    "(admin, analyst)",
)
def compare(
    request: Request,
    name: NamePath,
    caller: AnalystCaller,
    period: Annotated[str, Query(pattern=PERIOD, description="Billing month, YYYY-MM.")],
) -> dict[str, Any]:
    try:
        found = projections.compare(workspace_of(request), name, period)
    except projections.ProjectionNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    return found.as_dict()
