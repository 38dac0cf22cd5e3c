"""Retrieval optimisation: a mean input per request above ``retrieval.max_mean_input_tokens``
(whole documents or long histories sent where a few retrieved passages would do).

Saving = the uncached input tokens above ``target_input_tokens`` per request x the model's
input price per million tokens, on each day's prices. Per-request usage counts each request's
excess; a usage report's daily row counts its requests' mean excess (requests x (mean -
target)). A usage report that counts no requests (Anthropic's) gives no mean: such usage is
listed as not checked.
"""

from __future__ import annotations

from decimal import Decimal

from apportion.analyse.playbooks.findings import (
    SHARE,
    Finding,
    Found,
    Prices,
    by_model,
    per_million,
    prices_text,
    rounded_saving,
    worth,
)
from apportion.analyse.playbooks.usage import Group
from apportion.config.playbooks import PlaybooksConfig
from apportion.money import EXACT, exact_sum

PLAYBOOK = "retrieval"


def find(groups: list[Group], prices: Prices, config: PlaybooksConfig) -> Found:
    settings = config.retrieval
    found = Found()
    for (use_case, provider, model), members in by_model(groups).items():
        requests = sum(g.sized_requests for g in members)
        if not requests:
            if any(g.input_tokens for g in members):
                found.not_checked.append(
                    f"{PLAYBOOK}: {use_case} on {model}: the usage report counts no requests, "
                    "so the input per request is unknown"
                )
            continue
        mean = EXACT.divide(Decimal(sum(g.sized_input for g in members)), Decimal(requests))
        if mean <= settings.max_mean_input_tokens:
            continue
        savings: list[Decimal] = []
        inputs: list[Decimal] = []
        excess = 0
        for group in members:
            units = prices.units(group)
            if units is None or "input" not in units or not group.excess_input:
                continue
            excess += group.excess_input
            inputs.append(units["input"])
            savings.append(per_million(group.excess_input, units["input"]))
        saving = exact_sum(savings)
        if not worth(saving, config.min_monthly_saving):
            continue
        daily = any(not g.per_request for g in members)
        found.findings.append(
            Finding(
                playbook=PLAYBOOK,
                use_case=use_case,
                provider=provider,
                model=model,
                saving=saving,
                evidence={
                    "requests": str(requests),
                    "mean_input_tokens": f"{mean.quantize(SHARE, context=EXACT):f}",
                    "max_mean_input_tokens": str(settings.max_mean_input_tokens),
                    "target_input_tokens": str(settings.target_input_tokens),
                    "input_tokens_above_target": str(excess),
                    "input_price_per_mtok": prices_text(inputs),
                },
                method=(
                    f"{excess} uncached input tokens above {settings.target_input_tokens} per "
                    f"request{' (a usage report by its daily mean)' if daily else ''} x input "
                    f"{prices_text(inputs)} per million tokens = {rounded_saving(saving)}"
                ),
            )
        )
    return found
