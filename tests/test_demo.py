"""The demo cycle end to end on a smaller synthetic month."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apportion.allocate import Period
from apportion.ledger.close import verify
from apportion.ledger.journal import imbalances, posted
from apportion.ledger.periods import status
from apportion.report import statements, totals
from apportion.workspace import Workspace
from tests.conftest import BuiltDemo


@pytest.mark.xdist_group("demo")
def test_demo_runs_the_whole_cycle_and_balances(demo: BuiltDemo) -> None:
    summary = demo.summary
    assert any("0 rows quarantined" in line for line in summary)
    ws = Workspace.open(demo.root)
    report = totals(ws, Period.parse("2026-10"))
    assert report.balanced
    billed = next(m for m in report.metrics if m.metric == "BilledCost")
    # every method carries cost in the demo organisation
    assert all(amount > 0 for amount in billed.allocated.values()), billed.allocated
    # the OpenAI bill has no tags: its projects' owners come from the mapping table
    assert billed.direct_by_source["inherited"] > 0
    assert billed.direct_by_source["tags"] > 0
    # the uncategorised SaaS lines and the day without feature-store metering stay visible
    assert set(report.unallocated_reasons) == {"no rule matched", "no feature_reads quantity"}
    lines, [total] = statements(ws, Period.parse("2026-10"), ["use_case"])
    assert len(lines) >= 15
    assert (
        sum((line.amounts["BilledCost"] for line in lines), Decimal(0))
        == total.amounts["BilledCost"]
    )
    # the month is reviewed and closed: chargeback for foundation models and self-hosted
    # compute (Marketing's models excepted) posted as balanced journal entries
    assert status(ws.control, "2026-10").state == "closed"
    assert verify(ws.control).intact
    entries = posted(ws.control, "2026-10")
    assert entries and not imbalances(entries)
    charged = {(line.payer, line.category) for line in entries if line.workload}
    assert {category for _, category in charged} == {"foundation_model_api", "self_hosted_compute"}
    assert ("marketing", "foundation_model_api") not in charged
    assert any("closed 2026-10" in line for line in summary)
    # the business metrics give cost per decision, and the portfolio has both corners filled
    assert any(line.startswith("unit economics: ") for line in summary)
    assert any("re-architecture or retirement candidate: " in line for line in summary)
    assert any(
        "possibly unrecognised value: " in line and "fraud-scorer" in line for line in summary
    )
    ws.close()
