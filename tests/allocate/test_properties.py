"""Properties over random bills, drivers and rule sets, through real workspaces: conservation
holds exactly, statements add up, re-ingesting is a no-op, and ingest order does not matter."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from apportion.allocate import Period
from apportion.ledger.allocation import allocate_period
from apportion.money import exact_sum
from apportion.report import statements
from apportion.schema import tables as t
from tests.engines import examples
from tests.helpers import ingest, make_workspace, period_totals, write_drivers, write_focus

RESOURCES = ["gpu-a", "gpu-b", "vec", "logs"]
USE_CASES = ["bot", "scorer", "search"]
SERVICES = ["OpenAI API", "Amazon CloudWatch", "Scale Data Engine", "Pinecone"]

money = st.one_of(
    st.decimals(min_value=Decimal("-50"), max_value=Decimal("5000"), places=2),
    st.decimals(min_value=Decimal("-1e-6"), max_value=Decimal("1e-6"), places=12),  # tiny
    st.decimals(min_value=0, max_value=Decimal("1e9"), places=18),
)

cost_line = st.fixed_dictionaries(
    {
        "BilledCost": money,
        "EffectiveCost": money,
        "ListCost": money,
        "ContractedCost": money,
        "BillingCurrency": st.sampled_from(["USD", "USD", "EUR", "JPY"]),
        "ResourceId": st.sampled_from(RESOURCES),
        "ServiceName": st.sampled_from(SERVICES),
        "ChargePeriodStart": st.integers(1, 4).map(lambda d: f"2026-10-0{d}T00:00:00Z"),
        "Tags": st.one_of(
            st.just(""),
            st.sampled_from(USE_CASES).map(lambda u: {"use_case": u}),
            st.just({"programme": "red-team"}),
        ),
    }
)

driver_row = st.fixed_dictionaries(
    {
        "timestamp": st.integers(1, 4).map(lambda d: f"2026-10-0{d}T12:00:00Z"),
        "driver": st.sampled_from(["gpu_seconds", "requests"]),
        "quantity": st.decimals(min_value=0, max_value=Decimal("1e6"), places=3).map(str),
        "resource_id": st.sampled_from(RESOURCES),
        "use_case": st.sampled_from(USE_CASES),
        "cost_centre": st.sampled_from(["cs", "risk"]),
    }
)

RULES = {
    "direct": "  - {name: tagged, match: \"tags['use_case'] IS NOT NULL\", method: direct}\n",
    "proportional": "  - {name: gpu, match: \"ResourceId LIKE 'gpu-%'\", method: proportional,"
    " driver: gpu_seconds, window: day}\n",
    "activity": "  - {name: obs, match: \"ServiceName = 'Amazon CloudWatch'\", method: activity,"
    " driver: requests, window: month}\n",
    "even": "  - {name: label, match: \"ServiceName = 'Scale Data Engine'\", method: even,"
    " targets: {use_case: [bot, scorer, search]}}\n",
    "fixed": "  - {name: red, match: \"tags['programme'] = 'red-team'\", method: fixed,"
    " shares: {use_case: {bot: 33.3, shared: 66.7}}}\n",
    "cascade": "  - {name: shared, match: \"use_case = 'shared'\", method: activity,"
    " driver: requests, window: month}\n",
}

rule_sets = st.lists(st.sampled_from(sorted(RULES)), unique=True).map(
    lambda names: "rules:\n" + "".join(RULES[n] for n in names) if names else "rules: []\n"
)


def _allocation_fingerprint(ws: Any) -> list[tuple[Any, ...]]:
    table = ws.data.table(t.ALLOCATIONS)
    rows = ws.data.to_arrow(table).to_pylist()
    return sorted(
        (
            r["allocation_id"],
            r["is_final"],
            tuple(sorted(r["dimensions"])),
            r["BilledCost"],
            r["EffectiveCost"],
            r["ListCost"],
            r["ContractedCost"],
        )
        for r in rows
    )


def test_conservation_and_rounding_on_random_data(engine: str) -> None:
    examples(engine, 12)(
        given(
            lines=st.lists(cost_line, min_size=1, max_size=25),
            drivers=st.lists(driver_row, max_size=25),
            rules=rule_sets,
        )(_conserves)
    )()


def _conserves(lines: list[dict[str, Any]], drivers: list[dict[str, Any]], rules: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = make_workspace(root / "ws", rules)
        ingest(ws, write_focus(root / "bill.csv", lines), write_drivers(root / "d.csv", drivers))
        result = allocate_period(ws, "2026-10")
        assert result.published, result.message
        report = period_totals(ws)
        assert report.balanced
        for metric in report.metrics:
            expected = exact_sum(
                Decimal(str(line[metric.metric]))
                for line in lines
                if line["BillingCurrency"] == metric.currency
            )
            assert metric.ingested == expected
        statement, totals = statements(ws, Period.parse("2026-10"), ["use_case", "category"])
        for total in totals:
            mine = [line for line in statement if line.currency == total.currency]
            for metric in total.amounts:
                assert exact_sum(line.amounts[metric] for line in mine) == total.amounts[metric]
        ws.close()


def test_reingest_is_a_noop_and_order_does_not_matter(engine: str) -> None:
    examples(engine, 6)(
        given(
            lines=st.lists(cost_line, min_size=1, max_size=12),
            drivers=st.lists(driver_row, min_size=1, max_size=12),
            rules=rule_sets,
        )(_reingests_idempotently)
    )()


def _reingests_idempotently(
    lines: list[dict[str, Any]], drivers: list[dict[str, Any]], rules: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        half = len(lines) // 2
        # two bills whose bytes differ (the same content twice is refused as double counting)
        files = [
            write_focus(
                root / "a.csv",
                [{**line, "x_Bill": "a"} for line in lines[:half]] or [{**lines[0], "x_Bill": "a"}],
            ),
            write_focus(root / "b.csv", [{**line, "x_Bill": "b"} for line in lines[half:]]),
            write_drivers(root / "d.csv", drivers),
        ]
        fingerprints = []
        for name, order in (("forward", files), ("reverse", files[::-1])):
            ws = make_workspace(root / name, rules)
            for path in order:
                ingest(ws, path)
            assert allocate_period(ws, "2026-10").published
            before = _allocation_fingerprint(ws)
            again = ingest(ws, *order)
            assert {r.status for r in again} == {"unchanged"}
            assert allocate_period(ws, "2026-10").published
            assert _allocation_fingerprint(ws) == before
            fingerprints.append(before)
            ws.close()
        assert fingerprints[0] == fingerprints[1]
