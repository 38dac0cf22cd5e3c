"""An allocation started through the API runs in the background: the server answers other
requests while it runs, and the job reports its progress and outcome."""

from __future__ import annotations

import threading
import time

import pytest

import apportion.api.work
from apportion.allocate.plan import AllocationError
from apportion.api.jobs import Job, Jobs
from tests.api.conftest import Server
from tests.api.ids import BASE


def test_requests_are_answered_while_an_allocation_runs(server: Server) -> None:
    jobs: Jobs = server.client.app.state.jobs  # type: ignore[attr-defined]
    running = threading.Event()
    release = threading.Event()

    def hold(job: Job, message: str) -> None:
        # the allocation waits here, mid-run, until the test has been served
        if not running.is_set():
            running.set()
            release.wait(timeout=60)

    jobs.listeners.append(hold)
    started = server.client.post(f"{BASE}/allocate", headers=server.headers("admin"))
    assert started.status_code == 202
    job_id = started.json()["id"]
    assert running.wait(timeout=60)
    try:
        status = server.get("admin", f"/api/v1/jobs/{job_id}").json()
        assert status["state"] == "running"
        overview = server.get("cx", f"{BASE}/overview")
        assert overview.status_code == 200
        assert overview.json()["totals"][0]["total"] == "76.01"
    finally:
        release.set()
    status = finished(server, job_id)
    assert status["state"] == "succeeded", status
    result = status["result"]
    assert isinstance(result, dict) and result["published"] is True
    assert status["progress"]
    runs = server.workspace.control.runs("2026-10")
    assert runs[-1].run_id == result["run_id"]


def finished(server: Server, job_id: str) -> dict[str, object]:
    for _ in range(600):
        status: dict[str, object] = server.get("admin", f"/api/v1/jobs/{job_id}").json()
        if status["state"] not in ("queued", "running"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_a_failed_job_says_why(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(*args: object, **kwargs: object) -> None:
        raise AllocationError("the driver file went away")

    monkeypatch.setattr(apportion.api.work, "allocate_period", fails)
    started = server.client.post(f"{BASE}/allocate", headers=server.headers("admin"))
    assert started.status_code == 202
    status = finished(server, started.json()["id"])
    assert status["state"] == "failed"
    assert "the driver file went away" in str(status["error"])


def test_allocating_a_closed_period_is_409_at_once(server: Server) -> None:
    """The README promises 409; a job that fails later in the background is no answer."""
    admin = server.headers("admin")
    assert server.client.post(f"{BASE}/review", headers=admin).status_code == 200
    closed = server.client.post(f"{BASE}/close", headers=admin, json={})
    assert closed.status_code == 200, closed.text
    runs = len(server.workspace.control.runs("2026-10"))
    answer = server.client.post(f"{BASE}/allocate", headers=admin)
    assert answer.status_code == 409
    assert "apportion period adjust" in answer.json()["detail"]
    assert len(server.workspace.control.runs("2026-10")) == runs


def test_allocating_a_period_with_no_bills_is_refused_at_once(server: Server) -> None:
    started = server.client.post(
        "/api/v1/periods/2031-01/allocate", headers=server.headers("admin")
    )
    assert started.status_code == 422, started.text
    assert "period 2031-01 has no cost lines" in started.text
    assert server.workspace.control.runs("2031-01") == []
