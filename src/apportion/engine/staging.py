"""Raw files to staged text tables, with the file line of every row, read by an embedded DuckDB.

Every engine stages through here: the strict CSV reader gives one clear error for a malformed
file, and cells stay text so the parsers (ingest/values.py) see what the file said. The DuckDB
engine reads the staged table where it is; another engine is handed it as Parquet.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apportion.errors import UsageError
from apportion.schema import tables as t

GZIP_MAGIC = b"\x1f\x8b"
# the longest CSV line (a record, quoted line breaks included) any reader takes: DuckDB's own
# default, and the Python readers' field limit, so a file one reader takes none refuses
MAX_LINE_BYTES = 2 * 1024 * 1024
# a reader's reshaping of a staged file: its staged table, and how to stage a small table
# beside it (a lookup to join), in; the table it stages out
Shape = Callable[[ir.Table, Callable[[pa.Table], ir.Table]], ir.Table]


class FileError(UsageError):
    """A whole input file is unusable; nothing from it was stored."""


def staged_column(index: int) -> str:
    """Staged raw columns are positional (c0, c1, ...) so no header text from a file ever
    reaches SQL as an identifier."""
    return f"c{index}"


def stage_name() -> str:
    return f"stage_{uuid.uuid4().hex[:12]}"


def gzipped(path: Path) -> bool:
    """Whether a file is gzip-compressed (how AWS delivers the CUR), by its magic bytes, not
    its name: a `.csv` saved from a gzip download is still gzip."""
    try:
        with path.open("rb") as handle:
            return handle.read(2) == GZIP_MAGIC
    except OSError:
        return False


def stage_csv(con: duckdb.DuckDBPyConnection, path: Path, columns: int) -> str:
    """All cells as text in a temporary view named by the result, with the file line number of
    each data row. A row with the wrong number of fields (a truncated or malformed file) fails
    the whole file."""
    name = stage_name()
    spec = {staged_column(i): "VARCHAR" for i in range(columns)}
    compression = "gzip" if gzipped(path) else "none"
    try:
        con.execute(
            f"CREATE TEMP TABLE {name} AS SELECT * FROM read_csv(?, auto_detect=false, "  # noqa: S608 - generated name, bound values
            "header=true, delim=',', quote='\"', escape='\"', strict_mode=true, "
            "columns=?, compression=?, max_line_size=?)",
            [str(path), spec, compression, MAX_LINE_BYTES],
        )
    except duckdb.Error as exc:
        raise FileError(_csv_error(path, exc)) from exc
    # rowid is the insertion order of the staged table, i.e. the order in the file; the
    # header is line 1. A quoted value may hold line breaks: each one moves every later row
    # down a line, so they are counted (only where the file has any: a window costs a sort)
    cells = [staged_column(i) for i in range(columns)]
    found = " OR ".join(f"contains({c}, chr(10)) OR contains({c}, chr(13))" for c in cells)
    spans = con.execute(f"SELECT bool_or({found}) FROM {name}").fetchone()  # noqa: S608
    line = "rowid + 2"
    if spans and spans[0]:
        breaks = " + ".join(_line_breaks(c) for c in cells)
        earlier = "ORDER BY rowid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
        line += f" + COALESCE(SUM({breaks}) OVER ({earlier}), 0)"
    con.execute(
        f"CREATE TEMP VIEW {name}_n AS SELECT CAST({line} AS BIGINT) "  # noqa: S608 - generated names
        f"AS {t.ROW_NUMBER}, * FROM {name}"
    )
    return f"{name}_n"


def _line_breaks(column: str) -> str:
    """SQL counting the line breaks in a cell: CRLF, CR or LF each count once, as in the file."""
    folded = (
        f"replace(replace(coalesce({column}, ''), chr(13) || chr(10), chr(10)), chr(13), chr(10))"
    )
    return f"(length({folded}) - length(replace({folded}, chr(10), '')))"


def stage_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    """A view over the file, not a copy: Parquet is columnar already, and a large file must not
    be held twice. file_row_number, not rowid: a file may have a column called rowid."""
    name = stage_name()
    try:
        scan = con.read_parquet(str(path), file_row_number=True)
        scan.project(
            f"CAST(file_row_number + 1 AS BIGINT) AS {t.ROW_NUMBER}, * EXCLUDE (file_row_number)"
        ).create_view(name)
        con.execute(f"SELECT * FROM {name} LIMIT 0")  # noqa: S608 - a bad file fails here
    except duckdb.Error as exc:
        raise FileError(f"{path.name}: not a readable Parquet file ({first_line(exc)})") from exc
    return name


def stage_json_lines(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    """Every field as the text it was written with: the engine's JSON reader turns numbers
    into floating point, which would round money and quantities."""
    return stage_arrow(con, json_lines_as_text(path))


def stage_arrow(con: duckdb.DuckDBPyConnection, table: pa.Table) -> str:
    """Rows a reader built in Python (text columns and their row numbers), as a staged table."""
    name = stage_name()
    con.register(f"{name}_arrow", table)
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")  # noqa: S608
    con.unregister(f"{name}_arrow")
    return name


# Exact arithmetic for the readers that compute a line's cost from its export's columns
# (apportion.engine.functions declares them to Ibis). DECIMAL(38, 18) x DECIMAL(38, 18) is
# DECIMAL(38, 36) in DuckDB, which overflows at 100: a product is taken in 128-bit integers,
# whole and fractional parts apart (a = A + a'/10^18), and its one inexact term, a' x b',
# rounded half to even to 18 places (the parity is the whole result's).
#
# Three things measured shape them. A macro's argument is written out wherever the macro uses
# it, and planning a product of nested macros took over a second: each step is called on the
# columns the step before made (apportion.engine.functions.with_exact_products). DuckDB
# shares a repeated subexpression only outside a CASE (inside one, the product took 8x as
# long), so none has a CASE. TRY does not catch an error raised under a CASE, so nothing
# here relies on it: operands whose product would overflow the integers are zeroed first
# (``kept``), and the product of those is NULL.
_SCALE = "1000000000000000000"  # 10^18
_ABOVE = "100000000000000000000"  # 10^20: no DECIMAL(38, 18) holds it
EXACT_MACROS = (
    "CREATE OR REPLACE TEMP MACRO apportion_whole(x) AS CAST(trunc(abs(x)) AS HUGEINT)",
    "CREATE OR REPLACE TEMP MACRO apportion_part(x) AS "
    f"CAST((abs(x) - trunc(abs(x))) * {_SCALE} AS HUGEINT)",
    # w + f / 10^18 rounded half to even, for w, f >= 0
    "CREATE OR REPLACE TEMP MACRO apportion_half_even(w, f) AS "
    f"w + f // {_SCALE} + CAST((f % {_SCALE}) * 2 > {_SCALE} "
    f"OR ((f % {_SCALE}) * 2 = {_SCALE} AND (w + f // {_SCALE}) % 2 = 1) AS INTEGER)",
    # |a x b| x 10^18, for a and b DECIMAL(38, 18) whose product is below 10^20
    "CREATE OR REPLACE TEMP MACRO apportion_scaled_product(a, b) AS apportion_half_even("
    f"apportion_whole(a) * apportion_whole(b) * {_SCALE} "
    "+ apportion_whole(a) * apportion_part(b) + apportion_part(a) * apportion_whole(b), "
    "apportion_part(a) * apportion_part(b))",
    "CREATE OR REPLACE TEMP MACRO apportion_scaled_text(negative, r) AS "
    "repeat('-', CAST(negative AND r > 0 AS INTEGER)) "
    f"|| CAST(r // {_SCALE} AS VARCHAR) || '.' || lpad(CAST(r % {_SCALE} AS VARCHAR), 18, '0')",
    "CREATE OR REPLACE TEMP MACRO apportion_digits(x) AS "
    "length(CAST(apportion_whole(x) AS VARCHAR))",
    "CREATE OR REPLACE TEMP MACRO apportion_kept(x, keep) AS x * CAST(keep AS INTEGER)",
    # whole parts of 21 digits between them multiply below 10^21, which 128 bits hold
    "CREATE OR REPLACE TEMP MACRO apportion_fits(a, b) AS "
    f"apportion_whole(a) * apportion_whole(b) < {_ABOVE}",
    # the product's text where it fits, else NULL (its text cut to nothing, then NULLIF)
    "CREATE OR REPLACE TEMP MACRO apportion_product_text(a, b, fits) AS nullif(left("
    "apportion_scaled_text((a < 0) != (b < 0), apportion_scaled_product(a, b)), "
    "64 * CAST(fits AS INTEGER)), '')",
    # a + b where each is below half of 10^20 (so the sum cannot overflow), else NULL
    "CREATE OR REPLACE TEMP MACRO apportion_guarded_sum(a, b, small) AS "
    "(apportion_kept(a, small) + apportion_kept(b, small)) * nullif(CAST(small AS INTEGER), 0)",
    "CREATE OR REPLACE TEMP MACRO apportion_exact_sum(a, b) AS apportion_guarded_sum("
    "CAST(a AS DECIMAL(38, 18)), CAST(b AS DECIMAL(38, 18)), "
    "abs(a) < 50000000000000000000 AND abs(b) < 50000000000000000000)",
)


def shaped(con: duckdb.DuckDBPyConnection, staged: str, shape: Shape) -> str:
    """A staged file reshaped by a reader (a native export's columns mapped to FOCUS, as Ibis
    over the staged table), as a temporary view in the staging engine named by the result.
    The reader may query the staged table while it builds the expression (its distinct
    units, say) and stage small tables beside it to join; the exact-arithmetic macros are
    there for it."""
    for macro in EXACT_MACROS:
        con.execute(macro)
    backend = ibis.duckdb.from_connection(con)

    def beside(rows: pa.Table) -> ir.Table:
        return backend.table(stage_arrow(con, rows))

    name = f"{staged}_shaped"
    sql = backend.compile(shape(backend.table(staged), beside))
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")  # compiled by Ibis
    return name


def drop(con: duckdb.DuckDBPyConnection, staged: str) -> None:
    """Free a staged file's copy (the view, and the table under it where there is one)."""
    for statement in (
        f"DROP VIEW IF EXISTS {staged}",
        f"DROP TABLE IF EXISTS {staged}",
        f"DROP TABLE IF EXISTS {staged.removesuffix('_n')}",
    ):
        with contextlib.suppress(duckdb.CatalogException):  # the other kind of object
            con.execute(statement)


