"""The command line: a thin Typer app over the Python API.

Exit codes: 0 ok, 1 the work failed (e.g. a run that does not balance), 2 bad usage or input.
Reports go to stdout (``--format table|json|csv``); progress and messages go to stderr.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from apportion import __version__
from apportion.cli import access as access_commands
from apportion.cli import analyse as analyse_commands
from apportion.cli import anomalies as anomaly_commands
from apportion.cli import commitments as commitment_commands
from apportion.cli import forecasts as forecast_commands
from apportion.cli import ledger as ledger_commands
from apportion.cli import playbooks as playbook_commands
from apportion.cli import projections as projection_commands
from apportion.cli import quarantine as quarantine_commands
from apportion.cli import review as review_commands
from apportion.cli import trace as trace_commands
from apportion.cli.common import (
    CheckFormat,
    ConfigOption,
    FormatOption,
    OutputFormat,
    PeriodOption,
    TableOrJson,
    decimal_option,
    err,
    guard,
    opened_workspace,
    out,
    plain_text,
    print_report,
    print_table,
    progress,
    state,
    write_csv,
)
from apportion.ingest import registry as ingest_registry
from apportion.money import plain, to_minor
from apportion.schema import columns as col
from apportion.workspace import Workspace, default_root

if TYPE_CHECKING:
    from apportion.ingest.load import IngestResult
    from apportion.tags import TagPolicy

app = typer.Typer(
    name="apportion",
    help="Allocate AI spend to the use cases and cost centres that caused it, to the cent.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
report_app = typer.Typer(help="Reports over a period's published allocation.", no_args_is_help=True)
export_app = typer.Typer(help="Write allocated cost in open formats.", no_args_is_help=True)
tags_app = typer.Typer(help="Tag policy: enforcement at provisioning time.", no_args_is_help=True)
app.add_typer(report_app, name="report")
app.add_typer(export_app, name="export")
app.add_typer(tags_app, name="tags")
ledger_commands.register(app)
access_commands.register(app)
analyse_commands.register(report_app)
anomaly_commands.register(report_app)
commitment_commands.register(app, report_app)
forecast_commands.register(app, report_app)
playbook_commands.register(report_app)
projection_commands.register(app)
quarantine_commands.register(app)
trace_commands.register(app)
review_commands.register(app, report_app)


# every --format value, from the format registry (light: no engine is imported for it)
IngestFormat = StrEnum(  # type: ignore[misc]  # members from the registry, not spelled out
    "IngestFormat", [(name.replace("-", "_"), name) for name in ingest_registry.FORMATS]
)
_AUTO_FORMAT = IngestFormat(ingest_registry.AUTO)


def _version(value: bool) -> None:
    if value:
        out.print(f"apportion {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Workspace folder (env APPORTION_WORKSPACE; default: current directory).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    state.root = workspace if workspace is not None else default_root()


@app.command()
def init(
    directory: Annotated[Path | None, typer.Argument(help="Folder to create.")] = None,
) -> None:
    """Create a workspace: a commented apportion.yaml, the DuckDB and SQLite stores, raw/."""
    root = directory or state.root
    with guard():
        Workspace.create(root).close()
    err.print(f"created workspace in {root}")


@app.command()
def ingest(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="FOCUS cost files, driver files, provider cost and usage reports, or native "
            "cloud exports."
        ),
    ],
    fmt: Annotated[IngestFormat, typer.Option("--format", help="File kind.")] = _AUTO_FORMAT,
    source: Annotated[
        str | None,
        typer.Option(
            help="Source name; a newer file for the same source and month replaces it "
            "(default: the file name without extension)."
        ),
    ] = None,
    also: Annotated[
        bool,
        typer.Option(
            "--also",
            help="The bill is separate from another source's bill for the same provider, "
            "billing account and month (not a restatement of it): load both.",
        ),
    ] = False,
) -> None:
    """Load bills and metering; bad rows are quarantined, a bad file changes nothing."""
    from apportion.ingest.load import ingest_files

    with opened_workspace() as workspace:
        with progress("ingesting") as say:
            results = ingest_files(
                workspace,
                files,
                fmt=ingest_registry.format_named(fmt.value),
                source=source,
                also=also,
                progress=say,
            )
        _print_loaded(workspace, results)


def _print_loaded(workspace: Workspace, results: Sequence[IngestResult]) -> None:
    """A line per file: what became of it, its rows, the money its refused rows hold back,
    notes, and a restatement's differences."""
    from apportion.ingest.quarantine import money_at_stake, money_line, quarantined

    for result in results:
        periods = ", ".join(result.periods) or "no period"
        line = (
            f"{result.file}: {result.status} as {result.kind} (source {result.source}), "
            f"{result.rows} rows, {result.quarantined} quarantined, {periods}"
        )
        out.print(line, highlight=False)
        if result.quarantined:
            refused = quarantined(workspace.data, source=result.source, file=result.file_hash)
            held = money_line(money_at_stake(refused)) or "no readable amount"
            out.print(
                f"  quarantined rows hold back {held} "
                f"(apportion quarantine show {result.file_hash[:12]})",
                highlight=False,
                markup=False,
            )
        for note in result.notes:
            out.print(f"  note: {note}", highlight=False)
        for diff in result.differences:
            out.print(
                f"  {diff.period} {diff.currency} {diff.metric}: {diff.before} -> {diff.after} "
                f"({diff.change:+})",
                highlight=False,
            )


