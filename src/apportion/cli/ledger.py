"""The ledger's commands: periods, statements, the journal, disputes and the audit log. Each
calls one function of apportion.ledger; who acts is $APPORTION_USER, else the login name."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from apportion.cli.common import (
    FormatOption,
    OutputFormat,
    PeriodOption,
    csv_text,
    decimal_option,
    emit,
    err,
    note,
    opened_workspace,
    out,
    print_table,
    progress,
    write_csv,
    write_text,
)

if TYPE_CHECKING:
    from apportion.ledger.statement import CurrencyTotal, Statement
    from apportion.workspace import Workspace

period_app = typer.Typer(
    help="Periods: open -> allocated -> in_review -> closed.", no_args_is_help=True
)
ledger_app = typer.Typer(help="The closed ledger: its hash chain.", no_args_is_help=True)
journal_app = typer.Typer(help="Chargeback journal entries.", no_args_is_help=True)
dispute_app = typer.Typer(
    help="Disputes: open -> under_review -> accepted | rejected, or withdrawn.",
    no_args_is_help=True,
)

PeriodArgument = Annotated[str, typer.Argument(help="Billing month, YYYY-MM.")]
DisputeArgument = Annotated[int, typer.Argument(help="The dispute's number.")]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")
]


def register(app: typer.Typer) -> None:
    app.add_typer(period_app, name="period")
    app.add_typer(ledger_app, name="ledger")
    app.add_typer(journal_app, name="journal")
    app.add_typer(dispute_app, name="dispute")
    app.command("statement")(statement)
    app.command("audit")(audit_log)


def _actor() -> str:
    from apportion.control.audit import current_actor

    return current_actor()


# -- periods ------------------------------------------------------------------------------------
@period_app.command("list")
def period_list(fmt: FormatOption = OutputFormat.table) -> None:
    """Every period with data or a ledger record, its state, run and closing."""
    from apportion.ledger.periods import list_periods

    with opened_workspace() as workspace:
        found = list_periods(workspace)
    rows = [status.as_dict() for status in found]
    emit(fmt, "Periods", rows, rows)


@period_app.command("review")
def period_review(period: PeriodArgument) -> None:
    """Put an allocated period in review: statements go to the payers, disputes may open."""
    from apportion.ledger.published import review_period
    from apportion.periods import Period

    with opened_workspace() as workspace:
        status = review_period(workspace, Period.parse(_period(period)), _actor())
    out.print(f"period {status.period} is in review", highlight=False, markup=False)


@period_app.command("close")
def period_close(
    period: PeriodArgument,
    force: Annotated[
        bool, typer.Option(help="Close despite unresolved disputes (needs --reason).")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why it closes anyway (recorded).")] = None,
) -> None:
    """Freeze the period's statements and post its chargeback journal entries."""
    from apportion.ledger.close import close_period

    if reason and not force:
        raise typer.BadParameter("--reason goes with --force", param_hint="--reason")
    with opened_workspace() as workspace:
        with progress(f"closing {period}"):
            closed = close_period(workspace, _period(period), _actor(), force=force, reason=reason)
        unexplained = _unexplained(workspace, closed.period)
    out.print(
        f"period {closed.period} closed: run {closed.run_id}, {closed.lines} statement lines, "
        f"{closed.journal_lines} journal lines" + (" (forced)" if closed.forced else ""),
        highlight=False,
    )
    # in full, on a line of its own: the auditor's copy, for `ledger verify --expect-head`
    out.print(f"ledger chain head: {closed.chain_hash}", highlight=False, markup=False)
    if unexplained:
        note(
            f"{unexplained} lines of the monthly review still need an explanation (`apportion "
            f"report review --period {closed.period}`; owners may still give them)"
        )


def _unexplained(workspace: Workspace, period: str) -> int:
    from apportion.analyse.review import UNEXPLAINED, monthly_review

    return monthly_review(workspace, period).counts()[UNEXPLAINED]


@period_app.command("adjust")
def period_adjust(period: PeriodArgument, fmt: FormatOption = OutputFormat.table) -> None:
    """Allocate a closed period's restated bills and post the difference as adjustments to the
    next open period (the closed statements stay as they were)."""
    from apportion.ledger.adjustments import adjust_restated

    with opened_workspace() as workspace, progress(f"restating {period}") as say:
        result = adjust_restated(workspace, _period(period), _actor(), say)
    rows = result.adjustments
    for remark in result.notes:
        note(remark)
    if fmt is OutputFormat.table and not rows:
        out.print(f"nothing to adjust: the restated {period} allocates as it closed")
        return
    emit(fmt, f"Adjustments for {period} (run {result.run_id})", result.as_dict(), rows)


