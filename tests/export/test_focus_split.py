"""`apportion export focus` as FOCUS 1.3 split cost allocation, on cases computed by hand.

Every row is an allocated charge: one origin bill line and one published allocation. Its FOCUS
columns are the line's, its cost metrics the line's share, and the rows sum exactly to the line
(per origin) and to the published allocation (per target), in units of 10^-18.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apportion.export import focus
from apportion.export.focus import FOCUS_1_2, FOLLOWING, export_focus
from apportion.ledger.published import final_allocations
from apportion.periods import Period
from apportion.schema import tables as t
from apportion.schema.focus import COST_METRICS
from apportion.synth import ORGANISATION, generate, minimum_driver_rows
from apportion.synth.organisation import parse_period
from apportion.workspace import Workspace
from tests.focus_validator import failing_rules
from tests.helpers import (
    FOCUS_SAMPLE,
    GPU_RULES,
    allocate,
    ingest,
    make_workspace,
    write_drivers,
    write_focus,
)

D = Decimal
PERIOD = "2026-10"
DIMENSIONS = "dimensions: [cost_centre, use_case]\n"
SUMMED = (*COST_METRICS, *FOLLOWING)


# -- helpers -----------------------------------------------------------------------------------
def _export(ws: Workspace, out: Path, period: str = PERIOD) -> list[dict[str, Any]]:
    count = export_focus(ws, Period.parse(period), out)
    rows: list[dict[str, Any]] = pq.read_table(out).to_pylist()
    assert count == len(rows)
    return rows


def _ratio(row: dict[str, Any]) -> Decimal:
    details = json.loads(row["AllocatedMethodDetails"], parse_float=Decimal, parse_int=Decimal)
    [element] = details["Elements"]
    ratio: Decimal = element["AllocatedRatio"]
    return ratio


def _check_split(ws: Workspace, rows: list[dict[str, Any]], period: str = PERIOD) -> None:
    """The split cost allocation invariants, exactly: every bill line of the period appears;
    every row carries its origin line's own FOCUS columns; per origin line the rows sum to the
    line (cost metrics and quantities; a null stays null) and their AllocatedRatio to 1; per
    final allocation the rows sum to its published amount; no row names an allocation that is
    not final."""
    lines_expr = ws.data.table(t.COST_LINES)
    lines_expr = lines_expr.filter(lines_expr[t.BILLING_PERIOD] == period)
    lines = {row[t.LINE_ID]: row for row in ws.data.to_arrow(lines_expr).to_pylist()}
    final = {
        row["allocation_id"]: row
        for row in ws.data.to_arrow(final_allocations(ws, Period.parse(period))).to_pylist()
    }
    by_line: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_target: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_line[row[t.LINE_ID]].append(row)
        by_target[row["x_AllocationId"]].append(row)
    assert set(by_line) == set(lines)
    assert set(by_target) <= set(final)
    for line_id, found in by_line.items():
        origin = lines[line_id]
        for row in found:
            for name in FOCUS_1_2:
                if name in SUMMED:
                    continue
                if name == "Tags":
                    tags = None if row["Tags"] is None else json.loads(row["Tags"])
                    assert tags == (None if origin["Tags"] is None else dict(origin["Tags"]))
                else:
                    assert row[name] == origin[name], (line_id, name)
        for name in SUMMED:
            values = [row[name] for row in found]
            if origin[name] is None:
                assert values == [None] * len(found), (line_id, name)
            else:
                assert sum(values, D(0)) == origin[name], (line_id, name)
        assert sum((_ratio(row) for row in found), D(0)) == 1, line_id
    for allocation_id, allocation in final.items():
        for metric in COST_METRICS:
            found = by_target.get(allocation_id, [])
            total = sum((row[metric] or D(0) for row in found), D(0))
            assert total == allocation[metric], (allocation_id, metric)


def _driver(use_case: str, quantity: str, **extra: str) -> dict[str, str]:
    return {
        "timestamp": "2026-10-03T01:00:00Z",
        "driver": "gpu_seconds",
        "quantity": quantity,
        "resource_id": "gpu-1",
        "use_case": use_case,
        **extra,
    }


def _amounts(rows: list[dict[str, Any]], key: str, metric: str = "BilledCost") -> dict[Any, D]:
    return {(row["ChargeDescription"], row[key]): row[metric] for row in rows}


# -- (a) a proportional pool of two lines split to three targets by thirds ---------------------
@pytest.mark.spark_full
def test_proportional_thirds_are_exact_on_both_margins(tmp_path: Path, engine: str) -> None:
    """Lines L1 = 1 and L2 = 2 on gpu-1; gpu_seconds 1, 1, 1 for use cases a, b, c: the pool
    B = 3 goes 1, 1, 1 to the targets, and each line a third to each. In units u = 10^-18,
    a = (10^18, 2 x 10^18), column prefix sums P = (1, 2, 3) x 10^18.
    G(L1, j) = floor(10^18 x P_j / B) = 333333333333333333, 666666666666666666, 10^18;
    G(L2, j) = P_j. Cells are the corner differences:
      L1: 0.333333333333333333, 0.333333333333333333, 0.333333333333333334   (sum 1)
      L2: 0.666666666666666667, 0.666666666666666667, 0.666666666666666666   (sum 2)
    columns: 1, 1, 1, the published allocations. L2's ratios split 1 by its own cells:
    floor(10^18 x (0.666..667, 1.333..334, 2) / 2) = 0.333333333333333333, 0.666666666666666667,
    1: ratios 0.333333333333333333, 0.333333333333333334, 0.333333333333333333 (sum 1)."""
    ws = make_workspace(tmp_path / "ws", GPU_RULES, extra=DIMENSIONS)
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {
                "ResourceId": "gpu-1",
                "ChargeDescription": "L1",
                "BilledCost": "1",
                "EffectiveCost": "1",
                "ListCost": "1",
                "ContractedCost": "1",
                "PricingQuantity": "3",
                "ListUnitPrice": "0.333",
                "SkuId": "sku-1",
                "Tags": {"team": "ml"},
            },
            {
                "ResourceId": "gpu-1",
                "ChargeDescription": "L2",
                "BilledCost": "2",
                "EffectiveCost": "2",
                "ListCost": "2",
                "ContractedCost": "2",
            },
        ],
    )
    drivers = write_drivers(tmp_path / "drivers.csv", [_driver(uc, "1") for uc in ("a", "b", "c")])
    ingest(ws, bill, drivers)
    allocate(ws)
    rows = _export(ws, tmp_path / "out.parquet")
    third, two_thirds = D("0.333333333333333333"), D("0.666666666666666667")
    for metric in COST_METRICS:
        assert _amounts(rows, "x_use_case", metric) == {
            ("L1", "a"): third,
            ("L1", "b"): third,
            ("L1", "c"): D("0.333333333333333334"),
            ("L2", "a"): two_thirds,
            ("L2", "b"): two_thirds,
            ("L2", "c"): D("0.666666666666666666"),
        }
    ratios = {(row["ChargeDescription"], row["x_use_case"]): _ratio(row) for row in rows}
    assert [ratios["L2", uc] for uc in "abc"] == [third, D("0.333333333333333334"), third]
    # L1's quantity 3 follows its cost cells: 3 x 0.333333333333333333 = 0.999999999999999999
    # twice, and the rest, 1.000000000000000002, exact on the line
    quantity = {row["x_use_case"]: row["PricingQuantity"] for row in rows if row["SkuId"]}
    nearly = D("0.999999999999999999")
    assert quantity == {"a": nearly, "b": nearly, "c": D("1.000000000000000002")}
    assert {row["ListUnitPrice"] for row in rows if row["SkuId"]} == {D("0.333")}
    details = json.loads(rows[0]["AllocatedMethodDetails"])
    assert details["Elements"][0]["UsageUnit"] == "gpu_seconds"
    assert details["Elements"][0]["UsageQuantity"] == 1
    assert details["share"] == "1/3" and details["method"] == "proportional"
    assert {row["AllocatedMethodId"] for row in rows} == {"gpu"}
    assert {row["AllocatedResourceName"] for row in rows} == {"a", "b", "c"}
    tagged = next(row for row in rows if row["ChargeDescription"] == "L1")
    assert json.loads(tagged["Tags"]) == {"team": "ml"}
    _check_split(ws, rows)


# -- (b) credits and a pool whose total is zero ----------------------------------------------------
CREDITS = """rules:
  - name: credit
    match: "ResourceId = 'c'"
    method: even
    targets: {cost_centre: [cc-x, cc-y]}
  - name: zero
    match: "ResourceId = 'z'"
    method: even
    targets: {cost_centre: [cc-x, cc-y]}
