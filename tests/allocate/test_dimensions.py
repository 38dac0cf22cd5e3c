"""Every cent keeps its origin and reaches a payer (issue 22): pools never blur the bill's own
columns, targets keep what the line and earlier rules said and fill the rest from the
catalogue, what stays unallocated says why per dimension, and every view gives one figure."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from apportion.access import Caller
from apportion.allocate import Period
from apportion.allocate.conservation import ConservationError, check_conservation
from apportion.allocate.pool import Pool
from apportion.explore.overview import overview
from apportion.ledger.grain import BILL_GROUPS, EXTRA_GROUPS, statements
from apportion.ledger.lines import allocated_lines
from apportion.ledger.published import final_allocations
from apportion.money import exact_sum
from apportion.schema import tables as t
from apportion.schema.currency import minor_units
from apportion.schema.focus import COST_METRICS
from apportion.workspace import Workspace
from tests.engines import examples
from tests.helpers import (
    allocate,
    billed_by,
    ingest,
    make_workspace,
    period_totals,
    write_drivers,
    write_focus,
)

OCTOBER = Period.parse("2026-10")
D = Decimal
CATALOGUE = """dimension,value,cost_centre
use_case,bot,cs
use_case,scorer,risk
use_case,search,cs
use_case,shared,platform
"""


def _workspace(root: Path, rules: str, catalogue: str | None = CATALOGUE) -> Workspace:
    extra = ""
    if catalogue is not None:
        root.mkdir(parents=True, exist_ok=True)
        (root / "catalogue.csv").write_text(catalogue)
        extra = "tags: {catalogue: catalogue.csv}\n"
    return make_workspace(root, rules, extra=extra)


def _final_rows(ws: Workspace) -> list[dict[str, Any]]:
    """Final allocations as dicts, with their dimensions as a dict and their pool's origin
    (the values its bill lines had)."""
    rows = ws.data.to_arrow(final_allocations(ws, OCTOBER)).to_pylist()
    pools = ws.data.table(t.POOLS)
    origin = {
        row["pool_id"]: dict(row["origin"] or [])
        for row in ws.data.to_arrow(pools.select("pool_id", "origin")).to_pylist()
    }
    return [
        {**row, "dimensions": dict(row["dimensions"]), "origin": origin[row["pool_id"]]}
        for row in rows
    ]


def _stated(ws: Workspace, by: str) -> dict[tuple[str, ...], Decimal]:
    lines, _ = statements(ws, OCTOBER, by.split(","))
    return {tuple(line.keys.values()): line.amounts["BilledCost"] for line in lines}


def test_a_pool_never_mixes_providers_or_services(tmp_path: Path) -> None:
    """One fixed rule claims lines of two providers. Before issue 22 their pool kept the
    provider and service of one of them (Databricks 36,000 against a bill of 24,000). Now
    each (provider, service) is its own pool: 24,000 Databricks and 12,870 Weights & Biases,
    each split 60/40, and the statement by provider and service is the bill's."""
    ws = _workspace(
        tmp_path / "ws",
        "rules:\n  - {name: licences, match: \"ChargeCategory = 'Purchase'\", method: fixed,"
        " shares: {use_case: {bot: 60, scorer: 40}}}\n",
    )
    bill = write_focus(
        tmp_path / "b.csv",
        [
            {
                "ProviderName": "Databricks",
                "ServiceName": "Databricks Platform",
                "ChargeCategory": "Purchase",
                "BilledCost": "24000",
            },
            {
                "ProviderName": "Weights & Biases",
                "ServiceName": "W&B Models",
                "ChargeCategory": "Purchase",
                "BilledCost": "12870",
            },
        ],
    )
    ingest(ws, bill)
    allocate(ws)
    assert _stated(ws, "provider,service") == {
        ("Databricks", "Databricks Platform"): D("24000.00"),
        ("Weights & Biases", "W&B Models"): D("12870.00"),
    }
    # 60% of each to bot (cs), 40% to scorer (risk): 14,400 + 7,722 and 9,600 + 5,148
    assert _stated(ws, "provider,use_case,cost_centre") == {
        ("Databricks", "bot", "cs"): D("14400.00"),
        ("Databricks", "scorer", "risk"): D("9600.00"),
        ("Weights & Biases", "bot", "cs"): D("7722.00"),
        ("Weights & Biases", "scorer", "risk"): D("5148.00"),
    }


