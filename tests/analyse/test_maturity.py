"""Maturity on one period worked out by hand (2026-10, EffectiveCost = BilledCost, tags
required: cost_centre and use_case; foundation_model_api on chargeback from 2026-10):

=================  =========================  ======  ========================
bill line          tags                       cost    allocation
=================  =========================  ======  ========================
OpenAI             x / a                      600     direct, chargeback
EC2                x / b                      250     direct, showback
EC2                none                       150     unallocated
=================  =========================  ======  ========================

- allocation: 850 of 1000 = 85%: walk (run needs more than 90%); all of it direct;
- tagging: the same 850 carry both required tags: 85%, walk;
- forecasting: x/a forecast 700 (actual 600), x/b 250 (250): WAPE = 100 / 850 = 11.76%: run;
- commitments: none recorded: not applicable, not counted;
- chargeback: 600 of the 850 shown or charged = 70.59%: walk.

The weakest practice is walk, the first of them allocation: its next step names the 150.00
USD unallocated.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apportion.analyse import maturity as mt
from apportion.cli import app
from apportion.workspace import Workspace
from tests.helpers import allocate, ingest, make_workspace, write_focus

RULES = """rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
"""
EXTRA = """tags: {required: [cost_centre, use_case]}
ledger:
  modes:
    - {category: foundation_model_api, mode: chargeback, effective_from: 2026-10}
"""


def organisation(tmp_path: Path, forecasts: bool = True) -> Workspace:
    workspace = make_workspace(tmp_path / "ws", RULES, extra=EXTRA)
    bills = write_focus(
        tmp_path / "bills.csv",
        [
            {
                "BilledCost": "600",
                "EffectiveCost": "600",
                "ProviderName": "OpenAI",
                "Tags": {"cost_centre": "x", "use_case": "a"},
            },
            {
                "BilledCost": "250",
                "EffectiveCost": "250",
                "ResourceId": "r-2",
                "Tags": {"cost_centre": "x", "use_case": "b"},
            },
            {"BilledCost": "150", "EffectiveCost": "150", "ResourceId": "r-3"},
        ],
    )
    ingest(workspace, bills)
    allocate(workspace, "2026-10")
    if forecasts:
        from apportion.analyse.forecasts import submit_file

        plan = tmp_path / "forecast.csv"
        plan.write_text(
            "period,cost_centre,use_case,amount,currency\n"
            "2026-10,x,a,700,USD\n"
            "2026-10,x,b,250,USD\n"
        )
        submit_file(workspace, plan, "ann")
    return workspace


def test_each_practice_on_its_scale_by_hand(tmp_path: Path) -> None:
    workspace = organisation(tmp_path)
    found = mt.maturity(workspace, "2026-10").as_dict()
    workspace.close()
    by_practice = {p["practice"]: p for p in found["practices"]}
    assert {name: (p["figure"], p["stage"]) for name, p in by_practice.items()} == {
        "allocation": ("85.00%", "walk"),
        "tagging": ("85.00%", "walk"),
        "forecasting": ("11.76%", "run"),
        "commitments": (None, mt.NOT_APPLICABLE),
        "chargeback": ("70.59%", "walk"),
    }
    assert by_practice["allocation"]["details"]["by_method"]["direct"] == "85.00%"
    assert by_practice["chargeback"]["details"]["categories_on_chargeback"] == [
        "foundation_model_api"
    ]
    assert (found["stage"], found["weakest"]) == ("walk", "allocation")
    assert found["next_step"].startswith("150.00 USD of EffectiveCost is unallocated")
    assert by_practice["forecasting"]["next_step"] is None  # at run: nothing to do
    assert "charge back uncategorised (250.00 USD" in by_practice["chargeback"]["next_step"]


def test_no_forecasts_is_not_yet_crawling_and_says_what_to_do(tmp_path: Path) -> None:
    workspace = organisation(tmp_path, forecasts=False)
    found = mt.maturity(workspace, "2026-10")
    workspace.close()
    assert (found.stage, found.weakest and found.weakest.name) == (
        "not yet crawling",
        "forecasting",
    )
    assert found.next_step and "apportion forecast submit" in found.next_step


def test_commitments_count_when_there_are_some(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The figures are apportion.analyse.commitments' (tested there); here, where they land:
    70% utilisation is crawl, now the weakest practice."""
    from apportion.analyse import commitments

    workspace = organisation(tmp_path)
    monkeypatch.setattr(
        commitments, "portfolio_figures", lambda *_: (Decimal("0.5"), Decimal("0.7"))
    )
    found = mt.maturity(workspace, "2026-10")
    workspace.close()
    assert (found.stage, found.weakest and found.weakest.name) == ("crawl", "commitments")
    assert found.next_step and found.next_step.startswith("commitment utilisation is 70.00%")


