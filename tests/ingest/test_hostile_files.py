"""Whole files as they really arrive (compressed, header-only, with a BOM, long or multi-line
cells, repeated tag keys, restated under a new name): each loads exactly, is quarantined with
a reason that says what is wrong, or is refused with one message that does."""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from apportion.engine import FileError
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import ingest, make_workspace, write_focus

pytestmark = pytest.mark.usefixtures("engine")

HERE = Path(__file__).parent / "fixtures"
CUR2 = HERE / "aws-cur2-export.csv"


def _quarantine(ws: Workspace) -> list[dict[str, object]]:
    table = ws.data.table(t.QUARANTINE)
    return ws.data.to_arrow(table.order_by("line")).to_pylist()


def _billed(ws: Workspace) -> Decimal:
    return ws.data.scalar(ws.data.table(t.COST_LINES).BilledCost.sum()) or Decimal(0)


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _write_rows(path: Path, rows: list[list[str]]) -> Path:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _with_cell(target: Path, column: str, cell: str, row: int = 0) -> Path:
    """A copy of the CUR 2.0 fixture with one cell of one data row changed."""
    rows = _rows(CUR2)
    rows[1 + row][rows[0].index(column)] = cell
    return _write_rows(target, rows)


# -- messages that say what is wrong ----------------------------------------------------------


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_directory_or_a_device_is_named_for_what_it_is(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(FileError, match="is a directory; name the files in it"):
        ingest(ws, tmp_path)  # was "no such file"
    with pytest.raises(FileError, match="not a regular file"):
        ingest(ws, Path("/dev/null"))
    with pytest.raises(FileError, match="no such file"):
        ingest(ws, tmp_path / "missing.csv")


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_header_only_native_export_loads_nothing_and_says_so(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    empty = tmp_path / "cur-quiet-month.csv"
    empty.write_text(CUR2.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    # was refused: "no FOCUS cost columns found ... use --format drivers"
    [result] = ingest(ws, empty)
    assert (result.kind, result.rows, result.quarantined) == ("focus", 0, 0)
    assert any("AWS CUR 2.0" in note for note in result.notes)


def _anthropic_report_with(tmp_path: Path, **changed: object) -> Path:
    """The Anthropic cost report fixture with its first result's fields changed."""
    report = json.loads((HERE / "anthropic-cost-report.json").read_text(encoding="utf-8"))
    report["data"][0]["results"][0].update(changed)
    path = tmp_path / "anthropic.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_an_anthropic_result_with_a_null_amount_is_quarantined_not_the_file(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws")
    path = _anthropic_report_with(tmp_path, amount=None)
    [result] = ingest(ws, path)  # was refused whole: not a cost report page
    assert result.quarantined >= 1
    [row] = [r for r in _quarantine(ws) if r["line"] == 1]
    assert "no amount in the report" in str(row["reason"])


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_an_anthropic_amount_in_an_unknown_currency_says_the_currency_is_unknown(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws")
    path = _anthropic_report_with(tmp_path, currency="XQQ")
    ingest(ws, path)
    [row] = [r for r in _quarantine(ws) if r["line"] == 1]
    # was "BilledCost: '123.45 (lowest units ...' is not a valid money"
    assert row["reason"] == "BillingCurrency: 'XQQ' is not an ISO 4217 currency code"
    assert row["cost_text"] == "123.45 (lowest units of an unknown currency)"


@pytest.mark.parametrize(
    "cut", ['"', 'x,"unterminated'], ids=["cut-after-a-quote", "cut-inside-a-quoted-value"]
)
@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_csv_cut_inside_a_quoted_value_looks_truncated(tmp_path: Path, cut: str) -> None:
    ws = make_workspace(tmp_path / "ws")
    bill = write_focus(tmp_path / "bill.csv", [{"BilledCost": "1"}, {"BilledCost": "2"}])
    text = bill.read_text(encoding="utf-8")
    bill.write_text(text + ",".join(["2026"] * 3) + "," + cut, encoding="utf-8")
    # was "line 4 cannot be read (Invalid Input Error: CSV Error on Line: 4)"
    with pytest.raises(FileError, match=r"bill.csv: line 4 opens a quoted value that never ends"):
        ingest(ws, bill)
    assert _billed(ws) == 0


# -- gzip, as AWS delivers the CUR ---------------------------------------------------------


def test_a_gzipped_focus_csv_loads_like_the_plain_one(tmp_path: Path) -> None:
    plain_ws, gz_ws = make_workspace(tmp_path / "plain"), make_workspace(tmp_path / "gz")
    bill = write_focus(tmp_path / "bill.csv", [{"BilledCost": "1.25"}, {"BilledCost": "x"}])
    packed = tmp_path / "bill.csv.gz"
    packed.write_bytes(gzip.compress(bill.read_bytes()))
    [plain] = ingest(plain_ws, bill)
    [compressed] = ingest(gz_ws, packed)  # was "unsupported file type '.gz'"
    assert (compressed.rows, compressed.quarantined) == (plain.rows, plain.quarantined) == (1, 1)
    assert _billed(gz_ws) == Decimal("1.25")
    assert [r["line"] for r in _quarantine(gz_ws)] == [3]
    # kept as delivered: the compressed bytes, by their hash
    [kept] = list(gz_ws.raw_dir.iterdir())
    assert kept.name == f"{compressed.file_hash}.csv.gz"
    assert kept.read_bytes() == packed.read_bytes()
    assert ingest(gz_ws, packed)[0].status == "unchanged"


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_gzip_is_known_by_its_bytes_and_native_exports_read_it(tmp_path: Path) -> None:
    plain_ws, gz_ws = make_workspace(tmp_path / "plain"), make_workspace(tmp_path / "gz")
    # a CUR part saved from a download as .csv, still gzip inside
    packed = tmp_path / "cur-00001.csv"
    packed.write_bytes(gzip.compress(CUR2.read_bytes()))
    [plain] = ingest(plain_ws, CUR2)
    [compressed] = ingest(gz_ws, packed)
    assert (compressed.rows, compressed.quarantined) == (plain.rows, plain.quarantined)
    assert _billed(gz_ws) == _billed(plain_ws)


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_cut_gzip_file_is_refused_with_one_message(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    packed = gzip.compress(CUR2.read_bytes())
    cut = tmp_path / "cur.csv.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(FileError, match=r"cur\.csv\.gz"):
        ingest(ws, cut)
    assert _billed(ws) == 0


# -- what one reader accepted and another refused ----------------------------------------------


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_byte_order_mark_in_json_lines_is_not_part_of_the_json(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    line = {"timestamp": "2026-10-03T00:00:00Z", "driver": "gpu_seconds", "quantity": "5"}
    drivers = tmp_path / "drivers.jsonl"
    drivers.write_text("\ufeff" + json.dumps(line) + "\n", encoding="utf-8")
    [result] = ingest(ws, drivers)  # was "line 1 is not valid JSON"
    assert (result.kind, result.rows, result.quarantined) == ("drivers", 1, 0)


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_native_export_takes_a_field_as_long_as_focus_does(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    long = "x" * (200 * 1024)  # past Python's csv default of 128 KiB
    cur = _with_cell(tmp_path / "cur.csv", "line_item_line_item_description", long)
    [result] = ingest(ws, cur)  # was "field larger than field limit (131072)"
    assert result.rows == 11
    focus = write_focus(tmp_path / "bill.csv", [{"BilledCost": "1", "ServiceName": long}])
    assert ingest(ws, focus)[0].rows == 1


# -- tags and line numbers -------------------------------------------------------------------


def test_a_tag_key_written_twice_quarantines_its_row(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {"BilledCost": "1", "Tags": '{"team": "a", "team": "b"}'},
            {"BilledCost": "2", "Tags": {"Team": "a", "team": "b"}},  # two keys, as written
            {"BilledCost": "3", "Tags": {"team": "x"}},
        ],
    )
    [result] = ingest(ws, bill)
    assert (result.rows, result.quarantined) == (2, 1)
    [row] = _quarantine(ws)
    assert row["line"] == 2
    assert row["reason"] == 'Tags: \'{"team": "a", "team": "b"}\' a key is written twice'
    # was "Map keys must be unique" on any query that reads the whole map
    lines = ws.data.table(t.COST_LINES)
    tags = ws.data.to_arrow(lines.order_by("BilledCost").select("Tags"))["Tags"].to_pylist()
    assert tags == [[("Team", "a"), ("team", "b")], [("team", "x")]]


def test_line_numbers_count_the_line_breaks_inside_quoted_values(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {"BilledCost": "1", "ServiceName": "two\nlines"},
            {"BilledCost": "2", "ServiceName": "three\r\nlines\rhere"},
            {"BilledCost": "bad"},
        ],
    )
    ingest(ws, bill)
    [row] = _quarantine(ws)
    assert row["line"] == 7  # header 1, first row 2-3, second 4-6; was 4


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_native_line_numbers_are_where_the_record_starts(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    # the fixture's line 13 has unreadable tags; a two-line description in that row too: the
    # row starts on line 13 (was 14, the line the reader had reached)
    cur = _with_cell(tmp_path / "cur.csv", "line_item_line_item_description", "a\nb", row=11)
    ingest(ws, cur)
    assert [r["line"] for r in _quarantine(ws)] == [13]


# -- a restated bill under a new name ----------------------------------------------------------


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_restated_bill_under_a_new_name_is_refused_naming_the_source(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    first = write_focus(tmp_path / "oct.csv", [{"BilledCost": "10", "BillingAccountId": "111"}])
    restated = write_focus(
        tmp_path / "oct-restated.csv", [{"BilledCost": "12", "BillingAccountId": "111"}]
    )
    other = write_focus(tmp_path / "acct2.csv", [{"BilledCost": "5", "BillingAccountId": "222"}])
    ingest(ws, first)
    # was loaded as a second source: the month counted twice (22)
    with pytest.raises(FileError, match=r"already loaded as source 'oct'.*--source oct"):
        ingest(ws, restated)
    assert _billed(ws) == Decimal(10)
    assert len(list(ws.raw_dir.iterdir())) == 1  # a refused file is not kept
    ingest(ws, other)  # another billing account is another bill
    [result] = ingest(ws, restated, source="oct")
    assert result.status == "replaced"
    assert _billed(ws) == Decimal(17)


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_separate_bill_for_the_same_account_loads_when_said_so(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    main = write_focus(tmp_path / "main.csv", [{"BilledCost": "10", "BillingAccountId": "111"}])
    market = write_focus(
        tmp_path / "marketplace.csv", [{"BilledCost": "3", "BillingAccountId": "111"}]
    )
    ingest(ws, main)
    with pytest.raises(FileError, match="--also"):
        ingest(ws, market)
    ingest(ws, market, also=True)
    assert _billed(ws) == Decimal(13)


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_the_cli_refuses_a_second_source_with_exit_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from apportion.cli import app

    root = tmp_path / "ws"
    make_workspace(root).close()
    first = write_focus(tmp_path / "oct.csv", [{"BilledCost": "10", "BillingAccountId": "111"}])
    again = write_focus(tmp_path / "oct2.csv", [{"BilledCost": "12", "BillingAccountId": "111"}])
    runner = CliRunner()
    base = ["--workspace", str(root), "ingest"]
    assert runner.invoke(app, [*base, str(first)]).exit_code == 0
    refused = runner.invoke(app, [*base, str(again)])
    assert refused.exit_code == 2, refused.output
    assert "--source oct" in refused.output
    assert runner.invoke(app, [*base, str(again), "--also"]).exit_code == 0


# -- GCP cost and credits --------------------------------------------------------------------


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_gcp_cost_plus_credits_is_exact_past_28_digits(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    first = json.loads((HERE / "gcp-billing-export.jsonl").read_text().splitlines()[0])
    first["cost"] = "12345678901.123456789012345678"
    first["credits"] = [{"name": "SUD", "amount": "-0.000000000000000001", "type": "DISCOUNT"}]
    export = tmp_path / "gcp.jsonl"
    # numbers as JSON numbers, digits as written
    text = json.dumps(first)
    for written in ("12345678901.123456789012345678", "-0.000000000000000001"):
        text = text.replace(f'"{written}"', written)
    export.write_text(text + "\n", encoding="utf-8")
    ingest(ws, export, fmt="gcp")
    # the 28-digit context would give 12345678901.12345678901234568
    assert _billed(ws) == Decimal("12345678901.123456789012345677")


@pytest.mark.spark_full  # its Spark path: the module's tests left on Spark
def test_a_parquet_money_column_named_twice_is_refused(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    bill = write_focus(tmp_path / "bill.csv", [{"BilledCost": "1"}])
    table = pa_csv.read_csv(bill)
    table = table.append_column(
        "BilledCost", table.column("BilledCost")
    )  # the engine reads it BilledCost_1
    pq.write_table(table, tmp_path / "bill.parquet")
    # was loaded, the first copy counting and the second kept as an extension column
    with pytest.raises(FileError, match="column BilledCost appears twice"):
        ingest(ws, tmp_path / "bill.parquet")
    assert _billed(ws) == 0
