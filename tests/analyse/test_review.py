"""The monthly review and its explanations, on statements worked out by hand.

Thresholds: ``*`` 100 and 10%, observability 50 and 50%. Billed directly (cost centre / use
case), OpenAI lines are foundation_model_api, Datadog lines observability:

==========  ==============  =======  =======  ============  ==================================
line        category        2026-09  2026-10  change        judged
==========  ==============  =======  =======  ============  ==================================
x / a       model API       1000     1150     +150 (15%)    150 >= 100 and 15% >= 10%: flagged
x / a       observability   100      140      +40 (40%)     40 < 50: within
x / b       model API       500      550      +50 (10%)     50 < 100: within
x / b       observability   -        60       +60 (new)     60 >= 50, nothing before: flagged
y / c       model API       300      -        -300 (-100%)  it went away: flagged
y / d       model API       -        120      +120 (new)    flagged
==========  ==============  =======  =======  ============  ==================================
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apportion.analyse import review as rv
from apportion.analyse.explanations import ExplanationError
from apportion.cli import app
from apportion.control import audit
from apportion.workspace import Workspace
from tests.helpers import allocate, ingest, make_workspace, write_focus

RULES = """rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
"""
THRESHOLDS = """review:
  thresholds:
    - {category: "*", absolute: 100, percent: 10}
    - {category: observability, absolute: 50, percent: 50}
