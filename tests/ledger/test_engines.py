"""The ledger reads the data plane (input partitions, statement lines): the same cycle on every
engine, to the cent, with the runs' recorded totals and inputs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from apportion.ledger import close, journal, periods
from apportion.ledger.allocation import allocate_period
from apportion.ledger.lines import period_lines
from tests.helpers import ingest, make_workspace, write_focus

pytestmark = pytest.mark.usefixtures("engine")

RULES = """rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
ledger:
  modes:
    - {category: foundation_model_api, mode: chargeback, effective_from: "2026-10"}
"""


def _tags(use_case: str, cost_centre: str) -> str:
    return json.dumps({"use_case": use_case, "cost_centre": cost_centre})


def test_close_on_either_engine(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", RULES)
    openai = {"ProviderName": "OpenAI", "ServiceName": "OpenAI API"}
    rows = [
        {**openai, "EffectiveCost": "10.005", "Tags": _tags("bot", "cx")},
        {**openai, "EffectiveCost": "5.5", "Tags": _tags("search", "cx")},
        {"EffectiveCost": "3.333", "Tags": _tags("bot", "ops")},
        {"EffectiveCost": "1"},
    ]
    ingest(ws, write_focus(tmp_path / "bill.csv", rows))
    ingest(ws, write_focus(tmp_path / "other.csv", [{"EffectiveCost": "0.002"}]))
    result = allocate_period(ws, "2026-10")
    run = ws.control.run(result.run_id)
    assert run is not None and run.inputs is not None
    assert sorted(run.inputs) == ["cost_lines/bill", "cost_lines/other"]
    assert run.totals["conserved"]["USD"]["EffectiveCost"] == "19.840000000000000000"
    amounts = {
        (line.payer, line.workload): line.amount for line in period_lines(ws, "2026-10") or []
    }
    # each provider's service rounds on its own and its lines add up to it by largest
    # remainder: OpenAI's 10.005 + 5.5 = 15.505 is 15.51 (the cent to cx/bot), the default
    # service's 3.333 + 1.002 = 4.335 is 4.34 (the cent to ops/bot's 0.003)
    assert amounts == {
        ("cx", "bot"): Decimal("10.01"),
        ("cx", "search"): Decimal("5.50"),
        ("ops", "bot"): Decimal("3.34"),
        ("__unallocated__", "__unallocated__"): Decimal("1.00"),
    }
    periods.start_review(ws.control, "2026-10", "alice")
    closed = close.close_period(ws, "2026-10", "alice")
    assert (closed.lines, closed.journal_lines) == (4, 3)
    entries = journal.posted(ws.control, "2026-10")
    assert not journal.imbalances(entries)
    assert [(e.account, e.debit, e.credit) for e in entries if not e.workload] == [
        ("4900", Decimal(0), Decimal("15.51"))
    ]
    assert close.verify(ws.control).intact
    ws.close()
