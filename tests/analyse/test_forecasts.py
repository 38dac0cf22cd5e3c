"""Forecast to actual, on a constructed history worked out by hand.

Four periods, billed directly (USD, EffectiveCost), and the forecasts submitted for them
(owner alice for x/a and x/b, none for y/c: the cost centre y owns it):

======  ==========  ==========  ==========
period  x/a  F/A    x/b  F/A    y/c  F/A
======  ==========  ==========  ==========
07      120/100 o   190/200 u   40/50 u
08      130/110 o   200/200 =   50/60 u
09      100/120 u   200/180 o   80/70 o
10      150/130 o   100/150 u   70/80 u
======  ==========  ==========  ==========

(o over-forecast, u under, = exact.) In 2026-10 y/d also cost 25 with no forecast, and bob
forecast 40 for x/e, which cost nothing.

2026-10 per line (variance = actual - forecast, in percent of the forecast; error in percent
of the actual):

- x/a: -20, -13.33%, error 15.38%; over-forecast in 3 of the last 4 periods: biased.
- x/b: +50, 50.00%, error 33.33%; under twice, over once, exact once: no bias.
- y/c: +10, 14.29%, error 12.50%; under-forecast in 3 of 4: biased.
- x/e: -40, -100.00%, no error percent (a percentage of nothing).

Per owner: alice F 250, A 280, WAPE (20 + 50) / (130 + 150) = 25.00%, MAPE (20/130 + 50/150)
/ 2 = 24.36%; her totals per period are over (310/300), over (330/310), exact (300/300),
under (250/280): no bias. y: F 70, A 80, WAPE = MAPE = 12.50%, under in 3 of 4: biased. bob:
F 40, A 0, no WAPE nor MAPE.

USD overall: F 360, A 360 (y/d is in no accuracy), WAPE (20 + 50 + 10 + 40) / 360 =
0.3333333333; MAPE (20/130 + 50/150 + 10/80) / 3 = 20.41% (x/e has no percentage).
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apportion.analyse import forecast_baseline as fc_baseline
from apportion.analyse import forecasts as fc
from apportion.analyse.forecast_baseline import extrapolate
from apportion.analyse.forecast_input import ForecastError, ForecastRow, read_file
from apportion.analyse.forecasts import StoredForecast
from apportion.cli import app
from apportion.control import audit
from apportion.workspace import Workspace
from tests.helpers import allocate, ingest, make_workspace, write_focus

RULES = """rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
"""
PERIODS = ("2026-07", "2026-08", "2026-09", "2026-10")
ACTUALS = {  # (cost centre, use case) -> actual per period
    ("x", "a"): ("100", "110", "120", "130"),
    ("x", "b"): ("200", "200", "180", "150"),
    ("y", "c"): ("50", "60", "70", "80"),
}
FORECASTS = {
    ("x", "a", "alice"): ("120", "130", "100", "150"),
    ("x", "b", "alice"): ("190", "200", "200", "100"),
    ("y", "c", ""): ("40", "50", "80", "70"),
}
EARLY = datetime(2026, 6, 15, tzinfo=UTC)


def _month(period: str) -> dict[str, str]:
    year, month = int(period[:4]), int(period[5:])
    after = f"{year + month // 12:04d}-{month % 12 + 1:02d}"
    return {
        "BillingPeriodStart": f"{period}-01T00:00:00Z",
        "BillingPeriodEnd": f"{after}-01T00:00:00Z",
        "ChargePeriodStart": f"{period}-03T00:00:00Z",
        "ChargePeriodEnd": f"{period}-04T00:00:00Z",
    }


def _bill(cost: str, payer: str, use_case: str, period: str) -> dict[str, object]:
    tags = {"cost_centre": payer, "use_case": use_case}
    return {"BilledCost": cost, "EffectiveCost": cost, "Tags": tags, **_month(period)}


def forecast_csv(path: Path, rows: list[tuple[str, ...]], header: str | None = None) -> Path:
    head = header or "period,cost_centre,use_case,amount,currency,owner"
    path.write_text(head + "\n" + "".join(",".join(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four allocated periods and their forecasts, built once; tests work on copies."""
    root = tmp_path_factory.mktemp("forecasts")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
        patch.delenv("APPORTION_CONTROL_PLANE", raising=False)
        workspace = make_workspace(root / "ws", RULES)
        bills = [
            _bill(costs[i], payer, use_case, period)
            for (payer, use_case), costs in ACTUALS.items()
            for i, period in enumerate(PERIODS)
        ]
        bills.append(_bill("25", "y", "d", "2026-10"))
        ingest(workspace, write_focus(root / "bill.csv", bills))
        for period in PERIODS:
            allocate(workspace, period)
        rows = [
            (period, payer, use_case, amounts[i], "USD", owner)
            for (payer, use_case, owner), amounts in FORECASTS.items()
            for i, period in enumerate(PERIODS)
        ]
        rows.append(("2026-10", "x", "e", "40", "USD", "bob"))
        fc.submit_file(workspace, forecast_csv(root / "forecasts.csv", rows), "planner", now=EARLY)
        workspace.close()
    return root / "ws"


