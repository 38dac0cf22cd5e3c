"""The demo's OpenAI Usage API export: it carries the OpenAI bill's tokens day by day, so it
reconciles with the bill; it ingests cleanly; and the playbooks find in it the two savings
drawn into it and nothing else.

Hand computation, from the bill's own rows (the usage API counts cached input inside
``input_tokens``, the bill lists uncached "input" and "cached input" apart): a usage result's
input_tokens = the day's "input" + "cached input" tokens of its project and model,
input_cached_tokens = "cached input", output_tokens = "output". Priced at list prices (the
bill's are OpenAI's list prices, no discount), each project's day then costs what the bill
charged that day, exactly; the two credits (eval-harness 500 on day 5, support-bot 250.37 on
day 12) are the only gaps, of exactly their amount, as no usage is behind a credit.

Findings (the playbooks' defaults, genai-prices' list prices of the two snapshots, the same
every day of October 2026):

- prompt caching, support-bot: every request sends ~3,000 tokens (at least 1,024, so all its
  uncached input counts) and its bill's cached input is 2-4% per uncached token (~3% of the
  input: under 10%). Saving on a model = its uncached input tokens (the bill's "input") x
  hit rate 0.5 x (input - cache-read price) per million: gpt-4.1 (2.00 - 0.50), gpt-4.1-mini
  (0.40 - 0.10). Its embedding model has no cache-read price: nothing to gain there.
- retrieval, doc-search on gpt-4.1-mini: a mean of ~28,000 input tokens a request (above
  20,000). Saving = per day min(input - 8,000 x requests, uncached input) x 0.40 per million.
  Its embedding requests (~2,500 tokens) are far from the threshold.
- every other use case sends 600-1,500 tokens a request, 15-45% cached per uncached token
  (13-31% of the input): neither a low cache share nor a large mean, so no finding
  (copy-generator, checked below).
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from apportion.analyse.playbooks import PlaybookReport, playbooks
from apportion.money import EXACT
from apportion.periods import Period
from apportion.pricing.reconcile import Reconciliation, reconcile
from apportion.synth import ORGANISATION, Surge, SynthOutput, demo_config_yaml, generate
from apportion.synth.bills import BilledTokens, write_bills
from apportion.synth.organisation import parse_period
from apportion.synth.usage import COMPLETIONS, EMBEDDINGS, SNAPSHOTS, write_openai_usage
from tests.helpers import ingest, make_workspace

ROWS = 20_000
PERIOD = "2026-10"
GPT41 = "gpt-4.1-2025-04-14"
MINI = "gpt-4.1-mini-2025-04-14"
MILLION = Decimal(1_000_000)
CREDITS = {  # the OpenAI bill's credits: (project, day) -> amount
    ("proj_eval-harness", "2026-10-05"): Decimal("-500"),
    ("proj_support-bot", "2026-10-12"): Decimal("-250.37"),
}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> SynthOutput:
    return generate(tmp_path_factory.mktemp("synth"), period=PERIOD, driver_rows=ROWS)


@pytest.fixture(scope="module")
def ingested(
    out: SynthOutput, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Any], PlaybookReport, Reconciliation]:
    root = tmp_path_factory.mktemp("workspace")
    for mapping in out.mapping_files:  # as the demo does: named relative to the workspace
        shutil.copyfile(mapping, root / mapping.name)
    workspace = make_workspace(root, demo_config_yaml(PERIOD))
    try:
        results = ingest(workspace, *out.usage_files)
        found = playbooks(workspace, PERIOD)
        ingest(workspace, _openai_bill(out))
        return results, found, reconcile(workspace, Period.parse(PERIOD))
    finally:
        workspace.close()


def _openai_bill(out: SynthOutput) -> Path:
    (path,) = [p for p in out.cost_files if p.name.startswith("openai-")]
    return path


def _billed(path: Path) -> BilledTokens:
    """The bill's token rows as (use case, model, day, meter) -> tokens."""
    billed: BilledTokens = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["ConsumedUnit"] != "Tokens":
                continue  # a credit
            day = datetime.fromisoformat(row["ChargePeriodStart"].replace("Z", "+00:00")).day
            meter = (
                row["ChargeDescription"].removeprefix(f"{row['SkuId']} ").removesuffix(" tokens")
            )
            key = (row["SubAccountName"], row["SkuId"], day - 1, meter)
            assert key not in billed
            billed[key] = int(row["ConsumedQuantity"])
    return billed


def _pages(path: Path) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return pages


