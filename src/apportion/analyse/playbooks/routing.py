"""Routing: simple requests (at most ``routing.max_prompt_tokens`` in and
``max_output_tokens`` out) on a model the ``routing.smaller_models`` map gives a cheaper
sibling (apportion.config.playbooks.smaller_model, which projections route by too).

Saving = those requests' tokens at the model's prices minus the same tokens at the smaller
model's prices, both from the price source on the day they were sent; a day either model has
no price for is left out, and the method says some were unpriced. Request sizes need
per-request usage: a use case seen only in a provider's daily report is listed as not checked.
"""

from __future__ import annotations

from decimal import Decimal

from apportion.analyse.playbooks.findings import (
    Finding,
    Found,
    Prices,
    by_model,
    by_use_case,
    exact_text,
    rounded_saving,
    share,
    worth,
)
from apportion.analyse.playbooks.usage import Group
from apportion.config.playbooks import PlaybooksConfig, smaller_model
from apportion.money import EXACT, exact_sum

__all__ = ["PLAYBOOK", "find", "smaller_model"]

PLAYBOOK = "routing"


def find(groups: list[Group], prices: Prices, config: PlaybooksConfig) -> Found:
    settings = config.routing
    found = Found(
        not_checked=[
            f"{PLAYBOOK}: {use_case}: no per-request usage (daily usage reports only)"
            for use_case, members in by_use_case(groups).items()
            if not any(g.per_request for g in members)
        ]
    )
    for (use_case, provider, model), members in by_model(groups).items():
        target = smaller_model(model, settings.smaller_models)
        short = [g for g in members if g.short_requests]
        if target is None or not short:
            continue
        now, routed, unpriced = _costs(short, target, prices)
        saving = EXACT.subtract(now, routed)
        if not worth(saving, config.min_monthly_saving):
            continue
        requests = sum(g.requests for g in members if g.per_request)
        simple = sum(g.short_requests for g in short)
        found.findings.append(
            Finding(
                playbook=PLAYBOOK,
                use_case=use_case,
                provider=provider,
                model=model,
                saving=saving,
                evidence={
                    "requests": str(requests),
                    "short_requests": str(simple),
                    "short_share": share(simple, requests),
                    "max_prompt_tokens": str(settings.max_prompt_tokens),
                    "max_output_tokens": str(settings.max_output_tokens),
                    "smaller_model": target,
                    "cost_on_model": exact_text(now),
                    "cost_on_smaller_model": exact_text(routed),
                },
                method=(
                    f"the {simple} requests of at most {settings.max_prompt_tokens} input and "
                    f"{settings.max_output_tokens} output tokens priced on {model} "
                    f"({exact_text(now)}) minus on {target} ({exact_text(routed)}) = "
                    f"{rounded_saving(saving)}" + ("; some were unpriced" if unpriced else "")
                ),
            )
        )
    return found


def _costs(short: list[Group], target: str, prices: Prices) -> tuple[Decimal, Decimal, bool]:
    """The short requests' cost on their model and on the target, over the days both price;
    and whether a day was left out for want of a price."""
    now: list[Decimal] = []
    routed: list[Decimal] = []
    unpriced = False
    for group in short:
        tokens = group.subsets["short"]
        here, there = prices.cost(group.usage(tokens)), prices.cost(group.usage(tokens, target))
        if here is not None and there is not None:
            now.append(here)
            routed.append(there)
        else:
            unpriced = True
    return exact_sum(now), exact_sum(routed), unpriced