def test_even_and_fixed_targets_reach_the_use_case_cost_centre(tmp_path: Path) -> None:
    """Labelling (40, even over bot and scorer) and red-team work (10, fixed 60/40) name only
    use cases; the catalogue says bot is cs's and scorer risk's, so no cost centre is
    __unallocated__: cs 20 + 6, risk 20 + 4."""
    ws = _workspace(
        tmp_path / "ws",
        """rules:
  - {name: red-team, match: "tags['programme'] = 'red-team'", method: fixed,
     shares: {use_case: {bot: 60, scorer: 40}}}
  - {name: labelling, match: "ServiceName = 'Scale'", method: even,
     targets: {use_case: [bot, scorer]}}
""",
    )
    bill = write_focus(
        tmp_path / "b.csv",
        [
            {"ServiceName": "Scale", "BilledCost": "40"},
            {"ServiceName": "Red", "BilledCost": "10", "Tags": {"programme": "red-team"}},
        ],
    )
    ingest(ws, bill)
    allocate(ws)
    assert billed_by(ws, "cost_centre") == {"cs": D(26), "risk": D(24)}
    # what none of them names (environment, lifecycle stage) stays unallocated, with why
    for row in _final_rows(ws):
        assert row["dimensions"]["cost_centre"] != t.UNALLOCATED
        assert row["dimensions"]["environment"] == t.UNALLOCATED
        assert row["gap_reason"] == (
            f"rule {row['rule']} named none, nor did the cost it split or the catalogue"
        )


def test_a_resplit_keeps_the_cost_centre_an_earlier_rule_set(tmp_path: Path) -> None:
    """An even split to cost centres cc-x and cc-y (100: 50 each), then cc-x's share split
    60/40 by use case. Before issue 22 the second split erased cc-x (its statement "had no
    lines"); now cc-x keeps its 50, as 30 to a and 20 to b."""
    ws = _workspace(
        tmp_path / "ws",
        """rules:
  - {name: platform, match: "ServiceName = 'Platform'", method: even,
     targets: {cost_centre: [cc-x, cc-y]}}
  - {name: cc-x-by-use-case, match: "cost_centre = 'cc-x'", method: fixed,
     shares: {use_case: {a: 60, b: 40}}}
""",
        catalogue=None,
    )
    ingest(ws, write_focus(tmp_path / "b.csv", [{"ServiceName": "Platform", "BilledCost": "100"}]))
    allocate(ws)
    assert _stated(ws, "cost_centre,use_case") == {
        ("cc-x", "a"): D("30.00"),
        ("cc-x", "b"): D("20.00"),
        ("cc-y", t.UNALLOCATED): D("50.00"),
    }
    # cc-y's use case is missing, and it says why
    [cc_y] = [row for row in _final_rows(ws) if row["dimensions"]["cost_centre"] == "cc-y"]
    assert "named none" in cc_y["gap_reason"]


def test_targets_may_name_several_dimensions(tmp_path: Path) -> None:
    """List forms: even over two (cost centre, use case) pairs, fixed over pairs with shares.
    12 evenly: 6 and 6; 10 at 70/30: 7 and 3."""
    ws = _workspace(
        tmp_path / "ws",
        """rules:
  - name: pairs-even
    match: "ServiceName = 'A'"
    method: even
    targets: [{cost_centre: ops, use_case: x}, {cost_centre: dev, use_case: y}]
  - name: pairs-fixed
    match: "ServiceName = 'B'"
    method: fixed
    shares: [{cost_centre: ops, use_case: x, share: 70}, {cost_centre: dev, share: 30}]
""",
        catalogue=None,
    )
    bill = write_focus(
        tmp_path / "b.csv",
        [{"ServiceName": "A", "BilledCost": "12"}, {"ServiceName": "B", "BilledCost": "10"}],
    )
    ingest(ws, bill)
    allocate(ws)
    assert _stated(ws, "service,cost_centre,use_case") == {
        ("A", "dev", "y"): D("6.00"),
        ("A", "ops", "x"): D("6.00"),
        ("B", "dev", t.UNALLOCATED): D("3.00"),
        ("B", "ops", "x"): D("7.00"),
    }