"""


@pytest.mark.spark_full
def test_credits_and_a_pool_of_zero_total(tmp_path: Path, engine: str) -> None:
    """Pool "credit": C1 = 10 and C2 = -4, B = 6, even: 3 and 3. Cells a_i x 3 / 6:
    C1 -> 5, 5; C2 -> -2, -2 (G: A = (10, 6), P = (3, 6): G(C1) = 5, 10; G(C2) = 3, 6).
    Pool "zero": Z1 = 5 and Z2 = -5, B = 0, so both targets get 0 and each line is shared
    equally: G(i, j) = floor(A_i x j / 2) with A = (5, 0): Z1 -> 2.5, 2.5; Z2 -> -2.5, -2.5.
    Every column sums to its allocation (3, 3 and 0, 0); every row to its line."""
    ws = make_workspace(tmp_path / "ws", CREDITS, extra=DIMENSIONS)
    lines = [("C1", "c", "10"), ("C2", "c", "-4"), ("Z1", "z", "5"), ("Z2", "z", "-5")]
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {
                "ChargeDescription": name,
                "ResourceId": resource,
                **dict.fromkeys(COST_METRICS, amount),
            }
            for name, resource, amount in lines
        ],
    )
    ingest(ws, bill)
    allocate(ws)
    rows = _export(ws, tmp_path / "out.parquet")
    assert _amounts(rows, "x_cost_centre") == {
        ("C1", "cc-x"): D(5),
        ("C1", "cc-y"): D(5),
        ("C2", "cc-x"): D(-2),
        ("C2", "cc-y"): D(-2),
        ("Z1", "cc-x"): D("2.5"),
        ("Z1", "cc-y"): D("2.5"),
        ("Z2", "cc-x"): D("-2.5"),
        ("Z2", "cc-y"): D("-2.5"),
    }
    # a credit's ratios are shares of the credit itself
    assert {_ratio(row) for row in rows if row["ChargeDescription"] == "C2"} == {D("0.5")}
    _check_split(ws, rows)


# -- (c) a cascade ---------------------------------------------------------------------------------
CASCADE = """rules:
  - name: shared
    match: "ResourceId = 'shared'"
    method: even
    targets: {cost_centre: [cc-x, cc-y]}
  - name: cc-x-use-cases
    match: "cost_centre = 'cc-x'"
    method: fixed
    shares: {use_case: {a: 60, b: 40}}
