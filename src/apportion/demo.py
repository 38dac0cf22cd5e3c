"""`apportion demo`: the whole monthly cycle on a realistic synthetic organisation.

Two months: the one before is ingested, allocated, shown back and closed, so that the demo
month has history to be reviewed, forecast and checked against. Before the demo month the
owners submit their forecasts and the platform team records its OpenAI commitment; in it, a
retry loop makes the support bot's traffic surge for a day. Then the month is allocated,
reviewed (the surge explained by its owner), checked (forecast to actual, anomalies,
commitments, unit economics, maturity) and closed, chargeback posted.
"""

from __future__ import annotations

import csv
import math
import shutil
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

from apportion.analyse import review as monthly
from apportion.analyse.anomalies import anomalies
from apportion.analyse.commitment_records import add_commitment
from apportion.analyse.commitments import commitment_report
from apportion.analyse.forecasts import accuracy, actuals, submit_file
from apportion.analyse.maturity import maturity
from apportion.analyse.playbooks import playbooks
from apportion.analyse.unit_economics import RETIRE, UNRECOGNISED, unit_economics
from apportion.ingest.load import ingest_files
from apportion.ledger.allocation import allocate_period
from apportion.ledger.close import close_period, verify
from apportion.ledger.journal import posted
from apportion.ledger.periods import start_review
from apportion.money import exact_sum
from apportion.periods import Period
from apportion.progress import Progress, quiet
from apportion.schema import tables as t
from apportion.synth import ORGANISATION, Surge, generate, minimum_driver_rows, parse_period
from apportion.workspace import Workspace

_ENGINE = """version: 1
engine: {type: duckdb, path: apportion.duckdb}
control_plane: sqlite:///apportion.sqlite
"""
ACTOR = "demo"
# 21 October: a retry loop in a support-bot release sends four times the day's traffic
SURGES = {"support-bot": Surge(day=20, factor=4.0)}
SURGE_EXPLAINED = (
    "retry loop in support-bot 2.3 on the 21st (four times the traffic); fixed on the 22nd"
)
# how each cost centre's owner forecasts: most within a few percent, two with a habit
FORECAST_HABITS = {"fraud-ops": 1.25, "marketing": 0.8}
COMMITMENT = "openai-committed-spend"


