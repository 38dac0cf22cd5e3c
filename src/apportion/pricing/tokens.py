"""Token usage priced exactly: the public list prices of genai-prices (dated, with cache and
long-context tiers and batch or service-tier variants), under the overrides of
``pricing.overrides`` for negotiated discounts and for private or self-hosted models.

Usage arrives aggregated (a day of a key's tokens), so a price is computed per unit and
multiplied, never by handing genai-prices the aggregate: its tiers are chosen by the input
tokens of one request, and a day's total would cross them. The long-context tier applies where
the report says the requests used it (Anthropic's ``context_window`` "200k-1M").

Audio tokens (OpenAI's ``input_audio_tokens`` and ``output_audio_tokens``) come on top of the
text tokens and are priced at the model's audio rates; a model the list gives no audio rate is
unpriced, with that reason, rather than priced at its text rate.

Speech is priced per million characters and transcription per hour of audio where the list
has such prices (tts-1, whisper-1); images per image, which the list has not (their price
depends on size and quality), so only by an override's ``images`` unit price.

Input tokens count every input token, cached ones included (OpenAI's ``input_tokens``;
Anthropic's ``uncached_input_tokens`` plus cache reads and writes), as genai-prices does: cache
reads and writes are priced at their own rates and the rest at the input rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, localcontext
from functools import lru_cache
from importlib.metadata import version
from typing import Any

import genai_prices
from genai_prices.types import TieredPrices

from apportion.config.models import UNIT_PRICE_KEYS, PriceOverride, PricingConfig
from apportion.money import EXACT

CURRENCY = "USD"  # genai-prices and every override are in US dollars
SOURCE = f"genai-prices {version('genai-prices')}"
_PER = {key: Decimal(1_000_000) for key in UNIT_PRICE_KEYS} | {
    "web_searches": Decimal(1000),
    "audio_hours": Decimal(3600),  # the usage counts seconds
    "images": Decimal(1),
}
# genai-prices' names for our unit prices
_LIST_NAMES = {
    "input": "input_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
    "cache_write_1h": "cache_write_1h_mtok",
    "output": "output_mtok",
    "web_searches": "web_searches_kcount",
    "input_audio": "input_audio_mtok",
    "output_audio": "output_audio_mtok",
    "characters": "input_mchars",
    "audio_hours": "audio_hours",
}
# a cache price the list lacks is charged at the next one down (a model without cache
# discounts bills cached tokens as input)
_FALLBACK = {"cache_read": "input", "cache_write": "input", "cache_write_1h": "cache_write"}


# models their provider publishes as free of charge, which the list carries without prices:
# OpenAI's moderation endpoint ("free to use"); an override still prices them
_FREE_MODELS = {"openai": ("omni-moderation-", "text-moderation-")}
_FREE_SOURCE = "free of charge: OpenAI's moderation endpoint"


def _free(usage: TokenUsage) -> bool:
    prefixes = _FREE_MODELS.get(usage.provider.lower(), ())
    return usage.model.lower().startswith(prefixes)


@dataclass(frozen=True)
class TokenUsage:
    """One model's usage over a time: a row of a provider's usage report."""

    provider: str  # genai-prices' provider id: openai, anthropic, ...
    model: str
    at: datetime  # when: prices are dated
    input_tokens: int = 0  # every input token, cached ones included
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0  # 5-minute cache writes
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    web_searches: int = 0
    input_audio_tokens: int = 0  # audio comes on top of the (text) input and output tokens
    output_audio_tokens: int = 0
    characters: int = 0  # speech: priced per million characters
    audio_seconds: int = 0  # transcription: priced per hour
    images: int = 0  # priced per image: the list has no such price, so by an override
    batch: bool = False
    service_tier: str | None = None
    long_context: bool = False  # the requests used the long-context tier

    def quantities(self) -> dict[str, int]:
        """Quantity per unit price; ``input`` is what no cache rate covers."""
        cached = self.cache_read_tokens + self.cache_write_tokens + self.cache_write_1h_tokens
        return {
            "input": self.input_tokens - cached,
            "cache_read": self.cache_read_tokens,
            "cache_write": self.cache_write_tokens,
            "cache_write_1h": self.cache_write_1h_tokens,
            "output": self.output_tokens,
            "web_searches": self.web_searches,
            "input_audio": self.input_audio_tokens,
            "output_audio": self.output_audio_tokens,
            "characters": self.characters,
            "audio_hours": self.audio_seconds,
            "images": self.images,
        }


@dataclass(frozen=True)
class Price:
    """The price of some usage, or why it has none."""

    amount: Decimal | None
    source: str  # where the unit prices came from, with the version of the list
    currency: str = CURRENCY
    reason: str | None = None  # set when amount is None
    unit_prices: dict[str, Decimal] = field(default_factory=dict)  # per MTok, per K searches


class Pricer:
    """Prices usage by the list and the workspace's overrides; unit prices are looked up once
    per provider, model, day and variant."""

    def __init__(self, config: PricingConfig) -> None:
        self.overrides = config.overrides

    def price(self, usage: TokenUsage) -> Price:
        quantities = usage.quantities()
        if quantities["input"] < 0:
            return _unpriced(usage, "cache reads and writes exceed the input tokens")
        listed, source = _list_prices(
            usage.provider,
            usage.model,
            usage.at.date(),
            usage.batch,
            usage.service_tier,
            usage.long_context,
        )
        override = self._override(usage)
        if override is None and _free(usage):
            return Price(Decimal(0), _FREE_SOURCE)
        if override is None and listed is None:
            return _unpriced(usage, source)
        prices, source = _overridden(listed or {}, source, override)
        used = [kind for kind, quantity in quantities.items() if quantity]
        missing = [kind for kind in used if _unit(prices, kind) is None]
        if missing:
            return _unpriced(usage, f"{source} has no {missing[0]} price")
        with localcontext(EXACT):
            amount = sum(
                (quantities[kind] * (_unit(prices, kind) or 0) / _PER[kind] for kind in used),
                Decimal(0),
            )
        return Price(amount, source, unit_prices=prices)

    def _override(self, usage: TokenUsage) -> PriceOverride | None:
        """The last override for this provider, model and day: general ones first, specific
        ones after them."""
        day = usage.at.date()
        found = None
        for override in self.overrides:
            if (
                override.provider.lower() == usage.provider.lower()
                and _names(override, usage.model)
                and (override.effective_from is None or day >= override.effective_from)
                and (override.effective_until is None or day < override.effective_until)
            ):
                found = override
        return found


def _names(override: PriceOverride, model: str) -> bool:
    """A discount covers every model whose name starts with the override's (gpt-4.1 covers
    gpt-4.1-mini); unit prices are one model's, and its dated versions' (gpt-4.1-2025-04-14),
    never a cheaper sibling's."""
    wanted, given = override.model.lower(), model.lower()
    if override.discount is not None:
        return given.startswith(wanted)
    return (
        given == wanted
        or re.fullmatch(re.escape(wanted) + r"-\d{4}-?\d{2}-?\d{2}", given) is not None
    )