@pytest.fixture
def workspace(
    history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workspace]:
    monkeypatch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
    monkeypatch.delenv("APPORTION_CONTROL_PLANE", raising=False)
    shutil.copytree(history, tmp_path / "ws")
    opened = Workspace.open(tmp_path / "ws")
    try:
        yield opened
    finally:
        opened.close()


def reopened(workspace: Workspace, config: str) -> Workspace:
    """The workspace again with ``config`` added to its apportion.yaml (the caller closes it)."""
    path = workspace.root / "apportion.yaml"
    path.write_text(path.read_text() + config)
    return Workspace.open(workspace.root)


def test_variance_accuracy_and_bias_by_hand(workspace: Workspace) -> None:
    report = fc.forecast_report(workspace, "2026-10").as_dict()
    lines = {(r["cost_centre"], r["use_case"]): r for r in report["lines"]}
    assert {k: (r["forecast"], r["actual"], r["variance"]) for k, r in lines.items()} == {
        ("x", "a"): ("150.00", "130.00", "-20.00"),
        ("x", "b"): ("100.00", "150.00", "50.00"),
        ("x", "e"): ("40.00", "0.00", "-40.00"),
        ("y", "c"): ("70.00", "80.00", "10.00"),
    }
    assert {k: (r["variance_percent"], r["error_percent"]) for k, r in lines.items()} == {
        ("x", "a"): ("-13.33", "15.38"),
        ("x", "b"): ("50.00", "33.33"),
        ("x", "e"): ("-100.00", None),
        ("y", "c"): ("14.29", "12.50"),
    }
    assert {k: r["bias"] for k, r in lines.items()} == {
        ("x", "a"): "over-forecast in 3 of the last 4 periods",
        ("x", "b"): None,
        ("x", "e"): None,
        ("y", "c"): "under-forecast in 3 of the last 4 periods",
    }
    assert lines[("x", "b")]["history"] == {
        "2026-07": "under",
        "2026-08": "exact",
        "2026-09": "over",
        "2026-10": "under",
    }
    assert lines[("y", "c")]["owner"] == "y"  # no owner given: the cost centre answers
    owners = {r["owner"]: r for r in report["owners"]}
    assert {
        o: (r["forecast"], r["actual"], r["wape_percent"], r["mape_percent"])
        for o, r in owners.items()
    } == {
        "alice": ("250.00", "280.00", "25.00", "24.36"),
        "bob": ("40.00", "0.00", None, None),
        "y": ("70.00", "80.00", "12.50", "12.50"),
    }
    assert owners["alice"]["history"] == {
        "2026-07": "over",
        "2026-08": "over",
        "2026-09": "exact",
        "2026-10": "under",
    }
    assert {o: r["bias"] for o, r in owners.items()} == {
        "alice": None,
        "bob": None,
        "y": "under-forecast in 3 of the last 4 periods",
    }
    (total,) = report["totals"]
    assert (total["forecast"], total["actual"], total["variance"], total["lines"]) == (
        "360.00",
        "360.00",
        "0.00",
        4,
    )
    assert (total["wape_percent"], total["mape_percent"]) == ("33.33", "20.41")
    assert report["not_forecast"] == [
        {"cost_centre": "y", "use_case": "d", "currency": "USD", "actual": "25.00"}
    ]
    assert any("cost 2026-10 25.00 USD without a forecast" in n for n in report["notes"])
    assert any("1 forecast lines cost nothing" in n for n in report["notes"])


def test_accuracy_is_the_periods_wape_and_none_when_nothing_was_forecast(
    workspace: Workspace,
) -> None:
    assert fc.accuracy(workspace, "2026-10") == Decimal("0.3333333333")
    # 2026-07: |100-120| + |200-190| + |50-40| = 40 over 350
    assert fc.accuracy(workspace, "2026-07") == Decimal("0.1142857143")
    assert fc.accuracy(workspace, "2026-06") is None  # nothing forecast
    fc.submit_file(
        workspace,
        forecast_csv(workspace.root / "nov.csv", [("2026-11", "x", "a", "10", "USD", "")]),
        "planner",
    )
    assert fc.accuracy(workspace, "2026-11") is None  # forecast, but no statement yet
    report = fc.forecast_report(workspace, "2026-11").as_dict()
    assert report["lines"][0]["actual"] is None and report["owners"] == []
    assert any("no statement yet" in note for note in report["notes"])


