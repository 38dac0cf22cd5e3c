"""Data-plane tables as Parquet files partitioned by billing period and source, in a folder or
an object store, readable by any engine.

Layout (Hive style, so other tools can browse it; partition columns are also kept inside the
files, so a reader needs no path parsing)::

    <root>/cost_lines/x_BillingPeriod=2026-01/x_Source=aws/part-<uuid>.parquet
    <root>/_apportion_manifest.json

The manifest names every live file. A change (an ingest, an allocation run) writes new files
first and then replaces the manifest in one step, so a crash at any point leaves the last
committed state readable, and a reader never sees half a partition. Files that a commit
superseded stay listed as retired for an hour, for readers still scanning an older version,
and a later commit removes them. Commits on a local store take a lock file; on an object store
one writer at a time is the rule.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow.fs as pafs

from apportion.engine.tables import SCHEMAS
from apportion.errors import BusyError, UsageError, WorkError
from apportion.schema import tables as t

MANIFEST = "_apportion_manifest.json"
LOCK = "_apportion_manifest.lock"
# superseded files stay this long, so a reader still scanning an older version can finish
RETAIN_SECONDS = 3600.0
LOCK_WAIT_SECONDS = 30.0
STALE_LOCK_SECONDS = 600.0
FORMAT_VERSION = 1
# the columns a table is partitioned by, where it has them, in path order
PARTITION_COLUMNS = (t.BILLING_PERIOD, t.SOURCE)


def partition_columns(table: str) -> list[str]:
    return [c for c in PARTITION_COLUMNS if c in SCHEMAS[table].names]


@dataclass(frozen=True)
class Part:
    """One Parquet file of one table, and the partition it holds."""

    table: str
    path: str  # relative to the store's root, with '/'; a file, or a folder of part files
    partition: tuple[tuple[str, str | None], ...]

    def value(self, column: str) -> str | None:
        return dict(self.partition)[column]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "partition": dict(self.partition)}


@dataclass
class _State:
    version: int = 0
    parts: dict[str, list[Part]] = field(default_factory=dict)
    # files no longer live, with when they left: kept a while for readers still scanning them
    retired: list[tuple[str, float]] = field(default_factory=list)

    def copy(self) -> _State:
        parts = {name: list(parts) for name, parts in self.parts.items()}
        return _State(self.version, parts, list(self.retired))

    def live(self) -> set[str]:
        return {p.path for parts in self.parts.values() for p in parts}


class StoreError(WorkError):
    """The store changed under a commit, or its manifest is unreadable."""


class EngineBusyError(BusyError):
    """Another process holds the engine's database (DuckDB lets one process open its file):
    running again once it is done may succeed."""


class StorageError(UsageError):
    """The configured storage cannot serve this workspace: an unusable location, or a store
    that does not hold the workspace's data."""


