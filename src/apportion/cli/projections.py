"""Projection for architecture review: ``apportion project FILE`` prices a proposed workload
month by month with the optimisation scenarios (``--save`` keeps it), ``apportion project
list`` shows the saved ones and ``apportion project compare NAME --period P`` sets one against
what the use case actually cost. ``run`` is the default command, so ``apportion project
proposal.yaml`` and ``apportion project run proposal.yaml`` are the same (a file named like a
command needs the second form)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from apportion.cli.common import (
    FormatOption,
    OutputFormat,
    PeriodOption,
    err,
    guard,
    note,
    opened_workspace,
    out,
    print_table,
    write_csv,
)

if TYPE_CHECKING:
    from apportion.analyse.projections import Comparison, Projected

DEFAULT = "run"
MONTH_COLUMNS = (
    "period",
    "decisions",
    "model_calls",
    "gpu",
    "storage",
    "fixed",
    "total",
    "saving",
    "cost_per_decision",
)


class _RunByDefault(TyperGroup):
    """A group whose first word, when it names no command, is the default command's."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [DEFAULT, *args]
        return super().parse_args(ctx, args)


project_app = typer.Typer(
    cls=_RunByDefault,
    help="Projected cost of a proposed workload, its optimisation scenarios, and later its "
    "actuals (apportion project FILE | list | compare).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(project_app, name="project")


@project_app.command(DEFAULT)
def run(
    file: Annotated[
        Path | None,
        typer.Argument(help="The proposal (YAML); or give the quick flags below instead."),
    ] = None,
    save: Annotated[bool, typer.Option(help="Keep it, to compare with actuals later.")] = False,
    fmt: FormatOption = OutputFormat.table,
    name: Annotated[str | None, typer.Option(help="The use case it will run as.")] = None,
    decisions: Annotated[str | None, typer.Option(help="Decisions in the first month.")] = None,
    start: Annotated[str | None, typer.Option(help="First month, YYYY-MM.")] = None,
    growth: Annotated[str | None, typer.Option(help="Percent per month, compounding.")] = None,
    horizon: Annotated[int | None, typer.Option(help="Months projected (default 12).")] = None,
    model: Annotated[
        str | None, typer.Option(help="Without a file: one model, as provider/model.")
    ] = None,
    input_tokens: Annotated[int | None, typer.Option(help="Input tokens per request.")] = None,
    output_tokens: Annotated[int | None, typer.Option(help="Output tokens per request.")] = None,
    cache_hit: Annotated[
        str | None, typer.Option(help="Percent of input tokens read from the prompt cache.")
    ] = None,
) -> None:
    """Price a proposed workload month by month (decisions, cost by part, total, cost per
    decision) with the prompt caching, response caching and routing scenarios. The flags
    override or complete the file's figures (the whole is checked once, after them); without
    a file they make a quick one-model proposal."""
    from apportion.analyse import projections
    from apportion.control.audit import current_actor

    overrides = {
        "name": name,
        "decisions": decisions,
        "start": start,
        "growth": growth,
        "horizon": horizon,
    }
    quick = {"input_tokens": input_tokens, "output_tokens": output_tokens, "cache_hit": cache_hit}
    with guard():
        raw, source = _proposal(file, model, quick)
        raw.update({key: value for key, value in overrides.items() if value is not None})
        proposal = projections.proposal_of(raw, source)
    with opened_workspace() as workspace:
        projected = projections.project_in(workspace, proposal)
        kept = projections.save(workspace, projected, current_actor()) if save else None
    _print_projection(projected, fmt)
    if kept is not None:
        err.print(f"saved as projection {kept.id} of {kept.name}", markup=False, highlight=False)


def _proposal(
    file: Path | None, model: str | None, quick: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """The proposal's raw fields, from the file or the quick flags, and what to call it: not
    checked yet, so that the flags can complete a file that lacks a figure."""
    from apportion.analyse.projections import ProjectionError, proposal_mapping

    given = {key: value for key, value in quick.items() if value is not None}
    if file is not None:
        if model is not None or given:
            raise typer.BadParameter(
                "the model flags make a proposal without a file; put the model in the file",
                param_hint="--model",
            )
        if not file.is_file():
            raise ProjectionError(f"{file} not found")
        return proposal_mapping(file.read_text(encoding="utf-8"), source=str(file)), str(file)
    raw: dict[str, Any] = {}
    if model is not None:
        provider, _, name = model.partition("/")
        if not provider or not name:
            raise typer.BadParameter("give the model as provider/model", param_hint="--model")
        raw["models"] = [{"provider": provider, "model": name, **given}]
    elif given:
        raise typer.BadParameter("name the model these figures are for", param_hint="--model")
    return raw, "the command line"


def _print_projection(projected: Projected, fmt: OutputFormat) -> None:
    payload = projected.as_dict()
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(payload))
        return
    rows = _month_rows(payload)
    if fmt is OutputFormat.csv:
        write_csv(rows)
        return
    currency = payload["currency"]
    baseline = [{k: v for k, v in row.items() if k not in ("scenario", "saving")} for row in rows]
    title = f"Projection {payload['name']} ({currency}), {payload['horizon']} months"
    print_table(title, baseline[: len(payload["months"])])
    out.print(
        f"total over the horizon: {payload['total']} {currency}", markup=False, highlight=False
    )
    print_table(f"Scenarios ({currency}, over the horizon)", _scenario_rows(payload))
    scenarios = [a for s in payload["scenarios"] for a in s["assumptions"]]
    for line in dict.fromkeys(payload["assumptions"] + scenarios):  # "all three" repeats them
        out.print(f"assumes: {line}", markup=False, highlight=False)
    for source in payload["price_sources"]:
        err.print(f"priced by {source}", markup=False, highlight=False)


def _month_rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per scenario and month, the proposal as given ("baseline") first."""
    found = [{"scenario": "baseline", **_columns(m)} for m in payload["months"]]
    for scenario in payload["scenarios"]:
        for month in scenario.get("months", []):
            found.append({"scenario": scenario["scenario"], **_columns(month)})
    return found


def _columns(month: dict[str, Any]) -> dict[str, Any]:
    return {key: month.get(key) for key in MONTH_COLUMNS}


def _scenario_rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for scenario in payload["scenarios"]:
        months = scenario.get("months") or [{}]
        rows.append(
            {
                "scenario": scenario["scenario"],
                "total": scenario.get("total"),
                "saving": scenario.get("saving"),
                "saving_percent": scenario.get("saving_percent"),
                "first_month_cost_per_decision": months[0].get("cost_per_decision"),
                "applies": "yes" if scenario["applies"] else f"no: {scenario['why_not']}",
            }
        )
    return rows


@project_app.command("list")
def list_projections(fmt: FormatOption = OutputFormat.table) -> None:
    """The saved projections, oldest first (compare uses a name's latest)."""
    from apportion.analyse.projections import saved

    with opened_workspace() as workspace:
        found = [projection.as_dict() for projection in saved(workspace)]
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(found))
    elif fmt is OutputFormat.csv:
        write_csv(found)
    else:
        print_table("Saved projections", found)


@project_app.command("compare")
def compare(
    name: Annotated[str, typer.Argument(help="The projection's name: the use case it runs as.")],
    period: PeriodOption,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """A saved projection against the use case's actual cost (its statement lines) and
    decisions (its business metrics) in a period: variance in money and percent, and cost per
    decision projected and actual."""
    from apportion.analyse.projections import compare as run_compare

    with opened_workspace() as workspace:
        found = run_compare(workspace, name, period)
    _print_comparison(found, fmt)


def _print_comparison(found: Comparison, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(found.as_dict()))
    elif fmt is OutputFormat.csv:
        write_csv(found.rows())
    else:
        payload = found.as_dict()
        title = (
            f"{found.name} {found.period} ({found.currency}): projection {found.projection_id} "
            "against actuals"
        )
        print_table(title, found.rows())
        categories = [
            {"category": k, "actual": v} for k, v in payload["actual_by_category"].items()
        ]
        if categories:
            print_table("Actual cost by category", categories)
    for remark in found.notes:
        note(remark)
