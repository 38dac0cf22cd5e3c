"""Usage reports read as token usage, priced, and reconciled against the invoices, on fixtures
written to the providers' documented shapes; every figure worked by hand from the list prices
(gpt-4.1-mini $0.40 / $0.10 cached / $1.60 output, gpt-4.1 $0.50 cached, text-embedding-3-large
$0.13, claude-sonnet-4-5 $3 / $0.30 cache read / $15 output and $6 / $0.60 / $7.50 / $12 /
$22.50 in the long-context tier, claude-haiku-4-5 $1, web search $10 a thousand)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from apportion.cli import app
from apportion.periods import Period
from apportion.pricing.reconcile import reconcile
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import ingest, make_workspace, write_focus

FIXTURES = Path(__file__).parent / "ingest" / "fixtures"
BILLS = [FIXTURES / "openai-costs.json", FIXTURES / "anthropic-cost-report.json"]
USAGE = [FIXTURES / "openai-usage.json", FIXTURES / "anthropic-usage-report.json"]
OCTOBER = Period.parse("2026-10")

pytestmark = pytest.mark.usefixtures("engine")


def _usage(ws: Workspace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ws.data.to_arrow(
        ws.data.table(t.USAGE).order_by(["ProviderName", t.ROW_NUMBER])
    ).to_pylist()
    return rows


def test_usage_reports_become_token_usage(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    openai, anthropic = ingest(ws, *USAGE)
    assert (openai.kind, openai.rows, openai.quarantined) == ("usage", 7, 0)
    assert (anthropic.kind, anthropic.rows, anthropic.quarantined) == ("usage", 4, 0)
    rows = _usage(ws)
    support = rows[0]  # Anthropic first: uncached 411,500 + cache read 350,000
    assert (support["account_id"], support["input_tokens"], support["cache_read_tokens"]) == (
        "wrkspc_01SupportBot",
        761_500,
        350_000,
    )
    long = rows[3]  # every input token: 20,000 uncached + 30,000 read + 4,000 + 1,000 written
    assert (long["input_tokens"], long["cache_write_tokens"], long["cache_write_1h_tokens"]) == (
        55_000,
        4_000,
        1_000,
    )
    assert long["long_context"] is True
    assert rows[2]["batch"] is True  # service_tier batch
    web = rows[1]
    assert (web["account_id"], web["web_searches"]) == (None, 250)
    # OpenAI's input_tokens already include the cached ones
    first = rows[4]
    assert (first["input_tokens"], first["cache_read_tokens"], first["requests"]) == (
        20_000_000,
        2_000_000,
        10_000,
    )
    assert first["api_key_id"] == "key_support_web"
    # four generated images, their size kept beside them
    [images] = [row for row in rows if row["model"] == "gpt-image-1"]
    assert (images["model"], images["images"], images["input_tokens"]) == ("gpt-image-1", 4, 0)
    assert dict(images[t.EXTENSIONS])["x_size"] == "1024x1024"
    assert ws.data.scalar(ws.data.table(t.QUARANTINE).count()) == 0


def test_reconciliation_finds_the_known_gaps(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, *BILLS, *USAGE)
    result = reconcile(ws, OCTOBER)
    compared = {(g.provider, g.account, g.when): (g.invoiced, g.priced) for g in result.compared}
    assert compared == {
        # 18 M x 0.40 + 2 M x 0.10 + 2.5 M x 1.60 + 10 M x 0.40 = 15.40 against 12.3456789 + 4.2
        ("OpenAI", "proj_support", "2026-10-01"): (D("16.5456789"), D("15.4")),
        ("OpenAI", "proj_support", "2026-10-02"): (D("7.05"), D("7.05")),  # 14.1 M cached x 0.50
        ("OpenAI", "proj_search", "2026-10-01"): (D("0.1"), D("0.0999999")),  # 769,230 x 0.13
        ("OpenAI", "proj_search", "2026-10-02"): (D("0.2"), D("0.20000006")),
        # 411,500 x 3 + 350,000 x 0.30 + 658,436 x 15; the invoice says 1371.614321 cents ...
        ("Anthropic", "wrkspc_01SupportBot", "2026-10-01"): (D("11.21604321"), D("11.21604")),
        ("Anthropic", None, "2026-10-01"): (D("2.5"), D("2.5")),  # 250 web searches
        # 100 x 1 + (20,000 x 6 + 30,000 x 0.60 + 4,000 x 7.50 + 1,000 x 12 + 5,000 x 22.50);
        # the invoice's line for the long-context tokens is quarantined ("twelve" cents)
        ("Anthropic", "wrkspc_01DocSearch", "2026-10-02"): (D("0.0001"), D("0.2926")),
    }
    # largest gap first
    assert [g.account for g in result.compared[:2]] == ["proj_support", "wrkspc_01DocSearch"]
    assert [(g.account, g.when, g.priced) for g in result.usage_without_invoice] == [
        ("proj_ghost", "2026-10-03", D("0.4")),
        # the images, which the list cannot price, on the day before their invoice line
        (None, "2026-10-01", D(0)),
    ]
    [images] = [u for u in result.unpriced if u.model == "gpt-image-1"]
    assert "has no images price" in images.reason
    assert [(g.account, g.invoiced) for g in result.invoice_without_usage] == [
        (None, D("1.000000001"))  # OpenAI's image models, no project
    ]
    assert [g.account for g in result.outside] == [
        "proj_support",
        "wrkspc_01DocSearch",
        "proj_ghost",
        None,
    ]
    assert not result.reconciles
    assert result.quarantined_cost_rows == 3
    assert any(source.endswith("openai/gpt-4.1-mini") for source in result.sources)
    # -6.92% is within a 7% tolerance; the others are not
    wider = reconcile(ws, OCTOBER, tolerance_percent=D(7))
    assert "proj_support" not in [g.account for g in wider.outside]


@pytest.mark.spark_full
def test_by_month_and_usage_without_a_price(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path / "ws",
        extra="pricing:\n  overrides:\n"
        "    - {name: tiny-discount, provider: openai, model: gpt-4.1-mini, discount: 50}\n"
        "    - {name: images, provider: openai, model: gpt-image-1, unit_prices: {images: 0.25}}\n",
    )
    ingest(ws, *BILLS, *USAGE)
    monthly = reconcile(ws, OCTOBER, grain="month")
    support = next(g for g in monthly.compared if g.account == "proj_support")
    # gpt-4.1-mini at half price: 15.40 / 2 + 7.05 against 16.5456789 + 7.05
    assert (support.when, support.invoiced, support.priced) == (
        "2026-10",
        D("23.5956789"),
        D("14.75"),
    )
    assert any("less 50% (override tiny-discount)" in source for source in monthly.sources)
    # by month the images meet their invoice line: 4 x 0.25 against 1.000000001
    images = next(g for g in monthly.compared if g.account is None and g.provider == "OpenAI")
    assert (images.invoiced, images.priced) == (D("1.000000001"), D(1))
    assert monthly.within(images)
    assert not [u for u in monthly.unpriced if u.model == "gpt-image-1"]


# the command line over the same library: the engines are covered by the tests above
@pytest.mark.parametrize("engine", ["duckdb"], indirect=True)
def test_reconcile_command_exits_1_outside_the_tolerance(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, *BILLS, *USAGE)
    ws.close()
    runner = CliRunner()
    base = ["--workspace", str(tmp_path / "ws"), "reconcile", "--period", "2026-10"]
    failing = runner.invoke(app, base)
    assert failing.exit_code == 1, failing.output
    assert "does not reconcile: 4 gaps outside the tolerance" in failing.output
    as_json = runner.invoke(app, [*base, "--format", "json", "--tolerance", "abc"])
    assert as_json.exit_code == 2


LITELLM = FIXTURES / "litellm-spend-logs.csv"
GATEWAY_POLICY = "tags: {allowed: {use_case: [support-bot, doc-search, fraud]}}\n"


def _openai_invoice(tmp_path: Path) -> Path:
    """OpenAI's invoice for 1 October in two projects."""
    openai = {
        "ProviderName": "OpenAI",
        "ServiceName": "OpenAI API",
        "ServiceCategory": "AI and Machine Learning",
        "ChargePeriodStart": "2026-10-01T00:00:00Z",
    }
    return write_focus(
        tmp_path / "invoice.csv",
        [
            {**openai, "SubAccountId": "proj_a", "BilledCost": "0.0015"},
            {**openai, "SubAccountId": "proj_b", "BilledCost": "0.0004"},
        ],
    )  # fmt: skip


