"""Projections for architecture review, checked by hand.

Token prices are read from the price function itself (never genai-prices' numbers written
here): for a model, ``in``, ``cr`` and ``out`` are what apportion's Pricer charges for a million
input, cache-read and output tokens. One request of the proposal below (1,000 input tokens of
which 40% cached, 200 output) costs, in USD::

    per request = (600 x in + 400 x cr + 200 x out) / 1,000,000

The proposal: 1,000 decisions in 2026-11, growing 10% a month over 3 months, one gpt-4o call
per decision; 10 GPU hours at 2.50 (growing), 100 GB-months at 0.10 (``grows: false``), and
a licence of 100 a month.

=======  =========  ===============================  ===========  =======  =====  =========
month    decisions  model calls                      gpu          storage  fixed  total
=======  =========  ===============================  ===========  =======  =====  =========
2026-11  1,000      round(1,000 x per request)       25.00        10.00    100    sum
2026-12  1,100      round(1,100 x per request)       27.50        10.00    100    sum
2027-01  1,210      round(1,210 x per request)       30.25        10.00    100    sum
=======  =========  ===============================  ===========  =======  =====  =========

(1,000 x 1.1 = 1,100; x 1.1 = 1,210; the GPU's 25 grows by the same factor.) Each part is
rounded to the cent and the total is the sum of the rounded parts; cost per decision is the
total over the decisions.

Scenarios, per request:

- prompt caching (+50 points, at most 90): 40% -> 90% cached,
  ``(100 x in + 900 x cr + 200 x out) / 1e6``;
- response caching (20%): 0.8 of the requests, so 0.8 x per request;
- routing (30% of gpt-4o to gpt-4o-mini): 0.7 x per request + 0.3 x the mini's per request
  (its own in, cr, out, the same tokens);
- all three: 0.8 x (0.7 x cached gpt-4o + 0.3 x cached mini), cached at 90%.

The saving is the baseline's total less the scenario's, month by month and over the horizon.

Compared with actuals (2026-10, a one-month projection of fixed cost 100 for 1,000
decisions, so 0.10 a decision): claims-triage's statement lines are 80.00 (OpenAI) and 40.00
(compute) = 120.00 for 1,500 decisions (0.08 each): variance +20.00, +20.00%; the
decisions +500 (+50.00%), cost per decision -0.02 (-20.00%).

The model calls' cost per model is rounded with the others to their rounded part: two
private models (10 USD per million input tokens, no output price needed for calls with no
output) of 500 one-token requests each cost 0.005 apiece, 0.01 together; rounded alone, half
to even, each would be 0.00 and not add up, so the cent goes (largest remainder, the first on
a tie) to the first: 0.01 and 0.00. An embedding model (no output price) is priced on its
input alone: 1,000 requests of 1,000 tokens x in / 1e6.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from apportion.analyse import projections as pj
from apportion.cli import app
from apportion.config import parse_config
from apportion.config.models import PricingConfig
from apportion.control import audit
from apportion.ledger import adjustments
from apportion.pricing.tokens import Pricer, TokenUsage
from apportion.workspace import Workspace
from tests.helpers import allocate, ingest, make_workspace, write_focus

CENT = Decimal("0.01")
PROPOSAL = """
name: claims-triage
decisions: 1000
decision_unit: claims triaged
start: 2026-11
growth: 10
horizon: 3
models:
  - {provider: openai, model: gpt-4o, input_tokens: 1000, output_tokens: 200, cache_hit: 40}
gpu: {quantity: 10, price: 2.50}
storage: {quantity: 100, price: 0.10, grows: false}
fixed:
  - {name: review tool licence, monthly: 100}
