"""The embedded data plane: a DuckDB file reached through Ibis.

Everything that is specific to DuckDB lives here (reading raw files, transactions). Callers get
Ibis tables and hand back Ibis expressions or Arrow tables, so the allocation logic stays
portable to the other Ibis backends.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apportion.engine.tables import SCHEMAS
from apportion.schema import tables as t


class FileError(ValueError):
    """A whole input file is unusable; nothing from it was stored."""


def staged_column(index: int) -> str:
    """Staged raw columns are positional (c0, c1, ...) so no header text from a file ever
    reaches SQL as an identifier."""
    return f"c{index}"


class DataPlane:
    def __init__(
        self,
        path: Path | str,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.path = str(path)
        self.con: Any = ibis.duckdb.connect(self.path)
        # timestamps are stored as naive UTC; conversions must not depend on the host's zone
        self._raw("SET TimeZone = 'UTC'")
        if memory_limit:
            self._set("memory_limit", memory_limit)
        if threads:
            self._set("threads", str(threads))

    def _set(self, option: str, value: str) -> None:
        # option names are ours; the value is bound as a parameter
        self._raw(f"SET {option} = ?", [value])

    def _raw(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        return self.con.con.execute(sql, params) if params else self.con.con.execute(sql)

    def close(self) -> None:
        self.con.disconnect()

    # -- tables ------------------------------------------------------------------------------
    def ensure_tables(self) -> None:
        existing = set(self.con.list_tables())
        for name, schema in SCHEMAS.items():
            if name not in existing:
                self.con.create_table(name, schema=schema)

    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    def to_arrow(self, expr: ir.Expr) -> pa.Table:
        return self.con.to_pyarrow(expr)

    def scalar(self, expr: ir.Scalar) -> Any:
        return self.con.execute(expr)

    def materialise(self, expr: ir.Table) -> ir.Table:
        """Compute an expression once into a temporary table, for steps that read it twice."""
        return self.con.create_table(f"tmp_{uuid.uuid4().hex[:16]}", expr, temp=True)

    # -- staging raw files -------------------------------------------------------------------
    def stage_csv(self, path: Path, columns: int) -> ir.Table:
        """All cells as text, with the file line number of each data row. A row with the wrong
        number of fields (a truncated or malformed file) fails the whole file."""
        name = self._stage_name()
        spec = {staged_column(i): "VARCHAR" for i in range(columns)}
        try:
            self._raw(
                f"CREATE TEMP TABLE {name} AS SELECT * FROM read_csv(?, auto_detect=false, "  # noqa: S608 - generated name, bound values
                "header=true, delim=',', quote='\"', escape='\"', strict_mode=true, "
                "columns=?)",
                [str(path), spec],
            )
        except Exception as exc:  # duckdb raises several classes; the message is what matters
            raise FileError(_csv_error(path, exc)) from exc
        return self._numbered(name, header_lines=1)

    def stage_parquet(self, path: Path) -> ir.Table:
        """A view over the file, not a copy: Parquet is columnar already, and a large file must
        not be held twice. file_row_number, not rowid: a file may have a column called rowid."""
        try:
            scan = self.con.read_parquet(path, table_name=self._stage_name(), file_row_number=True)
            staged = scan.select(
                (scan.file_row_number + 1).cast("int64").name(t.ROW_NUMBER),
                *[scan[c] for c in scan.columns if c != "file_row_number"],
            )
            self.con.execute(staged.limit(0))  # a bad file fails here, not mid-load
        except Exception as exc:
            raise FileError(
                f"{path.name}: not a readable Parquet file ({_first_line(exc)})"
            ) from exc
        return staged

    def stage_json_lines(self, path: Path) -> ir.Table:
        """Every field as the text it was written with: the engine's JSON reader turns numbers
        into floating point, which would round money and quantities."""
        table = json_lines_as_text(path)
        name = self._stage_name()
        self.con.con.register(f"{name}_arrow", table)
        self._raw(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")  # noqa: S608
        self.con.con.unregister(f"{name}_arrow")
        return self.con.table(name)

    def _numbered(self, name: str, header_lines: int) -> ir.Table:
        # rowid is the insertion order of the staged table, i.e. the order in the file
        view = f"{name}_n"
        self._raw(
            f"CREATE TEMP VIEW {view} AS SELECT CAST(rowid + {1 + header_lines} AS BIGINT) "  # noqa: S608 - generated names
            f"AS {t.ROW_NUMBER}, * FROM {name}"
        )
        return self.con.table(view)

    def staged_columns(self, staged: ir.Table) -> list[str]:
        return [c for c in staged.columns if c != t.ROW_NUMBER]

    @staticmethod
    def _stage_name() -> str:
        return f"stage_{uuid.uuid4().hex[:12]}"

    # -- writing -----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._raw("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._raw("ROLLBACK")
            raise
        self._raw("COMMIT")

    def insert(self, table: str, rows: ir.Table | pa.Table) -> None:
        """Append rows; the caller owns the transaction. Columns are matched by name and cast
        to the table's declared types (exact decimals stay exact)."""
        schema = SCHEMAS[table]
        if isinstance(rows, pa.Table):
            # Arrow data goes to the engine directly, cast by Arrow to the declared types
            # (exact for decimals; an Ibis memtable round trip costs several times more)
            rows = rows.select(schema.names).cast(schema.to_pyarrow())
            view = f"arrow_{uuid.uuid4().hex[:12]}"
            self.con.con.register(view, rows)
            try:
                self._raw(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")  # noqa: S608
            finally:
                self.con.con.unregister(view)
            return
        rows = rows.select(*[rows[name].cast(schema[name]) for name in schema.names])
        self.con.insert(table, rows)

    def delete(self, table: str, where: Mapping[str, Any]) -> None:
        """Delete rows whose columns equal the given values (lists mean IN). Column names are
        ours (from the schema module); values are bound parameters."""
        if table not in SCHEMAS:
            raise KeyError(f"no data-plane table {table}")
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in where.items():
            if column not in SCHEMAS[table].names:
                raise KeyError(f"{table} has no column {column}")
            if value is None:
                clauses.append(f'"{column}" IS NULL')
            elif isinstance(value, list | tuple | set | frozenset):
                values = list(value)
                if not values:
                    return
                clauses.append(f'"{column}" IN ({", ".join("?" * len(values))})')
                params.extend(values)
            else:
                clauses.append(f'"{column}" = ?')
                params.append(value)
        # table and column names were checked against our schemas above; values are bound
        sql = f"DELETE FROM {table} WHERE {' AND '.join(clauses) or 'true'}"  # noqa: S608
        self._raw(sql, params)


def json_lines_as_text(path: Path) -> pa.Table:
    """A JSON-lines file as a table of text columns (numbers keep their written digits, nested
    values stay JSON), with the line number of each record."""
    rows: list[dict[str, str | None]] = []
    lines: list[int] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                record = json.loads(line, parse_float=str, parse_int=str)
                if not isinstance(record, dict):
                    raise FileError(f"{path.name}: line {number} is not a JSON object")
                rows.append({key: _json_text(value) for key, value in record.items()})
                lines.append(number)
    except UnicodeDecodeError as exc:
        raise FileError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise FileError(f"{path.name}: line {exc.lineno} is not valid JSON ({exc.msg})") from exc
    columns = list(dict.fromkeys(key for row in rows for key in row))
    if not columns:
        raise FileError(f"{path.name}: no JSON records")
    return pa.table(
        {
            t.ROW_NUMBER: pa.array(lines, pa.int64()),
            **{c: pa.array([row.get(c) for row in rows], pa.string()) for c in columns},
        }
    )


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _csv_error(path: Path, exc: BaseException) -> str:
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    found = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if line and found:
        return (
            f"{path.name}: line {line.group(1)} has {found.group(2)} fields where the header "
            f"has {found.group(1)}; the file looks truncated or malformed"
        )
    if line:
        return f"{path.name}: line {line.group(1)} cannot be read ({_first_line(exc)})"
    return f"{path.name}: not a readable CSV file ({_first_line(exc)})"
