"""Cost-aware architecture review (MISSION R6.4): a proposed workload priced month by month
before it runs, with the optimisation scenarios beside it, saved, and later compared with what
the use case actually cost.

A proposal names the use case it will run as, its decisions in the first month, a monthly
growth (percent, compounding), a horizon and its cost parts:

- model calls, per model: a share of the requests, input and output tokens per request and a
  cache hit rate (the percent of input tokens read from the prompt cache). Each model's unit
  prices come from apportion's price source (:class:`apportion.pricing.tokens.Pricer`: the
  genai-prices list under the workspace's ``pricing.overrides``), dated the first day of the
  month, and are applied exactly (a model with no output tokens, an embedding model, needs no
  output price; ``long_context: true`` prices a model at its long-context tier, which the
  price source does not choose from the input tokens)::

      requests  = decisions x requests_per_decision x share / 100
      per MTok  = input x (100 - cache_hit) / 100 x input rate
                + input x cache_hit / 100 x cache-read rate + output x output rate
      cost      = requests x per MTok / 1,000,000   (x usd_rate when not in USD)

- GPU hours and storage GB-months, at their prices, growing with the decisions unless
  ``grows: false`` (reserved capacity);
- fixed monthly costs (licences, people), which do not grow.

Month i (0 for the start) serves ``decisions x (1 + growth/100)^i`` decisions, rounded half up
to whole decisions; growing GPU and storage scale by the same factor, unrounded. Each part is
rounded to the currency's minor unit once (half even) and the month's total is the sum of its
rounded parts, so the parts add up to the total; the model calls' cost per model is rounded
with them by largest remainder, so it adds up to the model calls' part; cost per decision is
the total over the decisions, to 10 places.

The scenarios change the proposal and price it again, so each saving is the same arithmetic:
prompt caching raises every model's cache hit rate by some points (capped), response caching
answers a share of the requests from a cache (no model call), routing sends a share of each
model's traffic to a smaller model (the proposal's map, else the workspace's
``playbooks.routing.smaller_models``, the routing playbook's, read the same way by
apportion.config.playbooks.smaller_model). A scenario that changes
nothing (no model, no model in the routing map, every cache hit at the cap) is listed as not
applying, with why. Their assumptions are part of the output.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select

from apportion.allocate.split import round_to
from apportion.analyse.delivered import delivered
from apportion.config.loader import exact_yaml
from apportion.config.playbooks import DEFAULT_SMALLER_MODELS, smaller_model
from apportion.control import audit
from apportion.control.models import Projection as ProjectionRecord
from apportion.errors import NotFoundError, UsageError
from apportion.ledger.lines import stated_lines
from apportion.money import EXACT, add, exact_sum, subtract, to_minor, to_minor_text
from apportion.money import ratio as exact_ratio
from apportion.periods import Period
from apportion.pricing.tokens import CURRENCY as PRICE_CURRENCY
from apportion.pricing.tokens import Pricer, TokenUsage
from apportion.schema.currency import ISO_4217, minor_units
from apportion.schema.tables import MONEY_SCALE
from apportion.workspace import Workspace

PLACES = Decimal(1).scaleb(-10)  # ratios: cost per decision
PERCENT_PLACES = Decimal("0.01")
MILLION = Decimal(1_000_000)
HUNDRED = Decimal(100)
NAME = r"^[^\x00-\x1f/]{1,200}$"  # a use case: any text but control characters and '/'
PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"
PROMPT_CACHING = "prompt caching"
RESPONSE_CACHING = "response caching"
ROUTING = "routing to smaller models"
COMBINED = "all three"
PARTS = ("model_calls", "gpu", "storage", "fixed")


class ProjectionError(UsageError):
    """A proposal that cannot be priced as given, or a comparison that cannot be made (bad
    input: exit code 2, HTTP 422)."""


class ProjectionNotFoundError(ProjectionError, NotFoundError):
    """No projection is saved under that name (HTTP 404)."""


# -- the proposal ---------------------------------------------------------------------------
# bounds keep every figure far inside exact arithmetic and a money column's 64 characters
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=12, decimal_places=6)]
Quantity = Annotated[Decimal, Field(ge=0, le=10**10, max_digits=24, decimal_places=10)]
Price = Annotated[Decimal, Field(ge=0, le=10**6, max_digits=24, decimal_places=10)]
Tokens = Annotated[int, Field(ge=0, le=10**7)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelCalls(_Strict):
    """Calls to one model: a share of the workload's requests and their tokens."""

    provider: str = Field(min_length=1, max_length=100, description="openai, anthropic, ...")
    model: str = Field(min_length=1, max_length=200)
    share: Percent = Field(default=HUNDRED, description="Percent of the requests")
    input_tokens: Tokens = Field(description="Input tokens per request, cached ones included")
    output_tokens: Tokens = Field(description="Output tokens per request")
    cache_hit: Percent = Field(
        default=Decimal(0), description="Percent of input tokens read from the prompt cache"
    )
    long_context: bool = Field(
        default=False,
        description="Priced at the model's long-context tier (prompts above its context "
        "threshold, such as 200,000 tokens); the tier is not chosen from input_tokens",
    )

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.model}"