"""


def test_cascade_keeps_the_origin_columns_through_two_generations(
    tmp_path: Path, engine: str
) -> None:
    """Generation 0 splits the pool (L1 = 1, L2 = 2; B = 3) evenly: cc-x 1.5 and cc-y 1.5,
    each line half to each (G: A = (1, 3), P = (1.5, 3): L1 -> 0.5, 0.5; L2 -> 1, 1).
    Generation 1 splits cc-x (1.5) 60/40 to use cases a (0.9) and b (0.6); its origin rows are
    cc-x's cells per line, L1 0.5 and L2 1: L1 -> 0.3, 0.2; L2 -> 0.6, 0.4.
    Published: cc-y 1.5 (L1 0.5 + L2 1), cc-x/a 0.9 (0.3 + 0.6), cc-x/b 0.6 (0.2 + 0.4).
    The intermediate cc-x allocation writes no row."""
    ws = make_workspace(tmp_path / "ws", CASCADE, extra=DIMENSIONS)
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {
                "ResourceId": "shared",
                "ChargeDescription": "L1",
                "SkuId": "sku-1",
                "RegionId": "eu-west-1",
                "PricingQuantity": "10",
                **dict.fromkeys(COST_METRICS, "1"),
            },
            {
                "ResourceId": "shared",
                "ChargeDescription": "L2",
                "SkuId": "sku-2",
                "RegionId": "eu-west-1",
                **dict.fromkeys(COST_METRICS, "2"),
            },
        ],
    )
    ingest(ws, bill)
    allocate(ws)
    rows = _export(ws, tmp_path / "out.parquet")
    targets = {(row["ChargeDescription"], row["x_cost_centre"], row["x_use_case"]) for row in rows}
    assert len(targets) == len(rows) == 6
    key = [(r["ChargeDescription"], r["x_cost_centre"] + "/" + r["x_use_case"]) for r in rows]
    assert dict(zip(key, (row["BilledCost"] for row in rows), strict=True)) == {
        ("L1", "cc-y/__unallocated__"): D("0.5"),
        ("L2", "cc-y/__unallocated__"): D(1),
        ("L1", "cc-x/a"): D("0.3"),
        ("L1", "cc-x/b"): D("0.2"),
        ("L2", "cc-x/a"): D("0.6"),
        ("L2", "cc-x/b"): D("0.4"),
    }
    for row in rows:  # the origin's own columns, two generations on
        assert row["SkuId"] == ("sku-1" if row["ChargeDescription"] == "L1" else "sku-2")
        assert row["RegionId"] == "eu-west-1" and row["ResourceId"] == "shared"
    quantities = {r["x_use_case"]: r["PricingQuantity"] for r in rows if r["SkuId"] == "sku-1"}
    assert quantities == {"__unallocated__": D(5), "a": D(3), "b": D(2)}
    cascaded = next(row for row in rows if row["x_use_case"] == "a")
    details = json.loads(cascaded["AllocatedMethodDetails"])
    assert details["path"] == "shared -> cc-x-use-cases" and details["method"] == "fixed"
    assert cascaded["AllocatedResourceId"] == "cost_centre=cc-x/use_case=a"
    assert json.loads(cascaded["AllocatedTags"]) == {"cost_centre": "cc-x", "use_case": "a"}
    assert {_ratio(row) for row in rows if row["ChargeDescription"] == "L1"} == {
        D("0.5"),
        D("0.3"),
        D("0.2"),
    }
    remainder = next(row for row in rows if row["x_cost_centre"] == "cc-y")
    assert json.loads(remainder["AllocatedMethodDetails"])["unallocated_dimensions"] == {
        "use_case": "rule shared named none, nor did the cost it split or the catalogue"
    }
    _check_split(ws, rows)


# -- (d) unallocated pools -------------------------------------------------------------------------
@pytest.mark.spark_full
def test_unallocated_rows_name_no_resource_and_say_why(tmp_path: Path, engine: str) -> None:
    """U1 (7) matches no rule; G1 (42) is on gpu-1 on 9 October, a day without gpu_seconds.
    Each is its own unallocated pool with one target, so each line is one row of its whole
    amount (7 and 42), AllocatedMethodId the rule that claimed it (__unallocated__ for U1, gpu
    for G1), no AllocatedResourceId, -Name or -Tags, and the reason in x_UnallocatedReason
    and AllocatedMethodDetails."""
    ws = make_workspace(tmp_path / "ws", GPU_RULES, extra=DIMENSIONS)
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {"ChargeDescription": "U1", "ResourceId": "lonely", "BilledCost": "7"},
            {
                "ChargeDescription": "G1",
                "ResourceId": "gpu-1",
                "BilledCost": "42",
                "ChargePeriodStart": "2026-10-09T00:00:00Z",
                "ChargePeriodEnd": "2026-10-10T00:00:00Z",
            },
        ],
    )
    drivers = write_drivers(tmp_path / "drivers.csv", [_driver("a", "1")])
    ingest(ws, bill, drivers)
    allocate(ws)
    rows = _export(ws, tmp_path / "out.parquet")
    assert _amounts(rows, "x_UnallocatedReason") == {
        ("U1", "no rule matched"): D(7),
        ("G1", "no gpu_seconds quantity"): D(42),
    }
    # the method is the rule that claimed the line, where one did
    assert _amounts(rows, "AllocatedMethodId") == {("U1", "__unallocated__"): 7, ("G1", "gpu"): 42}
    for row in rows:
        assert row["AllocatedResourceId"] is None and row["AllocatedResourceName"] is None
        assert row["AllocatedTags"] is None
        assert row["x_cost_centre"] == row["x_use_case"] == "__unallocated__"
        details = json.loads(row["AllocatedMethodDetails"])
        assert details["method"] == "unallocated" and details["Elements"] == [{"AllocatedRatio": 1}]
        assert set(details["unallocated_dimensions"]) == {"cost_centre", "use_case"}
    gpu = next(row for row in rows if row["ChargeDescription"] == "G1")
    assert gpu["ChargePeriodStart"].isoformat() == "2026-10-09T00:00:00"
    _check_split(ws, rows)


# -- (e) CSV and Parquet say the same --------------------------------------------------------------
@pytest.mark.spark_full
def test_csv_and_parquet_outputs_are_equal(tmp_path: Path, engine: str) -> None:
    """The cascade's month plus a tagged line whose tags need quoting ({"note": "a, \\"b\\""}):
    the CSV, read back with the Parquet file's types, is the Parquet file; its timestamps are
    written as FOCUS writes them (2026-10-03T00:00:00Z)."""
    ws = make_workspace(tmp_path / "ws", CASCADE, extra=DIMENSIONS)
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            {"ResourceId": "shared", "BilledCost": "1", "Tags": {"note": 'a, "b"'}},
            {"ResourceId": "shared", "BilledCost": "2", "ChargeDescription": 'say, "hi"'},
            {"ResourceId": "alone", "BilledCost": "0.000000000000000001"},
        ],
    )
    ingest(ws, bill)
    allocate(ws)
    period = Period.parse(PERIOD)
    assert export_focus(ws, period, tmp_path / "out.parquet") == 7
    assert export_focus(ws, period, tmp_path / "out.csv") == 7
    parquet = pq.read_table(tmp_path / "out.parquet")
    assert "2026-10-03T00:00:00Z" in (tmp_path / "out.csv").read_text(encoding="utf-8")
    zoned = pa.schema(
        [
            f.with_type(pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(f.type) else f
            for f in parquet.schema
        ]
    )
    read = pacsv.read_csv(
        tmp_path / "out.csv",
        convert_options=pacsv.ConvertOptions(
            column_types=zoned, strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )
    assert read.cast(parquet.schema).equals(parquet)


# -- (f) batches ---------------------------------------------------------------------------------
BATCHED = """rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
  - name: gpu
    match: "ResourceId = 'gpu-1'"
    method: proportional
    driver: gpu_seconds
    window: day
  - name: shared
    match: "ResourceId = 'shared'"
    method: even
    targets: {cost_centre: [cc-x, cc-y, cc-z]}
  - name: cc-x-use-cases
    match: "cost_centre = 'cc-x'"
    method: fixed
    shares: {use_case: {a: 50, b: 30, c: 20}}
