"""Rule groups: shared services that use each other, solved by the reciprocal or the step-down
method, on cases computed by hand (fractions worked out below each test's rules)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from apportion.allocate import AllocationError
from apportion.config import parse_config
from apportion.ledger.allocation import allocate_period
from apportion.workspace import Workspace
from tests.helpers import (
    allocate,
    billed_by,
    ingest,
    make_workspace,
    period_totals,
    write_drivers,
    write_focus,
)

pytestmark = pytest.mark.usefixtures("engine")

D = Decimal

# The platform's cost: 10% used by observability, the rest by the products; observability's:
# 20% used by the platform (its logs), the rest by the products.
FIXED_PAIR = """rules:
  - name: platform
    match: "use_case = 'platform'"
    method: fixed
    shares: {use_case: {observability: 10, search: 50, chat: 40}}
  - name: observability
    match: "use_case = 'observability'"
    method: fixed
    shares: {use_case: {platform: 20, search: 30, chat: 50}}
rule_groups:
  - {name: shared-services, rules: [platform, observability], method: %s}
"""

BILL = [
    {"ServiceName": "Kubernetes", "BilledCost": "1000", "Tags": {"use_case": "platform"}},
    {"ServiceName": "Datadog", "BilledCost": "500", "Tags": {"use_case": "observability"}},
]


def _pair(tmp_path: Path, method: str, rules: str = FIXED_PAIR) -> Workspace:
    ws = make_workspace(tmp_path / "ws", rules % method)
    ingest(ws, write_focus(tmp_path / "bill.csv", BILL))
    return ws


def test_reciprocal_pair_is_solved_exactly(tmp_path: Path) -> None:
    """Per unit entering the platform: T_p = 1 + 0.2 T_o, T_o = 0.1 T_p, so T_p = 50/49 and
    T_o = 5/49; search gets 0.5 T_p + 0.3 T_o = 53/98, chat 0.4 T_p + 0.5 T_o = 45/98.
    Per unit entering observability: T_o = 50/49, T_p = 10/49; search 20/49, chat 29/49.
    1000 x 53/98 = 540.816326530612244897|959... and 1000 x 45/98 = 459.183673469387755102|04:
    the one unit of 10^-18 left goes to search's larger remainder. 500 x 20/49 =
    204.081632653061224489|79 and 500 x 29/49 = 295.918367346938775510|20: search again.
    Search 744.897959183673469388 + chat 755.102040816326530612 = 1500 exactly (36500/49 and
    37000/49 rounded once per pool)."""
    ws = _pair(tmp_path, "reciprocal")
    allocate(ws)
    assert billed_by(ws, "use_case") == {
        "search": D("744.897959183673469388"),
        "chat": D("755.102040816326530612"),
    }
    billed = next(m for m in period_totals(ws).metrics if m.metric == "BilledCost")
    assert billed.balanced
    assert billed.moved["fixed"] == D(1500)  # each pool split once, straight out of the group


def test_step_down_drops_shares_back_and_reports_them(tmp_path: Path) -> None:
    """Platform first: its 10% to observability flows on; observability's 20% back to the
    platform is dropped and its other shares renormalised to 30/80 and 50/80.
    Platform's 1000: search 500 + 100 x 30/80 = 537.5, chat 400 + 100 x 50/80 = 462.5.
    Observability's 500: search 187.5, chat 312.5. Search 725, chat 775."""
    ws = _pair(tmp_path, "step-down")
    result = allocate_period(ws, "2026-10")
    assert result.published, result.message
    assert billed_by(ws, "use_case") == {"search": D(725), "chat": D(775)}
    assert result.notes == (
        "rule group shared-services (step-down): observability's share to platform (20.00%) "
        "dropped, as platform comes first",
    )


def test_step_down_follows_the_order_of_the_group(tmp_path: Path) -> None:
    """Observability first: the platform's 10% back to it is dropped (platform: search 5/9,
    chat 4/9). Platform's 1000: search 555.555...556, chat 444.444...444 (the leftover unit
    to search's remainder). Observability's 500: search 150 + 100 x 5/9 = 205.555...556,
    chat 250 + 100 x 4/9 = 294.444...444."""
    rules = FIXED_PAIR.replace(
        "rules: [platform, observability]", "rules: [observability, platform]"
    )
    ws = _pair(tmp_path, "step-down", rules)
    allocate(ws)
    assert billed_by(ws, "use_case") == {
        "search": D("761.111111111111111112"),
        "chat": D("738.888888888888888888"),
    }


ACTIVITY_PAIR = """rules:
  - name: platform
    match: "use_case = 'platform'"
    method: activity
    driver: cpu_hours
  - name: observability
    match: "use_case = 'observability'"
    method: activity
    driver: log_gb
rule_groups:
  - {name: shared-services, rules: [platform, observability], method: %s}
"""