def _unit(prices: dict[str, Decimal], kind: str) -> Decimal | None:
    while kind not in prices and kind in _FALLBACK:
        kind = _FALLBACK[kind]
    return prices.get(kind)


def _overridden(
    listed: dict[str, Decimal], source: str, override: PriceOverride | None
) -> tuple[dict[str, Decimal], str]:
    if override is None:
        return listed, source
    if override.unit_prices is not None:
        prices = {**listed, **override.unit_prices}
        return prices, f"override {override.name}" + (f" over {source}" if listed else "")
    assert override.discount is not None  # the model allows one of the two
    with localcontext(EXACT):
        keep = (Decimal(100) - override.discount) / 100
        prices = {kind: price * keep for kind, price in listed.items()}
    return prices, f"{source} less {override.discount}% (override {override.name})"


@lru_cache(maxsize=4096)
def _list_prices(
    provider: str,
    model: str,
    day: date,
    batch: bool,
    service_tier: str | None,
    long_context: bool,
) -> tuple[dict[str, Decimal] | None, str]:
    """The list's unit prices for a model on a day, and their source; None and the reason
    where the list does not know the model."""
    context: dict[str, str] = {}
    if batch:
        context["processing"] = "batch"
    if service_tier:
        context["service_tier"] = service_tier
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    try:
        found = genai_prices.calc_price(
            genai_prices.Usage(input_tokens=0),
            model,
            provider_id=provider,
            genai_request_timestamp=at,
            price_context=context or None,
        )
    except LookupError as exc:
        return None, f"{SOURCE} has no price: {exc}"
    prices = {
        kind: price
        for kind, name in _LIST_NAMES.items()
        if (price := _tier(getattr(found.model_price, name, None), long_context)) is not None
    }
    return prices, f"{SOURCE}: {found.provider.id}/{found.model.id}"


def _tier(price: Any, long_context: bool) -> Decimal | None:
    """A unit price: the base one, or the highest tier for long-context requests."""
    if isinstance(price, TieredPrices):
        return price.tiers[-1].price if long_context and price.tiers else price.base
    return price if isinstance(price, Decimal) else None


def _unpriced(usage: TokenUsage, reason: str) -> Price:
    return Price(None, "", reason=f"{usage.provider}/{usage.model}: {reason}")
