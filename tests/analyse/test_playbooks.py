"""The optimisation playbooks on usage worked out by hand, each triggered and not triggered.

Prices are read from the price source itself (``unit``: genai-prices' list price per million
tokens on 2026-10-05, the day every request below was sent), so the cases hold when the list
changes; the formulas are:

- prompt caching: uncached input tokens of requests of at least 1024 input tokens x hit rate
  0.5 x (input price - cache-read price) / 1e6, where cache reads are under 10% of the input.
  Gateway case, gpt-4o: 10 requests of 18,000 input tokens, none cached, plus one of 500
  (too short to cache): 180,000 x 0.5 x (2.5 - 1.25) / 1e6 = 0.1125 -> 0.11.
  Report case, gpt-4.1 (OpenAI usage report, project proj_search -> use case search by a
  tags.inherit table): 10,000,000 input tokens in 1,000 requests (10,000 each), 500,000 of
  them cache reads (5%): 9,500,000 x 0.5 x (2 - 0.5) / 1e6 = 7.125 -> 7.12 (half to even).
- response caching: the cost of each request after the first with the same content hash.
  claude-opus-4-1, hash h1 sent 3 times, h2 once, each 2,000 in / 500 out: 2 repeats x
  (2,000 x 15 + 500 x 75) / 1e6 = 0.135 -> 0.14.
- routing: requests of at most 1,000 in and 200 out priced on their model minus on the
  smaller one. 100 requests of 800 in / 150 out on claude-opus-4-1 -> claude-haiku-4-5:
  100 x ((800 x 15 + 150 x 75) - (800 x 1 + 150 x 5)) / 1e6 = 2.17; a 5,000-token request
  of the same use case is not simple and not counted.
- retrieval: where the mean input per request is above 20,000, the uncached input above 8,000
  per request x input price / 1e6. gpt-4.1: a request of 60,000 in (10,000 of them cache
  reads) and one of 30,000: min(52,000, 50,000 uncached) + 22,000 = 72,000 x 2 / 1e6 =
  0.144 -> 0.14; mean 45,000.

Routing with a day the smaller model has no price: big-llm (override: 10 in, 20 out per MTok)
to small-llm (1 in, 2 out, priced from 7 October only); 10 requests of 800 in / 150 out on
5 October are left out, 10 on 7 October count: 10 x ((800 x 10 + 150 x 20) - (800 x 1 +
150 x 2)) / 1e6 = 0.099 -> 0.10, "some were unpriced".

A gateway that names no provider as billed: its rows go by the genai-prices id (anthropic),
else "(unknown)". Response caching's hash keys are read in order after "Cache OFF" is blanked
in each: x_cache_key "Cache OFF" with x_prompt_hash p1 twice is one repeat of 2,000 in / 500
out on claude-opus-4-1, (2,000 x 15 + 500 x 75) / 1e6 = 0.0675 -> 0.07.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from apportion.analyse.playbooks import PlaybookReport, playbooks
from apportion.analyse.playbooks.routing import smaller_model
from apportion.cli import app
from apportion.config import ConfigError, parse_config
from apportion.config.playbooks import DEFAULT_SMALLER_MODELS, USAGE_ORIGINS
from apportion.engine.tables import SCHEMAS
from apportion.engine.tables import USAGE_ORIGINS as ENGINE_ORIGINS
from apportion.pricing import Pricer, TokenUsage
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import ingest, make_workspace

PERIOD = "2026-10"
DAY = datetime(2026, 10, 5, tzinfo=UTC)
ANY_SAVING = "playbooks: {min_monthly_saving: 0}\n"
LITELLM = [
    "request_id",
    "call_type",
    "api_key",
    "spend",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "model",
    "model_group",
    "custom_llm_provider",
    "metadata",
    "cache_hit",
    "cache_key",
    "request_tags",
]


def unit(provider: str, model: str, kind: str) -> Decimal:
    """The price source's price per million tokens on the day of the requests."""
    price = Pricer(parse_config("version: 1").pricing).price(
        TokenUsage(provider, model, DAY, input_tokens=1)
    )
    return price.unit_prices[kind]