class Capacity(_Strict):
    """GPU hours or storage GB-months in the first month, at a price per unit."""

    quantity: Quantity
    price: Price
    grows: bool = Field(
        default=True, description="Scales with the decisions (false: reserved capacity)"
    )


class FixedCost(_Strict):
    name: str = Field(min_length=1, max_length=200)
    monthly: Quantity


class PromptCachingScenario(_Strict):
    points: Percent = Field(default=Decimal(50), description="Added to every cache hit rate")
    cap: Percent = Field(default=Decimal(90), description="The highest cache hit rate assumed")


class ResponseCachingScenario(_Strict):
    share: Percent = Field(default=Decimal(20), description="Percent of requests from cache")


class RoutingScenario(_Strict):
    share: Percent = Field(default=Decimal(30), description="Percent of a model's traffic moved")
    to: dict[str, str] | None = Field(
        default=None,
        max_length=200,
        description="Model (or the start of its names) -> the smaller model; default: the "
        "workspace's playbooks.routing.smaller_models",
    )


class Scenarios(_Strict):
    """Each may be set to null to leave it out."""

    prompt_caching: PromptCachingScenario | None = PromptCachingScenario()
    response_caching: ResponseCachingScenario | None = ResponseCachingScenario()
    routing: RoutingScenario | None = RoutingScenario()


class Proposal(_Strict):
    """A workload proposed for architecture review."""

    name: str = Field(pattern=NAME, description="The use case it will run as")
    decisions: Annotated[Decimal, Field(ge=1, le=10**10, max_digits=24, decimal_places=6)] = Field(
        description="Decisions served in the first month"
    )
    decision_unit: str | None = Field(default=None, max_length=200)
    requests_per_decision: Annotated[
        Decimal, Field(gt=0, le=1000, max_digits=16, decimal_places=6)
    ] = Decimal(1)
    start: str = Field(pattern=PERIOD, description="The first month, YYYY-MM")
    growth: Annotated[Decimal, Field(gt=-100, le=100, max_digits=12, decimal_places=6)] = Field(
        default=Decimal(0), description="Percent per month, compounding"
    )
    horizon: int = Field(default=12, ge=1, le=60, description="Months projected")
    currency: str = "USD"
    usd_rate: Price | None = Field(
        default=None, description="Units of the currency per US dollar: token prices are in USD"
    )
    models: list[ModelCalls] = Field(default_factory=list, max_length=50)
    gpu: Capacity | None = Field(default=None, description="GPU hours a month, price per hour")
    storage: Capacity | None = Field(default=None, description="GB-months, price per GB-month")
    fixed: list[FixedCost] = Field(default_factory=list, max_length=100)
    scenarios: Scenarios = Scenarios()

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if value not in ISO_4217:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Proposal:
        if self.models:
            total = exact_sum(m.share for m in self.models)
            if total != HUNDRED:
                raise ValueError(f"the models' shares must sum to 100, they sum to {total}")
        if not (self.models or self.gpu or self.storage or self.fixed):
            raise ValueError("give at least one cost part: models, gpu, storage or fixed")
        priced_in_usd = bool(self.models) and self.currency != PRICE_CURRENCY
        if priced_in_usd and self.usd_rate is None:
            raise ValueError(
                f"token prices are in USD: give usd_rate ({self.currency} per US dollar) to "
                "convert them explicitly, or project in USD"
            )
        if self.usd_rate is not None and not priced_in_usd:
            raise ValueError("usd_rate converts token prices into another currency: leave it out")
        if self.usd_rate == 0:
            raise ValueError("usd_rate must be more than 0")
        return self

    @property
    def months(self) -> list[str]:
        month, found = Period.parse(self.start), []
        for _ in range(self.horizon):
            found.append(str(month))
            month = month.next
        return found


