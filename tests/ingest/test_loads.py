"""Idempotent loads, the raw store, and restated bills replacing their partition."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from apportion.schema import tables as t
from tests.helpers import FOCUS_SAMPLE, ingest, make_workspace, write_focus

pytestmark = pytest.mark.usefixtures("engine")


@pytest.mark.spark_full
def test_loading_the_same_file_twice_changes_nothing(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    [first] = ingest(ws, FOCUS_SAMPLE)
    said: list[str] = []
    [second] = ingest(ws, FOCUS_SAMPLE, progress=said.append)
    assert (first.status, second.status) == ("loaded", "unchanged")
    # what the load recorded, without parsing the file again
    assert (second.rows, second.quarantined, second.periods, second.kind) == (
        first.rows,
        first.quarantined,
        first.periods,
        "focus",
    )
    assert not [message for message in said if message.startswith("reading")]
    assert ws.data.scalar(ws.data.table(t.COST_LINES).count()) == 1000
    kept = list(ws.raw_dir.glob("*"))
    assert [p.name for p in kept] == [f"{first.file_hash}.csv"]
    assert kept[0].read_bytes() == FOCUS_SAMPLE.read_bytes()


def test_restated_bill_replaces_its_partition_and_reports_the_difference(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    october = {"BillingPeriodStart": "2026-10-01T00:00:00Z"}
    november = {
        "BillingPeriodStart": "2026-11-01T00:00:00Z",
        "BillingPeriodEnd": "2026-12-01T00:00:00Z",
        "ChargePeriodStart": "2026-11-02T00:00:00Z",
    }
    first = write_focus(
        tmp_path / "aws-oct.csv", [{**october, "BilledCost": "10"}, {**october, "BilledCost": "5"}]
    )
    other_month = write_focus(tmp_path / "aws-nov.csv", [{**november, "BilledCost": "7"}])
    ingest(ws, first, source="aws")
    ingest(ws, other_month, source="aws")
    restated = write_focus(tmp_path / "aws-oct-v2.csv", [{**october, "BilledCost": "12.5"}])
    [result] = ingest(ws, restated, source="aws")
    assert result.status == "replaced"
    billed = [d for d in result.differences if d.metric == "BilledCost"]
    assert [(d.period, d.before, d.after, d.change) for d in billed] == [
        ("2026-10", Decimal(15), Decimal("12.5"), Decimal("-2.5"))
    ]
    lines = ws.data.table(t.COST_LINES)
    by_period = lines.group_by(t.BILLING_PERIOD).aggregate(total=lines.BilledCost.sum())
    totals = {r[t.BILLING_PERIOD]: r["total"] for r in ws.data.to_arrow(by_period).to_pylist()}
    assert totals == {"2026-10": Decimal("12.5"), "2026-11": Decimal(7)}  # November untouched


@pytest.mark.spark_full
def test_sources_do_not_replace_each_other(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, write_focus(tmp_path / "a.csv", [{"BilledCost": "1"}]))
    ingest(ws, write_focus(tmp_path / "b.csv", [{"BilledCost": "2"}]))
    lines = ws.data.table(t.COST_LINES)
    assert ws.data.scalar(lines.BilledCost.sum()) == Decimal(3)


@pytest.mark.spark_full
def test_two_files_for_one_partition_in_one_call_both_load(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    part1 = write_focus(tmp_path / "p1.csv", [{"BilledCost": "1"}])
    part2 = write_focus(tmp_path / "p2.csv", [{"BilledCost": "2"}])
    ingest(ws, part1, part2, source="openai")
    lines = ws.data.table(t.COST_LINES)
    assert ws.data.scalar(lines.BilledCost.sum()) == Decimal(3)
    # and loading them again is a no-op
    results = ingest(ws, part1, part2, source="openai")
    assert [r.status for r in results] == ["unchanged", "unchanged"]
    assert ws.data.scalar(lines.BilledCost.sum()) == Decimal(3)


@pytest.mark.spark_full
def test_an_unchanged_file_is_read_again_when_its_partition_is_rebuilt(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    part1 = write_focus(tmp_path / "p1.csv", [{"BilledCost": "1"}])
    part2 = write_focus(tmp_path / "p2.csv", [{"BilledCost": "2"}])
    ingest(ws, part1, source="openai")
    said: list[str] = []
    # part2 joins part1's partition, which is rebuilt from both: part1's rows must not be lost
    results = ingest(ws, part1, part2, source="openai", progress=said.append)
    assert "reading p1.csv" in said
    assert [r.status for r in results] != ["unchanged", "unchanged"]
    lines = ws.data.table(t.COST_LINES)
    assert ws.data.scalar(lines.BilledCost.sum()) == Decimal(3)
    assert ws.data.scalar(lines.count()) == 2
