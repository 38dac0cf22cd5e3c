"""Business metrics sent to the API are ingested like a file: bad rows quarantined with their
row and reason, the figures then in the unit economics, the upload in the audit log."""

from __future__ import annotations

from apportion.control.audit import entries
from tests.api.conftest import Server
from tests.api.ids import BASE


def test_an_admin_uploads_business_metrics_and_cost_per_decision_follows(server: Server) -> None:
    rows = [
        {"period": "2026-10", "use_case": "bot", "decisions": 1000, "unit": "answers"},
        {"period": "2026-10", "use_case": "etl", "decisions": "12.5", "cost_saved": "90"},
        {"period": "2026-10", "use_case": "bot", "decisions": "lots"},
    ]
    body = {"source": "product-analytics", "rows": rows}
    sent = server.client.post(
        "/api/v1/business-metrics", headers=server.headers("admin"), json=body
    )
    assert sent.status_code == 200, sent.text
    found = sent.json()
    assert (found["kind"], found["rows"], found["quarantined"]) == ("metrics", 2, 1)
    economics = server.get("analyst", f"{BASE}/unit-economics").json()
    by_name = {u["use_case"]: u for u in economics["use_cases"]}
    # bot: 10.01 + 6.00 + 60.00 over 1000 answers; etl: 36.33 over 12.5, value 90
    assert by_name["bot"]["cost_per_decision"] == "0.0760100000"
    assert by_name["etl"]["cost_per_decision"] == "2.9064000000"
    assert by_name["etl"]["margin"] == "53.67"
    log = [(e.actor, e.action, e.subject) for e in entries(server.workspace.control)]
    assert ("token:admin", "metrics.ingest", "source product-analytics") in log
    again = server.client.post(
        "/api/v1/business-metrics", headers=server.headers("admin"), json=body
    )
    assert again.json()["status"] == "unchanged"


def test_only_admins_upload_and_a_bad_body_is_422(server: Server) -> None:
    body = {"source": "x", "rows": [{"period": "2026-10", "use_case": "bot", "decisions": 1}]}
    for who, status in (("analyst", 403), ("cx", 403), ("anonymous", 401)):
        answer = server.client.post(
            "/api/v1/business-metrics", headers=server.headers(who), json=body
        )
        assert answer.status_code == status, who
    for bad in ({"source": "../etc", "rows": body["rows"]}, {"source": "x", "rows": []}):
        answer = server.client.post(
            "/api/v1/business-metrics", headers=server.headers("admin"), json=bad
        )
        assert answer.status_code == 422
