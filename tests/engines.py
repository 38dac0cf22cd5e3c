"""The engines the engine-facing tests run on. APPORTION_TEST_ENGINES=duckdb narrows a quick
local run; CI runs both.

Spark runs the engine-parity core: every test, except those marked ``spark_full``, whose Spark
path a cheaper test already covers (a second spec example, a second CLI command over the same
queries). Those run on Spark too in the full matrix, APPORTION_TEST_SPARK=full
(``make test-engines``): run it when changing apportion.engine or an Ibis expression."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

ENGINES = [e for e in os.environ.get("APPORTION_TEST_ENGINES", "duckdb,spark").split(",") if e]
ENGINE_PARAMS = [pytest.param(e, marks=getattr(pytest.mark, e)) for e in ENGINES]
FULL_MATRIX = os.environ.get("APPORTION_TEST_SPARK", "core") == "full"


def outside_the_core(item: pytest.Item) -> bool:
    """A Spark run of a test marked spark_full, when the full matrix was not asked for."""
    if FULL_MATRIX or item.get_closest_marker("spark_full") is None:
        return False
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("engine") == "spark"


def examples(engine: str, on_duckdb: int) -> settings:
    """Hypothesis settings for a property test on an engine: Spark spends tens of seconds of
    JVM jobs on each small example (the slowest tests of CI), so it runs a quarter of them:
    enough to show the engines agree, while DuckDB explores the input space."""
    return settings(max_examples=on_duckdb if engine == "duckdb" else max(1, on_duckdb // 4))
