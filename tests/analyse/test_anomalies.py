"""Anomalies in daily cost, on daily bills from 2026-07 to 2026-10, each month allocated (a
direct rule on the use_case tag; Datadog split evenly between chat and search), checking
2026-10 (1 October 2026 is a Thursday). EffectiveCost = BilledCost everywhere.

Hand case (no noise, so every baseline is exact and the spread is 0):

- chat / foundation_model_api / OpenAI: 100 on weekdays, 30 at weekends. The weekday
  medians are 100 and 30, their mean (5 x 100 + 2 x 30) / 7 = 80, so the factors are 1.25
  and 0.375, the level 80 and the baseline 100 on a weekday. Wed 14 Oct costs 350: a spike
  of 350 - 100 = 250.00. Tue 6 Oct costs 105: 5 over, under the minimum size of 10% of the
  window's mean daily cost (80, so 8.00): not flagged, unless min_percent is 1 (0.80; the
  absolute minimum is 1.00), when it is a spike of 5.00.
- search / uncategorised / AWS: 200 on weekdays, 60 at weekends; Tue 20 to Thu 22 Oct cost 80
  each: one drop over three days of 3 x (80 - 200) = -360.00 (one or two low days of 14 do
  not move the median level).
- Datadog: 50 a day, split evenly (a month's pool of 31 x 50 = 1550, halved exactly; October
  1750 with the spike): 25 a day each for chat and search. Tue 27 Oct costs 250: each gets
  125, a spike of 125 - 25 = 100.00 in both series, driven by that one bill line.
- newbot: from Tue 20 Oct only, 10 a day: 11 days before 31 Oct, 28 needed: not checked.
- a licence of 3,000 for chat on the 1st of each month, charged for the whole month: left out
  of the daily series (it would be a spike every month), with a note.

Noisy case (seeded): three series with a weekly pattern, a trend and 5 % noise from 2026-06 to
2026-10: September, clean, gives no anomaly; in October one spike is injected (+400 on Tue 13
Oct in a series of about 100 a weekday): found on that day alone, its size 400 give or take
the baseline's error.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from apportion.access import tokens
from apportion.analyse.anomalies import AnomalyReport, _runs, anomalies
from apportion.analyse.anomaly_baseline import Check, check_series
from apportion.cli import app
from apportion.config.anomalies import AnomaliesConfig
from apportion.server import create_app
from apportion.workspace import Workspace
from tests.helpers import allocate, ingest, make_workspace, write_focus

RULES = """rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
  - name: observability
    match: "ServiceName = 'Datadog'"
    method: even
    targets: {use_case: [chat, search]}