def parse_proposal(text: str, source: str = "proposal") -> Proposal:
    """A proposal from YAML (or JSON), with every problem named by its field."""
    return proposal_of(proposal_mapping(text, source), source)


def proposal_mapping(text: str, source: str = "proposal") -> dict[str, Any]:
    """A proposal's fields from YAML (or JSON), not yet checked: what the command line's flags
    complete before :func:`proposal_of` checks the whole."""
    try:
        raw = exact_yaml(text)  # numbers from their text: a float would round a price
    except yaml.YAMLError as exc:
        raise ProjectionError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ProjectionError(f"{source}: expected a mapping at the top level")
    return raw


def proposal_of(raw: dict[str, Any], source: str = "proposal") -> Proposal:
    try:
        return Proposal.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ProjectionError(f"{source}: {problems}") from exc


# -- pricing --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rates:
    """A model's unit prices in USD per million tokens, as the price source gives them."""

    input: Decimal
    cache_read: Decimal
    output: Decimal
    source: str


def model_rates(pricer: Pricer, calls: ModelCalls, period: str) -> Rates:
    """Priced by probing the price function with a million tokens of each kind, so overrides,
    discounts and a missing cache price (charged as input) apply as they do to bills; output
    only where the calls have output tokens (an embedding model has no output price)."""
    at = datetime(*Period.parse(period).start.timetuple()[:3], 12, tzinfo=UTC)
    million = 1_000_000

    def usage(
        input_tokens: int = 0, cache_read_tokens: int = 0, output_tokens: int = 0
    ) -> TokenUsage:
        return TokenUsage(
            calls.provider,
            calls.model,
            at,
            input_tokens=input_tokens,
            cache_read_tokens=cache_read_tokens,
            output_tokens=output_tokens,
            long_context=calls.long_context,
        )

    probes: dict[str, TokenUsage] = {
        "input": usage(input_tokens=million),
        "cache_read": usage(input_tokens=million, cache_read_tokens=million),
    }
    if calls.output_tokens:
        probes["output"] = usage(output_tokens=million)
    found: dict[str, Decimal] = {"output": Decimal(0)}
    source = ""
    for kind, probe in probes.items():
        price = pricer.price(probe)
        if price.amount is None:
            raise ProjectionError(
                f"{price.reason}; price it with a pricing.overrides entry in apportion.yaml"
            )
        found[kind], source = price.amount, price.source
    return Rates(found["input"], found["cache_read"], found["output"], source)


def call_cost(calls: ModelCalls, requests: Decimal, rates: Rates) -> Decimal:
    """Exact USD cost of ``requests`` calls (the formula of the module's docstring)."""
    with_cache = EXACT.multiply(calls.input_tokens, calls.cache_hit)
    uncached = EXACT.multiply(calls.input_tokens, HUNDRED - calls.cache_hit)
    tokens = exact_sum(
        [
            EXACT.divide(EXACT.multiply(uncached, rates.input), HUNDRED),
            EXACT.divide(EXACT.multiply(with_cache, rates.cache_read), HUNDRED),
            EXACT.multiply(calls.output_tokens, rates.output),
        ]
    )
    return EXACT.divide(EXACT.multiply(requests, tokens), MILLION)


