"""Business metrics: what each use case delivered per period, read from CSV, Parquet or JSON
lines like every other input: bad rows quarantined with their line and reason, a restated file
replacing its partition, and the same file loaded twice changing nothing."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apportion.engine.dataplane import FileError
from apportion.ingest.metrics import METRICS
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import ingest, make_workspace

pytestmark = pytest.mark.usefixtures("engine")

HEADER = [
    "period",
    "use_case",
    "decisions",
    "unit",
    "users",
    "revenue",
    "cost_saved",
    "quality_score",
    "feature_price",
    "currency",
]
GOOD = [
    [
        "2026-10",
        "support-bot",
        "120000",
        "tickets answered",
        "800",
        "",
        "45000.50",
        "0.91",
        "12",
        "USD",
    ],
    ["2026-10", "fraud-scorer", "2,500,000", "transactions scored", "", "", "310000", "", "", ""],
]
BAD = [
    ["2026-13", "support-bot", "1", "", "", "", "", "", "", ""],  # not a month
    ["2026-10", "", "5", "", "", "", "", "", "", ""],  # whose?
    ["2026-10", "doc-search", "-3", "", "", "", "", "", "", ""],  # negative count
    ["2026-10", "doc-search", "lots", "", "", "", "", "", "", ""],  # not a number
    ["2026-10", "doc-search", "", "", "", "", "", "", "", ""],  # nothing delivered
    ["2026-10", "doc-search", "10", "", "", "", "", "", "", "EURO"],  # not a currency
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def loaded(workspace: Workspace) -> list[dict[str, Any]]:
    table = workspace.data.table(t.BUSINESS_METRICS)
    rows = workspace.data.to_arrow(table.order_by("workload")).to_pylist()
    return rows


def test_metrics_load_and_bad_rows_are_quarantined_with_line_and_reason(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    [result] = ingest(workspace, write_csv(tmp_path / "metrics.csv", GOOD + BAD))
    assert (result.kind, result.rows, result.quarantined) == ("metrics", 2, len(BAD))
    fraud, support = loaded(workspace)
    assert support["decisions"] == Decimal(120000)
    assert support["decision_unit"] == "tickets answered"
    assert (support["users"], support["cost_saved"], support["feature_price"]) == (
        Decimal(800),
        Decimal("45000.50"),
        Decimal(12),
    )
    assert support["quality_score"] == Decimal("0.91")
    assert (support["currency"], support[t.BILLING_PERIOD]) == ("USD", "2026-10")
    assert fraud["decisions"] == Decimal(2_500_000)  # thousands separators read
    assert fraud["users"] is None and fraud["currency"] == "USD"  # the workspace's default
    quarantine = workspace.data.table(t.QUARANTINE)
    reasons = {
        row["line"]: row["reason"]
        for row in workspace.data.to_arrow(
            quarantine.filter(quarantine.kind == "metrics")
        ).to_pylist()
    }
    assert reasons == {
        4: "period: missing or not a YYYY-MM month",
        5: "use_case: missing",
        6: "decisions: -3 is negative",
        7: "decisions: 'lots' is not a number",
        8: "no metric given (one of " + ", ".join(METRICS) + ")",
        9: "currency: 'EURO' is not an ISO 4217 code",
    }


@pytest.mark.spark_full
def test_parquet_and_json_lines_read_the_same(tmp_path: Path) -> None:
    records = [
        {"period": "2026-10", "use_case": "support-bot", "decisions": 120000, "revenue": "9.5"},
        {
            "date": None,
            "period": "2026-10",
            "use_case": "doc-search",
            "decisions": 7,
            "revenue": None,
        },
    ]
    lines = tmp_path / "m.jsonl"
    lines.write_text(
        "\n".join(json.dumps({k: v for k, v in r.items() if k != "date"}) for r in records)
    )
    parquet = tmp_path / "m.parquet"
    pq.write_table(
        pa.Table.from_pylist([{k: v for k, v in r.items() if k != "date"} for r in records]),
        parquet,
    )
    found = []
    for path in (lines, parquet):
        workspace = make_workspace(tmp_path / path.suffix.strip("."))
        ingest(workspace, path)
        found.append([(r["workload"], r["decisions"], r["revenue"]) for r in loaded(workspace)])
    assert (
        found[0]
        == found[1]
        == [
            ("doc-search", Decimal(7), None),
            ("support-bot", Decimal(120000), Decimal("9.5")),
        ]
    )


def test_a_restated_file_replaces_its_period_and_the_same_file_changes_nothing(
    tmp_path: Path,
) -> None:
    workspace = make_workspace(tmp_path / "ws")
    first = write_csv(tmp_path / "metrics.csv", GOOD)
    ingest(workspace, first, source="product")
    [again] = ingest(workspace, first, source="product")
    assert again.status == "unchanged"
    restated = write_csv(tmp_path / "metrics-v2.csv", [[*GOOD[0][:2], "130000", *GOOD[0][3:]]])
    [result] = ingest(workspace, restated, source="product")
    assert result.status == "replaced"
    assert [(r["workload"], r["decisions"]) for r in loaded(workspace)] == [
        ("support-bot", Decimal(130000))
    ]


@pytest.mark.spark_full
def test_dates_give_their_month_and_the_workload_dimension_is_the_ledgers(tmp_path: Path) -> None:
    workspace = make_workspace(
        tmp_path / "ws", extra="ledger: {workload: product}\ndimensions: [cost_centre, product]\n"
    )
    path = tmp_path / "m.csv"
    path.write_text("date,product,decisions\n2026-11-03,checkout,10\n2026-11-04,checkout,5\n")
    ingest(workspace, path)
    assert [(r[t.BILLING_PERIOD], r["workload"], r["decisions"]) for r in loaded(workspace)] == [
        ("2026-11", "checkout", Decimal(10)),
        ("2026-11", "checkout", Decimal(5)),
    ]


@pytest.mark.spark_full
def test_a_file_without_a_metric_is_refused_whole(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    path = tmp_path / "m.csv"
    path.write_text("period,use_case,notes\n2026-10,support-bot,fine\n")
    with pytest.raises(FileError, match="no recognisable schema"):
        ingest(workspace, path)
    with pytest.raises(FileError, match="not a business metrics file"):
        ingest(workspace, path, fmt="metrics")
    assert loaded(workspace) == []
