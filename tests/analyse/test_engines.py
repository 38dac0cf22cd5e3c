"""The analyses that read the data plane, on each engine: daily cost traced through a cascade to
its bill lines (anomalies), spend against a commitment (commitments) and the figures maturity
stands on give the same exact answers on DuckDB and on Spark.

The organisation is the API tests' (tests/api/cases.py; every line on 2026-10-03): cx/bot is
billed 10.005 directly on OpenAI, gets 6 of the gpu's 9 and 60 of Databricks' 90 (fixed to
shared-services, then 2 of 3 requests); ops/etl 3.333, 3 and 30; 1 is unallocated. A licence
of 31 for bot, charged for the whole of October, is no day's cost.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from apportion.analyse.commitment_records import add_commitment
from apportion.analyse.commitments import commitment_report
from apportion.analyse.daily_cost import period_cost
from apportion.analyse.maturity import maturity
from apportion.money import EXACT
from apportion.periods import Period
from apportion.tags.coverage import ALL, tag_coverage
from tests.api.cases import PERIOD, RULES, write_bill, write_driver_rows
from tests.helpers import allocate, ingest, make_workspace, write_focus

DAY = date(2026, 10, 3)


@pytest.mark.usefixtures("engine")
def test_daily_cost_commitments_and_maturity_on_either_engine(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws", RULES)
    licence = write_focus(
        tmp_path / "licence.csv",
        [
            {
                "BilledCost": "31",
                "EffectiveCost": "31",
                "ServiceName": "Licence",
                "ResourceId": "seat",
                "ChargePeriodStart": "2026-10-01T00:00:00Z",
                "ChargePeriodEnd": "2026-11-01T00:00:00Z",
                "Tags": {"use_case": "bot", "cost_centre": "cx"},
            }
        ],
    )
    ingest(
        workspace,
        write_bill(tmp_path / "bill.csv"),
        write_driver_rows(tmp_path / "d.csv"),
        licence,
    )
    allocate(workspace, PERIOD)

    daily = period_cost(workspace, Period.parse(PERIOD))
    by_series = {
        (key.use_case, key.provider): {day: f"{cost:f}" for day, cost in days.items()}
        for key, days in daily.daily.items()
    }
    # exact shares: the cascade's 60 of 90 reaches bot as 2/3 of the Databricks pool
    assert by_series[("bot", "OpenAI")] == {DAY: "10.005000000000000000"}
    bot_aws = sum(
        Decimal(v) for k, days in by_series.items() if k == ("bot", "AWS") for v in days.values()
    )
    assert bot_aws.quantize(Decimal("0.000001")) == Decimal("66.000000")
    assert any("1 bill lines charged for more than a day" in n for n in daily.notes)

    add_commitment(
        workspace,
        name="openai",
        kind="committed-use",
        provider="OpenAI",
        amount=Decimal("3650"),
        currency="USD",
        start=date(2026, 10, 1),
        end=date(2027, 9, 30),
        actor="test",
    )
    [figures] = commitment_report(workspace, PERIOD).commitments
    # 31 of the term's 365 days: a share of 310.00; 10.005 spent
    assert (figures.drawn, figures.share) == (Decimal("10.005"), Decimal("310"))

    found = {p.name: (p.figure, p.stage) for p in maturity(workspace, PERIOD).practices}
    # 113.338 + 31 = 144.338 ingested, 1 unallocated; the direct lines 10.005, 3.333 and 31
    # against the 1 no rule claimed
    assert found["allocation"] == (EXACT.divide(Decimal("143.338"), Decimal("144.338")), "run")
    # tagging is the figure `tags coverage` shows: no line carries all four required tags
    # (the licence line names no environment or lifecycle stage), so none of the cost does
    coverage = tag_coverage(workspace, Period.parse(PERIOD), months=1, top=1)
    assert coverage.overall["USD"].share(ALL, "BilledCost") == 0
    assert found["tagging"] == (Decimal(0), "not yet crawling")
    workspace.close()
