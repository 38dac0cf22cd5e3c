"""Forecasts over the REST API, on the organisation of tests/api/cases.py: in 2026-10 cx/bot
cost 10.01 + 6.00 + 60.00 = 76.01 and ops/etl 3.33 + 3.00 + 30.00 = 36.33.

Forecast cx/bot 80 and ops/etl 30: variances -3.99 and +6.33; WAPE (3.99 + 6.33) / 112.34 =
9.19%. A consumer of cx sees cx/bot's line only, its owner row (cx's own, not olga's of ops)
and its total are cx/bot's alone. With only ops/etl forecast, that consumer sees no line, no
owner and no total, and cx/bot's 76.01 as cost nobody forecast (never ops's or the
unallocated cost)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apportion.analyse.forecasts import submitted
from tests.api.cases import PERIOD
from tests.api.conftest import Server

ROWS = [
    {"period": PERIOD, "cost_centre": "cx", "use_case": "bot", "amount": 80, "currency": "USD"},
    {
        "period": PERIOD,
        "cost_centre": "ops",
        "use_case": "etl",
        "amount": "30.00",
        "currency": "USD",
        "owner": "olga",
    },
]


def post(server: Server, who: str, rows: list[dict[str, object]]) -> Any:
    return server.client.post("/api/v1/forecasts", json={"rows": rows}, headers=server.headers(who))


def test_submit_and_report_forecast_to_actual(server: Server) -> None:
    answer = post(server, "analyst", ROWS)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "source": "api",
        "created": 2,
        "replaced": 0,
        "unchanged": 0,
        "removed": 0,
        "periods": [PERIOD],
    }
    report = server.get("analyst", f"/api/v1/periods/{PERIOD}/forecast").json()
    assert [
        (r["cost_centre"], r["owner"], r["actual"], r["variance"]) for r in report["lines"]
    ] == [
        ("cx", "cx", "76.01", "-3.99"),
        ("ops", "olga", "36.33", "6.33"),
    ]
    assert report["totals"][0]["wape_percent"] == "9.19"
    assert [o["owner"] for o in report["owners"]] == ["cx", "olga"]
    mine = server.get("cx", f"/api/v1/periods/{PERIOD}/forecast").json()
    assert [r["cost_centre"] for r in mine["lines"]] == ["cx"]
    assert [(o["owner"], o["forecast"], o["actual"]) for o in mine["owners"]] == [
        ("cx", "80.00", "76.01")
    ]
    assert [(t["forecast"], t["actual"]) for t in mine["totals"]] == [("80.00", "76.01")]
    assert mine["not_forecast"] == []  # cx has no other line; the others' are not its to see
    # the analyst sees the cost nobody forecast: the untagged line, unallocated
    assert [(r["cost_centre"], r["actual"]) for r in report["not_forecast"]] == [
        ("__unallocated__", "1.00")
    ]


def test_a_consumer_sees_its_own_cost_nobody_forecast(server: Server) -> None:
    assert post(server, "analyst", ROWS[1:]).status_code == 200  # ops/etl only
    mine = server.get("cx", f"/api/v1/periods/{PERIOD}/forecast").json()
    assert (mine["lines"], mine["owners"], mine["totals"]) == ([], [], [])
    assert mine["not_forecast"] == [
        {"cost_centre": "cx", "use_case": "bot", "currency": "USD", "actual": "76.01"}
    ]
    theirs = server.get("ops", f"/api/v1/periods/{PERIOD}/forecast").json()
    assert [(o["owner"], o["actual"]) for o in theirs["owners"]] == [("olga", "36.33")]
    assert theirs["not_forecast"] == []


def test_a_consumer_submits_for_its_own_cost_centres_only(server: Server) -> None:
    refused = post(server, "cx", ROWS)
    assert refused.status_code == 403
    assert "row 2: cost centre 'ops' is not yours" in refused.text
    assert submitted(server.workspace, PERIOD) == {}  # all or nothing
    assert post(server, "cx", ROWS[:1]).status_code == 200
    assert submitted(server.workspace, PERIOD) == {("cx", "bot", "USD"): Decimal("80.00")}


def test_a_bad_row_is_422_and_writes_nothing(server: Server) -> None:
    bad = [ROWS[0], {**ROWS[1], "amount": "30.001"}]
    answer = post(server, "admin", bad)
    assert answer.status_code == 422
    assert "row 2: amount 30.001 has more decimal places" in answer.text
    assert submitted(server.workspace, PERIOD) == {}
    assert post(server, "unknown", ROWS).status_code == 401


def test_the_baseline_is_for_admins_and_analysts(server: Server) -> None:
    found = server.get("analyst", f"/api/v1/periods/{PERIOD}/forecast/baseline")
    assert found.status_code == 200
    assert found.json()["baselines"] == [] and "no history" in found.json()["notes"][0]
    later = server.get("analyst", "/api/v1/periods/2026-11/forecast/baseline").json()
    assert {(b["cost_centre"], b["amount"]) for b in later["baselines"]} >= {
        ("cx", "76.01"),
        ("ops", "36.33"),
    }
    assert server.get("cx", f"/api/v1/periods/{PERIOD}/forecast/baseline").status_code == 403
