"""OpenTelemetry GenAI spans (an OTLP JSON export, one request per line) as driver rows."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from apportion.engine.dataplane import FileError
from apportion.schema import tables as t
from tests.helpers import ingest, make_workspace

SPANS = Path(__file__).parent / "fixtures" / "otel-genai-spans.jsonl"
# the attribute that carries the use case in this export is the service's name
POLICY = "tags: {aliases: {use_case: [service.name], cost_centre: [app.cost_centre]}}\n"

pytestmark = pytest.mark.usefixtures("engine")


def test_genai_spans_become_token_drivers(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", extra=POLICY)
    [result] = ingest(ws, SPANS)
    # four spans with token usage, one of them with 12.5 input tokens (refused as a driver
    # row and as usage); a health check span without usage is skipped and counted
    assert (result.kind, result.rows, result.quarantined) == ("drivers", 3, 2)
    assert "skipped 1 spans without token usage" in result.notes
    assert "3 usage rows beside the drivers" in result.notes
    rows = ws.data.to_arrow(ws.data.table(t.DRIVERS).order_by("timestamp")).to_pylist()
    found = [
        (
            str(row["timestamp"]),
            row["quantity"],
            row["resource_id"],
            dict(row["dimensions"]).get("use_case"),
            dict(row["dimensions"]).get("cost_centre"),
        )
        for row in rows
    ]
    assert found == [
        ("2026-10-01 01:00:00", D(1500), "openai", "support-bot", None),
        # the older gen_ai.system names the provider; the span's own attribute its cost centre
        ("2026-10-01 02:00:00", D(1000), "openai", "support-bot", "cx"),
        # cache reads are part of the input tokens, not added again
        ("2026-10-02 00:00:00", D(6000), "anthropic", "doc-search", None),
    ]
    quarantine = ws.data.to_arrow(ws.data.table(t.QUARANTINE).order_by("kind")).to_pylist()
    assert [(q["kind"], q["line"], q["reason"]) for q in quarantine] == [
        ("driver", 2, "quantity: '12.5 tokens' is not a number"),
        ("usage", 2, "input_tokens: '12.5' is not a count of 0 or more"),
    ]


def test_genai_spans_are_telemetry_usage_with_their_cache_reads(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", extra=POLICY)
    ingest(ws, SPANS)
    rows = ws.data.to_arrow(ws.data.table(t.USAGE).order_by("window_start")).to_pylist()
    found = [
        (
            row["origin"],
            row["ProviderName"],
            row["provider"],
            row["model"],
            row["input_tokens"],
            row["cache_read_tokens"],
            row["output_tokens"],
            row["reported_cost"],
            dict(row["dimensions"] or {}).get("use_case"),
        )
        for row in rows
    ]
    assert found == [
        # the response model (a dated version) over the requested one
        ("telemetry", "OpenAI", "openai", "gpt-4.1-mini-2025-04-14", 1200, 0, 300, None,
         "support-bot"),
        ("telemetry", "OpenAI", "openai", "gpt-4.1-mini", 800, 0, 200, None, "support-bot"),
        # 5,000 input tokens include the 4,000 read from the cache
        ("telemetry", "Anthropic", "anthropic", "claude-haiku-4-5-20251001", 5000, 4000, 1000,
         None, "doc-search"),
    ]  # fmt: skip
    assert rows[0]["window_end"] > rows[0]["window_start"]
    assert dict(rows[0][t.EXTENSIONS])["x_trace_id"] == "5b8efff798038103d269b633813fc60c"


def test_an_export_of_the_wrong_shape_is_refused_whole(tmp_path: Path) -> None:
    broken = tmp_path / "spans.jsonl"
    broken.write_text('{"resourceSpans": [{"scopeSpans": ["not a scope"]}]}\n')
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(FileError, match="line 1 is not an OTLP trace export"):
        ingest(ws, broken, fmt="otel")
