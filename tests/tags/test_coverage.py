"""Tag coverage of a small bill, checked by hand: shares per dimension, by provider and
sub-account, the top offenders and the month-on-month trend, on both engines."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apportion.allocate import Period
from apportion.cli import app
from apportion.ingest.load import ingest_files
from apportion.tags import load_policy
from apportion.tags.coverage import ALL, Coverage, tag_coverage
from tests.helpers import make_workspace, write_focus

FULL = {"cost_centre": "ml", "use_case": "fraud", "environment": "production",
        "lifecycle_stage": "active"}  # fmt: skip


def _line(
    cost: str, resource: str, provider: str, sub_account: str, tags: dict[str, str]
) -> dict[str, object]:
    return {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ResourceId": resource,
        "ProviderName": provider,
        "SubAccountName": sub_account,
        "Tags": tags,
    }


@pytest.fixture
def coverage(tmp_path: Path, engine: str) -> Coverage:
    ws = make_workspace(tmp_path / "ws")
    october = write_focus(
        tmp_path / "october.csv",
        [
            _line("100", "r-1", "AWS", "ml-prod", FULL),
            _line(
                "50",
                "r-2",
                "AWS",
                "ml-prod",
                {
                    "CostCenter": "ml",
                    "use-case": "chat",
                    "Environment": "Prod",
                    "lifecycle_stage": "active",
                },
            ),
            _line("30", "r-3", "OpenAI", "proj_x", {"use_case": "chat", "cost_centre": " "}),
            _line("20", "r-2", "AWS", "ml-dev", {}),
        ],
    )
    september = write_focus(
        tmp_path / "september.csv",
        [
            {
                **_line("40", "r-1", "AWS", "ml-prod", FULL),
                "BillingPeriodStart": "2026-09-01T00:00:00Z",
                "BillingPeriodEnd": "2026-10-01T00:00:00Z",
                "ChargePeriodStart": "2026-09-03T00:00:00Z",
                "ChargePeriodEnd": "2026-09-04T00:00:00Z",
            }
        ],
    )
    ingest_files(ws, [october, september])
    return tag_coverage(ws, Period.parse("2026-10"), load_policy(ws.config, ws.root))


def test_coverage_of_a_small_bill_checked_by_hand(coverage: Coverage) -> None:
    # one computed result, read from each side: on Spark every extra test costs an ingest
    usd = coverage.overall["USD"]
    assert usd.total["BilledCost"] == Decimal(200)
    # by hand: cost_centre on lines 1-2 (a blank value is missing), use_case on 1-3,
    # environment on 1-2 but 'Prod' is not an allowed value, lifecycle_stage on 1-2
    present = {d: usd.present[d]["BilledCost"] for d in coverage.required}
    valid = {d: usd.valid[d]["BilledCost"] for d in [*coverage.required, ALL]}
    assert present == {
        "cost_centre": Decimal(150),
        "use_case": Decimal(180),
        "environment": Decimal(150),
        "lifecycle_stage": Decimal(150),
    }
    assert valid == {
        "cost_centre": Decimal(150),
        "use_case": Decimal(180),
        "environment": Decimal(100),
        "lifecycle_stage": Decimal(150),
        ALL: Decimal(100),
    }
    assert usd.share(ALL, "BilledCost") == Decimal("0.5")
    assert usd.share("use_case", "EffectiveCost") == Decimal("0.9")
    assert coverage.keys == {
        "CostCenter": "cost_centre",
        "use-case": "use_case",
        "Environment": "environment",
    }

    # by provider and sub-account, largest first
    providers = [
        (g.value, g.covered.total["BilledCost"], g.covered.valid[ALL]["BilledCost"])
        for g in coverage.by["provider"]
    ]
    assert providers == [("AWS", Decimal(170), Decimal(100)), ("OpenAI", Decimal(30), Decimal(0))]
    sub_accounts = [(g.value, g.covered.total["BilledCost"]) for g in coverage.by["sub_account"]]
    assert sub_accounts == [
        ("ml-prod", Decimal(150)),
        ("proj_x", Decimal(30)),
        ("ml-dev", Decimal(20)),
    ]

    # the costliest resources that break the policy, with what they lack
    top = [(o.resource_id, o.sub_account, o.cost["BilledCost"], o.problems) for o in coverage.top]
    assert top == [
        ("r-2", "ml-prod", Decimal(50), ["environment"]),
        ("r-3", "proj_x", Decimal(30), ["cost_centre", "environment", "lifecycle_stage"]),
        (
            "r-2",
            "ml-dev",
            Decimal(20),
            ["cost_centre", "use_case", "environment", "lifecycle_stage"],
        ),
    ]

    # month on month
    trend = [(period, c.share(ALL, "BilledCost")) for period, _, c in coverage.trend]
    assert trend == [("2026-09", Decimal(1)), ("2026-10", Decimal("0.5"))]


def test_the_command_prints_the_tables_or_json(tmp_path: Path) -> None:
    # the command over the library, on the default engine (the figures are checked above)
    root = tmp_path / "ws"
    make_workspace(root).close()
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            _line("75", "r-1", "AWS", "ml-prod", FULL),
            _line("25", "r-2", "AWS", "ml-dev", {"team": "ml"}),
        ],
    )
    runner = CliRunner()
    assert runner.invoke(app, ["-w", str(root), "ingest", str(bill)]).exit_code == 0
    table = runner.invoke(app, ["-w", str(root), "tags", "coverage", "-p", "2026-10"])
    assert table.exit_code == 0, table.output
    assert "Tag coverage 2026-10, BilledCost 100 USD" in table.output
    assert "75.0%" in table.output
    assert "r-2" in table.output
    as_json = runner.invoke(
        app, ["-w", str(root), "tags", "coverage", "-p", "2026-10", "-f", "json"]
    )
    payload = json.loads(as_json.stdout)
    assert payload["overall"]["USD"]["valid"][ALL]["BilledCost"] == "75.000000000000000000"
    wrong = runner.invoke(
        app, ["-w", str(root), "tags", "coverage", "-p", "2026-10", "--metric", "Cost"]
    )
    assert wrong.exit_code == 2
