"""``apportion trace``: statement lines back to their bill lines, each bill line's share
multiplied along the path, on cases computed by hand."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apportion.access.caller import ADMIN, CONSUMER, Caller
from apportion.cli import app
from apportion.errors import NotFoundError, UsageError
from apportion.explore.trace import Selection, trace
from apportion.workspace import Workspace
from tests.helpers import allocate, ingest, make_workspace, write_drivers, write_focus

pytestmark = pytest.mark.usefixtures("engine")

D = Decimal
ADMIN_CALLER = Caller(token_id=None, name="t", role=ADMIN, payers=None)

RULES = """rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
  - name: platform
    match: "ServiceName = 'Platform'"
    method: fixed
    shares: [{cost_centre: shared-cc, use_case: shared, share: 100}]
  - name: shared
    match: "use_case = 'shared'"
    method: activity
    driver: requests
"""


def _money(amount: str) -> dict[str, str]:
    return {"BilledCost": amount, "EffectiveCost": amount}


def _load(tmp_path: Path, ws: Workspace, bill: list[dict[str, object]], bot_requests: str) -> None:
    """The bill, and requests of cc-a/bot (as many as given) and cc-b/scorer (1); allocated."""
    drivers = [
        {"timestamp": "2026-10-05", "driver": "requests", "quantity": q}
        | {"use_case": u, "cost_centre": c}
        for u, c, q in (("bot", "cc-a", bot_requests), ("scorer", "cc-b", "1"))
    ]
    ingest(ws, write_focus(tmp_path / "bill.csv", bill), write_drivers(tmp_path / "d.csv", drivers))
    allocate(ws)


def _workspace(tmp_path: Path) -> Workspace:
    """Platform lines P1 60 and P2 40 go to shared, then by requests 3:1 to cc-a/bot and
    cc-b/scorer; a tagged line T 10 belongs to cc-a/bot directly.
    cc-a: P1 45 (75%), P2 30 (75%), T 10 (100%) = 85; cc-b: P1 15, P2 10 = 25."""
    ws = make_workspace(tmp_path / "ws", RULES)
    bill = [
        {"ServiceName": "Platform", "ResourceId": "p1", **_money("60")},
        {"ServiceName": "Platform", "ResourceId": "p2", **_money("40")},
        {"ResourceId": "t", "Tags": {"use_case": "bot", "cost_centre": "cc-a"}, **_money("10")},
    ]
    _load(tmp_path, ws, bill, bot_requests="3")
    return ws


def _by_resource(found: dict[str, object]) -> dict[str, tuple[str, str, str]]:
    rows = found["bill_lines"]
    assert isinstance(rows, list)
    return {row["ResourceId"]: (row["exact"], row["share"], row["to_line"]) for row in rows}


def test_a_cost_centre_traced_to_its_bill_lines(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    found = trace(ws, "2026-10", Selection(payer="cc-a"), ADMIN_CALLER)
    assert found["total"] == "85.00"
    assert {(line["rule"], line["amount"]) for line in found["lines"]} == {
        ("shared", "75.00"),
        ("tagged", "10.00"),
    }
    exact = "{}.000000000000000000"
    assert _by_resource(found) == {
        "p1": (exact.format(45), "75.000000", "45.00"),
        "p2": (exact.format(30), "75.000000", "30.00"),
        "t": (exact.format(10), "100.000000", "10.00"),
    }
    by_rule = {pool["rule"]: pool for pool in found["pools"]}
    assert by_rule["shared"]["driver"] == "requests"
    assert by_rule["shared"]["traced"] == "75.000000000000000000"
    assert D(by_rule["shared"]["quantity"]) == 3 and D(by_rule["shared"]["pool_quantity"]) == 4
    assert by_rule["platform"]["share"] == "75.000000"  # of each platform pool, 3/4 reached cc-a


def test_one_line_by_id_and_its_shares_rounded_to_the_line(tmp_path: Path) -> None:
    """Three lines of 0.01 on one resource, split 2:1: cc-a's line is 0.02, each bill line's
    part 0.00666... exactly; rounded once to the line's total: 0.01, 0.01, 0.00."""
    ws = make_workspace(tmp_path / "ws", RULES)
    bill = [
        {
            "ServiceName": "Platform",
            "ResourceId": "p",
            "ChargeDescription": str(i),
            **_money("0.01"),
        }
        for i in range(3)
    ]
    _load(tmp_path, ws, bill, bot_requests="2")
    [line] = trace(ws, "2026-10", Selection(payer="cc-a"), ADMIN_CALLER)["lines"]
    found = trace(ws, "2026-10", Selection(line_id=line["line_id"]), ADMIN_CALLER)
    assert found["total"] == line["amount"] == "0.02"
    rows = found["bill_lines"]
    assert [row["exact"] for row in rows] == ["0.006666666666666667"] * 3
    assert sorted(row["to_line"] for row in rows) == ["0.00", "0.01", "0.01"]
    assert {row["share"] for row in rows} == {"66.666667"}


def test_a_consumer_traces_only_its_own_lines(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    consumer = Caller(token_id=1, name="b", role=CONSUMER, payers=frozenset({"cc-b"}))
    assert trace(ws, "2026-10", Selection(payer="cc-b"), consumer)["total"] == "25.00"
    with pytest.raises(NotFoundError, match="cost centre cc-a"):
        trace(ws, "2026-10", Selection(payer="cc-a"), consumer)
    with pytest.raises(UsageError, match="name a statement line"):
        Selection()


def test_the_command_prints_the_path_and_sums_to_the_line(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    runner = CliRunner()
    args = ["-w", str(ws.root), "trace", "--period", "2026-10", "--use-case", "scorer"]
    shown = runner.invoke(app, [*args, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    found = json.loads(shown.output)
    assert found["total"] == "25.00"
    assert sum(D(row["to_line"]) for row in found["bill_lines"]) == D("25.00")
    table = runner.invoke(app, args, env={"COLUMNS": "100"})
    assert table.exit_code == 0, table.output
    assert "requests 1 of 4" in table.output and "25.00" in table.output
    short = runner.invoke(app, [*args, "--limit", "1"], env={"COLUMNS": "100"})
    assert "... 1 more" in short.output
    missing = runner.invoke(app, ["-w", str(ws.root), "trace", "--period", "2026-10"])
    assert missing.exit_code == 2
    assert "name a statement line" in missing.output
