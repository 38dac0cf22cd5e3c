"""The synthetic month: deterministic, FOCUS-shaped, exact money, well-typed drivers."""

from __future__ import annotations

import csv
import hashlib
import inspect
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from apportion.synth import ORGANISATION, SynthOutput, generate
from apportion.synth.bills import FOCUS_HEADER, fmt, scaled
from apportion.synth.demo_config import OBSERVABILITY, TOOLING
from apportion.synth.organisation import FEATURE_READS_GAP_DAY, parse_period

ROWS = 20_000
MONEY = re.compile(r"^-?\d+(\.\d{1,10})?$")
COST_METRICS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
PERIOD_START = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> SynthOutput:
    return generate(tmp_path_factory.mktemp("synth"), driver_rows=ROWS)


def _digests(result: SynthOutput, root: Path) -> dict[str, str]:
    files = (*result.cost_files, *result.driver_files, *result.metrics_files)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _all_rows(out: SynthOutput) -> list[dict[str, str]]:
    return [row for path in out.cost_files for row in _rows(path)]


def _drivers(out: SynthOutput) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in out.driver_files)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", driver_rows=ROWS)
    again = generate(tmp_path / "b", driver_rows=ROWS)
    other = generate(tmp_path / "c", driver_rows=ROWS, seed=8)
    a, b, c = (
        _digests(first, tmp_path / "a"),
        _digests(again, tmp_path / "b"),
        _digests(other, tmp_path / "c"),
    )
    assert a == b
    assert a.keys() == c.keys()
    differing = {name for name in a if a[name] != c[name]}
    fixed_price = {"databricks", "wandb", "red-team"}  # contracts, no usage to draw
    assert differing == {name for name in a if Path(name).name.split("-2026")[0] not in fixed_price}
    assert first.config_yaml == again.config_yaml


def test_cost_files_are_focus_csv(out: SynthOutput) -> None:
    assert len(out.cost_files) >= 1 and len(out.driver_files) in (1, 2, 3)
    total = 0
    for path in out.cost_files:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert tuple(rows[0]) == FOCUS_HEADER
        assert rows[1:], path
        assert all(len(row) == len(FOCUS_HEADER) for row in rows)
        total += len(rows) - 1
    assert total == out.cost_rows
    assert 5_000 <= total <= 50_000


def test_money_is_exact_decimal_text(out: SynthOutput) -> None:
    rows = _all_rows(out)
    for row in rows:
        for metric in COST_METRICS:
            assert MONEY.match(row[metric]), (metric, row[metric])
        for column in ("ListUnitPrice", "ContractedUnitPrice", "PricingQuantity"):
            assert row[column] == "" or MONEY.match(row[column]), (column, row[column])
        assert "e" not in row["BilledCost"].lower()
    # usage lines are exactly quantity x unit price
    priced = [r for r in rows if r["ChargeCategory"] == "Usage"]
    for row in priced[:: max(1, len(priced) // 500)]:
        assert Decimal(row["PricingQuantity"]) * Decimal(row["ListUnitPrice"]) == Decimal(
            row["ListCost"]
        )


def test_cost_metrics_are_realistic(out: SynthOutput) -> None:
    rows = _all_rows(out)
    for row in rows:
        listed, contracted, effective, billed = (
            Decimal(row[m]) for m in ("ListCost", "ContractedCost", "EffectiveCost", "BilledCost")
        )
        assert listed >= contracted >= effective
        assert billed == effective
    categories = {row["ChargeCategory"] for row in rows}
    assert categories == {"Usage", "Purchase", "Tax", "Credit"}
    assert all(Decimal(r["BilledCost"]) < 0 for r in rows if r["ChargeCategory"] == "Credit")
    assert any(0 < Decimal(r["BilledCost"]) < Decimal("0.000001") for r in rows)
    total = sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0))
    assert Decimal(100_000) < total < Decimal(1_000_000)