@pytest.mark.parametrize(
    ("scale", "figure", "stage"),
    [
        (mt.ALLOCATION, "0.9", "walk"),  # run is more than 90%
        (mt.ALLOCATION, "0.9001", "run"),
        (mt.ALLOCATION, "0.8", "walk"),
        (mt.ALLOCATION, "0.5", "crawl"),
        (mt.ALLOCATION, "0.4999", "not yet crawling"),
        (mt.FORECASTING, "0.12", "run"),
        (mt.FORECASTING, "0.1201", "walk"),
        (mt.FORECASTING, "0.2", "crawl"),
        (mt.FORECASTING, "0.21", "not yet crawling"),
    ],
)
def test_the_scales_boundaries(scale: mt.Scale, figure: str, stage: str) -> None:
    assert scale.stage(Decimal(figure)) == stage


def test_the_cli_prints_the_stage_and_next_step(tmp_path: Path) -> None:
    workspace = organisation(tmp_path)
    root = str(workspace.root)
    workspace.close()
    runner = CliRunner()
    shown = runner.invoke(app, ["--workspace", root, "report", "maturity", "-p", "2026-10"])
    assert shown.exit_code == 0, shown.output
    assert "stage: walk (weakest: allocation)" in shown.stdout
    as_json = runner.invoke(
        app, ["--workspace", root, "report", "maturity", "-p", "2026-10", "-f", "json"]
    )
    assert json.loads(as_json.stdout)["stage"] == "walk"
    missing = runner.invoke(app, ["--workspace", root, "report", "maturity", "-p", "2026-09"])
    assert missing.exit_code == 2 and "no published allocation" in missing.output


def test_tagging_is_the_figure_tags_coverage_shows(tmp_path: Path) -> None:
    """600 tagged and billed directly; an untagged GPU bill of 400 whose proportional rule
    found no gpu_seconds stays unallocated (allocation 60%: crawl). Tagging is what `tags
    coverage` shows, 600 of 1000 carrying every required tag (60%: crawl), not the 600 of
    600 of line-by-line cost whose line named its owner (shown beside it)."""
    from apportion.periods import Period
    from apportion.tags.coverage import ALL, tag_coverage

    rules = (
        RULES
        + """  - name: gpu
    match: "ResourceId = 'gpu-1'"
    method: proportional
    driver: gpu_seconds
"""
    )
    workspace = make_workspace(tmp_path / "ws", rules, extra=EXTRA)
    bills = write_focus(
        tmp_path / "bills.csv",
        [
            {
                "BilledCost": "600",
                "EffectiveCost": "600",
                "ProviderName": "OpenAI",
                "Tags": {"cost_centre": "x", "use_case": "a"},
            },
            {"BilledCost": "400", "EffectiveCost": "400", "ResourceId": "gpu-1"},
        ],
    )
    ingest(workspace, bills)
    allocate(workspace, "2026-10")
    practices = {p.name: p for p in mt.maturity(workspace, "2026-10").practices}
    found = {name: (p.figure, p.stage) for name, p in practices.items()}
    coverage = tag_coverage(workspace, Period.parse("2026-10"), months=1)
    workspace.close()
    assert found["allocation"] == (Decimal("0.6"), "crawl")
    assert found["tagging"] == (Decimal("0.6"), "crawl")
    assert coverage.overall["USD"].share(ALL, "EffectiveCost") == Decimal("0.6")
    details = practices["tagging"].details
    assert (details["line_by_line_owner_named"], details["uncovered"]) == ("100.00%", "400.00")


def test_a_share_credits_leave_nothing_to_take_of_is_not_measured() -> None:
    assert mt._share(Decimal(1000), Decimal(100)) is None  # a credit below the allocated
    assert mt._share(Decimal(5), Decimal(-10)) is None  # a refund-only currency
    assert mt._share(Decimal(50), Decimal(100)) == Decimal("0.5")