"""
MODEL, OBSERVABILITY = "foundation_model_api", "observability"


def month(period: str) -> dict[str, str]:
    year, number = map(int, period.split("-"))
    following = f"{year + number // 12}-{number % 12 + 1:02d}"
    return {
        "BillingPeriodStart": f"{period}-01T00:00:00Z",
        "BillingPeriodEnd": f"{following}-01T00:00:00Z",
        "ChargePeriodStart": f"{period}-03T00:00:00Z",
        "ChargePeriodEnd": f"{period}-04T00:00:00Z",
    }


def bill(period: str, payer: str, use_case: str, cost: str, provider: str) -> dict[str, object]:
    return {
        **month(period),
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ProviderName": provider,
        "ServiceName": provider,
        "Tags": {"use_case": use_case, "cost_centre": payer},
    }


def organisation(tmp_path: Path, rows: list[dict[str, object]], periods: list[str]) -> Workspace:
    workspace = make_workspace(tmp_path / "ws", RULES, extra=THRESHOLDS)
    ingest(workspace, write_focus(tmp_path / "bills.csv", rows))
    for period in periods:
        allocate(workspace, period)
    return workspace


@pytest.fixture
def reviewed(tmp_path: Path) -> Workspace:
    rows = [
        bill("2026-09", "x", "a", "1000", "OpenAI"),
        bill("2026-09", "x", "a", "100", "Datadog"),
        bill("2026-09", "x", "b", "500", "OpenAI"),
        bill("2026-09", "y", "c", "300", "OpenAI"),
        bill("2026-10", "x", "a", "1150", "OpenAI"),
        bill("2026-10", "x", "a", "140", "Datadog"),
        bill("2026-10", "x", "b", "550", "OpenAI"),
        bill("2026-10", "x", "b", "60", "Datadog"),
        bill("2026-10", "y", "d", "120", "OpenAI"),
    ]
    workspace = organisation(tmp_path, rows, ["2026-09", "2026-10"])
    yield workspace
    workspace.close()


def judged(found: rv.Review) -> dict[tuple[str, str, str], tuple[str, str, str | None, str]]:
    def shown(item: rv.ReviewItem) -> tuple[str, str, str | None, str]:
        comparison = item.comparisons[0]
        percent = comparison.percent
        return (f"{item.actual:f}", f"{comparison.change:f}", percent and f"{percent}", item.status)

    return {(i.payer, i.workload, i.category): shown(i) for i in found.items}


def test_changes_against_the_previous_period_by_hand(reviewed: Workspace) -> None:
    found = rv.monthly_review(reviewed, "2026-10")
    assert found.previous == "2026-09"
    assert judged(found) == {
        ("x", "a", MODEL): ("1150.00", "150.00", "15.00", rv.UNEXPLAINED),
        ("x", "a", OBSERVABILITY): ("140.00", "40.00", "40.00", rv.WITHIN),
        ("x", "b", MODEL): ("550.00", "50.00", "10.00", rv.WITHIN),
        ("x", "b", OBSERVABILITY): ("60.00", "60.00", None, rv.UNEXPLAINED),
        ("y", "c", MODEL): ("0", "-300.00", "-100.00", rv.UNEXPLAINED),
        ("y", "d", MODEL): ("120.00", "120.00", None, rv.UNEXPLAINED),
    }
    assert {i.threshold.category for i in found.items if i.category == MODEL} == {"*"}
    assert found.as_dict()["needs_explanation"] == 4


def test_owners_explain_and_the_review_says_who(reviewed: Workspace) -> None:
    # x / a has two lines; only the model API line needs an explanation, so it is the one
    item = rv.explain(reviewed, "2026-10", rv.Subject("x", "a"), "launch week", "token:ann")
    assert (item.category, item.status, item.explanation and item.explanation.explained_by) == (
        MODEL,
        rv.EXPLAINED,
        "token:ann",
    )
    rv.explain(reviewed, "2026-10", rv.Subject("y", "c"), "retired in September", "bob")
    again = rv.explain(reviewed, "2026-10", rv.Subject("y", "c"), "retired on 30 Sep", "cy")
    assert again.explanation is not None
    assert (again.explanation.text, again.explanation.earlier) == ("retired on 30 Sep", 1)

    found = rv.monthly_review(reviewed, "2026-10").as_dict()
    assert (found["needs_explanation"], found["explained"], found["unexplained"]) == (4, 2, 2)
    by_line = {(i["cost_centre"], i["use_case"], i["category"]): i for i in found["items"]}
    assert by_line[("y", "c", MODEL)]["explanation"]["explained_by"] == "cy"
    assert by_line[("y", "d", MODEL)]["explanation"] is None
    actions = [entry.action for entry in audit.entries(reviewed.control)]
    assert actions.count("review.explain") == 3


def test_a_consumer_reviews_and_explains_only_its_own_lines(reviewed: Workspace) -> None:
    mine = rv.monthly_review(reviewed, "2026-10", payers={"y"})
    assert {(i.payer, i.workload) for i in mine.items} == {("y", "c"), ("y", "d")}
    with pytest.raises(ExplanationError, match="no review line"):
        rv.explain(reviewed, "2026-10", rv.Subject("x", "a"), "not mine", "cy", payers={"y"})


@pytest.mark.parametrize(
    ("subject", "text", "message"),
    [
        (rv.Subject("x", "zz"), "why", "no review line for cost centre 'x', use case 'zz'"),
        (rv.Subject("x", "a", "vector_store"), "why", "category 'vector_store'"),
        (rv.Subject("x", "a"), "   ", "needs some text"),
        (rv.Subject("x", "a"), "bell\x07", "control characters"),
    ],
)
def test_explanations_that_cannot_be_recorded(
    reviewed: Workspace, subject: rv.Subject, text: str, message: str
) -> None:
    with pytest.raises(ExplanationError, match=message):
        rv.explain(reviewed, "2026-10", subject, text, "ann")
    assert rv.monthly_review(reviewed, "2026-10").counts()[rv.EXPLAINED] == 0


def test_several_flagged_lines_need_the_category_named(tmp_path: Path) -> None:
    rows = [
        bill("2026-10", "x", "a", "500", "OpenAI"),
        bill("2026-10", "x", "a", "500", "Datadog"),
    ]
    workspace = organisation(tmp_path, rows, ["2026-10"])
    with pytest.raises(ExplanationError, match=r"several review lines.*name the category"):
        rv.explain(workspace, "2026-10", rv.Subject("x", "a"), "new", "ann")
    item = rv.explain(workspace, "2026-10", rv.Subject("x", "a", OBSERVABILITY), "new", "ann")
    assert item.category == OBSERVABILITY
    workspace.close()


def test_the_cli_reports_and_records_explanations(
    reviewed: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(reviewed.root)
    reviewed.close()
    runner = CliRunner()
    monkeypatch.setenv("APPORTION_USER", "dana")
    said = runner.invoke(
        app,
        [
            "--workspace",
            root,
            "explain",
            "-p",
            "2026-10",
            "--cost-centre",
            "y",
            "--use-case",
            "d",
            "--text",
            "new fraud model",
        ],
    )
    assert said.exit_code == 0, said.output
    shown = runner.invoke(
        app, ["--workspace", root, "report", "review", "-p", "2026-10", "-f", "json"]
    )
    assert shown.exit_code == 0, shown.output
    payload = json.loads(shown.stdout)
    assert (payload["explained"], payload["unexplained"]) == (1, 3)
    table = runner.invoke(app, ["--workspace", root, "report", "review", "-p", "2026-10"])
    assert "new fraud model" in table.stdout and "dana" in table.stdout
    assert "40.00" not in table.stdout  # within its threshold: shown only with --all
    everything = runner.invoke(
        app, ["--workspace", root, "report", "review", "-p", "2026-10", "--all", "-f", "csv"]
    )
    assert len(everything.stdout.strip().splitlines()) == 1 + 6
    refused = runner.invoke(
        app,
        [
            "--workspace",
            root,
            "explain",
            "-p",
            "2026-10",
            "--cost-centre",
            "x",
            "--use-case",
            "nope",
            "--text",
            "why",
        ],
    )
    assert refused.exit_code == 2
    assert "no review line" in refused.output
    unallocated = runner.invoke(app, ["--workspace", root, "report", "review", "-p", "2026-07"])
    assert unallocated.exit_code == 2
    assert "no published allocation" in unallocated.output


def test_totals_against_forecast_and_budget_by_hand(reviewed: Workspace, tmp_path: Path) -> None:
    """x / a cost 1290 in total (1150 + 140). Forecast 1000: +290 (29%), flagged under the *
    threshold (100 and 10%). Budget 1250: +40 (3.2%), within. y / d (120) has a forecast of
    115: +5, within. x / b has no plan, so no total line."""
    from apportion.analyse.forecasts import submit_file

    plans = tmp_path / "plans.csv"
    plans.write_text(
        "period,cost_centre,use_case,amount,currency,kind\n"
        "2026-10,x,a,1000,USD,forecast\n"
        "2026-10,x,a,1250,USD,budget\n"
        "2026-10,y,d,115,USD,forecast\n"
    )
    submit_file(reviewed, plans, "ann")
    totals = {
        (i.payer, i.workload): i
        for i in rv.monthly_review(reviewed, "2026-10").items
        if i.category == rv.TOTAL
    }
    assert set(totals) == {("x", "a"), ("y", "d")}
    x_a = totals[("x", "a")]
    assert [(c.against, f"{c.change}", f"{c.percent}", c.exceeded) for c in x_a.comparisons] == [
        (rv.FORECAST, "290.00", "29.00", True),
        (rv.BUDGET, "40.00", "3.20", False),
    ]
    assert (x_a.actual, x_a.status) == (Decimal("1290.00"), rv.UNEXPLAINED)
    assert totals[("y", "d")].status == rv.WITHIN
    explained = rv.explain(reviewed, "2026-10", rv.Subject("x", "a", "*"), "launch", "ann")
    assert (explained.category, explained.status) == (rv.TOTAL, rv.EXPLAINED)


def test_a_plan_with_no_cost_against_it_is_reviewed(reviewed: Workspace, tmp_path: Path) -> None:
    """y / e was forecast 800 and cost nothing: -800 (-100%), flagged; a consumer of x does not
    see it."""
    from apportion.analyse.forecasts import submit_file

    plans = tmp_path / "plans.csv"
    plans.write_text("period,cost_centre,use_case,amount,currency\n2026-10,y,e,800,USD\n")
    submit_file(reviewed, plans, "ann")
    [unspent] = [i for i in rv.monthly_review(reviewed, "2026-10").items if i.workload == "e"]
    [comparison] = unspent.comparisons
    assert (unspent.actual, comparison.change, comparison.shown_percent, unspent.status) == (
        Decimal(0),
        Decimal(-800),
        "-100.00",
        rv.UNEXPLAINED,
    )
    assert all(i.payer == "x" for i in rv.monthly_review(reviewed, "2026-10", payers={"x"}).items)


def test_an_explanation_of_an_earlier_amount_no_longer_counts(tmp_path: Path) -> None:
    """y / d is explained at 120; October is billed again (a restated 200) and allocated: the
    line moved since, so it needs an explanation again, the old one shown beside it."""
    rows = [bill("2026-10", "y", "d", "120", "OpenAI")]
    workspace = organisation(tmp_path, rows, ["2026-10"])
    rv.explain(workspace, "2026-10", rv.Subject("y", "d"), "pilot", "ann")
    restated = write_focus(tmp_path / "bills.csv", [bill("2026-10", "y", "d", "200", "OpenAI")])
    ingest(workspace, restated)
    allocate(workspace, "2026-10")
    [item] = rv.monthly_review(workspace, "2026-10").items
    shown = item.as_dict()
    assert (item.status, shown["explanation_outdated"], shown["explanation"]["actual"]) == (
        rv.UNEXPLAINED,
        True,
        "120.00",
    )
    workspace.close()


def test_percent_labels_say_new_only_for_a_new_line() -> None:
    threshold = rv.Threshold(absolute=Decimal(1), percent=Decimal(1))
    new = rv._compare(rv.PREVIOUS, Decimal(5), Decimal(0), threshold)
    unmoved = rv._compare(rv.PREVIOUS, Decimal(0), Decimal(0), threshold)
    no_plan = rv._compare(rv.FORECAST, Decimal(5), Decimal(0), threshold)
    assert [c.shown_percent for c in (new, unmoved, no_plan)] == ["new", "-", "-"]


def test_closing_says_how_many_lines_are_still_unexplained(reviewed: Workspace) -> None:
    root = str(reviewed.root)
    reviewed.close()
    runner = CliRunner()
    assert runner.invoke(app, ["--workspace", root, "period", "review", "2026-10"]).exit_code == 0
    closed = runner.invoke(app, ["--workspace", root, "period", "close", "2026-10"])
    assert closed.exit_code == 0, closed.output
    assert "4 lines of the monthly review still need an explanation" in closed.stderr
