"""LiteLLM spend logs as drivers: a shared project's invoice split by what each use case sent
through the gateway, exactly."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from apportion.schema import tables as t
from tests.helpers import allocate, billed_by, ingest, make_workspace, write_focus

LOGS = Path(__file__).parent / "fixtures" / "litellm-spend-logs.csv"
POLICY = "tags: {allowed: {use_case: [support-bot, doc-search, fraud]}}\n"

pytestmark = pytest.mark.usefixtures("engine")


def test_spend_logs_become_tokens_and_spend_drivers(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", extra=POLICY)
    [result] = ingest(ws, LOGS)
    # five requests, two rows each; the fifth's spend ("lots") is refused with its line
    assert (result.kind, result.rows, result.quarantined) == ("drivers", 9, 1)
    rows = ws.data.to_arrow(
        ws.data.table(t.DRIVERS).filter(lambda d: d.driver == "llm_spend").order_by(t.ROW_NUMBER)
    ).to_pylist()
    found = [
        (row[t.ROW_NUMBER], row["quantity"], dict(row["dimensions"]).get("use_case"))
        for row in rows
    ]
    # "Support Bot" in the metadata is the catalogue's support-bot; a request tag wins over
    # metadata (line 4 says fraud in its metadata, support-bot in its tags)
    assert found == [
        (2, D("0.0012"), "support-bot"),
        (3, D("0.0008"), "doc-search"),
        (4, D("0.0010"), "support-bot"),
        (5, D("0.0020"), None),
    ]
    assert dict(rows[1]["dimensions"])["cost_centre"] == "search"  # cost_centre=search
    assert {row["resource_id"] for row in rows} == {"openai-shared"}


def test_a_shared_project_is_split_by_gateway_spend(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path / "ws",
        "rules:\n  - {name: shared, match: \"SubAccountId = 'proj_shared'\", method: activity,\n"
        "     driver: llm_spend, window: day}\n",
        extra=POLICY,
    )
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {"SubAccountId": "proj_shared", "BilledCost": "10",
             "ChargePeriodStart": "2026-10-01T00:00:00Z"},
            {"SubAccountId": "proj_shared", "BilledCost": "6",
             "ChargePeriodStart": "2026-10-02T00:00:00Z"},
        ],
    )  # fmt: skip
    ingest(ws, bill, LOGS)
    allocate(ws)
    # 1 October: 0.0012 to 0.0008 of spend; 2 October: 0.0010 named, 0.0020 naming no use case
    assert billed_by(ws, "use_case") == {
        "support-bot": D(6) + D(2),
        "doc-search": D(4),
        "__unallocated__": D(4),
    }


def test_spend_written_with_float_noise_is_a_weight_rounded_to_12_places(tmp_path: Path) -> None:
    lines = LOGS.read_text(encoding="utf-8").splitlines()
    noisy = lines[1].replace(",0.0012,", ",0.00030849999999999996,")
    logs = tmp_path / "logs.csv"
    logs.write_text("\n".join([lines[0], noisy]) + "\n", encoding="utf-8")
    ws = make_workspace(tmp_path / "ws", extra=POLICY)
    [result] = ingest(ws, logs)
    assert (result.rows, result.quarantined) == (2, 0)
    spend = ws.data.to_arrow(
        ws.data.table(t.DRIVERS).filter(lambda d: d.driver == "llm_spend")
    ).to_pylist()
    assert [row["quantity"] for row in spend] == [D("0.000308500000")]
