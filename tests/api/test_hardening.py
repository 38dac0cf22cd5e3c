"""What a security pass found in the API and pages, each fixed where it happens: a consumer
cannot forecast under another team's owner (a closed period's allocation, 409 at once: see
test_jobs.py); bill lines sort by x_LineId; a cost centre or use case whose name
holds a "/" opens; every JSON answer says Cache-Control: no-store; /openapi.json declares how
to authenticate; a consumer sees rules' names and methods, never what they match or whom
they name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from apportion.access import tokens
from apportion.server import create_app
from tests.api.cases import PERIOD
from tests.api.conftest import Server
from tests.api.ids import BASE
from tests.helpers import allocate, ingest, make_workspace, write_focus


def forecast(server: Server, who: str, **row: Any) -> Any:
    body = {"rows": [{"period": PERIOD, "currency": "USD", "amount": "80", **row}]}
    return server.client.post("/api/v1/forecasts", json=body, headers=server.headers(who))


def test_a_consumer_cannot_forecast_under_another_owner(server: Server) -> None:
    refused = forecast(server, "cx", cost_centre="cx", use_case="bot", owner="olga")
    assert refused.status_code == 403
    assert "owner 'olga'" in refused.json()["detail"]
    assert forecast(server, "cx", cost_centre="cx", use_case="bot", owner="cx").status_code == 200
    assert forecast(server, "cx", cost_centre="cx", use_case="bot").status_code == 200
    # admins and analysts name any owner
    assert forecast(server, "analyst", cost_centre="ops", use_case="etl", owner="olga").is_success


def test_bill_lines_sort_by_their_id_as_the_page_links(reader: Server) -> None:
    for desc in (False, True):
        answer = reader.get("admin", f"{BASE}/bill-lines", sort="x_LineId", desc=desc)
        assert answer.status_code == 200, answer.text
        ids = [row["x_LineId"] for row in answer.json()["rows"]]
        assert ids == sorted(ids, reverse=desc) and len(ids) == 5
    page = reader.get("admin", f"/periods/{PERIOD}/bill-lines", sort="x_LineId")
    assert page.status_code == 200
    assert "sort=x_LineId" in page.text  # the column's link, which now opens


def test_json_answers_are_not_cached(reader: Server) -> None:
    for url in ("/api/v1/me", f"{BASE}/overview", f"{BASE}/bill-lines?format=csv"):
        answer = reader.get("admin", url)
        assert answer.status_code == 200, url
        assert answer.headers["cache-control"] == "no-store", url
    assert reader.client.get("/api/v1/me").headers["cache-control"] == "no-store"  # a 401 too


def test_openapi_declares_the_bearer_token_and_the_session(reader: Server) -> None:
    schema = reader.client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    bearer = next(s for s in schemes.values() if s["type"] == "http")
    assert bearer["scheme"].lower() == "bearer"
    statement = schema["paths"]["/api/v1/periods/{period}/cost-centres/{name}"]["get"]
    assert statement["security"]


def test_a_consumer_sees_rule_names_and_methods_only(reader: Server) -> None:
    full = reader.get("admin", "/api/v1/rules").json()
    assert full[1]["match"] == "ResourceId = 'gpu-1'"
    assert full[2]["shares"] == {"use_case": {"shared-services": "100"}}
    mine = reader.get("cx", "/api/v1/rules").json()
    assert [r["name"] for r in mine] == [r["name"] for r in full]
    assert mine[1] == {
        "name": "gpu",
        "method": "proportional",
        "driver": "gpu_seconds",
        "window": "day",
    }
    assert all(set(r) <= {"name", "method", "driver", "window"} for r in mine)
    page = reader.get("cx", "/rules").text
    assert "ResourceId" not in page and "shared-services 100" not in page
    staff = reader.get("analyst", "/rules").text
    assert "ResourceId" in staff and "shared-services 100" in staff


def test_names_with_a_slash_open(tmp_path: Path) -> None:
    rules = "rules:\n  - name: tagged\n    match: \"tags['use_case'] IS NOT NULL\"\n"
    rules += "    method: direct\n"
    workspace = make_workspace(tmp_path / "ws", rules)
    bill = write_focus(
        tmp_path / "bill.csv",
        [{"BilledCost": "5", "Tags": {"use_case": "fraud/scorer", "cost_centre": "eu/risk"}}],
    )
    ingest(workspace, bill)
    allocate(workspace, PERIOD)
    token = tokens.create(workspace.control, "root", "admin", [], "test")
    workspace.close()
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(tmp_path / "ws")) as client:
        listed = client.get(f"{BASE}/cost-centres", headers=headers).json()
        assert "eu/risk" in listed
        for url in (
            f"{BASE}/cost-centres/eu/risk",
            f"{BASE}/cost-centres/eu%2Frisk",
            f"{BASE}/use-cases/fraud/scorer",
            f"/periods/{PERIOD}/cost-centres/eu/risk",
            f"/periods/{PERIOD}/use-cases/fraud/scorer",
        ):
            answer = client.get(url, headers=headers)
            assert answer.status_code == 200, (url, answer.text[:300])
        statement = client.get(f"{BASE}/cost-centres/eu/risk", headers=headers).json()
        assert statement["payer"] == "eu/risk"