# -- the projection -------------------------------------------------------------------------
@dataclass(frozen=True)
class Month:
    period: str
    decisions: Decimal
    parts: dict[str, Decimal]  # model_calls, gpu, storage, fixed: rounded to minor units
    by_model: dict[str, Decimal]  # provider/model -> rounded cost of its calls
    currency: str

    @property
    def total(self) -> Decimal:
        return exact_sum(self.parts.values())

    @property
    def cost_per_decision(self) -> Decimal | None:
        return ratio(self.total, self.decisions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "decisions": count(self.decisions),
            **{part: to_minor_text(amount, self.currency) for part, amount in self.parts.items()},
            "total": to_minor_text(self.total, self.currency),
            "cost_per_decision": text(self.cost_per_decision),
            "by_model": {k: to_minor_text(v, self.currency) for k, v in self.by_model.items()},
        }


@dataclass(frozen=True)
class Scenario:
    name: str
    assumptions: list[str]
    months: list[Month]  # empty where the scenario does not apply
    baseline: list[Month]
    not_applied: str | None = None  # why the scenario changes nothing

    @property
    def total(self) -> Decimal:
        return exact_sum(m.total for m in self.months)

    @property
    def saving(self) -> Decimal:
        return subtract(exact_sum(m.total for m in self.baseline), self.total)

    def as_dict(self, currency: str) -> dict[str, Any]:
        if not self.months:
            return {
                "scenario": self.name,
                "applies": False,
                "why_not": self.not_applied,
                "assumptions": self.assumptions,
            }
        baseline = exact_sum(m.total for m in self.baseline)
        return {
            "scenario": self.name,
            "applies": True,
            "assumptions": self.assumptions,
            "total": to_minor_text(self.total, currency),
            "saving": to_minor_text(self.saving, currency),
            "saving_percent": text(percent(self.saving, baseline)),
            "months": [
                {
                    **month.as_dict(),
                    "saving": to_minor_text(subtract(base.total, month.total), currency),
                }
                for month, base in zip(self.months, self.baseline, strict=True)
            ],
        }


@dataclass(frozen=True)
class Projected:
    proposal: Proposal
    months: list[Month]
    scenarios: list[Scenario]
    assumptions: list[str]
    sources: list[str]  # where each model's prices came from

    @property
    def currency(self) -> str:
        return self.proposal.currency

    @property
    def total(self) -> Decimal:
        return exact_sum(m.total for m in self.months)

    def as_dict(self) -> dict[str, Any]:
        proposal = self.proposal
        return {
            "name": proposal.name,
            "currency": self.currency,
            "start": proposal.start,
            "horizon": proposal.horizon,
            "decision_unit": proposal.decision_unit,
            "total": to_minor_text(self.total, self.currency),
            "months": [m.as_dict() for m in self.months],
            "scenarios": [s.as_dict(self.currency) for s in self.scenarios],
            "assumptions": self.assumptions,
            "price_sources": self.sources,
        }


def price_proposal(proposal: Proposal, pricer: Pricer) -> Projected:
    """The proposal's months and its scenarios, priced by ``pricer``."""
    rates = _rates(proposal, pricer)
    months = _months(proposal, pricer)
    scenarios = [
        _scenario(name, changed, assumptions, why, months, pricer)
        for name, changed, assumptions, why in _variants(proposal)
    ]
    sources = sorted({f"{label}: {r.source}" for label, r in rates.items()})
    return Projected(proposal, months, scenarios, _assumptions(proposal), sources)


