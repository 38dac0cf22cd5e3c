"""The data plane: the only package that opens an engine or speaks an engine's SQL dialect."""

from __future__ import annotations

from pathlib import Path

from apportion.config.loader import ConfigError
from apportion.config.models import EngineConfig
from apportion.engine.dataplane import DataPlane, FileError
from apportion.engine.store import (
    MANIFEST,
    EngineBusyError,
    ParquetStore,
    StorageError,
    StoreError,
)

__all__ = [
    "DataPlane",
    "EngineBusyError",
    "FileError",
    "StorageError",
    "StoreError",
    "open_dataplane",
]

DEFAULT_STORE = "tables"  # where a Spark workspace keeps its tables when storage is not set


def open_dataplane(config: EngineConfig, root: Path) -> DataPlane:
    """The engine apportion.yaml names, with relative paths taken from the workspace root."""
    location = config.store_location
    store = ParquetStore(_beside(root, location)) if location else None
    if store is not None and store.version == 0:
        _refuse_hidden_tables(Path(_beside(root, config.path)), store.location)
    if store is None and (root / DEFAULT_STORE / MANIFEST).is_file():
        raise StorageError(
            f"this workspace's data is in the Parquet store {root / DEFAULT_STORE}, but "
            "apportion.yaml sets no engine.storage: set `storage: tables` to read it"
        )
    if config.type == "spark":
        try:
            from apportion.engine.spark_plane import SparkPlane, spark_session
        except ImportError as exc:  # pyspark is an optional extra
            raise ConfigError(
                f"engine type spark needs PySpark: pip install 'apportion[spark]' ({exc})"
            ) from exc

        assert store is not None
        master = config.master or (f"local[{config.threads}]" if config.threads else None)
        return SparkPlane(store, spark_session(master, config.spark_conf))
    from apportion.engine.duckdb_plane import DuckDBPlane

    return DuckDBPlane(
        _beside(root, config.path),
        store=store,
        memory_limit=config.memory_limit,
        threads=config.threads,
    )


def _beside(root: Path, location: str) -> str:
    if "://" in location:
        return location
    # absolute: a distributed engine resolves paths on other machines, not in our directory
    return str((root / location).resolve())


def _refuse_hidden_tables(database: Path, location: str) -> None:
    """A workspace whose tables are in DuckDB's file, now configured with a Parquet store,
    would read as empty: say so rather than report nothing."""
    if not database.is_file():
        return
    import duckdb

    from apportion.engine.tables import SCHEMAS

    # (not read-only: this process may hold the file open already, and DuckDB refuses a
    # second connection with other settings)
    with duckdb.connect(str(database)) as con:
        listed = con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        present = {row[0] for row in listed}
        rows = 0
        for name in SCHEMAS:
            if name in present:
                found = con.execute(f"SELECT count(*) FROM {name}").fetchone()  # noqa: S608 - ours
                rows += found[0] if found else 0
    if rows:
        raise StorageError(
            f"this workspace's data is inside {database.name}, but the engine now reads the "
            f"Parquet store at {location}, which is empty; re-ingest the files kept in raw/ "
            "(apportion ingest raw/*) or remove engine.storage to keep using the DuckDB file"
        )