def cents(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):f}"


def request(
    use_case: str, model: str, prompt: int, output: int, cached: int = 0, **more: str
) -> dict[str, Any]:
    return {"use_case": use_case, "model": model, "prompt": prompt, "output": output,
            "cached": cached, **more}  # fmt: skip


def spend_logs(path: Path, requests: list[dict[str, Any]]) -> Path:
    """A LiteLLM spend log: one row per request, the use case as a request tag, cache reads in
    the usage object, all sent on 5 October."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LITELLM)
        writer.writeheader()
        for number, r in enumerate(requests):
            usage = {"prompt_tokens_details": {"cached_tokens": r["cached"]}}
            writer.writerow(
                {
                    "request_id": f"req-{number}",
                    "call_type": "acompletion",
                    "api_key": "k1",
                    "spend": "0.01",
                    "total_tokens": r["prompt"] + r["output"],
                    "prompt_tokens": r["prompt"],
                    "completion_tokens": r["output"],
                    "startTime": f"2026-10-05T09:{number // 60:02d}:{number % 60:02d}Z",
                    "endTime": f"2026-10-05T10:{number // 60:02d}:{number % 60:02d}Z",
                    "model": r["model"],
                    "model_group": r["model"],
                    "custom_llm_provider": r.get("provider", "openai"),
                    "metadata": json.dumps({"usage_object": usage}),
                    "cache_hit": "False",
                    "cache_key": r.get("cache_key", ""),
                    "request_tags": json.dumps([f"use_case:{r['use_case']}"]),
                }
            )
    return path


def gateway_usage(workspace: Workspace, requests: list[dict[str, Any]]) -> None:
    """Gateway usage rows as a gateway that keeps each request's cache key gives them, written
    to the table: Anthropic's unless a request names its ``provider_name`` and ``provider``,
    on 5 October unless it names its ``day``, with its ``cache_key`` and ``prompt_hash``."""
    schema = SCHEMAS[t.USAGE].to_pyarrow()
    rows = []
    for number, r in enumerate(requests):
        row: dict[str, Any] = dict.fromkeys(schema.names)
        quantities = {n: 0 for n in schema.names if n.endswith(("_tokens", "_seconds"))}
        row.update(quantities, web_searches=0, characters=0, images=0)
        hashes = {"x_cache_key": r.get("cache_key"), "x_prompt_hash": r.get("prompt_hash")}
        extensions = [(key, value) for key, value in hashes.items() if value is not None]
        day = r.get("day", 5)
        row.update(
            {
                t.SOURCE: "gateway",
                t.FILE_HASH: "f" * 64,
                t.ROW_NUMBER: number + 2,
                t.BILLING_PERIOD: PERIOD,
                "ProviderName": r.get("provider_name", "Anthropic"),
                "provider": r.get("provider", "anthropic"),
                "window_start": datetime(2026, 10, day, 9, number),
                "window_end": datetime(2026, 10, day, 9, number, 30),
                "model": r["model"],
                "batch": False,
                "long_context": False,
                "input_tokens": r["prompt"],
                "output_tokens": r["output"],
                "requests": 1,
                "origin": "gateway",
                "dimensions": [("use_case", r["use_case"])],
                t.EXTENSIONS: extensions or None,
            }
        )
        rows.append(row)
    workspace.data.insert(t.USAGE, pa.Table.from_pylist(rows, schema=schema))


def openai_report(path: Path, results: list[dict[str, Any]]) -> Path:
    """An OpenAI usage report: one daily bucket (5 October) of completions results."""
    start = int(DAY.replace(hour=0).timestamp())
    page = {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": start,
                "end_time": start + 86400,
                "results": [
                    {"object": "organization.usage.completions.result", "batch": False, **r}
                    for r in results
                ],
            }
        ],
    }
    path.write_text(json.dumps(page), encoding="utf-8")
    return path


def anthropic_report(path: Path) -> Path:
    """An Anthropic usage report, which counts no requests: 3 M uncached input tokens."""
    result = {
        "uncached_input_tokens": 3_000_000,
        "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
        "cache_read_input_tokens": 0,
        "output_tokens": 1000,
        "workspace_id": "wrkspc_legal",
        "model": "claude-sonnet-4-5",
        "service_tier": "standard",
        "context_window": "0-200k",
    }
    page = {
        "data": [
            {
                "starting_at": "2026-10-05T00:00:00Z",
                "ending_at": "2026-10-06T00:00:00Z",
                "results": [result],
            }
        ],
        "has_more": False,
    }
    path.write_text(json.dumps(page), encoding="utf-8")
    return path


def found(report: PlaybookReport, playbook: str) -> dict[tuple[str, str], dict[str, Any]]:
    """A playbook's findings by use case and model, as the API and CLI give them."""
    return {
        (f["use_case"], f["model"]): f
        for f in report.as_dict()["findings"]
        if f["playbook"] == playbook
    }


