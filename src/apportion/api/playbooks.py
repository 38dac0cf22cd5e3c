"""The optimisation playbooks over REST: the JSON of ``apportion report playbooks``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from apportion.analyse.playbooks import playbooks
from apportion.api.auth import AnalystCaller
from apportion.api.exact import ExactJSONRoute
from apportion.api.v1 import PeriodPath, workspace_of

router = APIRouter(prefix="/api/v1", route_class=ExactJSONRoute)


@router.get(
    "/periods/{period}/playbooks",
    summary="Prompt caching, response caching, routing and retrieval savings, with their "
    "evidence (admin, analyst)",
)
def period_playbooks(request: Request, period: PeriodPath, caller: AnalystCaller) -> dict[str, Any]:
    return playbooks(workspace_of(request), period).as_dict()
