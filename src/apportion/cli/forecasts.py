"""Forecast commands: submit forecasts and budgets, the statistical baseline, and the forecast
to actual report."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from apportion.cli.common import (
    FormatOption,
    OutputFormat,
    PeriodOption,
    emit,
    err,
    note,
    opened_workspace,
    out,
    print_table,
)

forecast_app = typer.Typer(
    help="Forecasts and budgets per cost centre and use case, and the statistical baseline.",
    no_args_is_help=True,
)

LINE_COLUMNS = (
    "cost_centre",
    "use_case",
    "currency",
    "owner",
    "forecast",
    "actual",
    "variance",
    "variance_percent",
    "direction",
    "bias",
    "late",
)
OWNER_COLUMNS = (
    "owner",
    "currency",
    "lines",
    "forecast",
    "actual",
    "variance",
    "variance_percent",
    "wape_percent",
    "mape_percent",
    "bias",
)


class Kind(StrEnum):
    forecast = "forecast"
    budget = "budget"
    baseline = "baseline"


def register(app: typer.Typer, report_app: typer.Typer) -> None:
    app.add_typer(forecast_app, name="forecast")
    report_app.command("forecast")(report_forecast)


@forecast_app.command("submit")
def submit(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: period, cost_centre, use_case, amount, currency; optionally owner and "
            "kind (forecast or budget)."
        ),
    ],
) -> None:
    """Submit forecasts or budgets; a bad row refuses the whole file, and a row submitted
    before replaces the earlier amount (the audit log keeps it)."""
    from apportion.analyse.forecasts import submit_file
    from apportion.control.audit import current_actor

    with opened_workspace() as workspace:
        done = submit_file(workspace, file, current_actor())
    out.print(
        f"{file}: {done.created} new, {done.replaced} replaced, {done.unchanged} unchanged "
        f"({', '.join(done.periods)})",
        markup=False,
        highlight=False,
    )


@forecast_app.command("baseline")
def baseline(
    period: PeriodOption,
    fmt: FormatOption = OutputFormat.table,
    save: Annotated[
        bool,
        typer.Option(help="Store it as kind baseline, for `report forecast --kind baseline`."),
    ] = False,
) -> None:
    """The statistical baseline of every cost centre and use case with history: Holt-Winters
    with seasonality from 24 periods, Holt's trend from 3, else the last actual."""
    from apportion.analyse.forecast_baseline import baseline as compute
    from apportion.analyse.forecast_baseline import save_baseline
    from apportion.control.audit import current_actor

    with opened_workspace() as workspace:
        if save:
            result, done = save_baseline(workspace, period, current_actor())
        else:
            result, done = compute(workspace, period), None
    payload = result.as_dict()
    rows = payload["baselines"]
    emit(fmt, f"Baseline {period}", payload, rows)
    if fmt is OutputFormat.table and result.history:
        out.print(f"history: {result.history[0]} to {result.history[-1]}", highlight=False)
    _notes(result.notes)
    if done is not None:
        err.print(
            f"saved: {done.created} new, {done.replaced} replaced, {done.unchanged} unchanged, "
            f"{done.removed} removed",
            markup=False,
        )


def report_forecast(
    period: PeriodOption,
    fmt: FormatOption = OutputFormat.table,
    kind: Annotated[Kind, typer.Option(help="Compare actuals with which plan.")] = Kind.forecast,
) -> None:
    """Forecast to actual: variance in money and percent per cost centre and use case,
    accuracy (WAPE, MAPE) per owner, and persistent over- or under-forecasting flagged."""
    from apportion.analyse.forecasts import forecast_report

    with opened_workspace() as workspace:
        report = forecast_report(workspace, period, kind.value)
    payload = report.as_dict()
    lines = _columns(payload["lines"], LINE_COLUMNS)
    emit(fmt, f"{kind.value.capitalize()} to actual {period}", payload, lines)
    if fmt is OutputFormat.table:
        print_table(f"Accuracy per owner {period}", _columns(payload["owners"], OWNER_COLUMNS))
        print_table(f"Accuracy per currency {period}", payload["totals"])
    _notes(report.notes)


def _columns(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{key: row[key] for key in columns} for row in rows]


def _notes(notes: list[str]) -> None:
    for remark in notes:
        note(remark)
