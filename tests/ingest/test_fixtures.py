"""Real public FOCUS files: every one loads, and the sample's sums survive to the last digit."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from apportion.schema import tables as t
from tests.helpers import FOCUS_SAMPLE, SPEC_EXAMPLES, ingest, make_workspace

pytestmark = pytest.mark.usefixtures("engine")

SAMPLE_SUMS = {
    "BilledCost": Decimal("20.52022672899"),
    "EffectiveCost": Decimal("14.97651418586"),
    "ListCost": Decimal("20.39090575119"),
    "ContractedCost": Decimal("14.97626039326"),
}


def test_focus_sample_sums_are_exact(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, FOCUS_SAMPLE)
    assert (result.rows, result.quarantined, result.kind) == (1000, 0, "focus")
    lines = ws.data.table(t.COST_LINES)
    sums = ws.data.to_arrow(lines.aggregate(**{m: lines[m].sum() for m in SAMPLE_SUMS}))
    assert sums.to_pylist()[0] == SAMPLE_SUMS
    assert str(lines.schema()["BilledCost"]) == f"decimal(38, {t.MONEY_SCALE})"


def test_focus_sample_keeps_tags_extensions_and_timestamps(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, FOCUS_SAMPLE)
    lines = ws.data.table(t.COST_LINES)
    first = ws.data.to_arrow(lines.order_by(t.ROW_NUMBER).limit(1)).to_pylist()[0]
    # the first data row is line 2 of the file; "NULL" cells are read as no value
    assert first[t.ROW_NUMBER] == 2
    assert first["AvailabilityZone"] is None
    assert first["BillingPeriodStart"].isoformat() == "2024-09-01T00:00:00"
    assert first[t.BILLING_PERIOD] == "2024-09"
    # the non-FOCUS column "Id" is kept as an extension, not dropped
    assert dict(first[t.EXTENSIONS])["Id"] == "11472"
    assert ws.data.scalar(lines.filter(lines.Tags["environment"] == "dev").count()) > 0


# The specification's own examples contain one impossible timestamp (hour 30); that row is
# quarantined with its line and reason rather than loaded with a made-up time.
BAD_SPEC_ROWS = {
    "commitment_discount_purchase_scenario_2": 4,
    "commitment_discount_purchase_scenario_3": 5,
}


@pytest.mark.parametrize("path", SPEC_EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.spark_full
def test_every_spec_example_loads(tmp_path: Path, path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, path)
    assert result.kind == "focus"
    assert result.rows >= 1
    assert result.periods
    quarantined = ws.data.to_arrow(ws.data.table(t.QUARANTINE)).to_pylist()
    if path.stem in BAD_SPEC_ROWS:
        [row] = quarantined
        assert row["line"] == BAD_SPEC_ROWS[path.stem]
        assert row["reason"] == "ChargePeriodEnd: '2023-02-01T30:00:00Z' is not a valid timestamp"
        assert row["cost_text"] in ("1.00", "0.50")
    else:
        assert quarantined == []


def test_spec_example_money_with_dollar_signs_and_us_dates(tmp_path: Path) -> None:
    path = next(p for p in SPEC_EXAMPLES if p.name == "simple_saas_agreements_a1.csv")
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, path)
    lines = ws.data.table(t.COST_LINES)
    rows = ws.data.to_arrow(lines.order_by(t.ROW_NUMBER)).to_pylist()
    # "$10,000.00 " with a 4/1/25 billing period start
    assert rows[0]["BilledCost"] == Decimal("10000")
    assert rows[0]["BillingPeriodStart"].isoformat() == "2025-04-01T00:00:00"


def test_file_without_currency_column_uses_the_configured_default(tmp_path: Path) -> None:
    path = next(p for p in SPEC_EXAMPLES if p.name == "commitment_discount_usage_scenario_1.csv")
    ws = make_workspace(tmp_path / "ws", extra="default_currency: EUR\n")
    [result] = ingest(ws, path)
    assert any("BillingCurrency" in note for note in result.notes)
    lines = ws.data.table(t.COST_LINES)
    currencies = ws.data.to_arrow(lines.select("BillingCurrency").distinct())
    assert currencies.column(0).to_pylist() == ["EUR"]


def test_focus_parquet_gives_the_same_sums(tmp_path: Path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    # as a provider would write it: typed money columns, "NULL" cells as real nulls
    table = pacsv.read_csv(
        FOCUS_SAMPLE,
        convert_options=pacsv.ConvertOptions(
            null_values=["NULL", ""],
            column_types={m: pa_decimal() for m in SAMPLE_SUMS},
        ),
    )
    path = tmp_path / "sample.parquet"
    pq.write_table(table, path)
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, path)
    assert (result.kind, result.rows, result.quarantined) == ("focus", 1000, 0)
    lines = ws.data.table(t.COST_LINES)
    sums = ws.data.to_arrow(lines.aggregate(**{m: lines[m].sum() for m in SAMPLE_SUMS}))
    assert sums.to_pylist()[0] == SAMPLE_SUMS


def pa_decimal() -> object:
    import pyarrow as pa

    return pa.decimal128(38, 12)
