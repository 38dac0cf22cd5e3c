"""The demo organisation's OpenAI Usage API export for its month: what ``apportion pull``
saves from ``GET /v1/organization/usage/completions`` and ``/embeddings`` with
``bucket_width=1d`` and ``group_by=project_id,model``: one JSON file holding the two pages,
a bucket a day, a result a day per project and model.

The tokens are the OpenAI bill's (apportion.synth.bills), day by day, project by project and
model by model, so the usage priced at list prices reconciles with the bill: a bill's
"input" meter is the uncached input and "cached input" the rest, while a usage result's
``input_tokens`` counts both (``input_cached_tokens`` is part of it). A day's requests are
its input tokens over the use case's tokens a request (:class:`Traffic`), give or take a few
percent. Two use cases are drawn to be found by the optimisation playbooks
(apportion.analyse.playbooks): the support bot sends a 3,000-token system prompt the prompt
cache barely serves (its bill's cached input is about 3%: prompt caching), and document search
stuffs whole documents, 28,000 tokens a request, into its prompt (retrieval). The others send
short prompts, a sixth to a third of them cached (the bill's default), and are found nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from apportion.synth.bills import BilledTokens
from apportion.synth.organisation import Organisation, Period, UseCase

FILE = "openai-usage-{period}.json"
COMPLETIONS = "organization.usage.completions.result"
EMBEDDINGS = "organization.usage.embeddings.result"
# the dated snapshots the Usage API names the chat models by
SNAPSHOTS = {
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "o4-mini": "o4-mini-2025-04-16",
}
_GROUPED_BY = ("project_id", "model")  # every other grouping field of a result is null
_METERS = ("input", "cached input", "output")  # the bill's token meters
_SPREAD = 0.05  # how much a day's mean request size varies (lognormal sigma)


@dataclass(frozen=True)
class Traffic:
    """How many input tokens one request of a use case sends, cached ones included."""

    prompt: int  # a chat request's
    embedded: int  # an embedding request's


# The use cases with something to find; every other one draws short prompts.
TRAFFIC = {
    # the same long system prompt on every turn; the conversation so far embedded per turn
    "support-bot": Traffic(prompt=3_000, embedded=500),
    # whole documents pasted into the prompt; document chunks embedded
    "doc-search": Traffic(prompt=28_000, embedded=2_500),
}


def write_openai_usage(
    out_dir: Path,
    organisation: Organisation,
    month: Period,
    billed: BilledTokens,
    rng: np.random.Generator,
) -> Path:
    """Write the month's OpenAI usage export under ``out_dir`` from ``billed``, the OpenAI
    bill's tokens (apportion.synth.bills.write_bills); ``rng`` draws request sizes only."""
    days = [_bucket(month, d) for d in range(month.days)]
    completions: list[list[dict[str, Any]]] = [[] for _ in days]
    embeddings: list[list[dict[str, Any]]] = [[] for _ in days]
    for use_case in organisation.use_cases:
        if not use_case.openai:
            continue
        traffic = TRAFFIC.get(use_case.name) or _drawn(rng)
        for model in use_case.openai:
            embedding = model.startswith("text-embedding")
            size = (traffic.embedded if embedding else traffic.prompt) * rng.lognormal(
                0.0, _SPREAD, month.days
            )
            daily = embeddings if embedding else completions
            for d in range(month.days):
                meters = {kind: billed.get((use_case.name, model, d, kind), 0) for kind in _METERS}
                if any(meters.values()):
                    daily[d].append(_result(use_case, model, meters, float(size[d])))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE.format(period=month.label)
    pages = [_page(days, completions), _page(days, embeddings)]
    path.write_text(json.dumps(pages, indent=1) + "\n", encoding="utf-8")
    return path


def _drawn(rng: np.random.Generator) -> Traffic:
    """A use case with nothing to find: short prompts."""
    return Traffic(prompt=int(rng.integers(600, 1_501)), embedded=int(rng.integers(200, 1_001)))


def _result(use_case: UseCase, model: str, meters: dict[str, int], size: float) -> dict[str, Any]:
    """One day of one project's usage of one model: the bill's meters of the day, in
    ``size``-token requests."""
    input_tokens = meters["input"] + meters["cached input"]  # the usage API counts both
    embedding = model.startswith("text-embedding")
    named = model if embedding else SNAPSHOTS.get(model, model)
    grouped = dict(zip(_GROUPED_BY, (f"proj_{use_case.name}", named), strict=True))
    common = {
        "num_model_requests": max(int(np.rint(input_tokens / size)), 1),
        "user_id": None,
        "api_key_id": None,
    }
    if embedding:
        return {"object": EMBEDDINGS, "input_tokens": input_tokens, **grouped, **common}
    return {
        "object": COMPLETIONS,
        "input_tokens": input_tokens,
        "output_tokens": meters["output"],
        "input_cached_tokens": meters["cached input"],
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        **grouped,
        **common,
        "batch": None,
        "service_tier": None,
    }


def _bucket(month: Period, d: int) -> dict[str, int]:
    start = month.start.timestamp() + d * 86_400
    return {"start_time": int(start), "end_time": int(start) + 86_400}


def _page(days: list[dict[str, int]], results: list[list[dict[str, Any]]]) -> dict[str, Any]:
    buckets = [
        {"object": "bucket", **day, "results": found}
        for day, found in zip(days, results, strict=True)
    ]
    return {"object": "page", "data": buckets, "has_more": False, "next_page": None}


__all__ = ["FILE", "TRAFFIC", "Traffic", "write_openai_usage"]
