"""Analysis commands: unit economics (cost per decision beside value, the portfolio view) and
maturity (crawl, walk or run, and the next step)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from apportion.cli.common import (
    FormatOption,
    OutputFormat,
    PeriodOption,
    err,
    note,
    opened_workspace,
    out,
    print_table,
    write_csv,
)

COLUMNS = (
    "use_case",
    "currency",
    "cost",
    "decisions",
    "cost_per_decision",
    "value_per_decision",
    "margin",
    "value_to_cost",
    "cost_per_user",
    "feature_price",
    "verdict",
)


def register(report_app: typer.Typer) -> None:
    report_app.command("unit-economics")(unit_economics)
    report_app.command("maturity")(maturity)


def unit_economics(
    period: PeriodOption,
    fmt: FormatOption = OutputFormat.table,
    chart: Annotated[
        Path | None, typer.Option(help="Also draw the portfolio (SVG, log axes) to this file.")
    ] = None,
) -> None:
    """Fully loaded cost per decision per use case, beside its value, and where each sits in
    the portfolio (total cost against cost per decision)."""
    from apportion.analyse.unit_economics import unit_economics as compute

    with opened_workspace() as workspace:
        portfolio = compute(workspace, period)
    payload = portfolio.as_dict()
    rows = [{key: row[key] for key in COLUMNS} for row in payload["use_cases"]]
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(payload))
    elif fmt is OutputFormat.csv:
        write_csv(rows)
    else:
        print_table(f"Unit economics {period}", rows)
        for currency, limits in payload["thresholds"].items():
            out.print(
                f"{currency}: high total above {limits['high_total']}, high cost per decision "
                f"above {limits['high_cost_per_decision']}",
                markup=False,
                highlight=False,
            )
    for remark in portfolio.notes:
        note(remark)
    if chart is not None:
        from apportion.charts import portfolio as draw

        title = f"Portfolio {period}: total cost against cost per decision"
        chart.write_text(str(draw(title, portfolio.points())), encoding="utf-8")
        err.print(f"wrote the portfolio chart to {chart}", markup=False)


def maturity(period: PeriodOption, fmt: FormatOption = OutputFormat.table) -> None:
    """Crawl, walk or run: the share of cost allocated (and by which method), tag coverage,
    forecast variance, commitment utilisation and chargeback, each placed on its scale; the
    organisation is as mature as its weakest practice, and the next step is named."""
    from apportion.analyse.maturity import maturity as compute

    with opened_workspace() as workspace:
        found = compute(workspace, period)
    payload = found.as_dict()
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(payload))
        return
    rows = [
        {
            "practice": p["practice"],
            "figure": p["figure"],
            "stage": p["stage"],
            "crawl": p["scale"]["crawl"],
            "walk": p["scale"]["walk"],
            "run": p["scale"]["run"],
            "next_step": p["next_step"],
        }
        for p in payload["practices"]
    ]
    if fmt is OutputFormat.csv:
        write_csv(rows)
        return
    print_table(f"Maturity {period} ({payload['metric']})", rows)
    weakest = f" (weakest: {payload['weakest']})" if payload["weakest"] else ""
    out.print(f"stage: {payload['stage']}{weakest}", markup=False, highlight=False)
    if payload["next_step"]:
        out.print(f"next step: {payload['next_step']}", markup=False, highlight=False)
