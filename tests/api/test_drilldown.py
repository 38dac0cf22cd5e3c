"""The drill-down's figures and what each caller sees in them: from a cx line to its
allocations, pools, bill lines and driver rows, with ops's cost nowhere in a cx consumer's
answers (not in lists, searches, filters or exports)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient

from apportion.access import tokens
from apportion.server import create_app
from tests.api.conftest import Server
from tests.api.ids import BASE, look_up
from tests.helpers import allocate, ingest, make_workspace, write_drivers, write_focus

GPU = {"timestamp": "2026-10-03T10:00:00Z", "driver": "gpu_seconds", "resource_id": "gpu-1"}
REQUESTS = {"timestamp": "2026-10-05T00:00:00Z", "driver": "requests"}


def test_overview_adds_up_the_statement_lines(reader: Server) -> None:
    found = reader.get("analyst", f"{BASE}/overview").json()
    [totals] = found["totals"]
    assert totals == {
        "currency": "USD",
        "total": "113.34",
        "chargeback": "10.01",
        "showback": "103.33",
        "unallocated": "1.00",
        "unallocated_by_reason": {"no rule matched": "1.00"},
    }
    by_method = {row["method"]: row["amount"] for row in found["by_method"]}
    assert by_method == {
        "activity": "90.00",
        "direct": "13.34",
        "proportional": "9.00",
        "unallocated": "1.00",
    }
    by_centre = {row["cost_centre"]: row["amount"] for row in found["by_cost_centre"]}
    assert by_centre == {"cx": "76.01", "ops": "36.33", "__unallocated__": "1.00"}


def test_a_consumer_overview_is_its_own_cost_only(reader: Server) -> None:
    found = reader.get("cx", f"{BASE}/overview").json()
    assert found["totals"][0]["total"] == "76.01"
    assert found["totals"][0]["unallocated"] == "0.00"
    assert found["totals"][0]["unallocated_by_reason"] == {}  # not a consumer's to see
    assert [row["cost_centre"] for row in found["by_cost_centre"]] == ["cx"]
    assert reader.get("cx", f"{BASE}/cost-centres").json() == ["cx"]


def test_a_line_lists_the_allocations_behind_it_with_their_shares(reader: Server) -> None:
    ids = look_up(reader)
    found = reader.get("cx", f"{BASE}/lines/{ids.lines[('cx', 'gpu')]}").json()
    assert found["line"]["amount"] == "6.00"
    [allocation] = found["allocations"]
    assert allocation["method"] == "proportional"
    assert allocation["driver"] == "gpu_seconds"
    assert (allocation["quantity"], allocation["pool_quantity"]) == (
        "2.000000000000",
        "3.000000000000",
    )
    assert allocation["share"] == "0.666667"
    assert Decimal(allocation["amount"]) == Decimal(6)
    assert found["exact_total"] == "6.000000000000000000"


def test_a_line_traced_to_its_bill_lines_adds_up_to_it(reader: Server) -> None:
    ids = look_up(reader)
    url = f"{BASE}/lines/{ids.lines[('cx', 'gpu')]}/trace"
    found = reader.get("cx", url).json()
    assert found["total"] == "6.00"
    assert sum(Decimal(row["to_line"]) for row in found["bill_lines"]) == Decimal("6.00")
    assert {row["share"] for row in found["bill_lines"]} == {"66.666667"}  # 2 of 3 seconds
    assert reader.get("ops", url).status_code == 404  # not ops's line to see


def test_a_cascaded_line_walks_back_to_the_platform_bill(reader: Server) -> None:
    ids = look_up(reader)
    line = ids.lines[("cx", "shared-services")]
    pool = reader.get("cx", f"{BASE}/pools/{ids.pools[('cx', 'shared-services')]}").json()
    assert pool["members_are"] == "allocations"
    assert [p["pool_id"] for p in pool["filled_by"]] == [ids.platform_pool]
    # the consumer sees its own allocation of the shared pool, not ops's
    assert [a["dimensions"]["cost_centre"] for a in pool["allocations"]] == ["cx"]
    bills = reader.get("cx", f"{BASE}/bill-lines", line=line).json()
    assert [row["x_LineId"] for row in bills["rows"]] == [ids.bill_lines[5]]
    assert bills["rows"][0]["ServiceName"] == "Databricks Platform"


def test_driver_rows_are_the_callers_targets_only(reader: Server) -> None:
    ids = look_up(reader)
    url = f"{BASE}/pools/{ids.pools[('cx', 'gpu')]}/drivers"
    mine = reader.get("cx", url).json()
    assert [(r["quantity"], r["dimensions"]["cost_centre"]) for r in mine["rows"]] == [
        ("2.000000000000", "cx")
    ]
    every = reader.get("analyst", url).json()
    assert sorted(r["dimensions"]["cost_centre"] for r in every["rows"]) == ["cx", "ops"]
    assert (every["driver"], every["window"], every["resource"]) == ("gpu_seconds", "day", "gpu-1")


def test_bill_lines_search_filter_and_export_stay_in_scope(reader: Server) -> None:
    ids = look_up(reader)
    listed = reader.get("cx", f"{BASE}/bill-lines").json()
    assert sorted(row["x_LineId"] for row in listed["rows"]) == sorted(
        ids.bill_lines[n] for n in (2, 4, 5)
    )
    assert listed["page"]["total"] == 3
    # ops's line and the unallocated one cannot be found by searching or filtering for them
    for params in ({"q": "etl-cluster"}, {"ResourceId": "stray"}, {"q": "STRAY"}):
        assert reader.get("cx", f"{BASE}/bill-lines", **params).json()["rows"] == []
    assert len(reader.get("analyst", f"{BASE}/bill-lines", q="STRAY").json()["rows"]) == 1
    exported = reader.get("cx", f"{BASE}/bill-lines", format="csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "etl-cluster" not in exported.text and "stray" not in exported.text
    assert len(exported.text.strip().splitlines()) == 1 + 3


def test_bill_lines_sort_and_paginate_on_the_server(reader: Server) -> None:
    pages = [
        reader.get(
            "analyst", f"{BASE}/bill-lines", sort="BilledCost", desc="true", limit=2, offset=n
        ).json()
        for n in (0, 2, 4)
    ]
    costs = [Decimal(row["BilledCost"]) for page in pages for row in page["rows"]]
    assert costs == [Decimal(90), Decimal("10.005"), Decimal(9), Decimal("3.333"), Decimal(1)]
    assert pages[0]["page"] == {"offset": 0, "limit": 2, "total": 5}


def test_bad_parameters_are_422_with_the_reason(reader: Server) -> None:
    for url, params in [
        (f"{BASE}/bill-lines", {"sort": "DROP TABLE"}),
        (f"{BASE}/bill-lines", {"limit": 0}),
        (f"{BASE}/bill-lines", {"limit": 10_000}),
        (f"{BASE}/bill-lines", {"offset": -1}),
        (f"{BASE}/bill-lines", {"line": "not-a-line"}),
        ("/api/v1/periods/2026-13/overview", {}),
        (f"{BASE}/lines/xyz", {}),
        # a NUL would reach the engine's SQL as a literal it cannot parse
        (f"{BASE}/bill-lines", {"q": "\x00"}),
        (f"{BASE}/bill-lines", {"ProviderName": "a\x00b", "format": "csv"}),
        (f"{BASE}/pools/abc/drivers", {"allocation_id": "\x00"}),
    ]:
        answer = reader.get("analyst", url, **params)
        assert answer.status_code == 422, (url, params, answer.text)
        assert answer.json()["detail"]


def test_a_period_without_allocation_is_404_with_what_to_do(reader: Server) -> None:
    answer = reader.get("analyst", "/api/v1/periods/2025-01/lines/0123456789abcdef")
    assert answer.status_code == 404
    answer = reader.get("analyst", "/api/v1/periods/2025-01/bill-lines")
    assert answer.status_code == 404
    assert "apportion allocate --period 2025-01" in answer.json()["detail"]


CASCADE = """rules:
  - name: gpu
    match: "ResourceId = 'gpu-1'"
    method: proportional
    driver: gpu_seconds
    window: day
  - name: platform-svc
    match: "use_case = 'platform-svc'"
    method: activity
    driver: requests
    window: month
