"""Native cloud exports mapped to FOCUS: the FinOps Foundation's real, anonymised legacy AWS
Cost and Usage Report sample (MIT, tests/fixtures/native-billing), its totals reproduced
exactly (summed independently with Python's csv and Decimal)."""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal as D
from pathlib import Path

import pytest

from apportion.engine.dataplane import FileError
from apportion.schema import tables as t
from tests.helpers import FIXTURES, ingest, make_workspace

CUR = FIXTURES / "native-billing" / "aws-cur-legacy" / "sample-anonymous-aws-export-dataset.csv"

pytestmark = pytest.mark.usefixtures("engine")


def test_the_aws_cur_sample_keeps_its_totals(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, CUR)
    assert (result.kind, result.rows, result.quarantined, result.periods) == (
        "focus",
        1281,
        0,
        ["2023-11"],
    )
    lines = ws.data.table(t.COST_LINES)
    sums = ws.data.to_arrow(
        lines.group_by("ChargeCategory").aggregate(
            billed=lines.BilledCost.sum(), listed=lines.ListCost.sum(), n=lines.count()
        )
    ).to_pylist()
    found = {row["ChargeCategory"]: (row["n"], row["billed"], row["listed"]) for row in sums}
    # lineItem/UnblendedCost: 1.68230869740 in all, 0.08 of it tax; ListCost is the public
    # on-demand cost of the usage lines and the billed cost of the tax lines
    assert found == {
        "Usage": (1269, D("1.60230869740"), D("3.35617269490")),
        "Tax": (12, D("0.08"), D("0.08")),
    }
    [first] = ws.data.to_arrow(lines.order_by(t.ROW_NUMBER).limit(1)).to_pylist()
    assert first["ProviderName"] == "AWS"
    assert first[t.ROW_NUMBER] == 2  # its line in the file
    assert dict(first[t.EXTENSIONS])["x_LineItemType"] in {"Usage", "Tax"}


def test_reserved_and_savings_plan_lines_are_amortised_and_tags_kept(tmp_path: Path) -> None:
    with CUR.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        extra = ["resourceTags/user:CostCenter", "reservation/ReservationARN"]
        header = [*(reader.fieldnames or []), *extra]
        template = next(reader)
    rows = [
        {"lineItem/LineItemType": "DiscountedUsage", "lineItem/UnblendedCost": "0",
         "reservation/EffectiveCost": "1.25", "resourceTags/user:CostCenter": "ml"},
        {"lineItem/LineItemType": "RIFee", "lineItem/UnblendedCost": "10",
         "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": "0.5",
         "reservation/UnusedRecurringFee": "0.25"},
        {"lineItem/LineItemType": "SavingsPlanCoveredUsage", "lineItem/UnblendedCost": "3",
         "savingsPlan/SavingsPlanEffectiveCost": "2.1"},
        {"lineItem/LineItemType": "SavingsPlanNegation", "lineItem/UnblendedCost": "-3"},
        {"lineItem/LineItemType": "Usage", "lineItem/UnblendedCost": "12 dollars"},
        {"lineItem/LineItemType": "Fee", "lineItem/UnblendedCost": "100",
         "reservation/ReservationARN": "arn:aws:ec2:us-east-1:1:reserved-instances/r-1"},
        {"lineItem/LineItemType": "Usage", "lineItem/UnblendedCost": ""},
    ]  # fmt: skip
    path = tmp_path / "cur.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        for row in rows:
            blank = dict.fromkeys(
                k for k in template if k.startswith(("reservation/", "savingsPlan/"))
            )
            writer.writerow({**template, **blank, **row})
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, path, fmt="aws-cur")
    assert (result.rows, result.quarantined) == (5, 2)
    got = ws.data.to_arrow(ws.data.table(t.COST_LINES).order_by(t.ROW_NUMBER)).to_pylist()
    assert [(r["ChargeCategory"], r["BilledCost"], r["EffectiveCost"]) for r in got] == [
        ("Usage", D(0), D("1.25")),
        ("Purchase", D(10), D("0.75")),
        ("Usage", D(3), D("2.1")),
        ("Credit", D(-3), D(0)),
        # a reservation's upfront fee is amortised into the usage it covers
        ("Purchase", D(100), D(0)),
    ]
    assert dict(got[0]["Tags"]) == {"user:CostCenter": "ml"}
    bad = ws.data.to_arrow(ws.data.table(t.QUARANTINE).order_by("line")).to_pylist()
    assert [row["line"] for row in bad] == [6, 8]
    assert "'12 dollars' is not a valid money" in bad[0]["reason"]
    assert "(no amount in the report)" in bad[1]["reason"]  # an empty cost is not zero


