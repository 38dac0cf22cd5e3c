"""FOCUS 1.2 cost files for the synthetic organisation, one CSV per provider bill.

Money is never a float: every price is written as a decimal literal, parsed to a scaled
integer, and every cost is an integer count of 1e-10 USD (quantity x unit price with the two
scales adding to 10), formatted back to a decimal string with integer arithmetic. Usage
quantities are drawn with numpy and rounded to integers before any price touches them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from apportion.schema import columns as col
from apportion.synth.organisation import (
    BEDROCK_KEY,
    EMR_BATCH,
    FEATURE_STORE,
    GLUE_ETL,
    GLUE_FEATURES,
    GPU_CLUSTER,
    VECTOR_STORE,
    Organisation,
    Period,
)

FOCUS_HEADER: tuple[str, ...] = (
    col.BILLING_ACCOUNT_ID,
    col.BILLING_ACCOUNT_NAME,
    col.SUB_ACCOUNT_ID,
    col.SUB_ACCOUNT_NAME,
    col.BILLING_CURRENCY,
    col.BILLING_PERIOD_START,
    col.BILLING_PERIOD_END,
    col.CHARGE_PERIOD_START,
    col.CHARGE_PERIOD_END,
    col.CHARGE_CATEGORY,
    col.CHARGE_CLASS,
    col.CHARGE_DESCRIPTION,
    col.CHARGE_FREQUENCY,
    col.PROVIDER_NAME,
    col.PUBLISHER_NAME,
    col.INVOICE_ISSUER_NAME,
    col.SERVICE_CATEGORY,
    col.SERVICE_NAME,
    col.SERVICE_SUBCATEGORY,
    col.RESOURCE_ID,
    col.RESOURCE_NAME,
    col.RESOURCE_TYPE,
    col.REGION_ID,
    col.SKU_ID,
    col.PRICING_UNIT,
    col.PRICING_QUANTITY,
    col.CONSUMED_UNIT,
    col.CONSUMED_QUANTITY,
    col.LIST_UNIT_PRICE,
    col.CONTRACTED_UNIT_PRICE,
    col.BILLED_COST,
    col.EFFECTIVE_COST,
    col.LIST_COST,
    col.CONTRACTED_COST,
    col.TAGS,
)

AMOUNT_SCALE = 10  # costs are integers of 1e-10 USD
_CENT = 10 ** (AMOUNT_SCALE - 2)

# USD per 1M tokens: (input, cached input, output); None where the model has no such meter.
_TokenPrices = tuple[str, str | None, str | None]
OPENAI_PRICES: dict[str, _TokenPrices] = {
    "gpt-4.1": ("2.00", "0.50", "8.00"),
    "gpt-4.1-mini": ("0.40", "0.10", "1.60"),
    "o4-mini": ("1.10", "0.275", "4.40"),
    "text-embedding-3-large": ("0.13", None, None),
    "text-embedding-3-small": ("0.02", None, None),
}
ANTHROPIC_PRICES: dict[str, _TokenPrices] = {
    "claude-sonnet-4-5": ("3.00", "0.30", "15.00"),
    "claude-haiku-4-5": ("1.00", "0.10", "5.00"),
    "claude-opus-4-1": ("15.00", "1.50", "75.00"),
}
# Bedrock bills per token: (input, None, output) in USD per 1M tokens, re-expressed per token.
BEDROCK_PRICES: dict[str, _TokenPrices] = {
    "anthropic.claude-3-5-haiku-20241022-v1:0": ("0.80", None, "4.00"),
    "amazon.nova-pro-v1:0": ("0.80", None, "3.20"),
    "meta.llama3-3-70b-instruct-v1:0": ("0.72", None, "0.72"),
    "cohere.embed-english-v3": ("0.10", None, None),
}
_BEDROCK_PUBLISHERS = {
    "anthropic": "Anthropic",
    "amazon": "Amazon Web Services, Inc.",
    "meta": "Meta",
    "cohere": "Cohere",
}
_KINDS = ("input", "cached input", "output")
# A provider's token meters as billed: (use case, model, day of the month from 0, meter) ->
# tokens, the meter one of _KINDS ("input" is the uncached input): what the OpenAI usage
# export (apportion.synth.usage) is drawn from, so that it reconciles with the bill.
BilledTokens = dict[tuple[str, str, int, str], int]


# ---------------------------------------------------------------------------------------------
# exact decimal helpers


def scaled(text: str, scale: int) -> int:
    """The decimal literal ``text`` as an integer count of 10**-scale (exact, no floats)."""
    negative = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(".")
    if len(frac) > scale:
        if frac[scale:].strip("0"):
            raise ValueError(f"{text!r} has more than {scale} decimal places")
        frac = frac[:scale]
    value = int(whole or "0") * int(10**scale) + int((frac or "0").ljust(scale, "0"))
    return -value if negative else value


def fmt(value: int, scale: int) -> str:
    """An integer count of 10**-scale as a plain decimal string, trailing zeros trimmed."""
    value = int(value)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**scale)
    if frac == 0 or scale == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{str(frac).rjust(scale, '0').rstrip('0')}"


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _tags(values: Mapping[str, str]) -> str:
    return json.dumps(dict(values)) if values else ""


def _priced(
    quantity: int,
    q_scale: int,
    list_price: str,
    contracted_price: str | None = None,
    *,
    effective: tuple[int, int] = (1, 1),
) -> dict[str, str]:
    """Pricing and cost columns of a usage or purchase line.

    ``quantity`` counts 10**-q_scale pricing units; prices are per pricing unit, so with
    ``AMOUNT_SCALE - q_scale`` places their product is exact in 1e-10 USD. ``effective`` is a
    (numerator, denominator) discount applied after the contract (a savings plan)."""
    p_scale = AMOUNT_SCALE - q_scale
    list_unit = scaled(list_price, p_scale)
    contracted_unit = scaled(contracted_price or list_price, p_scale)
    list_cost = quantity * list_unit
    contracted_cost = quantity * contracted_unit
    effective_cost = contracted_cost * effective[0] // effective[1]
    return {
        col.PRICING_QUANTITY: fmt(quantity, q_scale),
        col.LIST_UNIT_PRICE: fmt(list_unit, p_scale),
        col.CONTRACTED_UNIT_PRICE: fmt(contracted_unit, p_scale),
        col.LIST_COST: fmt(list_cost, AMOUNT_SCALE),
        col.CONTRACTED_COST: fmt(contracted_cost, AMOUNT_SCALE),
        col.EFFECTIVE_COST: fmt(effective_cost, AMOUNT_SCALE),
        col.BILLED_COST: fmt(effective_cost, AMOUNT_SCALE),
    }


def _credit(amount: str) -> dict[str, str]:
    value = scaled(amount, AMOUNT_SCALE)
    return {
        col.CHARGE_CATEGORY: "Credit",
        col.CHARGE_FREQUENCY: "One-Time",
        col.LIST_COST: "0",
        col.CONTRACTED_COST: "0",
        col.EFFECTIVE_COST: fmt(-value, AMOUNT_SCALE),
        col.BILLED_COST: fmt(-value, AMOUNT_SCALE),
    }


# ---------------------------------------------------------------------------------------------
# bills


@dataclass
class _Bill:
    slug: str
    base: dict[str, str]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    subtotal: int = 0  # BilledCost so far, 1e-10 USD

    def add(self, **fields: str) -> None:
        row = {**self.base, **fields}
        unknown = set(row) - set(FOCUS_HEADER)
        if unknown:
            raise KeyError(f"not FOCUS columns: {sorted(unknown)}")
        self.subtotal += scaled(row.get(col.BILLED_COST, "0"), AMOUNT_SCALE)
        self.rows.append(tuple(row.get(column, "") for column in FOCUS_HEADER))


@dataclass(frozen=True)
class Surge:
    """One day (0-based in the month) on which a use case's token traffic is ``factor`` times
    what it would have been: a retry loop, a launch, a scraper."""

    day: int
    factor: float


class _Calendar:
    def __init__(self, period: Period, surges: Mapping[str, Surge] | None = None) -> None:
        self.period = period
        self.surges = dict(surges or {})
        days = [period.start + timedelta(days=d) for d in range(period.days + 1)]
        hours = [period.start + timedelta(hours=h) for h in range(period.hours + 1)]
        self.day = [_ts(d) for d in days]
        self.hour = [_ts(h) for h in hours]
        self.weekend = np.array([d.weekday() >= 5 for d in days[:-1]])

    def daily(self, rng: np.random.Generator, base: float, *, weekend: float = 0.7) -> list[int]:
        """A month of daily usage around ``base`` (integers, never negative)."""
        factor = np.where(self.weekend, weekend, 1.0) * rng.lognormal(0.0, 0.12, self.period.days)
        values = np.maximum(np.rint(base * factor), 0).astype(np.int64)
        return [int(v) for v in values]

    def surged(self, use_case: str, series: list[int]) -> list[int]:
        """``series`` with the use case's surge, if it has one this month, applied."""
        surge = self.surges.get(use_case)
        if surge is None or not 0 <= surge.day < len(series):
            return series
        return [round(v * surge.factor) if d == surge.day else v for d, v in enumerate(series)]

    def day_fields(self, d: int) -> dict[str, str]:
        return {col.CHARGE_PERIOD_START: self.day[d], col.CHARGE_PERIOD_END: self.day[d + 1]}

    def month_fields(self) -> dict[str, str]:
        return {col.CHARGE_PERIOD_START: self.day[0], col.CHARGE_PERIOD_END: self.day[-1]}


