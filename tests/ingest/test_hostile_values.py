"""Hostile values reaching the readers: non-finite numbers, huge exponents, counts beyond int64,
sums beyond DECIMAL(38, 18). Each ends quarantined with its reason (or the file refused whole),
never in a traceback and never as a wrong amount."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from apportion.ingest import values
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import FIXTURES, ingest, make_workspace, write_focus

pytestmark = pytest.mark.usefixtures("engine")

HERE = Path(__file__).parent / "fixtures"
HOSTILE = ("1e99999999999999999999", "Infinity", "-Infinity", "NaN", "sNaN", "1e999999")


def _quarantine(ws: Workspace) -> list[dict[str, object]]:
    table = ws.data.table(t.QUARANTINE)
    return ws.data.to_arrow(table.order_by("line")).to_pylist()


def _with_cell(source: Path, target: Path, changes: dict[str, str], row: int = 0) -> Path:
    """A copy of a CSV export with cells of one data row changed (columns named any case)."""
    with source.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header = [name.strip().lower() for name in rows[0]]
    for column, cell in changes.items():
        rows[1 + row][header.index(column.lower())] = cell
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    target.write_text(out.getvalue(), encoding="utf-8")
    return target


@pytest.mark.parametrize(
    "cell", ["1e99999999999999999999", "Infinity", "NaN", "sNaN", "-1e-99999999999"]
)
@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_number_refuses_what_no_column_holds(cell: str) -> None:
    with pytest.raises(values.NotANumber):
        values.number(cell)


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_number_reads_money_and_counts_within_their_columns() -> None:
    assert values.number(" 12.50 ") == Decimal("12.50")
    assert values.number("") is None and values.number(None) is None
    assert values.number("99999999999999999999.999999999999999999") is not None
    with pytest.raises(values.NotANumber, match="beyond the 20 digits"):
        values.number("100000000000000000000")
    assert values.number("9223372036854775807", count=True) == 2**63 - 1
    for not_a_count in ("9223372036854775808", "1.5"):
        with pytest.raises(values.NotANumber, match="not a count"):
            values.number(not_a_count, count=True)
    assert values.written(Decimal("1E+99999999999")) == "1E+99999999999"  # never 10^11 chars


def test_a_huge_exponent_in_a_focus_money_cell_is_quarantined(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    bill = write_focus(
        tmp_path / "bill.csv",
        [{"BilledCost": "1e99999999999999999999"}, {"BilledCost": "2.5"}],
    )
    [result] = ingest(ws, bill)  # was a DuckDB conversion error: the exponent cast to int64
    assert (result.rows, result.quarantined) == (1, 1)
    [row] = _quarantine(ws)
    assert row["line"] == 2 and "is not a valid money" in str(row["reason"])


@pytest.mark.parametrize("cell", HOSTILE)
@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_hostile_azure_quantity_is_quarantined_not_multiplied(tmp_path: Path, cell: str) -> None:
    ws = make_workspace(tmp_path / "ws")
    export = _with_cell(
        HERE / "azure-mca-actual-cost.csv",
        tmp_path / "azure.csv",
        {"quantity": cell, "unitPrice": "10", "PayGPrice": "10"},
    )
    [result] = ingest(ws, export, fmt="azure-mca")  # 1e999999 x 10 overflowed the context
    bad = [row for row in _quarantine(ws) if row["line"] == 2]
    assert bad and "is not a valid" in str(bad[0]["reason"])
    assert result.quarantined >= 1


@pytest.mark.parametrize("cell", ["1e999999", "Infinity", "NaN"])
@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_hostile_cur_fee_or_oci_overage_is_quarantined(tmp_path: Path, cell: str) -> None:
    from tests.ingest.cur import write_cur

    ws = make_workspace(tmp_path / "ws")
    cur = write_cur(
        tmp_path / "cur.csv",
        [
            {
                "lineItem/LineItemType": "RIFee",
                "reservation/UnusedRecurringFee": cell,
                "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": "1e999999",
            }
        ],
    )
    [result] = ingest(ws, cur, fmt="aws-cur")
    assert result.quarantined == 1
    oci = FIXTURES / "native-billing" / "oci" / "reports_cost-csv_0000000030000269.csv"
    ws = make_workspace(tmp_path / "ws2")
    mutated = _with_cell(oci, tmp_path / "oci.csv", {"cost/myCostOverage": cell})
    [result] = ingest(ws, mutated, fmt="oci")  # an overage that is not a number was dropped
    assert result.quarantined == 1
    assert _quarantine(ws)[0]["line"] == 2


def test_token_counts_beyond_int64_are_quarantined(tmp_path: Path) -> None:
    pages = json.loads((HERE / "openai-usage.json").read_text())
    pages[0]["data"][0]["results"][0]["input_tokens"] = 99999999999999999999999
    report = tmp_path / "usage.json"
    report.write_text(json.dumps(pages))
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, report)  # was a DuckDB conversion error casting to INT64
    assert result.quarantined == 1
    [row] = _quarantine(ws)
    assert "input_tokens: '99999999999999999999999'" in str(row["reason"])


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_huge_json_exponent_is_quarantined_not_expanded(tmp_path: Path) -> None:
    text = (HERE / "gcp-billing-export.jsonl").read_text().splitlines()
    first = json.loads(text[0])
    first["cost"] = "__HUGE__"
    text[0] = json.dumps(first).replace('"__HUGE__"', "1e99999999999999999999")
    export = tmp_path / "gcp.jsonl"
    export.write_text("\n".join(text) + "\n")
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, export, fmt="gcp")
    assert result.quarantined >= 1
    assert any(row["line"] == 1 for row in _quarantine(ws))


def test_spreadsheet_dates_with_a_time_load_in_focus_files(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {
                "BillingPeriodStart": "9/1/2024 0:00",
                "BillingPeriodEnd": "10/1/2024 0:00",
                "ChargePeriodStart": "9/3/24 1:30 PM",
                "ChargePeriodEnd": "9/4/2024 12:00:00 AM",
                "BilledCost": "4.25",
            }
        ],
    )
    [result] = ingest(ws, bill)  # the times were quarantined as not a valid timestamp
    assert (result.rows, result.quarantined, result.periods) == (1, 0, ["2024-09"])
    [line] = ws.data.to_arrow(ws.data.table(t.COST_LINES)).to_pylist()
    assert str(line["ChargePeriodStart"]) == "2024-09-03 13:30:00"
    assert str(line["ChargePeriodEnd"]) == "2024-09-04 00:00:00"


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_two_digit_year_reads_the_same_in_every_reader(tmp_path: Path) -> None:
    assert values.us_date("9/2/23") == values.us_date("9/2/2023 0:00")
    ws = make_workspace(tmp_path / "ws")
    export = _with_cell(
        HERE / "azure-mca-actual-cost.csv",
        tmp_path / "azure.csv",
        {"date": "9/2/23", "billingPeriodStartDate": "9/1/23", "billingPeriodEndDate": "9/30/23"},
    )
    [result] = ingest(ws, export, fmt="azure-mca")  # Azure read 23 as the year 23
    assert "2023-09" in result.periods
    assert not [row for row in _quarantine(ws) if row["line"] == 2]


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_native_csv_with_a_money_column_twice_is_refused(tmp_path: Path) -> None:
    from apportion.engine.dataplane import FileError

    source = HERE / "azure-mca-actual-cost.csv"
    lines = source.read_text(encoding="utf-8-sig").splitlines()
    doubled = tmp_path / "azure.csv"
    doubled.write_text(
        "\n".join([lines[0] + ",costInBillingCurrency", *(line + ",999" for line in lines[1:])])
    )
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(FileError, match="'costInBillingCurrency' appears twice"):
        ingest(ws, doubled, fmt="azure-mca")  # the last copy won, silently
    assert not list(ws.raw_dir.glob("*"))


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_doubled_byte_order_mark_still_reads_the_first_column(tmp_path: Path) -> None:
    bill = write_focus(tmp_path / "plain.csv", [{"BilledCost": "3.5"}])
    columns = bill.read_text(encoding="utf-8").splitlines()[0].split(",")
    first = columns.index("BilledCost")
    reordered = tmp_path / "bom.csv"
    with bill.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    order = [first, *(i for i in range(len(columns)) if i != first)]
    out = io.StringIO()
    csv.writer(out).writerows([[row[i] for i in order] for row in rows])
    reordered.write_bytes(b"\xef\xbb\xbf\xef\xbb\xbf" + out.getvalue().encode())
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, reordered)  # BilledCost became an extension: no cost on every row
    assert (result.rows, result.quarantined) == (1, 0)
    total = ws.data.scalar(ws.data.table(t.COST_LINES).BilledCost.sum())
    assert total == Decimal("3.5")


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_focus_file_without_billed_cost_is_refused(tmp_path: Path) -> None:
    from apportion.engine.dataplane import FileError

    bill = write_focus(tmp_path / "bill.csv", [{"EffectiveCost": "2"}])
    with bill.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    drop = rows[0].index("BilledCost")
    out = io.StringIO()
    csv.writer(out).writerows([[c for i, c in enumerate(row) if i != drop] for row in rows])
    bill.write_text(out.getvalue(), encoding="utf-8")
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(FileError, match="no BilledCost column"):
        ingest(ws, bill)  # was accepted: every line with no cost


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_parquet_decimal_wider_than_38_digits_is_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from apportion.engine.dataplane import FileError
    from tests.helpers import FOCUS_DEFAULTS

    columns = {name: pa.array([value]) for name, value in FOCUS_DEFAULTS.items()}
    columns["BilledCost"] = pa.array([Decimal("12.5")], pa.decimal256(40, 10))
    bill = tmp_path / "bill.parquet"
    pq.write_table(pa.table(columns), bill)
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(FileError, match=r"'BilledCost' is decimal\(40, 10\)"):
        ingest(ws, bill)  # loaded as 12.5 x 2^24, silently
    assert not list(ws.raw_dir.glob("*"))


def test_a_restated_bill_past_decimal_38_18_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    from apportion.engine.dataplane import FileError

    ws = make_workspace(tmp_path / "ws")
    ingest(ws, write_focus(tmp_path / "first.csv", [{"BilledCost": "1"}]), source="aws")
    huge = [{"BilledCost": "90000000000000000000"}] * 3  # each fits; their sum does not
    restated = write_focus(tmp_path / "restated.csv", huge)
    with pytest.raises(FileError, match=r"BilledCost in 2026-10 \(USD\) adds up to 27"):
        ingest(ws, restated, source="aws")  # was DuckDB's "Overflow in HUGEINT addition"
    assert ws.data.scalar(ws.data.table(t.COST_LINES).BilledCost.sum()) == Decimal(1)


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_an_anthropic_amount_in_an_unknown_currency_is_not_shown_as_whole_units() -> None:
    from apportion.ingest.anthropic import in_units

    assert in_units("123.45", "USD") == "1.2345"
    # was kept as 123.45: quarantined money a hundred times too large for cents
    assert in_units("123.45", "XYZ") == "123.45 (lowest units of an unknown currency)"