"""
LIST = Pricer(PricingConfig())


def rates(
    model: str, provider: str = "openai", month: int = 11, long_context: bool = False
) -> tuple[Decimal, ...]:
    """What the price function charges for a million input, cache-read and output tokens."""
    at = datetime(2026, month, 1, 12, tzinfo=UTC)
    million = 1_000_000
    usages = [
        TokenUsage(provider, model, at, input_tokens=million, long_context=long_context),
        TokenUsage(
            provider,
            model,
            at,
            input_tokens=million,
            cache_read_tokens=million,
            long_context=long_context,
        ),
        TokenUsage(provider, model, at, output_tokens=million, long_context=long_context),
    ]
    found = [LIST.price(usage).amount for usage in usages]
    assert all(price is not None and price > 0 for price in found)
    return tuple(price for price in found if price is not None)


def per_request(model: str, cached: int) -> Decimal:
    """USD for one request of 1,000 input tokens (``cached`` of them from the cache) and 200
    output tokens."""
    rate_in, rate_cached, rate_out = rates(model)
    return (rate_in * (1000 - cached) + rate_cached * cached + rate_out * 200) / 1_000_000


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def projected(text: str = PROPOSAL, pricer: Pricer = LIST) -> dict[str, Any]:
    return pj.price_proposal(pj.parse_proposal(text), pricer).as_dict()


DECISIONS = (Decimal(1000), Decimal(1100), Decimal(1210))


def test_months_by_hand_with_compounding_growth() -> None:
    found = projected()
    one = per_request("gpt-4o", cached=400)
    months = found["months"]
    assert [m["period"] for m in months] == ["2026-11", "2026-12", "2027-01"]
    assert [m["decisions"] for m in months] == ["1000", "1100", "1210"]
    assert [m["gpu"] for m in months] == ["25.00", "27.50", "30.25"]
    assert [m["storage"] for m in months] == ["10.00"] * 3
    assert [m["fixed"] for m in months] == ["100.00"] * 3
    model_calls = [cents(d * one) for d in DECISIONS]
    assert [Decimal(m["model_calls"]) for m in months] == model_calls
    assert [m["by_model"] for m in months] == [{"openai/gpt-4o": f"{c:f}"} for c in model_calls]
    others = (Decimal(135), Decimal("137.5"), Decimal("140.25"))  # gpu + storage + fixed
    totals = [c + o for c, o in zip(model_calls, others, strict=True)]
    assert [Decimal(m["total"]) for m in months] == totals
    assert [Decimal(m["cost_per_decision"]) for m in months] == [
        (t / d).quantize(Decimal("1e-10")) for t, d in zip(totals, DECISIONS, strict=True)
    ]
    assert Decimal(found["total"]) == sum(totals)
    [source] = found["price_sources"]
    assert source.startswith("openai/gpt-4o: genai-prices") and source.endswith("openai/gpt-4o")


def test_without_growth_every_month_is_the_first() -> None:
    found = projected(PROPOSAL.replace("growth: 10", "growth: 0"))
    assert len({(m["decisions"], m["total"]) for m in found["months"]}) == 1


def test_the_scenarios_by_hand() -> None:
    found = projected()
    base = per_request("gpt-4o", cached=400)
    cached = per_request("gpt-4o", cached=900)
    mini = per_request("gpt-4o-mini", cached=400)
    cached_mini = per_request("gpt-4o-mini", cached=900)
    routed = Decimal("0.7") * base + Decimal("0.3") * mini
    combined = Decimal("0.8") * (Decimal("0.7") * cached + Decimal("0.3") * cached_mini)
    expected = {
        pj.PROMPT_CACHING: cached,
        pj.RESPONSE_CACHING: Decimal("0.8") * base,
        pj.ROUTING: routed,
        pj.COMBINED: combined,
    }
    scenarios = {s["scenario"]: s for s in found["scenarios"]}
    assert list(scenarios) == list(expected)
    others = (Decimal(135), Decimal("137.5"), Decimal("140.25"))
    baseline = [cents(d * base) + o for d, o in zip(DECISIONS, others, strict=True)]
    for name, one in expected.items():
        scenario = scenarios[name]
        totals = [cents(d * one) + o for d, o in zip(DECISIONS, others, strict=True)]
        assert scenario["applies"] is True, name
        assert [Decimal(m["total"]) for m in scenario["months"]] == totals, name
        assert [Decimal(m["saving"]) for m in scenario["months"]] == [
            b - t for b, t in zip(baseline, totals, strict=True)
        ], name
        assert Decimal(scenario["saving"]) == sum(baseline) - sum(totals), name
        assert Decimal(scenario["saving_percent"]) == (
            (sum(baseline) - sum(totals)) * 100 / sum(baseline)
        ).quantize(CENT), name
    routing = scenarios[pj.ROUTING]
    assert routing["months"][0]["by_model"] == {
        "openai/gpt-4o": f"{cents(1000 * Decimal('0.7') * base):f}",
        "openai/gpt-4o-mini": f"{cents(1000 * Decimal('0.3') * mini):f}",
    }
    assert routing["assumptions"] == [
        "routing: 30% of the traffic of gpt-4o to gpt-4o-mini, same tokens and cache hit rate"
    ]
    assert scenarios[pj.COMBINED]["assumptions"] == [
        *scenarios[pj.PROMPT_CACHING]["assumptions"],
        *scenarios[pj.RESPONSE_CACHING]["assumptions"],
        *routing["assumptions"],
    ]


def test_scenarios_that_change_nothing_say_why() -> None:
    at_cap = PROPOSAL.replace("cache_hit: 40", "cache_hit: 95").replace(
        "model: gpt-4o,", "model: claude-haiku-4-5,"
    )
    at_cap = at_cap.replace("provider: openai", "provider: anthropic")
    found = {s["scenario"]: s for s in projected(at_cap)["scenarios"]}
    assert found[pj.PROMPT_CACHING]["applies"] is False
    assert found[pj.PROMPT_CACHING]["why_not"] == "every cache hit rate is already at the cap"
    assert found[pj.ROUTING]["why_not"] == "no model of the proposal is in the routing map"
    assert found[pj.RESPONSE_CACHING]["applies"] is True
    assert pj.COMBINED not in found  # one scenario applies: nothing to combine

    no_models = "name: gpu-only\ndecisions: 10\nstart: 2026-11\ngpu: {quantity: 1, price: 3}\n"
    found = {s["scenario"]: s for s in projected(no_models)["scenarios"]}
    assert [s["applies"] for s in found.values()] == [False, False, False]
    assert found[pj.RESPONSE_CACHING]["why_not"] == "no model calls to answer from a cache"

    left_out = PROPOSAL + "scenarios: {prompt_caching: null, response_caching: null}\n"
    routed = {s["scenario"] for s in projected(left_out)["scenarios"]}
    assert routed == {pj.ROUTING}

    own_map = PROPOSAL + "scenarios: {routing: {share: 50, to: {gpt-4o: gpt-4.1-mini}}}\n"
    [routing] = [s for s in projected(own_map)["scenarios"] if s["scenario"] == pj.ROUTING]
    assert set(routing["months"][0]["by_model"]) == {"openai/gpt-4o", "openai/gpt-4.1-mini"}


def test_routing_reads_the_playbooks_map_as_the_routing_playbook_does(tmp_path: Path) -> None:
    dated = PROPOSAL.replace("model: gpt-4o,", "model: gpt-4o-2024-08-06,")
    [routing] = [s for s in projected(dated)["scenarios"] if s["scenario"] == pj.ROUTING]
    assert routing["assumptions"] == [
        "routing: 30% of the traffic of gpt-4o-2024-08-06 to gpt-4o-mini, same tokens and "
        "cache hit rate"
    ]
    # the workspace's playbooks.routing.smaller_models, unless the proposal has its own map
    extra = "playbooks: {routing: {smaller_models: {gpt-4o: gpt-4.1-mini}}}\n"
    workspace = make_workspace(tmp_path / "ws", extra=extra)
    found = pj.project_in(workspace, pj.parse_proposal(PROPOSAL)).as_dict()
    [routing] = [s for s in found["scenarios"] if s["scenario"] == pj.ROUTING]
    assert set(routing["months"][0]["by_model"]) == {"openai/gpt-4o", "openai/gpt-4.1-mini"}
    own = PROPOSAL + "scenarios: {routing: {to: {gpt-4o: o4-mini}}}\n"
    found = pj.project_in(workspace, pj.parse_proposal(own)).as_dict()
    [routing] = [s for s in found["scenarios"] if s["scenario"] == pj.ROUTING]
    assert set(routing["months"][0]["by_model"]) == {"openai/gpt-4o", "openai/o4-mini"}
    workspace.close()


def test_models_without_output_and_by_model_adding_up_to_model_calls() -> None:
    pricer = Pricer(
        parse_config(
            "version: 1\npricing:\n  overrides:\n"
            "    - {name: a, provider: self-hosted, model: a, unit_prices: {input: 10}}\n"
            "    - {name: b, provider: self-hosted, model: b, unit_prices: {input: 10}}\n"
        ).pricing
    )
    two = (
        "name: split\ndecisions: 1000\nstart: 2026-11\nhorizon: 1\nmodels:\n"
        "  - {provider: self-hosted, model: a, share: 50, input_tokens: 1, output_tokens: 0}\n"
        "  - {provider: self-hosted, model: b, share: 50, input_tokens: 1, output_tokens: 0}\n"
    )
    [month] = projected(two, pricer)["months"]
    assert month["model_calls"] == "0.01"
    assert month["by_model"] == {"self-hosted/a": "0.01", "self-hosted/b": "0.00"}
    embedding = (
        "name: search\ndecisions: 1000\nstart: 2026-11\nhorizon: 1\nmodels:\n"
        "  - {provider: openai, model: text-embedding-3-small, input_tokens: 1000, "
        "output_tokens: 0}\n"
    )
    at = datetime(2026, 11, 1, 12, tzinfo=UTC)
    rate = LIST.price(TokenUsage("openai", "text-embedding-3-small", at, input_tokens=10**6))
    assert rate.amount is not None
    [month] = projected(embedding)["months"]
    assert Decimal(month["model_calls"]) == cents(1000 * 1000 * rate.amount / 1_000_000)
    with pytest.raises(pj.ProjectionError, match="has no output price"):
        projected(embedding.replace("output_tokens: 0", "output_tokens: 10"))


def test_long_context_prices_only_where_the_proposal_says() -> None:
    long = (
        "name: contracts\ndecisions: 1000\nstart: 2026-11\nhorizon: 1\nmodels:\n"
        "  - {provider: google, model: gemini-2.5-pro, input_tokens: 300000, "
        "output_tokens: 100, long_context: true}\n"
    )
    found = projected(long)

    def cost(long_context: bool) -> Decimal:
        rate_in, _, rate_out = rates("gemini-2.5-pro", "google", long_context=long_context)
        return cents(1000 * (300_000 * rate_in + 100 * rate_out) / 1_000_000)

    assert cost(True) != cost(False)
    assert Decimal(found["months"][0]["model_calls"]) == cost(True)
    standard = projected(long.replace(", long_context: true", ""))
    assert Decimal(standard["months"][0]["model_calls"]) == cost(False)
    assert any("long-context tier" in line for line in standard["assumptions"])


def test_negotiated_prices_and_conversion_apply(tmp_path: Path) -> None:
    extra = (
        "pricing:\n  overrides:\n"
        "    - {name: commit, provider: openai, model: gpt-4o, discount: 50}\n"
        "    - {name: ours, provider: self-hosted, model: llama-ft, "
        "unit_prices: {input: 1, output: 2}}\n"
    )
    workspace = make_workspace(tmp_path / "ws", extra=extra)
    list_price = Decimal(projected()["months"][0]["model_calls"])
    discounted = pj.project_in(workspace, pj.parse_proposal(PROPOSAL)).as_dict()
    assert Decimal(discounted["months"][0]["model_calls"]) == cents(list_price / 2)
    assert "less 50% (override commit)" in discounted["price_sources"][0]
    # a model no list knows, priced by its override: 1,000 x (1,000 x 1 + 200 x 2) / 1e6 = 1.40
    # (no cache price: cached tokens are charged as input)
    private = PROPOSAL.replace(
        "provider: openai, model: gpt-4o", "provider: self-hosted, model: llama-ft"
    )
    found = pj.project_in(workspace, pj.parse_proposal(private)).as_dict()
    assert found["months"][0]["model_calls"] == "1.40"
    # in euros at 0.9 a dollar
    euros = PROPOSAL + "currency: EUR\nusd_rate: 0.9\n"
    converted = projected(euros)
    assert Decimal(converted["months"][0]["model_calls"]) == cents(
        1000 * per_request("gpt-4o", cached=400) * Decimal("0.9")
    )
    assert "token prices converted at 0.9 EUR/USD" in converted["assumptions"]
    workspace.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("input_tokens: 1000,", "input_tokens: 1000, share: 60,"), "shares must sum to 100"),
        (("growth: 10", "growth: 10\nvolume: 3"), "volume: Extra inputs are not permitted"),
        (("start: 2026-11", "start: 2026-13"), "start: String should match pattern"),
        (("horizon: 3", "horizon: 0"), "horizon: Input should be greater than or equal to 1"),
        (("horizon: 3", "horizon: 3\ncurrency: EUR"), "give usd_rate (EUR per US dollar)"),
        (("horizon: 3", "horizon: 3\ncurrency: XYZ"), "'XYZ' is not an ISO 4217 currency code"),
        (("cache_hit: 40", "cache_hit: 140"), "models.0.cache_hit: Input should be less than"),
        (("model: gpt-4o,", "model: no-such-model-x,"), "price it with a pricing.overrides"),
    ],
)
def test_bad_proposals_are_one_clear_error(change: tuple[str, str], message: str) -> None:
    text = PROPOSAL.replace(*change)
    assert text != PROPOSAL
    with pytest.raises(pj.ProjectionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        pj.price_proposal(pj.parse_proposal(text), LIST)


def test_not_yaml_or_not_a_mapping() -> None:
    with pytest.raises(pj.ProjectionError, match="not valid YAML"):
        pj.parse_proposal("name: [unclosed")
    with pytest.raises(pj.ProjectionError, match="expected a mapping"):
        pj.parse_proposal("- a list")


# -- the command, saving, and comparing with actuals ---------------------------------------
def organisation(tmp_path: Path) -> Path:
    rules = (
        "rules:\n  - name: tagged\n"
        "    match: \"tags['use_case'] IS NOT NULL\"\n    method: direct\n"
    )
    workspace = make_workspace(tmp_path / "ws", rules)
    tags = {"use_case": "claims-triage", "cost_centre": "ops"}
    bill = write_focus(
        tmp_path / "oct.csv",
        [
            {
                "BilledCost": "80",
                "EffectiveCost": "80",
                "ProviderName": "OpenAI",
                "ServiceName": "OpenAI API",
                "Tags": tags,
            },
            {"BilledCost": "40", "EffectiveCost": "40", "Tags": tags},
            {"BilledCost": "7", "EffectiveCost": "7", "Tags": {"use_case": "other"}},
        ],
    )
    metrics = tmp_path / "metrics.csv"
    metrics.write_text("period,use_case,decisions\n2026-10,claims-triage,1500\n")
    ingest(workspace, bill, metrics)
    allocate(workspace, "2026-10")
    workspace.close()
    return tmp_path / "ws"


FIXED_ONLY = (
    "name: claims-triage\ndecisions: 1000\nstart: 2026-10\nhorizon: {h}\n"
    "fixed: [{{name: team, monthly: {m}}}]\n"
)


def cli(root: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["-w", str(root), "project", *args])


def test_save_then_compare_with_actuals(tmp_path: Path) -> None:
    root = organisation(tmp_path)
    first = tmp_path / "first.yaml"
    first.write_text(FIXED_ONLY.format(h=1, m=90))
    second = tmp_path / "second.yaml"
    second.write_text(FIXED_ONLY.format(h=1, m=100))
    assert cli(root, str(first), "--save").exit_code == 0
    saved = cli(root, "run", str(second), "--save", "-f", "json")
    assert saved.exit_code == 0, saved.output
    assert json.loads(saved.stdout)["total"] == "100.00"
    listed = json.loads(cli(root, "list", "-f", "json").stdout)
    assert [(p["id"], p["name"], p["total"]) for p in listed] == [
        (1, "claims-triage", "90.00"),
        (2, "claims-triage", "100.00"),
    ]

    workspace = Workspace.open(root)
    found = pj.compare(workspace, "claims-triage", "2026-10")  # the latest save
    result = found.as_dict()
    assert (result["projection_id"], result["projected"], result["actual"]) == (
        2,
        "100.00",
        "120.00",
    )
    assert (result["variance"], result["variance_percent"]) == ("20.00", "20.00")
    assert (result["projected_cost_per_decision"], result["actual_cost_per_decision"]) == (
        "0.1000000000",
        "0.0800000000",
    )
    assert sum(Decimal(v) for v in result["actual_by_category"].values()) == Decimal(120)
    assert result["actual_by_category"]["foundation_model_api"] == "80.00"
    assert found.rows()[1:] == [
        {
            "figure": "decisions",
            "projected": "1000",
            "actual": "1500",
            "variance": "500",
            "variance_percent": "50.00",
        },
        {
            "figure": "cost_per_decision",
            "projected": "0.1000000000",
            "actual": "0.0800000000",
            "variance": "-0.0200000000",
            "variance_percent": "-20.00",
        },
    ]
    assert result["notes"] == []
    with pytest.raises(pj.ProjectionNotFoundError, match="no projection saved for 'nobody'"):
        pj.compare(workspace, "nobody", "2026-10")
    with pytest.raises(pj.ProjectionError, match="2026-11 is outside the projection"):
        pj.compare(workspace, "claims-triage", "2026-11")
    recorded = [e for e in audit.entries(workspace.control) if e.action == "projection.saved"]
    assert [e.details["total"] for e in recorded if e.details] == ["90.00", "100.00"]
    workspace.close()

    as_csv = cli(root, "compare", "claims-triage", "-p", "2026-10", "-f", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    assert "cost,100.00,120.00,20.00,20.00" in as_csv.stdout
    table = cli(root, "compare", "claims-triage", "-p", "2026-10")
    assert "Actual cost by category" in table.stdout


def test_compare_says_what_is_missing(tmp_path: Path) -> None:
    root = organisation(tmp_path)
    proposal = tmp_path / "p.yaml"
    proposal.write_text(FIXED_ONLY.format(h=2, m=100).replace("claims-triage", "not-running"))
    assert cli(root, str(proposal), "--save").exit_code == 0
    workspace = Workspace.open(root)
    found = pj.compare(workspace, "not-running", "2026-10").as_dict()
    assert (found["actual"], found["variance"], found["variance_percent"]) == (
        "0.00",
        "-100.00",
        "-100.00",
    )
    assert found["actual_cost_per_decision"] is None
    assert found["notes"] == [
        "no statement line of not-running in 2026-10: has it started running?",
        "no decisions of not-running in 2026-10: ingest its business metrics",
    ]
    with pytest.raises(pj.ProjectionError, match="2026-11 has no published allocation"):
        pj.compare(workspace, "not-running", "2026-11")
    # an adjustment posted to 2026-11 gives it lines, not a statement to compare with
    with workspace.control.transaction() as session:
        adjustments.post(
            session,
            corrects="2026-10",
            kind=adjustments.RESTATEMENT,
            payer="ops",
            workload="not-running",
            category="compute",
            rule="r",
            method="direct",
            mode="chargeback",
            currency="USD",
            amount=Decimal("5"),
            description="a late credit",
            actor="test",
        )
    with pytest.raises(pj.ProjectionError, match="2026-11 has no published allocation"):
        pj.compare(workspace, "not-running", "2026-11")
    workspace.close()
    unknown = cli(root, "compare", "nobody", "-p", "2026-10")
    assert unknown.exit_code == 2
    assert "no projection saved for 'nobody'" in unknown.output


def test_the_command_prints_and_refuses_bad_input(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    make_workspace(root).close()
    proposal = tmp_path / "proposal.yaml"
    proposal.write_text(PROPOSAL)
    table = cli(root, str(proposal))
    assert table.exit_code == 0, table.output
    assert "Projection claims-triage (USD), 3 months" in table.stdout
    assert "assumes: prompt caching: every model's cache hit rate +50 points" in table.stdout
    rows = cli(root, str(proposal), "-f", "csv").stdout.splitlines()
    assert (
        rows[0]
        == "scenario,period,decisions,model_calls,gpu,storage,fixed,total,saving,cost_per_decision"
    )
    assert len(rows) == 1 + 3 * 5  # the baseline and four scenarios, three months each
    assert rows[1].startswith("baseline,2026-11,1000,")
    # the quick flags: one model, no file; and flags over a file's figures
    quick = cli(
        root,
        "--name", "quick", "--decisions", "1000", "--start", "2026-11", "--model",
        "openai/gpt-4o", "--input-tokens", "1000", "--output-tokens", "200", "--cache-hit",
        "40", "--horizon", "1", "-f", "json",
    )  # fmt: skip
    assert quick.exit_code == 0, quick.output
    assert Decimal(json.loads(quick.stdout)["months"][0]["model_calls"]) == cents(
        1000 * per_request("gpt-4o", cached=400)
    )
    faster = json.loads(cli(root, str(proposal), "--growth", "0", "-f", "json").stdout)
    assert [m["decisions"] for m in faster["months"]] == ["1000"] * 3
    # the flags complete a file that lacks a figure: it is checked once, after them
    partial = tmp_path / "partial.yaml"
    partial.write_text("name: team\nstart: 2026-11\nhorizon: 1\nfixed: [{name: t, monthly: 9}]\n")
    completed = cli(root, str(partial), "--decisions", "500", "-f", "json")
    assert completed.exit_code == 0, completed.output
    assert json.loads(completed.stdout)["months"][0]["decisions"] == "500"
    incomplete = cli(root, str(partial))
    assert incomplete.exit_code == 2
    assert "decisions: Field required" in incomplete.output
    nothing_saved = json.loads(cli(root, "list", "-f", "json").stdout)
    assert nothing_saved == []

    bad = tmp_path / "bad.yaml"
    bad.write_text(PROPOSAL.replace("growth: 10", "growth: lots"))
    refused = cli(root, str(bad))
    assert refused.exit_code == 2
    assert "growth: Input should be a valid decimal" in refused.output
    assert cli(root, str(tmp_path / "missing.yaml")).exit_code == 2
    both = cli(root, str(proposal), "--model", "openai/gpt-4o")
    assert both.exit_code == 2
    assert cli(root, "--name", "x", "--model", "gpt-4o").exit_code == 2  # no provider/


def test_the_rest_api(tmp_path: Path) -> None:
    from tests.api.conftest import serving

    root = organisation(tmp_path)
    body: dict[str, Any] = {
        "proposal": json.loads(pj.parse_proposal(FIXED_ONLY.format(h=1, m=100)).model_dump_json()),
        "save": True,
    }
    with serving(root, tmp_path / "served") as server:
        client, analyst = server.client, server.headers("analyst")
        answered = client.post("/api/v1/projections", json=body, headers=analyst)
        assert answered.status_code == 200, answered.text
        assert (answered.json()["total"], answered.json()["saved"]["id"]) == ("100.00", 1)
        refused = client.post("/api/v1/projections", json=body, headers=server.headers("cx"))
        assert refused.status_code == 403
        bad = {"proposal": {**body["proposal"], "horizon": 0}}
        assert client.post("/api/v1/projections", json=bad, headers=analyst).status_code == 422
        listed = client.get("/api/v1/projections", headers=analyst).json()
        assert [p["name"] for p in listed] == ["claims-triage"]
        url = "/api/v1/projections/claims-triage/compare"
        compared = client.get(url, params={"period": "2026-10"}, headers=analyst)
        assert compared.status_code == 200, compared.text
        assert compared.json()["variance"] == "20.00"
        outside = client.get(url, params={"period": "2027-10"}, headers=analyst)
        assert outside.status_code == 422
        missing = client.get(
            "/api/v1/projections/nobody/compare", params={"period": "2026-10"}, headers=analyst
        )
        assert missing.status_code == 404


def test_the_readme_proposal_projects_as_described() -> None:
    import re

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    [block] = [
        b
        for b in re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
        if b.startswith("name: claims-triage")
    ]
    found = projected(block)
    assert (found["horizon"], len(found["months"])) == (12, 12)
    assert found["months"][0]["decisions"] == "200000"
    assert found["months"][0]["storage"] == found["months"][-1]["storage"] == "200.00"
    assert [s["applies"] for s in found["scenarios"]] == [True, True, True, True]
