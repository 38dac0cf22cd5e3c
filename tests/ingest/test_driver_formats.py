"""Driver files as CSV, Parquet (native types) and JSON lines give the same rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from apportion.schema import tables as t
from tests.helpers import ingest, make_workspace, write_drivers

pytestmark = pytest.mark.usefixtures("engine")

ROWS = [
    {
        "timestamp": "2026-10-01T10:00:00Z",
        "driver": "tokens",
        "quantity": "1500",
        "resource_id": "key-1",
        "use_case": "bot",
        "cost_centre": "cs",
    },
    {
        "timestamp": "2026-10-02T11:30:00Z",
        "driver": "tokens",
        "quantity": "0.25",
        "resource_id": "",
        "use_case": "scorer",
        "cost_centre": "risk",
    },
]


def _stored(ws: object) -> list[tuple[object, ...]]:
    table = ws.data.table(t.DRIVERS).order_by(t.ROW_NUMBER)  # type: ignore[attr-defined]
    rows = ws.data.to_arrow(table).to_pylist()  # type: ignore[attr-defined]
    return [
        (r["timestamp"], r["driver"], r["quantity"], r["resource_id"], dict(r["dimensions"]))
        for r in rows
    ]


def test_csv_parquet_and_json_lines_agree(tmp_path: Path) -> None:
    csv_ws = make_workspace(tmp_path / "csv")
    ingest(csv_ws, write_drivers(tmp_path / "d.csv", ROWS))

    parquet = tmp_path / "d.parquet"
    table = pa.table(
        {
            "Timestamp": pa.array(
                [datetime(2026, 10, 1, 10, tzinfo=UTC), datetime(2026, 10, 2, 11, 30, tzinfo=UTC)],
                pa.timestamp("us", tz="UTC"),
            ),
            "driver": ["tokens", "tokens"],
            "quantity": pa.array([Decimal("1500"), Decimal("0.25")], pa.decimal128(20, 4)),
            "resource_id": ["key-1", None],
            "use_case": ["bot", "scorer"],
            "cost_centre": ["cs", "risk"],
        }
    )
    pq.write_table(table, parquet)
    parquet_ws = make_workspace(tmp_path / "pq")
    [result] = ingest(parquet_ws, parquet)
    assert result.kind == "drivers"

    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("\n".join(json.dumps(row) for row in ROWS) + "\n", encoding="utf-8")
    json_ws = make_workspace(tmp_path / "json")
    ingest(json_ws, jsonl)

    expected = [
        (
            datetime(2026, 10, 1, 10),
            "tokens",
            Decimal("1500"),
            "key-1",
            {"use_case": "bot", "cost_centre": "cs"},
        ),
        (
            datetime(2026, 10, 2, 11, 30),
            "tokens",
            Decimal("0.25"),
            None,
            {"use_case": "scorer", "cost_centre": "risk"},
        ),
    ]
    assert _stored(csv_ws) == expected
    assert _stored(parquet_ws) == expected
    assert _stored(json_ws) == expected
