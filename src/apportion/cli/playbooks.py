"""Optimisation playbooks: where caching, routing and trimmed context would save money."""

from __future__ import annotations

from typing import Any

import typer

from apportion.cli.common import (
    FormatOption,
    OutputFormat,
    PeriodOption,
    emit,
    note,
    opened_workspace,
)


def register(report_app: typer.Typer) -> None:
    report_app.command("playbooks")(report_playbooks)


def report_playbooks(period: PeriodOption, fmt: FormatOption = OutputFormat.table) -> None:
    """Prompt caching, response caching, routing to smaller models and retrieval
    optimisation: per use case and model, the evidence and the estimated monthly saving,
    priced as the bills are reconciled."""
    from apportion.analyse.playbooks import playbooks

    with opened_workspace() as workspace:
        report = playbooks(workspace, period)
    payload = report.as_dict()
    rows = [_row(finding) for finding in payload["findings"]]
    emit(fmt, f"Optimisation playbooks {period} ({payload['currency']})", payload, rows)
    if fmt is OutputFormat.json:
        return
    for line in payload["not_checked"]:
        note(line, "not checked")
    for remark in payload["notes"]:
        note(remark)


def _row(finding: dict[str, Any]) -> dict[str, Any]:
    """One flat row: the finding, its evidence as key=value pairs, how it was sized."""
    evidence = "; ".join(f"{key}={value}" for key, value in finding["evidence"].items())
    return {
        "playbook": finding["playbook"],
        "use_case": finding["use_case"],
        "provider": finding["provider"],
        "model": finding["model"],
        "currency": finding["currency"],
        "monthly_saving": finding["monthly_saving"],
        "evidence": evidence,
        "method": finding["method"],
    }
