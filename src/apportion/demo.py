"""`apportion demo`: the whole monthly cycle on a realistic synthetic organisation."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from apportion.allocate import allocate_period
from apportion.analyse.unit_economics import RETIRE, UNRECOGNISED, unit_economics
from apportion.ingest import ingest_files
from apportion.ledger.close import close_period, verify
from apportion.ledger.journal import posted
from apportion.ledger.periods import review
from apportion.money import exact_sum
from apportion.progress import Progress, quiet
from apportion.synth import generate
from apportion.workspace import Workspace

_ENGINE = """version: 1
engine: {type: duckdb, path: apportion.duckdb}
control_plane: sqlite:///apportion.sqlite
"""


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
    say("generating the synthetic organisation")
    data = generate(directory / "inputs", period=period, seed=seed, driver_rows=driver_rows)
    for mapping in data.mapping_files:  # named relative to the workspace in its config
        shutil.copyfile(mapping, directory / mapping.name)
    workspace = Workspace.create(directory, _ENGINE + data.config_yaml)
    try:
        say("ingesting bills")
        bills = ingest_files(workspace, list(data.cost_files), progress=say)
        say("ingesting drivers")
        drivers = ingest_files(workspace, list(data.driver_files), progress=say)
        say("ingesting business metrics")
        metrics = ingest_files(workspace, list(data.metrics_files), progress=say)
        result = allocate_period(workspace, period, progress=say)
        ledger = _review_and_close(workspace, period, say) if result.published else []
        economics = _unit_economics(workspace, period) if result.published else []
    finally:
        workspace.close()
    elapsed = time.perf_counter() - started
    quarantined = sum(r.quarantined for r in [*bills, *drivers, *metrics])
    return [
        f"demo workspace: {directory}",
        f"ingested {sum(r.rows for r in bills):,} cost lines from {len(bills)} bills and "
        f"{sum(r.rows for r in drivers):,} driver rows; {quarantined} rows quarantined",
        f"allocated {period}: run {result.run_id}, {result.pools:,} pools, "
        f"{result.allocations:,} allocations" + ("" if result.published else " (NOT published)"),
        *ledger,
        *economics,
        f"finished in {elapsed:.1f} s",
    ]


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


def _review_and_close(workspace: Workspace, period: str, say: Progress) -> list[str]:
    """The rest of the month: review, close (statements frozen, chargeback journal posted)
    and a check of the ledger's hash chain."""
    actor = "demo"
    say("reviewing and closing")
    review(workspace.control, period, actor)
    closed = close_period(workspace, period, actor)
    entries = posted(workspace.control, period)
    # what the recovery account was credited: every chargeback line, nothing shown back
    chargeback = exact_sum(line.credit - line.debit for line in entries if not line.workload)
    intact = verify(workspace.control).intact
    return [
        f"closed {period}: {closed.lines} statement lines, {len(entries)} journal lines "
        f"charging back {chargeback:,} (foundation models and self-hosted compute; the rest "
        "is shown back)",
        f"ledger hash {closed.chain_hash[:16]}: " + ("verified" if intact else "NOT intact"),
        f"a cost centre's statement: apportion -w {workspace.root} statement --period {period} "
        "--cost-centre fraud-ops --format html --out fraud-ops.html",
    ]
