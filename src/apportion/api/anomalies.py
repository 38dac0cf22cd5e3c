"""Anomalies in daily cost over REST (admin, analyst): a period's days against their
adaptive baseline (apportion.analyse.anomalies)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from apportion.analyse.anomalies import anomalies
from apportion.api.auth import AnalystCaller
from apportion.api.exact import ExactJSONRoute
from apportion.api.v1 import PeriodPath, workspace_of

router = APIRouter(prefix="/api/v1", route_class=ExactJSONRoute)


@router.get(
    "/periods/{period}/anomalies",
    summary="Days whose cost per use case, category and provider left its baseline "
    "(admin, analyst)",
)
def period_anomalies(request: Request, period: PeriodPath, caller: AnalystCaller) -> dict[str, Any]:
    return anomalies(workspace_of(request), period).as_dict()
