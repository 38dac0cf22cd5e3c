"""The data plane: what the rest of apportion may ask of an engine.

Callers get Ibis tables and hand back Ibis expressions or Arrow tables, so ingest, allocation
and reports are written once. An engine (engine/duckdb.py, engine/spark.py) supplies the few
things Ibis does not: reading raw files, materialising, transactions, and JSON functions.
Tables live either inside the engine (DuckDB's own file) or in a :class:`ParquetStore` that
every engine can read and write.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from apportion.engine.staging import FileError, staged_column
from apportion.engine.store import ParquetStore, Part, partition_columns
from apportion.engine.tables import SCHEMAS
from apportion.schema import tables as t

__all__ = ["DataPlane", "FileError", "staged_column"]

Where = Mapping[str, Any]
JsonObject = Callable[[ir.StringValue], tuple[ir.BooleanValue, ir.Value]]


class DataPlane(ABC):
    """An Ibis connection plus where the data-plane tables live."""

    #: the engine's name, as in apportion.yaml (`engine.type`)
    engine: str
    con: Any

    def __init__(self, store: ParquetStore | None) -> None:
        self.store = store

    # -- what an engine supplies -------------------------------------------------------------
    @abstractmethod
    def materialise(self, expr: ir.Table) -> ir.Table:
        """Compute an expression once, for steps that read it twice."""

    @abstractmethod
    def stage_csv(self, path: Path, columns: int) -> ir.Table: ...

    @abstractmethod
    def stage_parquet(self, path: Path) -> ir.Table: ...

    @abstractmethod
    def stage_json_lines(self, path: Path) -> ir.Table: ...

    @abstractmethod
    def json_object(self, text: ir.StringValue) -> tuple[ir.BooleanValue, ir.Value]:
        """Whether the text is a JSON object, and its members as map<string, string> (nested
        values keep their JSON text). The map is only read where the first is true."""

    @abstractmethod
    def to_arrow(self, expr: ir.Table) -> pa.Table: ...

    @abstractmethod
    def _read_parts(self, table: str, parts: list[Part]) -> ir.Table:
        """The rows of stored files, as an Ibis table (the files exist and are not empty)."""

    @abstractmethod
    def _write_part(self, table: str, partition: Mapping[str, str | None], rows: ir.Table) -> Part:
        """Write rows of one partition to a new file of the store and name it."""

    @abstractmethod
    def _native_tables(self) -> _NativeTables:
        """Tables kept inside the engine, where it has a store of its own."""

    def close(self) -> None:
        self.con.disconnect()

    # -- reading -----------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        if self.store is None:
            return self.con.table(name)
        self.store.refresh()  # another process (another engine) may have committed since
        parts = self.store.parts(name)
        if not parts:
            return ibis.memtable(SCHEMAS[name].to_pyarrow().empty_table())
        return _conform(self._read_parts(name, parts), name)

    def scalar(self, expr: ir.Scalar) -> Any:
        return self.con.execute(expr)

    def staged_columns(self, staged: ir.Table) -> list[str]:
        return [c for c in staged.columns if c != t.ROW_NUMBER]

    def ensure_tables(self) -> None:
        if self.store is None:
            self._native_tables().ensure()

    # -- writing -----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written inside becomes visible together, or not at all."""
        if self.store is None:
            with self._native_tables().transaction():
                yield
        else:
            with self.store.transaction():
                yield

    def insert(self, table: str, rows: ir.Table | pa.Table) -> None:
        """Append rows; columns are matched by name and cast to the table's declared types
        (exact decimals stay exact)."""
        schema = SCHEMAS[table]
        if self.store is None:
            self._native_tables().insert(table, rows)
            return
        with self.store.transaction():
            if isinstance(rows, pa.Table):
                self._insert_arrow(table, rows.select(schema.names).cast(schema.to_pyarrow()))
                return
            rows = rows.select(*[rows[name].cast(schema[name]).name(name) for name in schema.names])
            keys = partition_columns(table)
            partitions = self.to_arrow(rows.select(*keys).distinct()).to_pylist()
            for partition in partitions:
                subset = rows if len(partitions) == 1 else rows.filter(_equal(rows, partition))
                self.store.add(self._write_part(table, partition, subset))

    def delete(self, table: str, where: Where) -> None:
        """Delete rows whose columns equal the given values (None means IS NULL, a list means
        IN). Column names are checked against our schemas; values never become SQL text."""
        if table not in SCHEMAS:
            raise KeyError(f"no data-plane table {table}")
        for column, value in where.items():
            if column not in SCHEMAS[table].names:
                raise KeyError(f"{table} has no column {column}")
            if isinstance(value, list | tuple | set | frozenset) and not value:
                return  # IN () matches nothing
        if self.store is None:
            self._native_tables().delete(table, where)
            return
        with self.store.transaction():
            self._delete_stored(table, where)

    def _delete_stored(self, table: str, where: Where) -> None:
        assert self.store is not None
        keys = partition_columns(table)
        rest = {c: v for c, v in where.items() if c not in keys}
        doomed: list[Part] = []
        for part in self.store.parts(table):
            if not all(_matches(part.value(k), where[k]) for k in keys if k in where):
                continue
            if rest:
                # a delete by other columns rewrites the files it touches
                stored = _conform(self._read_parts(table, [part]), table)
                hit = _predicate(stored, rest)
                if not self.scalar(stored.filter(hit).count()):
                    continue
                kept = stored.filter(~hit)
                if self.scalar(kept.count()):
                    self.store.add(self._write_part(table, dict(part.partition), kept))
            doomed.append(part)
        self.store.remove(doomed)

    def _insert_arrow(self, table: str, rows: pa.Table) -> None:
        """Arrow rows are written by Arrow itself, whatever the engine."""
        assert self.store is not None
        if not rows.num_rows:
            return
        keys = partition_columns(table)
        for partition in rows.select(keys).group_by(keys).aggregate([]).to_pylist():
            _, part = self.store.new_part(table, partition)
            with self.store.fs.open_output_stream(f"{self.store.root}/{part.path}") as stream:
                pq.write_table(rows.filter(_arrow_mask(rows, partition)), stream)
            self.store.add(part)


