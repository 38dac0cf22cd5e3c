"""Commitment commands: record and list vendor commitments, and report their utilisation,
coverage and burn-down for a period (apportion.analyse.commitments)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

import typer

from apportion.cli.common import (
    FormatOption,
    OutputFormat,
    PeriodOption,
    decimal_option,
    emit,
    note,
    opened_workspace,
    out,
    print_table,
)

commitment_app = typer.Typer(
    help="Vendor commitments: reserved capacity, committed use, prepaid credit, discounts.",
    no_args_is_help=True,
)

REPORT_COLUMNS = (
    "name",
    "kind",
    "currency",
    "amount",
    "start",
    "end",
    "status",
    "used",
    "idle",
    "utilisation",
    "coverage",
    "drawn",
    "drawn_to_date",
    "remaining",
    "projected",
    "projected_shortfall",
    "projected_overage",
)
LIST_COLUMNS = (
    "name",
    "kind",
    "provider",
    "amount",
    "currency",
    "start",
    "end",
    "commitment_id",
    "scope",
)


class Kind(StrEnum):
    """apportion.analyse.commitment_records.KINDS, spelled out so that the CLI starts without
    importing the engines."""

    reserved = "reserved"
    committed_use = "committed-use"
    prepaid_credit = "prepaid-credit"
    enterprise_discount = "enterprise-discount"


DAY = "%Y-%m-%d"


def register(app: typer.Typer, report_app: typer.Typer) -> None:
    app.add_typer(commitment_app, name="commitment")
    report_app.command("commitments")(report_commitments)


@commitment_app.command("add")
def commitment_add(
    name: Annotated[str, typer.Option(help="A name of your own, unique.")],
    kind: Annotated[Kind, typer.Option(help="What was committed.")],
    provider: Annotated[str, typer.Option(help="The vendor, as the bills name it.")],
    amount: Annotated[str, typer.Option(help="The committed amount over the whole term.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code of the amount.")],
    start: Annotated[datetime, typer.Option(formats=[DAY], help="First day of the term.")],
    end: Annotated[datetime, typer.Option(formats=[DAY], help="Last day of the term.")],
    scope: Annotated[
        str | None,
        typer.Option(
            help="Match expression selecting the cost lines it covers (default: the "
            "provider's lines)."
        ),
    ] = None,
    commitment_id: Annotated[
        str | None,
        typer.Option(help="The bills' CommitmentDiscountId, for Used/Unused rows."),
    ] = None,
) -> None:
    """Record a commitment (who acts is $APPORTION_USER, else the login name)."""
    from apportion.analyse.commitment_records import add_commitment
    from apportion.control.audit import current_actor

    value = decimal_option(amount.strip(), "--amount")
    with opened_workspace() as workspace:
        found = add_commitment(
            workspace,
            name=name,
            kind=kind.value,
            provider=provider,
            amount=value,
            currency=currency,
            start=_day(start),
            end=_day(end),
            actor=current_actor(),
            scope=scope,
            commitment_id=commitment_id,
        )
    out.print(
        f"commitment {found.name} recorded: {found.amount:f} {found.currency} with "
        f"{found.provider}, {found.start} to {found.end}",
        markup=False,
        highlight=False,
    )


@commitment_app.command("list")
def commitment_list(fmt: FormatOption = OutputFormat.table) -> None:
    """Every recorded commitment."""
    from apportion.analyse.commitment_records import commitments

    with opened_workspace() as workspace:
        found = [c.as_dict() for c in commitments(workspace)]
    rows = [{key: row[key] for key in LIST_COLUMNS} for row in found]
    emit(fmt, "Commitments", found, rows)


def report_commitments(period: PeriodOption, fmt: FormatOption = OutputFormat.table) -> None:
    """Per commitment: used, idle, utilisation, coverage, burn-down to date and the projected
    shortfall or overage at the term's end."""
    from apportion.analyse.commitments import commitment_report

    with opened_workspace() as workspace:
        report = commitment_report(workspace, period)
    payload = report.as_dict()
    rows = [{key: row[key] for key in REPORT_COLUMNS} for row in payload["commitments"]]
    emit(fmt, f"Commitments {payload['period']}", payload, rows)
    if fmt is OutputFormat.table:
        print_table(
            f"Unused commitment cost {payload['period']} ({payload['metric']})", payload["idle"]
        )
        out.print(
            f"portfolio: coverage {payload['coverage'] or '-'}, utilisation "
            f"{payload['utilisation'] or '-'}",
            markup=False,
            highlight=False,
        )
    for remark in report.notes:
        note(remark)


def _day(moment: datetime) -> date:
    return moment.date()
