"""Token usage priced by hand-checked list prices (genai-prices' bundled data) and overrides."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from apportion.config import ConfigError, parse_config
from apportion.pricing import Pricer, TokenUsage

OCTOBER = datetime(2026, 10, 3, 9, tzinfo=UTC)


def _pricer(overrides: str = "") -> Pricer:
    config = parse_config(
        "version: 1\n" + (f"pricing:\n  overrides:\n{overrides}" if overrides else "")
    )
    return Pricer(config.pricing)


def test_openai_input_tokens_include_the_cached_ones() -> None:
    # gpt-4.1-mini: $0.40 input, $0.10 cached input, $1.60 output per million tokens
    usage = TokenUsage(
        "openai",
        "gpt-4.1-mini-2025-04-14",
        OCTOBER,
        input_tokens=1_000_000,
        cache_read_tokens=100_000,
        output_tokens=1_000_000,
    )
    price = _pricer().price(usage)
    # 900,000 uncached x 0.40 + 100,000 cached x 0.10 + 1,000,000 x 1.60, per million
    assert price.amount == D("1.97")
    assert price.source.startswith("genai-prices 0.2.") and "openai/gpt-4.1-mini" in price.source
    assert price.currency == "USD"


def test_anthropic_cache_writes_and_the_long_context_tier() -> None:
    # claude-sonnet-4-5: $3 input, $3.75 5-minute cache write, $6 1-hour cache write, $0.30
    # cache read, $15 output; from 200k input tokens a request pays $6, $7.50, $12, $0.60, $22.50
    usage = TokenUsage(
        "anthropic",
        "claude-sonnet-4-5-20250929",
        OCTOBER,
        input_tokens=1_000 + 5 + 10 + 20,  # uncached + cache read + 5m write + 1h write
        cache_read_tokens=5,
        cache_write_tokens=10,
        cache_write_1h_tokens=20,
        output_tokens=1_000,
    )
    pricer = _pricer()
    # (1000 x 3 + 5 x 0.3 + 10 x 3.75 + 20 x 6 + 1000 x 15) / 1e6
    assert pricer.price(usage).amount == D("0.018159")
    long = TokenUsage(**{**usage.__dict__, "long_context": True})
    # (1000 x 6 + 5 x 0.6 + 10 x 7.5 + 20 x 12 + 1000 x 22.5) / 1e6
    assert pricer.price(long).amount == D("0.028818")


def test_a_day_of_usage_is_not_priced_as_one_huge_request() -> None:
    # 10 M input tokens in a day of short requests stay at the base rate
    usage = TokenUsage("anthropic", "claude-sonnet-4-5", OCTOBER, input_tokens=10_000_000)
    assert _pricer().price(usage).amount == D(30)


def test_overrides_discount_the_list_or_price_a_private_model() -> None:
    pricer = _pricer(
        "    - {name: openai-commit, provider: openai, model: gpt-4.1, discount: 15,\n"
        "       effective_from: 2026-10-01}\n"
        "    - {name: our-llama, provider: self-hosted, model: llama-3.1-70b-ft,\n"
        "       unit_prices: {input: 0.2, output: 0.8}}\n"
    )
    usage = TokenUsage("openai", "gpt-4.1-mini", OCTOBER, input_tokens=1_000_000)
    discounted = pricer.price(usage)
    assert discounted.amount == D("0.34")  # 0.40 less 15%
    assert discounted.source.endswith("less 15% (override openai-commit)")
    september = TokenUsage("openai", "gpt-4.1-mini", datetime(2026, 9, 30, tzinfo=UTC), 1_000_000)
    assert pricer.price(september).amount == D("0.4")  # before the discount took effect
    llama = TokenUsage(
        "self-hosted", "llama-3.1-70b-ft", OCTOBER, input_tokens=2_000_000, output_tokens=500_000
    )
    private = pricer.price(llama)
    assert private.amount == D("0.8")  # 2 x 0.20 + 0.5 x 0.80
    assert private.source == "override our-llama"


def test_usage_without_a_price_says_why() -> None:
    pricer = _pricer(
        "    - {name: tiny, provider: self-hosted, model: tiny, unit_prices: {input: 1}}\n"
    )
    unknown = pricer.price(TokenUsage("openai", "no-such-model", OCTOBER, input_tokens=1))
    assert unknown.amount is None
    assert unknown.reason is not None and "no-such-model" in unknown.reason
    output = pricer.price(TokenUsage("self-hosted", "tiny", OCTOBER, output_tokens=5))
    assert (
        output.amount is None
        and output.reason == "self-hosted/tiny: override tiny has no output price"
    )
    impossible = TokenUsage("openai", "gpt-4.1-mini", OCTOBER, input_tokens=1, cache_read_tokens=2)
    assert "exceed the input tokens" in str(pricer.price(impossible).reason)


def test_audio_tokens_come_on_top_at_the_audio_rates() -> None:
    # gpt-realtime: $4 input, $16 output, $32 input audio, $64 output audio per million
    usage = TokenUsage(
        "openai",
        "gpt-realtime",
        OCTOBER,
        input_tokens=1_000_000,
        output_tokens=200_000,
        input_audio_tokens=500_000,
        output_audio_tokens=100_000,
    )
    # 1 M x 4 + 0.2 M x 16 + 0.5 M x 32 + 0.1 M x 64 = 4 + 3.2 + 16 + 6.4
    assert _pricer().price(usage).amount == D("29.6")
    # a model the list gives no audio rate is unpriced, never priced at its text rate
    no_audio = TokenUsage("openai", "gpt-4.1-mini", OCTOBER, input_audio_tokens=10)
    assert "has no input_audio price" in str(_pricer().price(no_audio).reason)
    # an override may give one
    priced = _pricer(
        "    - {name: audio, provider: openai, model: gpt-4.1-mini, "
        "unit_prices: {input_audio: 40}}\n"
    ).price(no_audio)
    assert priced.amount == D("0.0004")


def test_speech_by_the_character_transcription_by_the_hour_images_by_override() -> None:
    # tts-1: $15 per million characters; whisper-1: $0.36 an hour
    speech = TokenUsage("openai", "tts-1", OCTOBER, characters=200_000)
    assert _pricer().price(speech).amount == D(3)
    heard = TokenUsage("openai", "whisper-1", OCTOBER, audio_seconds=1800)
    assert _pricer().price(heard).amount == D("0.18")
    # the list has no per-image price (it depends on size and quality): said, not guessed
    drawn = TokenUsage("openai", "gpt-image-1", OCTOBER, images=4)
    assert "has no images price" in str(_pricer().price(drawn).reason)
    priced = _pricer(
        "    - {name: img, provider: openai, model: gpt-image-1, unit_prices: {images: 0.042}}\n"
    ).price(drawn)
    assert priced.amount == D("0.168")


def test_moderation_is_free_unless_an_override_prices_it() -> None:
    usage = TokenUsage("openai", "omni-moderation-2024-09-26", OCTOBER, input_tokens=52_000)
    free = _pricer().price(usage)
    assert (free.amount, free.source) == (D(0), "free of charge: OpenAI's moderation endpoint")
    priced = _pricer(
        "    - {name: m, provider: openai, model: omni-moderation-2024-09-26, "
        "unit_prices: {input: 0.01}}\n"
    ).price(usage)
    assert priced.amount == D("0.00052")  # 52,000 x 0.01 per million


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("{name: a, provider: openai, model: x}", "give either discount or unit_prices"),
        ("{name: a, provider: openai, model: x, discount: 10, unit_prices: {input: 1}}", "either"),
        ("{name: a, provider: openai, model: x, unit_prices: {inptu: 1}}", "unknown unit price"),
        ("{name: a, provider: openai, model: x, discount: 120}", "less than 100"),
        ("{name: a, provider: openai, model: x, unit_prices: {input: -1}}", "cannot be negative"),
    ],
)
def test_bad_overrides_are_configuration_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _pricer(f"    - {override}\n")


def test_unit_prices_cover_a_model_and_its_dated_versions_not_its_siblings() -> None:
    pricer = _pricer(
        "    - {name: flat, provider: openai, model: gpt-4.1, unit_prices: {input: 1}}\n"
    )
    one_million = {"input_tokens": 1_000_000}
    dated = pricer.price(TokenUsage("openai", "gpt-4.1-2025-04-14", OCTOBER, **one_million))
    assert (dated.amount, dated.source.startswith("override flat")) == (D(1), True)
    sibling = pricer.price(TokenUsage("openai", "gpt-4.1-mini", OCTOBER, **one_million))
    assert sibling.amount == D("0.4")  # the list's gpt-4.1-mini price, not the override's
