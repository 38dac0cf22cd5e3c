"""A seeded, deterministic month of a realistic organisation's AI cost data.

``generate`` writes FOCUS cost CSVs (one per provider bill) under ``out_dir/costs``, Parquet
driver files under ``out_dir/drivers``, the business metrics under ``out_dir/metrics``, the
OpenAI Usage API export (the token usage the optimisation playbooks read) under
``out_dir/usage`` and the OpenAI project mapping table under ``out_dir/mappings``, and returns
the demo's allocation rules. The same seed, period and row count always give byte-identical
files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apportion.synth.bills import (
    FOCUS_HEADER,
    Surge,
    write_bills,
    write_catalogue,
    write_openai_projects,
)
from apportion.synth.demo_config import CATALOGUE_FILE, PROJECTS_FILE, demo_config_yaml
from apportion.synth.drivers import DRIVER_SCHEMA, minimum_driver_rows, write_drivers
from apportion.synth.metrics import write_business_metrics
from apportion.synth.organisation import ORGANISATION, Organisation, Period, parse_period
from apportion.synth.usage import write_openai_usage

DEFAULT_DRIVER_ROWS = 1_200_000


@dataclass(frozen=True)
class SynthOutput:
    cost_files: tuple[Path, ...]  # FOCUS CSV files, one per provider/bill
    driver_files: tuple[Path, ...]  # Parquet driver files
    metrics_files: tuple[Path, ...]  # business metrics: decisions and value per use case
    usage_files: tuple[Path, ...]  # OpenAI Usage API export: daily tokens per project, model
    config_yaml: str  # the `dimensions:`, `tags:`, `rules:` and `ledger:` YAML of apportion.yaml
    # mapping tables and the catalogue the configuration names, to copy into the workspace
    mapping_files: tuple[Path, ...]
    driver_rows: int
    cost_rows: int


def generate(
    out_dir: Path,
    *,
    period: str = "2026-10",
    seed: int = 7,
    driver_rows: int = DEFAULT_DRIVER_ROWS,
    surges: Mapping[str, Surge] | None = None,
) -> SynthOutput:
    """Write one month of bills and metering for :data:`ORGANISATION` under ``out_dir``;
    ``surges``: use cases whose token traffic jumps on one day of it."""
    month = parse_period(period)
    out_dir = Path(out_dir)
    # Independent streams: the bills do not change when only driver_rows does.
    bills_rng, drivers_rng = np.random.default_rng(seed).spawn(2)
    bills = write_bills(out_dir / "costs", ORGANISATION, month, bills_rng, surges)
    driver_files, written = write_drivers(
        out_dir / "drivers", ORGANISATION, month, drivers_rng, driver_rows
    )
    # its own stream, so adding it changed no bill or driver row
    metrics = write_business_metrics(
        out_dir / "metrics", ORGANISATION, month, np.random.default_rng([seed, 3])
    )
    # the usage export carries the OpenAI bill's tokens (the surge too); its own stream draws
    # only request sizes
    usage = write_openai_usage(
        out_dir / "usage",
        ORGANISATION,
        month,
        bills.openai_tokens,
        np.random.default_rng([seed, 4]),
    )
    return SynthOutput(
        cost_files=bills.files,
        driver_files=driver_files,
        metrics_files=(metrics,),
        usage_files=(usage,),
        config_yaml=demo_config_yaml(month.label),
        mapping_files=(
            write_openai_projects(out_dir / "mappings" / PROJECTS_FILE, ORGANISATION),
            write_catalogue(out_dir / "mappings" / CATALOGUE_FILE, ORGANISATION),
        ),
        driver_rows=written,
        cost_rows=bills.rows,
    )


__all__ = [
    "DEFAULT_DRIVER_ROWS",
    "DRIVER_SCHEMA",
    "FOCUS_HEADER",
    "ORGANISATION",
    "Organisation",
    "Period",
    "Surge",
    "SynthOutput",
    "demo_config_yaml",
    "generate",
    "minimum_driver_rows",
    "parse_period",
]
