"""The data plane: the only package that opens an engine or speaks an engine's SQL dialect."""

from __future__ import annotations

from pathlib import Path

from apportion.config.models import EngineConfig
from apportion.engine.dataplane import DataPlane, FileError
from apportion.engine.store import ParquetStore

__all__ = ["DataPlane", "FileError", "open_dataplane"]


def open_dataplane(config: EngineConfig, root: Path) -> DataPlane:
    """The engine apportion.yaml names, with relative paths taken from the workspace root."""
    location = config.store_location
    store = ParquetStore(_beside(root, location)) if location else None
    if config.type == "spark":
        from apportion.engine.spark_plane import SparkPlane, spark_session

        assert store is not None
        master = config.master or (f"local[{config.threads}]" if config.threads else None)
        return SparkPlane(store, spark_session(master, config.conf))
    from apportion.engine.duckdb_plane import DuckDBPlane

    return DuckDBPlane(
        _beside(root, config.path),
        store=store,
        memory_limit=config.memory_limit,
        threads=config.threads,
    )


def _beside(root: Path, location: str) -> str:
    if "://" in location or Path(location).is_absolute():
        return location
    return str(root / location)