def project_in(workspace: Workspace, proposal: Proposal) -> Projected:
    """Priced as the workspace prices its bills (genai-prices under its overrides); routed by
    its ``playbooks.routing.smaller_models`` unless the proposal has its own map."""
    routing = proposal.scenarios.routing
    if routing is not None and routing.to is None:
        smaller = dict(workspace.config.playbooks.routing.smaller_models)
        scenarios = proposal.scenarios.model_copy(
            update={"routing": routing.model_copy(update={"to": smaller})}
        )
        proposal = proposal.model_copy(update={"scenarios": scenarios})
    return price_proposal(proposal, Pricer(workspace.config.pricing))


def _rates(proposal: Proposal, pricer: Pricer) -> dict[str, Rates]:
    """The first month's rates per model: they name the price sources."""
    return {calls.label: model_rates(pricer, calls, proposal.start) for calls in proposal.models}


def _months(proposal: Proposal, pricer: Pricer) -> list[Month]:
    months = []
    currency = proposal.currency
    for index, period in enumerate(proposal.months):
        factor = EXACT.power(1 + EXACT.divide(proposal.growth, HUNDRED), index)
        decisions = EXACT.multiply(proposal.decisions, factor).quantize(
            Decimal(1), rounding=ROUND_HALF_UP, context=EXACT
        )
        requests = EXACT.multiply(decisions, proposal.requests_per_decision)
        by_model = _model_costs(proposal, requests, period, pricer)
        parts = {
            "model_calls": exact_sum(by_model.values()),
            "gpu": _capacity(proposal.gpu, factor),
            "storage": _capacity(proposal.storage, factor),
            "fixed": exact_sum(f.monthly for f in proposal.fixed),
        }
        rounded = {k: to_minor(v, currency) for k, v in parts.items()}
        months.append(
            Month(
                period=period,
                decisions=decisions,
                parts=rounded,
                by_model=_by_model(by_model, rounded["model_calls"], currency),
                currency=currency,
            )
        )
    return months


def _by_model(exact: dict[str, Decimal], total: Decimal, currency: str) -> dict[str, Decimal]:
    """Each model's cost rounded with the others by largest remainder, to the rounded model
    calls part: rounded alone they need not add up to it."""
    # round_to counts in the ledger's money units: the exact costs are brought to them first
    # (far below a cent, so which model gets a cent is unchanged)
    unit = Decimal(1).scaleb(-MONEY_SCALE)
    amounts = [EXACT.quantize(amount, unit) for amount in exact.values()]
    return dict(zip(exact, round_to(amounts, minor_units(currency), total), strict=True))


def _model_costs(
    proposal: Proposal, requests: Decimal, period: str, pricer: Pricer
) -> dict[str, Decimal]:
    """Exact cost per model in the proposal's currency, at the month's prices."""
    found: dict[str, Decimal] = {}
    for calls in proposal.models:
        rates = model_rates(pricer, calls, period)
        share = EXACT.divide(EXACT.multiply(requests, calls.share), HUNDRED)
        cost = call_cost(calls, share, rates)
        if proposal.usd_rate is not None:
            cost = EXACT.multiply(cost, proposal.usd_rate)
        found[calls.label] = add(found.get(calls.label, Decimal(0)), cost)
    return found


def _capacity(capacity: Capacity | None, factor: Decimal) -> Decimal:
    if capacity is None:
        return Decimal(0)
    cost = EXACT.multiply(capacity.quantity, capacity.price)
    return EXACT.multiply(cost, factor) if capacity.grows else cost


def _assumptions(proposal: Proposal) -> list[str]:
    found = [
        f"{count(proposal.decisions)} decisions in {proposal.start}, growing "
        f"{count(proposal.growth)}% a month (compounding, rounded to whole decisions)",
        f"{count(proposal.requests_per_decision)} model request(s) per decision",
        "cached input tokens are priced at the cache-read rate; cache writes are not modelled",
        "token prices are each model's standard tier, or its long-context tier where the "
        "model says long_context: true (not chosen from its input tokens)",
        "GPU and storage grow with the decisions unless grows: false; fixed costs do not grow",
    ]
    if proposal.usd_rate is not None:
        found.append(
            f"token prices converted at {count(proposal.usd_rate)} {proposal.currency}/USD"
        )
    return found