def test_a_forecast_in_two_currencies_never_adds_them(workspace: Workspace) -> None:
    """y/c is also forecast at 90 EUR in 2026-10 and cost nothing in EUR: its EUR WAPE has no
    actual to weigh it (None), so accuracy stays the USD one; the EUR total is its own row."""
    fc.submit_file(
        workspace,
        forecast_csv(workspace.root / "eur.csv", [("2026-10", "y", "c", "90", "EUR", "")]),
        "planner",
    )
    report = fc.forecast_report(workspace, "2026-10").as_dict()
    assert [(t["currency"], t["forecast"], t["wape_percent"]) for t in report["totals"]] == [
        ("EUR", "90.00", None),
        ("USD", "360.00", "33.33"),
    ]
    assert fc.accuracy(workspace, "2026-10") == Decimal("0.3333333333")


def test_bias_needs_the_configured_count(workspace: Workspace) -> None:
    """With bias_count 4, x/a's three over-forecasts of four are no bias."""
    strict = reopened(workspace, "forecasts:\n  bias_count: 4\n")
    try:
        lines = fc.forecast_report(strict, "2026-10").as_dict()["lines"]
    finally:
        strict.close()
    assert [line["bias"] for line in lines] == [None] * 4
    # the same lines with the default count of 3: x/a and y/c are biased
    biased = fc.forecast_report(workspace, "2026-10").as_dict()["lines"]
    assert [line["use_case"] for line in biased if line["bias"]] == ["a", "c"]


def test_submitted_by_kind_and_a_resubmission_replaces_with_an_audit(
    workspace: Workspace,
) -> None:
    assert fc.submitted(workspace, "2026-10") == {
        ("x", "a", "USD"): Decimal("150.00"),
        ("x", "b", "USD"): Decimal("100.00"),
        ("x", "e", "USD"): Decimal("40.00"),
        ("y", "c", "USD"): Decimal("70.00"),
    }
    assert fc.submitted(workspace, "2026-10", "budget") == {}
    rows = [
        ("2026-10", "x", "a", "155", "USD", "alice", "forecast"),
        ("2026-10", "x", "a", "200", "USD", "", "budget"),
    ]
    path = forecast_csv(
        workspace.root / "again.csv", rows, "period,cost_centre,use_case,amount,currency,owner,kind"
    )
    late = datetime(2026, 11, 3, tzinfo=UTC)
    done = fc.submit_file(workspace, path, "carol", now=late)
    assert (done.created, done.replaced, done.unchanged) == (1, 1, 0)
    assert fc.submitted(workspace, "2026-10")[("x", "a", "USD")] == Decimal("155.00")
    assert fc.submitted(workspace, "2026-10", "budget") == {("x", "a", "USD"): Decimal("200.00")}
    replaced = [e for e in audit.entries(workspace.control) if e.action == "forecast.replace"]
    assert [(e.actor, e.subject, e.details) for e in replaced] == [
        (
            "carol",
            "forecast 2026-10 x/a USD",
            {
                "before": "150.00",
                "after": "155.00",
                "owner_before": "alice",
                "owner_after": "alice",
                "submitted_before_by": "planner",
                "source": "again.csv",
            },
        )
    ]
    lines = {r["use_case"]: r for r in fc.forecast_report(workspace, "2026-10").as_dict()["lines"]}
    assert (lines["a"]["late"], lines["b"]["late"]) == (True, False)
    # the same figures again change nothing, and keep when they were submitted
    again = fc.submit_file(workspace, path, "dave")
    assert (again.created, again.replaced, again.unchanged) == (0, 0, 2)


