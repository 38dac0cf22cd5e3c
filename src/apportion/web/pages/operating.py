"""The operating cycle's reports as pages: forecast to actual (the caller's cost centres),
anomalies and maturity (admins and analysts). Each renders what its JSON twin returns."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from apportion.analyse.anomalies import anomalies
from apportion.analyse.forecasts import forecast_report
from apportion.analyse.maturity import maturity
from apportion.api import v1
from apportion.web.pages.common import PageCaller, StaffPageCaller, workspace_of
from apportion.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/periods/{period}/forecast", response_class=HTMLResponse)
def forecast_page(
    request: Request,
    period: v1.PeriodPath,
    caller: PageCaller,
    kind: Literal["forecast", "budget", "baseline"] = "forecast",
) -> Response:
    visible = None if caller.sees_everything() else caller.may_see
    found = forecast_report(workspace_of(request), period, kind, visible).as_dict()
    return render(
        request,
        "forecast.html",
        {"f": found, "period": period},
        caller=caller,
        twin=f"/api/v1/periods/{period}/forecast?kind={kind}",
    )


@router.get("/periods/{period}/anomalies", response_class=HTMLResponse)
def anomalies_page(request: Request, period: v1.PeriodPath, caller: StaffPageCaller) -> Response:
    found = anomalies(workspace_of(request), period).as_dict()
    return render(
        request,
        "anomalies.html",
        {"a": found, "period": period},
        caller=caller,
        twin=f"/api/v1/periods/{period}/anomalies",
    )


@router.get("/periods/{period}/maturity", response_class=HTMLResponse)
def maturity_page(request: Request, period: v1.PeriodPath, caller: StaffPageCaller) -> Response:
    found = maturity(workspace_of(request), period).as_dict()
    return render(
        request,
        "maturity.html",
        {"m": found, "period": period},
        caller=caller,
        twin=f"/api/v1/periods/{period}/maturity",
    )
