"""What a reader does: recognise a file, for --format auto, and stage its rows.

Each reader of apportion.ingest.registry names its stager, an object beside its format's
parsing code that satisfies ``Stager``: the native exports' ``Native``, the provider reports'
``Report``, the gateway log's and span export's readers, and the table readers below (FOCUS,
drivers, business metrics: a CSV, Parquet or JSON-lines file staged as it is, its kind told by
its columns). ``stager`` imports it on first use.

``Look`` is what auto recognises a file by, each part read at most once however many readers
look: its CSV header, its first JSON object, and, once staged as a table, its columns.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from apportion.engine.dataplane import FileError, staged_column
from apportion.ingest import registry
from apportion.ingest.files import BOM, open_text, reading_suffix
from apportion.ingest.registry import Reader
from apportion.schema.focus import canonical_name as focus_name
from apportion.tags.policy import load_policy

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from apportion.config import Config
    from apportion.engine.dataplane import DataPlane
    from apportion.ingest.litellm import KeyReader

# a pretty-printed JSON file is parsed whole to see whether it is a report only up to this size
REPORT_SNIFF_BYTES = 64 * 1024 * 1024


@dataclass
class Look:
    """What --format auto recognises a file by."""

    path: Path
    config: Config
    columns: list[str] = field(default_factory=list)  # a table file's, once staged

    @cached_property
    def header(self) -> list[str]:
        """A CSV file's header, each name stripped."""
        return [name.strip() for name in csv_headers(self.path)]

    @cached_property
    def first(self) -> dict[str, Any] | None:
        """A JSON file's first object: its first line, or the whole file when that is one
        pretty-printed document (a saved API response); None when neither parses."""
        return _first_json(self.path)


@dataclass(frozen=True)
class Staging:
    """Where a file's rows are staged, and what its reader may need to read them."""

    plane: DataPlane
    config: Config
    root: Path  # the workspace's folder

    def policy(self) -> KeyReader:
        """The tag policy, for readers that read dimensions from keys and values."""
        return load_policy(self.config, self.root)


@dataclass
class Read:
    """A file's rows as staged, before they are parsed into their table."""

    raw: ir.Table
    named: dict[str, str]  # staged column -> the file's name for it
    usage: pa.Table | None = None  # usage rows beside the file's own (as text)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def arrow(
        cls, at: Staging, table: pa.Table, *, usage: pa.Table | None = None, notes: list[str]
    ) -> Read:
        """Rows a Python reader built, staged, each column under its own name."""
        raw = at.plane.stage_arrow(table)
        return cls(raw, {c: c for c in at.plane.staged_columns(raw)}, usage, notes)


class Stager(Protocol):
    """What a reader does."""

    @property
    def reader(self) -> Reader: ...

    def recognises(self, look: Look) -> bool:
        """Whether the file is this reader's, by what its registry entry says auto looks at."""
        ...

    def stage(self, path: Path, at: Staging) -> Read: ...


@cache
def stager(reader: Reader) -> Stager:
    """The object that recognises and stages a reader's files (its module imported now)."""
    module, _, attribute = reader.stager.partition(":")
    found: Stager = getattr(import_module(module), attribute)
    if found.reader != reader:
        raise RuntimeError(f"{reader.stager} stages {found.reader.name}, not {reader.name}")
    return found


def recognised(look: Look) -> Reader | None:
    """The reader --format auto takes a file for by its CSV header or its first JSON object,
    each looked at once; None for any other file (a table file is told by its columns once
    staged: ``by_columns``). A JSON-lines file of any other kind is read no further than its
    first line."""
    suffix = reading_suffix(look.path)
    for looks in ("header", "json"):
        for reader in registry.recognisable(looks, suffix):
            if stager(reader).recognises(look):
                return reader
    return None


def by_columns(look: Look) -> Reader | None:
    """The table reader whose columns a staged file has, in registry order."""
    suffix = reading_suffix(look.path)
    found = (r for r in registry.recognisable("columns", suffix) if stager(r).recognises(look))
    return next(found, None)