@app.command()
def allocate(period: PeriodOption) -> None:
    """Run the allocation rules for a period; publish only if it balances exactly."""
    from apportion.allocate import Period
    from apportion.ledger.allocation import allocate_period

    with opened_workspace() as workspace:
        Period.parse(period)
        with progress(f"allocating {period}") as say:
            result = allocate_period(workspace, period, progress=say)
    if not result.published:
        err.print(f"[bold red]not published:[/] {escape(str(result.message))}", highlight=False)
        raise typer.Exit(1)
    out.print(
        f"period {result.period}: run {result.run_id} published, {result.pools} pools, "
        f"{result.allocations} allocations, {result.generations} generation(s)",
        highlight=False,
    )
    for dimension, written, folded in result.folded:
        out.print(
            f"  note: driver value {dimension}={written!r} read as {folded!r}, as tags are",
            highlight=False,
            markup=False,
        )
    for note in result.notes:
        out.print(f"  note: {note}", highlight=False, markup=False)


@report_app.command("totals")
def report_totals(period: PeriodOption, fmt: FormatOption = OutputFormat.table) -> None:
    """Ingested, allocated by method, unallocated and quarantined; whether it balances."""
    from apportion.allocate import Period
    from apportion.ingest.quarantine import money_line
    from apportion.report import totals

    with opened_workspace() as workspace:
        result = totals(workspace, Period.parse(period))
    rows = [_totals_row(metric.as_dict()) for metric in result.metrics]
    for row in rows:  # refused rows' money of the metric, in no other column of the row
        held = result.quarantined_money.get(row["currency"], {}).get(row["metric"])
        row["quarantined"] = plain(held) if held is not None else "0"
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(result.as_dict()))
    elif fmt is OutputFormat.csv:
        write_csv(rows)
    else:
        # the table keeps to one line per metric, as the statements state it; the breakdowns
        # follow it as text
        narrow = [{k: v for k, v in row.items() if not k.startswith("exact_")} for row in rows]
        print_table(f"Totals {result.period} (run {result.run_id})", narrow)
        quarantined = ", ".join(f"{n} {k} rows" for k, n in result.quarantined_rows.items())
        at_stake = money_line(result.quarantined_money)
        quarantined += f" holding back {at_stake}" if at_stake else ""
        out.print(f"quarantined: {quarantined or 'none'}", highlight=False, markup=False)
        metric = result.metric
        for currency, by_metric in result.unallocated_by_reason.items():
            for reason, amount in by_metric[metric].items():
                out.print(
                    f"unallocated {currency} {metric}, {reason}: {plain_text(str(amount))}",
                    highlight=False,
                )
        for currency, by_metric in result.unallocated_by_dimension.items():
            found = ", ".join(f"{d} {plain(v)}" for d, v in by_metric[metric].items())
            out.print(f"{currency} {metric} with no value for: {found}", highlight=False)
        for totals_of in (m for m in result.metrics if m.metric == metric):
            currency = totals_of.currency
            # a method that split cost a later rule split again moved more than it placed
            found = ", ".join(
                f"{k} {to_minor(v, currency)} (placed {totals_of.stated['allocated'].get(k)})"
                for k, v in totals_of.moved.items()
                if v != totals_of.allocated.get(k)
            )
            if found:
                out.print(
                    f"moved by each method ({currency} {metric}; cost split again counts under "
                    f"every rule it passed through): {found}",
                    highlight=False,
                )
            found = ", ".join(
                f"{k} {to_minor(v, currency)}" for k, v in totals_of.direct_by_source.items()
            )
            out.print(f"direct {currency} {metric} by owner source: {found}", highlight=False)
        out.print("balanced" if result.balanced else "[bold red]NOT balanced[/]")
    if not result.balanced:
        raise typer.Exit(1)


