"""Thresholds that follow operation, on four months worked out by hand.

Thresholds: ``*`` 100 and 10%, observability 50 and 50%. Cost centre x, use case a:

=======  =========  =============
month    model API  observability
=======  =========  =============
2026-07  1000       100
2026-08  1200       101
2026-09  1000       100
2026-10  1300       101
=======  =========  =============

Judged over three periods (08, 09, 10 against the month before):

- model API: +200 (20%), -200 (-16.67%), +300 (30%): the * threshold fires on all three, so it
  fires on most periods. Proposed (90th percentile, nearest rank of three: the largest),
  rounded up to two significant figures: 300 and 30%.
- observability: +1 (1%), -1 (-0.99%), +1 (1%): its own threshold never fires. Proposed: 1.0
  and 1.0%.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apportion.analyse import thresholds as th
from apportion.cli import app
from apportion.ledger.published import NotAllocatedError
from tests.analyse.test_review import MODEL, OBSERVABILITY, bill, organisation

MONTHS = {
    "2026-07": ("1000", "100"),
    "2026-08": ("1200", "101"),
    "2026-09": ("1000", "100"),
    "2026-10": ("1300", "101"),
}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [
        row
        for period, (model, observability) in MONTHS.items()
        for row in (
            bill(period, "x", "a", model, "OpenAI"),
            bill(period, "x", "a", observability, "Datadog"),
        )
    ]
    workspace = organisation(tmp_path_factory.mktemp("history"), rows, list(MONTHS))
    root = workspace.root
    workspace.close()
    return root


def test_proposals_and_misfits_by_hand(history: Path) -> None:
    from apportion.workspace import Workspace

    workspace = Workspace.open(history)
    found = th.thresholds_review(workspace, "2026-10", periods=3)
    workspace.close()
    assert found.periods == ("2026-08", "2026-09", "2026-10")
    by_category = {fit.category: fit.as_dict() for fit in found.categories}
    assert by_category[MODEL] == {
        "category": MODEL,
        "currency": "USD",
        "configured_for": "*",
        "configured": {"absolute": "100", "percent": "10"},
        "lines": 3,
        "fired": 3,
        "periods_fired": 3,
        "proposed": {"absolute": "300", "percent": "30"},
        "verdict": th.FIRES_ON_MOST,
    }
    observability = by_category[OBSERVABILITY]
    assert (observability["configured_for"], observability["fired"]) == (OBSERVABILITY, 0)
    assert observability["verdict"] == th.NEVER_FIRES
    assert observability["proposed"] == {"absolute": "1.0", "percent": "1.0"}
    assert [fit.category for fit in found.misfits()] == [MODEL, OBSERVABILITY]


def test_periods_without_an_allocation_are_named_not_judged(history: Path) -> None:
    from apportion.workspace import Workspace

    workspace = Workspace.open(history)
    found = th.thresholds_review(workspace, periods=6)  # the latest allocated is 2026-10
    assert found.periods == ("2026-08", "2026-09", "2026-10")
    # 2026-07 has nothing before it: every line would be new, its whole amount a change
    assert found.notes == (
        "2026-05: no published allocation, not judged",
        "2026-06: no published allocation, not judged",
        "2026-07: 2026-06 has no statement to compare with, not judged",
    )
    assert {fit.category: fit.lines for fit in found.categories} == {MODEL: 3, OBSERVABILITY: 3}
    workspace.close()


def test_each_currency_is_judged_on_its_own(tmp_path: Path) -> None:
    """Model spend in USD moves by 100s, in JPY by 10,000s: one distribution would propose a
    threshold that fits neither."""
    rows = [
        {**bill(period, "x", "a", usd, "OpenAI")}
        for period, usd in (("2026-08", "1000"), ("2026-09", "1100"), ("2026-10", "1300"))
    ] + [
        {**bill(period, "y", "b", jpy, "OpenAI"), "BillingCurrency": "JPY"}
        for period, jpy in (("2026-08", "100000"), ("2026-09", "150000"), ("2026-10", "120000"))
    ]
    workspace = organisation(tmp_path, rows, ["2026-08", "2026-09", "2026-10"])
    found = th.thresholds_review(workspace, "2026-10", periods=2)
    workspace.close()
    proposed = {fit.currency: fit.as_dict()["proposed"] for fit in found.categories}
    # USD +100, +200: the larger; JPY +50000, -30000: the larger
    assert proposed == {
        "JPY": {"absolute": "50000", "percent": "50"},
        "USD": {"absolute": "200", "percent": "19"},
    }


def test_a_threshold_that_fires_now_and_then_fits(tmp_path: Path) -> None:
    rows = [
        bill(period, "x", "a", amount, "OpenAI")
        for period, amount in (("2026-08", "1000"), ("2026-09", "1010"), ("2026-10", "1500"))
    ]
    workspace = organisation(tmp_path, rows, ["2026-08", "2026-09", "2026-10"])
    found = th.thresholds_review(workspace, "2026-10", periods=2)
    workspace.close()
    (fit,) = found.categories
    assert (fit.periods_fired, fit.verdict) == (1, None)  # one of two periods: not most


def test_nothing_allocated_is_one_clear_error(tmp_path: Path) -> None:
    workspace = organisation(tmp_path, [bill("2026-10", "x", "a", "1", "OpenAI")], [])
    with pytest.raises(NotAllocatedError, match="no period has a published allocation"):
        th.thresholds_review(workspace)
    workspace.close()


def test_the_cli_lists_what_no_longer_fits(history: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(
        app,
        [
            "--workspace",
            str(history),
            "thresholds",
            "review",
            "--until",
            "2026-10",
            "--periods",
            "3",
        ],
    )
    assert shown.exit_code == 0, shown.output
    assert f"{MODEL}: the threshold for * {th.FIRES_ON_MOST}" in shown.stderr
    as_json = runner.invoke(
        app, ["--workspace", str(history), "thresholds", "review", "--periods", "3", "-f", "json"]
    )
    assert json.loads(as_json.stdout)["periods"] == ["2026-08", "2026-09", "2026-10"]