def run_demo(
    directory: Path,
    *,
    period: str = "2026-10",
    seed: int = 7,
    driver_rows: int = 1_200_000,
    progress: Progress | None = None,
) -> list[str]:
    """Build the demo workspace from scratch and return a short summary."""
    say = progress or quiet
    started = time.perf_counter()
    if directory.exists():
        shutil.rmtree(directory)
    history = str(Period.parse(period).previous)
    say("generating the synthetic organisation")
    fewer = max(driver_rows // 4, minimum_driver_rows(ORGANISATION, parse_period(history)))
    earlier = generate(
        directory / "inputs" / history, period=history, seed=seed + 1, driver_rows=fewer
    )
    data = generate(
        directory / "inputs" / period,
        period=period,
        seed=seed,
        driver_rows=driver_rows,
        surges=SURGES,
    )
    for mapping in data.mapping_files:  # named relative to the workspace in its config
        shutil.copyfile(mapping, directory / mapping.name)
    workspace = Workspace.create(directory, _ENGINE + data.config_yaml)
    try:
        say("ingesting bills")
        bills = ingest_files(workspace, [*earlier.cost_files, *data.cost_files], progress=say)
        say("ingesting drivers")
        drivers = ingest_files(workspace, [*earlier.driver_files, *data.driver_files], progress=say)
        say("ingesting business metrics")
        metrics = ingest_files(
            workspace, [*earlier.metrics_files, *data.metrics_files], progress=say
        )
        say("ingesting OpenAI's usage report")
        usage = ingest_files(workspace, list(data.usage_files), progress=say)
        before = allocate_period(workspace, history, progress=say)
        closed_before = _close_history(workspace, history, say) if before.published else []
        planned = _plan(workspace, history, period, directory / "inputs", seed)
        result = allocate_period(workspace, period, progress=say)
        cycle = _operate(workspace, period) if result.published else []
        ledger = _review_and_close(workspace, period, say) if result.published else []
        economics = _unit_economics(workspace, period) if result.published else []
        maturity = _maturity(workspace, period) if result.published else []
    finally:
        workspace.close()
    elapsed = time.perf_counter() - started
    quarantined = sum(r.quarantined for r in [*bills, *drivers, *metrics, *usage])
    return [
        f"demo workspace: {directory}",
        f"ingested {sum(r.rows for r in bills):,} cost lines from {len(bills)} bills and "
        f"{sum(r.rows for r in drivers):,} driver rows over {history} and {period}; "
        f"{quarantined} rows quarantined",
        *closed_before,
        *planned,
        f"allocated {period}: run {result.run_id}, {result.pools:,} pools, "
        f"{result.allocations:,} allocations" + ("" if result.published else " (NOT published)"),
        *cycle,
        *ledger,
        *economics,
        *maturity,
        f"finished in {elapsed:.1f} s",
    ]


def _close_history(workspace: Workspace, period: str, say: Progress) -> list[str]:
    """The month before, shown back in full (chargeback starts with the demo month)."""
    start_review(workspace.control, period, ACTOR)
    closed = close_period(workspace, period, ACTOR)
    return [f"closed {period} on showback: {closed.lines} statement lines"]


def _plan(workspace: Workspace, history: str, period: str, inputs: Path, seed: int) -> list[str]:
    """What the owners and the platform team set down before the month: forecasts from last
    month's actuals, and the OpenAI commitment."""

    rng = np.random.default_rng([seed, 5])
    path = inputs / f"forecasts-{period}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("period", "cost_centre", "use_case", "amount", "currency"))
        for (payer, workload, currency), actual in sorted(
            (actuals(workspace, history) or {}).items()
        ):
            if t.UNALLOCATED in (payer, workload) or actual <= 0:
                continue
            habit = FORECAST_HABITS.get(payer, 1.0) * rng.uniform(0.97, 1.08)
            amount = (actual * Decimal(f"{habit:.4f}")).quantize(Decimal("0.01"))
            writer.writerow((period, payer, workload, f"{amount:f}", currency))
    submitted = submit_file(workspace, path, ACTOR)
    start = Period.parse(history).start.date()
    end = date(start.year + 1, start.month, 1) - timedelta(days=1)
    monthly = _provider_cost(workspace, history, "OpenAI")
    # committed a sixth above the run rate of its first month: a shortfall in the making
    amount = Decimal(math.ceil(monthly * 12 * Decimal("1.15") / 1000) * 1000)
    add_commitment(
        workspace,
        name=COMMITMENT,
        kind="committed-use",
        provider="OpenAI",
        amount=amount,
        currency="USD",
        start=start,
        end=end,
        actor=ACTOR,
    )
    return [
        f"forecasts for {period}: {submitted.created} lines submitted by the owners "
        f"({path.name}); commitment {COMMITMENT}: {amount:,} USD with OpenAI, {start} to {end}"
    ]


def _provider_cost(workspace: Workspace, period: str, provider: str) -> Decimal:
    lines = workspace.data.table(t.COST_LINES)
    chosen = lines.filter((lines[t.BILLING_PERIOD] == period) & (lines.ProviderName == provider))
    found = workspace.data.to_arrow(chosen.aggregate(cost=chosen.EffectiveCost.sum()))
    return found.to_pylist()[0]["cost"] or Decimal(0)


def _operate(workspace: Workspace, period: str) -> list[str]:
    """The month's checks: the review (the surge explained), forecast to actual, anomalies,
    the optimisation playbooks and the commitment."""

    root = workspace.root
    for item in monthly.monthly_review(workspace, period).flagged():
        if item.workload == "support-bot" and item.category == "foundation_model_api":
            subject = monthly.Subject(item.payer, item.workload, item.category, item.currency)
            monthly.explain(workspace, period, subject, SURGE_EXPLAINED, "support-bot-owner")
    found = monthly.monthly_review(workspace, period).as_dict()
    lines = [
        f"reviewed {period}: {found['needs_explanation']} lines moved beyond their thresholds, "
        f"{found['explained']} explained (apportion -w {root} report review --period {period})"
    ]
    wape = accuracy(workspace, period)
    if wape is not None:
        lines.append(
            f"forecast to actual {period}: WAPE {wape * 100:.1f}% "
            f"(apportion -w {root} report forecast --period {period})"
        )
    report = anomalies(workspace, period)
    if report.anomalies:
        largest = max(report.anomalies, key=lambda a: abs(a.size))
        key = largest.series
        lines.append(
            f"anomalies {period}: {len(report.anomalies)} found; the largest, {key.use_case} "
            f"{key.category} on {key.provider} from {largest.start}: {largest.size:+,} "
            f"{key.currency} (apportion -w {root} report anomalies --period {period})"
        )
    found_savings = playbooks(workspace, period).findings
    if found_savings:
        best = found_savings[0]
        lines.append(
            f"playbooks {period}: {len(found_savings)} savings found; the largest, "
            f"{best.playbook} for {best.use_case} on {best.model}: about "
            f"{best.monthly_saving:,} {best.currency} a month "
            f"(apportion -w {root} report playbooks --period {period})"
        )
    for figures in commitment_report(workspace, period).commitments:
        used = figures.utilisation
        shortfall = figures.shortfall
        lines.append(
            f"commitment {figures.commitment.name}: "
            + (f"{used * 100:.1f}% of {period}'s share drawn" if used is not None else "")
            + (f"; projected shortfall {shortfall:,} USD at term end" if shortfall else "")
        )
    return lines


def _unit_economics(workspace: Workspace, period: str) -> list[str]:
    """Where the portfolio's corners are, from the cost per decision."""
    found = unit_economics(workspace, period)
    per_class: dict[str, list[str]] = {}
    for use_case in found.use_cases:
        if use_case.verdict:
            per_class.setdefault(use_case.verdict, []).append(use_case.workload)
    lines = [
        f"unit economics: {sum(map(len, per_class.values()))} use cases with a cost per decision "
        f"(apportion -w {workspace.root} report unit-economics --period {period})"
    ]
    for verdict in (RETIRE, UNRECOGNISED):
        if per_class.get(verdict):
            lines.append(f"  {verdict}: {', '.join(per_class[verdict])}")
    return lines


def _maturity(workspace: Workspace, period: str) -> list[str]:
    found = maturity(workspace, period)
    weakest = found.weakest
    lines = [
        f"maturity: {found.stage}"
        + (f" (weakest practice: {weakest.name})" if weakest else "")
        + f" (apportion -w {workspace.root} report maturity --period {period})"
    ]
    if found.next_step:
        lines.append(f"  next step: {found.next_step}")
    return lines


def _review_and_close(workspace: Workspace, period: str, say: Progress) -> list[str]:
    """The rest of the month: review, close (statements frozen, chargeback journal posted)
    and a check of the ledger's hash chain."""
    say("reviewing and closing")
    start_review(workspace.control, period, ACTOR)
    closed = close_period(workspace, period, ACTOR)
    entries = posted(workspace.control, period)
    # what the recovery account was credited: every chargeback line, nothing shown back
    chargeback = exact_sum(line.credit - line.debit for line in entries if not line.workload)
    intact = verify(workspace.control).intact
    return [
        f"closed {period}: {closed.lines} statement lines, {len(entries)} journal lines "
        f"charging back {chargeback:,} (foundation models and self-hosted compute; the rest "
        "is shown back)",
        f"ledger chain head {closed.chain_hash}: " + ("verified" if intact else "NOT intact"),
        f"a cost centre's statement: apportion -w {workspace.root} statement --period {period} "
        "--cost-centre fraud-ops --format html --out fraud-ops.html",
    ]