@report_app.command("statements")
def report_statements(
    period: PeriodOption,
    by: Annotated[
        str,
        typer.Option(
            help="Comma-separated dimensions, and/or category, method, rule, provider, "
            "service, service_category, sub_account, billing_account, region, "
            "charge_category, resource, unallocated_reason."
        ),
    ] = "cost_centre,use_case",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Allocated cost by any grouping: the same rounded lines added up, so every grouping
    and every other view gives the same figures, and by provider and service the bill's."""
    from apportion.allocate import Period
    from apportion.report import statements

    groups = [name.strip() for name in by.split(",") if name.strip()]
    with opened_workspace() as workspace:
        lines, totals = statements(workspace, Period.parse(period), groups)
    rows = [line.as_dict() for line in lines]
    if fmt is OutputFormat.json:
        payload = {
            "period": period,
            "by": groups,
            "lines": rows,
            "totals": [total.as_dict() for total in totals],
        }
        out.print_json(json.dumps(payload))
    elif fmt is OutputFormat.csv:
        write_csv(rows)
    else:
        print_table(f"Statement {period}", rows + [total.as_dict() for total in totals])


@report_app.command("quantities")
def report_quantities(
    period: PeriodOption,
    by: Annotated[str, typer.Option(help="The dimension to sum each quantity by.")] = "use_case",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Quantities that are not money (energy, emissions, GPU time), split by their own keys,
    in their own units: each one's amount per value of a dimension."""
    from apportion.allocate import Period
    from apportion.report.quantities import quantity_lines

    with opened_workspace() as workspace:
        lines = quantity_lines(workspace, Period.parse(period), by)
    rows = [line.as_dict(by) for line in lines]
    if fmt is OutputFormat.json:
        out.print_json(json.dumps({"period": period, "by": by, "lines": rows}))
    elif fmt is OutputFormat.csv:
        write_csv(rows)
    else:
        print_table(f"Quantities {period} by {by}", rows)


@export_app.command("focus")
def export_focus_command(
    period: PeriodOption,
    out_file: Annotated[Path, typer.Option("--out", "-o", help="FILE.csv or FILE.parquet")],
) -> None:
    """FOCUS 1.3 split cost allocation: one row per bill line and allocation it reached, with
    the line's FOCUS 1.2 columns, its share of the cost and the Allocated* columns."""
    from apportion.allocate import Period
    from apportion.export import export_focus

    with opened_workspace() as workspace, progress(f"exporting {period}") as say:
        count = export_focus(workspace, Period.parse(period), out_file, progress=say)
    err.print(f"wrote {count:,} rows to {out_file}")


@tags_app.command("check")
def tags_check(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Terraform plan JSON (terraform show -json), Kubernetes manifests, "
            "CloudFormation templates or a JSON list of resources with tags."
        ),
    ],
    config: ConfigOption = None,
    fmt: TableOrJson = CheckFormat.table,
) -> None:
    """Exit 0 if every taggable resource satisfies the tag policy, 1 if any does not."""
    from apportion.tags import check_files

    with guard():
        result = check_files(files, _tag_policy(config))
    if fmt is CheckFormat.json:
        out.print_json(json.dumps(result.as_dict()))
    else:
        rows = [
            {
                "address": f.resource.address,
                "type": f.resource.kind,
                "problems": "; ".join(v.describe() for v in f.reading.violations),
                "file": f.resource.file,
            }
            for f in result.failed
        ]
        if rows:
            print_table("Resources that break the tag policy", rows)
        for note in result.notes():
            err.print(f"note: {note}", highlight=False)
        checked, failed = len(result.verdicts), len(result.failed)
        verdict = "all pass" if not failed else f"{failed} fail"
        out.print(f"{checked} taggable resources checked: {verdict}", highlight=False)
    if not result.passed:
        raise typer.Exit(1)


def _tag_policy(config: Path | None) -> TagPolicy:
    from apportion.config import load_config, parse_config
    from apportion.config.loader import CONFIG_FILE
    from apportion.tags import load_policy

    if config is not None:
        if not config.is_file():
            raise typer.BadParameter(f"{config} not found", param_hint="--config")
        text = config.read_text(encoding="utf-8")
        return load_policy(parse_config(text, source=str(config)), config.parent)
    if (state.root / CONFIG_FILE).is_file():
        return load_policy(load_config(state.root), state.root)
    err.print(f"no {CONFIG_FILE} in {state.root}: the built-in tag policy applies")
    return load_policy(parse_config(""), state.root)


