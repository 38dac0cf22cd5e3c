"""Cost per decision and the portfolio classes, on an organisation worked out by hand.

2026-10, EffectiveCost, four use cases billed directly, and an observability bill of 40.00
split evenly between a and b (overhead):

=====  ======  ========  =====  =========  ==============  =====================
case   direct  overhead  total  decisions  cost/decision   class (medians)
=====  ======  ========  =====  =========  ==============  =====================
a      100     20        120    1,000      0.12            efficient
b      900     20        920    100,000    0.0092          unrecognised value
c      50      0         50     10         5               retire/re-architect
d      2000    0         2000   1,000      2               optimise first
=====  ======  ========  =====  =========  ==============  =====================

The median total is (120 + 920) / 2 = 520 and the median cost per decision (0.12 + 2) / 2 =
1.06. a also reports revenue 300 and cost saved 60 (value 360), 50 users and a feature price
of 5 per user. In 2026-09, d cost 1000 for 400 decisions (2.5 each).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from apportion.analyse import unit_economics as ue
from apportion.cli import app
from tests.helpers import allocate, ingest, make_workspace, write_focus

RULES = """rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
  - name: observability
    match: "ServiceName = 'Datadog'"
    method: even
    targets: {use_case: [a, b]}
"""
SEPTEMBER = {
    "BillingPeriodStart": "2026-09-01T00:00:00Z",
    "BillingPeriodEnd": "2026-10-01T00:00:00Z",
    "ChargePeriodStart": "2026-09-03T00:00:00Z",
    "ChargePeriodEnd": "2026-09-04T00:00:00Z",
}


def bill(cost: str, use_case: str | None = None, **more: str) -> dict[str, object]:
    tags = {"use_case": use_case, "cost_centre": "x"} if use_case else {}
    return {"BilledCost": cost, "EffectiveCost": cost, "Tags": tags, **more}


def organisation(tmp_path: Path, extra: str = "") -> Path:
    workspace = make_workspace(tmp_path / "ws", RULES, extra=extra)
    october = write_focus(
        tmp_path / "oct.csv",
        [
            bill("100", "a"),
            bill("900", "b"),
            bill("50", "c"),
            bill("2000", "d"),
            bill("40", ServiceName="Datadog"),
        ],
    )
    september = write_focus(tmp_path / "sep.csv", [bill("1000", "d", **SEPTEMBER)])
    metrics = tmp_path / "metrics.csv"
    metrics.write_text(
        "period,use_case,decisions,revenue,cost_saved,users,feature_price\n"
        "2026-10,a,1000,300,60,50,5\n"
        "2026-10,b,100000,,,,\n"
        "2026-10,c,10,,,,\n"
        "2026-10,d,1000,,,,\n"
        "2026-10,e,7,,,,\n"
        "2026-09,d,400,,,,\n"
    )
    ingest(workspace, october, september, metrics)
    allocate(workspace, "2026-09")
    allocate(workspace, "2026-10")
    workspace.close()
    return tmp_path / "ws"


def test_cost_per_decision_value_and_classes_by_hand(tmp_path: Path) -> None:
    from apportion.workspace import Workspace

    workspace = Workspace.open(organisation(tmp_path))
    found = ue.unit_economics(workspace, "2026-10")
    by_name = {u.workload: u.as_dict() for u in found.use_cases}
    assert {n: (u["cost"], u["cost_per_decision"]) for n, u in by_name.items()} == {
        "a": ("120.00", "0.1200000000"),
        "b": ("920.00", "0.0092000000"),
        "c": ("50.00", "5.0000000000"),
        "d": ("2000.00", "2.0000000000"),
    }
    assert (by_name["a"]["direct"], by_name["a"]["overhead"], by_name["a"]["shared"]) == (
        "100.00",
        "20.00",
        "0.00",
    )
    assert {n: u["verdict"] for n, u in by_name.items()} == {
        "a": ue.EFFICIENT,
        "b": ue.UNRECOGNISED,
        "c": ue.RETIRE,
        "d": ue.OPTIMISE,
    }
    assert found.thresholds == {
        "USD": {"high_total": "520.00", "high_cost_per_decision": "1.0600000000"}
    }
    a = by_name["a"]
    assert (a["value"], a["margin"], a["value_to_cost"], a["value_per_decision"]) == (
        "360.00",
        "240.00",
        "3.0000000000",
        "0.3600000000",
    )
    assert (a["cost_per_user"], a["feature_price"], a["price_margin_per_user"]) == (
        "2.4000000000",
        "5.00",
        "2.6000000000",
    )
    assert [(t["period"], t["cost_per_decision"]) for t in by_name["d"]["trend"]] == [
        ("2026-09", "2.5000000000"),
        ("2026-10", "2.0000000000"),
    ]
    assert found.notes == ["e: business metrics but no cost in 2026-10"]
    workspace.close()


def test_configured_thresholds_replace_the_medians(tmp_path: Path) -> None:
    from apportion.workspace import Workspace

    extra = "unit_economics: {high_total: 1000, high_cost_per_decision: 0.05}\n"
    workspace = Workspace.open(organisation(tmp_path, extra))
    found = ue.unit_economics(workspace, "2026-10")
    # a's 0.12 a decision is high against 0.05, but its value (360) is 3x its cost (120):
    # value weighs where it is known, so it is no retirement candidate; c's is unknown
    assert {u.workload: u.verdict for u in found.use_cases} == {
        "a": ue.EARNS,
        "b": ue.EFFICIENT,
        "c": ue.RETIRE,
        "d": ue.OPTIMISE,
    }
    workspace.close()


def test_the_command_prints_the_portfolio_and_draws_it(tmp_path: Path) -> None:
    root = organisation(tmp_path)
    chart = tmp_path / "portfolio.svg"
    result = CliRunner().invoke(
        app,
        ["-w", str(root), "report", "unit-economics", "-p", "2026-10", "--chart", str(chart)],
    )
    assert result.exit_code == 0, result.output
    assert "high total above 520.00" in result.stdout
    as_csv = CliRunner().invoke(
        app, ["-w", str(root), "report", "unit-economics", "-p", "2026-10", "-f", "csv"]
    )
    assert f"c,USD,50.00,10,5.0000000000,,,,,,{ue.RETIRE}" in as_csv.stdout
    drawn = chart.read_text()
    assert drawn.startswith("<svg") and "<script" not in drawn and ue.OPTIMISE in drawn
    as_json = CliRunner().invoke(
        app, ["-w", str(root), "report", "unit-economics", "-p", "2026-10", "-f", "json"]
    )
    assert Decimal(
        next(
            u for u in __import__("json").loads(as_json.stdout)["use_cases"] if u["use_case"] == "c"
        )["cost_per_decision"]
    ) == Decimal(5)