# -- the ledger and its journal -----------------------------------------------------------------
def _chain_head(value: str | None) -> str | None:
    if value is None:
        return None
    head = value.strip().lower()
    if len(head) != 64 or any(c not in "0123456789abcdef" for c in head):
        raise typer.BadParameter(
            "a chain head is 64 hexadecimal digits, as `period close` printed it"
        )
    return head


@ledger_app.command("verify")
def ledger_verify(
    fmt: FormatOption = OutputFormat.table,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            help="A chain head you kept (printed at close, on statements and journal "
            "exports): check it is still a link of the chain.",
            callback=_chain_head,
        ),
    ] = None,
) -> None:
    """Recompute every closed period's hash from what is stored and check the chain, keyed
    with the ledger key, against the audit log's first record of each close; exit 1 if
    anything was changed after closing."""
    from apportion.ledger.close import verify

    with opened_workspace() as workspace:
        result = verify(workspace.control, expect_head)
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(result.as_dict()))
    else:
        for problem in result.problems:
            out.print(f"[bold red]tampered:[/] {escape(problem)}", highlight=False)
        if result.intact:
            out.print(
                f"ledger intact: {result.closings} closed periods, hash chain verified"
                + (f", the head you hold is the close of {result.anchor}" if result.anchor else ""),
                highlight=False,
            )
            out.print(f"chain head: {result.head or 'none'}", highlight=False, markup=False)
        if result.sealed < result.closings:
            note(
                f"{result.closings - result.sealed} closings predate the ledger key (plain "
                "SHA-256 links): only the audit log and a head you kept vouch for them"
            )
    if not result.intact:
        raise typer.Exit(1)


class JournalFormat(StrEnum):
    csv = "csv"
    json = "json"


@journal_app.command("export")
def journal_export(
    period: PeriodOption,
    fmt: Annotated[JournalFormat, typer.Option("--format", "-f")] = JournalFormat.csv,
    output: OutOption = None,
) -> None:
    """A closed period's chargeback entries, balanced per entry and currency; the ids are
    stable, so importing the same export twice can be recognised."""
    from apportion.ledger.journal import chain_head_of, posted

    with opened_workspace() as workspace:
        control = workspace.control
        lines = posted(control, _period(period))
        head = chain_head_of(control, period)
    # every row carries the chain head of the close, so a file handed on proves its origin
    rows = [line.as_dict() | {"ledger_hash": head} for line in lines]
    if fmt is JournalFormat.json:
        payload = {"period": period, "ledger_hash": head, "lines": rows}
        text = json.dumps(payload, indent=2) + "\n"
    else:
        text = csv_text(rows, _JOURNAL_COLUMNS)
    write_text(text, output)
    if output:
        err.print(f"wrote {len(rows)} journal lines to {output}", markup=False)


_JOURNAL_COLUMNS = (
    "entry_id",
    "line_id",
    "line_no",
    "period",
    "currency",
    "account",
    "payer",
    "workload",
    "category",
    "debit",
    "credit",
    "memo",
    "statement_line_id",
    "ledger_hash",
)


# -- statements ---------------------------------------------------------------------------------
class StatementFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