"""


@pytest.mark.spark_full
def test_tiny_batches_write_the_same_rows_as_one_batch(
    tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five gpu-1 lines (1, 2, 3, 4, 5; gpu_seconds 1 and 2 for a and b), four shared lines
    (1, 1, 1, 0.01: thirds, then cc-x's third 50/30/20), two tagged lines and one line of
    zeros. With batches of 2 lines, 3 rows per write and 2 cells per block, the gpu pool is
    read in pages, the cascade in pieces and the zeros' row still appears once: the rows are
    those of one batch, and both margins hold. The tagged lines' AllocatedTags are null: their
    owner is their own use_case tag, which Tags already carries."""
    ws = make_workspace(tmp_path / "ws", BATCHED, extra=DIMENSIONS)
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            *({"ResourceId": "gpu-1", "BilledCost": str(k)} for k in range(1, 6)),
            *({"ResourceId": "shared", "BilledCost": v} for v in ("1", "1", "1", "0.01")),
            {"ResourceId": "p1", "BilledCost": "3", "Tags": {"use_case": "a"}},
            {"ResourceId": "p2", "BilledCost": "4", "Tags": {"use_case": "b"}},
            {"ResourceId": "gpu-1", "BilledCost": "0"},
        ],
    )
    drivers = write_drivers(tmp_path / "drivers.csv", [_driver("a", "1"), _driver("b", "2")])
    ingest(ws, bill, drivers)
    allocate(ws)
    whole = _export(ws, tmp_path / "whole.parquet")
    monkeypatch.setattr(focus, "BATCH_LINES", 2)
    monkeypatch.setattr(focus, "FLUSH_ROWS", 3)
    monkeypatch.setattr(focus, "BLOCK_CELLS", 2)
    pieces = _export(ws, tmp_path / "pieces.parquet")

    def order(row: dict[str, Any]) -> tuple[str, str]:
        return row[t.LINE_ID], row["x_AllocationId"]

    assert sorted(pieces, key=order) == sorted(whole, key=order)
    zeros = [row for row in whole if row["BilledCost"] == 0 and row["ListCost"] == 0]
    assert len(zeros) == 1
    # a direct line's owner is its own tag: AllocatedTags leaves out what Tags already says
    direct = {row["AllocatedResourceId"]: row["AllocatedTags"] for row in whole if row["Tags"]}
    assert direct == {"use_case=a": None, "use_case=b": None}
    _check_split(ws, pieces)


