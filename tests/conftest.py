from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.engines import ENGINE_PARAMS, ENGINES, outside_the_core

settings.register_profile(
    "apportion",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "apportion"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Spark runs the parity core unless the full matrix is asked for (tests/engines.py); what
    it leaves out is reported as deselected, not hidden."""
    left_out = [item for item in items if outside_the_core(item)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not outside_the_core(item)]


@pytest.fixture(autouse=True)
def _no_workspace_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("APPORTION_WORKSPACE", raising=False)
    yield


# -- engines ---------------------------------------------------------------------------------
# Engine-facing tests take the `engine` fixture (directly, or with
# `pytestmark = pytest.mark.usefixtures("engine")`) and so run once per engine, marked
# `duckdb` or `spark` (tests/engines.py). A known gap is declared with
# @pytest.mark.notimpl(["spark"], reason="...") and must still fail there.
@pytest.fixture(params=ENGINE_PARAMS)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    name: str = request.param
    for marker in request.node.iter_markers("notimpl"):
        if name in marker.args[0]:
            request.applymarker(pytest.mark.xfail(reason=marker.kwargs["reason"], strict=True))
    # every workspace the test creates or opens picks this engine up from the environment
    monkeypatch.setenv("APPORTION_ENGINE_TYPE", name)
    return name


@pytest.fixture(scope="session", autouse=True)
def _spark_for_small_data() -> Iterator[None]:
    """One local Spark session per test process, tuned for tiny data; every Spark workspace in
    the tests picks it up as the active session."""
    if "spark" in ENGINES:
        from apportion.engine.spark_plane import SMALL_DATA_CONF, spark_session

        spark_session("local[1]", SMALL_DATA_CONF)
    yield


# -- the demo organisation -------------------------------------------------------------------
@dataclass(frozen=True)
class BuiltDemo:
    root: Path
    summary: list[str]


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> BuiltDemo:
    """The demo's monthly cycle on a smaller month, built once per test process: the tests that
    use it share an xdist group, so CI builds it once. Tests that change it work on a copy."""
    from apportion.demo import run_demo

    root = tmp_path_factory.mktemp("demo") / "demo"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("APPORTION_ENGINE_TYPE", raising=False)
        patch.delenv("APPORTION_CONTROL_PLANE", raising=False)
        summary = run_demo(root, driver_rows=20_000)
    return BuiltDemo(root, summary)
