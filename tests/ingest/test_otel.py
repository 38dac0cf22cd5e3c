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
    # four spans with token usage, one of them with 12.5 input tokens (refused); a health
    # check span without usage is skipped and counted
    assert (result.kind, result.rows, result.quarantined) == ("drivers", 3, 1)
    assert "skipped 1 spans without token usage" in result.notes
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
    [bad] = ws.data.to_arrow(ws.data.table(t.QUARANTINE)).to_pylist()
    assert bad["line"] == 2 and "'12.5 tokens' is not a number" in bad["reason"]


def test_an_export_of_the_wrong_shape_is_refused_whole(tmp_path: Path) -> None:
    broken = tmp_path / "spans.jsonl"
    broken.write_text('{"resourceSpans": [{"scopeSpans": ["not a scope"]}]}\n')
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(FileError, match="line 1 is not an OTLP trace export"):
        ingest(ws, broken, fmt="otel")
