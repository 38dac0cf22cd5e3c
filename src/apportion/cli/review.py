"""The monthly review: the report of what moved, owners' explanations, and the review of the
thresholds themselves."""

from __future__ import annotations

import json
from typing import Annotated, Any

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

thresholds_app = typer.Typer(
    help="Review thresholds: do they still fit normal operation?", no_args_is_help=True
)


def register(app: typer.Typer, report_app: typer.Typer) -> None:
    report_app.command("review")(review_report)
    app.command("explain")(explain)
    app.add_typer(thresholds_app, name="thresholds")
    thresholds_app.command("review")(thresholds_review)


def _say(text: str) -> None:
    err.print(text, markup=False, highlight=False)


def review_report(
    period: PeriodOption,
    cost_centre: Annotated[
        list[str] | None, typer.Option("--cost-centre", help="Only these cost centres.")
    ] = None,
    all_lines: Annotated[
        bool, typer.Option("--all", help="Also the lines within their threshold.")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The monthly cost review: per cost centre and use case, the change against the previous
    period, forecast and budget; which lines need an explanation, which have one, and by
    whom."""
    from apportion.analyse.review import monthly_review

    with opened_workspace() as workspace:
        found = monthly_review(workspace, period, cost_centre or None)
    payload = found.as_dict()
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(payload))
        return
    items = found.items if all_lines else found.flagged()
    rows = [_row(item.as_dict(), comparison) for item in items for comparison in item.comparisons]
    if fmt is OutputFormat.csv:
        write_csv(rows)
        return
    print_table(f"Monthly review {period} (against {found.previous})", rows)
    if not found.previous_allocated:
        note(f"{found.previous} has no statement: every line of {period} is new")
    _say(
        f"{payload['needs_explanation']} lines need an explanation: {payload['explained']} "
        f"explained, {payload['unexplained']} not yet"
    )


def _row(item: dict[str, Any], comparison: Any) -> dict[str, Any]:
    explanation = item["explanation"] or {}
    return {
        "cost_centre": item["cost_centre"],
        "use_case": item["use_case"],
        "category": item["category"],
        "currency": item["currency"],
        "actual": item["actual"],
        "against": comparison.against,
        "compared": f"{comparison.amount:f}",
        "change": f"{comparison.change:f}",
        "percent": comparison.shown_percent,
        "status": item["status"],
        "explanation": explanation.get("text"),
        "explained_by": explanation.get("explained_by"),
    }


def explain(
    period: PeriodOption,
    cost_centre: Annotated[str, typer.Option("--cost-centre", help="The line's cost centre.")],
    use_case: Annotated[str, typer.Option("--use-case", help="The line's use case.")],
    text: Annotated[str, typer.Option("--text", help="Why the line moved.")],
    category: Annotated[
        str | None,
        typer.Option(
            help="The line's category, or * for the use case's total (needed only "
            "when several of its lines moved)."
        ),
    ] = None,
    currency: Annotated[str | None, typer.Option(help="The line's currency, if several.")] = None,
) -> None:
    """Record why a line of the monthly review moved (the actor is $APPORTION_USER or the
    login)."""
    from apportion.analyse.review import Subject
    from apportion.analyse.review import explain as record
    from apportion.control.audit import current_actor

    with opened_workspace() as workspace:
        found = record(
            workspace,
            period,
            Subject(cost_centre, use_case, category, currency),
            text,
            current_actor(),
        )
    _say(
        f"explained {period} {found.payer} / {found.workload} / {found.category} "
        f"({found.currency}) as {current_actor()}"
    )


def thresholds_review(
    periods: Annotated[int, typer.Option(min=1, max=60, help="How many periods to look at.")] = 6,
    until: Annotated[
        str | None, typer.Option(help="The last period (default: the latest allocated).")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Propose review thresholds from how lines moved over the last periods, and list the
    configured ones that no longer fit (fired on most periods, or never)."""
    from apportion.analyse.thresholds import thresholds_review as compute

    with opened_workspace() as workspace:
        found = compute(workspace, until, periods)
    payload = found.as_dict()
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(payload))
        return
    rows = [_fit_row(fit) for fit in payload["categories"]]
    if fmt is OutputFormat.csv:
        write_csv(rows)
    else:
        print_table(f"Review thresholds over {', '.join(found.periods) or 'no periods'}", rows)
        for fit in found.misfits():
            _say(f"{fit.category}: the threshold for {fit.threshold.category} {fit.verdict}")
    for remark in found.notes:
        note(remark)


def _fit_row(fit: dict[str, Any]) -> dict[str, Any]:
    configured, proposed = fit["configured"], fit["proposed"] or {}
    return {
        "category": fit["category"],
        "currency": fit["currency"],
        "configured_for": fit["configured_for"],
        "absolute": configured["absolute"],
        "percent": configured["percent"],
        "lines": fit["lines"],
        "fired": fit["fired"],
        "periods_fired": fit["periods_fired"],
        "proposed_absolute": proposed.get("absolute"),
        "proposed_percent": proposed.get("percent"),
        "verdict": fit["verdict"],
    }