BAD_FILES = [
    ("period,cost_centre,use_case,amount\n", "line 1: no currency column"),
    ("period,cost_centre,use_case,amount,currency\n2026-10,x,*,1,USD\n", "use_case '\\*' is no"),
    ("period,cost_centre,use_case,amount,currency,colour\n", "unknown column 'colour'"),
    ("period,cost_centre,use_case,amount,currency\n", "has a header but no rows"),
    ("period,cost_centre,use_case,amount,currency\n2026-13,x,a,1,USD\n", "line 2: period"),
    # 9999-12 would end in year 10000, which no datetime holds; no bill is dated before 1970
    (
        "period,cost_centre,use_case,amount,currency\n9999-12,x,a,1,USD\n",
        "line 2: period 9999-12 is outside the years 1970 to 2200",
    ),
    (
        "period,cost_centre,use_case,amount,currency\n2201-01,x,a,1,USD\n",
        "line 2: period 2201-01 is outside",
    ),
    (
        "period,cost_centre,use_case,amount,currency\n1969-12,x,a,1,USD\n",
        "line 2: period 1969-12 is outside",
    ),
    (
        "period,cost_centre,use_case,amount,currency\n2026-10,,a,1,USD\n",
        "line 2: cost_centre is empty",
    ),
    (
        "period,cost_centre,use_case,amount,currency\n2026-10,x,a,1.005,USD\n",
        "more decimal places than USD's 2",
    ),
    (
        "period,cost_centre,use_case,amount,currency\n2026-10,x,a,1.5,JPY\n",
        "more decimal places than JPY's 0",
    ),
    (
        "period,cost_centre,use_case,amount,currency\n2026-10,x,a,ten,USD\n",
        "amount 'ten' is not a number",
    ),
    ("period,cost_centre,use_case,amount,currency\n2026-10,x,a,-5,USD\n", "negative"),
    ("period,cost_centre,use_case,amount,currency\n2026-10,x,a,NaN,USD\n", "not a number"),
    (
        "period,cost_centre,use_case,amount,currency\n2026-10,x,a,5,XYZ\n",
        "'XYZ' is not an ISO 4217",
    ),
    (
        "period,cost_centre,use_case,amount,currency,kind\n2026-10,x,a,5,USD,baseline\n",
        "apportion's own",
    ),
    (
        "period,cost_centre,use_case,amount,currency,kind\n2026-10,x,a,5,USD,wish\n",
        "neither forecast nor budget",
    ),
    ("period,cost_centre,use_case,amount,currency\n2026-10,x,a,5\n", "line 2: 4 fields"),
    (
        "period,cost_centre,use_case,amount,currency\n2026-10,x,a,5,USD\n2026-10,x,a,6,usd\n",
        "line 3: repeats",
    ),
]


@pytest.mark.parametrize(("text", "problem"), BAD_FILES)
def test_a_bad_row_refuses_the_whole_file(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ForecastError, match=problem) as raised:
        read_file(path)
    assert str(raised.value).startswith(f"{path}: ")


def test_a_good_file_with_a_bom_aliases_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "good.csv"
    path.write_text(
        "\ufeffPeriod,Team,Product,Amount,Currency\n2026-10, x ,a,1.2E+3,usd\n\n",
        encoding="utf-8",
    )
    # the ledger's dimensions as configured, in any case: a header's names are read stripped
    # and in lower case, and so are they
    (row,) = read_file(path, payer="Team", workload=" PRODUCT")
    assert (row.kind, row.period, row.payer, row.workload, row.currency) == (
        "forecast",
        "2026-10",
        "x",
        "a",
        "USD",
    )
    assert (f"{row.amount:f}", row.owner) == ("1200.00", "x")


def test_the_cli_refuses_a_bad_file_and_writes_nothing(workspace: Workspace) -> None:
    bad = workspace.root / "bad.csv"
    bad.write_text(
        "period,cost_centre,use_case,amount,currency\n2026-12,x,a,5,USD\n2026-12,x,b,5.001,USD\n"
    )
    result = CliRunner().invoke(app, ["-w", str(workspace.root), "forecast", "submit", str(bad)])
    assert result.exit_code == 2
    assert "line 3" in result.output and "decimal places" in result.output
    assert fc.submitted(workspace, "2026-12") == {}


def test_the_cli_submits_and_reports(workspace: Workspace) -> None:
    good = forecast_csv(workspace.root / "dec.csv", [("2026-12", "x", "a", "5", "USD", "")])
    runner = CliRunner()
    root = ["-w", str(workspace.root)]
    done = runner.invoke(app, [*root, "forecast", "submit", str(good)])
    assert done.exit_code == 0, done.output
    assert "1 new, 0 replaced, 0 unchanged (2026-12)" in done.output
    shown = runner.invoke(app, [*root, "report", "forecast", "-p", "2026-10", "-f", "csv"])
    assert shown.exit_code == 0, shown.output
    header, *rows = shown.stdout.strip().splitlines()
    assert header.startswith("cost_centre,use_case,currency,owner,forecast,actual,variance")
    assert (
        "x,a,USD,alice,150.00,130.00,-20.00,-13.33,over,over-forecast in 3 of the last 4"
        in shown.stdout
    )
    assert fc.stored(workspace, ["2026-12"])[0].source == "dec.csv"
    assert len(rows) == 4
    table = runner.invoke(app, [*root, "report", "forecast", "-p", "2026-10"])
    assert table.exit_code == 0 and "Accuracy per owner" in table.output
    wrong = runner.invoke(app, [*root, "report", "forecast", "-p", "2026-10", "--kind", "wish"])
    assert wrong.exit_code == 2


# -- the statistical baseline ------------------------------------------------------------
def _series(*values: int) -> list[Decimal]:
    return [Decimal(value) for value in values]