"""


def test_an_earlier_split_to_another_cost_centre_is_not_shown(tmp_path: Path) -> None:
    """The gpu pool goes to cx/bot, to ops/etl and to ops's platform-svc, which a later rule
    splits again (some of it to cx): cx sees the pool and its own share, not ops's."""
    workspace = make_workspace(tmp_path / "ws", CASCADE)
    bill = write_focus(
        tmp_path / "b.csv", [{"BilledCost": "8", "EffectiveCost": "8", "ResourceId": "gpu-1"}]
    )
    drivers = write_drivers(
        tmp_path / "d.csv",
        [
            {**GPU, "quantity": "2", "use_case": "bot", "cost_centre": "cx"},
            {**GPU, "quantity": "1", "use_case": "platform-svc", "cost_centre": "ops"},
            {**GPU, "quantity": "1", "use_case": "etl", "cost_centre": "ops"},
            {**REQUESTS, "quantity": "1", "use_case": "bot", "cost_centre": "cx"},
            {**REQUESTS, "quantity": "1", "use_case": "etl", "cost_centre": "ops"},
        ],
    )
    ingest(workspace, bill, drivers)
    allocate(workspace, "2026-10")
    secret = tokens.create(workspace.control, "cx", "consumer", ["cx"], "test")
    workspace.close()
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(tmp_path / "ws")) as client:
        statement = client.get(f"{BASE}/cost-centres/cx", headers=headers).json()
        lines = {line["rule"]: line for line in statement["lines"]}
        assert {rule: line["amount"] for rule, line in lines.items()} == {
            "gpu": "4.00",
            "platform-svc": "1.00",
        }
        behind = client.get(f"{BASE}/lines/{lines['gpu']['line_id']}", headers=headers).json()
        gpu_pool = behind["allocations"][0]["pool_id"]
        pool = client.get(f"{BASE}/pools/{gpu_pool}", headers=headers).json()
        assert [a["dimensions"]["cost_centre"] for a in pool["allocations"]] == ["cx"]
        rows = client.get(f"{BASE}/pools/{gpu_pool}/drivers", headers=headers).json()["rows"]
        assert [row["dimensions"]["cost_centre"] for row in rows] == ["cx"]