def _base(period: Period, **fields: str) -> dict[str, str]:
    return {
        col.BILLING_CURRENCY: "USD",
        col.BILLING_PERIOD_START: _ts(period.start),
        col.BILLING_PERIOD_END: _ts(period.end),
        col.CHARGE_CATEGORY: "Usage",
        col.CHARGE_FREQUENCY: "Usage-Based",
        **fields,
    }


def _token_series(
    rng: np.random.Generator,
    cal: _Calendar,
    mtok: float,
    has_cached: bool,
    has_output: bool,
    cached: tuple[float, float] = (0.15, 0.45),
) -> dict[str, list[int]]:
    """Daily input (uncached) / cached input / output token counts for one model; ``cached``:
    the range of each day's cached tokens per uncached one (drawn as many numbers whatever
    the range, so a use case's own range changes no other line)."""
    uncached = cal.daily(rng, mtok * 1_000_000)
    cached_share = rng.uniform(*cached, cal.period.days)
    output_share = rng.uniform(0.12, 0.35, cal.period.days)
    series = {"input": uncached}
    if has_cached:
        series["cached input"] = [int(t * s) for t, s in zip(uncached, cached_share, strict=True)]
    if has_output:
        series["output"] = [int(t * s) for t, s in zip(uncached, output_share, strict=True)]
    return series