def workspace_with(tmp_path: Path, requests: list[dict[str, Any]], extra: str = "") -> Workspace:
    workspace = make_workspace(tmp_path / "ws", extra=ANY_SAVING + extra)
    ingest(workspace, spend_logs(tmp_path / "spend.csv", requests))
    return workspace


# -- prompt caching --------------------------------------------------------------------------
def test_long_prompts_the_cache_does_not_serve_are_a_prompt_caching_finding(
    tmp_path: Path,
) -> None:
    long = [request("bot", "gpt-4o", 18_000, 50) for _ in range(10)]
    workspace = workspace_with(tmp_path, [*long, request("bot", "gpt-4o", 500, 50)])
    report = playbooks(workspace, PERIOD)
    finding = found(report, "prompt-caching")[("bot", "gpt-4o")]
    saving = 180_000 * Decimal("0.5") * (unit("openai", "gpt-4o", "input") - unit(
        "openai", "gpt-4o", "cache_read")) / 1_000_000  # fmt: skip
    assert finding["monthly_saving"] == cents(saving) == "0.11"
    evidence = finding["evidence"]
    assert (evidence["requests"], evidence["input_tokens"]) == ("11", "180500")
    assert (evidence["cache_read_share"], evidence["long_prompt_uncached_tokens"]) == (
        "0.0000",
        "180000",
    )
    assert "assumed hit rate 0.5" in finding["method"]
    assert "daily mean" not in finding["method"]  # each request's own length
    assert report.origins == {"OpenAI": "gateway"}
    assert report.findings[0].currency == "USD"


def test_a_well_cached_model_or_one_without_a_cache_price_is_no_finding(tmp_path: Path) -> None:
    workspace = workspace_with(
        tmp_path,
        [request("bot", "gpt-4o", 18_000, 50, cached=10_000) for _ in range(10)]
        + [request("old", "gpt-4-turbo", 18_000, 50) for _ in range(10)],
    )
    assert (
        "cache_read"
        not in Pricer(workspace.config.pricing)
        .price(TokenUsage("openai", "gpt-4-turbo", DAY, input_tokens=1))
        .unit_prices
    )
    assert found(playbooks(workspace, PERIOD), "prompt-caching") == {}