def statement(
    period: PeriodOption,
    payer: Annotated[
        str | None,
        typer.Option(
            "--cost-centre",
            "--payer",
            help="Whose statement (a value of the payer dimension, cost_centre by default); "
            "default: every payer's.",
        ),
    ] = None,
    fmt: Annotated[StatementFormat, typer.Option("--format", "-f")] = StatementFormat.table,
    output: OutOption = None,
) -> None:
    """A payer's statement: lines by workload and category with method, rule, showback or
    chargeback, the change against the previous period and the dispute status."""
    from apportion.ledger.render import statements_html
    from apportion.ledger.statement import statements

    with opened_workspace() as workspace:
        found = statements(workspace, _period(period), [payer] if payer else None)
    if fmt is StatementFormat.html:
        write_text(statements_html(found), output)
        if output:
            err.print(f"wrote {len(found)} statement(s) to {output}", markup=False)
        return
    if fmt is StatementFormat.json:
        payload: Any = found[0].as_dict() if payer else [s.as_dict() for s in found]
        write_text(json.dumps(payload, indent=2) + "\n", output)
        return
    rows = [_statement_row(one, entry.as_dict()) for one in found for entry in one.entries]
    if fmt is StatementFormat.csv:
        write_text(csv_text(rows), output)
        return
    for one in found:
        title = f"Statement {one.period} · {one.payer_dimension} {one.payer} ({one.state})"
        print_table(title, [_statement_row(one, e.as_dict(), table=True) for e in one.entries])
        for total in one.totals:
            out.print(_total_line(total), highlight=False, markup=False)
        for remark in one.notes:
            note(remark)


def _total_line(total: CurrencyTotal) -> str:
    from apportion.ledger.render import grouped_text, signed

    currency = total.currency
    text = (
        f"{currency}: chargeback {grouped_text(total.chargeback, currency)}, showback "
        f"{grouped_text(total.showback, currency)}, total {grouped_text(total.total, currency)}"
    )
    if total.change is not None:
        text += f", change {signed(total.change, currency)}"
    return text


def _statement_row(
    statement: Statement, row: dict[str, Any], table: bool = False
) -> dict[str, Any]:
    """The line with the payer and workload named by their dimensions (cost_centre,
    use_case); a table leaves the payer (in its title) and an adjustment's note out."""
    named: dict[str, Any] = {statement.payer_dimension: statement.payer} if not table else {}
    for key, value in row.items():
        if key == "workload":
            named[statement.workload_dimension] = value
        elif not (table and key == "note"):
            named[key] = value
    if not table:  # a CSV file handed on carries the chain head its close printed
        named["ledger_hash"] = statement.ledger_hash
    return named


# -- disputes -----------------------------------------------------------------------------------
@dispute_app.command("open")
def dispute_open(
    period: PeriodOption,
    line: Annotated[str, typer.Option(help="The statement line's id (`apportion statement`).")],
    reason: Annotated[str, typer.Option(help="What is wrong with the line.")],
    evidence: Annotated[
        str | None, typer.Option(help="A link or note that supports the dispute.")
    ] = None,
    amount: Annotated[
        str | None,
        typer.Option(
            # the words of apportion.ledger.disputes.DISPUTED_AMOUNT(_MEANS), as the API and
            # the web form say it (not imported: the CLI loads the ledger only when it runs)
            help="Amount disputed: the part of the line you believe is wrongly charged, to be "
            "taken off it (at most the line's amount)."
        ),
    ] = None,
) -> None:
    """Dispute a statement line."""
    from apportion.ledger.disputes import open_dispute

    claimed = decimal_option(amount, "--amount") if amount is not None else None
    with opened_workspace() as workspace:
        found = open_dispute(
            workspace,
            _period(period),
            line,
            reason,
            _actor(),
            evidence=evidence,
            claimed_amount=claimed,
        )
    out.print(
        f"dispute #{found.id} opened on {found.period} line {found.line_id} "
        f"({found.payer} {found.workload} {found.category}, {found.line_amount} {found.currency})",
        highlight=False,
        markup=False,
    )


class DisputeState(StrEnum):
    open = "open"
    under_review = "under_review"
    accepted = "accepted"
    rejected = "rejected"
    withdrawn = "withdrawn"