# -- scenarios ------------------------------------------------------------------------------
Variant = tuple[str, Proposal | None, list[str], str | None]


def _variants(proposal: Proposal) -> list[Variant]:
    """Each scenario as a changed proposal (None where it changes nothing), its assumptions
    and why it does not apply; then, where more than one applies, all of them together."""
    chosen = proposal.scenarios
    steps: list[tuple[Any, Callable[[Proposal, Any], Variant]]] = [
        (chosen.prompt_caching, _prompt_caching),
        (chosen.response_caching, _response_caching),
        (chosen.routing, _routing),
    ]
    variants = [step(proposal, settings) for settings, step in steps if settings is not None]
    applied = [variant for variant in variants if variant[1] is not None]
    if len(applied) > 1:
        combined = proposal
        for settings, step in steps:
            if settings is not None:
                combined = step(combined, settings)[1] or combined
        variants.append((COMBINED, combined, [a for v in applied for a in v[2]], None))
    return variants


def _prompt_caching(proposal: Proposal, settings: PromptCachingScenario) -> Variant:
    assumptions = [
        f"prompt caching: every model's cache hit rate +{count(settings.points)} points, "
        f"at most {count(settings.cap)}%"
    ]
    models = [
        m.model_copy(
            update={"cache_hit": max(m.cache_hit, min(m.cache_hit + settings.points, settings.cap))}
        )
        for m in proposal.models
    ]
    if models == proposal.models:
        why = "no model calls" if not models else "every cache hit rate is already at the cap"
        return PROMPT_CACHING, None, assumptions, why
    return PROMPT_CACHING, proposal.model_copy(update={"models": models}), assumptions, None


def _response_caching(proposal: Proposal, settings: ResponseCachingScenario) -> Variant:
    assumptions = [
        f"response caching: {count(settings.share)}% of requests answered from a cache with no "
        "model call; the cache's own cost, GPU, storage and fixed costs unchanged"
    ]
    if not proposal.models or not settings.share:
        why = "no model calls to answer from a cache" if not proposal.models else "a share of 0"
        return RESPONSE_CACHING, None, assumptions, why
    kept = EXACT.divide(
        EXACT.multiply(proposal.requests_per_decision, HUNDRED - settings.share), HUNDRED
    )
    return (
        RESPONSE_CACHING,
        proposal.model_copy(update={"requests_per_decision": kept}),
        assumptions,
        None,
    )


def _routing(proposal: Proposal, settings: RoutingScenario) -> Variant:
    routes = DEFAULT_SMALLER_MODELS if settings.to is None else settings.to
    targets = {m.model: smaller_model(m.model, routes) for m in proposal.models}
    moved = [m for m in proposal.models if targets[m.model] is not None]
    assumptions = [
        f"routing: {count(settings.share)}% of the traffic of "
        + (", ".join(f"{m.model} to {targets[m.model]}" for m in moved) or "no model")
        + ", same tokens and cache hit rate"
    ]
    if not moved or not settings.share:
        why = "no model of the proposal is in the routing map" if not moved else "a share of 0"
        return ROUTING, None, assumptions, why
    models: list[ModelCalls] = []
    for calls in proposal.models:
        smaller = targets[calls.model]
        if smaller is None:
            models.append(calls)
            continue
        part = EXACT.divide(EXACT.multiply(calls.share, settings.share), HUNDRED)
        models.append(calls.model_copy(update={"share": subtract(calls.share, part)}))
        models.append(calls.model_copy(update={"model": smaller, "share": part}))
    return ROUTING, proposal.model_copy(update={"models": models}), assumptions, None


def _scenario(
    name: str,
    changed: Proposal | None,
    assumptions: list[str],
    why: str | None,
    baseline: list[Month],
    pricer: Pricer,
) -> Scenario:
    if changed is None:
        return Scenario(name, assumptions, [], baseline, why)
    return Scenario(name, assumptions, _months(changed, pricer), baseline)


