"""The Parquet store: atomic commits, crash safety, and one store shared by both engines."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apportion.allocate import Period
from apportion.engine.store import MANIFEST, ParquetStore, StorageError, StoreError
from apportion.ledger.grain import StatementLine, statements
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import (
    GPU_RULES,
    allocate,
    billed_by,
    ingest,
    make_workspace,
    write_drivers,
    write_focus,
)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.parquet")}


def _write(store: ParquetStore, table: str, period: str, source: str) -> None:
    _, part = store.new_part(table, {t.BILLING_PERIOD: period, t.SOURCE: source})
    with store.fs.open_output_stream(f"{store.root}/{part.path}") as stream:
        pq.write_table(pa.table({"x": [1]}), stream)
    store.add(part)


def test_a_failed_transaction_changes_nothing_and_leaves_no_files(tmp_path: Path) -> None:
    store = ParquetStore(str(tmp_path))
    with store.transaction():
        _write(store, t.COST_LINES, "2026-10", "aws")
    kept = _files(tmp_path)
    manifest = (tmp_path / MANIFEST).read_text()

    with pytest.raises(RuntimeError, match="boom"), store.transaction():
        _write(store, t.COST_LINES, "2026-11", "aws")
        store.remove(store.parts(t.COST_LINES)[:1])
        assert len(store.parts(t.COST_LINES)) == 1  # this process sees its own changes
        raise RuntimeError("boom")

    assert (tmp_path / MANIFEST).read_text() == manifest
    assert _files(tmp_path) == kept
    assert [p.value(t.BILLING_PERIOD) for p in ParquetStore(str(tmp_path)).parts(t.COST_LINES)] == [
        "2026-10"
    ]


def test_a_crash_before_the_manifest_is_replaced_leaves_the_last_commit(tmp_path: Path) -> None:
    store = ParquetStore(str(tmp_path))
    with store.transaction():
        _write(store, t.COST_LINES, "2026-10", "aws")
    # a process that dies after writing its files but before its commit
    crashed = ParquetStore(str(tmp_path))
    crashed._pending = crashed._committed.copy()
    _write(crashed, t.COST_LINES, "2026-10", "aws")

    reader = ParquetStore(str(tmp_path))
    assert len(reader.parts(t.COST_LINES)) == 1
    assert len(_files(tmp_path)) == 2  # the orphan is on disk but not live


def test_a_commit_over_a_newer_manifest_is_refused(tmp_path: Path) -> None:
    first, second = ParquetStore(str(tmp_path)), ParquetStore(str(tmp_path))
    with first.transaction():
        _write(first, t.DRIVERS, "2026-10", "gpu")
    with pytest.raises(StoreError, match="changed by another process"), second.transaction():
        _write(second, t.DRIVERS, "2026-10", "gpu")
    assert len(ParquetStore(str(tmp_path)).parts(t.DRIVERS)) == 1
    second.refresh()
    assert len(second.parts(t.DRIVERS)) == 1


def test_partition_folders_are_hive_style_and_escape_source_names(tmp_path: Path) -> None:
    store = ParquetStore(str(tmp_path))
    with store.transaction():
        _write(store, t.COST_LINES, "2026-10", "../aws bills")
    (path,) = _files(tmp_path)
    assert path.startswith("cost_lines/x_BillingPeriod=2026-10/x_Source=..%2Faws%20bills/part-")
    document = json.loads((tmp_path / MANIFEST).read_text())
    assert document["tables"]["cost_lines"][0]["partition"][t.SOURCE] == "../aws bills"


def _month(tmp_path: Path) -> tuple[Path, Path]:
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {"ResourceId": "gpu-1", "BilledCost": "100.00", "EffectiveCost": "90"},
            {"ResourceId": "gpu-1", "BilledCost": "0.01", "ChargeCategory": "Tax"},
            {"ResourceId": "other", "BilledCost": "7.5"},
        ],
    )
    usage = write_drivers(
        tmp_path / "usage.csv",
        [
            {
                "timestamp": "2026-10-03T01:00:00Z",
                "driver": "gpu_seconds",
                "quantity": "1",
                "resource_id": "gpu-1",
                "use_case": "chat",
            },
            {
                "timestamp": "2026-10-03T02:00:00Z",
                "driver": "gpu_seconds",
                "quantity": "2",
                "resource_id": "gpu-1",
                "use_case": "search",
            },
        ],
    )
    return bill, usage


def _statement(workspace: Workspace) -> list[StatementLine]:
    lines, totals = statements(workspace, Period.parse("2026-10"), ["use_case", "rule"])
    return [*lines, *totals]


@pytest.mark.spark
@pytest.mark.duckdb
def test_spark_reads_what_duckdb_wrote_and_the_reverse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bill, usage = _month(tmp_path)
    reference = make_workspace(tmp_path / "reference", GPU_RULES)
    ingest(reference, bill, usage)
    allocate(reference)
    expected = billed_by(reference, "use_case")

    shared = make_workspace(tmp_path / "shared", GPU_RULES, extra="engine: {storage: tables}\n")
    ingest(shared, bill, usage)  # DuckDB writes the store
    shared.close()
    monkeypatch.setenv("APPORTION_ENGINE_TYPE", "spark")
    on_spark = Workspace.open(tmp_path / "shared")
    assert on_spark.data.engine == "spark"
    allocate(on_spark)  # Spark reads DuckDB's files and writes the allocations
    assert billed_by(on_spark, "use_case") == expected
    on_spark.close()
    monkeypatch.delenv("APPORTION_ENGINE_TYPE")
    back = Workspace.open(tmp_path / "shared")
    assert back.data.engine == "duckdb"
    assert billed_by(back, "use_case") == expected  # DuckDB reads Spark's allocations
    assert _statement(back) == _statement(reference)


def test_a_store_configured_over_data_in_the_duckdb_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bill, _ = _month(tmp_path)
    workspace = make_workspace(tmp_path / "ws", GPU_RULES)
    ingest(workspace, bill)
    workspace.close()
    monkeypatch.setenv("APPORTION_ENGINE_STORAGE", "tables")
    with pytest.raises(StorageError, match=r"inside apportion.duckdb.*re-ingest"):
        _ = Workspace.open(tmp_path / "ws").data


def test_a_commit_after_reading_an_older_version_is_refused(tmp_path: Path) -> None:
    reader, other = ParquetStore(str(tmp_path)), ParquetStore(str(tmp_path))
    with other.transaction():
        _write(other, t.COST_LINES, "2026-10", "aws")
    reader.refresh()  # sees version 1, but its work began at version 0
    assert len(reader.parts(t.COST_LINES)) == 1
    with pytest.raises(StoreError, match="read at 0"), reader.transaction():
        _write(reader, t.ALLOCATIONS, "2026-10", "x")
    with reader.transaction():  # a fresh start from what is there now is accepted
        _write(reader, t.ALLOCATIONS, "2026-10", "x")
    assert ParquetStore(str(tmp_path)).version == 2


def test_superseded_files_stay_for_readers_then_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ParquetStore(str(tmp_path))
    with store.transaction():
        _write(store, t.COST_LINES, "2026-10", "aws")
    (old,) = _files(tmp_path)
    with store.transaction():
        store.remove(store.parts(t.COST_LINES))
        _write(store, t.COST_LINES, "2026-10", "aws")
    assert old in _files(tmp_path)  # a reader of version 1 can still finish
    retired = json.loads((tmp_path / MANIFEST).read_text())["retired"]
    assert [entry["path"] for entry in retired] == [old]
    monkeypatch.setattr("apportion.engine.store.RETAIN_SECONDS", -1.0)
    with store.transaction():
        _write(store, t.DRIVERS, "2026-10", "gpu")
    assert old not in _files(tmp_path)
    assert json.loads((tmp_path / MANIFEST).read_text())["retired"] == []


def test_files_written_and_replaced_in_one_transaction_are_not_left(tmp_path: Path) -> None:
    store = ParquetStore(str(tmp_path))
    with store.transaction():
        _write(store, t.QUARANTINE, "2026-10", "aws")
        store.remove(store.parts(t.QUARANTINE))
        _write(store, t.QUARANTINE, "2026-10", "aws")
    assert len(_files(tmp_path)) == 1
    assert not (tmp_path / "_apportion_manifest.lock").exists()


def test_an_unusable_storage_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot be opened"):
        ParquetStore("nosuchscheme://bucket/apportion")


def test_a_store_left_out_of_the_configuration_is_refused(tmp_path: Path) -> None:
    bill, _ = _month(tmp_path)
    workspace = make_workspace(tmp_path / "ws", GPU_RULES, extra="engine: {storage: tables}\n")
    ingest(workspace, bill)
    workspace.close()
    config = tmp_path / "ws" / "apportion.yaml"
    config.write_text(config.read_text().replace("engine: {storage: tables}\n", ""))
    with pytest.raises(StorageError, match="set `storage: tables`"):
        _ = Workspace.open(tmp_path / "ws").data