def test_a_usage_report_is_checked_by_its_mean_and_use_cases_come_from_the_project(
    tmp_path: Path,
) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "projects.csv").write_text(
        "SubAccountId,use_case\nproj_search,search\n", encoding="utf-8"
    )
    workspace = make_workspace(
        tmp_path / "ws",
        extra="tags: {inherit: [{file: projects.csv, column: SubAccountId}]}\n",
    )
    report_file = openai_report(
        tmp_path / "usage.json",
        [
            {"input_tokens": 10_000_000, "input_cached_tokens": 500_000, "output_tokens": 100_000,
             "num_model_requests": 1000, "project_id": "proj_search", "model": "gpt-4.1"},
            {"input_tokens": 10_000_000, "input_cached_tokens": 5_000_000, "output_tokens": 10,
             "num_model_requests": 1000, "project_id": "proj_other", "model": "gpt-4.1"},
        ],
    )  # fmt: skip
    ingest(workspace, report_file, anthropic_report(tmp_path / "anthropic.json"))
    report = playbooks(workspace, PERIOD)
    caching = found(report, "prompt-caching")
    # 9,500,000 x 0.5 x (input - cache read) / 1e6; the other project's cache share is 50%
    saving = 9_500_000 * Decimal("0.5") * (unit("openai", "gpt-4.1", "input") - unit(
        "openai", "gpt-4.1", "cache_read")) / 1_000_000  # fmt: skip
    assert set(caching) == {("search", "gpt-4.1")}
    assert caching[("search", "gpt-4.1")]["monthly_saving"] == cents(saving) == "7.12"
    assert caching[("search", "gpt-4.1")]["method"].startswith(
        "9500000 uncached input tokens of requests of at least 1024 tokens (a usage report by "
        "its daily mean) x assumed hit rate 0.5"
    )
    # Anthropic counts no requests: neither prompt length nor context size can be told
    unchecked = "\n".join(report.not_checked)
    assert "prompt-caching: __unallocated__ on claude-sonnet-4-5: 3000000 input tokens" in unchecked
    assert "retrieval: __unallocated__ on claude-sonnet-4-5" in unchecked
    # request sizes and hashes need per-request usage
    assert "routing: search: no per-request usage" in unchecked
    assert "response-caching: search: no per-request usage" in unchecked
    assert report.origins == {"Anthropic": "provider", "OpenAI": "provider"}


# -- response caching ------------------------------------------------------------------------
def test_identical_requests_repeated_within_the_month_are_a_response_caching_finding(
    tmp_path: Path,
) -> None:
    workspace = make_workspace(tmp_path / "ws", extra=ANY_SAVING)
    model = "claude-opus-4-1"
    gateway_usage(
        workspace,
        [
            *[request("faq", model, 2000, 500, cache_key="h1") for _ in range(3)],
            request("faq", model, 2000, 500, cache_key="h2"),
            request("faq", model, 2000, 500, cache_key="Cache OFF"),  # no hash: not compared
            request("faq", model, 2000, 500, cache_key="Cache OFF"),
        ],
    )
    finding = found(playbooks(workspace, PERIOD), "response-caching")[("faq", model)]
    repeat = 2000 * unit("anthropic", model, "input") + 500 * unit("anthropic", model, "output")
    assert finding["monthly_saving"] == cents(2 * repeat / 1_000_000) == "0.14"
    evidence = finding["evidence"]
    assert (evidence["requests"], evidence["requests_with_hash"]) == ("6", "4")
    assert (evidence["distinct_requests"], evidence["repeated_requests"]) == ("2", "2")
    assert evidence["repeat_share"] == "0.5000"
    assert Decimal(evidence["cost_of_repeats"]) == 2 * repeat / 1_000_000


def test_distinct_requests_are_no_finding_and_requests_without_hashes_are_not_checked(
    tmp_path: Path,
) -> None:
    workspace = make_workspace(tmp_path / "ws", extra=ANY_SAVING)
    model = "claude-opus-4-1"
    gateway_usage(
        workspace,
        [request("faq", model, 2000, 500, cache_key=key) for key in ("h1", "h2", "h3")]
        # the same hash in another use case is its own cache
        + [request("other", model, 2000, 500, cache_key="h1")],
    )
    report = playbooks(workspace, PERIOD)
    assert found(report, "response-caching") == {}
    assert not any(line.startswith("response-caching") for line in report.not_checked)

    # LiteLLM keeps its cache key, which is "Cache OFF" when its response cache is off
    off = request("bot", "gpt-4o", 500, 50, cache_key="Cache OFF")
    logs = workspace_with(tmp_path / "logs", [off, off])
    unchecked = playbooks(logs, PERIOD).not_checked
    assert "response-caching: bot: its requests carry no content hash" in "\n".join(unchecked)