@tags_app.command("coverage")
def tags_coverage(
    period: PeriodOption,
    fmt: TableOrJson = CheckFormat.table,
    metric: Annotated[
        str, typer.Option(help="Cost metric the tables show (JSON has all four).")
    ] = col.BILLED_COST,
    months: Annotated[int, typer.Option(min=1, help="Months in the trend, this one last.")] = 6,
    top: Annotated[int, typer.Option(min=1, help="Resources in the costliest list.")] = 10,
) -> None:
    """Share of cost with each required dimension present and valid; gaps; the trend."""
    from apportion.allocate import Period
    from apportion.schema.focus import COST_METRICS
    from apportion.tags.coverage import coverage_tables, tag_coverage

    if metric not in COST_METRICS:
        raise typer.BadParameter(f"one of {', '.join(COST_METRICS)}", param_hint="--metric")
    with opened_workspace() as workspace:
        result = tag_coverage(workspace, Period.parse(period), months=months, top=top)
    if fmt is CheckFormat.table and not result.overall:
        out.print(f"no cost lines in {period}")
        return
    notes = [f"tag key {key!r} read as {d}" for key, d in sorted(result.keys.items())]
    print_report(fmt, result.as_dict(), lambda: coverage_tables(result, metric), notes)


@tags_app.command("audit")
def tags_audit(
    period: PeriodOption,
    fmt: TableOrJson = CheckFormat.table,
    months: Annotated[
        int, typer.Option(min=2, help="Months looked back at for values seen before.")
    ] = 6,
    top: Annotated[int, typer.Option(min=1, help="Findings of each kind, largest first.")] = 20,
    metering: Annotated[
        str,
        typer.Option(help="Share (0 to 1) of a resource's billed use its meters must cover."),
    ] = "0.8",
) -> None:
    """New tag values, tags changed within the month, keys shared by use cases, cost that
    moved from tagged to untagged, and shared resources metered for too little."""
    from apportion.allocate import Period
    from apportion.tags.audit import audit_rows, tag_audit

    coverage = decimal_option(metering, "--metering")
    if coverage > 1:
        raise typer.BadParameter("give a share from 0 to 1", param_hint="--metering")
    with opened_workspace() as workspace:
        result = tag_audit(
            workspace, Period.parse(period), months=months, top=top, metering=coverage
        )
    print_report(fmt, result.as_dict(), lambda: audit_rows(result), result.notes)


class PullProvider(StrEnum):
    openai = "openai"
    anthropic = "anthropic"
    litellm = "litellm"


@app.command()
def pull(
    provider: Annotated[
        PullProvider, typer.Argument(help="Whose admin API, or a LiteLLM proxy's database.")
    ],
    since: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="Read from the first of this month.")
    ],
    until: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Read up to this day, included (default: now)."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            help="litellm: the proxy's database URL (default: $APPORTION_LITELLM_DATABASE_URL, "
            "which keeps a password out of shell history)."
        ),
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(help="litellm: the spend logs table, or schema.table (LiteLLM_SpendLogs)."),
    ] = None,
) -> None:
    """Read the cost and usage reports from a provider's admin API (key from
    OPENAI_ADMIN_KEY or ANTHROPIC_ADMIN_KEY), or a LiteLLM proxy's spend logs from its database
    (never the prompts or responses), keep them under pulled/, ingest them."""
    from apportion.pull import pull as run
    from apportion.pull import pull_litellm

    if provider is not PullProvider.litellm and (url or table):
        raise typer.BadParameter("only `pull litellm` reads a database", param_hint="--url/--table")
    first, last = since.date(), until.date() if until else None
    with opened_workspace() as workspace:
        with progress(f"pulling {provider.value}") as say:
            if provider is PullProvider.litellm:
                results = pull_litellm(workspace, first, last, url=url, table=table, say=say)
            else:
                results = run(workspace, provider.value, first, last, say=say)
        _print_loaded(workspace, results)


class Grain(StrEnum):
    day = "day"
    month = "month"


class UsageOrigin(StrEnum):
    auto = "auto"
    provider = "provider"
    gateway = "gateway"
    telemetry = "telemetry"


