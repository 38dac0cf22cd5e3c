"""What every command shares: the consoles, the output formats, the workspace option's state,
turning library errors into exit codes, progress, and printing tables and CSV."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from apportion.csvfile import csv_text as csv_text  # re-exported: the ledger commands use it
from apportion.errors import ApportionError, UsageError
from apportion.money import plain
from apportion.workspace import Workspace

# Reports are read in terminals and in CI logs alike; a pipe gets a wide page, not 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)  # a path or message is never broken mid-word


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class _State:
    root: Path = Path(".")


state = _State()

PeriodOption = Annotated[str, typer.Option("--period", "-p", help="Billing month, YYYY-MM.")]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]


class CheckFormat(StrEnum):
    table = "table"
    json = "json"


TableOrJson = Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format.")]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="The apportion.yaml whose tag policy applies (default: the workspace's, else the "
        "built-in policy).",
    ),
]


@contextmanager
def guard() -> Iterator[None]:
    """Turn the library's input and configuration errors into one clear line and exit 2."""
    try:
        yield
    except ApportionError as exc:
        said = "error" if isinstance(exc, UsageError) else "failed"
        err.print(f"[bold red]{said}:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


@contextmanager
def progress(title: str) -> Iterator[Callable[[str], None]]:
    with err.status(title) as status:
        yield lambda message: status.update(f"{title}: {message}")


@contextmanager
def opened_workspace() -> Iterator[Workspace]:
    """The workspace for one command: opened, closed after it, and the library's errors in it
    turned into one clear line and an exit code (guard)."""
    with guard():
        workspace = Workspace.open(state.root)
        try:
            yield workspace
        finally:
            workspace.close()


def emit(fmt: OutputFormat, title: str, payload: Any, rows: list[dict[str, Any]]) -> None:
    """A report in the asked format: the whole payload as JSON, or its rows as CSV or a table."""
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(payload))
    elif fmt is OutputFormat.csv:
        write_csv(rows)
    else:
        print_table(title, rows)


def note(text: str, label: str = "note") -> None:
    """A remark beside a report, on stderr, printed as written (no markup)."""
    err.print(f"{label}: {text}", markup=False, highlight=False)


def decimal_option(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise typer.BadParameter(f"{text!r} is not a number", param_hint=name) from None
    if not value.is_finite() or value < 0:
        raise typer.BadParameter("give a number of 0 or more", param_hint=name)
    return value


def print_report(
    fmt: CheckFormat,
    payload: dict[str, Any],
    tables: Callable[[], dict[str, list[dict[str, Any]]]],
    notes: Sequence[str],
) -> None:
    """JSON on stdout, or titled tables on stdout and notes on stderr."""
    if fmt is CheckFormat.json:
        out.print_json(json.dumps(payload))
        return
    for title, rows in tables().items():
        print_table(title, rows)
    for note in notes:
        err.print(f"note: {note}", highlight=False, markup=False)


def plain_text(text: str) -> str:
    return plain(Decimal(text))


def print_table(title: str, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        out.print(f"{title}: nothing to show", markup=False)
        return
    table = Table(title=Text(title))
    numeric = {key for key, value in rows[0].items() if looks_numeric(value)}
    for key in rows[0]:
        table.add_column(key, justify="right" if key in numeric else "left")
    for row in rows:
        # cells are data (a cost centre named "[eu]"), never markup
        table.add_row(*(Text("" if value is None else str(value)) for value in row.values()))
    out.print(table)


def looks_numeric(value: Any) -> bool:
    try:
        Decimal(str(value))
    except InvalidOperation:
        return False
    return True


def write_csv(rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        sys.stdout.write(csv_text(rows))


def write_text(text: str, output: Path | None) -> None:
    """To the file if one is named, else to stdout."""
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