def test_a_cache_off_key_does_not_hide_a_later_hash_key(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws", extra=ANY_SAVING)
    model = "claude-opus-4-1"
    off = {"cache_key": "Cache OFF"}
    gateway_usage(
        workspace,
        [request("faq", model, 2000, 500, prompt_hash="p1", **off) for _ in range(2)]
        + [request("faq", model, 2000, 500, prompt_hash="p2", **off)],
    )
    finding = found(playbooks(workspace, PERIOD), "response-caching")[("faq", model)]
    repeat = 2000 * unit("anthropic", model, "input") + 500 * unit("anthropic", model, "output")
    assert finding["monthly_saving"] == cents(repeat / 1_000_000) == "0.07"
    assert (
        finding["evidence"]["requests_with_hash"],
        finding["evidence"]["repeated_requests"],
    ) == (
        "3",
        "1",
    )


def test_usage_that_names_no_provider_is_read_by_its_provider_id(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws", extra=ANY_SAVING)
    model = "claude-opus-4-1"
    unnamed = {"provider_name": None}
    gateway_usage(
        workspace,
        [request("faq", model, 2000, 500, cache_key="h1", **unnamed) for _ in range(2)]
        + [request("faq", "our-llm", 2000, 500, provider=None, **unnamed)]
        + [request("faq", model, 2000, 500, cache_key="h2")],
    )
    report = playbooks(workspace, PERIOD)
    assert report.origins == {
        "(unknown)": "gateway",
        "Anthropic": "gateway",
        "anthropic": "gateway",
    }
    caching = found(report, "response-caching")
    assert set(caching) == {("faq", model)}
    assert caching[("faq", model)]["provider"] == "anthropic"
    assert caching[("faq", model)]["evidence"]["repeated_requests"] == "1"
    assert any("our-llm" in note for note in report.notes)  # read, and not priced


# -- routing ---------------------------------------------------------------------------------
def test_simple_requests_on_an_expensive_model_are_a_routing_finding(tmp_path: Path) -> None:
    opus = "claude-opus-4-1"
    simple = [request("triage", opus, 800, 150, provider="anthropic") for _ in range(100)]
    long = request("triage", opus, 5000, 150, provider="anthropic")
    workspace = workspace_with(tmp_path, [*simple, long], extra="")
    finding = found(playbooks(workspace, PERIOD), "routing")[("triage", opus)]

    def cost(model: str) -> Decimal:
        price = 800 * unit("anthropic", model, "input") + 150 * unit("anthropic", model, "output")
        return 100 * price / 1_000_000

    assert finding["monthly_saving"] == cents(cost(opus) - cost("claude-haiku-4-5")) == "2.17"
    assert not finding["method"].endswith("unpriced")
    evidence = finding["evidence"]
    assert (evidence["requests"], evidence["short_requests"]) == ("101", "100")
    assert evidence["smaller_model"] == "claude-haiku-4-5"
    # the figures the saving comes from keep every digit: 2.325 - 0.155, not 2.32 - 0.16
    assert Decimal(evidence["cost_on_model"]) == cost(opus)
    assert Decimal(evidence["cost_on_smaller_model"]) == cost("claude-haiku-4-5")


def test_a_day_without_a_price_is_left_out_of_a_routing_saving_and_said(tmp_path: Path) -> None:
    extra = (
        ANY_SAVING.replace("}", ", routing: {smaller_models: {big-llm: small-llm}}}")
        + "pricing:\n  overrides:\n"
        "    - {name: big, provider: anthropic, model: big-llm, "
        "unit_prices: {input: 10, output: 20}}\n"
        "    - {name: small, provider: anthropic, model: small-llm, "
        "unit_prices: {input: 1, output: 2}, effective_from: 2026-10-07}\n"
    )
    workspace = make_workspace(tmp_path / "ws", extra=extra)
    gateway_usage(
        workspace,
        [request("triage", "big-llm", 800, 150, day=day) for day in (5, 7) for _ in range(10)],
    )
    report = playbooks(workspace, PERIOD)
    finding = found(report, "routing")[("triage", "big-llm")]
    assert finding["monthly_saving"] == "0.10"
    assert Decimal(finding["evidence"]["cost_on_model"]) == Decimal("0.11")
    assert finding["method"].endswith("= 0.10; some were unpriced")
    assert any("small-llm" in note for note in report.notes)


def test_long_requests_or_a_model_without_a_smaller_sibling_are_no_routing_finding(
    tmp_path: Path,
) -> None:
    workspace = workspace_with(
        tmp_path,
        [request("triage", "claude-opus-4-1", 1500, 150, provider="anthropic")] * 10
        + [request("triage", "claude-opus-4-1", 800, 500, provider="anthropic")] * 10
        + [request("bot", "gpt-4o-mini", 100, 10)] * 10,
    )
    assert found(playbooks(workspace, PERIOD), "routing") == {}


def test_the_smaller_model_is_that_of_the_longest_name_that_starts_the_model() -> None:
    smaller = DEFAULT_SMALLER_MODELS
    assert smaller_model("gpt-4o-2024-08-06", smaller) == "gpt-4o-mini"
    assert smaller_model("gpt-4o-mini-2024-07-18", smaller) is None  # already the small one
    assert smaller_model("gpt-4.1-mini-2025-04-14", smaller) == "gpt-4.1-nano"
    assert smaller_model("claude-sonnet-4-5-20250929", smaller) == "claude-haiku-4-5"
    assert smaller_model("GPT-4O", smaller) == "gpt-4o-mini"
    assert smaller_model("gpt-4ox", smaller) is None  # a name, not a prefix of letters
    assert smaller_model("llama-3.1-70b", smaller) is None


# -- retrieval -------------------------------------------------------------------------------
def test_a_very_large_mean_input_is_a_retrieval_finding(tmp_path: Path) -> None:
    workspace = workspace_with(
        tmp_path,
        [
            request("docs", "gpt-4.1", 60_000, 500, cached=10_000),
            request("docs", "gpt-4.1", 30_000, 500),
        ],
    )
    finding = found(playbooks(workspace, PERIOD), "retrieval")[("docs", "gpt-4.1")]
    # min(60,000 - 8,000, 50,000 uncached) + (30,000 - 8,000)
    assert finding["evidence"]["input_tokens_above_target"] == "72000"
    assert finding["evidence"]["mean_input_tokens"] == "45000.0000"
    saving = 72_000 * unit("openai", "gpt-4.1", "input") / 1_000_000
    assert finding["monthly_saving"] == cents(saving) == "0.14"


def test_a_mean_input_under_the_threshold_is_no_retrieval_finding(tmp_path: Path) -> None:
    # one request is above the target, but the mean (15,000) is under 20,000
    workspace = workspace_with(
        tmp_path,
        [request("docs", "gpt-4.1", 25_000, 500), request("docs", "gpt-4.1", 5_000, 500)],
    )
    assert found(playbooks(workspace, PERIOD), "retrieval") == {}


# -- thresholds, configuration, interfaces ---------------------------------------------------
def test_savings_under_the_minimum_are_not_shown(tmp_path: Path) -> None:
    # the retrieval case saves 0.14, under the default minimum of 1 USD a month
    workspace = make_workspace(tmp_path / "ws")
    ingest(
        workspace,
        spend_logs(tmp_path / "spend.csv", [request("docs", "gpt-4.1", 60_000, 500)] * 2),
    )
    assert playbooks(workspace, PERIOD).findings == []


def test_no_usage_says_so(tmp_path: Path) -> None:
    report = playbooks(make_workspace(tmp_path / "ws"), PERIOD)
    assert report.findings == [] and report.not_checked == []
    assert report.notes == [
        "no token usage in 2026-10: ingest provider usage reports, gateway logs (LiteLLM) or "
        "telemetry (OpenTelemetry) to find savings"
    ]


def test_unpriced_models_are_noted_not_sized(tmp_path: Path) -> None:
    workspace = workspace_with(tmp_path, [request("bot", "our-private-llm", 50_000, 50)] * 3)
    report = playbooks(workspace, PERIOD)
    assert report.findings == []
    assert any("our-private-llm" in note for note in report.notes)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("{retrieval: {target_input_tokens: 30000}}", "must be below max_mean_input_tokens"),
        ("{response_caching: {hash_keys: [cache_key]}}", "not an x_ extension column"),
        ("{usage_origins: [gateway, invoices]}", "'invoices' is not one of"),
        ("{routing: {smaller_models: {gpt-4o: gpt-4o}}}", "routed to itself"),
        ("{prompt_caching: {hit_rate: 2}}", "hit_rate"),
        ("{thresholds: 1}", "thresholds"),
    ],
)
def test_bad_settings_are_refused(settings: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(f"version: 1\nplaybooks: {settings}\n")


def test_the_origins_are_the_engines() -> None:
    assert set(USAGE_ORIGINS) == set(ENGINE_ORIGINS)


def test_the_cli_prints_findings_as_json_csv_and_a_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace_with(tmp_path, [request("docs", "gpt-4.1", 60_000, 500)] * 2)
    monkeypatch.chdir(tmp_path / "ws")
    runner = CliRunner()
    as_json = runner.invoke(app, ["report", "playbooks", "--period", PERIOD, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.stdout)
    assert {f["playbook"] for f in payload["findings"]} == {"prompt-caching", "retrieval"}
    as_csv = runner.invoke(app, ["report", "playbooks", "-p", PERIOD, "--format", "csv"])
    rows = list(csv.DictReader(as_csv.stdout.splitlines()))
    assert rows[0]["playbook"] == "retrieval" and "mean_input_tokens=60000" in rows[0]["evidence"]
    table = runner.invoke(app, ["report", "playbooks", "-p", PERIOD])
    assert table.exit_code == 0 and "retrieval" in table.stdout
    assert "not checked: response-caching: docs" in table.stderr
    bad = runner.invoke(app, ["report", "playbooks", "-p", "2026-13"])
    assert bad.exit_code == 2


def test_the_endpoint_is_for_analysts_and_admins(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from apportion.access import tokens
    from apportion.server import create_app

    workspace = workspace_with(tmp_path, [request("docs", "gpt-4.1", 60_000, 500)] * 2)
    made = {
        role: tokens.create(workspace.control, role, role, ["cx"] if role == "consumer" else [],
                            "test")
        for role in ("analyst", "consumer")
    }  # fmt: skip
    workspace.close()
    with TestClient(create_app(tmp_path / "ws")) as client:
        url = f"/api/v1/periods/{PERIOD}/playbooks"
        answer = client.get(url, headers={"Authorization": f"Bearer {made['analyst']}"})
        assert answer.status_code == 200
        assert answer.json()["findings"][0]["playbook"] == "retrieval"
        refused = client.get(url, headers={"Authorization": f"Bearer {made['consumer']}"})
        assert refused.status_code == 403
        bad = client.get(
            "/api/v1/periods/2026-13/playbooks",
            headers={"Authorization": f"Bearer {made['analyst']}"},
        )
        assert bad.status_code == 422


def test_the_readme_settings_are_the_defaults_and_parse() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
               if b.startswith("playbooks:")]  # fmt: skip
    shown = parse_config(block).playbooks
    defaults = parse_config("version: 1").playbooks
    assert shown.model_dump(exclude={"routing"}) == defaults.model_dump(exclude={"routing"})
    assert shown.routing.smaller_models.items() <= defaults.routing.smaller_models.items()
