"""``apportion quarantine list|show``: the rows ingest refused, why, and the money they hold
back per cost metric and currency."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from apportion.cli.common import (
    FormatOption,
    OutputFormat,
    emit,
    err,
    note,
    opened_workspace,
    plain_text,
)
from apportion.schema import columns as col

quarantine_app = typer.Typer(
    help="Rows ingest refused: file, line, column, reason and the money at stake.",
    no_args_is_help=True,
)

PeriodFilter = Annotated[
    str | None,
    typer.Option(
        "--period",
        "-p",
        help="Billing month, YYYY-MM (rows whose month could not be read are kept too).",
    ),
]
SourceFilter = Annotated[str | None, typer.Option("--source", help="Only this source.")]


def register(app: typer.Typer) -> None:
    app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("list")
def quarantine_list(
    period: PeriodFilter = None,
    source: SourceFilter = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Per file: the refused rows and the money they hold back, per currency and metric."""
    from apportion.ingest.quarantine import (
        by_file,
        money_at_stake,
        money_line,
        money_texts,
        quarantined,
    )

    with opened_workspace() as workspace:
        _check_period(period)
        rows = quarantined(workspace.data, period=period, source=source)
    files = [found.as_dict() for found in by_file(rows)]
    money = money_at_stake(rows)
    payload = {"period": period, "source": source, "files": files, "money": money_texts(money)}
    table = [_file_row(found, c, m) for found in files for c, m in _money_keys(found)]
    emit(fmt, "Quarantined rows", payload, table)
    if fmt is OutputFormat.table and rows:
        note(f"{len(rows)} rows holding back {money_line(money) or 'no readable amount'}")


@quarantine_app.command("show")
def quarantine_show(
    file: Annotated[
        str, typer.Argument(help="A file name as ingested, or a prefix of its content hash.")
    ],
    period: PeriodFilter = None,
    source: SourceFilter = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Each refused row of a file: its line, the column and reason, and its cost cells."""
    from apportion.ingest.quarantine import quarantined

    with opened_workspace() as workspace:
        _check_period(period)
        rows = quarantined(workspace.data, period=period, source=source, file=file)
    if not rows:
        err.print(
            f"error: no quarantined rows of {file!r} (apportion quarantine list names the files)",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(2)
    payload = {"file": file, "rows": [row.as_dict() for row in rows]}
    emit(fmt, f"Quarantined rows of {file}", payload, [_row(row.as_dict()) for row in rows])


def _check_period(period: str | None) -> None:
    if period is not None:
        from apportion.periods import Period

        Period.parse(period)


def _money_keys(found: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    """A table row per currency and metric a file holds back; one row when none is readable."""
    keys = [(c, m) for c, by_metric in found["money"].items() for m in by_metric]
    return keys or [(None, None)]


def _file_row(found: dict[str, Any], currency: str | None, metric: str | None) -> dict[str, Any]:
    kinds = ", ".join(f"{n} {kind}" for kind, n in found["kinds"].items())
    unreadable = ", ".join(f"{n} {m}" for m, n in found["unreadable_amounts"].items())
    return {
        "source": found["source"],
        "file": found["file"],
        "id": found["file_hash"][:12],
        "rows": found["rows"],
        "kinds": kinds,
        "periods": " ".join(found["periods"]),
        "currency": currency or "",
        "metric": metric or "",
        "amount": plain_text(found["money"][currency][metric]) if currency and metric else "",
        "unreadable_amounts": unreadable,
    }


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "file": row["file"],
        "line": row["line"],
        "column": row["column"] or "",
        "reason": row["reason"],
        "period": row["period"] or "",
        "currency": row["currency"] or "",
        **{
            metric: row["cells"].get(metric, "")
            for metric in (col.BILLED_COST, col.EFFECTIVE_COST, col.LIST_COST, col.CONTRACTED_COST)
        },
    }