"""
MONTHS = ("2026-07", "2026-08", "2026-09", "2026-10")
CHAT = ("chat", "foundation_model_api", "OpenAI", "USD")
SEARCH = ("search", "uncategorised", "AWS", "USD")


def weekly(weekday: float, weekend: float) -> Callable[[date], float]:
    return lambda day: weekday if day.weekday() < 5 else weekend


def line(day: date, cost: float, use_case: str | None, **more: str) -> dict[str, Any]:
    first = day.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    tags = {"use_case": use_case, "cost_centre": "cc"} if use_case else {}
    text = f"{cost:.2f}"
    return {
        "BillingPeriodStart": f"{first}T00:00:00Z",
        "BillingPeriodEnd": f"{after}T00:00:00Z",
        "ChargePeriodStart": f"{day}T00:00:00Z",
        "ChargePeriodEnd": f"{day + timedelta(days=1)}T00:00:00Z",
        "BilledCost": text,
        "EffectiveCost": text,
        "Tags": tags,
        "ChargeDescription": f"{use_case or 'shared'} {day}",
        **more,
    }


def days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def build(root: Path, rows: list[dict[str, Any]], months: tuple[str, ...]) -> Path:
    workspace = make_workspace(root / "ws", RULES)
    ingest(workspace, write_focus(root / "bills.csv", rows))  # one file, every month
    for month in months:
        allocate(workspace, month)
    workspace.close()
    return root / "ws"


def hand_rows() -> list[dict[str, Any]]:
    chat, search = weekly(100, 30), weekly(200, 60)
    special = {
        ("chat", date(2026, 10, 14)): 350.0,
        ("chat", date(2026, 10, 6)): 105.0,
        **{("search", date(2026, 10, d)): 80.0 for d in (20, 21, 22)},
        ("datadog", date(2026, 10, 27)): 250.0,
    }
    rows = []
    for day in days("2026-07-01", "2026-10-31"):
        openai = {"ProviderName": "OpenAI", "ServiceName": "Chat", "ResourceId": "proj-chat"}
        rows.append(line(day, special.get(("chat", day), chat(day)), "chat", **openai))
        rows.append(line(day, special.get(("search", day), search(day)), "search"))
        rows.append(
            line(
                day,
                special.get(("datadog", day), 50.0),
                None,
                ProviderName="Datadog",
                ServiceName="Datadog",
                ResourceId="dd",
            )
        )
        if day >= date(2026, 10, 20):
            rows.append(line(day, 10.0, "newbot"))
        if day.day == 1:  # a month's licence, charged for the whole month: no daily spike
            licence = line(day, 3000.0, "chat", ServiceName="Licence", ResourceId="seat")
            licence["ChargePeriodEnd"] = licence["BillingPeriodEnd"]
            rows.append(licence)
    return rows


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("hand"), hand_rows(), MONTHS)


@pytest.fixture(scope="module")
def found(hand: Path) -> AnomalyReport:
    workspace = Workspace.open(hand)
    try:
        return anomalies(workspace, "2026-10")
    finally:
        workspace.close()


def summary(report: AnomalyReport) -> list[tuple[Any, ...]]:
    return [
        (*a.series, a.direction, a.start.isoformat(), a.end.isoformat(), f"{a.size:f}")
        for a in report.anomalies
    ]


def test_injected_spikes_and_drop_are_found_with_their_dates_and_sizes(
    found: AnomalyReport,
) -> None:
    datadog = "observability", "Datadog", "USD"
    assert summary(found) == [
        (*SEARCH, "drop", "2026-10-20", "2026-10-22", "-360.00"),
        (*CHAT, "spike", "2026-10-14", "2026-10-14", "250.00"),
        ("chat", *datadog, "spike", "2026-10-27", "2026-10-27", "100.00"),
        ("search", *datadog, "spike", "2026-10-27", "2026-10-27", "100.00"),
    ]
    drop = found.anomalies[0].as_dict()
    assert (drop["cost"], drop["baseline"], drop["days"]) == ("240.00", "600.00", 3)
    assert [(d["day"], d["cost"], d["baseline"]) for d in drop["daily"]] == [
        ("2026-10-20", "80.00", "200.00"),
        ("2026-10-21", "80.00", "200.00"),
        ("2026-10-22", "80.00", "200.00"),
    ]
    assert (found.first_day, found.last_day) == (date(2026, 10, 1), date(2026, 10, 31))


def test_each_anomaly_names_the_bill_lines_that_drove_it(found: AnomalyReport) -> None:
    spike = found.anomalies[1].as_dict()
    [top] = spike["lines"]
    assert (top["day"], top["cost"], top["share"], top["ChargeDescription"]) == (
        "2026-10-14",
        "350.00",
        "350.00",
        "chat 2026-10-14",
    )
    shared = found.anomalies[2].as_dict()
    # the one Datadog line of the day, half of which reached chat
    assert [(x["day"], x["cost"], x["share"]) for x in shared["lines"]] == [
        ("2026-10-27", "250.00", "125.00")
    ]


def test_a_series_with_too_little_history_is_reported_not_checked(found: AnomalyReport) -> None:
    [newbot] = [u.as_dict() for u in found.unchecked]
    assert (newbot["use_case"], newbot["history_days"], newbot["reason"]) == (
        "newbot",
        11,
        "not checked (11 days of history, 28 needed)",
    )
    # chat and search, direct and their Datadog halves: every day of October checked
    assert found.series_checked == 4
    # the licence billed for all of October is left to the monthly review, and said so
    assert any("1 bill lines charged for more than a day" in note for note in found.notes)


def test_a_small_deviation_counts_only_above_the_minimum_size(hand: Path, tmp_path: Path) -> None:
    copy = tmp_path / "ws"
    shutil.copytree(hand, copy)
    config = copy / "apportion.yaml"
    config.write_text(config.read_text() + "anomalies:\n  min_percent: 1\n")
    workspace = Workspace.open(copy)
    try:
        report = anomalies(workspace, "2026-10")
    finally:
        workspace.close()
    assert (*CHAT, "spike", "2026-10-06", "2026-10-06", "5.00") in summary(report)
    assert len(report.anomalies) == 5


def test_the_spread_is_the_mad_of_the_baselines_errors() -> None:
    """Not weekly, 100 and 102 alternating: the level is the median of 14 days, 101, and
    every error is 1 off it, so the spread is 1.4826 x 1 and the tolerance at the default
    sensitivity 5 x 1.4826 = 7.41: 109 (8 off) is flagged, 108 (7 off) is not; at sensitivity
    4 (5.93), 107 (6 off) is."""
    settings = AnomaliesConfig(weekly=False, min_percent=0)
    costs = [100.0 + 2 * (day % 2) for day in range(40)]
    for cost, flagged in ((109.0, True), (108.0, False)):
        check = check_series([*costs, cost], settings)[-1]
        assert check is not None
        assert (check.expected, round(check.tolerance, 4), check.flagged) == (
            101.0,
            7.413,
            flagged,
        )
    four = AnomaliesConfig(weekly=False, min_percent=0, sensitivity=4)
    check = check_series([*costs, 107.0], four)[-1]
    assert check is not None and (round(check.tolerance, 4), check.flagged) == (5.9304, True)
    assert check_series(costs[:28], settings)[-1] is None  # 27 days behind it: too few


def noisy_rows(spike: bool) -> list[dict[str, Any]]:
    rng = random.Random(20261013)
    rows = []
    series = [("alpha", 100, 35), ("beta", 400, 150), ("gamma", 60, 60)]
    start = date(2026, 6, 1)
    for day in days("2026-06-01", "2026-10-31"):
        trend = 1 + 0.002 * (day - start).days
        for name, weekday, weekend in series:
            base = weekly(weekday, weekend)(day) * trend
            cost = base * (1 + rng.gauss(0, 0.05))
            if spike and name == "alpha" and day == date(2026, 10, 13):
                cost += 400
            rows.append(line(day, cost, name))
    return rows


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    months = ("2026-06", *MONTHS)
    return build(tmp_path_factory.mktemp("noisy"), noisy_rows(spike=True), months)


def test_clean_history_gives_no_anomaly(noisy: Path) -> None:
    workspace = Workspace.open(noisy)
    try:
        report = anomalies(workspace, "2026-09")
    finally:
        workspace.close()
    assert report.anomalies == []
    assert (report.series_checked, report.unchecked) == (3, [])


def test_a_spike_injected_into_noisy_history_is_found_on_its_day(noisy: Path) -> None:
    workspace = Workspace.open(noisy)
    try:
        report = anomalies(workspace, "2026-10")
    finally:
        workspace.close()
    spike = report.anomalies[0]  # the largest
    assert (spike.series.use_case, spike.direction, spike.start, spike.end) == (
        "alpha",
        "spike",
        date(2026, 10, 13),
        date(2026, 10, 13),
    )
    # the day's own noise (5 % of about 125) and the baseline's error: well within 40
    assert abs(spike.size - 400) < 40
    assert [a.series.use_case for a in report.anomalies].count("alpha") == 1


def test_false_alarms_are_rare_and_real_spikes_are_caught() -> None:
    """60 seeded series of 120 days, weekly or flat, 5 % or 20 % noise, a trend: at the
    default sensitivity (5) fewer than 1 day in 1000 of clean history is flagged (measured: 1
    in 1840 with this seed, 1 in 790 to 5520 over seeds 7 to 9, 1 in 1780 over seeds 1 to 20;
    at sensitivity 4, 1 in 380 over seeds 1 to 20), and a spike of 8 noise deviations on the
    last day is found 19 times in 20 or more (measured: 58 of 60 with this seed, 1170 of 1200
    over seeds 1 to 20; at sensitivity 4, 1199 of 1200)."""
    generator = random.Random(7)
    settings = AnomaliesConfig()
    flagged = checked = caught = 0
    for index in range(60):
        noise = 0.05 if index % 2 else 0.2
        pattern = [1, 1.1, 1.2, 1.1, 1, 0.4, 0.3] if index % 3 else [1.0] * 7
        costs = [
            max(0.0, 100 * pattern[d % 7] * (1 + 0.002 * d) * (1 + generator.gauss(0, noise)))
            for d in range(120)
        ]
        checks = [c for c in check_series(costs, settings) if c is not None]
        flagged += sum(c.flagged for c in checks)
        checked += len(checks)
        expected = 100 * pattern[119 % 7] * (1 + 0.002 * 119)
        spiked = [*costs[:119], expected * (1 + 8 * noise)]
        last = check_series(spiked, settings)[-1]
        caught += bool(last and last.flagged and last.direction == "spike")
    assert checked == 60 * (120 - 28)
    assert flagged / checked < 1 / 1000
    assert caught >= 57


def test_a_weekday_of_credits_scales_the_tolerance_by_its_size() -> None:
    """Weekly, min_percent 0: every seventh day a credit of -50, the other six 99 in one week
    and 101 the next. The weekday medians are -50 and 100 (their mean 550 / 7), so the factors
    are 1.2727 and -0.6364; the level is 78.57 and a credit day's baseline -50. The errors, at
    an average weekday's scale, are +-1 / 1.2727 = +-0.7857 on the other days and 0 on credit
    days: their median 0, their MAD 0.7857, so the tolerance of a credit day is 5 x 1.4826 x
    0.7857 x |-0.6364| = 5 x 1.4826 x 0.5 = 3.71 (a negative factor made it negative: every
    deviation of 1 or more was flagged). -53 (3 below) is not flagged, -55 (5 below) is a
    drop, and the clean series flags nothing."""
    settings = AnomaliesConfig(min_percent=0)
    costs = [-50.0 if d % 7 == 6 else (101.0 if (d // 7) % 2 else 99.0) for d in range(90)]
    assert not any(c and c.flagged for c in check_series(costs, settings))
    for cost, flagged in ((-53.0, False), (-55.0, True)):
        check = check_series([*costs, cost], settings)[-1]
        assert check is not None
        assert (round(check.expected, 6), round(check.tolerance, 4)) == (-50.0, 3.7065)
        assert (check.flagged, check.direction) == (flagged, "drop")


def test_a_weekday_that_costs_nothing_counts_any_deviation_of_the_minimum_size() -> None:
    """Weekly: 100 on six days, nothing on the seventh. Its factor is 0, so it has no noise to
    scale (tolerance 0) and its baseline is 0: the minimum size decides, 10 % of the window's
    mean daily cost (600 / 7 = 85.71, so 8.57): 8 is not flagged, 9 is a spike."""
    costs = [0.0 if d % 7 == 6 else 100.0 for d in range(90)]
    for cost, flagged in ((8.0, False), (9.0, True)):
        check = check_series([*costs, cost], AnomaliesConfig())[-1]
        assert check is not None
        assert (check.expected, check.tolerance, round(check.minimum, 2)) == (0.0, 0.0, 8.57)
        assert (check.flagged, check.direction) == (flagged, "spike")


def test_the_direction_is_the_checks_not_the_rounded_amounts() -> None:
    """In yen (no minor unit), with a minimum of 0.3: 100.4 against a baseline of 100 is a
    spike of 0.4, though its cost and baseline both round to 100."""
    check = Check(index=0, expected=100.0, tolerance=0.0, minimum=0.3, deviation=0.4)
    [(direction, [day])] = _runs([check], [Decimal("100.4")], date(2026, 10, 1), "JPY")
    assert (direction, day.cost, day.baseline) == ("spike", Decimal(100), Decimal(100))


def test_the_command_writes_table_json_and_csv(hand: Path) -> None:
    runner = CliRunner()
    base = ["--workspace", str(hand), "report", "anomalies", "--period", "2026-10"]
    as_json = runner.invoke(app, [*base, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.stdout)
    assert [a["size"] for a in payload["anomalies"]] == ["-360.00", "250.00", "100.00", "100.00"]
    as_csv = runner.invoke(app, [*base, "--format", "csv"])
    assert as_csv.stdout.splitlines()[1].startswith(
        "search,uncategorised,AWS,USD,drop,2026-10-20,2026-10-22,3,240.00,600.00,-360.00,"
    )
    table = runner.invoke(app, base)
    assert table.exit_code == 0 and "Anomalies 2026-10" in table.stdout
    assert "not checked (11 days of history, 28 needed)" in table.stdout


def test_a_period_without_a_published_allocation_is_bad_input(hand: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["--workspace", str(hand), "report", "anomalies", "--period", "2026-11"]
    )
    assert result.exit_code == 2
    assert "no published allocation" in result.stderr
    bad = runner.invoke(app, ["--workspace", str(hand), "report", "anomalies", "-p", "2026-13"])
    assert bad.exit_code == 2


@pytest.fixture
def client(hand: Path, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    root = tmp_path / "ws"
    shutil.copytree(hand, root)
    workspace = Workspace.open(root)
    made = {
        who: tokens.create(workspace.control, who, role, granted, "test")
        for who, role, granted in (("analyst", "analyst", []), ("cx", "consumer", ["cc"]))
    }
    try:
        with TestClient(create_app(root)) as found:
            yield found, made
    finally:
        workspace.close()


def test_the_endpoint_answers_analysts_only(client: tuple[TestClient, dict[str, str]]) -> None:
    http, made = client
    url = "/api/v1/periods/2026-10/anomalies"

    def get(who: str, path: str = url) -> Any:
        return http.get(path, headers={"Authorization": f"Bearer {made[who]}"})

    answer = get("analyst")
    assert answer.status_code == 200, answer.text
    assert [a["start"] for a in answer.json()["anomalies"]] == [
        "2026-10-20",
        "2026-10-14",
        "2026-10-27",
        "2026-10-27",
    ]
    assert get("cx").status_code == 403
    # an unallocated period is "not found" over REST (apportion.server maps it)
    assert get("analyst", "/api/v1/periods/2026-11/anomalies").status_code == 404
    assert get("analyst", "/api/v1/periods/2026-13/anomalies").status_code == 422