# -- saved projections ----------------------------------------------------------------------
@dataclass(frozen=True)
class SavedProjection:
    id: int
    name: str
    start: str
    horizon: int
    currency: str
    total: Decimal
    saved_at: datetime
    saved_by: str
    result: dict[str, Any] = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        first = self.result["months"][0]
        return {
            "id": self.id,
            "name": self.name,
            "start": self.start,
            "horizon": self.horizon,
            "currency": self.currency,
            "first_month_total": first["total"],
            "first_month_cost_per_decision": first["cost_per_decision"],
            "total": to_minor_text(self.total, self.currency),
            "saved_at": self.saved_at.isoformat(),
            "saved_by": self.saved_by,
        }


def save(workspace: Workspace, projected: Projected, actor: str) -> SavedProjection:
    """Keep the projection as computed (a later save of the same name is the one compared)."""
    proposal = projected.proposal
    record = ProjectionRecord(
        name=proposal.name,
        start=proposal.start,
        horizon=proposal.horizon,
        currency=proposal.currency,
        total=projected.total,
        proposal=json.loads(proposal.model_dump_json()),
        result=projected.as_dict(),
        created_at=datetime.now(UTC),
        created_by=actor,
    )
    with workspace.control.transaction() as session:
        session.add(record)
        session.flush()
        audit.record(
            session,
            actor,
            "projection.saved",
            proposal.name,
            id=record.id,
            total=to_minor_text(projected.total, proposal.currency),
            currency=proposal.currency,
        )
    return _saved(record)


def saved(workspace: Workspace) -> list[SavedProjection]:
    """Every saved projection, oldest first."""
    with workspace.control.reading() as session:
        records = session.scalars(select(ProjectionRecord).order_by(ProjectionRecord.id))
        return [_saved(record) for record in records]


def latest(workspace: Workspace, name: str) -> SavedProjection:
    with workspace.control.reading() as session:
        record = session.scalars(
            select(ProjectionRecord)
            .where(ProjectionRecord.name == name)
            .order_by(ProjectionRecord.id.desc())
            .limit(1)
        ).first()
    if record is None:
        raise ProjectionNotFoundError(f"no projection saved for {name!r}: apportion project --save")
    return _saved(record)


def _saved(record: ProjectionRecord) -> SavedProjection:
    return SavedProjection(
        id=record.id,
        name=record.name,
        start=record.start,
        horizon=record.horizon,
        currency=record.currency,
        total=record.total,
        saved_at=audit.aware(record.created_at),
        saved_by=record.created_by,
        result=record.result,
    )


# -- projected against actual ---------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    name: str
    period: str
    currency: str
    projection_id: int
    saved_at: datetime
    projected: Decimal
    projected_parts: dict[str, Decimal]
    projected_decisions: Decimal
    actual: Decimal
    actual_by_category: dict[str, Decimal]
    actual_decisions: Decimal | None
    notes: list[str]

    @property
    def variance(self) -> Decimal:
        return subtract(self.actual, self.projected)

    def rows(self) -> list[dict[str, str | None]]:
        """Cost, decisions and cost per decision: projected, actual, and actual less
        projected in units and percent."""
        c = self.currency
        cost = _figure("cost", self.projected, self.actual, lambda v: to_minor_text(v, c))
        decisions = _figure("decisions", self.projected_decisions, self.actual_decisions, count)
        per = _figure(
            "cost_per_decision",
            ratio(self.projected, self.projected_decisions),
            ratio(self.actual, self.actual_decisions),
            text,
        )
        return [cost, decisions, per]

    def as_dict(self) -> dict[str, Any]:
        c = self.currency
        return {
            "name": self.name,
            "period": self.period,
            "currency": c,
            "projection_id": self.projection_id,
            "saved_at": self.saved_at.isoformat(),
            "projected": to_minor_text(self.projected, c),
            "projected_parts": {k: to_minor_text(v, c) for k, v in self.projected_parts.items()},
            "actual": to_minor_text(self.actual, c),
            "actual_by_category": {
                k: to_minor_text(v, c) for k, v in self.actual_by_category.items()
            },
            "variance": to_minor_text(self.variance, c),
            "variance_percent": text(percent(self.variance, self.projected)),
            "projected_decisions": count(self.projected_decisions),
            "actual_decisions": count(self.actual_decisions),
            "projected_cost_per_decision": text(ratio(self.projected, self.projected_decisions)),
            "actual_cost_per_decision": text(ratio(self.actual, self.actual_decisions)),
            "notes": self.notes,
        }