def test_reciprocal_pair_by_measured_drivers(tmp_path: Path) -> None:
    """The same shares measured instead of written (cpu hours 10/50/40 on the platform, log
    gigabytes 20/30/50 of observability, in several rows): the same figures to the digit."""
    ws = _pair(tmp_path, "reciprocal", ACTIVITY_PAIR)
    rows = [
        ("cpu_hours", "observability", "10"),
        ("cpu_hours", "search", "20"),
        ("cpu_hours", "search", "30"),
        ("cpu_hours", "chat", "40"),
        ("log_gb", "platform", "2"),
        ("log_gb", "search", "3"),
        ("log_gb", "chat", "5"),
    ]
    drivers = [
        {"timestamp": f"2026-10-{day:02d}", "driver": d, "quantity": q, "use_case": u}
        for day, (d, u, q) in enumerate(rows, start=1)
    ]
    ingest(ws, write_drivers(tmp_path / "drivers.csv", drivers))
    allocate(ws)
    assert billed_by(ws, "use_case") == {
        "search": D("744.897959183673469388"),
        "chat": D("755.102040816326530612"),
    }


def test_a_group_rule_with_nothing_measured_leaves_its_cost_unallocated(tmp_path: Path) -> None:
    """No log_gb rows this month: observability's cost cannot leave the group, nor can the
    10% of the platform's that reaches it, so both pools stay unallocated, with why."""
    ws = _pair(tmp_path, "reciprocal", ACTIVITY_PAIR)
    drivers = [
        {"timestamp": "2026-10-02", "driver": "cpu_hours", "quantity": q, "use_case": u}
        for u, q in (("observability", "1"), ("search", "9"))
    ]
    ingest(ws, write_drivers(tmp_path / "drivers.csv", drivers))
    allocate(ws)
    reason = "rule observability of its group has no log_gb quantity"
    assert period_totals(ws).unallocated_reasons == {reason: D(1500)}


def test_cost_that_circulates_forever_stays_unallocated(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path / "ws",
        """rules:
  - {name: x-to-y, match: "use_case = 'x'", method: fixed, shares: {use_case: {y: 100}}}
  - {name: y-to-x, match: "use_case = 'y'", method: fixed, shares: {use_case: {x: 100}}}
rule_groups: [{name: loop, rules: [x-to-y, y-to-x], method: reciprocal}]
""",
    )
    ingest(ws, write_focus(tmp_path / "b.csv", [{"BilledCost": "5", "Tags": {"use_case": "x"}}]))
    allocate(ws)
    assert period_totals(ws).unallocated_reasons == {
        "rules x-to-y, y-to-x send all their cost to each other and none leaves the group": D(5)
    }


def test_cost_enters_the_group_from_earlier_rules_and_leaves_to_later_ones(
    tmp_path: Path,
) -> None:
    """A licence is first given to observability (an ordinary fixed rule), then solved with
    the pair (per unit entering observability: search 20/49, chat 29/49), and search's share
    is split again by environment. Licence 49: search 20 (10 production, 10 staging), chat 29;
    the bill lines as in the reciprocal test."""
    pair = (FIXED_PAIR % "reciprocal").split("rule_groups:")[0]
    later = """  - name: licence
    match: "ServiceName = 'Licence'"
    method: fixed
    shares: {use_case: {observability: 100}}
  - name: search-by-environment
    match: "use_case = 'search'"
    method: even
    targets: {environment: [production, staging]}
rule_groups: [{name: shared-services, rules: [platform, observability], method: reciprocal}]
"""
    ws = make_workspace(tmp_path / "ws", pair + later)
    bill = [*BILL, {"ServiceName": "Licence", "BilledCost": "49"}]
    ingest(ws, write_focus(tmp_path / "bill.csv", bill))
    allocate(ws)
    assert billed_by(ws, "use_case") == {
        "search": D("764.897959183673469388"),
        "chat": D("784.102040816326530612"),
    }
    by_environment = billed_by(ws, "environment")
    assert by_environment["production"] == by_environment["staging"] == D("382.448979591836734694")
    assert by_environment["__unallocated__"] == D("784.102040816326530612")


def test_a_cycle_outside_any_group_still_says_how_to_solve_it(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", (FIXED_PAIR % "reciprocal").split("rule_groups:")[0])
    ingest(ws, write_focus(tmp_path / "bill.csv", BILL))
    with pytest.raises(AllocationError, match="rule_groups with method: reciprocal or step-down"):
        allocate_period(ws, "2026-10")


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ("[{name: g, rules: [platform, nope], method: reciprocal}]", "rule 'nope', which is not"),
        (
            "[{name: g, rules: [platform], method: reciprocal},"
            " {name: h, rules: [platform], method: step-down}]",
            "rule 'platform' is already in 'g'",
        ),
        ("[{name: g, rules: [tagged], method: reciprocal}]", "rule 'tagged' is direct"),
        ("[{name: g, rules: [daily], method: reciprocal}]", "give it window: month"),
        ("[{name: g, rules: [platform], method: sideways}]", "reciprocal"),
    ],
)
def test_rule_groups_are_checked_when_read(groups: str, message: str) -> None:
    text = """version: 1
rules:
  - {name: tagged, match: "tags['x'] IS NOT NULL", method: direct}
  - {name: platform, match: "use_case = 'p'", method: fixed, shares: {use_case: {a: 100}}}
  - {name: daily, match: "use_case = 'd'", method: activity, driver: req, window: day}
rule_groups: %s
"""
    with pytest.raises((ValidationError, ValueError), match=message):
        parse_config(text % groups)