class _NativeTables(ABC):
    """An engine's own tables, for an engine that has them (DuckDB's file)."""

    @abstractmethod
    def ensure(self) -> None: ...

    @abstractmethod
    def transaction(self) -> Any: ...

    @abstractmethod
    def insert(self, table: str, rows: ir.Table | pa.Table) -> None: ...

    @abstractmethod
    def delete(self, table: str, where: Where) -> None: ...


def _conform(stored: ir.Table, table: str) -> ir.Table:
    """Stored files as the declared schema: another engine may have written a timestamp with
    a zone or a narrower type."""
    schema = SCHEMAS[table]
    return stored.select(
        *[
            stored[name] if stored[name].type() == kind else _cast(stored[name], kind)
            for name, kind in schema.items()
        ]
    )


def _cast(column: ir.Value, kind: Any) -> ir.Value:
    current = column.type()
    if current.is_timestamp() and current.timezone and kind.is_timestamp():
        return column.cast("timestamp('UTC')").cast(kind).name(column.get_name())
    return column.cast(kind).name(column.get_name())


def _matches(stored: str | None, wanted: Any) -> bool:
    if wanted is None:
        return stored is None
    if isinstance(wanted, list | tuple | set | frozenset):
        return stored in set(wanted)
    return bool(stored == wanted)


def _predicate(table: ir.Table, where: Where) -> ir.BooleanValue:
    clauses = []
    for column, value in where.items():
        if value is None:
            clauses.append(table[column].isnull())
        elif isinstance(value, list | tuple | set | frozenset):
            clauses.append(table[column].isin(list(value)))
        else:
            clauses.append(table[column] == value)
    return ibis.and_(*clauses).fill_null(False)


def _equal(table: ir.Table, values: Mapping[str, Any]) -> ir.BooleanValue:
    return _predicate(table, dict(values))


def _arrow_mask(rows: pa.Table, partition: Mapping[str, Any]) -> pa.ChunkedArray:
    mask: Any = None
    for column, value in partition.items():
        test = pc.is_null(rows[column]) if value is None else pc.equal(rows[column], value)
        test = pc.fill_null(test, False)
        mask = test if mask is None else pc.and_(mask, test)
    return mask
