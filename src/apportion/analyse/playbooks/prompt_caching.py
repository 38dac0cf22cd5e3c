"""Prompt caching: long inputs on a model with a cache-read price, of which the cache serves
little (cache reads under ``max_cache_read_share`` of the input tokens).

Saving = the uncached input tokens of requests of at least ``min_prompt_tokens`` input tokens
x ``hit_rate`` (the share a cache is assumed to serve) x (input price - cache-read price) per
million tokens, on each day's prices. Which prefixes repeat is not known (no usage source
gives prefix hashes), so the hit rate is an assumption, shown with the finding; what writing
the cache costs (Anthropic charges writes above the input price) is not taken off. Per-request
usage tests each request's length; a usage report's daily row tests its requests' mean (input
tokens / requests of at least ``min_prompt_tokens``), as it gives no single request's. A usage
report that counts no requests (Anthropic's) cannot tell long prompts from many short ones:
such usage is listed as not checked.
"""

from __future__ import annotations

from decimal import Decimal

from apportion.analyse.playbooks.findings import (
    Finding,
    Found,
    Prices,
    by_model,
    per_million,
    prices_text,
    rounded_saving,
    share,
    worth,
)
from apportion.analyse.playbooks.usage import Group
from apportion.config.playbooks import PlaybooksConfig
from apportion.money import EXACT, exact_sum

PLAYBOOK = "prompt-caching"


def find(groups: list[Group], prices: Prices, config: PlaybooksConfig) -> Found:
    found = Found()
    for (use_case, provider, model), members in by_model(groups).items():
        input_tokens = sum(g.input_tokens for g in members)
        cache_reads = sum(g.cache_read_tokens for g in members)
        low = EXACT.multiply(config.prompt_caching.max_cache_read_share, Decimal(input_tokens))
        if not input_tokens or cache_reads >= low:
            continue
        unsized = sum(g.input_tokens - g.sized_input for g in members)
        if unsized:
            found.not_checked.append(
                f"{PLAYBOOK}: {use_case} on {model}: {unsized} input tokens come from a usage "
                "report that counts no requests, so how long its prompts are is unknown"
            )
        finding = _sized(use_case, provider, model, members, prices, config)
        if finding is not None and worth(finding.saving, config.min_monthly_saving):
            found.findings.append(finding)
    return found


def _sized(
    use_case: str,
    provider: str,
    model: str,
    members: list[Group],
    prices: Prices,
    config: PlaybooksConfig,
) -> Finding | None:
    settings = config.prompt_caching
    savings: list[Decimal] = []
    cacheable = 0
    daily = False  # a usage report's row counted, by its mean request
    inputs: list[Decimal] = []
    reads: list[Decimal] = []
    for group in members:
        units = prices.units(group)
        if units is None or not group.long_uncached:
            continue
        price, read = units.get("input"), units.get("cache_read")
        if price is None or read is None or read >= price:
            continue  # no cache discount on this model: nothing to gain
        cacheable += group.long_uncached
        daily = daily or not group.per_request
        inputs.append(price)
        reads.append(read)
        served = EXACT.multiply(Decimal(group.long_uncached), settings.hit_rate)
        savings.append(per_million(served, EXACT.subtract(price, read)))
    if not savings:
        return None
    input_tokens = sum(g.input_tokens for g in members)
    cache_reads = sum(g.cache_read_tokens for g in members)
    saving = exact_sum(savings)
    return Finding(
        playbook=PLAYBOOK,
        use_case=use_case,
        provider=provider,
        model=model,
        saving=saving,
        evidence={
            "requests": str(sum(g.sized_requests for g in members)),
            "input_tokens": str(input_tokens),
            "cache_read_tokens": str(cache_reads),
            "cache_read_share": share(cache_reads, input_tokens),
            "long_prompt_uncached_tokens": str(cacheable),
            "min_prompt_tokens": str(settings.min_prompt_tokens),
            "assumed_hit_rate": f"{settings.hit_rate:f}",
            "input_price_per_mtok": prices_text(inputs),
            "cache_read_price_per_mtok": prices_text(reads),
        },
        method=(
            f"{cacheable} uncached input tokens of requests of at least "
            f"{settings.min_prompt_tokens} tokens"
            f"{' (a usage report by its daily mean)' if daily else ''} x assumed hit rate "
            f"{settings.hit_rate:f} x "
            f"(input {prices_text(inputs)} - cache read {prices_text(reads)}) per million "
            f"tokens = {rounded_saving(saving)}"
        ),
    )