def _figure(
    figure: str,
    projected: Decimal | None,
    actual: Decimal | None,
    shown: Callable[[Decimal], str | None],
) -> dict[str, str | None]:
    found = {
        "figure": figure,
        "projected": None if projected is None else shown(projected),
        "actual": None if actual is None else shown(actual),
        "variance": None,
        "variance_percent": None,
    }
    if projected is not None and actual is not None:
        variance = subtract(actual, projected)
        found["variance"] = shown(variance)
        found["variance_percent"] = text(percent(variance, projected))
    return found


def compare(workspace: Workspace, name: str, period: str) -> Comparison:
    """The latest projection saved for ``name`` against the use case's statement lines and
    business metrics of ``period``."""
    Period.parse(period)
    found = latest(workspace, name)
    month = next((m for m in found.result["months"] if m["period"] == period), None)
    if month is None:
        last = found.result["months"][-1]["period"]
        raise ProjectionError(
            f"{period} is outside the projection of {name!r} ({found.start} to {last})"
        )
    lines = stated_lines(workspace, period)
    if lines is None:
        raise ProjectionError(
            f"{period} has no published allocation: apportion allocate --period {period}"
        )
    mine = [line for line in lines if line.workload == name]
    by_category: dict[str, Decimal] = {}
    for line in mine:
        if line.currency == found.currency:
            by_category[line.category] = add(
                by_category.get(line.category, Decimal(0)), line.amount
            )
    notes = _compare_notes(name, period, found.currency, mine)
    metrics = delivered(workspace, period).get(name)
    decisions = metrics.decisions if metrics and metrics.decisions else None
    if decisions is None:
        notes.append(f"no decisions of {name} in {period}: ingest its business metrics")
    return Comparison(
        name=name,
        period=period,
        currency=found.currency,
        projection_id=found.id,
        saved_at=found.saved_at,
        projected=Decimal(month["total"]),
        projected_parts={part: Decimal(month[part]) for part in PARTS},
        projected_decisions=Decimal(month["decisions"]),
        actual=exact_sum(by_category.values()),
        actual_by_category=dict(sorted(by_category.items())),
        actual_decisions=decisions,
        notes=notes,
    )


def _compare_notes(name: str, period: str, currency: str, mine: list[Any]) -> list[str]:
    notes = []
    if not mine:
        notes.append(f"no statement line of {name} in {period}: has it started running?")
    others = sorted({line.currency for line in mine if line.currency != currency})
    if others:
        notes.append(
            f"lines of {name} in {', '.join(others)} are not compared with a projection in "
            f"{currency}"
        )
    return notes


# -- shown figures ---------------------------------------------------------------------------
def ratio(amount: Decimal, over: Decimal | None) -> Decimal | None:
    """A cost per decision: exact, shown to 10 places."""
    found = exact_ratio(amount, over)
    return None if found is None else found.quantize(PLACES, context=EXACT)


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return EXACT.divide(EXACT.multiply(part, HUNDRED), whole).quantize(
        PERCENT_PLACES, context=EXACT
    )


def text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def count(value: Decimal | None) -> str | None:
    """A count or percent as given, without trailing zeros: 120000, 2.5."""
    return None if value is None else f"{EXACT.normalize(value):f}"