@pytest.mark.parametrize(
    ("series", "horizon", "amount", "method"),
    [
        (_series(100), 1, "100.00", "naive, the last actual (1 period of history)"),
        # a last actual of credits is no negative cost to expect
        (
            _series(100, -30),
            1,
            "0.00",
            "naive, the last actual (2 periods of history), floored at 0 from -30.00",
        ),
        (_series(100, 130), 1, "130.00", "naive, the last actual (2 periods of history)"),
        # a straight line goes on as one: 10 a period
        (_series(100, 110, 120), 1, "130.00", "holt, additive trend (3 periods of history)"),
        (
            _series(100, 110, 120, 130),
            2,
            "150.00",
            "holt, additive trend (4 periods of history, 2 periods ahead)",
        ),
        (_series(100, 100, 100, 100), 1, "100.00", "holt, additive trend (4 periods of history)"),
        # 100 a period down, three periods on from 100: -200, and no cost is below nothing
        (
            _series(300, 200, 100),
            3,
            "0.00",
            "holt, additive trend (3 periods of history, 3 periods ahead), floored at 0 from "
            "-200.00",
        ),
    ],
)
def test_the_baseline_method_follows_the_history(
    series: list[Decimal], horizon: int, amount: str, method: str
) -> None:
    found = extrapolate(series, horizon, "USD")
    assert (f"{found[0]:f}", found[1]) == (amount, method)
    assert extrapolate(series, horizon, "USD") == found  # deterministic


def test_without_statsmodels_the_baseline_is_the_last_actual_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """statsmodels is an optional extra: without it a trend is not guessed."""
    monkeypatch.setitem(sys.modules, "statsmodels.tsa.holtwinters", None)  # import fails
    amount, method = extrapolate(_series(100, 110, 120), 1, "USD")
    assert f"{amount:f}" == "120.00"
    assert method == (
        "naive, the last actual: statsmodels is not installed "
        "(pip install 'apportion[forecast]') (3 periods of history)"
    )


def test_seasonality_from_two_years_of_history() -> None:
    """1000 + 10 a month, and 200 more every twelfth month. After 35 months the next is a
    twelfth: 1000 + 350 + 200 = 1550. With 23 months (under two cycles) there is no season to
    learn: Holt's trend alone misses the spike (1000 + 230 + 200 = 1430)."""
    months = [1000 + 10 * t + (200 if t % 12 == 11 else 0) for t in range(35)]
    amount, method = extrapolate(_series(*months), 1, "USD")
    assert method == "holt-winters, additive trend and 12-month seasonality (35 periods of history)"
    assert abs(amount - Decimal(1550)) < 1
    trend_only, method = extrapolate(_series(*months[:23]), 1, "USD")
    assert method == "holt, additive trend (23 periods of history)"
    assert abs(trend_only - Decimal(1430)) > 100
    yen, _ = extrapolate(_series(100, 110, 120), 1, "JPY")
    assert f"{yen:f}" == "130"  # a yen has no minor unit


def test_the_baseline_of_a_workspace_and_its_accuracy(workspace: Workspace) -> None:
    """For 2026-10 the history is 07 to 09: x/a 100, 110, 120 and y/c 50, 60, 70 go on to
    130 and 80, exactly what they cost; x/b's 200, 200, 180 is Holt's to judge. y/d first cost
    in 10, so it has no history before it."""
    result = fc_baseline.baseline(workspace, "2026-10")
    assert result.history == ["2026-07", "2026-08", "2026-09"]
    found = {b.key: b for b in result.baselines}
    assert set(found) == {("x", "a", "USD"), ("x", "b", "USD"), ("y", "c", "USD")}
    assert (found[("x", "a", "USD")].amount, found[("y", "c", "USD")].amount) == (
        Decimal("130.00"),
        Decimal("80.00"),
    )
    _, done = fc_baseline.save_baseline(workspace, "2026-10", "planner")
    assert (done.created, done.replaced, done.unchanged) == (3, 0, 0)
    lines = {
        r["use_case"]: r
        for r in fc.forecast_report(workspace, "2026-10", "baseline").as_dict()["lines"]
    }
    assert (lines["a"]["variance"], lines["c"]["variance"], lines["a"]["owner"]) == (
        "0.00",
        "0.00",
        "baseline",
    )
    # stored apart from the forecasts: each kind reads back its own amounts
    assert fc.submitted(workspace, "2026-10", "baseline") == {
        b.key: b.amount for b in result.baselines
    }
    assert fc.submitted(workspace, "2026-10")[("x", "a", "USD")] == Decimal("150.00")
    # two periods past the last statement: forecast two steps ahead, and say so
    ahead = fc_baseline.baseline(workspace, "2026-12")
    a = next(b for b in ahead.baselines if b.key == ("x", "a", "USD"))
    assert (a.amount, a.method) == (
        Decimal("150.00"),
        "holt, additive trend (4 periods of history, 2 periods ahead)",
    )
    d = next(b for b in ahead.baselines if b.key == ("y", "d", "USD"))
    assert d.method == "naive, the last actual (1 period of history, 2 periods ahead)"
    assert ahead.notes == [
        "the latest statement before 2026-12 is 2026-10: forecast 2 periods ahead"
    ]
    none = fc_baseline.baseline(workspace, "2026-07")
    assert none.baselines == [] and "no history" in none.notes[0]
    with pytest.raises(ForecastError, match="no baseline to save for 2026-07"):
        fc_baseline.save_baseline(workspace, "2026-07", "planner")


