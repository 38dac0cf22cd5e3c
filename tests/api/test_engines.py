"""The drill-down's scoped queries on each engine: the same walk from a consumer's line to its
bill lines and driver rows gives the same answers on DuckDB and on Spark."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from apportion.access import tokens
from apportion.server import create_app
from tests.api.cases import PERIOD, RULES, write_bill, write_driver_rows
from tests.helpers import allocate, ingest, make_workspace

BASE = f"/api/v1/periods/{PERIOD}"


@pytest.mark.usefixtures("engine")
def test_a_consumers_drill_down_on_either_engine(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws", RULES)
    ingest(workspace, write_bill(tmp_path / "bill.csv"), write_driver_rows(tmp_path / "d.csv"))
    allocate(workspace, PERIOD)
    secret = tokens.create(workspace.control, "cx", "consumer", ["cx"], "test")
    workspace.close()
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(tmp_path / "ws")) as client:
        statement = client.get(f"{BASE}/cost-centres/cx", headers=headers).json()
        lines = {line["rule"]: line for line in statement["lines"]}
        assert {rule: line["amount"] for rule, line in lines.items()} == {
            "tagged": "10.01",
            "gpu": "6.00",
            "shared-services": "60.00",
        }
        gpu = client.get(f"{BASE}/lines/{lines['gpu']['line_id']}", headers=headers).json()
        [allocation] = gpu["allocations"]
        assert allocation["share"] == "0.666667"
        drivers = client.get(
            f"{BASE}/pools/{allocation['pool_id']}/drivers", headers=headers
        ).json()
        assert [row["dimensions"]["cost_centre"] for row in drivers["rows"]] == ["cx"]
        shared = client.get(
            f"{BASE}/bill-lines",
            headers=headers,
            params={"line": lines["shared-services"]["line_id"]},
        ).json()
        assert [row["ServiceName"] for row in shared["rows"]] == ["Databricks Platform"]
        every = client.get(f"{BASE}/bill-lines", headers=headers).json()
        assert sorted(row["ResourceId"] for row in every["rows"]) == ["dbx", "gpu-1", "proj-bot"]
        assert (
            client.get(f"{BASE}/bill-lines", headers=headers, params={"q": "stray"}).json()["rows"]
            == []
        )