@pytest.mark.spark_full
def test_gateway_usage_is_compared_by_its_reported_spend(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", extra=GATEWAY_POLICY)
    ingest(ws, _openai_invoice(tmp_path), LITELLM)
    result = reconcile(ws, OCTOBER, minimum=D(0))
    assert result.origins == {"OpenAI": "gateway"}
    [day] = result.compared
    # the gateway knows no project: the invoice is added up over them, 0.0015 + 0.0004; its
    # spend 0.0012 + 0.0008 is compared, the list price kept beside it:
    # 1,200 x 0.40 + 300 x 1.60 + 900 x 0.40 + 100 x 1.60 per million = 0.00148
    assert (day.provider, day.account, day.when, day.origin) == (
        "OpenAI",
        None,
        "2026-10-01",
        "gateway",
    )
    assert (day.invoiced, day.reported, day.usage_cost, day.priced) == (
        D("0.0019"),
        D("0.002"),
        D("0.002"),
        D("0.00148"),
    )
    assert day.difference == D("0.0001") and not result.within(day)
    # 2 October: 0.0010 + 0.0020 of spend with no invoice line; what it was for is named
    [orphan] = result.usage_without_invoice
    assert (orphan.when, orphan.usage_cost) == ("2026-10-02", D("0.003"))
    assert dict(orphan.named) == {"use_case": ("support-bot",)}
    assert orphan.as_dict()["named"] == {"use_case": ["support-bot"]}
    assert not result.invoice_without_usage


@pytest.mark.spark_full
def test_a_clouds_ai_lines_are_compared_without_its_virtual_machines(tmp_path: Path) -> None:
    # one Bedrock request through the gateway on 5 March, against the CUR 2.0 fixture, which
    # bills EC2 the same day beside Amazon Bedrock's 0.345678909
    log = tmp_path / "bedrock.csv"
    log.write_text(
        "request_id,spend,total_tokens,prompt_tokens,completion_tokens,startTime,endTime,"
        "model,model_group,custom_llm_provider,metadata,cache_hit,request_tags\n"
        "r1,0.01,1500,1200,300,2024-03-05T09:15:02Z,2024-03-05T09:15:03Z,"
        "anthropic.claude-3-sonnet-20240229-v1:0,claude,bedrock,{},False,[]\n",
        encoding="utf-8",
    )
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, FIXTURES / "aws-cur2-export.csv", log)
    result = reconcile(ws, Period.parse("2024-03"), minimum=D(0))
    assert result.origins == {"AWS": "gateway"}
    [day] = result.compared
    assert (day.provider, day.when, day.invoiced, day.usage_cost) == (
        "AWS",
        "2024-03-05",
        D("0.345678909"),
        D("0.01"),
    )
    # the Bedrock credit of 1 March has no usage behind it; no EC2 or Savings Plan line is
    # in any figure
    assert [(g.when, g.invoiced) for g in result.invoice_without_usage] == [("2024-03-01", D(-25))]