def test_the_baseline_command(workspace: Workspace) -> None:
    runner = CliRunner()
    root = ["-w", str(workspace.root)]
    shown = runner.invoke(app, [*root, "forecast", "baseline", "-p", "2026-11", "-f", "json"])
    assert shown.exit_code == 0, shown.output
    assert '"method": "naive, the last actual (1 period of history)"' in shown.stdout
    saved = runner.invoke(app, [*root, "forecast", "baseline", "-p", "2026-11", "--save"])
    assert saved.exit_code == 0 and "saved: 4 new, 0 replaced, 0 unchanged, 0 removed" in (
        saved.output
    )
    assert len(fc.submitted(workspace, "2026-11", "baseline")) == 4


def test_the_readme_examples_read_as_described(tmp_path: Path) -> None:
    from apportion.config import parse_config

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    [example] = [
        b for b in re.findall(r"```csv\n(.*?)```", readme, flags=re.S) if "use_case,amount" in b
    ]
    path = tmp_path / "forecasts.csv"
    path.write_text(example, encoding="utf-8")
    rows = read_file(path)
    assert [(r.kind, r.workload, f"{r.amount:f}", r.owner) for r in rows] == [
        ("forecast", "support-bot", "12500.00", "maria"),
        ("budget", "support-bot", "14000.00", "maria"),
        ("forecast", "fraud-scorer", "8000.00", "risk"),
    ]
    [block] = [
        b
        for b in re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
        if b.startswith("forecasts:")
    ]
    config = parse_config(block).forecasts
    assert (config.bias_periods, config.bias_count, config.baseline_history) == (4, 3, 36)


def test_a_bias_count_beyond_its_periods_is_a_configuration_error() -> None:
    from apportion.config import parse_config
    from apportion.config.loader import ConfigError

    with pytest.raises(ConfigError, match="bias_count \\(3\\) cannot exceed bias_periods \\(2\\)"):
        parse_config("forecasts:\n  bias_periods: 2\n  bias_count: 3\n")


# -- credits, other currencies and the edges of the input --------------------------------
def test_credits_and_an_owner_in_two_currencies(workspace: Workspace) -> None:
    """2026-11 is billed: x/a 140 USD and 50 EUR, and z/r a credit of -30 USD. alice forecast
    x/a at 150 USD and 40 EUR, zed z/r at 10 USD.

    - x/a USD: variance -10, -6.67 %, error 10 / 140 = 7.14 %; x/a EUR: +10, 25.00 %, error
      20.00 %; z/r: -30 - 10 = -40, -400.00 %, error 40 / |-30| = 133.33 %, over-forecast.
    - per owner, one row per currency: alice EUR (WAPE = MAPE = 20.00 %), alice USD (7.14 %),
      zed USD (133.33 %).
    - USD overall: F 160, A 110, WAPE (10 + 40) / (140 + 30) = 29.41 %, MAPE (10/140 + 40/30)
      / 2 = 70.24 %; EUR: F 40, A 50, WAPE 20.00 %.
    - the baseline of 2026-12: z/r's one period of history is a credit, floored at 0."""
    month = "2026-11"
    bills = [
        _bill("140", "x", "a", month),
        {**_bill("50", "x", "a", month), "BillingCurrency": "EUR"},
        _bill("-30", "z", "r", month),
    ]
    ingest(workspace, write_focus(workspace.root / "nov-bill.csv", bills))
    allocate(workspace, month)
    rows = [
        (month, "x", "a", "150", "USD", "alice"),
        (month, "x", "a", "40", "EUR", "alice"),
        (month, "z", "r", "10", "USD", "zed"),
    ]
    fc.submit_file(workspace, forecast_csv(workspace.root / "nov.csv", rows), "planner", now=EARLY)
    report = fc.forecast_report(workspace, month).as_dict()
    assert [
        (
            r["use_case"],
            r["currency"],
            r["actual"],
            r["variance"],
            r["variance_percent"],
            r["error_percent"],
            r["direction"],
        )
        for r in report["lines"]
    ] == [
        ("a", "EUR", "50.00", "10.00", "25.00", "20.00", "under"),
        ("a", "USD", "140.00", "-10.00", "-6.67", "7.14", "over"),
        ("r", "USD", "-30.00", "-40.00", "-400.00", "133.33", "over"),
    ]
    assert [
        (o["owner"], o["currency"], o["forecast"], o["actual"], o["wape_percent"])
        for o in report["owners"]
    ] == [
        ("alice", "EUR", "40.00", "50.00", "20.00"),
        ("alice", "USD", "150.00", "140.00", "7.14"),
        ("zed", "USD", "10.00", "-30.00", "133.33"),
    ]
    assert [
        (t["currency"], t["forecast"], t["actual"], t["wape_percent"], t["mape_percent"])
        for t in report["totals"]
    ] == [
        ("EUR", "40.00", "50.00", "20.00", "20.00"),
        ("USD", "160.00", "110.00", "29.41", "70.24"),
    ]
    credit = next(
        b for b in fc_baseline.baseline(workspace, "2026-12").baselines if b.key[0] == "z"
    )
    assert (credit.amount, credit.method) == (
        Decimal("0.00"),
        "naive, the last actual (1 period of history), floored at 0 from -30.00",
    )
    fc_baseline.save_baseline(workspace, "2026-12", "planner")
    assert fc.submitted(workspace, "2026-12", "baseline")[("z", "r", "USD")] == Decimal("0.00")


