"""A consumer walks the demo in Debian's chromium (Playwright, never a downloaded browser):
overview -> its cost centre -> a statement line -> the bill lines behind it -> opens a
dispute, explains a line of its monthly review, and finds another cost centre's page is not
there. Screenshots of each step are kept
in test-artifacts/ (APPORTION_TEST_ARTIFACTS)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from apportion.access import tokens
from apportion.server import create_app
from apportion.workspace import Workspace
from tests.conftest import BuiltDemo

CHROMIUM = Path(os.environ.get("APPORTION_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(
    os.environ.get("APPORTION_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)
PERIOD = "2026-10"
CENTRE = "fraud-ops"

pytestmark = pytest.mark.xdist_group("demo")


def _chromium() -> Path:
    if CHROMIUM.is_file():
        return CHROMIUM
    message = f"Debian's chromium is not at {CHROMIUM}: apt-get install -y chromium"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI installs it (.ci/run): never skip there
    pytest.skip(message)


@pytest.fixture
def served(demo: BuiltDemo, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The demo, copied, served on a free port in this process; and a consumer token."""
    root = tmp_path / "demo"
    shutil.copytree(demo.root, root)
    workspace = Workspace.open(root)
    token = tokens.create(workspace.control, "fraud-analyst", "consumer", [CENTRE], "test")
    workspace.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(root), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            pytest.fail("the server did not start")
        threading.Event().wait(0.05)
    yield f"http://127.0.0.1:{port}", token
    server.should_exit = True
    thread.join(timeout=10)


def test_a_consumer_walks_down_to_the_bill_lines_and_disputes(
    served: tuple[str, str],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, token = served
    browser_path = _chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(browser_path))
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))

        page.goto(base + "/")
        expect(page).to_have_url(base + "/login?next=%2F")
        page.fill("#token", token)
        page.click("form.login button")
        expect(page).to_have_url(f"{base}/periods/{PERIOD}")
        expect(page.locator("h1")).to_have_text(f"AI cost, {PERIOD}")
        # a consumer's overview: its one cost centre, nobody else's
        expect(page.locator("#by-cost-centre tbody tr")).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "1-overview.png"), full_page=True)

        page.click(f"#by-cost-centre a:text-is('{CENTRE}')")
        expect(page).to_have_url(f"{base}/periods/{PERIOD}/cost-centres/{CENTRE}")
        rows = page.locator("#lines tbody tr")
        assert rows.count() > 5
        # the filter swaps the table in place (htmx) and keeps only matching lines
        page.fill("#q", "self_hosted_compute")
        expect(rows.first).to_contain_text("self_hosted_compute")
        expect(page.locator("#lines tbody tr:not(:has-text('self_hosted_compute'))")).to_have_count(
            0
        )
        page.screenshot(path=str(ARTIFACTS / "2-cost-centre.png"), full_page=True)

        link = page.locator("a.line-link").first
        amount = link.inner_text()
        link.click()
        expect(page.locator("dl.facts dd.big")).to_have_text(amount)
        expect(page.locator("#allocations tbody tr").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "3-line.png"), full_page=True)
        line_url = page.url

        page.click("#bill-lines-link")
        expect(page.locator("#bill-lines tbody tr").first).to_be_visible()
        assert "no bill line matches" not in page.locator("#bill-lines").inner_text()
        # the export is every match, with the browser's session
        export = page.locator("#csv-export").get_attribute("href")
        assert export is not None and "format=csv" in export
        downloaded = page.request.get(base + export)
        assert downloaded.ok and downloaded.headers["content-type"].startswith("text/csv")
        listed = page.locator("#bill-lines p").first.inner_text()
        total = int(listed.rsplit("·", 1)[1].split()[0].replace(",", ""))
        assert len(downloaded.text().strip().splitlines()) == 1 + total
        page.screenshot(path=str(ARTIFACTS / "4-bill-lines.png"), full_page=True)

        page.goto(line_url)
        page.fill("#reason", "our GPU jobs were paused that week")
        page.click("#dispute-form button")
        expect(page.locator("#dispute-state")).to_have_text("open")
        expect(page.locator("dl.facts")).to_contain_text("our GPU jobs were paused that week")
        page.screenshot(path=str(ARTIFACTS / "5-dispute.png"), full_page=True)

        # the monthly review: the consumer explains the first of its lines that moved
        page.goto(f"{base}/periods/{PERIOD}/cost-review")
        form = page.locator("#review form").first
        expect(form).to_be_visible()
        form.locator("input[name=text]").fill("new fraud model rolled out on the 12th")
        form.locator("button").click()
        expect(page.locator("#review")).to_contain_text("new fraud model rolled out on the 12th")
        expect(page.locator("#review")).to_contain_text("token:fraud-analyst")
        page.screenshot(path=str(ARTIFACTS / "6-review.png"), full_page=True)

        assert problems == []  # no script error, no missing asset on the way
        # another cost centre is not there for this consumer
        answer = page.goto(f"{base}/periods/{PERIOD}/cost-centres/marketing")
        assert answer is not None and answer.status == 404
        browser.close()
    assert (ARTIFACTS / "5-dispute.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