@pytest.mark.spark_full
def test_auto_prefers_the_providers_own_usage_report(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", extra=GATEWAY_POLICY)
    ingest(ws, *BILLS, *USAGE, LITELLM)
    auto = reconcile(ws, OCTOBER)
    assert auto.origins == {"OpenAI": "provider", "Anthropic": "provider"}
    # the same figures as without the gateway's log: nothing is counted twice
    support = next(g for g in auto.compared if g.account == "proj_support")
    assert (support.invoiced, support.priced, support.reported) == (
        D("16.5456789"),
        D("15.4"),
        None,
    )
    gateway = reconcile(ws, OCTOBER, usage="gateway")
    assert gateway.origins == {"OpenAI": "gateway"}  # Anthropic has no gateway usage
    first = next(g for g in gateway.compared if g.when == "2026-10-01")
    # every OpenAI project's invoice of the day: 16.5456789 + 0.1 (the image models line
    # has no day of its own in this figure: it is on 2 October)
    assert (first.account, first.invoiced, first.usage_cost) == (None, D("16.6456789"), D("0.002"))


@pytest.mark.parametrize("engine", ["duckdb"], indirect=True)
def test_reconcile_command_names_whose_usage_it_compared(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", extra=GATEWAY_POLICY)
    ingest(ws, _openai_invoice(tmp_path), LITELLM)
    ws.close()
    runner = CliRunner()
    base = ["--workspace", str(tmp_path / "ws"), "reconcile", "--period", "2026-10"]
    shown = runner.invoke(app, [*base, "--usage", "gateway", "--minimum", "0"])
    assert shown.exit_code == 1, shown.output  # 2 October's 0.003 has no invoice line
    assert "OpenAI: compared with gateway usage" in shown.output
    assert "use_case=support-bot" in shown.output


@pytest.mark.spark_full
def test_ai_lines_in_another_currency_are_counted_not_compared(tmp_path: Path) -> None:
    log = tmp_path / "azure.csv"
    log.write_text(
        "request_id,spend,total_tokens,prompt_tokens,completion_tokens,startTime,endTime,"
        "model,model_group,custom_llm_provider,metadata,cache_hit,request_tags\n"
        "r1,0.01,1500,1200,300,2024-03-05T09:15:02Z,2024-03-05T09:15:03Z,gpt-4o,gpt4o,"
        "azure,{},False,[]\n",
        encoding="utf-8",
    )
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, FIXTURES / "azure-mca-actual-cost.csv", log)  # billed in EUR
    result = reconcile(ws, Period.parse("2024-03"))
    # the Foundry Models line is the one AI line; EUR is not the currency of prices
    assert (result.origins, result.other_currency_lines) == ({"Microsoft": "gateway"}, 1)
    [orphan] = result.usage_without_invoice
    assert (orphan.provider, orphan.usage_cost, orphan.priced) == (
        "Microsoft",
        D("0.01"),
        D("0.006"),
    )
