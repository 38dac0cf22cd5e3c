"""``apportion trace``: from a statement line down to the bill lines its cost came from."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

import typer

from apportion.access.caller import ADMIN, Caller
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
from apportion.ledger.render import grouped_text
from apportion.money import plain

# whoever runs the CLI has the workspace's files: they see every cost centre
_LOCAL = Caller(token_id=None, name="cli", role=ADMIN, payers=None)


def register(app: typer.Typer) -> None:
    app.command("trace")(trace_command)


def trace_command(
    period: PeriodOption,
    line: Annotated[
        str | None, typer.Option("--line", help="A statement line's id (as `statement` shows).")
    ] = None,
    payer: Annotated[
        str | None,
        typer.Option("--cost-centre", "--payer", help="Every line of this cost centre."),
    ] = None,
    workload: Annotated[
        str | None,
        typer.Option("--use-case", "--workload", help="Every line of this use case."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Pools and bill lines listed (0: all).")
    ] = 20,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The path from statement lines to their rules, pools, driver quantities and bill lines:
    each bill line's part, its share multiplied along the path, summing to the lines."""
    from apportion.explore.trace import Selection, trace

    with opened_workspace() as workspace:
        found = trace(
            workspace,
            period,
            Selection(line_id=line, payer=payer, workload=workload),
            _LOCAL,
            limit=limit or None,
        )
    if fmt is OutputFormat.json:
        out.print_json(json.dumps(found))
        return
    if fmt is OutputFormat.csv:
        write_csv(found["bill_lines"])
        return
    _print(found)


def _print(found: dict[str, Any]) -> None:
    currency, period = found["currency"], found["period"]

    def money(text: str | None) -> str:
        # shown to the cent; --format json has every digit
        return grouped_text(Decimal(text or 0), currency)

    print_table(
        f"Statement lines {period} ({found['metric']}, {currency})",
        [
            {
                "line": line["line_id"],
                "cost centre": line["payer"],
                "use case": line["workload"],
                "category": line["category"],
                "rule": line["rule"],
                "method": line["method"],
                "amount": money(line["amount"]),
            }
            for line in found["lines"]
        ],
    )
    print_table(
        f"Pools its cost passed through ({len(found['pools'])} of {found['pools_total']})",
        [
            {
                "gen": pool["generation"],
                "rule": pool["rule"],
                "method": pool["method"],
                "driver": _quantity(pool),
                "window": (pool["window_start"] or "")[:10],
                "resource": pool["ResourceId"],
                "pool": money(pool["amount"]),
                "share %": pool["share"],
                "traced": money(pool["traced"]),
            }
            for pool in found["pools"]
        ],
    )
    rows = [
        {
            "bill line": row["x_LineId"],
            "day": (row["ChargePeriodStart"] or "")[:10],
            "service": row["ServiceName"],
            "resource": row["ResourceId"],
            "amount": money(row[found["metric"]]),
            "share %": row["share"],
            "to line": money(row["to_line"]),
        }
        for row in found["bill_lines"]
    ]
    more = found["bill_lines_total"] - len(rows)
    if more:
        rows.append({"bill line": f"... {more} more", "to line": money(found["bill_lines_more"])})
    rows.append({"bill line": "total", "to line": money(found["total"])})
    print_table(
        f"Bill lines ({found['bill_lines_total']}): each one's part of the lines",
        [{key: row.get(key) for key in rows[0]} for row in rows],
    )
    for adjustment in found["adjustments"]:
        note(f"line {adjustment['line_id']} is an adjustment: no bill lines behind it")


def _quantity(pool: dict[str, Any]) -> str | None:
    """The driver and the traced quantity of the pool's: 'gpu_seconds 3 of 4'."""
    if not pool["driver"]:
        return None
    if pool["quantity"] is None:
        return str(pool["driver"])
    quantity, of = (plain(Decimal(pool[key])) for key in ("quantity", "pool_quantity"))
    return f"{pool['driver']} {quantity} of {of}"