@app.command()
def reconcile(
    period: PeriodOption,
    fmt: TableOrJson = CheckFormat.table,
    tolerance: Annotated[
        str, typer.Option(help="Percent of the invoiced cost a gap may be without failing.")
    ] = "1",
    minimum: Annotated[
        str, typer.Option(help="A gap this small (in the currency) never fails.")
    ] = "0.01",
    by: Annotated[Grain, typer.Option(help="Compare per day or per month.")] = Grain.day,
    usage: Annotated[
        UsageOrigin,
        typer.Option(
            help="Whose usage to compare: the provider's usage report, a gateway's (LiteLLM) "
            "or telemetry (OpenTelemetry); auto takes the first of these a provider has."
        ),
    ] = UsageOrigin.auto,
) -> None:
    """Usage (provider usage reports, gateway logs or telemetry) against invoiced cost, per
    provider, account and day; exit 1 when a gap is outside the tolerance or usage has no
    price."""
    from apportion.allocate import Period
    from apportion.ingest.quarantine import money_line
    from apportion.pricing.reconcile import reconcile as run
    from apportion.pricing.reconcile import reconciliation_rows

    with opened_workspace() as workspace:
        result = run(
            workspace,
            Period.parse(period),
            tolerance_percent=decimal_option(tolerance, "--tolerance"),
            minimum=decimal_option(minimum, "--minimum"),
            grain=by.value,
            usage=usage.value,
        )
    notes = [f"priced by {source}" for source in result.sources]
    notes += [
        f"{provider}: compared with {origin} usage"
        + ("" if origin == "provider" else ", by provider (a gateway knows no account)")
        for provider, origin in sorted(result.origins.items())
    ]
    if result.quarantined_cost_rows:
        notes.append(
            f"{result.quarantined_cost_rows} quarantined cost rows of {period} holding back "
            f"{money_line(result.quarantined_money) or 'no readable amount'} are in no "
            "invoiced figure (apportion quarantine list shows them)"
        )
    if result.other_currency_lines:
        notes.append(
            f"{result.other_currency_lines} AI cost lines of {period} are billed in another "
            "currency than USD, which prices are in: they are in no invoiced figure"
        )
    print_report(fmt, result.as_dict(), lambda: reconciliation_rows(result), notes)
    if fmt is CheckFormat.table:
        gaps = len(result.outside)
        out.print(
            "reconciles"
            if result.reconciles
            else f"[bold red]does not reconcile[/]: {gaps} "
            f"gaps outside the tolerance, {len(result.unpriced)} usage groups without a price"
        )
    if not result.reconciles:
        raise typer.Exit(1)


@app.command()
def admission(
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8443,
    tls_cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
) -> None:
    """Serve the tag check as a Kubernetes validating admission webhook (POST /validate)."""
    import uvicorn

    from apportion.api.admission import admission_app

    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("give both --tls-cert and --tls-key, or neither")
    with guard():
        policy = _tag_policy(config)
    if tls_cert is None:
        err.print(
            "serving plain HTTP: the Kubernetes API server calls webhooks over HTTPS only, "
            "so put TLS in front of this or pass --tls-cert and --tls-key"
        )
    uvicorn.run(
        admission_app(policy),
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to build the demo.")] = Path(
        "demo-workspace"
    ),
    period: Annotated[
        str, typer.Option(help="The demo month (the month before it is synthesised too).")
    ] = "2026-10",
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same organisation.")] = 7,
    driver_rows: Annotated[
        int, typer.Option(help="Driver rows of the demo month (a quarter of it the month before).")
    ] = 1_200_000,
    serve: Annotated[
        bool, typer.Option(help="Serve the web UI afterwards, with sign-in tokens printed.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """Run two months of a realistic synthetic organisation's operating cycle (ingest,
    allocate, review, forecast, anomalies, commitments, close) and print the summary."""
    from apportion.demo import run_demo

    state.root = directory  # the reports below read the demo workspace
    with guard(), progress("demo") as say:
        summary = run_demo(
            directory, period=period, seed=seed, driver_rows=driver_rows, progress=say
        )
    for line in summary:
        out.print(line, highlight=False)
    report_statements(period=period, by="cost_centre", fmt=OutputFormat.table)
    report_statements(period=period, by="category", fmt=OutputFormat.table)
    report_totals(period=period, fmt=OutputFormat.table)
    if serve:
        from apportion.cli.access import serve_demo

        serve_demo(directory, port)


def _totals_row(metric: dict[str, Any]) -> dict[str, Any]:
    """One flat row: ingested, each method, unallocated as the statements state them (sums
    of rounded lines), the exact amounts beside, and whether it balances."""
    stated = metric["stated"]
    return {
        "currency": metric["currency"],
        "metric": metric["metric"],
        "ingested": stated["ingested"],
        **dict(stated["allocated"].items()),
        "unallocated": stated["unallocated"],
        "exact_ingested": plain_text(metric["ingested"]),
        **{f"exact_{k}": plain_text(v) for k, v in metric["allocated"].items()},
        "exact_unallocated": plain_text(metric["unallocated"]),
        **{f"exact_direct_{k}": plain_text(v) for k, v in metric["direct_by_source"].items()},
        "balanced": metric["balanced"],
    }


def main() -> None:
    app()
