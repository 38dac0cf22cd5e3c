"""``apportion pull openai|anthropic|litellm``: read the cost and usage reports from a
provider's admin API, or the spend logs from a LiteLLM proxy's database, keep what was read in
the workspace, then ingest it.

Whole months are read (``apportion.pull.months``): each month of each report is one file and
one partition, so pulling a month again restates it (the ingest prints what changed). Files
are written under ``pulled/`` (for the admin APIs, a JSON array of the pages as sent) before
anything is ingested; the ingest keeps them in ``raw/`` by content hash like any other file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import cast

import httpx2

from apportion.ingest.load import IngestResult
from apportion.ingest.registry import Format
from apportion.periods import Period
from apportion.progress import Progress, quiet
from apportion.pull.client import (
    TIMEOUT,
    Endpoint,
    Page,
    Params,
    PullError,
    PullSetupError,
    Sleep,
    pages,
)
from apportion.pull.litellm import pull_litellm
from apportion.pull.months import ingest_pulled, months_to_read, pulled_folder, write_whole
from apportion.workspace import Workspace

__all__ = ["PROVIDERS", "PullError", "PullSetupError", "pull", "pull_litellm"]


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str
    key_variable: str  # the environment variable holding the admin key
    endpoints: tuple[Endpoint, ...]
    range_params: Callable[[datetime, datetime], Params]
    headers: Callable[[str], dict[str, str]]

    @property
    def url_variable(self) -> str:
        """Where another base URL may be given (a proxy; the tests' fake server)."""
        return f"APPORTION_{self.name.upper()}_API_URL"


def _unix(start: datetime, end: datetime) -> Params:
    return [("start_time", str(int(start.timestamp()))), ("end_time", str(int(end.timestamp())))]


def _rfc3339(start: datetime, end: datetime) -> Params:
    return [
        ("starting_at", start.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("ending_at", end.strftime("%Y-%m-%dT%H:%M:%SZ")),
    ]


def _grouped(key: str, names: str) -> Params:
    return [(key, name) for name in names.split()]


_OPENAI_USAGE = "project_id user_id api_key_id model batch service_tier"
_OPENAI_EMBEDDINGS = "project_id user_id api_key_id model"  # and moderations, audio
_OPENAI_IMAGES = "project_id user_id api_key_id model size source"
OPENAI = Provider(
    name="openai",
    base_url="https://api.openai.com",
    key_variable="OPENAI_ADMIN_KEY",
    endpoints=(
        Endpoint(
            "openai",
            "costs",
            "/v1/organization/costs",
            [
                ("bucket_width", "1d"),
                ("limit", "180"),
                *_grouped("group_by", "project_id line_item"),
            ],
            "openai-costs",
        ),
        Endpoint(
            "openai",
            "usage-completions",
            "/v1/organization/usage/completions",
            [("bucket_width", "1d"), ("limit", "31"), *_grouped("group_by", _OPENAI_USAGE)],
            "openai-usage",
        ),
        Endpoint(
            "openai",
            "usage-embeddings",
            "/v1/organization/usage/embeddings",
            [("bucket_width", "1d"), ("limit", "31"), *_grouped("group_by", _OPENAI_EMBEDDINGS)],
            "openai-usage",
        ),
        Endpoint(
            "openai",
            "usage-moderations",
            "/v1/organization/usage/moderations",
            [("bucket_width", "1d"), ("limit", "31"), *_grouped("group_by", _OPENAI_EMBEDDINGS)],
            "openai-usage",
        ),
        Endpoint(
            "openai",
            "usage-images",
            "/v1/organization/usage/images",
            [("bucket_width", "1d"), ("limit", "31"), *_grouped("group_by", _OPENAI_IMAGES)],
            "openai-usage",
        ),
        *(
            Endpoint(
                "openai",
                f"usage-{kind.replace('_', '-')}",
                f"/v1/organization/usage/{kind}",
                [
                    ("bucket_width", "1d"),
                    ("limit", "31"),
                    *_grouped("group_by", _OPENAI_EMBEDDINGS),
                ],
                "openai-usage",
            )
            for kind in ("audio_speeches", "audio_transcriptions")
        ),
    ),
    range_params=_unix,
    headers=lambda key: {"Authorization": f"Bearer {key}"},
)
_ANTHROPIC_USAGE = "workspace_id api_key_id model service_tier context_window"
ANTHROPIC = Provider(
    name="anthropic",
    base_url="https://api.anthropic.com",
    key_variable="ANTHROPIC_ADMIN_KEY",
    endpoints=(
        Endpoint(
            "anthropic",
            "costs",
            "/v1/organizations/cost_report",
            [
                ("bucket_width", "1d"),
                ("limit", "31"),
                *_grouped("group_by[]", "workspace_id description"),
            ],
            "anthropic-costs",
        ),
        Endpoint(
            "anthropic",
            "usage",
            "/v1/organizations/usage_report/messages",
            [("bucket_width", "1d"), ("limit", "31"), *_grouped("group_by[]", _ANTHROPIC_USAGE)],
            "anthropic-usage",
        ),
    ),
    range_params=_rfc3339,
    headers=lambda key: {"x-api-key": key, "anthropic-version": "2023-06-01"},
)
PROVIDERS = {provider.name: provider for provider in (OPENAI, ANTHROPIC)}


def pull(
    workspace: Workspace,
    provider_name: str,
    since: date,
    until: date | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    sleep: Sleep = time.sleep,
    say: Progress = quiet,
) -> list[IngestResult]:
    """Read whole months of every report of the provider and ingest them."""
    provider = PROVIDERS[provider_name]
    env = os.environ if environ is None else environ
    key = env.get(provider.key_variable, "").strip()
    if not key:
        raise PullSetupError(
            f"set {provider.key_variable} to an admin key of the {provider.name} organisation"
        )
    months = months_to_read(since, until)
    files: dict[tuple[str, Format], list[Path]] = {}
    with httpx2.Client(
        base_url=env.get(provider.url_variable) or provider.base_url,
        headers=provider.headers(key),
        timeout=TIMEOUT,
    ) as client:
        for endpoint in provider.endpoints:
            for month in months:
                params = provider.range_params(month.start, month.stop)
                read = list(pages(client, endpoint, params, sleep=sleep, say=say))
                path = _write(workspace, endpoint, month.period, read)
                kind = cast(Format, endpoint.format)  # an endpoint names one of the formats
                files.setdefault((f"{provider.name}-{endpoint.report}", kind), []).append(path)
    return ingest_pulled(workspace, files, say)


def _write(workspace: Workspace, endpoint: Endpoint, month: Period, read: list[Page]) -> Path:
    """The pages as a JSON array of the bodies as the provider sent them (digits untouched)."""
    path = pulled_folder(workspace) / f"{endpoint.provider}-{endpoint.report}-{month}.json"
    text = "[\n" + ",\n".join(page.text.strip() for page in read) + "\n]\n"
    return write_whole(path, lambda handle: handle.write(text))
