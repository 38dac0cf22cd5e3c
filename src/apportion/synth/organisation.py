"""The synthetic organisation: its cost centres, its AI use cases and the month being billed.

Plain frozen data, no I/O and no randomness: the bills and drivers are drawn from these
profiles, so a use case that runs on the GPU cluster gets both its share of the cluster's
metering and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

ENVIRONMENTS: tuple[str, ...] = ("production", "staging", "development", "research")
LIFECYCLE_STAGES: tuple[str, ...] = ("active", "deprecated", "sunsetting")

# Shared resources: their ResourceIds in the bills are the resource_ids of their drivers.
GPU_CLUSTER = "eks-gpu-prod"
BEDROCK_KEY = "bedrock-shared-key"
VECTOR_STORE = "pinecone-shared"
FEATURE_STORE = "feature-store-prod"
GLUE_ETL = "glue-etl-prod"
GLUE_FEATURES = "glue-features-prod"
EMR_BATCH = "emr-batch-prod"
PIPELINES: tuple[str, ...] = (GLUE_ETL, GLUE_FEATURES, EMR_BATCH)

# The day of the month (1-based) on which the feature store is billed but no use case reported
# any feature reads: its pool for that day has no driver quantity and stays unallocated.
FEATURE_READS_GAP_DAY = 17


@dataclass(frozen=True)
class CostCentre:
    name: str
    title: str
    seats: int  # ML platform licence seats (the `seats` driver)


@dataclass(frozen=True)
class UseCase:
    """One AI workload and what it consumes.

    Weights are relative sizes (unitless); ``*_mtok`` fields are millions of input tokens a day
    at a typical weekday.
    """

    name: str
    cost_centre: str
    environment: str = "production"
    lifecycle_stage: str = "active"
    openai: tuple[str, ...] = ()  # models billed on the use case's own OpenAI project
    openai_mtok: int = 0
    anthropic: tuple[str, ...] = ()  # models billed on its own Anthropic workspace
    anthropic_mtok: int = 0
    azure: tuple[str, ...] = ()  # its own Azure OpenAI deployments
    azure_mtok: int = 0
    bedrock: str | None = None  # model called through the shared Bedrock key
    bedrock_mtok: int = 0
    gpu: int = 0  # weight on the shared GPU inference cluster
    vector: int = 0  # weight on the shared vector store
    features: int = 0  # weight on the feature store
    pipelines: tuple[str, ...] = ()  # pipeline resources its jobs run on
    requests: int = 1_000  # typical requests a day (activity proxy)
    # its token bills' cached input tokens per uncached one, drawn each day in this range:
    # 0.15-0.45 is a prompt cache serving 13-31% of the input
    cached_input: tuple[float, float] = (0.15, 0.45)

    @property
    def dims(self) -> dict[str, str]:
        return {
            "use_case": self.name,
            "cost_centre": self.cost_centre,
            "environment": self.environment,
            "lifecycle_stage": self.lifecycle_stage,
        }


@dataclass(frozen=True)
class Organisation:
    name: str
    cost_centres: tuple[CostCentre, ...]
    use_cases: tuple[UseCase, ...]

    @property
    def use_case_names(self) -> frozenset[str]:
        return frozenset(u.name for u in self.use_cases)

    @property
    def cost_centre_names(self) -> frozenset[str]:
        return frozenset(c.name for c in self.cost_centres)

    def use_case(self, name: str) -> UseCase:
        for use_case in self.use_cases:
            if use_case.name == name:
                return use_case
        raise KeyError(name)


_CC = (
    CostCentre("retail-banking", "Retail Banking", seats=8),
    CostCentre("fraud-ops", "Fraud Operations", seats=10),
    CostCentre("customer-service", "Customer Service", seats=6),
    CostCentre("marketing", "Marketing", seats=5),
    CostCentre("ml-platform", "ML Platform", seats=22),
    CostCentre("risk", "Risk", seats=9),
)

_UC = (
    # customer-service
    UseCase(
        "support-bot",
        "customer-service",
        openai=("gpt-4.1", "gpt-4.1-mini", "text-embedding-3-large"),
        openai_mtok=500,
        gpu=6,
        vector=9,
        requests=180_000,
        # a changing preamble before its long system prompt: the cache serves about 3%
        cached_input=(0.02, 0.04),
    ),
    UseCase(
        "call-summariser",
        "customer-service",
        anthropic=("claude-haiku-4-5",),
        anthropic_mtok=220,
        requests=42_000,
    ),
    UseCase(
        "agent-assist",
        "customer-service",
        azure=("gpt-4.1", "gpt-4.1-mini"),
        azure_mtok=120,
        vector=4,
        requests=65_000,
    ),
    UseCase(
        "email-triage",
        "customer-service",
        bedrock="anthropic.claude-3-5-haiku-20241022-v1:0",
        bedrock_mtok=160,
        requests=38_000,
    ),
    # fraud-ops
    UseCase(
        "fraud-scorer",
        "fraud-ops",
        gpu=14,
        features=10,
        pipelines=(GLUE_FEATURES, EMR_BATCH),
        requests=900_000,
    ),
    UseCase(
        "transaction-explainer",
        "fraud-ops",
        bedrock="amazon.nova-pro-v1:0",
        bedrock_mtok=120,
        features=3,
        requests=75_000,
    ),
    UseCase(
        "aml-screening",
        "fraud-ops",
        gpu=9,
        features=6,
        pipelines=(GLUE_ETL, EMR_BATCH),
        requests=210_000,
    ),
    UseCase(
        "dispute-assistant",
        "fraud-ops",
        anthropic=("claude-sonnet-4-5",),
        anthropic_mtok=35,
        requests=9_000,
    ),
    # retail-banking
    UseCase(
        "doc-search",
        "retail-banking",
        openai=("text-embedding-3-large", "gpt-4.1-mini"),
        openai_mtok=600,
        vector=12,
        pipelines=(GLUE_ETL,),
        requests=120_000,
    ),
    UseCase(
        "kyc-extractor",
        "retail-banking",
        azure=("gpt-4.1",),
        azure_mtok=100,
        bedrock="meta.llama3-3-70b-instruct-v1:0",
        bedrock_mtok=70,
        requests=24_000,
    ),
    UseCase(
        "mortgage-assistant",
        "retail-banking",
        environment="staging",
        anthropic=("claude-sonnet-4-5",),
        anthropic_mtok=12,
        vector=2,
        requests=3_000,
    ),
    UseCase(
        "statement-insights",
        "retail-banking",
        lifecycle_stage="deprecated",
        bedrock="amazon.nova-pro-v1:0",
        bedrock_mtok=25,
        requests=6_000,
    ),
    # marketing
    UseCase(
        "copy-generator",
        "marketing",
        openai=("gpt-4.1", "gpt-4.1-mini"),
        openai_mtok=120,
        requests=15_000,
    ),
    UseCase(
        "campaign-personaliser",
        "marketing",
        bedrock="anthropic.claude-3-5-haiku-20241022-v1:0",
        bedrock_mtok=45,
        gpu=4,
        features=4,
        requests=55_000,
    ),
    UseCase(
        "image-studio",
        "marketing",
        environment="development",
        gpu=3,
        requests=1_500,
    ),
    UseCase(
        "churn-predictor",
        "marketing",
        gpu=2,
        features=5,
        pipelines=(GLUE_FEATURES, EMR_BATCH),
        requests=30_000,
    ),
    # risk
    UseCase(
        "credit-risk-model",
        "risk",
        gpu=7,
        features=8,
        pipelines=(GLUE_ETL, GLUE_FEATURES),
        requests=140_000,
    ),
    UseCase(
        "policy-qa",
        "risk",
        anthropic=("claude-sonnet-4-5", "claude-haiku-4-5"),
        anthropic_mtok=50,
        vector=5,
        requests=12_000,
    ),
    UseCase(
        "model-validator",
        "risk",
        environment="research",
        lifecycle_stage="sunsetting",
        openai=("o4-mini", "text-embedding-3-small"),
        openai_mtok=10,
        gpu=1,
        requests=400,
    ),
    UseCase(
        "regulatory-reporter",
        "risk",
        openai=("gpt-4.1",),
        openai_mtok=60,
        pipelines=(GLUE_ETL,),
        requests=2_500,
    ),
    # ml-platform
    UseCase(
        "embedding-service",
        "ml-platform",
        gpu=10,
        vector=6,
        pipelines=(GLUE_ETL, EMR_BATCH),
        requests=400_000,
    ),
    UseCase(
        "eval-harness",
        "ml-platform",
        environment="staging",
        openai=("gpt-4.1", "o4-mini"),
        openai_mtok=60,
        anthropic=("claude-opus-4-1",),
        anthropic_mtok=4,
        requests=5_000,
    ),
    UseCase(
        "llm-gateway-canary",
        "ml-platform",
        environment="development",
        bedrock="cohere.embed-english-v3",
        bedrock_mtok=1,
        requests=800,
    ),
    UseCase(
        "code-assistant",
        "ml-platform",
        anthropic=("claude-sonnet-4-5",),
        anthropic_mtok=70,
        azure=("gpt-4.1-mini",),
        azure_mtok=60,
        lifecycle_stage="deprecated",
        requests=20_000,
    ),
)

ORGANISATION = Organisation(name="Harbourside Bank", cost_centres=_CC, use_cases=_UC)


_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Period:
    """One calendar month in UTC."""

    label: str  # YYYY-MM
    start: datetime
    end: datetime  # exclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def hours(self) -> int:
        return self.days * 24


def parse_period(label: str) -> Period:
    found = _PERIOD.match(label)
    if not found:
        raise ValueError(f"period {label!r}: expected YYYY-MM, e.g. '2026-10'")
    year, month = int(found.group(1)), int(found.group(2))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return Period(label=label, start=start, end=end)
