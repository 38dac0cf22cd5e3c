"""Pages: signed-out visitors go to /login; each page shows what its JSON twin says, with
money as the statements show it; another cost centre's pages are 404 for a consumer, as in
the API; forms without the session's CSRF token change nothing."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import Server
from tests.api.ids import BASE, look_up

PAGES = f"/periods/{BASE.rsplit('/', 1)[1]}"


def sign_in(server: Server, who: str) -> None:
    answer = server.login(server.tokens[who])
    assert answer.status_code == 303


def test_signed_out_visitors_are_sent_to_sign_in_and_back(server: Server) -> None:
    answer = server.client.get(f"{PAGES}/cost-centres/cx", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fperiods%2F2026-10%2Fcost-centres%2Fcx"
    back = server.login(server.tokens["cx"], next=f"{PAGES}/cost-centres/cx")
    assert back.headers["location"] == f"{PAGES}/cost-centres/cx"
    elsewhere = server.login(server.tokens["cx"], next="//evil.example")
    assert elsewhere.headers["location"] == "/"


def test_pages_show_the_statement_figures(server: Server) -> None:
    sign_in(server, "analyst")
    overview = server.client.get(PAGES).text
    assert "113.34" in overview and "76.01" in overview and "<svg" in overview
    assert "<script" not in overview.split("</head>", 1)[1]  # charts carry no script
    statement = server.client.get(f"{PAGES}/cost-centres/cx").text
    for amount in ("10.01 USD", "6.00 USD", "60.00 USD"):
        assert amount in statement
    assert 'href="/api/v1/periods/2026-10/cost-centres/cx"' in statement  # its JSON twin


def test_a_statement_table_sorts_and_filters_on_the_server(server: Server) -> None:
    sign_in(server, "cx")
    page = server.client.get(f"{PAGES}/cost-centres/cx", params={"sort": "amount", "desc": 1})
    amounts = re.findall(r'class="line-link">([0-9.,]+) USD', page.text)
    assert amounts == ["60.00", "10.01", "6.00"]
    filtered = server.client.get(f"{PAGES}/cost-centres/cx", params={"q": "gpu"})
    assert re.findall(r'class="line-link">([0-9.,]+) USD', filtered.text) == ["6.00"]


def test_a_consumer_gets_404_pages_for_other_cost_centres(server: Server) -> None:
    ids = look_up(server)
    sign_in(server, "cx")
    for url in [
        f"{PAGES}/cost-centres/ops",
        f"{PAGES}/use-cases/etl",
        ids.url(PAGES + "/lines/{line_ops_tagged}"),
        ids.url(PAGES + "/pools/{pool_ops_tagged}"),
        ids.url(PAGES + "/pools/{pool_ops_tagged}/drivers"),
        ids.url(PAGES + "/bill-lines/{bill_3}"),
        ids.url(PAGES + "/bill-lines?line={line_ops_tagged}"),
    ]:
        answer = server.client.get(url)
        assert answer.status_code == 404, url
        assert "Not found" in answer.text
    listing = server.client.get(f"{PAGES}/bill-lines", params={"q": "etl"}).text
    assert "etl-cluster" not in listing and "no bill line matches" in listing
    assert server.client.get(f"{PAGES}/coverage").status_code == 403
    assert server.client.get(f"{PAGES}/unit-economics").status_code == 403


def test_a_dispute_opened_from_a_page_needs_the_forms_csrf_token(server: Server) -> None:
    ids = look_up(server)
    sign_in(server, "cx")
    line_url = ids.url(PAGES + "/lines/{line_cx_gpu}")
    page = server.client.get(line_url).text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert token
    forged = server.client.post(f"{line_url}/disputes", data={"reason": "forged"})
    assert forged.status_code == 403
    opened = server.client.post(
        f"{line_url}/disputes",
        data={"reason": "no GPU that day", "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert opened.status_code == 303
    dispute = server.client.get(opened.headers["location"]).text
    assert "no GPU that day" in dispute and 'id="dispute-state">open<' in dispute
    [listed] = server.client.get("/api/v1/disputes").json()
    assert (listed["opened_by"], listed["reason"]) == ("token:cx", "no GPU that day")


@pytest.mark.parametrize(
    "url", ["/periods/2026-13", f"{PAGES}/bill-lines?limit=0", f"{PAGES}/lines/nope"]
)
def test_bad_page_parameters_are_422_pages(server: Server, url: str) -> None:
    sign_in(server, "analyst")
    answer = server.client.get(url)
    assert answer.status_code == 422
    assert "text/html" in answer.headers["content-type"]


def test_pages_carry_a_content_security_policy(server: Server) -> None:
    sign_in(server, "analyst")
    answer = server.client.get(PAGES)
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    portfolio = server.client.get(f"{PAGES}/unit-economics")
    assert portfolio.status_code == 200 and 'id="unit-economics"' in portfolio.text
    assert answer.headers["cache-control"] == "no-store"


def test_a_form_amount_that_is_not_a_number_is_422_not_a_crash(server: Server) -> None:
    ids = look_up(server)
    sign_in(server, "cx")
    line_url = ids.url(PAGES + "/lines/{line_cx_gpu}")
    token = server.client.get("/api/v1/me").json()["csrf_token"]
    for amount in ("abc", "NaN", "1e999999"):
        answer = server.client.post(
            f"{line_url}/disputes",
            data={"reason": "x", "claimed_amount": amount, "csrf_token": token},
        )
        assert answer.status_code == 422, (amount, answer.text)
    assert server.client.get("/api/v1/disputes").json() == []


def test_the_operating_cycles_pages_show_their_twins_figures(server: Server) -> None:
    """One month and no forecasts: nothing forecast, every series too new to check, and the
    maturity stage with its next step; consumers see their own forecasts page only."""
    sign_in(server, "analyst")
    forecast = server.client.get(f"{PAGES}/forecast")
    assert forecast.status_code == 200
    assert "nothing was forecast for 2026-10" in forecast.text
    anomalies = server.client.get(f"{PAGES}/anomalies").text
    twin = server.client.get(f"/api/v1{PAGES}/anomalies").json()
    assert f"{twin['series_checked']} daily series checked" in anomalies
    assert f"{len(twin['not_checked'])} series with too little history" in anomalies
    maturity = server.client.get(f"{PAGES}/maturity").text
    stage = server.client.get(f"/api/v1{PAGES}/maturity").json()["stage"]
    assert f'id="maturity-stage">{stage}<' in maturity and 'id="next-step"' in maturity
    sign_in(server, "cx")
    assert server.client.get(f"{PAGES}/forecast").status_code == 200
    assert server.client.get(f"{PAGES}/anomalies").status_code == 403
    assert server.client.get(f"{PAGES}/maturity").status_code == 403
