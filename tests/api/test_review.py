"""The monthly review over REST and on its page, on the API organisation (tests/api/cases.py)
with a review threshold of 5 and 10% for every category. 2026-09 has nothing, so every line
is new and judged on the absolute threshold alone:

- cx / bot: foundation_model_api 10.01 and uncategorised 66.00 (gpu 6.00 + shared 60.00);
- ops / etl: uncategorised 36.33;
- __unallocated__: 1.00, within the threshold.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from apportion.control.audit import entries
from tests.api.conftest import Server, serving
from tests.api.ids import BASE

THRESHOLD = 'review:\n  thresholds:\n    - {category: "*", absolute: 5, percent: 10}\n'
REVIEW = f"{BASE}/cost-review"
PAGE = REVIEW.removeprefix("/api/v1")


@pytest.fixture
def reviewing(allocated: Path, tmp_path: Path) -> Iterator[Server]:
    configured = tmp_path / "configured"
    shutil.copytree(allocated, configured)
    config = configured / "apportion.yaml"
    config.write_text(config.read_text() + THRESHOLD)
    with serving(configured, tmp_path / "ws") as found:
        yield found


def lines(answer: dict[str, object]) -> dict[tuple[str, str, str], str]:
    items = answer["items"]
    assert isinstance(items, list)
    return {(i["cost_centre"], i["use_case"], i["category"]): i["status"] for i in items}


def test_each_caller_reviews_the_cost_centres_it_may_see(reviewing: Server) -> None:
    everything = reviewing.get("analyst", REVIEW).json()
    assert lines(everything) == {
        ("cx", "bot", "foundation_model_api"): "needs an explanation",
        ("cx", "bot", "uncategorised"): "needs an explanation",
        ("ops", "etl", "uncategorised"): "needs an explanation",
        ("__unallocated__", "__unallocated__", "uncategorised"): "within threshold",
    }
    assert everything["previous_period"] == "2026-09"
    assert set(lines(reviewing.get("cx", REVIEW).json())) == {
        ("cx", "bot", "foundation_model_api"),
        ("cx", "bot", "uncategorised"),
    }
    assert reviewing.get("anonymous", REVIEW).status_code == 401


def test_a_consumer_explains_its_own_line_and_no_other(reviewing: Server) -> None:
    def explain(who: str, **body: str) -> object:
        return reviewing.client.post(
            f"{REVIEW}/explanations", headers=reviewing.headers(who), json=body
        )

    said = explain(
        "cx",
        cost_centre="cx",
        use_case="bot",
        category="uncategorised",
        text="the GPU pilot started",
    )
    assert said.status_code == 201, said.text
    assert said.json()["explanation"]["explained_by"] == "token:cx"
    ambiguous = explain("cx", cost_centre="cx", use_case="bot", text="why")
    assert ambiguous.status_code == 422 and "name the category" in ambiguous.json()["detail"]
    other = explain("cx", cost_centre="ops", use_case="etl", text="not mine")
    assert other.status_code == 422 and "no review line" in other.json()["detail"]
    assert explain("analyst", cost_centre="cx", use_case="bot", text="x").status_code == 403
    empty = explain("admin", cost_centre="ops", use_case="etl", text="   ")
    assert empty.status_code == 422
    found = reviewing.get("admin", REVIEW).json()
    assert (found["explained"], found["unexplained"]) == (1, 2)
    log = [(e.actor, e.action) for e in entries(reviewing.workspace.control)]
    assert log.count(("token:cx", "review.explain")) == 1


def test_the_review_page_records_an_explanation_with_its_csrf_token(reviewing: Server) -> None:
    assert reviewing.login(reviewing.tokens["ops"]).status_code == 303
    page = reviewing.client.get(PAGE).text
    assert 'id="review"' in page and "etl" in page and "bot" not in page
    token = reviewing.client.get("/api/v1/me").json()["csrf_token"]
    form = {
        "cost_centre": "ops",
        "use_case": "etl",
        "category": "uncategorised",
        "currency": "USD",
        "text": "nightly <backfill>",
    }
    forged = reviewing.client.post(f"{PAGE}/explanations", data=form)
    assert forged.status_code == 403
    sent = reviewing.client.post(
        f"{PAGE}/explanations", data={**form, "csrf_token": token}, follow_redirects=False
    )
    assert sent.status_code == 303
    shown = reviewing.client.get(PAGE).text
    assert "nightly &lt;backfill&gt;" in shown and "token:ops" in shown


def test_thresholds_review_is_for_staff(reviewing: Server) -> None:
    url = "/api/v1/thresholds/review"
    found = reviewing.get("analyst", url, periods=1).json()
    # 2026-10 is the only month allocated: nothing before it to measure movement against
    assert (found["periods"], found["notes"]) == (
        [],
        ["2026-10: 2026-09 has no statement to compare with, not judged"],
    )
    assert reviewing.get("cx", url).status_code == 403
    assert reviewing.get("analyst", url, periods=0).status_code == 422
