"""Bad rows are quarantined with file, line and reason; a bad file changes nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from apportion.engine import FileError
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import FOCUS_SAMPLE, ingest, make_workspace, write_drivers, write_focus

pytestmark = pytest.mark.usefixtures("engine")


def _billed(ws: Workspace) -> Decimal:
    lines = ws.data.table(t.COST_LINES)
    return ws.data.scalar(lines.BilledCost.sum()) or Decimal(0)


def _quarantine(ws: Workspace) -> list[dict[str, object]]:
    table = ws.data.table(t.QUARANTINE)
    return ws.data.to_arrow(table.order_by("line")).to_pylist()


@pytest.fixture
def loaded(tmp_path: Path) -> Workspace:
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, FOCUS_SAMPLE)
    return ws


def test_truncated_csv_is_refused_whole(tmp_path: Path, loaded: Workspace) -> None:
    text = FOCUS_SAMPLE.read_text(encoding="utf-8")
    truncated = tmp_path / "truncated.csv"
    truncated.write_text(text[: len(text) // 2], encoding="utf-8")  # cut mid-row
    before = _billed(loaded)
    with pytest.raises(FileError, match=r"truncated.csv: line \d+ has \d+ fields"):
        ingest(loaded, truncated)
    assert _billed(loaded) == before
    assert len(list(loaded.raw_dir.glob("*"))) == 1  # only the sample was kept


def test_wrong_type_in_money_column_quarantines_the_row(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    bill = write_focus(
        tmp_path / "bill.csv",
        [{"BilledCost": "1.50"}, {"BilledCost": "12,5O"}, {"BilledCost": "0.25"}],
    )
    [result] = ingest(ws, bill)
    assert (result.rows, result.quarantined) == (2, 1)
    [row] = _quarantine(ws)
    assert row["file"] == "bill.csv"
    assert row["line"] == 3
    assert row["reason"] == "BilledCost: '12,5O' is not a valid money"
    assert row["cost_text"] == "12,5O"
    assert _billed(ws) == Decimal("1.75")


def test_too_many_decimal_places_is_quarantined_not_rounded(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    bill = write_focus(tmp_path / "b.csv", [{"BilledCost": "0.1234567890123456789"}])
    [result] = ingest(ws, bill)
    assert result.quarantined == 1
    assert "not a valid money" in str(_quarantine(ws)[0]["reason"])


def test_unknown_currency_code_is_quarantined(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {"BilledCost": "3", "BillingCurrency": "usd"},
            {"BilledCost": "4", "BillingCurrency": "XYZ"},
        ],
    )
    [result] = ingest(ws, bill)
    assert (result.rows, result.quarantined) == (1, 1)
    [row] = _quarantine(ws)
    assert (row["line"], row["currency"]) == (3, "XYZ")
    assert row["reason"] == "BillingCurrency: 'XYZ' is not an ISO 4217 currency code"
    lines = ws.data.to_arrow(ws.data.table(t.COST_LINES)).to_pylist()
    assert lines[0]["BillingCurrency"] == "USD"  # casing folded


@pytest.mark.spark_full
def test_file_with_no_focus_columns_is_refused(tmp_path: Path, loaded: Workspace) -> None:
    other = tmp_path / "sales.csv"
    other.write_text("region,revenue\nnorth,10\n", encoding="utf-8")
    before = _billed(loaded)
    with pytest.raises(FileError, match="no recognisable schema"):
        ingest(loaded, other)
    with pytest.raises(FileError, match="no FOCUS cost columns"):
        ingest(loaded, other, fmt="focus")
    assert _billed(loaded) == before


def test_one_bad_file_among_several_loads_none(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    good = write_focus(tmp_path / "good.csv", [{"BilledCost": "5"}])
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(FileError, match=r"empty\.csv: empty file"):
        ingest(ws, good, empty)
    assert _billed(ws) == 0


def test_bad_driver_rows_are_quarantined(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    drivers = write_drivers(
        tmp_path / "d.csv",
        [
            {"timestamp": "2026-10-01", "driver": "requests", "quantity": "3", "use_case": "a"},
            {"timestamp": "yesterday", "driver": "requests", "quantity": "3"},
            {"timestamp": "2026-10-01", "driver": "requests", "quantity": "-1"},
            {"timestamp": "2026-10-01", "driver": "", "quantity": "1"},
            {"timestamp": "2026-10-01", "driver": "requests", "quantity": "lots"},
        ],
    )
    [result] = ingest(ws, drivers)
    assert (result.kind, result.rows, result.quarantined) == ("drivers", 1, 4)
    reasons = {row["line"]: row["reason"] for row in _quarantine(ws)}
    assert reasons == {
        3: "timestamp: missing or not a date",
        4: "quantity: -1 is negative",
        5: "driver: missing",
        6: "quantity: 'lots' is not a number",
    }


def test_missing_file_and_unsupported_type(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(FileError, match="no such file"):
        ingest(ws, tmp_path / "nope.csv")
    xlsx = tmp_path / "bill.xlsx"
    xlsx.write_bytes(b"PK\x03\x04")
    with pytest.raises(FileError, match="unsupported file type"):
        ingest(ws, xlsx)
    parquet = tmp_path / "broken.parquet"
    parquet.write_bytes(b"not parquet at all")
    with pytest.raises(FileError, match="not a readable Parquet file"):
        ingest(ws, parquet)


def test_commas_are_thousands_separators_only(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    cells = ["1,234.50", "$12,345,678 ", "1,5", "0,99", "1,2,3", "-1,000"]
    [result] = ingest(ws, write_focus(tmp_path / "b.csv", [{"BilledCost": c} for c in cells]))
    assert (result.rows, result.quarantined) == (3, 3)
    assert _billed(ws) == Decimal("1234.50") + Decimal("12345678") - Decimal("1000")
    assert [row["cost_text"] for row in _quarantine(ws)] == ["1,5", "0,99", "1,2,3"]


def test_json_lines_numbers_keep_every_digit(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    path = tmp_path / "d.jsonl"
    path.write_text(
        '{"timestamp": "2026-10-01", "driver": "tokens", "quantity": 9007199254740993,'
        ' "use_case": 42}\n\n'
        '{"timestamp": "2026-10-02", "driver": "tokens", "quantity": 0.123456789012,'
        ' "use_case": "bot"}\n',
        encoding="utf-8",
    )
    [result] = ingest(ws, path)
    assert (result.rows, result.quarantined) == (2, 0)
    rows = ws.data.to_arrow(ws.data.table(t.DRIVERS).order_by(t.ROW_NUMBER)).to_pylist()
    assert [r["quantity"] for r in rows] == [Decimal("9007199254740993"), Decimal("0.123456789012")]
    assert [r[t.ROW_NUMBER] for r in rows] == [1, 3]
    assert [dict(r["dimensions"])["use_case"] for r in rows] == ["42", "bot"]


@pytest.mark.spark_full
def test_the_same_content_is_never_counted_twice(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    bill = write_focus(tmp_path / "oct.csv", [{"BilledCost": "100"}])
    copy = tmp_path / "oct-copy.csv"
    copy.write_bytes(bill.read_bytes())
    results = ingest(ws, bill, bill)
    assert len(results) == 1
    assert _billed(ws) == Decimal(100)
    with pytest.raises(FileError, match="already loaded as source 'oct'"):
        ingest(ws, copy)
    assert _billed(ws) == Decimal(100)


def test_billing_month_is_the_month_the_provider_wrote(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    bill = write_focus(
        tmp_path / "b.csv",
        [{"BillingPeriodStart": "2026-11-01T00:00:00+01:00", "BilledCost": "1"}],
    )
    [result] = ingest(ws, bill)
    assert result.periods == ["2026-11"]


def test_placeholder_years_are_quarantined(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    bill = write_focus(tmp_path / "b.csv", [{"ChargePeriodStart": "0001-01-01T00:00:00Z"}])
    [result] = ingest(ws, bill)
    assert result.quarantined == 1


def test_a_repeated_column_is_refused(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    path = tmp_path / "b.csv"
    path.write_text(
        "BilledCost,BillingPeriodStart,BillingCurrency,x_Team,x_Team\n1,2026-10-01,USD,a,b\n",
        encoding="utf-8",
    )
    with pytest.raises(FileError, match="'x_Team' appears twice"):
        ingest(ws, path)
    path.write_text("BilledCost,billedcost,BillingPeriodStart\n1,2,2026-10-01\n", encoding="utf-8")
    with pytest.raises(FileError, match="BilledCost appears twice"):
        ingest(ws, path)
