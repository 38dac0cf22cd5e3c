"""The engine fixture: one test, each engine, and known gaps declared rather than skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from apportion.config import parse_config
from apportion.engine import open_dataplane


@pytest.mark.notimpl(["spark"], reason="demonstrates the marker: this must fail on Spark")
def test_notimpl_marks_a_strict_expected_failure(engine: str) -> None:
    assert engine != "spark"


def test_the_engine_comes_from_the_environment(engine: str, tmp_path: Path) -> None:
    config = parse_config("version: 1\n")
    assert config.engine.type == engine
    plane = open_dataplane(config.engine, tmp_path)
    try:
        assert plane.engine == engine
        assert (plane.store is not None) == (engine == "spark")
    finally:
        plane.close()


def test_spark_settings_on_duckdb_are_an_error() -> None:
    from apportion.config.loader import ConfigError

    with pytest.raises(ConfigError, match="master and conf are Spark settings"):
        parse_config("version: 1\nengine: {type: duckdb, master: 'local[2]'}\n")


def test_spark_settings_are_passed_as_spark_reads_them() -> None:
    config = parse_config(
        "version: 1\nengine:\n  type: spark\n  conf: {spark.executor.cores: 4, "
        "spark.sql.adaptive.enabled: false, spark.executor.memory: 8g}\n"
    )
    assert config.engine.spark_conf == {
        "spark.executor.cores": "4",
        "spark.sql.adaptive.enabled": "false",
        "spark.executor.memory": "8g",
    }
    assert config.engine.store_location == "tables"