def test_targets_keep_what_the_line_said_unless_the_rule_names_it(tmp_path: Path) -> None:
    """A GPU line tagged environment=staging and cost_centre=platform, split by drivers that
    name use case and cost centre but no environment: the targets take the drivers' cost
    centres (the rule names them) and keep the line's environment (the rule names none)."""
    ws = _workspace(
        tmp_path / "ws",
        "rules:\n  - {name: gpu, match: \"ResourceId = 'gpu-1'\", method: proportional,"
        " driver: gpu_seconds, window: day}\n",
        catalogue=None,
    )
    bill = write_focus(
        tmp_path / "b.csv",
        [
            {
                "ResourceId": "gpu-1",
                "BilledCost": "9",
                "Tags": {"environment": "staging", "cost_centre": "platform"},
            }
        ],
    )
    drivers = write_drivers(
        tmp_path / "d.csv",
        [
            {
                "timestamp": "2026-10-03T01:00:00Z",
                "driver": "gpu_seconds",
                "quantity": q,
                "resource_id": "gpu-1",
                "use_case": u,
                "cost_centre": c,
            }
            for q, u, c in (("1", "bot", "cs"), ("2", "scorer", "risk"))
        ],
    )
    ingest(ws, bill, drivers)
    allocate(ws)
    assert _stated(ws, "cost_centre,use_case,environment") == {
        ("cs", "bot", "staging"): D("3.00"),
        ("risk", "scorer", "staging"): D("6.00"),
    }
    # what the bill said stays bill-side: by the line's own values, all 9 is platform's
    assert {row["origin"]["cost_centre"] for row in _final_rows(ws)} == {"platform"}


def test_unallocated_is_one_figure_by_reason_and_dimension(tmp_path: Path) -> None:
    """No rule claims an untagged 5 and a 2 tagged cost_centre=ops; a direct rule places 3
    for bot. Unallocated is the 5 that reaches no payer (ops's 2 reaches its cost centre by
    its own tag, with no use case): the same in totals, statements and the overview."""
    ws = _workspace(
        tmp_path / "ws",
        'rules:\n  - {name: owned, match: "use_case IS NOT NULL", method: direct}\n',
        catalogue="dimension,value,cost_centre\nuse_case,bot,cs\ncost_centre,ops,\n",
    )
    bill = write_focus(
        tmp_path / "b.csv",
        [
            {"ServiceName": "Untagged", "BilledCost": "5", "EffectiveCost": "5"},
            {
                "ServiceName": "Ops",
                "BilledCost": "2",
                "EffectiveCost": "2",
                "Tags": {"cost_centre": "ops"},
            },
            {
                "ServiceName": "Bot",
                "BilledCost": "3",
                "EffectiveCost": "3",
                "Tags": {"use_case": "bot"},
            },
        ],
    )
    ingest(ws, bill)
    allocate(ws)
    report = period_totals(ws)
    [billed] = [m for m in report.metrics if m.metric == "BilledCost"]
    assert billed.unallocated == D(5)
    assert billed.allocated["direct"] == D(3)
    assert billed.allocated["unsplit"] == D(2)
    assert billed.stated["unallocated"] == D("5.00")
    assert report.unallocated_by_reason["USD"]["BilledCost"] == {"no rule matched": D("5.00")}
    assert report.unallocated_by_dimension["USD"]["BilledCost"]["cost_centre"] == D("5.00")
    assert report.unallocated_by_dimension["USD"]["BilledCost"]["use_case"] == D("7.00")
    assert _stated(ws, "cost_centre") == {
        ("cs",): D("3.00"),
        ("ops",): D("2.00"),
        (t.UNALLOCATED,): D("5.00"),
    }
    staff = Caller(None, "test", "admin", None)
    seen = overview(ws, "2026-10", staff)
    [summary] = seen["totals"]
    assert Decimal(summary["unallocated"]) == D("5.00")
    by_method = {row["method"]: row["amount"] for row in seen["by_method"]}
    assert by_method == {"direct": "3.00", "unallocated": "5.00", "unsplit": "2.00"}


