"""Small builders for hand-computed cases: FOCUS and driver files, and workspaces."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from apportion.allocate import Period
from apportion.ingest.load import ingest_files
from apportion.ledger.allocation import allocate_period
from apportion.report import totals
from apportion.workspace import Workspace

FIXTURES = Path(__file__).parent / "fixtures"
FOCUS_SAMPLE = FIXTURES / "focus-1.0" / "focus_sample_1000.csv"
SPEC_EXAMPLES = sorted((FIXTURES / "focus-1.2-spec-examples").rglob("*.csv"))

FOCUS_DEFAULTS: dict[str, str] = {
    "BillingPeriodStart": "2026-10-01T00:00:00Z",
    "BillingPeriodEnd": "2026-11-01T00:00:00Z",
    "ChargePeriodStart": "2026-10-03T00:00:00Z",
    "ChargePeriodEnd": "2026-10-04T00:00:00Z",
    "BillingCurrency": "USD",
    "ChargeCategory": "Usage",
    "ProviderName": "AWS",
    "ServiceName": "Amazon Elastic Compute Cloud",
    "ServiceCategory": "Compute",
    "ResourceId": "r-1",
    "BilledCost": "0",
    "EffectiveCost": "0",
    "ListCost": "0",
    "ContractedCost": "0",
    "Tags": "",
}

# one shared GPU resource split by daily gpu_seconds
GPU_RULES = """rules:
  - name: gpu
    match: "ResourceId = 'gpu-1'"
    method: proportional
    driver: gpu_seconds
    window: day
"""

DRIVER_COLUMNS = ["timestamp", "driver", "quantity", "resource_id", "use_case", "cost_centre"]


def write_focus(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """A FOCUS CSV; each row overrides the defaults. ``tags`` may be given as a dict."""
    prepared = []
    for row in rows:
        full = {**FOCUS_DEFAULTS, **{k: v for k, v in row.items()}}
        if isinstance(full.get("Tags"), dict):
            full["Tags"] = json.dumps(full["Tags"])
        for metric in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
            full[metric] = str(full[metric])
        prepared.append(full)
    columns = list(dict.fromkeys(key for row in prepared for key in row))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(prepared)
    return path


def write_drivers(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    rows = list(rows)
    # another dimension (environment) only where a row names it: an empty column would be
    # read as that dimension present and empty
    columns = list(dict.fromkeys([*DRIVER_COLUMNS, *(key for row in rows for key in row)]))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row.get(key, "") for key in columns})
    return path


def make_workspace(root: Path, rules_yaml: str = "rules: []\n", extra: str = "") -> Workspace:
    text = "version: 1\n" + extra + rules_yaml
    return Workspace.create(root, text)


def allocate(workspace: Workspace, period: str = "2026-10") -> None:
    result = allocate_period(workspace, period)
    assert result.published, result.message


def ingest(workspace: Workspace, *paths: Path, **options: Any) -> list[Any]:
    return ingest_files(workspace, list(paths), **options)


def billed_by(
    workspace: Workspace, dimension: str, period: str = "2026-10", metric: str = "BilledCost"
) -> dict[str, Decimal]:
    """Exact allocated amount per value of one dimension (final allocations only)."""
    from apportion.ledger.published import final_allocations

    final = final_allocations(workspace, Period.parse(period))
    grouped = final.group_by(key=final.dimensions[dimension]).aggregate(amount=final[metric].sum())
    return {row["key"]: row["amount"] for row in workspace.data.to_arrow(grouped).to_pylist()}


def period_totals(workspace: Workspace, period: str = "2026-10") -> Any:
    return totals(workspace, Period.parse(period))
