"""The ledger tests' data, with its statement lines computed by hand, and small steps.

2026-10 (oct.csv, source ``oct``), EffectiveCost, rounded once to cents by largest remainder:

========  ========  ====================  ========  ==========  ===========
payer     workload  category              exact     line        mode
========  ========  ====================  ========  ==========  ===========
cx        bot       foundation_model_api  10.005    10.01       chargeback
cx        search    foundation_model_api  5.5       5.50        chargeback
ops       bot       uncategorised         3.333     3.33        showback
(none)    (none)    uncategorised         1         1.00        unallocated
========  ========  ====================  ========  ==========  ===========

The exact total 19.838 rounds to 19.84; the floors add up to 19.83 and the largest remainder
(0.005, cx/bot) takes the cent. 2026-11 (nov.csv, source ``nov``): cx/bot 4.00 (chargeback)
and ops/bot 2.00 (showback). cx's chargeback posts to expense account 6410, everyone else's to
the default 6400; the recovery account is 4900.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text

from apportion.control.plane import ControlPlane
from apportion.ledger import close, periods
from apportion.ledger.lines import Line, period_lines
from apportion.workspace import Workspace
from tests.helpers import allocate, write_focus

RULES = """rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
ledger:
  modes:
    - category: foundation_model_api
      mode: chargeback
      effective_from: 2026-10
  accounts:
    expense_by_payer:
      cx: "6410"
"""

UNALLOCATED = "__unallocated__"
FMA = "foundation_model_api"
OPENAI = {"ProviderName": "OpenAI", "ServiceName": "OpenAI API"}
NOVEMBER = {
    "BillingPeriodStart": "2026-11-01T00:00:00Z",
    "BillingPeriodEnd": "2026-12-01T00:00:00Z",
    "ChargePeriodStart": "2026-11-03T00:00:00Z",
    "ChargePeriodEnd": "2026-11-04T00:00:00Z",
}


def row(
    cost: str, use_case: str | None = None, cost_centre: str | None = None, **more: str
) -> dict[str, Any]:
    tags = {"use_case": use_case, "cost_centre": cost_centre} if use_case else {}
    return {"BilledCost": cost, "EffectiveCost": cost, "Tags": tags, **more}


OCT_ROWS = [
    row("10.005", "bot", "cx", **OPENAI),
    row("5.5", "search", "cx", **OPENAI),
    row("3.333", "bot", "ops"),
    row("1"),
]
NOV_ROWS = [row("4.00", "bot", "cx", **OPENAI, **NOVEMBER), row("2.00", "bot", "ops", **NOVEMBER)]

# (payer, workload) -> (category, amount, mode) of the 2026-10 lines
OCT_LINES = {
    ("cx", "bot"): (FMA, Decimal("10.01"), "chargeback"),
    ("cx", "search"): (FMA, Decimal("5.50"), "chargeback"),
    ("ops", "bot"): ("uncategorised", Decimal("3.33"), "showback"),
    (UNALLOCATED, UNALLOCATED): ("uncategorised", Decimal("1.00"), "unallocated"),
}
NOV_LINES = {
    ("cx", "bot"): (FMA, Decimal("4.00"), "chargeback"),
    ("ops", "bot"): ("uncategorised", Decimal("2.00"), "showback"),
}


def write_oct(path: Path, rows: list[dict[str, Any]] | None = None) -> Path:
    """oct.csv: ingested as source ``oct`` wherever it is written."""
    assert path.name == "oct.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_focus(path, rows if rows is not None else OCT_ROWS)


def write_nov(path: Path) -> Path:
    assert path.name == "nov.csv"
    return write_focus(path, NOV_ROWS)


def summary(lines: list[Line] | None) -> dict[tuple[str, str], tuple[str, Decimal, str]]:
    """(payer, workload) -> (category, amount, mode): the shape of OCT_LINES."""
    assert lines is not None
    found = {(line.payer, line.workload): (line.category, line.amount, line.mode) for line in lines}
    assert len(found) == len(lines), "one line per payer and workload in these cases"
    return found


def line(workspace: Workspace, period: str, payer: str, workload: str) -> Line:
    found = period_lines(workspace, period) or []
    return next(item for item in found if (item.payer, item.workload) == (payer, workload))


def to_review(workspace: Workspace, period: str) -> None:
    allocate(workspace, period)
    periods.start_review(workspace.control, period, "alice")


def close_now(workspace: Workspace, period: str) -> close.Closed:
    """Allocate, review and close the period."""
    to_review(workspace, period)
    return close.close_period(workspace, period, "alice")


def count(control: ControlPlane, table: str, **where: str) -> int:
    condition = " AND ".join(f"{column} = :{column}" for column in where) or "1 = 1"
    with control.engine.connect() as connection:
        found = connection.execute(
            text(f"SELECT COUNT(*) FROM {table} WHERE {condition}"),
            where,
        ).scalar_one()
    return int(found)


def actions(control: ControlPlane, subject: str | None = None) -> list[str]:
    from apportion.control import audit

    return [e.action for e in audit.entries(control) if subject in (None, e.subject)]


def execute(
    control: ControlPlane, statement: str, parameters: Mapping[str, Any] | None = None
) -> int:
    """Raw SQL, as someone editing the database by hand would; the rows it changed."""
    with control.engine.begin() as connection:
        result = connection.execute(text(statement), dict(parameters or {}))
        return int(result.rowcount)