def test_cascaded_cost_is_credited_to_every_method_it_passed_through(tmp_path: Path) -> None:
    """100 split evenly to cost centres, cc-x's 50 then 60/40 by use case: even moved 100,
    fixed 50; placed last, even carries 50 (cc-y) and fixed 50."""
    ws = _workspace(
        tmp_path / "ws",
        """rules:
  - {name: platform, match: "ServiceName = 'Platform'", method: even,
     targets: {cost_centre: [cc-x, cc-y]}}
  - {name: split-x, match: "cost_centre = 'cc-x'", method: fixed,
     shares: {use_case: {a: 60, b: 40}}}
""",
        catalogue=None,
    )
    ingest(ws, write_focus(tmp_path / "b.csv", [{"ServiceName": "Platform", "BilledCost": "100"}]))
    allocate(ws)
    [billed] = [m for m in period_totals(ws).metrics if m.metric == "BilledCost"]
    assert billed.moved["even"] == D(100) and billed.moved["fixed"] == D(50)
    assert billed.allocated["even"] == D(50) and billed.allocated["fixed"] == D(50)


def test_the_run_refuses_a_pool_that_blurs_a_bill_dimension(tmp_path: Path) -> None:
    """The check compares the final allocations with the bill by every bill dimension: a
    cascade pool that claims to be Azure's while the bill's 7 (its first pool) is AWS's is
    refused, by name."""
    ws = _workspace(tmp_path / "ws", "rules: []\n", catalogue=None)
    ingest(ws, write_focus(tmp_path / "b.csv", [{"BilledCost": "7"}]))
    allocate(ws)
    amounts = {metric: D(7) if metric == "BilledCost" else D(0) for metric in COST_METRICS}

    def pool(pool_id: str, generation: int, provider: str) -> Pool:
        return Pool(
            pool_id=pool_id,
            run_id="run",
            generation=generation,
            period="2026-10",
            rule=None,
            method="unallocated",
            driver=None,
            path="",
            currency="USD",
            bill={**{name: None for name in t.BILL_DIMENSIONS}, "ProviderName": provider},
            window_start=None,
            pool_resource=None,
            resource_id=None,
            resource_name=None,
            values=(None,) * 4,
            origin=(None,) * 4,
            sources=None,
            members=1,
            amounts=amounts,
        )

    pools = [pool("bill", 0, "AWS"), pool("split-again", 1, "Azure")]
    allocations = pa.table(
        {
            "pool_id": ["bill", "split-again"],
            "is_final": [False, True],
            **{
                metric: pa.array([amounts[metric]] * 2, pa.decimal128(38, 18)) for metric in amounts
            },
        }
    )
    with pytest.raises(ConservationError, match="USD BilledCost by ProviderName 'Azure'"):
        check_conservation(ws.data, OCTOBER, pools, allocations, ws.config.dimensions)


def test_bill_groups_are_the_bill_dimensions() -> None:
    assert sorted(EXTRA_GROUPS[name] for name in BILL_GROUPS) == sorted(t.BILL_DIMENSIONS)


# -- properties --------------------------------------------------------------------------------
PROVIDERS = [("AWS", "Amazon EC2", "Compute"), ("Azure", "Azure OpenAI", "AI and Machine Learning")]
cost_line = st.fixed_dictionaries(
    {
        "BilledCost": st.decimals(min_value=D("-20"), max_value=D("900"), places=4),
        "EffectiveCost": st.decimals(min_value=0, max_value=D("900"), places=7),
        "BillingCurrency": st.sampled_from(["USD", "USD", "EUR"]),
        "ResourceId": st.sampled_from(["gpu-a", "gpu-b", "db"]),
        "provider": st.sampled_from(PROVIDERS),
        "RegionId": st.sampled_from(["eu-west-1", "us-east-1", ""]),
        "SubAccountId": st.sampled_from(["acct-1", "acct-2"]),
        "ChargeCategory": st.sampled_from(["Usage", "Purchase"]),
        "ChargePeriodStart": st.integers(1, 3).map(lambda d: f"2026-10-0{d}T00:00:00Z"),
        "Tags": st.one_of(
            st.just(""),
            st.sampled_from(["bot", "scorer"]).map(lambda u: {"use_case": u}),
            st.sampled_from(["cs", "ops"]).map(lambda c: {"cost_centre": c}),
            st.just({"environment": "staging"}),
            st.just({"programme": "red-team"}),
        ),
    }
)
driver_row = st.fixed_dictionaries(
    {
        "timestamp": st.integers(1, 3).map(lambda d: f"2026-10-0{d}T12:00:00Z"),
        "driver": st.sampled_from(["gpu_seconds", "requests"]),
        "quantity": st.decimals(min_value=0, max_value=D("1000"), places=2).map(str),
        "resource_id": st.sampled_from(["gpu-a", "gpu-b"]),
        "use_case": st.sampled_from(["bot", "scorer", "search", ""]),
        "cost_centre": st.sampled_from(["cs", ""]),
    }
)
RULES = {
    "direct": '  - {name: owned, match: "use_case IS NOT NULL", method: direct}\n',
    "proportional": "  - {name: gpu, match: \"ResourceId LIKE 'gpu-%'\", method: proportional,"
    " driver: gpu_seconds, window: day}\n",
    "activity": "  - {name: shared-db, match: \"ResourceId = 'db'\", method: activity,"
    " driver: requests, window: month}\n",
    "even-mixing-providers": "  - {name: purchases, match: \"ChargeCategory = 'Purchase'\","
    " method: even, targets: {cost_centre: [cs, platform]}}\n",
    "fixed": "  - {name: red, match: \"tags['programme'] = 'red-team'\", method: fixed,"
    " shares: {use_case: {bot: 33.3, shared: 66.7}}}\n",
    "resplit-cost-centre": "  - {name: platform-by-use, match: \"cost_centre = 'platform'\","
    " method: fixed, shares: [{use_case: search, share: 50}, {use_case: scorer, share: 50}]}\n",
    "cascade": "  - {name: shared, match: \"use_case = 'shared'\", method: activity,"
    " driver: requests, window: month}\n",
}
rule_sets = st.lists(st.sampled_from(sorted(RULES)), unique=True).map(
    lambda names: "rules:\n" + "".join(RULES[n] for n in sorted(names)) if names else "rules: []\n"
)


