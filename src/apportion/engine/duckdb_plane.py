"""The embedded engine: DuckDB through Ibis, its tables in its own file or in a Parquet store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.sql.datatypes import DuckDBType

from apportion.engine import functions, staging
from apportion.engine.dataplane import DataPlane, Tables, Where
from apportion.engine.store import EngineBusyError, ParquetStore, Part
from apportion.engine.stored import StoredTables
from apportion.engine.tables import SCHEMAS


class DuckDBPlane(DataPlane):
    engine = "duckdb"

    def __init__(
        self,
        path: Path | str,
        *,
        store: ParquetStore | None = None,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.path = str(path)
        try:
            self.con = ibis.duckdb.connect(self.path)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            raise EngineBusyError(
                f"another process has the workspace's DuckDB file {self.path} open, and DuckDB "
                f"lets one process at a time use it ({exc}). If that is `apportion serve`, "
                "stop it or allocate through it (POST /api/v1/periods/{period}/allocate); "
                "otherwise run this again when that command is done"
            ) from None
        # timestamps are stored as naive UTC; conversions must not depend on the host's zone
        self._raw("SET TimeZone = 'UTC'")
        if memory_limit:
            self._set("memory_limit", memory_limit)
        if threads:
            self._set("threads", str(threads))
        self.store = store
        self.tables = StoredTables(store, self) if store else _DuckDBTables(self)

    def _set(self, option: str, value: str) -> None:
        # option names are ours; the value is bound as a parameter
        self._raw(f"SET {option} = ?", [value])

    def _raw(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.con.con.execute(sql, params) if params else self.con.con.execute(sql)

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        return self.con.to_pyarrow(expr)

    def map_value(self, mapping: ir.MapValue, key: str) -> ir.StringValue:
        value: ir.StringValue = functions.map_extract_value(mapping, key)
        return value

    def materialise(self, expr: ir.Table) -> ir.Table:
        return self.con.create_table(f"tmp_{uuid.uuid4().hex[:16]}", expr, temp=True)

    # -- staging raw files -------------------------------------------------------------------
    def stage_csv(self, path: Path, columns: int, shape: staging.Shape | None = None) -> ir.Table:
        view = staging.stage_csv(self.con.con, path, columns)
        return self.con.table(staging.shaped(self.con.con, view, shape) if shape else view)

    def stage_parquet(self, path: Path) -> ir.Table:
        return self.con.table(staging.stage_parquet(self.con.con, path))

    def stage_arrow(self, table: pa.Table) -> ir.Table:
        return self.con.table(staging.stage_arrow(self.con.con, table))

    def stage_json_lines(self, path: Path) -> ir.Table:
        return self.con.table(staging.stage_json_lines(self.con.con, path))

    def json_object(self, text: ir.StringValue) -> tuple[ir.BooleanValue, ir.Value]:
        # CASE, not AND: the engine evaluates both sides of AND, and json_type fails on bad JSON
        is_object = ibis.ifelse(
            functions.json_valid(text), functions.json_type(text) == "OBJECT", False
        )
        return is_object, functions.json_object_to_map(text)

    # -- the Parquet store -------------------------------------------------------------------
    def read_parts(self, table: str, parts: list[Part]) -> ir.Table:
        assert self.store is not None
        files = [
            self.store.uri(p.path) + ("" if p.path.endswith(".parquet") else "/*.parquet")
            for p in parts
        ]
        # partition columns are inside the files; the folder names are for people
        return self.con.read_parquet(files, hive_partitioning=False, union_by_name=True)

    def write_part(self, table: str, partition: Mapping[str, str | None], rows: ir.Table) -> Part:
        assert self.store is not None
        uri, part = self.store.new_part(table, partition)
        self.con.to_parquet(rows, uri)
        return part


_BATCH_ROWS = 122_880  # DuckDB's row group size


class _DuckDBTables(Tables):
    """Tables in the DuckDB file, changed in DuckDB transactions."""

    def __init__(self, plane: DuckDBPlane) -> None:
        self.plane = plane
        self.con = plane.con

    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    def ensure(self) -> None:
        existing = set(self.con.list_tables())
        for name, schema in SCHEMAS.items():
            if name not in existing:
                self.con.create_table(name, schema=schema)
                continue
            # columns added in later versions (additive only); existing rows read them as NULL
            have = set(self.con.get_schema(name).names)
            for column, kind in schema.items():
                if column not in have:
                    # our own table, column and type names; no user text reaches this SQL
                    sql_type = DuckDBType.to_string(kind)
                    self.plane._raw(f'ALTER TABLE {name} ADD COLUMN "{column}" {sql_type}')

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.plane._raw("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.plane._raw("ROLLBACK")
            raise
        self.plane._raw("COMMIT")

    def insert(self, table: str, rows: ir.Table | pa.Table) -> None:
        if isinstance(rows, pa.Table):
            # Arrow data goes to the engine directly, by name
            view = f"arrow_{uuid.uuid4().hex[:12]}"
            # DuckDB scans an Arrow table one batch per thread: slices (no copy) let every
            # core convert, which halves inserting 1.5 M allocation rows
            batches = rows.to_batches(max_chunksize=_BATCH_ROWS)
            self.con.con.register(view, pa.Table.from_batches(batches, rows.schema))
            try:
                self.plane._raw(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")  # noqa: S608
            finally:
                self.con.con.unregister(view)
            return
        self.con.insert(table, rows)

    def delete(self, table: str, where: Where) -> None:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in where.items():
            if value is None:
                clauses.append(f'"{column}" IS NULL')
            elif isinstance(value, list | tuple | set | frozenset):
                values = list(value)
                clauses.append(f'"{column}" IN ({", ".join("?" * len(values))})')
                params.extend(values)
            else:
                clauses.append(f'"{column}" = ?')
                params.append(value)
        # table and column names were checked against our schemas by the caller; values bound
        sql = f"DELETE FROM {table} WHERE {' AND '.join(clauses) or 'true'}"  # noqa: S608
        self.plane._raw(sql, params)