def test_a_failed_smoothing_falls_back_to_the_last_actual_floored_at_0(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fails(values: list[float], horizon: int, seasonal: bool) -> float:
        raise ValueError("no convergence")

    monkeypatch.setattr(fc_baseline, "_smoothed", fails)
    assert extrapolate(_series(100, 50, 20), 1, "USD") == (
        Decimal("20.00"),
        "naive, the last actual: the smoothing failed, no convergence (3 periods of history)",
    )
    assert extrapolate(_series(100, 50, -20), 1, "USD") == (
        Decimal("0.00"),
        "naive, the last actual: the smoothing failed, no convergence (3 periods of history), "
        "floored at 0 from -20.00",
    )


def test_a_period_with_only_an_adjustment_has_no_statement_yet(workspace: Workspace) -> None:
    """A correction of 2026-10 is posted to 2026-11, which has no allocation: it has no
    statement yet. Counted as one, x/a's forecast of 150 against the adjustment's 10 would
    be a third over-forecast of four (08 over, 09 under, 10 over, 11 over): a bias. It is not
    comparable, so x/a was over-forecast twice: no bias."""
    from apportion.ledger.adjustments import RESTATEMENT, post
    from apportion.ledger.lines import period_lines

    with workspace.control.transaction() as session:
        posted = post(
            session,
            corrects="2026-10",
            kind=RESTATEMENT,
            payer="x",
            workload="a",
            category="uncategorised",
            rule="tagged",
            method="direct",
            mode="showback",
            currency="USD",
            amount=Decimal("10.00"),
            description="a late credit note",
            actor="planner",
        )
        assert posted.period == "2026-11"
    assert period_lines(workspace, "2026-11") is not None  # the adjustment, alone
    rows = [("2026-11", "x", "a", "150", "USD", "alice")]
    fc.submit_file(workspace, forecast_csv(workspace.root / "nov.csv", rows), "planner", now=EARLY)
    report = fc.forecast_report(workspace, "2026-11").as_dict()
    [line] = report["lines"]
    assert (line["actual"], line["variance"], line["bias"]) == (None, None, None)
    assert line["history"] == {
        "2026-08": "over",
        "2026-09": "under",
        "2026-10": "over",
        "2026-11": None,
    }
    assert (report["owners"], report["totals"]) == ([], [])
    assert any("2026-11 has no statement yet" in note for note in report["notes"])
    assert fc.accuracy(workspace, "2026-11") is None
    assert fc.actuals(workspace, "2026-11") is None


def test_a_period_with_spaces_is_that_period(workspace: Workspace) -> None:
    assert fc.submitted(workspace, " 2026-10 ") == fc.submitted(workspace, "2026-10")
    assert len(fc.submitted(workspace, " 2026-10 ")) == 4
    assert fc.accuracy(workspace, "2026-10 ") == Decimal("0.3333333333")
    report = fc.forecast_report(workspace, " 2026-10")
    assert (report.period, len(report.forecast_lines)) == ("2026-10", 4)
    assert fc_baseline.baseline(workspace, " 2026-10").period == "2026-10"


def test_the_baseline_history_skips_the_months_without_a_statement(workspace: Workspace) -> None:
    """The latest statement is 2026-10. With baseline_history 3, the history of 2026-12 is 08
    to 10 (the empty 2026-11 does not count as one of the three), and that of 2027-06 the same
    three, eight periods ahead: x/a's 110, 120, 130 goes on at 10 a period, to 210."""
    short = reopened(workspace, "forecasts:\n  baseline_history: 3\n")
    try:
        december = fc_baseline.baseline(short, "2026-12")
        june = fc_baseline.baseline(short, "2027-06")
    finally:
        short.close()
    assert december.history == june.history == ["2026-08", "2026-09", "2026-10"]
    a = next(b for b in june.baselines if b.key == ("x", "a", "USD"))
    assert (a.amount, a.method) == (
        Decimal("210.00"),
        "holt, additive trend (3 periods of history, 8 periods ahead)",
    )
    assert june.notes == [
        "the latest statement before 2027-06 is 2026-10: forecast 8 periods ahead"
    ]


def test_saving_the_baseline_again_replaces_all_of_it_and_is_never_late(
    workspace: Workspace,
) -> None:
    """A baseline saved for 2026-10 earlier had z/gone, which the history no longer has:
    saving again removes it (the audit log keeps it). Saved after 2026-10 ended, it is no
    late forecast: it reads only the periods before 2026-10."""
    stale = ForecastRow("baseline", "2026-10", "z", "gone", "USD", Decimal("5.00"), "baseline")
    fc.submit(workspace, [stale], source="baseline", actor="planner", now=EARLY)
    after = datetime(2026, 11, 5, tzinfo=UTC)
    result, done = fc_baseline.save_baseline(workspace, "2026-10", "planner", now=after)
    assert (done.created, done.replaced, done.unchanged, done.removed) == (3, 0, 0, 1)
    assert fc.submitted(workspace, "2026-10", "baseline") == {
        b.key: b.amount for b in result.baselines
    }
    removed = [e for e in audit.entries(workspace.control) if e.action == "forecast.remove"]
    assert [(e.subject, e.details["before"]) for e in removed] == [
        ("baseline 2026-10 z/gone USD", "5.00")
    ]
    assert len(fc.submitted(workspace, "2026-10")) == 4  # the forecasts are another kind
    report = fc.forecast_report(workspace, "2026-10", "baseline").as_dict()
    assert [line["late"] for line in report["lines"]] == [False, False, False]
    assert not any("(late)" in note for note in report["notes"])
    again = fc_baseline.save_baseline(workspace, "2026-10", "planner", now=after)[1]
    assert (again.created, again.replaced, again.unchanged, again.removed) == (0, 0, 3, 0)


def test_a_files_name_is_its_source_printable_and_short(workspace: Workspace) -> None:
    name = "q4-" + "x" * 150 + "\t.csv"
    path = forecast_csv(workspace.root / name, [("2026-12", "x", "a", "5", "USD", "")])
    fc.submit_file(workspace, path, "planner")
    [found] = fc.stored(workspace, ["2026-12"])
    assert found.source == "x" * 95 + "?.csv"
    with pytest.raises(ForecastError, match="is no label: 1 to 100 printable characters"):
        fc.submit(workspace, read_file(path), source="y" * 101, actor="planner")
    with pytest.raises(ForecastError, match="is no label"):
        fc.submit(workspace, read_file(path), source="a\nb", actor="planner")


def test_a_dimension_named_as_another_column_is_no_alias_of_it(tmp_path: Path) -> None:
    path = tmp_path / "owned.csv"
    path.write_text(
        "period,cost_centre,use_case,amount,currency,owner,kind\n2026-10,x,a,5,USD,maria,budget\n",
        encoding="utf-8",
    )
    (row,) = read_file(path, payer="owner", workload="Kind")
    assert (row.payer, row.workload, row.owner, row.kind) == ("x", "a", "maria", "budget")


def test_a_months_forecasts_are_indexed_once_not_scanned_per_line() -> None:
    """The report looks up every line's and owner's forecast in each period of the window: a
    month scanning its whole list each time made the report quadratic in lines."""

    class Scanned(list[StoredForecast]):
        scans = 0

        def __iter__(self) -> Iterator[StoredForecast]:
            Scanned.scans += 1
            return super().__iter__()

    made = [
        StoredForecast(
            "forecast", "2026-10", f"p{i}", "w", "USD", Decimal(i), f"o{i % 3}", "me", EARLY, "f"
        )
        for i in range(60)
    ]
    actual = {f.key: Decimal(30) for f in made}
    month = fc._Month("2026-10", Scanned(made), actual)
    directions = [month.line_direction(f.key) for f in made]
    owners = [month.owner_direction(f"o{i}", "USD") for i in range(3)]
    assert directions == ["under"] * 30 + ["exact"] + ["over"] * 29
    # o0 forecast 0 + 3 + ... + 57 = 570, o1 590 and o2 610, each against 20 x 30 = 600
    assert owners == ["under", "under", "over"]
    assert month.line_direction(("p0", "w", "EUR")) is None
    assert Scanned.scans <= 2  # once for the lines' index, once for the owners'
