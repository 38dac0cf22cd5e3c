"""Schemathesis against the published OpenAPI schema: whatever it sends, within the schema or
just outside it, no endpoint answers 5xx. Run as an admin (every endpoint reachable), a
consumer and without a token, on a server of this module's own: the generated requests open
disputes, review and close periods and start allocations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.api.conftest import Server, serving

CALLERS = ("admin", "cx", "anonymous")


@pytest.fixture(scope="module")
def generated_against(
    allocated: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
        patch.delenv("APPORTION_CONTROL_PLANE", raising=False)
        with serving(allocated, tmp_path_factory.mktemp("schema") / "ws") as found:
            yield found


@pytest.fixture(scope="module")
def api_schema(generated_against: Server) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", generated_against.client.app)


def test_the_schema_is_published_under_a_version(generated_against: Server) -> None:
    published = generated_against.client.get("/openapi.json").json()
    paths = list(published["paths"])
    assert paths and all(path.startswith("/api/v1/") for path in paths)
    assert not any(path.startswith(("/periods", "/login")) for path in paths)  # pages are not


def test_no_request_is_a_server_error(api_schema: Any, generated_against: Server) -> None:
    """Every operation, as schemathesis generates its requests (positive and negative), for
    each kind of caller. (Schemathesis's own pytest plugin does not run on pytest 9 yet, so
    the operations are walked here, each with its Hypothesis strategy.)"""
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,  # the same requests every run: a failure here is repeatable
            database=None,
        )
        def call(case: Any) -> None:
            for who in CALLERS:
                case.call_and_validate(
                    headers=generated_against.headers(who), checks=[not_a_server_error]
                )

        try:
            call()
        except Exception as exc:  # collected: one run names every operation that fails
            failures.append(f"{operation.label}: {exc}")
    assert failures == []
