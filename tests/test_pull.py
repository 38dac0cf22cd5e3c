"""`apportion pull` against a local fake of the providers' admin APIs (a real HTTP server on
127.0.0.1 serving the documented response shapes): pagination, retries on 429 and 5xx, a
refused key, and the pages kept and ingested. No network."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from typer.testing import CliRunner

from apportion.cli import app
from apportion.pull import PullError, PullSetupError, pull
from apportion.pull.client import ATTEMPTS
from tests.helpers import make_workspace

FIXTURES = Path(__file__).parent / "ingest" / "fixtures"
KEY = "sk-admin-not-a-real-key"


def _pages(name: str) -> list[dict[str, Any]]:
    found = json.loads((FIXTURES / name).read_text())
    return found if isinstance(found, list) else [found]


# the moderations endpoint's documented shape: one day, one project, free of charge
MODERATIONS: dict[str, Any] = {
    "object": "page",
    "data": [
        {
            "object": "bucket",
            "start_time": 1790812800,
            "end_time": 1790899200,
            "results": [
                {
                    "object": "organization.usage.moderations.result",
                    "input_tokens": 52000,
                    "num_model_requests": 130,
                    "project_id": "proj_support",
                    "user_id": None,
                    "api_key_id": None,
                    "model": "omni-moderation-2024-09-26",
                }
            ],
        }
    ],
    "has_more": False,
    "next_page": None,
}


QUIET: dict[str, Any] = {"object": "page", "data": [], "has_more": False, "next_page": None}
_QUIET_KINDS = ("images", "audio_speeches", "audio_transcriptions")


class FakeAdminApi:
    """Serves each path's pages in order, linked by next_page; ``failures`` lists status codes
    to answer first, per path."""

    def __init__(self) -> None:
        costs, usage = _pages("openai-costs.json"), _pages("openai-usage.json")
        completions = {**usage[0], "has_more": False, "next_page": None}
        self.routes: dict[str, list[dict[str, Any]]] = {
            "/v1/organization/costs": costs,
            "/v1/organization/usage/completions": [completions],
            "/v1/organization/usage/embeddings": [usage[1]],
            "/v1/organization/usage/moderations": [MODERATIONS],
            # no images or audio this month: a page without results
            **{f"/v1/organization/usage/{kind}": [QUIET] for kind in _QUIET_KINDS},
            "/v1/organizations/cost_report": _pages("anthropic-cost-report.json"),
            "/v1/organizations/usage_report/messages": _pages("anthropic-usage-report.json"),
        }
        self.failures: dict[str, list[int]] = {}
        self.requests: list[tuple[str, list[tuple[str, str]], dict[str, str]]] = []

    def answer(self, path: str, query: list[tuple[str, str]]) -> tuple[int, dict[str, Any]]:
        if self.failures.get(path):
            status = self.failures[path].pop(0)
            return status, {"error": {"message": f"fake {status}", "type": "fake"}}
        pages = self.routes.get(path)
        if pages is None:
            return 404, {"error": {"message": "no such path"}}
        cursor = dict(query).get("page")
        index = int(cursor.removeprefix("p")) if cursor else 0
        page = dict(pages[index])
        more = index + 1 < len(pages)
        page.update(has_more=more, next_page=f"p{index + 1}" if more else None)
        return 200, page


@pytest.fixture
def fake() -> Iterator[tuple[FakeAdminApi, str]]:
    api = FakeAdminApi()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qsl(url.query)
            api.requests.append((url.path, query, dict(self.headers)))
            good = self.headers.get("Authorization") == f"Bearer {KEY}" or (
                self.headers.get("x-api-key") == KEY
                and self.headers.get("anthropic-version") == "2023-06-01"
            )
            status, body = (
                (401, {"error": {"message": "invalid key"}})
                if not good
                else (api.answer(url.path, query))
            )
            data = json.dumps(body).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _env(url: str, key: str = KEY) -> dict[str, str]:
    return {
        "OPENAI_ADMIN_KEY": key,
        "APPORTION_OPENAI_API_URL": url,
        "ANTHROPIC_ADMIN_KEY": key,
        "APPORTION_ANTHROPIC_API_URL": url,
    }


def test_pull_reads_every_page_retries_and_ingests(
    tmp_path: Path, fake: tuple[FakeAdminApi, str]
) -> None:
    api, url = fake
    api.failures = {"/v1/organization/costs": [429], "/v1/organization/usage/embeddings": [503]}
    ws = make_workspace(tmp_path / "ws")
    slept: list[float] = []
    results = pull(
        ws, "openai", date(2026, 10, 9), date(2026, 10, 31), environ=_env(url), sleep=slept.append
    )
    found = {r.source: (r.rows, r.quarantined, r.periods) for r in results}
    assert found == {
        "openai-costs": (6, 2, ["2026-10"]),
        "openai-usage-completions": (4, 0, ["2026-10"]),
        "openai-usage-embeddings": (3, 0, ["2026-10"]),  # images are usage too
        "openai-usage-moderations": (1, 0, ["2026-10"]),
        "openai-usage-images": (0, 0, []),
        "openai-usage-audio-speeches": (0, 0, []),
        "openai-usage-audio-transcriptions": (0, 0, []),
    }
    # the 429 said Retry-After: 0; the 503 had none, so the first back-off (1 s)
    assert slept == [0.0, 1.0]
    costs = [(q, h) for path, q, h in api.requests if path == "/v1/organization/costs"]
    assert len(costs) == 3  # the 429, then two pages
    first, headers = costs[0]
    # whole months: from 1 October, up to the end of the 31st
    assert ("start_time", "1790812800") in first and ("end_time", "1793491200") in first
    assert [v for k, v in first if k == "group_by"] == ["project_id", "line_item"]
    assert ("page", "p1") in costs[2][0]
    assert headers["Authorization"] == f"Bearer {KEY}"
    kept = sorted(p.name for p in (ws.root / "pulled").iterdir())
    assert kept == [
        "openai-costs-2026-10.json",
        "openai-usage-audio-speeches-2026-10.json",
        "openai-usage-audio-transcriptions-2026-10.json",
        "openai-usage-completions-2026-10.json",
        "openai-usage-embeddings-2026-10.json",
        "openai-usage-images-2026-10.json",
        "openai-usage-moderations-2026-10.json",
    ]
    for path in (ws.root / "pulled").iterdir():
        assert KEY not in path.read_text()
    # the same month pulled again is the same content: nothing changes
    again = pull(ws, "openai", date(2026, 10, 1), date(2026, 10, 31), environ=_env(url))
    assert {r.status for r in again} == {"unchanged"}


def test_anthropic_pull_sends_its_headers_and_reads_cents(
    tmp_path: Path, fake: tuple[FakeAdminApi, str]
) -> None:
    api, url = fake
    ws = make_workspace(tmp_path / "ws")
    results = pull(ws, "anthropic", date(2026, 10, 1), date(2026, 10, 31), environ=_env(url))
    assert {r.source: r.rows for r in results} == {"anthropic-costs": 5, "anthropic-usage": 4}
    path, query, headers = api.requests[0]
    assert path == "/v1/organizations/cost_report"
    assert ("starting_at", "2026-10-01T00:00:00Z") in query
    assert ("ending_at", "2026-11-01T00:00:00Z") in query
    assert [v for k, v in query if k == "group_by[]"] == ["workspace_id", "description"]
    assert headers["x-api-key"] == KEY


def test_a_refused_or_missing_key_stops_before_anything_is_ingested(
    tmp_path: Path, fake: tuple[FakeAdminApi, str]
) -> None:
    _, url = fake
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(
        PullSetupError, match=r"anthropic refused the admin key \(401: invalid key\)"
    ):
        pull(ws, "anthropic", date(2026, 10, 1), environ=_env(url, key="sk-wrong"))
    with pytest.raises(PullSetupError, match="set OPENAI_ADMIN_KEY"):
        pull(ws, "openai", date(2026, 10, 1), environ={})
    assert not (ws.root / "pulled").exists()


def test_a_provider_that_keeps_failing_is_given_up_on(
    tmp_path: Path, fake: tuple[FakeAdminApi, str]
) -> None:
    api, url = fake
    api.failures = {"/v1/organization/costs": [500] * ATTEMPTS}
    ws = make_workspace(tmp_path / "ws")
    slept: list[float] = []
    with pytest.raises(PullError, match=f"costs: the API answered 500, {ATTEMPTS} times"):
        pull(
            ws,
            "openai",
            date(2026, 10, 1),
            date(2026, 10, 31),
            environ=_env(url),
            sleep=slept.append,
        )
    assert slept == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_pull_command(
    tmp_path: Path, fake: tuple[FakeAdminApi, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = fake
    make_workspace(tmp_path / "ws").close()
    for name, value in _env(url).items():
        monkeypatch.setenv(name, value)
    base = ["--workspace", str(tmp_path / "ws"), "pull"]
    runner = CliRunner()
    done = runner.invoke(
        app, [*base, "anthropic", "--since", "2026-10-01", "--until", "2026-10-31"]
    )
    assert done.exit_code == 0, done.output
    assert "anthropic-costs-2026-10.json: loaded as focus (source anthropic-costs), 5 rows" in (
        done.output
    )
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "sk-wrong")
    refused = runner.invoke(app, [*base, "anthropic", "--since", "2026-10-01"])
    assert refused.exit_code == 2
    assert "sk-wrong" not in refused.output


def test_a_quiet_month_and_a_mid_month_until_read_whole_months(
    tmp_path: Path, fake: tuple[FakeAdminApi, str]
) -> None:
    api, url = fake
    day = {"object": "bucket", "start_time": 1790812800, "end_time": 1790899200, "results": []}
    quiet = {"object": "page", "data": [day], "has_more": False, "next_page": None}
    api.routes["/v1/organization/usage/embeddings"] = [quiet]
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(PullSetupError, match="--until 2026-10-15 is before --since 2026-10-20"):
        pull(ws, "openai", date(2026, 10, 20), date(2026, 10, 15), environ=_env(url))
    results = pull(ws, "openai", date(2026, 10, 1), date(2026, 10, 15), environ=_env(url))
    assert {r.source: r.rows for r in results}["openai-usage-embeddings"] == 0
    first = next(q for path, q, _ in api.requests if path == "/v1/organization/costs")
    assert ("end_time", "1793491200") in first  # the end of October, not the 16th


def test_a_page_that_promises_more_without_a_cursor_stops_the_pull(
    tmp_path: Path, fake: tuple[FakeAdminApi, str]
) -> None:
    api, url = fake
    broken = [{**_pages("anthropic-cost-report.json")[0], "has_more": True}]
    api.routes["/v1/organizations/cost_report"] = broken
    api.answer = lambda path, query: (200, api.routes[path][0])  # type: ignore[method-assign]
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(PullError, match="page 1 says more follow but gives no next_page"):
        pull(ws, "anthropic", date(2026, 10, 1), date(2026, 10, 31), environ=_env(url))