def json_lines_as_text(path: Path) -> pa.Table:
    """A JSON-lines file as a table of text columns (numbers keep their written digits, nested
    values stay JSON), with the line number of each record."""
    rows: list[dict[str, str | None]] = []
    lines: list[int] = []
    try:
        # utf-8-sig: a byte-order mark (what Windows editors write) is not part of the JSON
        with path.open(encoding="utf-8-sig") as handle:
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


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _cause(text: str) -> str:
    """DuckDB's reason in its CSV error, which comes after the line it quotes."""
    lines = [line.strip() for line in text.splitlines()]
    reasons = [
        line
        for line in lines[1:]
        if line and not line.startswith(("Original Line:", "Possible fixes", "*", "file ="))
    ]
    return reasons[0] if reasons else lines[0]


def _csv_error(path: Path, exc: BaseException) -> str:
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    found = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if line and found:
        return (
            f"{path.name}: line {line.group(1)} has {found.group(2)} fields where the header "
            f"has {found.group(1)}; the file looks truncated or malformed"
        )
    if line and "unterminated quote" in text:
        return (
            f"{path.name}: line {line.group(1)} opens a quoted value that never ends; the file "
            "looks truncated or malformed"
        )
    if line and "Maximum line size" in text:
        return (
            f"{path.name}: line {line.group(1)} is longer than {MAX_LINE_BYTES:,} bytes, the "
            "most a CSV line may hold"
        )
    if line:
        return f"{path.name}: line {line.group(1)} cannot be read ({_cause(text)})"
    return f"{path.name}: not a readable CSV file ({first_line(exc)})"