# -- (g) property: random bills and rules ----------------------------------------------------------
_AMOUNTS = st.builds(
    lambda units, places: format(D(units).scaleb(-places), "f"),
    st.integers(-(10**9), 10**9),
    st.sampled_from([0, 2, 6, 18]),
)
_LINE = st.tuples(st.sampled_from(["gpu-1", "shared", "fixed", "none"]), _AMOUNTS, _AMOUNTS)
Line = tuple[str, str, str]
_RULES = """rules:
  - name: gpu
    match: "ResourceId = 'gpu-1'"
    method: proportional
    driver: gpu_seconds
    window: day
  - name: shared
    match: "ResourceId = 'shared'"
    method: even
    targets: {cost_centre: [cc-x, cc-y, cc-z]}
  - name: fixed
    match: "ResourceId = 'fixed'"
    method: fixed
    shares: {cost_centre: {cc-x: 33.3, cc-y: 66.7}}
  - name: cc-x-use-cases
    match: "cost_centre = 'cc-x'"
    method: fixed
    shares: {use_case: {a: 12.5, b: 87.5}}
"""


@pytest.mark.duckdb
@settings(max_examples=4)
@given(
    lines=st.lists(_LINE, min_size=1, max_size=8),
    quantities=st.lists(st.integers(0, 10**6), min_size=0, max_size=4),
)
def test_random_bills_split_exactly_on_both_margins(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    lines: list[Line],
    quantities: list[int],
) -> None:
    """Any bill (credits, zero totals, amounts with 0 to 18 places) under proportional, even
    and fixed rules and a cascade: every origin line and every published allocation is exact,
    and every line appears."""
    monkeypatch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
    root = tmp_path / uuid.uuid4().hex
    ws = make_workspace(root / "ws", _RULES, extra=DIMENSIONS)
    bill = write_focus(
        root / "bill.csv",
        [
            {
                "ResourceId": resource,
                "BilledCost": billed,
                "EffectiveCost": effective,
                "ListCost": billed,
                "ContractedCost": "0",
                "PricingQuantity": "7",
            }
            for resource, billed, effective in lines
        ],
    )
    drivers = write_drivers(
        root / "drivers.csv",
        [_driver(f"uc-{k}", str(q)) for k, q in enumerate(quantities)],
    )
    ingest(ws, bill, drivers)
    allocate(ws)
    rows = _export(ws, root / "out.parquet")
    _check_split(ws, rows)
    ws.close()
    shutil.rmtree(root)