def test_a_cur_with_a_broken_row_is_refused_whole(tmp_path: Path) -> None:
    broken = tmp_path / "cur.csv"
    shutil.copyfile(CUR, broken)
    with broken.open("a", encoding="utf-8") as handle:
        handle.write(",".join(["x"] * 300) + "\n")
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(FileError, match="line 1283 has a different number of fields"):
        ingest(ws, broken)
    short = tmp_path / "short.csv"
    short.write_text(CUR.read_text(encoding="utf-8").splitlines()[0] + "\nx,y\n")
    with pytest.raises(FileError, match="line 2 has a different number of fields"):
        ingest(ws, short)
    with pytest.raises(FileError, match="not an Azure EA cost export"):
        ingest(ws, CUR, fmt="azure-ea")
    assert ws.data.scalar(ws.data.table(t.COST_LINES).count()) == 0


EA = FIXTURES / "native-billing" / "azure-ea" / "sample-anonymous-ea-export-dataset.csv"


def test_the_azure_ea_sample_keeps_its_totals(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, EA)
    assert (result.rows, result.quarantined, result.periods) == (27, 0, ["2023-09"])
    lines = ws.data.table(t.COST_LINES)
    [sums] = ws.data.to_arrow(
        lines.aggregate(billed=lines.BilledCost.sum(), currencies=lines.BillingCurrency.nunique())
    ).to_pylist()
    # CostInBillingCurrency, with 5.64902E-05 among the cells, sums to 1.26136926505726 CAD
    assert (sums["billed"], sums["currencies"]) == (D("1.26136926505726"), 1)
    [first] = ws.data.to_arrow(lines.order_by(t.ROW_NUMBER).limit(1)).to_pylist()
    assert first["BillingCurrency"] == "CAD"
    # 9/2/2023 is 2 September; the period ends the day after 9/30/2023
    assert (str(first["ChargePeriodStart"]), str(first["BillingPeriodEnd"])) == (
        "2023-09-02 00:00:00",
        "2023-10-01 00:00:00",
    )
    # the export writes tags without their braces
    assert dict(first["Tags"]) == {"tagA": "valueA", "tagB": "valueB", "tagC": "valueC"}
    # list cost is pay-as-you-go price x quantity: 0.40000 x 0.027265128 on the first line
    assert first["ListCost"] == D("0.0109060512")


OCI_REPORT = FIXTURES / "native-billing" / "oci" / "reports_cost-csv_0000000030000269.csv"


def test_the_oci_sample_keeps_its_totals(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, OCI_REPORT)
    assert (result.rows, result.quarantined, result.periods) == (506, 0, ["2023-11"])
    lines = ws.data.table(t.COST_LINES)
    total = ws.data.scalar(lines.BilledCost.sum())
    assert total == D("2.523589325400648027")  # cost/myCost, all 18 places kept
    [first] = ws.data.to_arrow(lines.order_by(t.ROW_NUMBER).limit(1)).to_pylist()
    # written to the minute (2023-11-13T10:00Z); the month is the billing period
    assert (str(first["ChargePeriodStart"]), str(first["BillingPeriodEnd"])) == (
        "2023-11-13 10:00:00",
        "2023-12-01 00:00:00",
    )
    assert dict(first["Tags"])["Valtest.Cat"] == "boots"
    assert first["ProviderName"] == "Oracle"
