"""JSON numbers in API bodies are read from their text (apportion.api.exact), never through a
float: business metrics keep 1234567.123456789012345678, a commitment of
1234567890123456.78 is recorded as sent, a forecast of 12345678901234567.89 is not
rounded to ...568, and a claimed or accepted dispute amount of 10.000000000000000001 is refused
as having more decimals than USD instead of silently becoming 10.00. NaN, Infinity and
exponents far beyond money are refused with a 422 that says so."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apportion.analyse.forecasts import submitted
from apportion.api.exact import exact_json
from tests.api.cases import PERIOD
from tests.api.conftest import Server

EXACT = "1234567.123456789012345678"


def post_raw(server: Server, who: str, url: str, body: str) -> Any:
    """A body written by hand, so its numbers are exactly the text of the test."""
    headers = {**server.headers(who), "Content-Type": "application/json"}
    return server.client.post(url, content=body.encode(), headers=headers)


def test_business_metrics_keep_every_digit(server: Server) -> None:
    body = (
        '{"source": "exact", "rows": [{"period": "2026-10", "use_case": "bot", '
        f'"decisions": 1000, "revenue": {EXACT}, "currency": "USD"}}]}}'
    )
    answer = post_raw(server, "admin", "/api/v1/business-metrics", body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == 1
    data = server.workspace.data
    [row] = data.to_arrow(data.table("business_metrics")).to_pylist()
    assert row["revenue"] == Decimal(EXACT)


def test_a_commitment_amount_is_recorded_as_sent(server: Server) -> None:
    body = (
        '{"name": "big", "kind": "prepaid-credit", "provider": "OpenAI", '
        '"amount": 1234567890123456.78, "currency": "USD", '
        '"start": "2026-10-01", "end": "2027-09-30"}'
    )
    answer = post_raw(server, "admin", "/api/v1/commitments", body)
    assert answer.status_code == 201, answer.text
    assert Decimal(answer.json()["amount"]) == Decimal("1234567890123456.78")
    too_fine = body.replace("1234567890123456.78", EXACT)
    refused = post_raw(server, "admin", "/api/v1/commitments", too_fine)
    assert refused.status_code == 422
    assert "decimal" in refused.text


def test_a_forecast_amount_is_not_rounded_through_a_float(server: Server) -> None:
    body = (
        '{"rows": [{"period": "2026-10", "cost_centre": "cx", "use_case": "bot", '
        '"amount": 12345678901234567.89, "currency": "USD"}]}'
    )
    answer = post_raw(server, "analyst", "/api/v1/forecasts", body)
    assert answer.status_code == 200, answer.text
    assert list(submitted(server.workspace, PERIOD).values()) == [Decimal("12345678901234567.89")]


@pytest.mark.parametrize("field", ["claimed_amount", "amount"])
def test_a_dispute_amount_is_not_rounded_to_cents_through_a_float(
    server: Server, field: str
) -> None:
    lines = server.get("cx", f"/api/v1/periods/{PERIOD}/cost-centres/cx").json()["lines"]
    line_id = lines[0]["line_id"]
    url = f"/api/v1/periods/{PERIOD}/lines/{line_id}/disputes"
    claim = '{"reason": "too much", "claimed_amount": 2.000000000000000001}'
    if field == "claimed_amount":
        answer = post_raw(server, "cx", url, claim)
    else:
        opened = post_raw(server, "cx", url, '{"reason": "too much"}')
        assert opened.status_code == 201, opened.text
        number = opened.json()["id"]
        decision = '{"reason": "ok", "amount": 2.000000000000000001}'
        answer = post_raw(server, "admin", f"/api/v1/disputes/{number}/accept", decision)
    assert answer.status_code in (409, 422), answer.text
    assert "decimal" in answer.text


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e99999999", "1e-99999999"])
def test_numbers_no_amount_can_be_are_refused_with_a_422(server: Server, number: str) -> None:
    body = (
        '{"source": "bad", "rows": [{"period": "2026-10", "use_case": "bot", '
        f'"revenue": {number}, "currency": "USD"}}]}}'
    )
    answer = post_raw(server, "admin", "/api/v1/business-metrics", body)
    assert answer.status_code == 422, answer.text
    assert number.lstrip("-")[:3] in answer.json()["detail"]


def test_exact_json_reads_decimals_and_keeps_integers() -> None:
    assert exact_json(b'{"a": 0.1, "b": 3, "c": [1e-7]}') == {
        "a": Decimal("0.1"),
        "b": 3,
        "c": [Decimal("1e-7")],
    }


money = st.decimals(
    min_value=Decimal("-1e19"), max_value=Decimal("1e19"), allow_nan=False, places=18
)


@settings(max_examples=300, deadline=None)
@given(amount=money)
def test_random_decimals_cross_a_json_body_exactly(amount: Decimal) -> None:
    """A JSON number written from a decimal's text reaches the models, and the text the
    upload writes for the reader, with every digit (a float would keep about 17)."""
    from apportion.api.uploads import _cell
    from apportion.api.v1 import MetricsUpload

    text = f"{amount:f}"
    body = (
        '{"source": "s", "rows": [{"period": "2026-10", "use_case": "bot", '
        f'"revenue": {text}, "cost_saved": {amount:E}}}]}}'
    )
    [row] = MetricsUpload.model_validate(exact_json(body.encode())).rows
    assert row.revenue == amount and row.cost_saved == amount
    assert Decimal(_cell(row.revenue)) == amount
