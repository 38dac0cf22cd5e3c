"""`apportion demo`: the whole monthly cycle on a realistic synthetic organisation."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from apportion.allocate import allocate_period
from apportion.ingest import ingest_files
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
        result = allocate_period(workspace, period, progress=say)
    finally:
        workspace.close()
    elapsed = time.perf_counter() - started
    quarantined = sum(r.quarantined for r in [*bills, *drivers])
    return [
        f"demo workspace: {directory}",
        f"ingested {sum(r.rows for r in bills):,} cost lines from {len(bills)} bills and "
        f"{sum(r.rows for r in drivers):,} driver rows; {quarantined} rows quarantined",
        f"allocated {period}: run {result.run_id}, {result.pools:,} pools, "
        f"{result.allocations:,} allocations" + ("" if result.published else " (NOT published)"),
        f"finished in {elapsed:.1f} s",
    ]
