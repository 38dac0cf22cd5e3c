"""Native cloud exports mapped to FOCUS: the FinOps Foundation's real, anonymised legacy AWS
Cost and Usage Report, Azure EA and OCI samples (MIT, tests/fixtures/native-billing), their
totals reproduced exactly (summed independently with Python's csv and Decimal); and exports
written by hand from the documented schemas of AWS CUR 2.0, Azure MCA cost details (actual and
amortized) and Google Cloud's BigQuery billing export (tests/ingest/fixtures), their totals
added up by hand."""

from __future__ import annotations

import shutil
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from apportion.engine.dataplane import FileError
from apportion.schema import tables as t
from apportion.workspace import Workspace
from tests.helpers import FIXTURES, ingest, make_workspace
from tests.ingest.cur import CUR, write_cur

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
    # on-demand rate x lineItem/UsageAmount of the usage lines (FOCUS: ListUnitPrice x
    # PricingQuantity; AWS's rounded pricing/publicOnDemandCost sums to 3.35617269490) and the
    # billed cost of the tax lines
    assert found == {
        "Usage": (1269, D("1.60230869740"), D("3.356172697771288")),
        "Tax": (12, D("0.08"), D("0.08")),
    }
    [first] = ws.data.to_arrow(lines.order_by(t.ROW_NUMBER).limit(1)).to_pylist()
    assert first["ProviderName"] == "AWS"
    assert first[t.ROW_NUMBER] == 2  # its line in the file
    assert dict(first[t.EXTENSIONS])["x_LineItemType"] in {"Usage", "Tax"}


def test_reserved_and_savings_plan_lines_are_amortised_and_tags_kept(tmp_path: Path) -> None:
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
    extra = ["resourceTags/user:CostCenter", "reservation/ReservationARN"]
    path = write_cur(tmp_path / "cur.csv", rows, extra)
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
    with pytest.raises(FileError, match=r"line 1283 has \d+ fields where the header has 94"):
        ingest(ws, broken)
    short = tmp_path / "short.csv"
    short.write_text(CUR.read_text(encoding="utf-8").splitlines()[0] + "\nx,y\n")
    with pytest.raises(FileError, match=r"line 2 has \d+ fields where the header has 94"):
        ingest(ws, short)
    with pytest.raises(FileError, match="not an Azure EA cost export"):
        ingest(ws, CUR, fmt="azure-ea")
    assert ws.data.scalar(ws.data.table(t.COST_LINES).count()) == 0


EA = FIXTURES / "native-billing" / "azure-ea" / "sample-anonymous-ea-export-dataset.csv"


@pytest.mark.spark_full
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


@pytest.mark.spark_full
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


# -- hand-written exports of the documented schemas (tests/ingest/fixtures) --------------------
HERE = Path(__file__).parent / "fixtures"
CUR2 = HERE / "aws-cur2-export.csv"
MCA_ACTUAL = HERE / "azure-mca-actual-cost.csv"
MCA_AMORTIZED = HERE / "azure-mca-amortized-cost.csv"
GCP_EXPORT = HERE / "gcp-billing-export.jsonl"
METRICS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")


def _totals(ws: Workspace) -> dict[str, tuple[D, ...]]:
    """Each billing period's four cost metrics, summed by the engine."""
    lines = ws.data.table(t.COST_LINES)
    sums = lines.group_by(t.BILLING_PERIOD).aggregate(**{m: lines[m].sum() for m in METRICS})
    return {
        row[t.BILLING_PERIOD]: tuple(row[m] for m in METRICS)
        for row in ws.data.to_arrow(sums).to_pylist()
    }


def _by_category(ws: Workspace) -> dict[str, tuple[int, D, D]]:
    lines = ws.data.table(t.COST_LINES)
    sums = lines.group_by("ChargeCategory").aggregate(
        n=lines.count(), billed=lines.BilledCost.sum(), effective=lines.EffectiveCost.sum()
    )
    rows = ws.data.to_arrow(sums).to_pylist()
    return {row["ChargeCategory"]: (row["n"], row["billed"], row["effective"]) for row in rows}