def test_charge_periods_are_inside_the_billing_period(out: SynthOutput) -> None:
    for row in _all_rows(out):
        assert row["BillingPeriodStart"] == "2026-10-01T00:00:00Z"
        assert row["BillingPeriodEnd"] == "2026-11-01T00:00:00Z"
        start = datetime.strptime(row["ChargePeriodStart"], "%Y-%m-%dT%H:%M:%SZ")
        end = datetime.strptime(row["ChargePeriodEnd"], "%Y-%m-%dT%H:%M:%SZ")
        assert PERIOD_START <= start.replace(tzinfo=UTC) < end.replace(tzinfo=UTC) <= PERIOD_END


def test_tagging_matches_the_organisation(out: SynthOutput) -> None:
    rows = _all_rows(out)
    names = ORGANISATION.use_case_names
    shared = {"eks-gpu-prod", "bedrock-shared-key", "pinecone-shared", "feature-store-prod"}
    for row in rows:
        tags = json.loads(row["Tags"]) if row["Tags"] else {}
        if "use_case" in tags:
            use_case = ORGANISATION.use_case(tags["use_case"])
            assert tags == use_case.dims
        assert row["ResourceId"] not in shared or "use_case" not in tags
    tagged = {json.loads(r["Tags"]).get("use_case") for r in rows if r["Tags"]} - {None}
    # the OpenAI bill is untagged: its projects are mapped (the test below)
    openai = {r["SubAccountName"] for r in rows if r["ProviderName"] == "OpenAI"}
    assert tagged <= names and openai <= names and len(tagged | openai) >= 10
    assert any(json.loads(r["Tags"] or "{}") == {"programme": "red-team"} for r in rows)
    providers = {r["ProviderName"] for r in rows}
    assert {"OpenAI", "Anthropic", "AWS", "Microsoft", "Pinecone", "Datadog"} <= providers


def test_driver_schema_is_exact(out: SynthOutput) -> None:
    for path in out.driver_files:
        schema = pq.read_schema(path)
        assert schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
        assert schema.field("quantity").type == pa.decimal128(38, 12)
        for name in ("driver", "resource_id", "use_case", "cost_centre", "environment"):
            assert schema.field(name).type == pa.string()
        assert schema.field("lifecycle_stage").type == pa.string()
        assert schema.names == [
            "timestamp",
            "driver",
            "quantity",
            "resource_id",
            "use_case",
            "cost_centre",
            "environment",
            "lifecycle_stage",
        ]


def test_driver_rows_and_timestamps(out: SynthOutput) -> None:
    table = _drivers(out)
    assert table.num_rows == out.driver_rows == ROWS
    low, high = pc.min_max(table["timestamp"]).values()
    assert low.as_py() >= PERIOD_START and high.as_py() < PERIOD_END
    zero = pa.scalar(Decimal(0), pa.decimal128(38, 12))
    assert pc.all(pc.greater(table["quantity"], zero)).as_py()
    drivers = set(table["driver"].to_pylist())
    assert drivers == {
        "gpu_seconds",
        "gpu_reserved_seconds",
        "gpu_capacity_seconds",
        "tokens",
        "vector_queries",
        "feature_reads",
        "pipeline_job_seconds",
        "requests",
        "seats",
    }
    counts = pc.value_counts(table["driver"]).to_pylist()
    assert max(counts, key=lambda c: c["counts"])["values"] == "gpu_seconds"
    use_cases = set(table["use_case"].drop_null().to_pylist())
    # the platform services name each other where they consume each other (a rule group)
    assert use_cases <= ORGANISATION.use_case_names | {TOOLING, OBSERVABILITY}


def test_feature_reads_have_a_gap_day(out: SynthOutput) -> None:
    table = _drivers(out)
    reads = table.filter(pc.equal(table["driver"], "feature_reads"))
    days = {ts.day for ts in reads["timestamp"].to_pylist()}
    assert FEATURE_READS_GAP_DAY not in days
    assert len(days) == parse_period("2026-10").days - 1
    gpu = table.filter(pc.equal(table["driver"], "gpu_seconds"))
    assert set(gpu["resource_id"].to_pylist()) == {"eks-gpu-prod"}


