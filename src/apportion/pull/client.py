"""Reading every page of a provider's admin API: pagination, retries with backoff on 429 and
5xx (honouring Retry-After), and one clear error for a refused key or a bad request.

Keys come from the environment only and never reach a message, a log or a file.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2

from apportion.errors import UsageError, WorkError
from apportion.ingest.reports import exact_json

ATTEMPTS = 6  # a request is tried this often before the pull gives up
FIRST_WAIT = 1.0  # seconds before the first retry; doubled each time, at most MAX_WAIT
MAX_WAIT = 60.0
TIMEOUT = httpx2.Timeout(60.0, connect=10.0)

Params = Sequence[tuple[str, str]]
Sleep = Callable[[float], None]


class PullError(WorkError):
    """The provider refused or kept failing; nothing was ingested."""


class PullSetupError(UsageError, PullError):
    """The pull cannot start or was refused as asked: no key, a refused key (401, 403), a range
    with nothing in it. The user has to change something first."""


@dataclass(frozen=True)
class Endpoint:
    """One report of one provider's admin API."""

    provider: str  # openai | anthropic
    report: str  # costs | usage-completions | ...
    path: str
    params: Params  # besides the time range and the page cursor
    format: str  # how its pages are ingested (apportion ingest --format)
    page_param: str = "page"


@dataclass(frozen=True)
class Page:
    content: dict[str, Any]  # numbers as exact decimals
    text: str  # the body as the provider sent it: what is kept


def pages(
    client: httpx2.Client,
    endpoint: Endpoint,
    params: Params,
    *,
    sleep: Sleep = time.sleep,
    say: Callable[[str], None] = lambda _: None,
) -> Iterator[Page]:
    """Every page, following ``next_page`` while ``has_more``."""
    cursor: str | None = None
    number = 0
    while True:
        query = [*endpoint.params, *params]
        if cursor:
            query.append((endpoint.page_param, cursor))
        page = _get(client, endpoint, query, sleep, say)
        number += 1
        say(f"{endpoint.provider} {endpoint.report}: page {number}")
        yield page
        content = page.content
        if not content.get("has_more"):
            return
        following = content.get("next_page")
        if not following or following == cursor:
            # stopping here would keep part of the month as if it were all of it
            raise PullError(
                f"{endpoint.provider} {endpoint.report}: page {number} says more follow but "
                f"gives {'the same' if following else 'no'} next_page"
            )
        cursor = str(following)


def _get(
    client: httpx2.Client,
    endpoint: Endpoint,
    query: Params,
    sleep: Sleep,
    say: Callable[[str], None],
) -> Page:
    wait = FIRST_WAIT
    for attempt in range(1, ATTEMPTS + 1):
        response: httpx2.Response | None = None
        problem: str | None
        try:
            response = client.get(endpoint.path, params=list(query))
        except httpx2.TransportError as exc:
            problem = f"could not reach {client.base_url.host} ({type(exc).__name__})"
        else:
            problem = _problem(endpoint, response)
            if problem is None:
                return _page(endpoint, response)
        if attempt == ATTEMPTS:
            raise PullError(f"{endpoint.provider} {endpoint.report}: {problem}, {ATTEMPTS} times")
        asked = _retry_after(response)
        pause = min(wait if asked is None else asked, MAX_WAIT)
        say(f"{endpoint.provider} {endpoint.report}: {problem}; retrying in {pause:.0f} s")
        sleep(pause)
        wait = min(wait * 2, MAX_WAIT)
    raise AssertionError("unreachable")  # the loop returns or raises


def _problem(endpoint: Endpoint, response: httpx2.Response) -> str | None:
    """None for a page; what went wrong where trying again may help; raises where it cannot."""
    status = response.status_code
    if status in (401, 403):
        raise PullSetupError(_refused(endpoint, response))
    if 200 <= status < 300:
        return None
    if status < 400:
        raise PullError(
            f"{endpoint.provider} {endpoint.report}: the API answered {status} (a redirect "
            "or an interim answer), not a page; check the base URL"
        )
    if status != 429 and status < 500:
        raise PullError(
            f"{endpoint.provider} {endpoint.report}: the API answered {status}: "
            f"{_message(response)}"
        )
    return f"the API answered {status}"


def _page(endpoint: Endpoint, response: httpx2.Response) -> Page:
    try:
        content = exact_json(response.text)
    except json.JSONDecodeError as exc:
        raise PullError(f"{endpoint.provider} {endpoint.report}: not JSON ({exc.msg})") from exc
    except ValueError as exc:
        raise PullError(f"{endpoint.provider} {endpoint.report}: {exc}") from exc
    if not isinstance(content, dict):
        raise PullError(f"{endpoint.provider} {endpoint.report}: expected a page object")
    return Page(content, response.text)


def _retry_after(response: httpx2.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date, or nonsense: the back-off decides
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _refused(endpoint: Endpoint, response: httpx2.Response) -> str:
    return (
        f"{endpoint.provider} refused the admin key ({response.status_code}: "
        f"{_message(response)}); reading {endpoint.report} needs an admin key of the "
        "organisation (an ordinary API key is not enough)"
    )


def _message(response: httpx2.Response) -> str:
    """The provider's own error message, short; never the request (it carries the key)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping):
        return str(error.get("message") or error.get("type") or error)[:200]
    return str(error or body)[:200]
