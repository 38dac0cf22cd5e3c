"""The disputed amount means one thing everywhere (issue 23): the part of the line the payer
believes is wrongly charged, to be taken off it. The web form, the API's schema and the CLI
(tests/test_ledger_cli.py) name it in the same words, and an amount given on the web is shown
as that amount on the dispute's page, in its JSON and as the admin's amount to take off. A
disputed charge is reassigned only to a cost centre that exists."""

from __future__ import annotations

import re

from apportion.ledger.disputes import DISPUTED_AMOUNT, DISPUTED_AMOUNT_MEANS
from tests.api.conftest import Server
from tests.api.ids import look_up
from tests.web.test_pages import PAGES, sign_in

WORDS = f"{DISPUTED_AMOUNT}: {DISPUTED_AMOUNT_MEANS}."


def test_the_web_form_and_the_api_schema_say_the_same_thing(server: Server) -> None:
    schema = server.client.get("/openapi.json").json()["components"]["schemas"]
    claimed = schema["DisputeRequest"]["properties"]["claimed_amount"]
    assert (claimed["title"], claimed["description"]) == (DISPUTED_AMOUNT, WORDS)
    sign_in(server, "cx")
    page = server.client.get(look_up(server).url(PAGES + "/lines/{line_cx_gpu}")).text
    label = re.search(r'<label for="claimed_amount">([^<]*)</label>', page)
    assert label, page
    assert label[1] == f"{DISPUTED_AMOUNT} (USD, optional): {DISPUTED_AMOUNT_MEANS}"
    assert "think is right" not in page


def test_an_amount_disputed_on_the_web_is_that_amount_everywhere(server: Server) -> None:
    ids = look_up(server)
    sign_in(server, "cx")
    line_url = ids.url(PAGES + "/lines/{line_cx_gpu}")
    token = server.client.get("/api/v1/me").json()["csrf_token"]
    opened = server.client.post(
        f"{line_url}/disputes",
        data={"reason": "half was a test", "claimed_amount": "2.50", "csrf_token": token},
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    number = int(opened.headers["location"].rsplit("/", 1)[1])
    twin = server.get("admin", f"/api/v1/disputes/{number}").json()
    assert (twin["claimed_amount"], twin["line_amount"]) == ("2.50", "6.00")
    reviewed = server.client.post(
        f"/api/v1/disputes/{number}/review", headers=server.headers("admin"), json={}
    )
    assert reviewed.status_code == 200, reviewed.text
    sign_in(server, "admin")
    page = server.client.get(f"/disputes/{number}").text
    assert '<dt>Amount disputed</dt><dd id="amount-disputed">2.50 USD' in page
    assert "<dt>line amount</dt><dd>6.00 USD</dd>" in page
    assert re.search(r'id="accept-amount"[^>]* value="2.50"', page)  # what the admin takes off


def test_a_charge_is_reassigned_only_to_a_cost_centre_that_exists(server: Server) -> None:
    ids = look_up(server)
    opened = server.client.post(
        ids.url("{base}/lines/{line_cx_gpu}/disputes"),
        headers=server.headers("cx"),
        json={"reason": "theirs"},
    )
    assert opened.status_code == 201, opened.text
    number = opened.json()["id"]
    admin = server.headers("admin")
    assert server.client.post(
        f"/api/v1/disputes/{number}/review", headers=admin, json={}
    ).is_success
    decision = {"amount": "1.00", "reason": "theirs", "reassign_to": "opz"}
    refused = server.client.post(f"/api/v1/disputes/{number}/accept", headers=admin, json=decision)
    assert refused.status_code == 422, refused.text
    assert "--reassign-to 'opz' is not a payer of 2026-10" in refused.text
    assert server.get("admin", f"/api/v1/disputes/{number}").json()["state"] == "under_review"
    decision["reassign_to"] = "ops"
    taken = server.client.post(f"/api/v1/disputes/{number}/accept", headers=admin, json=decision)
    assert taken.status_code == 200, taken.text
    assert taken.json()["state"] == "accepted"