def _lines(ws: Workspace) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = ws.data.to_arrow(
        ws.data.table(t.COST_LINES).order_by(t.ROW_NUMBER)
    ).to_pylist()
    return lines


def _quarantined(ws: Workspace) -> list[tuple[int, str, str]]:
    bad = ws.data.to_arrow(ws.data.table(t.QUARANTINE).order_by("line")).to_pylist()
    return [(row["line"], row["reason"], row["cost_text"]) for row in bad]


def test_the_aws_cur2_export_keeps_its_totals(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, CUR2)  # recognised by its snake_case header
    assert (result.kind, result.rows, result.quarantined, result.periods) == (
        "focus",
        11,
        1,
        ["2024-03"],
    )
    assert "read as AWS CUR 2.0 export (aws-cur2), mapped to FOCUS" in result.notes
    # by hand, line_item_unblended_cost of the 11 good lines: 10.06 + 0.345678909 + 0
    # + 200.00 + 1000.00 + 3.40 - 3.40 + 72.00 - 25.00 + 14.20 - 1.01 = 1270.595678909.
    # Effective: the reserved usage at reservation_effective_cost 7.25, the RIFee at its
    # unused 1.50 + 0.75, the upfront Fee at 0, the Savings Plan usage at 2.38, its negation at
    # 0, its fee at 72.00 - 70.00 used: 10.06 + 0.345678909 + 7.25 + 2.25 + 0 + 2.38 + 0 + 2.00
    # - 25.00 + 14.20 - 1.01 = 12.475678909. List: usage at pricing_public_on_demand_rate x
    # line_item_usage_amount (10.06, 0.345678909, 9.216, 3.40), the Savings Plan negation at 0
    # (it takes back the billed cost of the covered usage, not its list cost), the rest
    # unblended: 1270.595678909 + 3.40 = 1283.211678909. Contracted: unblended, the negation
    # at 0 likewise: 1273.995678909. (The negation's -3.40 in both, as before, made the covered
    # usage's savings negative: not FOCUS.)
    assert _totals(ws) == {
        "2024-03": (
            D("1270.595678909"),
            D("12.475678909"),
            D("1283.211678909"),
            D("1273.995678909"),
        )
    }
    assert _by_category(ws) == {
        "Usage": (4, D("13.805678909"), D("20.035678909")),
        "Purchase": (3, D("1272.00"), D("4.25")),
        "Credit": (3, D("-29.41"), D("-26.01")),
        "Tax": (1, D("14.20"), D("14.20")),
    }
    first = _lines(ws)[0]
    # resource_tags {"user_team": ...}: the prefix as the legacy report writes it
    assert dict(first["Tags"]) == {"user:team": "search", "user:use_case": "doc-search"}
    # product_name is in the product map, region_code and sku are columns of their own
    assert (first["ServiceName"], first["RegionId"], first["SkuId"]) == (
        "Amazon Elastic Compute Cloud",
        "us-east-1",
        "8GMJN4CJJ2Q6ZMV8",
    )
    assert (first["SubAccountId"], first["SubAccountName"]) == ("444455556666", "ml-prod")
    assert str(first["ChargePeriodStart"]) == "2024-03-05 00:00:00"
    assert dict(first[t.EXTENSIONS])["x_CostCategory"] == '{"environment":"production"}'
    # the S3 line's resource_tags is cut short: quarantined, its cost counted as refused
    [(line, reason, cost)] = _quarantined(ws)
    assert (line, cost) == (13, "0.23")
    assert reason == """Tags: '{"user_team": "search"' is not a valid tags"""