def test_every_view_agrees_with_the_bill_on_random_data(engine: str) -> None:
    examples(engine, 14)(
        given(
            lines=st.lists(cost_line, min_size=1, max_size=20),
            drivers=st.lists(driver_row, max_size=20),
            rules=rule_sets,
        )(_agrees_with_the_bill)
    )()


def _agrees_with_the_bill(
    lines: list[dict[str, Any]], drivers: list[dict[str, Any]], rules: str
) -> None:
    rows = [
        {
            **{k: v for k, v in line.items() if k != "provider"},
            "ProviderName": line["provider"][0],
            "ServiceName": line["provider"][1],
            "ServiceCategory": line["provider"][2],
            "BilledCost": str(line["BilledCost"]),
            "EffectiveCost": str(line["EffectiveCost"]),
            "ListCost": str(line["BilledCost"]),
            "ContractedCost": str(line["EffectiveCost"]),
        }
        for line in lines
    ]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = _workspace(root / "ws", rules)
        ingest(ws, write_focus(root / "bill.csv", rows), write_drivers(root / "d.csv", drivers))
        allocate(ws)
        final = _final_rows(ws)
        _conserved_by_every_bill_dimension(rows, final)
        _every_dimension_filled_or_explained(ws, final)
        _one_figure_in_every_view(ws, rows)
        ws.close()


def _conserved_by_every_bill_dimension(
    bill: list[dict[str, Any]], final: list[dict[str, Any]]
) -> None:
    for column in ("BillingCurrency", *t.BILL_DIMENSIONS[:-1]):
        for metric in COST_METRICS:
            expected: dict[tuple[Any, Any], Decimal] = defaultdict(Decimal)
            for line in bill:
                key = (line["BillingCurrency"], line.get(column) or None)
                expected[key] = exact_sum([expected[key], D(line[metric])])
            got: dict[tuple[Any, Any], Decimal] = defaultdict(Decimal)
            for row in final:
                key = (row["BillingCurrency"], row[column])
                got[key] = exact_sum([got[key], row[metric]])
            assert {k: v for k, v in got.items() if v} == {k: v for k, v in expected.items() if v}


def _every_dimension_filled_or_explained(ws: Workspace, final: list[dict[str, Any]]) -> None:
    for row in final:
        for dimension, value in row["dimensions"].items():
            if value == t.UNALLOCATED:
                assert row["gap_reason"], (dimension, row)
        if t.UNALLOCATED not in row["dimensions"].values():
            assert row["gap_reason"] is None