@dataclass(frozen=True)
class Table:
    """A table reader: a CSV, Parquet or JSON-lines file staged as it is, column for column,
    recognised by its column names (and the workspace's configuration)."""

    reader: Reader
    recognise: Callable[[list[str], Config], bool]

    def recognises(self, look: Look) -> bool:
        return self.recognise(look.columns, look.config)

    def stage(self, path: Path, at: Staging) -> Read:
        return stage_table(path, at.plane)


def stage_table(path: Path, plane: DataPlane) -> Read:
    """A CSV, Parquet or JSON-lines file staged as it is: a CSV's columns as text, numbered
    (named by its header), the others' under their own names and types (stringified when
    parsed, so the same parsers apply; a driver file's native timestamps are kept)."""
    suffix = reading_suffix(path)
    if suffix in registry.CSV:
        headers = csv_headers(path)
        raw = plane.stage_csv(path, len(headers))
        return Read(raw, {staged_column(i): header for i, header in enumerate(headers)})
    if suffix in registry.PARQUET:
        _refuse_wide_decimals(path)
        raw = plane.stage_parquet(path)
    elif suffix in registry.JSON_LINES:
        raw = plane.stage_json_lines(path)
    else:
        raise FileError(f"{path.name}: unsupported file type {suffix!r} (csv, parquet, jsonl)")
    return Read(raw, {c: c for c in plane.staged_columns(raw)})


def csv_headers(path: Path) -> list[str]:
    """A CSV file's header as written (a byte-order mark dropped); the file is refused when it
    has none or cannot be read."""
    try:
        with open_text(path) as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as exc:
        raise FileError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise FileError(f"{path.name}: the header line cannot be read ({exc})") from exc
    except (OSError, EOFError) as exc:  # a gzip file cut short or not gzip after all
        raise FileError(f"{path.name}: not a readable gzip file ({exc})") from exc
    if not header or not any(cell.strip() for cell in header):
        raise FileError(f"{path.name}: empty file or empty header line")
    # a file saved twice through a BOM-adding editor starts with two: the second would make
    # BilledCost an unknown column and every row load with no cost
    header[0] = header[0].lstrip(BOM)
    return header


def refuse_repeated(header: list[str], file_name: str) -> None:
    """A header that names a column twice is refused: which copy owns the cost is a guess."""
    twice = sorted({name for name in header if name and header.count(name) > 1})
    if twice:
        raise FileError(f"{file_name}: column {twice[0]!r} appears twice")


def _first_json(path: Path) -> dict[str, Any] | None:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            line = next((line for line in handle if line.strip()), "")
        document = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        if path.stat().st_size > REPORT_SNIFF_BYTES:
            return None
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
    if isinstance(document, list):
        document = document[0] if document else None
    return document if isinstance(document, dict) else None


def _refuse_wide_decimals(path: Path) -> None:
    """A Parquet decimal of more than 38 digits is read by the engines as DOUBLE, and its
    amounts come out scaled wrong (by 2^24 on DuckDB), silently: such a file is refused, and
    so is one with a column named twice."""
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError):
        return  # not readable Parquet: staging says so, in its own words
    # the engine renames a second copy (BilledCost_1), which would load as an extension
    # column while the first copy counts: refused as the CSV readers refuse it
    names = [focus_name(name) or name.strip() for name in schema.names]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise FileError(f"{path.name}: column {twice[0]} appears twice")
    for field_ in schema:
        wide = _wide_decimal(field_.type)
        if wide is not None:
            raise FileError(
                f"{path.name}: column {field_.name!r} is {wide}, more digits than an engine "
                "keeps exactly (38); write it as decimal(38, 18) or as text"
            )


def _wide_decimal(kind: pa.DataType) -> str | None:
    if pa.types.is_decimal(kind) and kind.precision > 38:
        return f"decimal({kind.precision}, {kind.scale})"
    children = [kind.field(i).type for i in range(kind.num_fields)] if kind.num_fields else []
    return next((found for c in children if (found := _wide_decimal(c)) is not None), None)