class ParquetStore:
    """The manifest and file layout; engines read and write the files themselves."""

    def __init__(self, location: str) -> None:
        self.location = location.rstrip("/")
        if "://" in self.location:
            try:
                self.fs, root = pafs.FileSystem.from_uri(self.location)
            except (ValueError, TypeError, OSError) as exc:
                raise StorageError(
                    f"engine.storage {self.location!r} cannot be opened ({exc}); use a folder "
                    "or a URL that pyarrow knows (file://, s3://, gs://, hdfs://)"
                ) from exc
        else:
            self.fs, root = pafs.LocalFileSystem(), self.location
        self.root = root.rstrip("/")
        self._local = isinstance(self.fs, pafs.LocalFileSystem)
        self.fs.create_dir(self.root, recursive=True)
        self._committed = self._read_manifest()
        # the version this process's reads started from: a commit over any other is refused
        self._base = self._committed.version
        self._pending: _State | None = None
        self._written: list[str] = []  # files written in the open transaction

    # -- reading -----------------------------------------------------------------------------
    @property
    def _state(self) -> _State:
        return self._pending if self._pending is not None else self._committed

    @property
    def version(self) -> int:
        return self._state.version

    def parts(self, table: str) -> list[Part]:
        return list(self._state.parts.get(table, []))

    def uri(self, part_path: str) -> str:
        """Where an engine finds a file: a local path, or the store's URL scheme."""
        if self._local:
            return f"{self.root}/{part_path}"
        return f"{self.location}/{part_path}"

    def refresh(self) -> None:
        """Pick up commits made by another process (another engine on the same store). What
        this process writes next is still checked against the version it first read."""
        if self._pending is None:
            self._committed = self._read_manifest()

    # -- writing -----------------------------------------------------------------------------
    def new_part(
        self, table: str, partition: Mapping[str, str | None], *, folder: bool = False
    ) -> tuple[str, Part]:
        """A fresh name in the partition's folder for an engine to write to: one Parquet file,
        or a folder of them (a distributed engine writes one file per task)."""
        if self._pending is None:
            raise StoreError("the store is written only inside a transaction")
        folders = [f"{c}={_folder_value(partition[c])}" for c in partition_columns(table)]
        name = f"part-{uuid.uuid4().hex}" + ("" if folder else ".parquet")
        relative = "/".join([table, *folders, name])
        self.fs.create_dir(f"{self.root}/{relative.rsplit('/', 1)[0]}", recursive=True)
        self._written.append(relative)
        key = tuple((c, partition[c]) for c in partition_columns(table))
        return self.uri(relative), Part(table, relative, key)

    def add(self, part: Part) -> None:
        with self.transaction():
            assert self._pending is not None
            self._pending.parts.setdefault(part.table, []).append(part)

    def remove(self, parts: list[Part]) -> None:
        with self.transaction():
            assert self._pending is not None
            for part in parts:
                self._pending.parts[part.table].remove(part)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Changes inside are seen by this process at once and by others at the commit."""
        if self._pending is not None:  # nested: the outer transaction commits
            yield
            return
        self._pending = self._committed.copy()
        self._written = []
        try:
            yield
        except BaseException:
            self._pending = None
            self._discard(self._written)
            raise
        state, self._pending = self._pending, None
        self._commit(state)

    def _commit(self, state: _State) -> None:
        with self._commit_lock():
            current = self._read_manifest()
            if current.version != self._base:
                read = self._base
                self._discard(self._written)
                self._committed, self._base = current, current.version
                raise StoreError(
                    f"{self.location} was changed by another process while this one worked "
                    f"(now version {current.version}, read at {read}); nothing was written: "
                    "run the command again"
                )
            now = time.time()
            live = state.live()
            # files this transaction wrote and replaced itself were never visible: go now
            self._discard([path for path in self._written if path not in live])
            gone = self._committed.live() - live
            state.retired += [(path, now) for path in sorted(gone)]
            expired = [path for path, when in state.retired if now - when > RETAIN_SECONDS]
            state.retired = [(p, when) for p, when in state.retired if now - when <= RETAIN_SECONDS]
            state.version = current.version + 1
            self._write_manifest(state)
            self._committed, self._base = state, state.version
        self._discard(expired)

    @contextmanager
    def _commit_lock(self) -> Iterator[None]:
        """One committer at a time on a local store (an exclusive lock file); on an object
        store there is no such primitive here, so one writer at a time is the rule."""
        if not self._local:
            yield
            return
        lock = Path(self.root) / LOCK
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                break
            except FileExistsError:
                with contextlib.suppress(FileNotFoundError):
                    if time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS:
                        lock.unlink()  # left by a process that died mid-commit
                        continue
                if time.monotonic() > deadline:
                    raise StoreError(f"{lock} is held by another commit; try again") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            os.close(handle)
            lock.unlink()

    def _discard(self, paths: list[str]) -> None:
        for path in paths:
            try:
                info = self.fs.get_file_info(f"{self.root}/{path}")
                if info.type == pafs.FileType.Directory:
                    self.fs.delete_dir(f"{self.root}/{path}")
                elif info.type == pafs.FileType.File:
                    self.fs.delete_file(f"{self.root}/{path}")
            except OSError:
                pass  # an orphan file is harmless: only the manifest says what is live

    # -- the manifest ------------------------------------------------------------------------
    def _read_manifest(self) -> _State:
        path = f"{self.root}/{MANIFEST}"
        if self.fs.get_file_info(path).type != pafs.FileType.File:
            return _State()
        with self.fs.open_input_stream(path) as stream:
            document = json.loads(stream.read().decode("utf-8"))
        if document.get("format") != FORMAT_VERSION:
            raise StoreError(f"{path}: unknown manifest format {document.get('format')!r}")
        parts = {
            table: [
                Part(table, entry["path"], tuple(entry["partition"].items())) for entry in entries
            ]
            for table, entries in document["tables"].items()
        }
        retired = [(entry["path"], float(entry["at"])) for entry in document.get("retired", [])]
        return _State(int(document["version"]), parts, retired)

    def _write_manifest(self, state: _State) -> None:
        document = {
            "format": FORMAT_VERSION,
            "version": state.version,
            "tables": {
                table: [part.to_json() for part in parts]
                for table, parts in sorted(state.parts.items())
            },
            "retired": [{"path": path, "at": when} for path, when in state.retired],
        }
        data = json.dumps(document, indent=1).encode("utf-8")
        target = f"{self.root}/{MANIFEST}"
        if not self._local:  # an object store replaces an object in one step
            with self.fs.open_output_stream(target) as stream:
                stream.write(data)
            return
        scratch = f"{target}.{uuid.uuid4().hex}.tmp"
        with self.fs.open_output_stream(scratch) as stream:
            stream.write(data)
        self.fs.move(scratch, target)  # rename: atomic on one file system


def _folder_value(value: str | None) -> str:
    # Hive's marker for a null partition value; other values are percent-encoded so a source
    # name can never step out of its folder
    return "__HIVE_DEFAULT_PARTITION__" if value is None else quote(value, safe="")