def test_cur2_and_the_legacy_report_are_not_taken_for_each_other(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(FileError, match="not an AWS Cost and Usage Report"):
        ingest(ws, CUR2, fmt="aws-cur")
    with pytest.raises(FileError, match=r"not an AWS CUR 2\.0 export"):
        ingest(ws, CUR, fmt="aws-cur2")
    assert ws.data.scalar(ws.data.table(t.COST_LINES).count()) == 0


def test_the_azure_mca_actual_export_keeps_its_totals(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, MCA_ACTUAL)  # auto reads an MCA header as the actual-cost export
    assert (result.rows, result.quarantined, result.periods) == (7, 1, ["2024-03"])
    assert any("(actual cost) (azure-mca)" in note for note in result.notes)
    # by hand, costInBillingCurrency (EUR) of the 7 good lines: 4.1472 + 2.4998625 + 0 + 0
    # (usage the reservation covers) + 90 (its purchase) - 4.5 (a refund) + 0.0036 (rounding)
    # = 92.1506625, billed and effective alike: the actual export amortises nothing.
    # List: paygCostInBillingCurrency 4.1472 + 2.777625 + 103.68 + 51.84, then the purchase,
    # the refund (PayGPrice 5 x -1 x 0.9) and the rounding at their cost: 247.948425.
    # Contracted: unitPrice x quantity x exchangeRatePricingToBilling 0.9: 24 x 0.192 x 0.9
    # + 1234.5 x 0.00225 x 0.9 + 300 x 0.384 x 0.9 + 150 x 0.384 x 0.9 + 1 x 100 x 0.9
    # - 1 x 5 x 0.9, + 0.0036 = 247.6706625.
    assert _totals(ws) == {
        "2024-03": (D("92.1506625"), D("92.1506625"), D("247.948425"), D("247.6706625"))
    }
    lines = _lines(ws)
    purchase = next(line for line in lines if line["ChargeCategory"] == "Purchase")
    assert (purchase["BilledCost"], purchase["EffectiveCost"]) == (D(90), D(90))
    assert purchase["ServiceName"] == "Microsoft.Capacity"  # consumedService: no meter
    first = lines[0]
    assert (first["BillingCurrency"], first["PricingCurrency"]) == ("EUR", "USD")
    # unit prices in the billing currency, as written in the pricing currency
    assert (first["ContractedUnitPrice"], first["PricingCurrencyContractedUnitPrice"]) == (
        D("0.1728"),
        D("0.192"),
    )
    assert dict(first["Tags"]) == {"use_case": "doc-search", "team": "search"}
    assert (str(first["ChargePeriodStart"]), str(first["BillingPeriodEnd"])) == (
        "2024-03-05 00:00:00",  # 03/05/2024, month first
        "2024-04-01 00:00:00",  # the day after 03/31/2024
    )
    assert dict(first[t.EXTENSIONS])["x_InvoiceSectionId"] == "WXYZ-1234-PJA-PGB"
    # Azure OpenAI is an AI service (reconcile compares gateway usage with it); every line has
    # the FOCUS category of its meter category (a null one, as before, is not FOCUS)
    categories = {
        line["ServiceName"]: (line["ServiceCategory"], line["ServiceSubcategory"]) for line in lines
    }
    assert categories["Foundry Models"] == ("AI and Machine Learning", "Generative AI")
    assert categories["Virtual Machines"] == ("Compute", "Virtual Machines")
    assert categories["Microsoft.Capacity"] == ("Other", "Other (Other)")
    # a cost written with a decimal comma is not guessed at
    assert _quarantined(ws) == [(4, "BilledCost: '4,05' is not a valid money", "4,05")]


def test_the_azure_mca_amortized_export_spreads_the_reservation(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, MCA_AMORTIZED, fmt="azure-mca-amortized")
    assert (result.rows, result.quarantined) == (7, 1)
    # by hand: the reservation bought for 90 EUR is 54 + 27 on the usage it covered and 9
    # unused; those bill nothing here (the purchase is billed in the actual export), so
    # billed is 4.1472 + 2.4998625 - 4.5 + 0.0036 = 2.1506625 and effective
    # 4.1472 + 2.4998625 + 54 + 27 + 9 - 4.5 + 0.0036 = 92.1506625, the actual export's total.
    # List: 4.1472 + 2.777625 + 103.68 + 51.84 + 9 (unused: no pay-as-you-go price) - 4.5
    # + 0.0036 = 166.948425; contracted the same with 2.4998625 for the tokens: 166.6706625.
    assert _totals(ws) == {
        "2024-03": (D("2.1506625"), D("92.1506625"), D("166.948425"), D("166.6706625"))
    }
    unused = next(line for line in _lines(ws) if line["ListCost"] == D(9))
    assert (unused["ChargeCategory"], unused["BilledCost"], unused["EffectiveCost"]) == (
        "Usage",
        D(0),
        D(9),
    )
    assert unused["CommitmentDiscountId"] == "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def test_an_azure_mca_export_read_as_the_other_is_refused_whole(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    # read as actual cost, the amortised reservation would be billed twice
    with pytest.raises(FileError, match=r"line 5: .*use --format azure-mca-amortized"):
        ingest(ws, MCA_AMORTIZED)
    # read as amortized cost, the reservation's purchase would be effective cost too
    with pytest.raises(FileError, match=r"line 7: .*use --format azure-mca$"):
        ingest(ws, MCA_ACTUAL, fmt="azure-mca-amortized")
    with pytest.raises(FileError, match="not an Azure EA cost export"):
        ingest(ws, MCA_ACTUAL, fmt="azure-ea")
    with pytest.raises(FileError, match=r"not an Azure MCA cost details export \(actual cost\)"):
        ingest(ws, EA, fmt="azure-mca")
    assert ws.data.scalar(ws.data.table(t.COST_LINES).count()) == 0
    assert ws.data.scalar(ws.data.table(t.QUARANTINE).count()) == 0


# by hand, per invoice month: cost plus credits (billed and effective), cost_at_list or cost
# (list), cost (contracted). March: 12.345678 - 2.469136 (sustained use) + 3.75 + 20.0 - 12.0
# (committed use) + 9.5 (the commitment's fee) + 5.0 - 5.0 (free trial) + 1.2e-05 - 1.2e-05
# (free tier) + 3.1415 (tax) - 7.5 (adjustment) + 0.000123 (rounding) = 26.768165; list
# 14.0 + 3.75 + 22.0 + 9.5 + 6.25 + 0.000012 + 3.1415 - 7.5 + 0.000123 = 51.141635;
# contracted 12.345678 + 3.75 + 20.0 + 9.5 + 5.0 + 0.000012 + 3.1415 - 7.5 + 0.000123
# = 46.237313. February: the storage line of 1.1 invoiced in 202402.
GCP_TOTALS = {
    "2024-03": (D("26.768165"), D("26.768165"), D("51.141635"), D("46.237313")),
    "2024-02": (D("1.1"), D("1.1"), D("1.1"), D("1.1")),
}


def test_the_gcp_export_keeps_its_totals(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, GCP_EXPORT)  # recognised by its first object's fields
    assert (result.rows, result.quarantined, result.periods) == (10, 1, ["2024-02", "2024-03"])
    assert _totals(ws) == GCP_TOTALS
    assert _by_category(ws) == {
        "Usage": (7, D("32.226542"), D("32.226542")),
        "Tax": (1, D("3.1415"), D("3.1415")),
        "Adjustment": (2, D("-7.499877"), D("-7.499877")),
    }
    lines = {line[t.ROW_NUMBER]: line for line in _lines(ws)}
    first = lines[1]
    # the project's labels are inherited; BigQuery's "... UTC" times are read as UTC
    assert dict(first["Tags"]) == {"env": "prod", "team": "search", "use_case": "doc-search"}
    assert (first["SubAccountId"], first["RegionId"], first["AvailabilityZone"]) == (
        "search-prod",
        "us-central1",
        "us-central1-a",
    )
    assert (str(first["ChargePeriodStart"]), str(first["BillingPeriodStart"])) == (
        "2024-03-05 00:00:00",
        "2024-03-01 00:00:00",
    )
    assert "compute.googleapis.com/machine_spec" in dict(first[t.EXTENSIONS])["x_SystemLabels"]
    # a resource's own label wins over its project's (use_case: shared)
    assert dict(lines[2]["Tags"]) == {"team": "ml", "use_case": "support-bot"}
    covered = lines[3]
    assert (covered["CommitmentDiscountCategory"], covered["PricingCategory"]) == (
        "Usage",
        "Committed",
    )
    assert (lines[9]["ChargeCategory"], lines[9]["ChargeClass"]) == ("Adjustment", "Correction")
    # 1.2e-05 less a credit of as much: exactly nothing
    assert lines[6]["BilledCost"] == D(0)
    assert _quarantined(ws) == [(7, "BilledCost: '-0.5 USD' is not a valid money", "-0.5 USD")]


@pytest.mark.spark_full
def test_a_gcp_export_saved_as_one_json_array_reads_the_same(tmp_path: Path) -> None:
    saved = tmp_path / "gcp.json"  # what bq query --format=json prints
    rows = GCP_EXPORT.read_text(encoding="utf-8").splitlines()
    saved.write_text("[\n" + ",\n".join(rows) + "\n]\n", encoding="utf-8")
    ws = make_workspace(tmp_path / "ws")
    [result] = ingest(ws, saved)
    assert (result.rows, result.quarantined) == (10, 1)
    assert _totals(ws) == GCP_TOTALS
    assert [line for line, _, _ in _quarantined(ws)] == [7]  # its position in the array


def test_a_broken_gcp_export_or_another_json_is_refused_whole(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    broken = tmp_path / "gcp.jsonl"
    broken.write_text(GCP_EXPORT.read_text(encoding="utf-8") + '{"cost": 1.0,\n')
    with pytest.raises(FileError, match="line 12 is not valid JSON"):
        ingest(ws, broken)
    listed = tmp_path / "list.jsonl"
    listed.write_text(GCP_EXPORT.read_text(encoding="utf-8") + "[1, 2]\n")
    with pytest.raises(FileError, match="line 12 is not a JSON object"):
        ingest(ws, listed, fmt="gcp")
    openai_costs = HERE / "openai-costs.json"
    with pytest.raises(FileError, match="not a Google Cloud billing export"):
        ingest(ws, openai_costs, fmt="gcp")
    with pytest.raises(FileError, match=r"not an AWS CUR 2\.0 export"):
        ingest(ws, MCA_ACTUAL, fmt="aws-cur2")
    assert ws.data.scalar(ws.data.table(t.COST_LINES).count()) == 0


def _as_ea(path: Path, tmp_path: Path) -> Path:
    """The MCA fixture with an EA export's header (PascalCase, no billing profile)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [name[:1].upper() + name[1:] for name in lines[0].split(",")]
    ea = tmp_path / f"ea-{path.name}"
    ea.write_text("\n".join([",".join(header), *lines[1:]]) + "\n", encoding="utf-8")
    return ea


def test_an_azure_ea_amortized_export_spreads_the_reservation(tmp_path: Path) -> None:
    amortized = _as_ea(MCA_AMORTIZED, tmp_path)
    ws = make_workspace(tmp_path / "ws")
    # auto reads an EA header as the actual-cost export, and the unused reservation says not
    with pytest.raises(FileError, match=r"line 5: .*use --format azure-ea-amortized"):
        ingest(ws, amortized)
    [result] = ingest(ws, amortized, fmt="azure-ea-amortized")
    assert (result.rows, result.quarantined) == (7, 1)
    # the same mapping as the MCA export's: the totals worked out in the test above
    assert _totals(ws) == {
        "2024-03": (D("2.1506625"), D("92.1506625"), D("166.948425"), D("166.6706625"))
    }
    with pytest.raises(FileError, match=r"line 7: .*use --format azure-ea$"):
        ingest(ws, _as_ea(MCA_ACTUAL, tmp_path), fmt="azure-ea-amortized", source="actual")
