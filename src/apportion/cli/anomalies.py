"""``apportion report anomalies``: the period's days whose cost left its adaptive baseline."""

from __future__ import annotations

import json
from typing import Any

import typer

from apportion.cli.common import (
    FormatOption,
    OutputFormat,
    PeriodOption,
    note,
    opened_workspace,
    out,
    print_table,
    write_csv,
)

COLUMNS = (
    "use_case",
    "category",
    "provider",
    "currency",
    "direction",
    "start",
    "end",
    "days",
    "cost",
    "baseline",
    "size",
)


def register(report_app: typer.Typer) -> None:
    report_app.command("anomalies")(report_anomalies)


def report_anomalies(period: PeriodOption, fmt: FormatOption = OutputFormat.table) -> None:
    """Daily cost per use case, category and provider against a baseline that adapts (weekday
    factors, rolling median and MAD): each anomaly's dates, size in money and bill lines."""
    from apportion.analyse.anomalies import anomalies

    with opened_workspace() as workspace:
        report = anomalies(workspace, period)
    payload = report.as_dict()
    rows = [_row(found) for found in payload["anomalies"]]
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(payload))
    elif fmt is OutputFormat.csv:
        write_csv(rows)
    else:
        _print_tables(payload, rows)
    for remark in report.notes:
        note(remark)


def _row(found: dict[str, Any]) -> dict[str, Any]:
    lines = found["lines"]
    return {
        **{key: found[key] for key in COLUMNS},
        "top_line": lines[0]["line_id"] if lines else None,
    }


def _print_tables(payload: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    first, last = payload["first_day"], payload["last_day"]
    days = f"{first} to {last}" if first else "no day"
    print_table(f"Anomalies {payload['period']} ({payload['metric']}, {days})", rows)
    for found in payload["anomalies"]:
        if found["lines"]:
            title = (
                f"Bill lines behind the {found['direction']} of {found['use_case']} / "
                f"{found['category']} / {found['provider']} from {found['start']}"
            )
            print_table(title, found["lines"])
    out.print(
        f"{payload['series_checked']} series checked, {len(payload['not_checked'])} with days "
        "not checked",
        markup=False,
        highlight=False,
    )
    unchecked = [
        {k: u[k] for k in ("use_case", "category", "provider", "currency", "reason")}
        for u in payload["not_checked"]
    ]
    if unchecked:
        print_table("Not checked", unchecked)