def _model_shares(models: Sequence[str]) -> list[float]:
    weights = [1.0 / (i + 1) for i in range(len(models))]
    return [w / sum(weights) for w in weights]


def _direct_token_bill(
    bill: _Bill,
    rng: np.random.Generator,
    cal: _Calendar,
    org: Organisation,
    *,
    models_of: str,
    prices: Mapping[str, _TokenPrices],
    discount: tuple[int, int],
    pricing_unit: str,
    q_scale: int,
    resource: Mapping[str, str],
    tagged: bool = True,
    billed: BilledTokens | None = None,
) -> None:
    """Per-workload keys: one row per day x workload x model x token meter; ``tagged``: the
    line carries its workload's tags (an export without tags names only the project);
    ``billed``: where to record every row's tokens."""
    for use_case in org.use_cases:
        models: tuple[str, ...] = getattr(use_case, models_of)
        mtok: int = getattr(use_case, f"{models_of}_mtok")
        for model, share in zip(models, _model_shares(models), strict=True):
            input_price, cached_price, output_price = prices[model]
            tiny = use_case.environment == "research" and model.startswith("text-embedding")
            series = _token_series(
                rng,
                cal,
                mtok * share,
                cached_price is not None,
                output_price is not None,
                use_case.cached_input,
            )
            if tiny:  # a handful of tokens a day: costs at the 1e-7 USD scale
                series = {"input": [int(v) for v in rng.integers(1, 60, cal.period.days)]}
            unit_prices = {
                "input": input_price,
                "cached input": cached_price,
                "output": output_price,
            }
            fields = {k: v.format(uc=use_case.name, model=model) for k, v in resource.items()}
            series = {kind: cal.surged(use_case.name, values) for kind, values in series.items()}
            for kind in _KINDS:
                if kind not in series:
                    continue
                list_price = scaled(unit_prices[kind] or "0", 4)  # USD per 1M tokens, 4 places
                per_token = fmt(list_price, AMOUNT_SCALE)  # 1e-4 per 1M == 1e-10 per token
                contracted = fmt(scaled(per_token, AMOUNT_SCALE) * discount[0] // discount[1], 10)
                for d, tokens in enumerate(series[kind]):
                    if tokens <= 0:
                        continue
                    if billed is not None:
                        billed[(use_case.name, model, d, kind)] = tokens
                    bill.add(
                        **cal.day_fields(d),
                        **fields,
                        ChargeDescription=f"{model} {kind} tokens",
                        SkuId=model,
                        PricingUnit=pricing_unit,
                        ConsumedUnit="Tokens",
                        ConsumedQuantity=str(tokens),
                        Tags=_tags(use_case.dims) if tagged else "",
                        **_per_token(tokens, per_token, contracted, q_scale),
                    )


def _per_token(
    tokens: int, list_per_token: str, contracted_per_token: str, q_scale: int
) -> dict[str, str]:
    """Price ``tokens`` at per-token prices, expressed in pricing units of 10**q_scale tokens."""
    priced = _priced(tokens, 0, list_per_token, contracted_per_token)
    p_scale = AMOUNT_SCALE - q_scale
    priced[col.PRICING_QUANTITY] = fmt(tokens, q_scale)
    priced[col.LIST_UNIT_PRICE] = fmt(scaled(list_per_token, AMOUNT_SCALE), p_scale)
    priced[col.CONTRACTED_UNIT_PRICE] = fmt(scaled(contracted_per_token, AMOUNT_SCALE), p_scale)
    return priced


def _openai(
    org: Organisation,
    period: Period,
    cal: _Calendar,
    rng: np.random.Generator,
    billed: BilledTokens,
) -> _Bill:
    bill = _Bill(
        "openai",
        _base(
            period,
            BillingAccountId="org-harbourside",
            BillingAccountName=org.name,
            ProviderName="OpenAI",
            PublisherName="OpenAI",
            InvoiceIssuerName="OpenAI",
            ServiceCategory="AI and Machine Learning",
            ServiceName="OpenAI API",
            ServiceSubcategory="Generative AI",
            ResourceType="Project",
        ),
    )
    _direct_token_bill(
        bill,
        rng,
        cal,
        org,
        models_of="openai",
        prices=OPENAI_PRICES,
        discount=(1, 1),
        pricing_unit="1M tokens",
        q_scale=6,
        resource={
            col.SUB_ACCOUNT_ID: "proj_{uc}",
            col.SUB_ACCOUNT_NAME: "{uc}",
            col.RESOURCE_ID: "proj_{uc}",
            col.RESOURCE_NAME: "{uc}",
        },
        tagged=False,  # OpenAI's cost export names the project, never tags: see below
        billed=billed,
    )
    for d, name, amount, description in (
        (4, "eval-harness", "500", "Research programme credit"),
        (11, "support-bot", "250.37", "Service credit: SLA breach"),
    ):
        bill.add(
            **cal.day_fields(min(d, period.days - 1)),
            **_credit(amount),
            SubAccountId=f"proj_{name}",
            SubAccountName=name,
            ResourceId=f"proj_{name}",
            ResourceName=name,
            ChargeDescription=description,
        )
    return bill


def _anthropic(
    org: Organisation, period: Period, cal: _Calendar, rng: np.random.Generator
) -> _Bill:
    bill = _Bill(
        "anthropic",
        _base(
            period,
            BillingAccountId="anthropic-org-7f3e2c",
            BillingAccountName=org.name,
            ProviderName="Anthropic",
            PublisherName="Anthropic",
            InvoiceIssuerName="Anthropic, PBC",
            ServiceCategory="AI and Machine Learning",
            ServiceName="Claude API",
            ServiceSubcategory="Generative AI",
            ResourceType="Workspace",
        ),
    )
    _direct_token_bill(
        bill,
        rng,
        cal,
        org,
        models_of="anthropic",
        prices=ANTHROPIC_PRICES,
        discount=(9, 10),  # enterprise agreement: 10% off list
        pricing_unit="1M tokens",
        q_scale=6,
        resource={
            col.SUB_ACCOUNT_ID: "wrkspc_{uc}",
            col.SUB_ACCOUNT_NAME: "{uc}",
            col.RESOURCE_ID: "wrkspc_{uc}",
            col.RESOURCE_NAME: "{uc}",
        },
    )
    return bill


def _azure(org: Organisation, period: Period, cal: _Calendar, rng: np.random.Generator) -> _Bill:
    subscription = "8f1c2d3e-4a5b-4c6d-9e8f-0a1b2c3d4e5f"
    account = (
        f"/subscriptions/{subscription}/resourcegroups/rg-ai-prod/providers/"
        "microsoft.cognitiveservices/accounts/aoai-harbourside"
    )
    bill = _Bill(
        "azure",
        _base(
            period,
            BillingAccountId="ea-71004321",
            BillingAccountName=org.name,
            SubAccountId=subscription,
            SubAccountName="ai-production",
            ProviderName="Microsoft",
            PublisherName="Microsoft",
            InvoiceIssuerName="Microsoft",
            ServiceCategory="AI and Machine Learning",
            ServiceName="Azure OpenAI Service",
            ServiceSubcategory="Generative AI",
            ResourceType="Azure OpenAI deployment",
            RegionId="eastus2",
        ),
    )
    _direct_token_bill(
        bill,
        rng,
        cal,
        org,
        models_of="azure",
        prices=OPENAI_PRICES,
        discount=(1, 1),
        pricing_unit="1K tokens",
        q_scale=3,
        resource={
            col.RESOURCE_ID: account + "/deployments/{uc}-{model}",
            col.RESOURCE_NAME: "{uc}-{model}",
        },
    )
    return bill


_AWS_SHARED_TAGS = {"team": "ml-platform", "environment": "production"}


def _aws(org: Organisation, period: Period, cal: _Calendar, rng: np.random.Generator) -> _Bill:
    bill = _Bill(
        "aws",
        _base(
            period,
            BillingAccountId="111122223333",
            BillingAccountName="Harbourside Bank Payer",
            SubAccountId="444455556666",
            SubAccountName="ml-platform-prod",
            ProviderName="AWS",
            PublisherName="Amazon Web Services, Inc.",
            InvoiceIssuerName="Amazon Web Services, Inc.",
            RegionId="us-east-1",
        ),
    )
    _bedrock(bill, org, period, cal, rng)
    _gpu_cluster(bill, period, cal, rng)
    _feature_store(bill, period, cal, rng)
    _pipelines(bill, period, cal, rng)
    _cloudwatch(bill, period, cal, rng)
    return bill


def _bedrock(
    bill: _Bill, org: Organisation, period: Period, cal: _Calendar, rng: np.random.Generator
) -> None:
    shared = {
        col.SERVICE_CATEGORY: "AI and Machine Learning",
        col.SERVICE_NAME: "Amazon Bedrock",
        col.SERVICE_SUBCATEGORY: "Generative AI",
        col.RESOURCE_ID: BEDROCK_KEY,
        col.RESOURCE_NAME: BEDROCK_KEY,
        col.RESOURCE_TYPE: "API Key",
        col.TAGS: _tags(_AWS_SHARED_TAGS),
    }
    for model, (input_price, _, output_price) in BEDROCK_PRICES.items():
        callers = [u for u in org.use_cases if u.bedrock == model]
        if not callers:
            continue
        totals: dict[str, list[int]] = {}
        for use_case in callers:  # the bill sees the key, not who called it
            series = _token_series(rng, cal, use_case.bedrock_mtok, False, output_price is not None)
            for kind, values in series.items():
                old = totals.get(kind, [0] * period.days)
                totals[kind] = [a + b for a, b in zip(old, values, strict=True)]
        unit_prices = {"input": input_price, "output": output_price}
        for kind, values in totals.items():
            per_token = fmt(scaled(unit_prices[kind] or "0", 4), AMOUNT_SCALE)
            for d, tokens in enumerate(values):
                bill.add(
                    **cal.day_fields(d),
                    **shared,
                    PublisherName=_BEDROCK_PUBLISHERS[model.split(".")[0]],
                    ChargeDescription=f"Bedrock {model} {kind} tokens (on-demand)",
                    SkuId=model,
                    PricingUnit="tokens",
                    ConsumedUnit="Tokens",
                    ConsumedQuantity=str(tokens),
                    **_per_token(tokens, per_token, per_token, 0),
                )
    bill.add(
        **cal.day_fields(min(8, period.days - 1)),
        **shared,
        **_credit("400"),
        ChargeDescription="AWS promotional credit applied to Amazon Bedrock usage",
    )


_GPU_NODES = (
    # (instance type, on-demand USD/hour, savings-plan (num, den), always on)
    ("p4d.24xlarge", "32.7726", (72, 100), True),
    ("p4d.24xlarge", "32.7726", (72, 100), True),
    ("p4d.24xlarge", "32.7726", (72, 100), True),
    ("g5.12xlarge", "5.672", (1, 1), True),
    ("g5.12xlarge", "5.672", (1, 1), True),
    ("g5.12xlarge", "5.672", (1, 1), False),
    ("g5.12xlarge", "5.672", (1, 1), False),
    ("g5.12xlarge", "5.672", (1, 1), False),
    ("g5.12xlarge", "5.672", (1, 1), False),
    ("g5.12xlarge", "5.672", (1, 1), False),
)
_EBS_GB_HOUR = "0.0001096"  # gp3, USD per GB-hour


def _gpu_cluster(bill: _Bill, period: Period, cal: _Calendar, rng: np.random.Generator) -> None:
    """Hourly node and volume lines of the shared EKS GPU cluster; nothing says who used it."""
    shared = {
        col.SERVICE_CATEGORY: "Compute",
        col.SERVICE_NAME: "Amazon Elastic Compute Cloud",
        col.SERVICE_SUBCATEGORY: "Virtual Machines",
        col.RESOURCE_ID: GPU_CLUSTER,
        col.RESOURCE_NAME: GPU_CLUSTER,
        col.TAGS: _tags({"cluster": GPU_CLUSTER, **_AWS_SHARED_TAGS}),
    }
    node_ids = [f"i-0{int(n):016x}" for n in rng.integers(1 << 40, 1 << 60, len(_GPU_NODES))]
    hour_of_day = np.arange(period.hours) % 24
    busy = 0.5 - 0.5 * np.cos((hour_of_day - 4) / 24 * 2 * np.pi)  # peaks mid-afternoon UTC
    autoscaled = np.rint(busy * 5 + rng.normal(0, 0.6, period.hours)).clip(0, 5).astype(int)
    first_autoscaled = sum(1 for n in _GPU_NODES if n[3])
    for node, (itype, price, plan, always_on) in enumerate(_GPU_NODES):
        volume_gb = 2000 if itype.startswith("p4d") else 600
        for h in range(period.hours):
            if not always_on and node - first_autoscaled >= int(autoscaled[h]):
                continue  # this autoscaled node was not running that hour
            span = {col.CHARGE_PERIOD_START: cal.hour[h], col.CHARGE_PERIOD_END: cal.hour[h + 1]}
            bill.add(
                **span,
                **shared,
                ResourceType="GPU Instance",
                ChargeDescription=(
                    f"${price} per On Demand Linux {itype} Instance Hour (node {node_ids[node]})"
                ),
                SkuId=itype,
                PricingUnit="Hours",
                ConsumedUnit="Hours",
                ConsumedQuantity="1",
                **_priced(1, 0, price, effective=plan),
            )
            bill.add(
                **span,
                **shared,
                ResourceType="Volume",
                ChargeDescription=f"gp3 EBS volume on {itype} node {node_ids[node]}",
                SkuId="EBS:VolumeUsage.gp3",
                PricingUnit="GB-Hours",
                ConsumedUnit="GB-Hours",
                ConsumedQuantity=str(volume_gb),
                **_priced(volume_gb, 0, _EBS_GB_HOUR),
            )


def _daily_meters(
    bill: _Bill,
    cal: _Calendar,
    rng: np.random.Generator,
    shared: Mapping[str, str],
    meters: Sequence[tuple[str, str, str, float, int, str, str | None]],
) -> None:
    """Daily lines for (description, sku, pricing unit, base quantity, quantity scale,
    list price, contracted price) meters of one resource."""
    for description, sku, unit, base, q_scale, price, contracted in meters:
        for d, quantity in enumerate(cal.daily(rng, base * 10**q_scale, weekend=0.8)):
            bill.add(
                **cal.day_fields(d),
                **shared,
                ChargeDescription=description,
                SkuId=sku,
                PricingUnit=unit,
                ConsumedUnit=unit,
                ConsumedQuantity=fmt(quantity, q_scale),
                **_priced(quantity, q_scale, price, contracted),
            )


def _feature_store(bill: _Bill, period: Period, cal: _Calendar, rng: np.random.Generator) -> None:
    shared = {
        col.SERVICE_CATEGORY: "AI and Machine Learning",
        col.SERVICE_NAME: "Amazon SageMaker Feature Store",
        col.SERVICE_SUBCATEGORY: "Machine Learning",
        col.RESOURCE_ID: FEATURE_STORE,
        col.RESOURCE_NAME: FEATURE_STORE,
        col.RESOURCE_TYPE: "Feature Group",
        col.TAGS: _tags(_AWS_SHARED_TAGS),
    }
    _daily_meters(
        bill,
        cal,
        rng,
        shared,
        (
            (
                "Online store read request units",
                "FS-ReadRU",
                "1M read request units",
                300.0,
                3,
                "0.25",
                None,
            ),
            (
                "Online store write request units",
                "FS-WriteRU",
                "1M write request units",
                40.0,
                3,
                "1.25",
                None,
            ),
            ("Online store storage", "FS-Storage", "GB-Hours", 19_200.0, 0, "0.000625", None),
        ),
    )


def _pipelines(bill: _Bill, period: Period, cal: _Calendar, rng: np.random.Generator) -> None:
    for resource, service, description, sku, unit, base, price in (
        (
            GLUE_ETL,
            "AWS Glue",
            "Glue ETL job run DPU-Hours",
            "Glue:ETL-DPU",
            "DPU-Hours",
            220.0,
            "0.44",
        ),
        (
            GLUE_FEATURES,
            "AWS Glue",
            "Glue ETL job run DPU-Hours (feature jobs)",
            "Glue:ETL-DPU",
            "DPU-Hours",
            150.0,
            "0.44",
        ),
        (
            EMR_BATCH,
            "Amazon EMR",
            "EMR r6i.8xlarge instance hours (EC2 + EMR fee)",
            "EMR:r6i.8xlarge",
            "Instance-Hours",
            110.0,
            "2.5176",
        ),
    ):
        shared = {
            col.SERVICE_CATEGORY: "Analytics",
            col.SERVICE_NAME: service,
            col.SERVICE_SUBCATEGORY: "Data Processing",
            col.RESOURCE_ID: resource,
            col.RESOURCE_NAME: resource,
            col.RESOURCE_TYPE: "Glue Job" if service == "AWS Glue" else "EMR Cluster",
            col.TAGS: _tags(_AWS_SHARED_TAGS),
        }
        _daily_meters(bill, cal, rng, shared, ((description, sku, unit, base, 2, price, None),))


def _cloudwatch(bill: _Bill, period: Period, cal: _Calendar, rng: np.random.Generator) -> None:
    shared = {
        col.SERVICE_CATEGORY: "Management and Governance",
        col.SERVICE_NAME: "Amazon CloudWatch",
        col.SERVICE_SUBCATEGORY: "Observability",
        col.RESOURCE_ID: "cw-logs-ml-platform",
        col.RESOURCE_NAME: "/aws/ml-platform",
        col.RESOURCE_TYPE: "Log Group",
        col.TAGS: _tags(_AWS_SHARED_TAGS),
    }
    _daily_meters(
        bill,
        cal,
        rng,
        shared,
        (
            ("Logs data ingested", "CW:DataProcessing-Bytes", "GB", 180.0, 3, "0.50", None),
            ("Logs storage", "CW:TimedStorage-ByteHrs", "GB-Month", 95.0, 3, "0.03", None),
            ("Custom metrics", "CW:MetricMonitorUsage", "Metric-Days", 1_500.0, 0, "0.0098", None),
        ),
    )


def _pinecone(org: Organisation, period: Period, cal: _Calendar, rng: np.random.Generator) -> _Bill:
    bill = _Bill(
        "pinecone",
        _base(
            period,
            BillingAccountId="pc-org-harbourside",
            BillingAccountName=org.name,
            SubAccountId="pc-proj-prod",
            SubAccountName="production",
            ProviderName="Pinecone",
            PublisherName="Pinecone",
            InvoiceIssuerName="Pinecone Systems, Inc.",
            ServiceCategory="Databases",
            ServiceName="Pinecone",
            ServiceSubcategory="Other (Databases)",
            ResourceId=VECTOR_STORE,
            ResourceName=VECTOR_STORE,
            ResourceType="Serverless Index",
            RegionId="us-east-1",
        ),
    )
    _daily_meters(
        bill,
        cal,
        rng,
        {},
        (
            ("Serverless read units", "read-units", "1M read units", 12.0, 3, "16.00", "13.60"),
            ("Serverless write units", "write-units", "1M write units", 3.0, 3, "4.00", "3.40"),
            ("Serverless storage", "storage", "GB-Hours", 21_600.0, 0, "0.000452", "0.000384"),
        ),
    )
    return bill


def _datadog(org: Organisation, period: Period, cal: _Calendar, rng: np.random.Generator) -> _Bill:
    bill = _Bill(
        "datadog",
        _base(
            period,
            BillingAccountId="dd-4471",
            BillingAccountName=org.name,
            ProviderName="Datadog",
            PublisherName="Datadog",
            InvoiceIssuerName="Datadog, Inc.",
            ServiceCategory="Management and Governance",
            ServiceName="Datadog",
            ServiceSubcategory="Observability",
        ),
    )
    _daily_meters(
        bill,
        cal,
        rng,
        {},
        (
            ("Infrastructure Pro hosts", "infra-pro", "Host-Hours", 1_440.0, 0, "0.025", "0.0208"),
            ("APM Pro hosts", "apm-pro", "Host-Hours", 960.0, 0, "0.048", "0.0417"),
            ("Log ingestion", "logs-ingest", "GB", 650.0, 2, "0.10", None),
            (
                "Indexed logs (15-day retention)",
                "logs-index",
                "1M log events",
                55.0,
                2,
                "1.70",
                "1.53",
            ),
            ("LLM Observability requests", "llm-obs", "10K LLM requests", 120.0, 0, "0.35", None),
        ),
    )
    _sales_tax(bill, cal, "0.08875", "New York sales tax")
    return bill


def _sales_tax(bill: _Bill, cal: _Calendar, rate: str, description: str) -> None:
    tax = bill.subtotal * scaled(rate, 5) // 10**5 // _CENT * _CENT  # whole cents, rounded down
    bill.add(
        **cal.month_fields(),
        ChargeCategory="Tax",
        ChargeFrequency="Recurring",
        ChargeDescription=description,
        BilledCost=fmt(tax, AMOUNT_SCALE),
        EffectiveCost=fmt(tax, AMOUNT_SCALE),
        ListCost=fmt(tax, AMOUNT_SCALE),
        ContractedCost=fmt(tax, AMOUNT_SCALE),
    )


def _licences(org: Organisation, period: Period, cal: _Calendar) -> list[_Bill]:
    databricks = _Bill(
        "databricks",
        _base(
            period,
            BillingAccountId="dbx-acct-0c9a",
            BillingAccountName=org.name,
            ProviderName="Databricks",
            PublisherName="Databricks",
            InvoiceIssuerName="Databricks, Inc.",
            ServiceCategory="AI and Machine Learning",
            ServiceName="Databricks Platform",
            ServiceSubcategory="AI Platforms",
            ChargeCategory="Purchase",
            ChargeFrequency="Recurring",
        ),
    )
    databricks.add(
        **cal.month_fields(),
        ChargeDescription="Databricks Platform enterprise licence, monthly commitment",
        SkuId="DBX-ENT-PLATFORM",
        PricingUnit="Subscription",
        **_priced(1, 0, "30000", "24000"),
    )
    seats = sum(c.seats for c in org.cost_centres)
    wandb = _Bill(
        "wandb",
        _base(
            period,
            BillingAccountId="wandb-harbourside",
            BillingAccountName=org.name,
            ProviderName="Weights & Biases",
            PublisherName="Weights & Biases",
            InvoiceIssuerName="Weights and Biases, Inc.",
            ServiceCategory="AI and Machine Learning",
            ServiceName="W&B Models",
            ServiceSubcategory="Machine Learning",
            ChargeCategory="Purchase",
            ChargeFrequency="Recurring",
        ),
    )
    wandb.add(
        **cal.month_fields(),
        ChargeDescription="W&B Models Enterprise, monthly seats",
        SkuId="WANDB-MODELS-ENT",
        PricingUnit="seat",
        **_priced(seats, 0, "250", "200"),
    )
    _sales_tax(wandb, cal, "0.0725", "California sales tax")
    return [databricks, wandb]


def _labelling(
    org: Organisation, period: Period, cal: _Calendar, rng: np.random.Generator
) -> list[_Bill]:
    scale = _Bill(
        "scale-ai",
        _base(
            period,
            BillingAccountId="scale-cust-20931",
            BillingAccountName=org.name,
            ProviderName="Scale AI",
            PublisherName="Scale AI",
            InvoiceIssuerName="Scale AI, Inc.",
            ServiceCategory="AI and Machine Learning",
            ServiceName="Scale Data Engine",
            ServiceSubcategory="Labelling",
            ChargeCategory="Purchase",
            ChargeFrequency="One-Time",
        ),
    )
    for d in range(2, period.days, 7):  # a labelled batch delivered every week
        tasks = int(rng.integers(9_000, 15_000))
        scale.add(
            **cal.day_fields(d),
            ChargeDescription="Labelling batch: document classification and entity review",
            SkuId="SDE-TASK-STD",
            PricingUnit="Task",
            ConsumedUnit="Task",
            ConsumedQuantity=str(tasks),
            **_priced(tasks, 0, "0.45"),
        )
    red_team = _Bill(
        "red-team",
        _base(
            period,
            BillingAccountId="RTL-00188",
            BillingAccountName=org.name,
            ProviderName="Sentinel Red Team Ltd",
            PublisherName="Sentinel Red Team Ltd",
            InvoiceIssuerName="Sentinel Red Team Ltd",
            ServiceCategory="Security",
            ServiceName="Adversarial Testing",
            ServiceSubcategory="Red Teaming",
            ChargeCategory="Purchase",
            Tags=_tags({"programme": "red-team"}),
        ),
    )
    red_team.add(
        **cal.month_fields(),
        ChargeFrequency="Recurring",
        ChargeDescription="LLM red-team retainer (monthly)",
        SkuId="RT-RETAINER",
        PricingUnit="Engagement",
        **_priced(1, 0, "12000"),
    )
    red_team.add(
        **cal.day_fields(min(20, period.days - 1)),
        ChargeFrequency="One-Time",
        ChargeDescription="Jailbreak and prompt-injection sprint",
        SkuId="RT-SPRINT",
        PricingUnit="Consultant-Days",
        ConsumedUnit="Consultant-Days",
        ConsumedQuantity="3",
        **_priced(3, 0, "1500"),
    )
    return [scale, red_team]


def _unrelated_saas(
    org: Organisation, period: Period, cal: _Calendar, rng: np.random.Generator
) -> _Bill:
    """Lines no category rule recognises: they must surface as uncategorised, unallocated."""
    bill = _Bill(
        "saas",
        _base(
            period,
            BillingAccountId="AC-55810",
            BillingAccountName=org.name,
            ProviderName="Twilio",
            PublisherName="Twilio",
            InvoiceIssuerName="Twilio Inc.",
            ServiceCategory="Business Applications",
            ServiceSubcategory="Other (Business Applications)",
        ),
    )
    _daily_meters(
        bill,
        cal,
        rng,
        {col.SERVICE_NAME: "Programmable Messaging"},
        (
            ("Outbound SMS, US", "sms-out-us", "Messages", 4_000.0, 0, "0.0079", None),
            ("Inbound SMS, US", "sms-in-us", "Messages", 1_500.0, 0, "0.0079", None),
        ),
    )
    _daily_meters(
        bill,
        cal,
        rng,
        {col.SERVICE_NAME: "Programmable Voice"},
        (
            ("Outbound voice minutes, US", "voice-out-us", "Minutes", 600.0, 0, "0.014", None),
            (
                "Inbound voice minutes, US toll-free",
                "voice-in-tf",
                "Minutes",
                400.0,
                0,
                "0.022",
                None,
            ),
        ),
    )
    bill.add(
        **cal.month_fields(),
        ProviderName="Zoom",
        PublisherName="Zoom",
        InvoiceIssuerName="Zoom Communications, Inc.",
        ServiceName="Zoom Workplace",
        ChargeCategory="Purchase",
        ChargeFrequency="Recurring",
        ChargeDescription="Zoom Workplace Business, monthly",
        SkuId="ZW-BUSINESS",
        PricingUnit="User",
        **_priced(120, 0, "21.99", "18.33"),
    )
    return bill


def write_openai_projects(path: Path, org: Organisation) -> Path:
    """The OpenAI projects and the workload each belongs to, as a FinOps team keeps it: the
    demo's mapping table (tags.inherit) for the untagged OpenAI bill."""
    dims = list(org.use_cases[0].dims)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([col.SUB_ACCOUNT_ID, "name", *dims])
        for use_case in org.use_cases:
            writer.writerow([f"proj_{use_case.name}", use_case.name, *use_case.dims.values()])
    return path


def write_catalogue(path: Path, org: Organisation) -> Path:
    """The organisation's catalogue (tags.catalogue): its cost centres, and its use cases with
    the cost centre, environment and lifecycle stage each belongs to, so a cost split to a use
    case (labelling, the red-team programme) reaches that use case's cost centre."""
    dims = [d for d in org.use_cases[0].dims if d != "use_case"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["dimension", "value", "owner", *dims])
        for centre in org.cost_centres:
            writer.writerow(["cost_centre", centre.name, "", *([""] * len(dims))])
        for use_case in org.use_cases:
            said = use_case.dims
            writer.writerow(["use_case", use_case.name, "", *(said[d] for d in dims)])
    return path


@dataclass(frozen=True)
class WrittenBills:
    files: tuple[Path, ...]  # one FOCUS CSV per bill
    rows: int  # data rows of all of them
    openai_tokens: BilledTokens  # the OpenAI bill's token meters, row by row


def write_bills(
    out_dir: Path,
    org: Organisation,
    period: Period,
    rng: np.random.Generator,
    surges: Mapping[str, Surge] | None = None,
) -> WrittenBills:
    """Write every bill of ``period`` under ``out_dir``; return the files, the data-row count
    and the OpenAI bill's tokens. ``surges``: use cases whose per-token traffic jumps on one
    day (an incident to find)."""
    cal = _Calendar(period, surges)
    openai_tokens: BilledTokens = {}
    bills = [
        _openai(org, period, cal, rng, openai_tokens),
        _anthropic(org, period, cal, rng),
        _azure(org, period, cal, rng),
        _aws(org, period, cal, rng),
        _pinecone(org, period, cal, rng),
        _datadog(org, period, cal, rng),
        *_licences(org, period, cal),
        *_labelling(org, period, cal, rng),
        _unrelated_saas(org, period, cal, rng),
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for bill in bills:
        path = out_dir / f"{bill.slug}-{period.label}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(FOCUS_HEADER)
            writer.writerows(bill.rows)
        paths.append(path)
    return WrittenBills(tuple(paths), sum(len(b.rows) for b in bills), openai_tokens)


__all__ = [
    "AMOUNT_SCALE",
    "FOCUS_HEADER",
    "BilledTokens",
    "Surge",
    "WrittenBills",
    "fmt",
    "scaled",
    "write_bills",
    "write_openai_projects",
]
