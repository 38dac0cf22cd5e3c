"""Driver dimension values are folded as tag values are: ``Web`` in a driver file is the
``web`` a rule names, and the run says what it folded."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from apportion.ledger.allocation import allocate_period
from tests.helpers import billed_by, ingest, make_workspace, write_drivers, write_focus

pytestmark = pytest.mark.usefixtures("engine")

RULES = """rules:
  - name: shared
    match: "ServiceName = 'Shared'"
    method: activity
    driver: requests
    window: month
  - name: web-team
    match: "use_case = 'web'"
    method: fixed
    shares: {cost_centre: {cx: 100}}
"""


def test_driver_values_fold_like_tags_and_a_rule_on_the_folded_value_matches(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws", RULES)
    bill = write_focus(tmp_path / "bill.csv", [{"ServiceName": "Shared", "BilledCost": "100"}])
    drivers = write_drivers(
        tmp_path / "drivers.csv",
        [
            {"timestamp": "2026-10-03", "driver": "requests", "quantity": "50", "use_case": "Web"},
            {"timestamp": "2026-10-04", "driver": "requests", "quantity": "25", "use_case": "web"},
            {"timestamp": "2026-10-05", "driver": "requests", "quantity": "25", "use_case": "Bot"},
        ],
    )
    ingest(ws, bill, drivers)
    result = allocate_period(ws, "2026-10")
    assert result.published, result.message
    # Web and web are one target, and the cascade rule on 'web' claims all of it
    assert billed_by(ws, "use_case") == {"web": Decimal("75"), "bot": Decimal("25")}
    assert billed_by(ws, "cost_centre") == {"cx": Decimal("75"), "__unallocated__": Decimal("25")}
    assert result.folded == (("use_case", "Bot", "bot"), ("use_case", "Web", "web"))
