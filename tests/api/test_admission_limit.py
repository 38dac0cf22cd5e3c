"""The admission webhook stops reading a body at its 3 MiB limit: a body sent in chunks with no
Content-Length, or under a Content-Length that lies, is answered 413 after the limit, and the
rest is never read (the server does not buffer an attacker's gigabytes)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from apportion.api.admission import MAX_BODY_BYTES, admission_app
from apportion.config import parse_config
from apportion.tags import load_policy

CHUNK = 512 * 1024
CHUNKS = 40  # 20 MiB offered, far over the limit


def send_in_chunks(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """POST /validate with CHUNKS chunks; the status answered and how many chunks were read."""
    read = 0
    answered: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        if read > CHUNKS:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b" " * CHUNK, "more_body": read < CHUNKS}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answered.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/validate",
        "raw_path": b"/validate",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    return answered[0], read


@pytest.mark.parametrize(
    "headers",
    [[], [(b"content-length", b"100")], [(b"transfer-encoding", b"chunked")]],
    ids=["no-length", "lying-length", "chunked"],
)
def test_a_body_over_the_limit_is_refused_without_reading_the_rest(
    tmp_path: Path, headers: list[tuple[bytes, bytes]]
) -> None:
    app = admission_app(load_policy(parse_config(""), tmp_path))
    status, read = send_in_chunks(app, headers)
    assert status == 413
    assert read * CHUNK <= MAX_BODY_BYTES + CHUNK  # stopped at the chunk that passed it
    assert read < CHUNKS


def test_a_declared_length_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    app = admission_app(load_policy(parse_config(""), tmp_path))
    status, read = send_in_chunks(app, [(b"content-length", str(CHUNK * CHUNKS).encode())])
    assert (status, read) == (413, 0)
