"""Commitments: the FOCUS 1.2 specification's own commitment examples, spend agreements burnt
down to the spec's end-of-contract fee, the portfolio, idle cost and recording, by hand.

FOCUS commitment discount scenarios (tests/fixtures/focus-1.2-spec-examples), each with one
commitment ``<my-commitment-discount-id>`` recorded for 8,760 USD over 2023 (365 days):

==========================  ====  ======  ====  ========  =======  ========  =========
scenario (2023-01)          used  unused  util  eligible  covered  coverage  purchased
==========================  ====  ======  ====  ========  =======  ========  =========
usage 1: all used           1.00  0       1     1.00      1.00     1         0
usage 2: all unused         0     1.00    0     0         0        -         0
usage 3: 75 % used          0.75  0.25    0.75  0.75      0.75     1         0
usage 4: + 0.50 on demand   1.00  0       1     1.50      1.00     2/3       0
flexibility, 1 resource     0.50  0       1     2.75      0.50     2/11      0.50
flexibility, 2 resources    2.00  0       1     2.00      2.00     1         2.00
100 %, no flexibility       1.50  0       1     1.50      1.50     1         1.50
0 %, no flexibility         0     1.50    0     2.00      0        0         1.50
purchase 1: one-time        0     0       -     0         0        -         8760.00
purchase 3: one-time + 2    0     0       -     0         0        -         4381.00
==========================  ====  ======  ====  ========  =======  ========  =========

(eligible: the scope's Usage lines, Unused rows left out; purchase 3's third recurring row has
the impossible hour 30 and is quarantined.) Usage 3 burns down 0.75 in January: 31 of 365
days elapsed, projected 0.75 x 365 / 31 = 8.8306... -> 8.83, shortfall 8760 - 8.83 = 8751.17.

SaaS spend agreements a1 (pay as used, end-of-contract unused fee) and b1 (prepaid): 1,200 USD
from 2025-04-01 to 2026-03-31 (365 days), scope SkuId U-123: usage 48, 120, 60 in April, May,
June. By June 2025: drawn 228, remaining 972, 30 + 31 + 30 = 91 days elapsed, projected
228 x 365 / 91 = 914.5054... -> 914.51, shortfall 285.49; June's share of the amount is
1200 x 30 / 365 = 98.63..., utilisation 60 / (1200 x 30 / 365) = 0.6083333333. By March 2026
(term over, 365 days): drawn 228, remaining and shortfall 972.00, the spec's own
"End of contract unused fee" of 972.

Portfolio, 2026-10 (USD): a reservation ri-1 (3,100 over October) with 80 used, 20 unused and
100 on demand in its scope (EC2), 50 of S3 outside it: utilisation 80 / 100 = 0.8, coverage
80 / 180 = 0.4444444444. A spend agreement with OpenAI, 3,650 from 2026-10-01 to 2027-09-30
(365 days): October's share 3650 x 31 / 365 = 310, spend 150 (a 10 EUR line is not counted):
utilisation 150 / 310 = 0.4838709677, projected 150 x 365 / 31 = 1766.129... -> 1766.13,
shortfall 1883.87. Portfolio utilisation (80 + 150) / (100 + 310) = 0.5609756098; coverage
0.4444444444 (only the reservation is a discount). With a second currency, a 10 EUR prepaid
credit with Mistral over 2026 that no line matches (its spend 0, noted): EUR utilisation
0 / (10 x 31 / 365) = 0, no EUR coverage; each portfolio figure is the lowest currency's,
coverage 0.4444444444 (USD) and utilisation 0 (EUR).

A term from the middle of a month, 2026-10-15 (17 of October's days): a spend agreement with
OpenAI of 3,650 to 2027-10-14 (365 days) has October's share 3650 x 17 / 365 = 170; of the
month's OpenAI lines, 100 charged on 3 October fall before the term and 62 on the 20th in it:
spend 62, utilisation 62 / 170 = 0.3647058824, projected 62 x 365 / 17 = 1331.176... ->
1331.18. A reservation from the same day: of the EC2 usage, 100 on the 3rd is outside its
term; on the 20th 50 used it and 30 ran on demand: eligible 80, coverage 50 / 80 = 0.625.

Idle cost of sub-cent amortised rows: three Unused rows of 0.004 (0.012 exact) are one
statement line of 0.01 under __idle__ (rounded with the used 1.00 to the total 1.01): the gap
0.002 is the line's rounding, not cost allocated elsewhere, and is not noted.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from apportion.analyse import commitments as cm
from apportion.analyse.commitment_records import KINDS
from apportion.cli import app
from apportion.cli.commitments import Kind
from apportion.control.audit import entries
from apportion.ledger import adjustments
from apportion.ledger.lines import period_lines
from apportion.workspace import Workspace
from tests.helpers import SPEC_EXAMPLES, allocate, ingest, make_workspace, write_focus

ID = "<my-commitment-discount-id>"
README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def spec(name: str) -> Path:
    return next(p for p in SPEC_EXAMPLES if p.stem == name)


def _readme_idle_rule() -> str:
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", README, flags=re.S) if "__idle__" in b]
    return block


Copy = Callable[..., Workspace]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Copy]:
    """A fresh copy of a workspace with these spec files ingested (each set ingested once per
    module: ingesting is what takes the time); with the README's idle rule."""
    templates: dict[tuple[str, ...], Path] = {}
    copies: list[Workspace] = []

    def copy(*names: str) -> Workspace:
        if names not in templates:
            root = tmp_path_factory.mktemp("template") / "ws"
            workspace = make_workspace(root, _readme_idle_rule())
            ingest(workspace, *(spec(name) for name in names))
            workspace.close()
            templates[names] = root
        target = tmp_path_factory.mktemp("copy") / "ws"
        shutil.copytree(templates[names], target)
        copies.append(Workspace.open(target))
        return copies[-1]

    yield copy
    for workspace in copies:
        workspace.close()


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace that no test records anything in (refused commitments only)."""
    workspace = make_workspace(tmp_path_factory.mktemp("empty") / "ws")
    yield workspace
    workspace.close()


def record(workspace: Workspace, **given: Any) -> cm.CommitmentView:
    fields: dict[str, Any] = {
        "name": "ri",
        "kind": "reserved",
        "provider": "Example",
        "amount": Decimal("8760"),
        "currency": "USD",
        "start": date(2023, 1, 1),
        "end": date(2023, 12, 31),
        "actor": "test",
        "commitment_id": ID,
        "scope": "ChargeCategory = 'Usage'",
    }
    return cm.add_commitment(workspace, **{**fields, **given})


# file, (used, unused, utilisation, eligible, covered, coverage, purchased)
SCENARIOS = {
    "commitment_discount_usage_scenario_1": ("1.00", "0.00", "1", "1.00", "1.00", "1", "0.00"),
    "commitment_discount_usage_scenario_2": ("0.00", "1.00", "0", "0.00", "0.00", None, "0.00"),
    "commitment_discount_usage_scenario_3": ("0.75", "0.25", "0.75", "0.75", "0.75", "1", "0.00"),
    "commitment_discount_usage_scenario_4": (
        "1.00",
        "0.00",
        "1",
        "1.50",
        "1.00",
        "0.6666666667",
        "0.00",
    ),
    "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource": (
        "0.50",
        "0.00",
        "1",
        "2.75",
        "0.50",
        "0.1818181818",
        "0.50",
    ),
    "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources": (
        "2.00",
        "0.00",
        "1",
        "2.00",
        "2.00",
        "1",
        "2.00",
    ),
    "one_hundred_percent_utilization_without_commitment_discount_flexibility": (
        "1.50",
        "0.00",
        "1",
        "1.50",
        "1.50",
        "1",
        "1.50",
    ),
    "zero_percent_utilization_without_commitment_discount_flexibility": (
        "0.00",
        "1.50",
        "0",
        "2.00",
        "0.00",
        "0",
        "1.50",
    ),
    "commitment_discount_purchase_scenario_1": (
        "0.00",
        "0.00",
        None,
        "0.00",
        "0.00",
        None,
        "8760.00",
    ),
    "commitment_discount_purchase_scenario_3": (
        "0.00",
        "0.00",
        None,
        "0.00",
        "0.00",
        None,
        "4381.00",
    ),
}


def _fraction(text: str | None) -> str | None:
    return None if text is None else f"{Decimal(text).quantize(Decimal('1E-10')):f}"


@pytest.mark.parametrize("name", sorted(SCENARIOS), ids=lambda n: n[:48])
def test_focus_commitment_scenarios_by_hand(ingested: Copy, name: str) -> None:
    workspace = ingested(name)
    record(workspace)
    [found] = cm.commitment_report(workspace, "2023-01").commitments
    figures = found.as_dict()
    used, unused, utilisation, eligible, covered, coverage, purchased = SCENARIOS[name]
    assert (figures["used"], figures["unused"], figures["idle"]) == (used, unused, unused)
    assert figures["utilisation"] == _fraction(utilisation)
    assert (figures["eligible"], figures["covered"]) == (eligible, covered)
    assert figures["coverage"] == _fraction(coverage)
    assert figures["purchased"] == purchased
    assert (figures["status"], figures["measured_by"]) == ("active", "commitment discount rows")


def test_quantities_in_their_unit_and_a_commitment_without_rows(ingested: Copy) -> None:
    flexible = (
        "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources"
    )
    workspace = ingested(flexible)
    record(workspace)
    record(workspace, name="other", commitment_id="not-on-the-bill")
    report = cm.commitment_report(workspace, "2023-01")
    ri, other = (c.as_dict() for c in report.commitments)
    # two medium VMs of 2 normalized hours each
    assert (ri["used_quantity"], ri["unused_quantity"], ri["unit"]) == ("4", "0", "Normalized Hour")
    assert other["utilisation"] is None and other["unit"] is None
    assert report.notes == [
        "other: no Used or Unused rows with CommitmentDiscountId 'not-on-the-bill' in 2023-01"
    ]


def test_a_reservation_burns_down_and_projects_its_shortfall(ingested: Copy) -> None:
    workspace = ingested("commitment_discount_usage_scenario_3")
    record(workspace)
    [found] = cm.commitment_report(workspace, "2023-01").commitments
    figures = found.as_dict()
    assert (figures["elapsed_days"], figures["term_days"]) == (31, 365)
    assert (figures["drawn_to_date"], figures["remaining"]) == ("0.75", "8759.25")
    assert (figures["projected"], figures["projected_shortfall"]) == ("8.83", "8751.17")
    assert figures["projected_overage"] == "0.00"
    assert figures["burn_down"] == [
        {"period": "2023-01", "drawn": "0.75", "cumulative": "0.75", "remaining": "8759.25"}
    ]
    # before the term: nothing elapsed, nothing projected
    [early] = cm.commitment_report(workspace, "2022-12").commitments
    assert (early.status, early.projected, early.burn_down) == ("not started", None, [])


def test_spend_agreements_burn_down_to_the_specs_unused_fee(ingested: Copy) -> None:
    workspace = ingested("saas_spend_agreements_a1", "saas_spend_agreements_b1")
    term: dict[str, Any] = {
        "provider": "Acme Co",
        "amount": Decimal("1200"),
        "currency": "USD",
        "start": date(2025, 4, 1),
        "end": date(2026, 3, 31),
        "actor": "test",
    }
    for name, kind, source in (
        ("acme-commit", "committed-use", "a1"),
        ("acme-prepaid", "prepaid-credit", "b1"),
    ):
        scope = f"x_Source = 'saas_spend_agreements_{source}' AND SkuId = 'U-123'"
        cm.add_commitment(workspace, name=name, kind=kind, scope=scope, **term)
    # the whole prepaid file: its purchase is paid, not drawn; its unused fee uses it up
    everything = "x_Source = 'saas_spend_agreements_b1'"
    cm.add_commitment(workspace, name="all-b1", kind="prepaid-credit", scope=everything, **term)
    report = cm.commitment_report(workspace, "2025-06")
    june = {c.commitment.name: c.as_dict() for c in report.commitments}
    for name in ("acme-commit", "acme-prepaid"):
        figures = june[name]
        assert figures["measured_by"] == "spend in scope"
        assert [(b["period"], b["drawn"], b["remaining"]) for b in figures["burn_down"]] == [
            ("2025-04", "48.00", "1152.00"),
            ("2025-05", "120.00", "1032.00"),
            ("2025-06", "60.00", "972.00"),
        ]
        assert (figures["spend"], figures["drawn_to_date"], figures["elapsed_days"]) == (
            "60.00",
            "228.00",
            91,
        )
        assert (figures["projected"], figures["projected_shortfall"]) == ("914.51", "285.49")
        assert (figures["period_share"], figures["utilisation"]) == ("98.63", "0.6083333333")
        assert (figures["coverage"], figures["used"], figures["idle"]) == (None, None, None)
    [april] = [c for c in cm.commitment_report(workspace, "2025-04").commitments][2:]
    assert (april.sums["purchased"], april.drawn) == (Decimal(1200), Decimal(48))
    march = {c.commitment.name: c for c in cm.commitment_report(workspace, "2026-03").commitments}
    for name in ("acme-commit", "acme-prepaid"):
        found = march[name]
        assert len(found.burn_down) == 12
        assert (found.drawn_to_date, found.elapsed_days) == (Decimal(228), 365)
        assert (found.projected, found.shortfall, found.overage) == (
            Decimal("228.00"),
            Decimal("972.00"),
            Decimal(0),
        )
    assert (march["all-b1"].drawn_to_date, march["all-b1"].shortfall) == (Decimal(1200), 0)
    # after the term the figures stay those of its end
    after = cm.commitment_report(workspace, "2026-05").commitments[0]
    assert (after.status, after.shortfall, len(after.burn_down)) == ("ended", Decimal("972.00"), 12)


def test_portfolio_coverage_and_utilisation(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")

    def line(cost: str, **more: str) -> dict[str, str]:
        return {"BilledCost": cost, "EffectiveCost": cost, **more}

    bill = write_focus(
        tmp_path / "oct.csv",
        [
            line("80", CommitmentDiscountId="ri-1", CommitmentDiscountStatus="Used"),
            line("20", CommitmentDiscountId="ri-1", CommitmentDiscountStatus="Unused"),
            line("100"),
            line("50", ServiceName="Amazon S3"),
            line("150", ProviderName="OpenAI", ServiceName="API"),
            line("10", ProviderName="OpenAI", ServiceName="API", BillingCurrency="EUR"),
        ],
    )
    ingest(workspace, bill)
    october = {"start": date(2026, 10, 1), "currency": "USD", "actor": "test"}
    cm.add_commitment(
        workspace,
        name="ec2-ri",
        kind="reserved",
        provider="AWS",
        amount=Decimal("3100"),
        end=date(2026, 10, 31),
        commitment_id="ri-1",
        scope="ServiceName = 'Amazon Elastic Compute Cloud'",
        **october,
    )
    cm.add_commitment(  # no scope: OpenAI's lines
        workspace,
        name="openai-ea",
        kind="enterprise-discount",
        provider="OpenAI",
        amount=Decimal("3650"),
        end=date(2027, 9, 30),
        **october,
    )
    report = cm.commitment_report(workspace, "2026-10")
    ri, ea = (c.as_dict() for c in report.commitments)
    assert (ri["utilisation"], ri["coverage"]) == ("0.8000000000", "0.4444444444")
    assert (ri["eligible"], ri["covered"], ri["idle"]) == ("180.00", "80.00", "20.00")
    assert (ea["spend"], ea["period_share"]) == ("150.00", "310.00")
    assert ea["utilisation"] == "0.4838709677"
    assert (ea["projected"], ea["projected_shortfall"]) == ("1766.13", "1883.87")
    assert report.notes == [
        "openai-ea: 1 lines of its scope in 2026-10 are billed in another currency than USD "
        "and are not counted",
        "2026-10 is not allocated yet: where its unused cost goes is not known",
    ]
    expected = (Decimal("0.4444444444"), Decimal("0.5609756098"))
    assert (report.coverage, report.utilisation) == expected
    assert cm.portfolio_figures(workspace, "2026-10") == expected
    # November: the reservation's term is over, OpenAI's share went unspent; no usage to cover
    assert cm.portfolio_figures(workspace, "2026-11") == (None, Decimal(0))
    # commitments in two currencies are not added up
    cm.add_commitment(
        workspace,
        name="eur",
        kind="prepaid-credit",
        provider="Mistral",
        amount=Decimal("10"),
        currency="EUR",
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        actor="test",
    )
    assert cm.portfolio_figures(workspace, "2026-10") == (Decimal("0.4444444444"), Decimal(0))
    report = cm.commitment_report(workspace, "2026-10")
    assert (report.coverage, report.utilisation) == (Decimal("0.4444444444"), Decimal(0))
    assert report.as_dict()["portfolio_by_currency"] == [
        {"currency": "EUR", "coverage": None, "utilisation": "0.0000000000"},
        {"currency": "USD", "coverage": "0.4444444444", "utilisation": "0.5609756098"},
    ]
    assert report.notes[1:] == [
        "eur: its term began 2026-01-01, before the first bill loaded: 2026-01 to 2026-09 are "
        "not counted (unknown, not zero spend), and the burn-down and projection run from the "
        "first month loaded; ingest those bills for the whole term",
        "eur: no cost line of 2026-10 within its term matches ProviderName 'Mistral', so its "
        "spend is 0: check the provider is named as the bills name it, or the scope",
        "2026-10 is not allocated yet: where its unused cost goes is not known",
        "commitments in 2 currencies are not added up: the portfolio's coverage and "
        "utilisation are each the lowest currency's (EUR: coverage -, utilisation "
        "0.0000000000; USD: coverage 0.4444444444, utilisation 0.5609756098)",
    ]
    workspace.close()


def test_a_term_from_mid_month_counts_only_its_days(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")

    def line(cost: str, day: int, **more: str) -> dict[str, str]:
        charged = {
            "ChargePeriodStart": f"2026-10-{day:02d}T00:00:00Z",
            "ChargePeriodEnd": f"2026-10-{day + 1:02d}T00:00:00Z",
        }
        return {"BilledCost": cost, "EffectiveCost": cost, **charged, **more}

    openai = {"ProviderName": "OpenAI", "ServiceName": "API"}
    bill = write_focus(
        tmp_path / "oct.csv",
        [
            line("100", 3, **openai),
            line("62", 20, **openai),
            line("100", 3),
            line("50", 20, CommitmentDiscountId="ri-2", CommitmentDiscountStatus="Used"),
            line("30", 20),
        ],
    )
    ingest(workspace, bill)
    mid = {"start": date(2026, 10, 15), "currency": "USD", "actor": "test"}
    cm.add_commitment(
        workspace,
        name="ea",
        kind="enterprise-discount",
        provider="OpenAI",
        amount=Decimal("3650"),
        end=date(2027, 10, 14),
        **mid,
    )
    cm.add_commitment(
        workspace,
        name="ri",
        kind="reserved",
        provider="AWS",
        amount=Decimal("1700"),
        end=date(2026, 10, 31),
        commitment_id="ri-2",
        scope="ServiceName = 'Amazon Elastic Compute Cloud'",
        **mid,
    )
    ea, ri = (c.as_dict() for c in cm.commitment_report(workspace, "2026-10").commitments)
    assert (ea["spend"], ea["period_share"], ea["elapsed_days"]) == ("62.00", "170.00", 17)
    assert (ea["utilisation"], ea["projected"]) == ("0.3647058824", "1331.18")
    assert (ri["eligible"], ri["covered"], ri["coverage"]) == ("80.00", "50.00", "0.6250000000")
    assert cm.portfolio_figures(workspace, "2026-10")[0] == Decimal("0.625")
    workspace.close()


def test_no_commitments_no_figures(empty: Workspace) -> None:
    assert cm.portfolio_figures(empty, "2026-10") == (None, None)
    report = cm.commitment_report(empty, "2026-10")
    assert (report.commitments, report.idle) == ([], [])
    assert report.notes == ["no commitments recorded: apportion commitment add"]


# -- idle cost --------------------------------------------------------------------------------
def test_unused_cost_is_allocated_to_idle_by_the_readme_rule(ingested: Copy) -> None:
    workspace = ingested("commitment_discount_usage_scenario_3")
    record(workspace)
    report = cm.commitment_report(workspace, "2023-01")
    assert [i.allocated_to_idle for i in report.idle] == [None]
    assert report.notes == ["2023-01 is not allocated yet: where its unused cost goes is not known"]
    allocate(workspace, "2023-01")
    lines = period_lines(workspace, "2023-01") or []
    # 0.25 unused to platform's __idle__; the used 0.75 is claimed by no rule; nothing lost
    assert {(line.payer, line.workload): line.amount for line in lines} == {
        ("platform", "__idle__"): Decimal("0.25"),
        ("__unallocated__", "__unallocated__"): Decimal("0.75"),
    }
    report = cm.commitment_report(workspace, "2023-01")
    assert [i.as_dict() for i in report.idle] == [
        {"currency": "USD", "unused": "0.25", "allocated_to_idle": "0.25"}
    ]
    assert report.notes == []


def test_without_the_rule_unused_cost_stays_unallocated_and_is_noted(ingested: Copy) -> None:
    copied = ingested("commitment_discount_usage_scenario_2")
    copied.close()
    (copied.root / "apportion.yaml").write_text("version: 1\nrules: []\n", encoding="utf-8")
    workspace = Workspace.open(copied.root)
    record(workspace)
    allocate(workspace, "2023-01")
    lines = period_lines(workspace, "2023-01") or []
    assert [(line.workload, line.amount) for line in lines] == [
        ("__unallocated__", Decimal("1.00"))
    ]
    report = cm.commitment_report(workspace, "2023-01")
    assert [i.as_dict() for i in report.idle] == [
        {"currency": "USD", "unused": "1.00", "allocated_to_idle": "0.00"}
    ]
    assert report.notes == [
        "1.00 USD of unused commitment cost is not allocated to __idle__: give it a rule "
        "(README: Commitments) or find it under the rules that claimed it"
    ]
    workspace.close()


def test_sub_cent_unused_rows_rounded_on_the_statement_are_no_note(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws", _readme_idle_rule())
    unused = {"CommitmentDiscountId": "ri-1", "CommitmentDiscountStatus": "Unused"}
    rows = [{"BilledCost": "0.004", "EffectiveCost": "0.004", **unused} for _ in range(3)]
    used = {"CommitmentDiscountId": "ri-1", "CommitmentDiscountStatus": "Used"}
    rows.append({"BilledCost": "1", "EffectiveCost": "1", **used})
    ingest(workspace, write_focus(tmp_path / "oct.csv", rows))
    allocate(workspace, "2026-10")
    report = cm.commitment_report(workspace, "2026-10")
    [idle] = report.idle
    assert (idle.unused, idle.allocated_to_idle, idle.elsewhere) == (
        Decimal("0.012"),
        Decimal("0.01"),
        0,
    )
    assert report.notes == ["no commitments recorded: apportion commitment add"]
    workspace.close()


def test_a_period_with_adjustments_only_is_not_allocated_yet(ingested: Copy) -> None:
    workspace = ingested("commitment_discount_usage_scenario_3")
    record(workspace)
    with workspace.control.transaction() as session:  # posted to 2023-01, the next open one
        adjustments.post(
            session,
            corrects="2022-12",
            kind=adjustments.RESTATEMENT,
            payer="platform",
            workload="__idle__",
            category="compute",
            rule="r",
            method="direct",
            mode="chargeback",
            currency="USD",
            amount=Decimal("5"),
            description="a late credit",
            actor="test",
        )
    assert period_lines(workspace, "2023-01")  # the adjustment, but no statement
    report = cm.commitment_report(workspace, "2023-01")
    assert [i.allocated_to_idle for i in report.idle] == [None]
    assert report.notes == ["2023-01 is not allocated yet: where its unused cost goes is not known"]


# -- recording ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"kind": "lease"}, "kind 'lease' is not one of reserved"),
        ({"end": date(2022, 12, 31)}, "the term ends (2022-12-31) before it starts"),
        ({"amount": Decimal("0")}, "the amount must be a number above 0"),
        ({"amount": Decimal("1.005")}, "1.005 has more decimals than USD's 2"),
        ({"currency": "XYZ"}, "'XYZ' is not an ISO 4217 currency code"),
        ({"scope": "Nonsense = 1"}, "scope: unknown column 'Nonsense': use a FOCUS column"),
        (
            {"scope": "1; DROP TABLE commitments"},
            "scope: several statements are not allowed in a match expression: "
            "'1; DROP TABLE commitments'",
        ),
        (
            {"scope": "upper(ServiceName) = 'X'"},
            "scope: function call 'UPPER(ServiceName)' is not allowed in a match expression",
        ),
        (
            {"scope": "BilledCost = 'abc'"},
            "scope: cannot compare BilledCost (decimal(38, 18)) with 'abc' (string)",
        ),
        ({"name": " "}, "give the commitment's name"),
        ({"name": "a\x00b"}, "without control characters"),
    ],
)
def test_a_bad_commitment_is_refused_and_nothing_is_recorded(
    empty: Workspace, given: dict[str, Any], message: str
) -> None:
    with pytest.raises(cm.CommitmentError) as refused:
        record(empty, **given)
    assert message in str(refused.value)
    assert cm.commitments(empty) == []


def test_the_kinds_are_one_list() -> None:
    assert tuple(kind.value for kind in Kind) == KINDS


def test_recording_normalises_refuses_duplicates_and_is_audited(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    found = record(workspace, currency="usd", amount=Decimal("8760.00"))
    assert (found.currency, found.amount, found.term_days) == ("USD", Decimal("8760.00"), 365)
    with pytest.raises(cm.CommitmentError, match="a commitment named 'ri' is already recorded"):
        record(workspace)
    with pytest.raises(cm.CommitmentError, match=f"commitment id '{ID}' is already recorded as"):
        record(workspace, name="again")
    assert [c.name for c in cm.commitments(workspace)] == ["ri"]
    [entry] = [e for e in entries(workspace.control) if e.action == "commitment.add"]
    assert entry.details is not None
    assert (entry.actor, entry.subject, entry.details["amount"]) == (
        "test",
        "commitment ri",
        "8760.00",
    )
    workspace.close()


# -- the command and the API -------------------------------------------------------------------
ADD = [
    "commitment",
    "add",
    "--name",
    "ri",
    "--kind",
    "reserved",
    "--provider",
    "Example",
    "--amount",
    "8760",
    "--currency",
    "USD",
    "--start",
    "2023-01-01",
    "--end",
    "2023-12-31",
    "--commitment-id",
    ID,
]


def test_the_commands_record_list_and_report(ingested: Copy) -> None:
    workspace = ingested("commitment_discount_usage_scenario_3")
    root = workspace.root
    workspace.close()
    runner = CliRunner()
    base = ["--workspace", str(root)]
    done = runner.invoke(app, [*base, *ADD])
    assert done.exit_code == 0, done.output
    assert "commitment ri recorded: 8760 USD with Example, 2023-01-01 to 2023-12-31" in done.stdout
    again = runner.invoke(app, [*base, *ADD])
    assert again.exit_code == 2
    assert "a commitment named 'ri' is already recorded" in again.output
    bad = runner.invoke(app, [*base, *ADD[:-4], "--end", "2023-13-01"])
    assert bad.exit_code == 2
    not_a_number = runner.invoke(app, [*base, *ADD[:8], "--amount", "lots", *ADD[10:]])
    assert not_a_number.exit_code == 2
    assert "'lots' is not a number" in not_a_number.output
    listed = runner.invoke(app, [*base, "commitment", "list", "--format", "json"])
    assert [c["name"] for c in json.loads(listed.stdout)] == ["ri"]
    as_json = runner.invoke(app, [*base, "report", "commitments", "-p", "2023-01", "-f", "json"])
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.stdout)
    assert (payload["utilisation"], payload["commitments"][0]["idle"]) == ("0.7500000000", "0.25")
    as_csv = runner.invoke(app, [*base, "report", "commitments", "-p", "2023-01", "-f", "csv"])
    header, row = as_csv.stdout.strip().splitlines()
    assert header.startswith("name,kind,currency,amount,start,end,status,used,idle,utilisation")
    assert row.startswith("ri,reserved,USD,8760.00,2023-01-01,2023-12-31,active,0.75,0.25,")
    table = runner.invoke(app, [*base, "report", "commitments", "-p", "2023-01"])
    assert table.exit_code == 0
    assert "portfolio: coverage -, utilisation 0.7500000000" in table.stdout
    bad_period = runner.invoke(app, [*base, "report", "commitments", "-p", "2023-1"])
    assert bad_period.exit_code == 2


def test_the_api_records_for_admins_and_reports_to_analysts(ingested: Copy) -> None:
    from apportion.access import tokens
    from apportion.server import create_app

    workspace = ingested("commitment_discount_usage_scenario_3")
    made = {
        role: tokens.create(workspace.control, role, role, ["x"] if role == "consumer" else [], "t")
        for role in ("admin", "analyst", "consumer")
    }
    root = workspace.root
    workspace.close()
    body = {
        "name": "ri",
        "kind": "reserved",
        "provider": "Example",
        "amount": "8760",
        "currency": "USD",
        "start": "2023-01-01",
        "end": "2023-12-31",
        "commitment_id": ID,
    }

    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {made[role]}"}

    with TestClient(create_app(root)) as client:
        for role in ("analyst", "consumer"):
            refused = client.post("/api/v1/commitments", json=body, headers=auth(role))
            assert refused.status_code == 403
        created = client.post("/api/v1/commitments", json=body, headers=auth("admin"))
        assert created.status_code == 201, created.text
        assert created.json()["created_by"] == "token:admin"
        for bad in ({**body, "name": "x", "end": "2022-01-01"}, {**body, "kind": "lease"}):
            answer = client.post("/api/v1/commitments", json=bad, headers=auth("admin"))
            assert answer.status_code == 422
        listed = client.get("/api/v1/commitments", headers=auth("analyst"))
        assert [c["name"] for c in listed.json()] == ["ri"]
        url = "/api/v1/periods/2023-01/commitments"
        report = client.get(url, headers=auth("analyst"))
        assert report.status_code == 200
        assert report.json()["commitments"][0]["utilisation"] == "0.7500000000"
        assert client.get(url, headers=auth("consumer")).status_code == 403


def test_months_before_the_first_bill_are_unknown_and_overlapping_scopes_are_noted(
    tmp_path: Path,
) -> None:
    """A spend agreement over 2026 (3,650 USD, 365 days) with bills loaded from October
    only: January to September are not zero spend. October's 150 is drawn, projected over
    October's 31 measured days: 150 x 365 / 31 = 1766.129... -> 1766.13 (not 150 x 365 / 304
    = 180.10, as if nine months had been spent at zero); August's utilisation is unknown. A
    second agreement over the same OpenAI spend draws the same 150: noted."""
    workspace = make_workspace(tmp_path / "ws")
    october = {
        "ChargePeriodStart": "2026-10-03T00:00:00Z",
        "ChargePeriodEnd": "2026-10-04T00:00:00Z",
    }
    bill = write_focus(
        tmp_path / "oct.csv",
        [{"BilledCost": "150", "EffectiveCost": "150", "ProviderName": "OpenAI", **october}],
    )
    ingest(workspace, bill)
    term: dict[str, Any] = {
        "kind": "committed-use",
        "provider": "OpenAI",
        "amount": Decimal("3650"),
        "currency": "USD",
        "start": date(2026, 1, 1),
        "end": date(2026, 12, 31),
        "actor": "test",
    }
    cm.add_commitment(workspace, name="ea", **term)
    report = cm.commitment_report(workspace, "2026-10")
    [ea] = report.commitments
    figures = ea.as_dict()
    assert [b["period"] for b in figures["burn_down"]] == ["2026-10"]
    assert (figures["drawn_to_date"], figures["measured_days"]) == ("150.00", 31)
    assert figures["projected"] == "1766.13"
    assert figures["not_loaded"] == [f"2026-{m:02d}" for m in range(1, 10)]
    assert any("2026-01 to 2026-09 are not counted" in note for note in report.notes)
    [august] = cm.commitment_report(workspace, "2026-08").commitments
    assert august.utilisation is None
    cm.add_commitment(workspace, name="ea-again", **term)
    notes = cm.commitment_report(workspace, "2026-10").notes
    assert (
        "ea and ea-again both draw the same 150.00 USD of spend in 2026-10: their scopes "
        "overlap, so each counts it and together they show it twice; narrow a scope so each "
        "line is drawn once"
    ) in notes
    workspace.close()