# -- (h) the FinOps Foundation's validator ---------------------------------------------------------
@pytest.mark.duckdb
@pytest.mark.focus_validator
def test_the_export_fails_no_rule_its_input_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two inputs: the synthetic demo month (eleven providers' FOCUS bills, the demo's rules)
    and the FinOps Foundation's public 1,000-line sample (thirds of Compute to three cost
    centres, one of them split again 33.3/66.7 to use cases, Networking 70/30, the rest
    unallocated). Each is exported as FOCUS and validated beside its input: every rule the
    export fails, the input fails too."""
    monkeypatch.setenv("APPORTION_ENGINE_TYPE", "duckdb")
    month = generate(
        tmp_path / "inputs",
        driver_rows=minimum_driver_rows(ORGANISATION, parse_period(PERIOD)),
    )
    (tmp_path / "demo").mkdir()
    for mapping in month.mapping_files:
        shutil.copyfile(mapping, tmp_path / "demo" / mapping.name)
    demo = Workspace.create(tmp_path / "demo", "version: 1\n" + month.config_yaml)
    ingest(demo, *month.cost_files, *month.driver_files)
    allocate(demo)
    assert export_focus(demo, Period.parse(PERIOD), tmp_path / "demo.csv") > 0
    bills = tmp_path / "bills.csv"  # the eleven bills as one FOCUS file (same header)
    with bills.open("w", encoding="utf-8") as joined:
        for k, path in enumerate(month.cost_files):
            text = path.read_text(encoding="utf-8").splitlines(keepends=True)
            joined.writelines(text if k == 0 else text[1:])

    sample = make_workspace(
        tmp_path / "sample",
        """rules:
  - name: compute
    match: "ServiceCategory = 'Compute'"
    method: even
    targets: {cost_centre: [cc-a, cc-b, cc-c]}
  - name: network
    match: "ServiceCategory = 'Networking'"
    method: fixed
    shares: {cost_centre: {cc-x: 70, cc-y: 30}}
  - name: cc-a-use-cases
    match: "cost_centre = 'cc-a'"
    method: fixed
    shares: {use_case: {bot: 33.3, search: 66.7}}
""",
        extra=DIMENSIONS,
    )
    ingest(sample, FOCUS_SAMPLE)
    allocate(sample, "2024-09")
    rows = _export(sample, tmp_path / "sample.parquet", "2024-09")
    _check_split(sample, rows, "2024-09")

    for exported, given_file in (
        (tmp_path / "demo.csv", bills),
        (tmp_path / "sample.parquet", FOCUS_SAMPLE),
    ):
        ours, theirs = failing_rules(exported), failing_rules(given_file)
        assert ours <= theirs, f"{exported.name} fails {sorted(ours - theirs)}"
