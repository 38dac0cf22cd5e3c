"""LiteLLM spend logs as drivers: a shared project's invoice split by what each use case sent
through the gateway, exactly."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from apportion.engine.dataplane import FileError
from apportion.schema import tables as t
from tests.helpers import allocate, billed_by, ingest, make_workspace, write_focus

LOGS = Path(__file__).parent / "fixtures" / "litellm-spend-logs.csv"
POLICY = "tags: {allowed: {use_case: [support-bot, doc-search, fraud]}}\n"

pytestmark = pytest.mark.usefixtures("engine")


def test_spend_logs_become_tokens_and_spend_drivers(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", extra=POLICY)
    [result] = ingest(ws, LOGS)
    # five requests, two rows each; the fifth's spend ("lots") is refused with its line, as a
    # driver row and as usage
    assert (result.kind, result.rows, result.quarantined) == ("drivers", 9, 2)
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


def _shared_project(tmp_path: Path, logs: Path, rule: str = "") -> dict[str, D]:
    """A shared OpenAI project's 10 on 1 October and 6 on 2 October, split by the gateway's
    spend of the same days: what each use case was allocated."""
    ws = make_workspace(
        tmp_path / "ws",
        "rules:\n  - {name: shared, match: \"SubAccountId = 'proj_shared'\", method: activity,\n"
        f"     driver: llm_spend, window: day{rule}}}\n",
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
    ingest(ws, bill, logs)
    allocate(ws)
    return billed_by(ws, "use_case")


@pytest.mark.spark_full
def test_a_shared_project_is_split_by_gateway_spend(tmp_path: Path) -> None:
    # 1 October: 0.0012 to 0.0008 of spend; 2 October: 0.0010 named, 0.0020 naming no use case
    assert _shared_project(tmp_path, LOGS) == {
        "support-bot": D(6) + D(2),
        "doc-search": D(4),
        "__unallocated__": D(4),
    }


@pytest.mark.spark_full
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


def test_every_request_a_provider_answered_is_gateway_usage(tmp_path: Path) -> None:
    lines = LOGS.read_text(encoding="utf-8").splitlines()
    cached = (
        lines[1]
        .replace("chatcmpl-1", "chatcmpl-6")
        .replace(",False,", ",True,")  # answered from LiteLLM's cache: no provider usage
    )
    # an Anthropic request through the gateway: the cache counts come in its usage object
    usage_object = (
        '"{""use_case"": ""doc-search"", ""usage_object"": {""prompt_tokens"": 5000, '
        '""completion_tokens"": 1000, ""cache_read_input_tokens"": 4000, '
        '""cache_creation_input_tokens"": 500}}"'
    )
    anthropic = (
        "chatcmpl-7,acompletion,5f2b,0.00704999999999999993,6000,5000,1000,"
        "2026-10-03T08:00:00Z,2026-10-03T08:00:04Z,,anthropic/claude-haiku-4-5,m2,haiku,"
        f"anthropic,https://api.anthropic.com,u-1,{usage_object},False,,[],,,,s-7,success"
    )
    logs = tmp_path / "logs.csv"
    logs.write_text("\n".join([*lines, cached, anthropic]) + "\n", encoding="utf-8")
    ws = make_workspace(tmp_path / "ws", extra=POLICY)
    [result] = ingest(ws, logs)
    assert "1 requests answered from the gateway's cache: no usage" in result.notes
    rows = ws.data.to_arrow(ws.data.table(t.USAGE).order_by(t.ROW_NUMBER)).to_pylist()
    found = [
        (
            row[t.ROW_NUMBER],
            row["ProviderName"],
            row["model"],
            row["input_tokens"],
            row["cache_read_tokens"],
            row["cache_write_tokens"],
            row["output_tokens"],
            row["reported_cost"],
            dict(row["dimensions"]).get("use_case"),
        )
        for row in rows
    ]
    assert found == [
        (2, "OpenAI", "gpt-4.1-mini", 1200, 0, 0, 300, D("0.0012"), "support-bot"),
        (3, "OpenAI", "gpt-4.1-mini", 900, 0, 0, 100, D("0.0008"), "doc-search"),
        (4, "OpenAI", "gpt-4.1-mini", 600, 0, 0, 100, D("0.0010"), "support-bot"),
        (5, "OpenAI", "gpt-4.1-mini", 1500, 0, 0, 500, D("0.0020"), None),
        # line 6 ("lots" of spend) is quarantined, line 7 was a cache hit; the model loses its
        # provider prefix and the float's noise is rounded to the 18 places money keeps
        (8, "Anthropic", "claude-haiku-4-5", 5000, 4000, 500, 1000, D("0.00705"), "doc-search"),
    ]
    assert {(row["origin"], row["requests"]) for row in rows} == {("gateway", 1)}
    assert dict(rows[0][t.EXTENSIONS])["x_request_id"] == "chatcmpl-1"


@pytest.mark.spark_full
def test_a_shared_project_is_split_by_its_own_model_groups_traffic(tmp_path: Path) -> None:
    # the gateway also carried an Anthropic request for fraud on 1 October: it is not the
    # OpenAI project's traffic, so driver_resource leaves it out of the split
    haiku = (
        "chatcmpl-9,acompletion,5f2b,0.005,6000,5000,1000,2026-10-01T12:00:00Z,"
        "2026-10-01T12:00:04Z,,claude-haiku-4-5,m2,haiku,anthropic,,,"
        '"{""use_case"": ""fraud""}",False,,[],,,,s-9,success'
    )
    logs = tmp_path / "logs.csv"
    logs.write_text(LOGS.read_text(encoding="utf-8") + haiku + "\n", encoding="utf-8")
    assert _shared_project(tmp_path, logs, ", driver_resource: openai-shared") == {
        "support-bot": D(6) + D(2),
        "doc-search": D(4),
        "__unallocated__": D(4),
    }


def test_a_zero_or_huge_spend_is_no_reported_cost_and_no_traceback(tmp_path: Path) -> None:
    lines = LOGS.read_text(encoding="utf-8").splitlines()
    unknown = lines[1].replace(",0.0012,", ",0,")  # LiteLLM could not cost the model
    huge = lines[2].replace(",0.0008,", ",1e400,")
    logs = tmp_path / "logs.csv"
    logs.write_text("\n".join([lines[0], unknown, huge]) + "\n", encoding="utf-8")
    ws = make_workspace(tmp_path / "ws", extra=POLICY)
    ingest(ws, logs)
    [usage] = ws.data.to_arrow(ws.data.table(t.USAGE)).to_pylist()
    assert (usage[t.ROW_NUMBER], usage["reported_cost"]) == (2, None)
    reasons = ws.data.to_arrow(ws.data.table(t.QUARANTINE).order_by("kind")).to_pylist()
    assert [(q["kind"], q["line"]) for q in reasons] == [("driver", 3), ("usage", 3)]
    assert "is not a number" in reasons[1]["reason"]


def test_a_gateway_log_may_not_share_a_source_with_a_usage_report(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", extra=POLICY)
    ingest(ws, LOGS.parent / "openai-usage.json", source="openai")
    with pytest.raises(
        FileError, match="source 'openai' holds provider usage; this file's gateway"
    ):
        ingest(ws, LOGS, source="openai")
    assert ws.data.scalar(ws.data.table(t.USAGE).count()) == 7  # the report's rows stay


@pytest.mark.spark_full
def test_a_log_loaded_before_logs_gave_usage_loads_its_usage(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", extra=POLICY)
    ingest(ws, LOGS)
    # as a workspace that loaded this log before gateway usage existed holds it
    ws.data.delete(t.USAGE, {t.SOURCE: "litellm-spend-logs", t.BILLING_PERIOD: ["2026-10"]})
    ws.data.delete(t.QUARANTINE, {t.SOURCE: "litellm-spend-logs", "kind": "usage"})
    [again] = ingest(ws, LOGS)
    assert again.status == "replaced"
    assert ws.data.scalar(ws.data.table(t.USAGE).count()) == 4
    [unchanged] = ingest(ws, LOGS)
    assert unchanged.status == "unchanged"