def _one_figure_in_every_view(ws: Workspace, bill: list[dict[str, Any]]) -> None:
    payer = ws.config.ledger.payer
    metric = ws.config.ledger.metric
    figures: dict[str, dict[str, Decimal]] = {}
    for by in ("cost_centre", "use_case", "provider,service", "category,method", "region"):
        found, totals = statements(ws, OCTOBER, by.split(","))
        for total in totals:
            mine = [line for line in found if line.currency == total.currency]
            assert exact_sum(x.amounts[metric] for x in mine) == total.amounts[metric]
        figures[by] = {total.currency: total.amounts[metric] for total in totals}
    assert len({tuple(sorted(f.items())) for f in figures.values()}) == 1
    # by provider and service, each part is the bill's own sum rounded to the minor unit
    stated, _ = statements(ws, OCTOBER, ["provider", "service"])
    grouped: dict[tuple[str, ...], list[Decimal]] = defaultdict(list)
    for line in bill:
        key = (line["BillingCurrency"], line["ProviderName"], line["ServiceName"])
        grouped[key].append(D(line[metric]))
    cent = {c: Decimal(1).scaleb(-minor_units(c)) for c in ("USD", "EUR")}
    assert {(p.currency, *p.keys.values()): p.amounts[metric] for p in stated} == {
        key: exact_sum(amounts).quantize(cent[key[0]], rounding=ROUND_HALF_UP)
        for key, amounts in grouped.items()
    }
    # the ledger's lines and the totals report are the same lines added up
    ledger_lines = allocated_lines(ws, "2026-10")
    by_payer, _ = statements(ws, OCTOBER, [payer])
    for line in by_payer:
        mine = [
            x.amount
            for x in ledger_lines
            if x.payer == line.keys[payer] and x.currency == line.currency
        ]
        assert exact_sum(mine) == line.amounts[metric]
    report = period_totals(ws)
    for totals_of in report.metrics:
        if totals_of.metric != metric:
            continue
        unallocated = [
            x.amounts[metric]
            for x in by_payer
            if x.currency == totals_of.currency and x.keys[payer] == t.UNALLOCATED
        ]
        assert totals_of.stated["unallocated"] == exact_sum(unallocated)
        assert totals_of.balanced


def test_a_later_split_of_kept_values_is_no_cycle(tmp_path: Path) -> None:
    """cc-x's cost split by use case (60/40), then use case a's share split evenly by
    environment. a's targets keep cc-x (the even rule sets only the environment), so they
    still match the first rule: that is the same cost it already split, not a cycle.
    100: a 60 (30 production, 30 staging), b 40."""
    ws = _workspace(
        tmp_path / "ws",
        """rules:
  - {name: cc-x-by-use-case, match: "cost_centre = 'cc-x'", method: fixed,
     shares: {use_case: {a: 60, b: 40}}}
  - {name: a-by-environment, match: "use_case = 'a'", method: even,
     targets: {environment: [production, staging]}}
""",
        catalogue=None,
    )
    bill = [{"ServiceName": "X", "BilledCost": "100", "Tags": {"cost_centre": "cc-x"}}]
    ingest(ws, write_focus(tmp_path / "b.csv", bill))
    allocate(ws)
    assert _stated(ws, "cost_centre,use_case,environment") == {
        ("cc-x", "a", "production"): D("30.00"),
        ("cc-x", "a", "staging"): D("30.00"),
        ("cc-x", "b", t.UNALLOCATED): D("40.00"),
    }


def test_cost_sent_back_to_a_rule_is_still_a_cycle(tmp_path: Path) -> None:
    """x's cost goes to y, and y's back to x: the second rule sets the value the first
    matches on, so the run stops and names the rules."""
    from apportion.allocate import AllocationError
    from apportion.ledger.allocation import allocate_period

    ws = _workspace(
        tmp_path / "ws",
        """rules:
  - {name: x-to-y, match: "use_case = 'x'", method: fixed, shares: {use_case: {y: 100}}}
  - {name: y-to-x, match: "use_case = 'y'", method: fixed, shares: {use_case: {x: 100}}}
  - {name: start, match: "ServiceName = 'X'", method: fixed, shares: {use_case: {x: 100}}}
""",
        catalogue=None,
    )
    ingest(ws, write_focus(tmp_path / "b.csv", [{"ServiceName": "X", "BilledCost": "1"}]))
    with pytest.raises(AllocationError, match="rules form a cycle: x-to-y -> y-to-x -> x-to-y"):
        allocate_period(ws, "2026-10")
