"""Data-plane tables kept in a :class:`ParquetStore`, read and written by any engine.

Reads go through the engine (its Parquet reader); writes of Ibis expressions go through the
engine too (so a cluster writes in parallel), and Arrow tables are written by Arrow itself.
Every change happens in a store transaction: new files first, then one manifest swap.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from apportion.engine.dataplane import Tables, Where
from apportion.engine.store import ParquetStore, Part, partition_columns
from apportion.engine.tables import SCHEMAS

if TYPE_CHECKING:
    from apportion.engine.dataplane import DataPlane


class StoredTables(Tables):
    def __init__(self, store: ParquetStore, engine: DataPlane) -> None:
        self.store = store
        self.engine = engine

    def ensure(self) -> None:
        pass  # a table with no files reads as empty

    def table(self, name: str) -> ir.Table:
        self.store.refresh()  # another process (another engine) may have committed since
        parts = self.store.parts(name)
        if not parts:
            return ibis.memtable(SCHEMAS[name].to_pyarrow().empty_table())
        return _conform(self.engine.read_parts(name, parts), name)

    def transaction(self) -> AbstractContextManager[None]:
        return self.store.transaction()

    def insert(self, table: str, rows: ir.Table | pa.Table) -> None:
        with self.store.transaction():
            if isinstance(rows, pa.Table):
                self._insert_arrow(table, rows)
                return
            keys = partition_columns(table)
            partitions = self.engine.to_arrow(rows.select(*keys).distinct()).to_pylist()
            for partition in partitions:
                one = rows if len(partitions) == 1 else rows.filter(_predicate(rows, partition))
                self.store.add(self.engine.write_part(table, partition, one))

    def _insert_arrow(self, table: str, rows: pa.Table) -> None:
        if not rows.num_rows:
            return
        keys = partition_columns(table)
        for partition in rows.select(keys).group_by(keys).aggregate([]).to_pylist():
            _, part = self.store.new_part(table, partition)
            with self.store.fs.open_output_stream(f"{self.store.root}/{part.path}") as stream:
                pq.write_table(rows.filter(_arrow_mask(rows, partition)), stream)
            self.store.add(part)

    def delete(self, table: str, where: Where) -> None:
        """Whole files go where the partition columns decide; a delete by other columns
        rewrites the files it touches without the deleted rows."""
        keys = partition_columns(table)
        rest = {c: v for c, v in where.items() if c not in keys}
        with self.store.transaction():
            doomed: list[Part] = []
            for part in self.store.parts(table):
                if not all(_matches(part.value(k), where[k]) for k in keys if k in where):
                    continue
                if rest:
                    stored = _conform(self.engine.read_parts(table, [part]), table)
                    hit = _predicate(stored, rest)
                    if not self.engine.scalar(stored.filter(hit).count()):
                        continue
                    kept = stored.filter(~hit)
                    if self.engine.scalar(kept.count()):
                        written = self.engine.write_part(table, dict(part.partition), kept)
                        self.store.add(written)
                doomed.append(part)
            self.store.remove(doomed)


def _conform(stored: ir.Table, table: str) -> ir.Table:
    """Stored files as the declared schema: another engine may have written a timestamp with
    a zone or a narrower type, and files written before a column was added lack it."""
    return stored.select(*[_column(stored, name, kind) for name, kind in SCHEMAS[table].items()])


def _column(stored: ir.Table, name: str, kind: Any) -> ir.Value:
    if name not in stored.columns:
        return ibis.null(kind).name(name)  # a column added after these files were written
    return stored[name] if stored[name].type() == kind else _cast(stored[name], kind)


def _cast(column: ir.Value, kind: Any) -> ir.Value:
    current = column.type()
    if current.is_timestamp() and current.timezone and kind.is_timestamp():
        return column.cast("timestamp('UTC')").cast(kind).name(column.get_name())
    return column.cast(kind).name(column.get_name())


def _matches(stored: str | None, wanted: Any) -> bool:
    if wanted is None:
        return stored is None
    if isinstance(wanted, list | tuple | set | frozenset):
        return stored is not None and stored in set(wanted)  # as SQL: IN never matches NULL
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


def _arrow_mask(rows: pa.Table, partition: Mapping[str, Any]) -> pa.ChunkedArray:
    mask: Any = None
    for column, value in partition.items():
        test = pc.is_null(rows[column]) if value is None else pc.equal(rows[column], value)
        test = pc.fill_null(test, False)
        mask = test if mask is None else pc.and_(mask, test)
    return mask
