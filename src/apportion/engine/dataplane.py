"""The data plane: what the rest of apportion may ask of an engine.

Callers get Ibis tables and hand back Ibis expressions or Arrow tables, so ingest, allocation
and reports are written once. An engine (engine/duckdb_plane.py, engine/spark_plane.py)
supplies the few things Ibis does not: reading raw files, materialising, JSON functions.
Where the tables live is a :class:`Tables`: inside the engine (DuckDB's own file) or in a
:class:`~apportion.engine.store.ParquetStore` that every engine reads and writes
(engine/stored.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from apportion.engine.staging import FileError, Shape, staged_column
from apportion.engine.store import ParquetStore, Part
from apportion.engine.tables import SCHEMAS
from apportion.schema import tables as t

__all__ = ["DataPlane", "FileError", "Tables", "staged_column"]

Where = Mapping[str, Any]
JsonObject = Callable[[ir.StringValue], tuple[ir.BooleanValue, ir.Value]]


class Tables(ABC):
    """Where the data-plane tables live, and how they change: all together or not at all."""

    @abstractmethod
    def ensure(self) -> None:
        """Create what a fresh workspace needs."""

    @abstractmethod
    def table(self, name: str) -> ir.Table: ...

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]: ...

    @abstractmethod
    def insert(self, table: str, rows: ir.Table | pa.Table) -> None:
        """Append rows whose columns are already the table's, in its declared types."""

    @abstractmethod
    def delete(self, table: str, where: Where) -> None:
        """Delete rows; the names in ``where`` are checked, and no list in it is empty."""


class DataPlane(ABC):
    """An Ibis connection plus the :class:`Tables` it reads and writes."""

    #: the engine's name, as in apportion.yaml (`engine.type`)
    engine: str
    con: Any
    tables: Tables
    store: ParquetStore | None = None  # set when the tables are in a Parquet store

    # -- what an engine supplies -------------------------------------------------------------
    @abstractmethod
    def materialise(self, expr: ir.Table) -> ir.Table:
        """Compute an expression once, for steps that read it twice."""

    @abstractmethod
    def stage_csv(self, path: Path, columns: int, shape: Shape | None = None) -> ir.Table:
        """A CSV file's cells as text, numbered by their line; reshaped in the staging engine
        by ``shape`` where given, before any other engine is handed it."""

    @abstractmethod
    def stage_parquet(self, path: Path) -> ir.Table: ...

    @abstractmethod
    def stage_json_lines(self, path: Path) -> ir.Table: ...

    @abstractmethod
    def stage_arrow(self, table: pa.Table) -> ir.Table:
        """Rows a reader built (text columns with ``x_RowNumber``), staged like a file's."""

    @abstractmethod
    def json_object(self, text: ir.StringValue) -> tuple[ir.BooleanValue, ir.Value]:
        """Whether the text is a JSON object, and its members as map<string, string> (nested
        values keep their JSON text). The map is only read where the first is true."""

    def map_value(self, mapping: ir.MapValue, key: str) -> ir.StringValue:
        """The value at ``key`` (NULL when absent) of a map<string, string> column; an engine
        may have a cheaper way than Ibis's, which matters on a hundred million driver rows."""
        value: ir.StringValue = mapping[key]
        return value

    @abstractmethod
    def to_arrow(self, expr: ir.Table) -> pa.Table: ...

    @abstractmethod
    def read_parts(self, table: str, parts: list[Part]) -> ir.Table:
        """The rows of files in the Parquet store, as an Ibis table."""

    @abstractmethod
    def write_part(self, table: str, partition: Mapping[str, str | None], rows: ir.Table) -> Part:
        """Write rows of one partition to a new file of the Parquet store and name it."""

    def close(self) -> None:
        self.con.disconnect()

    def scalar(self, expr: ir.Scalar) -> Any:
        return self.con.execute(expr)

    def staged_columns(self, staged: ir.Table) -> list[str]:
        return [c for c in staged.columns if c != t.ROW_NUMBER]

    # -- the tables --------------------------------------------------------------------------
    def ensure_tables(self) -> None:
        self.tables.ensure()

    def table(self, name: str) -> ir.Table:
        return self.tables.table(name)

    def transaction(self) -> AbstractContextManager[None]:
        """Everything written inside becomes visible together, or not at all."""
        return self.tables.transaction()

    def insert(self, table: str, rows: ir.Table | pa.Table) -> None:
        """Append rows; columns are matched by name and cast to the table's declared types
        (exact decimals stay exact)."""
        schema = SCHEMAS[table]
        if isinstance(rows, pa.Table):
            # Arrow casts decimals exactly; an Ibis round trip would cost several times more
            rows = conform_arrow(rows, schema.to_pyarrow())
        else:
            rows = rows.select(*[rows[n].cast(schema[n]).name(n) for n in schema.names])
        self.tables.insert(table, rows)

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
        self.tables.delete(table, where)


def conform_arrow(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """The rows in the schema's columns and types; dictionary-encoded text stays encoded
    (every engine and Parquet take it as text, and decoding would copy it once per row)."""
    columns = []
    for field in schema:
        column = rows[field.name]
        kind = column.type
        encoded = pa.types.is_dictionary(kind) and kind.value_type == field.type
        columns.append(column if encoded else column.cast(field.type))
    fields = [
        field.with_type(column.type) if pa.types.is_dictionary(column.type) else field
        for field, column in zip(schema, columns, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def plain_arrow(rows: pa.Table) -> pa.Table:
    """The rows with dictionary-encoded columns decoded, for consumers that want plain text."""
    kinds = [
        f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in rows.schema
    ]
    return rows.cast(pa.schema(kinds))