@dispute_app.command("list")
def dispute_list(
    period: Annotated[str | None, typer.Option("--period", "-p", help="Only this month.")] = None,
    state: Annotated[DisputeState | None, typer.Option(help="Only disputes in this state.")] = None,
    payer: Annotated[
        str | None, typer.Option("--cost-centre", "--payer", help="Only this payer's.")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Disputes with their age; the unresolved ones counted by age."""
    from apportion.ledger.disputes import aging, list_disputes

    with opened_workspace() as workspace:
        found = list_disputes(
            workspace.control,
            period=_period(period) if period else None,
            state=state.value if state else None,
            payer=payer,
        )
    rows = [_dispute_row(dispute.as_dict()) for dispute in found]
    ages = aging(found)
    if fmt is OutputFormat.json:
        out.print_json(json.dumps({"disputes": [d.as_dict() for d in found], "aging": ages}))
        return
    if fmt is OutputFormat.csv:
        write_csv(rows)
        return
    print_table("Disputes", rows)
    out.print("unresolved by age: " + ", ".join(f"{k} {v}" for k, v in ages.items()))


def _dispute_row(row: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "id", "period", "payer", "workload", "category", "currency", "line_amount", "state",
        "age_days", "opened_by", "accepted_amount", "line_id",
    )  # fmt: skip
    return {key: row[key] for key in keep}


@dispute_app.command("show")
def dispute_show(number: DisputeArgument, fmt: FormatOption = OutputFormat.table) -> None:
    """A dispute and every transition it went through."""
    from apportion.ledger.disputes import show

    with opened_workspace() as workspace:
        found = show(workspace.control, number)
    payload = found.as_dict()
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(payload))
        return
    if fmt is OutputFormat.csv:
        write_csv(payload["events"])
        return
    facts = {k: v for k, v in payload.items() if k != "events" and v is not None}
    print_table(f"Dispute #{number}", [{"field": k, "value": v} for k, v in facts.items()])
    print_table("History", payload["events"])


@dispute_app.command("review")
def dispute_review(
    number: DisputeArgument,
    note: Annotated[str | None, typer.Option(help="A note for the record.")] = None,
) -> None:
    """Take a dispute under review."""
    from apportion.ledger.disputes import take_under_review

    with opened_workspace() as workspace:
        found = take_under_review(workspace.control, number, _actor(), note)
    _said(found.id, found.state)


@dispute_app.command("accept")
def dispute_accept(
    number: DisputeArgument,
    amount: Annotated[str, typer.Option(help="How much of the line the payer is credited.")],
    reason: Annotated[str, typer.Option(help="Why the dispute is accepted.")],
    reassign_to: Annotated[
        str | None,
        typer.Option(
            help="The payer charged instead, one with a line in the disputed period or in the "
            "tag catalogue (default: __unallocated__, the platform)."
        ),
    ] = None,
) -> None:
    """Accept a dispute under review: the amount is credited to the payer in the next open
    period (and charged to --reassign-to, or left unallocated)."""
    from apportion.ledger.disputes import accept, receivers

    with opened_workspace() as workspace:
        found = accept(
            workspace.control,
            number,
            _actor(),
            decimal_option(amount, "--amount"),
            reason,
            reassign_to=reassign_to,
            payers=receivers(workspace, number) if reassign_to else (),
        )
    _said(found.id, found.state, f"adjustment #{found.adjustment_id}")


@dispute_app.command("reject")
def dispute_reject(
    number: DisputeArgument,
    reason: Annotated[str, typer.Option(help="Why the charge stands (required).")],
) -> None:
    """Reject a dispute under review."""
    from apportion.ledger.disputes import reject

    with opened_workspace() as workspace:
        found = reject(workspace.control, number, _actor(), reason)
    _said(found.id, found.state)


@dispute_app.command("withdraw")
def dispute_withdraw(
    number: DisputeArgument,
    reason: Annotated[str | None, typer.Option(help="Why (optional).")] = None,
) -> None:
    """Withdraw a dispute that is not resolved yet."""
    from apportion.ledger.disputes import withdraw

    with opened_workspace() as workspace:
        found = withdraw(workspace.control, number, _actor(), reason)
    _said(found.id, found.state)


def _said(number: int, state: str, extra: str = "") -> None:
    out.print(
        f"dispute #{number} is {state}" + (f": {extra}" if extra else ""),
        highlight=False,
        markup=False,
    )


# -- audit ----------------------------------------------------------------------------------------
def audit_log(
    since: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="From this day on (UTC); default: everything."),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Every state change in the control plane, oldest first: rule-set versions, period
    transitions, closes, disputes, adjustments, forced overrides."""
    from apportion.control.audit import entries

    with opened_workspace() as workspace:
        found = entries(workspace.control, since.replace(tzinfo=UTC) if since else None)
    payload = [entry.as_dict() for entry in found]
    rows = [
        {**row, "details": json.dumps(row["details"]) if row["details"] else ""} for row in payload
    ]
    emit(fmt, "Audit log", payload, rows)


# -- helpers ----------------------------------------------------------------------------------
def _period(text: str) -> str:
    from apportion.periods import Period

    return str(Period.parse(text))
