"""The totals report counts quarantined rows and their cost, per period."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.helpers import (
    allocate,
    ingest,
    make_workspace,
    period_totals,
    write_drivers,
    write_focus,
)

pytestmark = pytest.mark.usefixtures("engine")


def test_quarantined_rows_and_cost_are_counted(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path / "ws",
        "rules:\n  - {name: tagged, match: \"tags['use_case'] IS NOT NULL\", method: direct}\n",
    )
    bill = write_focus(
        tmp_path / "b.csv",
        [
            {"BilledCost": "5", "Tags": {"use_case": "bot", "cost_centre": "cx"}},
            {"BilledCost": "7.25", "BillingCurrency": "ZZZ"},
            {"BilledCost": "2", "ChargePeriodStart": "not a time"},
        ],
    )
    drivers = write_drivers(
        tmp_path / "d.csv",
        [{"timestamp": "2026-10-05", "driver": "requests", "quantity": "-3"}],
    )
    ingest(ws, bill, drivers)
    allocate(ws)
    report = period_totals(ws)
    assert report.quarantined_rows == {"cost": 2, "driver": 1}
    assert report.quarantined_cost == {"ZZZ": Decimal("7.25"), "USD": Decimal(2)}
    assert report.balanced
    billed = next(m for m in report.metrics if m.metric == "BilledCost")
    assert (billed.ingested, billed.allocated["direct"]) == (Decimal(5), Decimal(5))
    as_json = report.as_dict()
    assert as_json["quarantined_rows"] == {"cost": 2, "driver": 1}
