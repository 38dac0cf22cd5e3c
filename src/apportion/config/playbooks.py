"""Thresholds of the optimisation playbooks (``playbooks`` in apportion.yaml; MISSION R6.3),
and the map of each expensive model to the cheaper sibling low-complexity traffic could be
routed to: the one map, and :func:`smaller_model` the one way of reading it, for the routing
playbook and the projections' routing scenario alike."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

USAGE_ORIGINS = ("gateway", "telemetry", "provider")  # as apportion.engine.tables names them

# a model (or the start of its dated names) -> a cheaper model of the same provider; the
# longest name that starts a model's name wins, and a model already named like its target
# (gpt-4o-mini under gpt-4o) is not routed
DEFAULT_SMALLER_MODELS: dict[str, str] = {
    "gpt-4o": "gpt-4o-mini",
    "gpt-4-turbo": "gpt-4o-mini",
    "gpt-4.1": "gpt-4.1-mini",
    "gpt-4.1-mini": "gpt-4.1-nano",
    "gpt-5": "gpt-5-mini",
    "gpt-5-mini": "gpt-5-nano",
    "o3": "o4-mini",
    "claude-opus-4": "claude-haiku-4-5",
    "claude-sonnet-4": "claude-haiku-4-5",
    "claude-3-opus": "claude-3-haiku",
    "claude-3-7-sonnet": "claude-3-5-haiku",
    "claude-3-5-sonnet": "claude-3-5-haiku",
    "gemini-2.5-pro": "gemini-2.5-flash",
    "gemini-2.5-flash": "gemini-2.5-flash-lite",
}


def smaller_model(model: str, smaller: Mapping[str, str]) -> str | None:
    """The cheaper model to route to: that of the longest name in the map that is the model's
    name or starts it (gpt-4o covers gpt-4o-2024-08-06); none for a model already named as
    its target (gpt-4o-mini under gpt-4o)."""
    name = model.lower()
    named = [key for key in smaller if name == key.lower() or name.startswith(f"{key.lower()}-")]
    if not named:
        return None
    target = smaller[max(named, key=len)]
    return None if name.startswith(target.lower()) else target


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptCachingConfig(_Strict):
    """Long inputs that a prompt cache barely serves, on models with a cache-read price."""

    max_cache_read_share: Decimal = Field(
        default=Decimal("0.1"),
        ge=0,
        le=1,
        description="A model's cache reads below this share of its input tokens count as low",
    )
    min_prompt_tokens: int = Field(
        default=1024,
        ge=1,
        description="Requests with at least this many input tokens could be cached (the "
        "providers cache prompts from 1024 tokens)",
    )
    hit_rate: Decimal = Field(
        default=Decimal("0.5"),
        gt=0,
        le=1,
        description="Assumed share of those requests' uncached input tokens a cache would "
        "serve (the repeated system prompt, tools and documents at the start of a prompt)",
    )


class ResponseCachingConfig(_Strict):
    """Identical requests sent again within the month."""

    hash_keys: list[str] = Field(
        default_factory=lambda: ["x_cache_key", "x_request_hash", "x_prompt_hash"],
        min_length=1,
        description="Usage x_ columns that identify a request's content, the first present "
        "one counting (a gateway's cache key, an application's prompt hash)",
    )

    @field_validator("hash_keys")
    @classmethod
    def _extension_columns(cls, value: list[str]) -> list[str]:
        for key in value:
            if not key.startswith("x_") or len(key) < 3:
                raise ValueError(f"{key!r} is not an x_ extension column (x_cache_key, ...)")
        if len(set(value)) != len(value):
            raise ValueError("name each hash key once")
        return value


class RoutingConfig(_Strict):
    """Short requests with short answers on a model that has a cheaper sibling."""

    max_prompt_tokens: int = Field(
        default=1000, ge=1, description="A request with at most this many input tokens ..."
    )
    max_output_tokens: int = Field(
        default=200, ge=1, description="... and at most this many output tokens is simple"
    )
    smaller_models: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_SMALLER_MODELS),
        description="Model (or the start of its names) -> the cheaper model to route to; "
        "replaces the built-in map",
    )

    @field_validator("smaller_models")
    @classmethod
    def _targets_differ(cls, value: dict[str, str]) -> dict[str, str]:
        for model, target in value.items():
            if not model.strip() or not target.strip():
                raise ValueError("name a model and the model to route it to")
            if model.lower() == target.lower():
                raise ValueError(f"{model!r} is routed to itself")
        return value


class RetrievalConfig(_Strict):
    """Requests that send far more context than an answer needs."""

    max_mean_input_tokens: int = Field(
        default=20_000, ge=1, description="A mean input per request above this is very large"
    )
    target_input_tokens: int = Field(
        default=8_000,
        ge=0,
        description="The context a request should need: input tokens above it are saved",
    )


class PlaybooksConfig(_Strict):
    """What ``apportion report playbooks`` looks for, and from which usage."""

    min_monthly_saving: Decimal = Field(
        default=Decimal(1),
        ge=0,
        description="A finding is shown from this estimated saving a month (in USD, the "
        "currency of prices)",
    )
    usage_origins: list[str] = Field(
        default_factory=lambda: list(USAGE_ORIGINS),
        description="Whose usage a provider's findings come from, the first one it has: "
        "per-request gateway logs and telemetry see more than daily provider reports",
    )
    prompt_caching: PromptCachingConfig = PromptCachingConfig()
    response_caching: ResponseCachingConfig = ResponseCachingConfig()
    routing: RoutingConfig = RoutingConfig()
    retrieval: RetrievalConfig = RetrievalConfig()

    @field_validator("usage_origins")
    @classmethod
    def _known_origins(cls, value: list[str]) -> list[str]:
        unknown = [origin for origin in value if origin not in USAGE_ORIGINS]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not one of {', '.join(USAGE_ORIGINS)}")
        if not value or len(set(value)) != len(value):
            raise ValueError("name at least one origin, each once")
        return value

    @model_validator(mode="after")
    def _target_below_threshold(self) -> PlaybooksConfig:
        retrieval = self.retrieval
        if retrieval.target_input_tokens >= retrieval.max_mean_input_tokens:
            raise ValueError(
                "playbooks.retrieval.target_input_tokens must be below max_mean_input_tokens"
            )
        return self
