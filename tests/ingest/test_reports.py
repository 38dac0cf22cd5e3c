"""Provider cost reports as FOCUS cost lines: OpenAI's Costs API pages (dollars) and
Anthropic's cost report (cents as decimal strings), from fixtures written to the documented
response shapes, with totals checked by hand."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from apportion.cli import app
from apportion.engine.dataplane import FileError
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import allocate, billed_by, ingest, make_workspace

FIXTURES = Path(__file__).parent / "fixtures"
OPENAI = FIXTURES / "openai-costs.json"
ANTHROPIC = FIXTURES / "anthropic-cost-report.json"

pytestmark = pytest.mark.usefixtures("engine")


def _lines(ws: Workspace) -> list[dict[str, Any]]:
    return _rows(ws, t.COST_LINES, t.ROW_NUMBER)


def _quarantined(ws: Workspace) -> list[dict[str, Any]]:
    return _rows(ws, t.QUARANTINE, "line")


def _rows(ws: Workspace, table: str, order: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ws.data.to_arrow(ws.data.table(table).order_by(order)).to_pylist()
    return rows


def test_openai_costs_pages_are_read_exactly_as_dollars(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, OPENAI)
    assert (result.kind, result.rows, result.quarantined) == ("focus", 6, 2)
    assert "read as OpenAI Costs API pages (openai-costs)" in result.notes
    lines = _lines(ws)
    # 12.3456789 + 4.2 + 0.1 + 0.2 + 7.05 + 1.000000001, each read as written (no float)
    assert sum(line["BilledCost"] for line in lines) == D("24.895678901")
    first = lines[0]
    assert first["ProviderName"] == "OpenAI"
    assert first["ServiceCategory"] == "AI and Machine Learning"
    assert (first["SkuId"], first["SkuMeter"]) == ("gpt-4.1-mini-2025-04-14", "input")
    assert (first["SubAccountId"], first["ResourceId"]) == ("proj_support", "proj_support")
    assert first["BillingCurrency"] == "USD"
    assert str(first["ChargePeriodStart"]) == "2026-10-01 00:00:00"
    assert {line[t.BILLING_PERIOD] for line in lines} == {"2026-10"}
    assert {line[t.CATEGORY] for line in lines} == {"foundation_model_api"}
    image = next(line for line in lines if line["ChargeDescription"] == "Image models")
    assert image["SubAccountId"] is None and image["SkuMeter"] is None
    # the results' positions in the file: the 7th has a currency that is not one, the 8th
    # no amount at all; both are kept with their reason, not lost and not read as zero
    bad = _quarantined(ws)
    assert [(row["line"], row["file"]) for row in bad] == [
        (7, "openai-costs.json"),
        (8, "openai-costs.json"),
    ]
    assert "'USDX' is not an ISO 4217 currency code" in str(bad[0]["reason"])
    assert "(no amount in the report)" in str(bad[1]["reason"])


@pytest.mark.spark_full
def test_anthropic_cost_report_amounts_are_cents(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, ANTHROPIC)
    assert (result.rows, result.quarantined) == (5, 1)
    lines = _lines(ws)
    # 123.45 + 987.654321 + 10.5 + 250 + 0.01 cents = 1371.614321 cents, not dollars
    assert sum(line["BilledCost"] for line in lines) == D("13.71614321")
    assert lines[0]["BilledCost"] == D("1.2345")
    assert (lines[0]["SkuId"], lines[0]["SkuMeter"]) == (
        "claude-sonnet-4-5-20250929",
        "uncached_input_tokens",
    )
    assert lines[0]["SubAccountId"] == "wrkspc_01SupportBot"
    assert dict(lines[0][t.EXTENSIONS])["x_service_tier"] == "standard"
    web = next(line for line in lines if line["ChargeDescription"] == "Web Search Usage")
    assert web["SubAccountId"] is None  # the default workspace
    assert dict(web[t.EXTENSIONS])["x_cost_type"] == "web_search"
    [bad] = _quarantined(ws)
    assert bad["line"] == 6 and "'twelve' is not a valid money" in str(bad["reason"])


def test_pages_as_json_lines_and_an_unchanged_reingest(tmp_path: Path) -> None:
    pages = json.loads(OPENAI.read_text())
    lines = tmp_path / "openai-2026-10.jsonl"
    lines.write_text("".join(json.dumps(page) + "\n" for page in pages))
    ws = make_workspace(tmp_path / "ws")
    [first] = ingest(ws, lines)
    assert (first.rows, first.quarantined) == (6, 2)
    [again] = ingest(ws, lines)
    assert again.status == "unchanged"


@pytest.mark.spark_full
def test_a_project_mapping_table_owns_the_openai_bill(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "projects.csv").write_text(
        "SubAccountId,cost_centre,use_case\nproj_support,cx,support-bot\nproj_search,cx,search\n"
    )
    ws = make_workspace(
        tmp_path / "ws",
        'rules:\n  - {name: owned, match: "use_case IS NOT NULL", method: direct}\n',
        extra="tags: {inherit: [{file: projects.csv, column: SubAccountId}]}\n",
    )
    ingest(ws, OPENAI)
    allocate(ws)
    assert billed_by(ws, "use_case") == {
        "support-bot": D("23.5956789"),
        "search": D("0.3"),
        "__unallocated__": D("1.000000001"),
    }


def test_a_named_format_that_does_not_fit_is_refused_whole(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(FileError, match="page 1 is not an OpenAI Costs API page"):
        ingest(ws, ANTHROPIC, fmt="openai-costs")
    broken = tmp_path / "broken.json"
    broken.write_text('{"object": "page", "data": [')
    with pytest.raises(FileError, match=r"broken\.json: line 1 is not valid JSON"):
        ingest(ws, broken, fmt="openai-costs")
    assert _lines(ws) == []


def test_ingest_command_reads_a_report(tmp_path: Path) -> None:
    make_workspace(tmp_path / "ws").close()
    report = tmp_path / "anthropic-2026-10.json"
    shutil.copyfile(ANTHROPIC, report)
    result = CliRunner().invoke(app, ["--workspace", str(tmp_path / "ws"), "ingest", str(report)])
    assert result.exit_code == 0, result.output
    assert "5 rows, 1 quarantined, 2026-10" in result.output
    assert "read as Anthropic cost report pages (anthropic-costs)" in result.output


@pytest.mark.spark_full
def test_audio_tokens_are_read_and_negative_counts_and_nan_are_refused(tmp_path: Path) -> None:
    page = json.loads((FIXTURES / "openai-usage.json").read_text())[0]
    results = page["data"][0]["results"]
    results[0]["input_audio_tokens"] = 500
    results[0]["output_audio_tokens"] = 70
    results[1]["output_tokens"] = -5
    usage = tmp_path / "usage.json"
    usage.write_text(json.dumps(page))
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, usage)
    assert (result.rows, result.quarantined) == (3, 1)
    [audio] = ws.data.to_arrow(
        ws.data.table(t.USAGE).filter(lambda u: u[t.ROW_NUMBER] == 1)
    ).to_pylist()
    assert (audio["input_audio_tokens"], audio["output_audio_tokens"]) == (500, 70)
    [reason] = [str(row["reason"]) for row in _quarantined(ws)]
    assert "output_tokens: '-5' is not a count of 0 or more" in reason
    nan = tmp_path / "nan.json"
    nan.write_text('{"object": "page", "data": [], "has_more": false, "x": NaN}')
    with pytest.raises(FileError, match="NaN is not a number JSON allows"):
        ingest(ws, nan, fmt="openai-costs")


@pytest.mark.spark_full
def test_a_report_without_results_loads_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "quiet.json"
    empty.write_text('{"object": "page", "data": [], "has_more": false, "next_page": null}')
    ws = make_workspace(tmp_path / "ws")
    for fmt in ("openai-costs", "openai-usage", "anthropic-costs", "anthropic-usage"):
        [result] = ingest(ws, empty, fmt=fmt, source=fmt)
        assert (result.rows, result.quarantined, result.periods) == (0, 0, [])