def test_default_row_count_is_large_enough() -> None:
    default = inspect.signature(generate).parameters["driver_rows"].default
    assert default >= 1_000_000


def test_the_openai_bill_is_untagged_and_its_projects_are_mapped(out: SynthOutput) -> None:
    [bill] = [path for path in out.cost_files if path.name.startswith("openai")]
    rows = _rows(bill)
    assert rows and not any(row["Tags"] for row in rows)
    [mapping] = [path for path in out.mapping_files if path.name == "openai-projects.csv"]
    with mapping.open(encoding="utf-8", newline="") as handle:
        projects = {row.pop("SubAccountId"): row for row in csv.DictReader(handle)}
    for row in rows:
        project = projects[row["SubAccountId"]]
        assert {k: v for k, v in project.items() if k != "name"} == ORGANISATION.use_case(
            project["name"]
        ).dims


def test_too_few_driver_rows_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too few"):
        generate(tmp_path, driver_rows=100)
    with pytest.raises(ValueError, match="YYYY-MM"):
        generate(tmp_path, period="2026-13")


def test_config_yaml_names_real_use_cases(out: SynthOutput) -> None:
    config = yaml.safe_load(out.config_yaml)
    assert config["dimensions"] == ["cost_centre", "use_case", "environment", "lifecycle_stage"]
    rules = {rule["name"]: rule for rule in config["rules"]}
    named: set[str] = set()
    for rule in config["rules"]:
        named |= set(rule.get("shares", {}).get("use_case", {}))
        named |= set(rule.get("targets", {}).get("use_case", []))
    assert named and named <= ORGANISATION.use_case_names
    assert sum(rules["red-team-programme"]["shares"]["use_case"].values()) == 100
    order = list(rules)
    assert order.index("red-team-programme") < order.index("labelling")
    assert rules["owned-spend"]["method"] == "direct"
    assert config["tags"]["inherit"] == [{"file": "openai-projects.csv", "column": "SubAccountId"}]
    assert rules["gpu-inference-cluster"]["driver"] == "gpu_seconds"


def test_other_periods(tmp_path: Path) -> None:
    result = generate(tmp_path, period="2027-02", driver_rows=ROWS)
    rows = _rows(result.cost_files[0])
    assert rows[0]["BillingPeriodEnd"] == "2027-03-01T00:00:00Z"
    assert rows[-1]["ChargePeriodEnd"] <= "2027-03-01T00:00:00Z"


@pytest.mark.parametrize(
    ("text", "scale", "value"),
    [("2.00", 4, 20_000), ("-250.37", 10, -2_503_700_000_000), ("0.0000008", 10, 8_000)],
)
def test_exact_decimal_helpers(text: str, scale: int, value: int) -> None:
    assert scaled(text, scale) == value
    assert Decimal(fmt(value, scale)) == Decimal(text)
    assert fmt(0, 10) == "0"


def test_the_catalogue_names_each_use_case_cost_centre(out: SynthOutput) -> None:
    """The demo's catalogue (tags.catalogue) lists every cost centre, and every use case with
    the cost centre, environment and lifecycle stage the organisation gives it: what lets cost
    split to use cases (labelling, red team) reach their cost centres."""
    [catalogue] = [path for path in out.mapping_files if path.name == "catalogue.csv"]
    with catalogue.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    centres = {row["value"] for row in rows if row["dimension"] == "cost_centre"}
    assert centres == ORGANISATION.cost_centre_names
    use_cases = {row["value"]: row for row in rows if row["dimension"] == "use_case"}
    assert set(use_cases) == ORGANISATION.use_case_names
    for name, row in use_cases.items():
        said = ORGANISATION.use_case(name).dims
        assert {d: row[d] for d in ("cost_centre", "environment", "lifecycle_stage")} == {
            d: said[d] for d in ("cost_centre", "environment", "lifecycle_stage")
        }
    assert "catalogue: catalogue.csv" in out.config_yaml
