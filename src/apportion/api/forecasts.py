"""Forecasts over the REST API: submit forecasts and budgets as JSON rows (admins and analysts
for any cost centre, a consumer for its own), the forecast to actual report (a consumer sees
its own cost centres only) and the statistical baseline (admins, analysts)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, Request
from pydantic import BaseModel, Field

from apportion.access import Caller
from apportion.analyse.forecast_baseline import baseline
from apportion.analyse.forecast_input import ForecastScopeError, parse_rows
from apportion.analyse.forecasts import forecast_report as report
from apportion.analyse.forecasts import submit
from apportion.api.auth import AnalystCaller, AnyCaller
from apportion.api.exact import ExactJSONRoute
from apportion.api.v1 import PeriodPath, workspace_of

router = APIRouter(prefix="/api/v1", route_class=ExactJSONRoute)


class ForecastIn(BaseModel):
    """One forecast or budget, as a row of a forecast file; the amount as exact decimal text
    (or a JSON number), at most the currency's minor unit."""

    period: str = Field(max_length=10)
    cost_centre: str = Field(max_length=200)
    use_case: str = Field(max_length=200)
    amount: Decimal | str
    currency: str = Field(max_length=3)
    owner: str | None = Field(default=None, max_length=200)
    kind: Literal["forecast", "budget"] = "forecast"


class ForecastUpload(BaseModel):
    source: str = Field(default="api", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    rows: list[ForecastIn] = Field(min_length=1, max_length=10_000)


@router.post(
    "/forecasts",
    summary="Submit forecasts or budgets (all rows or none); a consumer for its cost centres",
)
def forecasts_submit(
    request: Request, caller: AnyCaller, body: Annotated[ForecastUpload, Body()]
) -> dict[str, Any]:
    _refuse_other_owners(caller, body.rows)
    rows = parse_rows(
        (
            f"row {number}",
            {
                **row.model_dump(exclude={"amount"}),
                "amount": f"{row.amount:f}" if isinstance(row.amount, Decimal) else row.amount,
            },
        )
        for number, row in enumerate(body.rows, start=1)
    )
    try:
        done = submit(
            workspace_of(request),
            rows,
            source=body.source,
            actor=caller.actor,
            visible=caller.may_see,
        )
    except ForecastScopeError as exc:
        raise HTTPException(403, str(exc)) from None
    return done.as_dict()


def _refuse_other_owners(caller: Caller, rows: list[ForecastIn]) -> None:
    """A consumer forecasts for its own cost centres and under their names: an owner it does
    not hold would put its figures in another team's accuracy (403). No owner is the cost
    centre itself."""
    if caller.sees_everything():
        return
    for number, row in enumerate(rows, start=1):
        owner = (row.owner or "").strip()
        if not caller.may_see(row.cost_centre.strip()):
            continue  # refused by submit(), which names the cost centre
        if owner and not caller.may_see(owner):
            raise HTTPException(
                403, f"row {number}: owner {owner!r} is not one of your cost centres; leave it out"
            )


@router.get(
    "/periods/{period}/forecast",
    summary="Forecast to actual: variance, accuracy per owner, persistent bias",
)
def forecast_report(
    request: Request,
    period: PeriodPath,
    caller: AnyCaller,
    kind: Annotated[Literal["forecast", "budget", "baseline"], Query()] = "forecast",
) -> dict[str, Any]:
    visible = None if caller.sees_everything() else caller.may_see
    return report(workspace_of(request), period, kind, visible).as_dict()


@router.get(
    "/periods/{period}/forecast/baseline",
    summary="The statistical baseline forecast of each cost centre and use case (admin, analyst)",
)
def forecast_baseline(
    request: Request, period: PeriodPath, caller: AnalystCaller
) -> dict[str, Any]:
    return baseline(workspace_of(request), period).as_dict()
