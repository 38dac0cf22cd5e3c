"""Response caching: identical requests (the same content hash: a gateway's cache key, an
application's prompt hash, the first of ``response_caching.hash_keys`` a request carries)
sent again within the month by the same use case to the same model.

Saving = the cost of every such request after the first, at the price source's prices on the
day it was sent. Only per-request usage carries hashes: a use case seen only in a provider's
daily report, or whose requests carry none, is listed as not checked.
"""

from __future__ import annotations

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
from apportion.config.playbooks import PlaybooksConfig
from apportion.money import exact_sum

PLAYBOOK = "response-caching"


def find(groups: list[Group], prices: Prices, config: PlaybooksConfig) -> Found:
    found = Found(not_checked=_not_checked(groups, config))
    for (use_case, provider, model), members in by_model(groups).items():
        repeats = sum(g.repeats for g in members)
        if not repeats:
            continue
        costs = [prices.cost(g.usage(g.subsets["repeated"])) for g in members if g.repeats]
        saving = exact_sum(cost for cost in costs if cost is not None)
        if not worth(saving, config.min_monthly_saving):
            continue
        hashed = sum(g.hashed_requests for g in members)
        found.findings.append(
            Finding(
                playbook=PLAYBOOK,
                use_case=use_case,
                provider=provider,
                model=model,
                saving=saving,
                evidence={
                    "requests": str(sum(g.requests for g in members)),
                    "requests_with_hash": str(hashed),
                    "distinct_requests": str(hashed - repeats),
                    "repeated_requests": str(repeats),
                    "repeat_share": share(repeats, hashed),
                    "cost_of_repeats": exact_text(saving),
                },
                method=(
                    f"the cost of the {repeats} requests that repeat an earlier identical "
                    f"request of the month (same content hash), at list prices = "
                    f"{rounded_saving(saving)}"
                    + ("" if all(c is not None for c in costs) else "; some were unpriced")
                ),
            )
        )
    return found


def _not_checked(groups: list[Group], config: PlaybooksConfig) -> list[str]:
    keys = ", ".join(config.response_caching.hash_keys)
    notes = []
    for use_case, members in by_use_case(groups).items():
        if not any(g.per_request for g in members):
            notes.append(f"{PLAYBOOK}: {use_case}: no per-request usage (daily usage reports only)")
        elif not any(g.hashed_requests for g in members):
            notes.append(f"{PLAYBOOK}: {use_case}: its requests carry no content hash ({keys})")
    return notes