def _all_results(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(day of the month from 0, result) of both pages."""
    return [
        (d, result)
        for page in _pages(path)
        for d, bucket in enumerate(page["data"])
        for result in bucket["results"]
    ]


def _results(path: Path, project: str, model: str) -> list[dict[str, Any]]:
    return [
        result
        for _, result in _all_results(path)
        if result["project_id"] == project and result["model"] == model
    ]


def _uncached(result: dict[str, Any]) -> int:
    return int(result["input_tokens"] - result["input_cached_tokens"])


def test_the_export_is_two_pages_of_daily_buckets_by_project_and_model(out: SynthOutput) -> None:
    (path,) = out.usage_files
    assert path.parent.name == "usage" and path.name == f"openai-usage-{PERIOD}.json"
    completions, embeddings = _pages(path)
    month_start = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp())
    for page, kind in ((completions, COMPLETIONS), (embeddings, EMBEDDINGS)):
        assert page["object"] == "page" and page["has_more"] is False
        assert [b["start_time"] for b in page["data"]] == [
            month_start + d * 86_400 for d in range(31)
        ]
        for bucket in page["data"]:
            keys = [(r["project_id"], r["model"]) for r in bucket["results"]]
            assert len(keys) == len(set(keys))  # one result a day per project and model
            assert all(r["object"] == kind for r in bucket["results"])
            assert all(
                r["input_tokens"] >= r.get("input_cached_tokens", 0) >= 0 for r in bucket["results"]
            )
            assert all(r["num_model_requests"] >= 1 for r in bucket["results"])
    projects = {
        r["project_id"] for p in (completions, embeddings) for b in p["data"] for r in b["results"]
    }
    assert projects == {f"proj_{u.name}" for u in ORGANISATION.use_cases if u.openai}
    results = sum(len(b["results"]) for p in (completions, embeddings) for b in p["data"])
    assert results == 31 * sum(len(u.openai) for u in ORGANISATION.use_cases)


def _usage_meters(path: Path, *, daily: bool) -> dict[tuple[Any, ...], int]:
    """The export's tokens as the bill's meters, per project, bill model (and day)."""
    undated = {snapshot: model for model, snapshot in SNAPSHOTS.items()}
    meters: dict[tuple[Any, ...], int] = defaultdict(int)
    for d, r in _all_results(path):
        key = (r["project_id"].removeprefix("proj_"), undated.get(r["model"], r["model"]))
        key += (d,) if daily else ()
        cached = r.get("input_cached_tokens", 0)
        meters[(*key, "input")] += r["input_tokens"] - cached
        if "input_cached_tokens" in r:
            meters[(*key, "cached input")] += cached
            meters[(*key, "output")] += r["output_tokens"]
    return dict(meters)


def _bill_meters(billed: BilledTokens, *, daily: bool) -> dict[tuple[Any, ...], int]:
    meters: dict[tuple[Any, ...], int] = defaultdict(int)
    for (use_case, model, d, meter), tokens in billed.items():
        meters[(use_case, model, *((d,) if daily else ()), meter)] += tokens
    return dict(meters)


def test_the_export_carries_the_bills_tokens_per_project_model_and_meter(
    out: SynthOutput,
) -> None:
    billed = _billed(_openai_bill(out))
    (path,) = out.usage_files
    totals = _usage_meters(path, daily=False)
    assert totals == _bill_meters(billed, daily=False)
    assert _usage_meters(path, daily=True) == _bill_meters(billed, daily=True)
    # the support bot's cache serves about 3% of its input, every other use case's far more
    for use_case, model in (("support-bot", "gpt-4.1"), ("copy-generator", "gpt-4.1")):
        cached = totals[(use_case, model, "cached input")]
        share = cached / (cached + totals[(use_case, model, "input")])
        assert (0.02 < share < 0.04) if use_case == "support-bot" else (0.13 < share < 0.31)


def test_priced_at_list_prices_the_export_reconciles_with_the_bill(
    ingested: tuple[list[Any], PlaybookReport, Reconciliation],
) -> None:
    """Every project and day with usage costs what the bill charged, to the last digit the
    bill has; the credits are the only gaps (no usage is behind a credit)."""
    result = ingested[2]
    assert result.origins == {"OpenAI": "provider"} and not result.unpriced
    assert not result.usage_without_invoice and not result.invoice_without_usage
    assert len(result.compared) == 31 * sum(1 for u in ORGANISATION.use_cases if u.openai)
    gaps = {(g.account, g.when): g.difference for g in result.compared if g.difference}
    assert gaps == {key: -amount for key, amount in CREDITS.items()}
    assert {(g.account, g.when) for g in result.outside} == set(CREDITS)


def test_weekends_are_quieter(out: SynthOutput) -> None:
    """As in the bills: weekend days run at 0.7 of a weekday, give or take a day's noise."""
    days: dict[bool, list[int]] = defaultdict(list)  # weekend? -> each day's chat requests
    completions = _pages(out.usage_files[0])[0]
    for bucket in completions["data"]:
        saturday_or_sunday = datetime.fromtimestamp(bucket["start_time"], UTC).weekday() >= 5
        days[saturday_or_sunday].append(
            sum(
                r["num_model_requests"]
                for r in bucket["results"]
                if r["project_id"] == "proj_support-bot"
            )
        )
    assert 0.55 < np.mean(days[True]) / np.mean(days[False]) < 0.85


def test_same_bill_and_seed_same_bytes(out: SynthOutput, tmp_path: Path) -> None:
    """The export is the bill's tokens and a seeded draw of request sizes, nothing else."""

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    month = parse_period(PERIOD)
    billed = _billed(_openai_bill(out))
    again = write_openai_usage(
        tmp_path / "a", ORGANISATION, month, billed, np.random.default_rng([7, 4])
    )
    other = write_openai_usage(
        tmp_path / "b", ORGANISATION, month, billed, np.random.default_rng([8, 4])
    )
    assert digest(again) == digest(out.usage_files[0]) != digest(other)
    assert _usage_meters(other, daily=True) == _usage_meters(again, daily=True)  # sizes only


def test_a_surge_in_the_bill_is_in_the_export(tmp_path: Path) -> None:
    month = parse_period(PERIOD)
    surge = {"support-bot": Surge(day=20, factor=4.0)}
    paths = {}
    for name, surges in (("calm", None), ("surged", surge)):
        bills = write_bills(tmp_path / name, ORGANISATION, month, np.random.default_rng(1), surges)
        paths[name] = write_openai_usage(
            tmp_path / name, ORGANISATION, month, bills.openai_tokens, np.random.default_rng(2)
        )
        assert _usage_meters(paths[name], daily=True) == _bill_meters(
            bills.openai_tokens, daily=True
        )
    calm = _results(paths["calm"], "proj_support-bot", GPT41)
    surged = _results(paths["surged"], "proj_support-bot", GPT41)
    assert surged[:20] == calm[:20] and surged[21:] == calm[21:]
    for count in ("input_tokens", "num_model_requests"):  # each meter rounded on its own
        assert abs(surged[20][count] - 4 * calm[20][count]) <= 2
    other = "proj_copy-generator"
    assert _results(paths["calm"], other, GPT41) == _results(paths["surged"], other, GPT41)


def test_the_export_ingests_with_nothing_quarantined(
    out: SynthOutput, ingested: tuple[list[Any], PlaybookReport, Reconciliation]
) -> None:
    (result,) = ingested[0]
    expected = sum(len(b["results"]) for p in _pages(out.usage_files[0]) for b in p["data"])
    assert (result.kind, result.status, result.quarantined) == ("usage", "loaded", 0)
    assert result.rows == expected and result.periods == [PERIOD]


def test_playbooks_find_the_long_prompts_and_the_stuffed_context(
    out: SynthOutput, ingested: tuple[list[Any], PlaybookReport, Reconciliation]
) -> None:
    report = ingested[1]
    found = {(f.playbook, f.use_case, f.model): f.saving for f in report.findings}
    assert set(found) == {
        ("prompt-caching", "support-bot", GPT41),
        ("prompt-caching", "support-bot", MINI),
        ("retrieval", "doc-search", MINI),
    }
    path = out.usage_files[0]
    billed = _bill_meters(_billed(_openai_bill(out)), daily=False)
    for model, discount in ((GPT41, Decimal("1.50")), (MINI, Decimal("0.30"))):
        uncached = sum(_uncached(r) for r in _results(path, "proj_support-bot", model))
        assert uncached == billed[("support-bot", model.removesuffix("-2025-04-14"), "input")]
        expected = EXACT.divide(uncached * Decimal("0.5") * discount, MILLION)
        assert found["prompt-caching", "support-bot", model] == expected
    requests = [r["num_model_requests"] for r in _results(path, "proj_doc-search", MINI)]
    inputs = [r["input_tokens"] for r in _results(path, "proj_doc-search", MINI)]
    assert 26_000 < sum(inputs) / sum(requests) < 30_000
    excess = sum(
        min(max(r["input_tokens"] - 8_000 * r["num_model_requests"], 0), _uncached(r))
        for r in _results(path, "proj_doc-search", MINI)
    )
    assert found["retrieval", "doc-search", MINI] == EXACT.divide(excess * Decimal("0.40"), MILLION)
    assert report.notes == []  # every model priced


def test_a_short_well_cached_use_case_has_no_finding(
    out: SynthOutput, ingested: tuple[list[Any], PlaybookReport, Reconciliation]
) -> None:
    results = [
        r
        for model in (GPT41, MINI)
        for r in _results(out.usage_files[0], "proj_copy-generator", model)
    ]
    inputs = sum(r["input_tokens"] for r in results)
    cached = sum(r["input_cached_tokens"] for r in results)
    requests = sum(r["num_model_requests"] for r in results)
    assert cached / inputs >= 0.1 and inputs / requests <= 20_000  # below both thresholds
    assert not [f for f in ingested[1].findings if f.use_case == "copy-generator"]
