"""The API tests' organisation, small enough to follow by hand (2026-10, BilledCost =
EffectiveCost):

=====  ===========================  ======  =====================================
row    bill line                    cost    allocation
=====  ===========================  ======  =====================================
2      OpenAI, tagged cx/bot        10.005  direct to cx/bot
3      tagged ops/etl               3.333   direct to ops/etl
4      gpu-1 (2026-10-03)           9       gpu_seconds that day: cx/bot 2, ops/etl 1
5      Databricks Platform          90      fixed to shared-services, then split by
                                            requests: cx/bot 2, ops/etl 1
6      untagged                     1       unallocated
=====  ===========================  ======  =====================================

So cx/bot has three lines (tagged 10.01, gpu 6.00, shared-services 60.00) and ops/etl three
(3.33, 3.00, 30.00). A consumer of cx may see bill lines 2, 4 and 5 (the shared ones fed it),
never 3 or 6; of the gpu pool's driver rows, only cx/bot's.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers import write_drivers, write_focus

PERIOD = "2026-10"
RULES = """rules:
  - name: tagged
    match: "tags['use_case'] IS NOT NULL"
    method: direct
  - name: gpu
    match: "ResourceId = 'gpu-1'"
    method: proportional
    driver: gpu_seconds
    window: day
  - name: platform
    match: "ServiceName = 'Databricks Platform'"
    method: fixed
    shares: {use_case: {shared-services: 100}}
  - name: shared-services
    match: "use_case = 'shared-services'"
    method: activity
    driver: requests
    window: month
ledger:
  modes:
    - category: foundation_model_api
      mode: chargeback
      effective_from: 2026-10
"""


def write_bill(path: Path) -> Path:
    return write_focus(
        path,
        [
            {
                "BilledCost": "10.005",
                "EffectiveCost": "10.005",
                "ProviderName": "OpenAI",
                "ServiceName": "OpenAI API",
                "ResourceId": "proj-bot",
                "Tags": {"use_case": "bot", "cost_centre": "cx"},
            },
            {
                "BilledCost": "3.333",
                "EffectiveCost": "3.333",
                "ResourceId": "etl-cluster",
                "Tags": {"use_case": "etl", "cost_centre": "ops"},
            },
            {"BilledCost": "9", "EffectiveCost": "9", "ResourceId": "gpu-1"},
            {
                "BilledCost": "90",
                "EffectiveCost": "90",
                "ServiceName": "Databricks Platform",
                "ResourceId": "dbx",
            },
            {"BilledCost": "1", "EffectiveCost": "1", "ResourceId": "stray"},
        ],
    )


def write_driver_rows(path: Path) -> Path:
    return write_drivers(
        path,
        [
            {
                "timestamp": "2026-10-03T10:00:00Z",
                "driver": "gpu_seconds",
                "quantity": "2",
                "resource_id": "gpu-1",
                "use_case": "bot",
                "cost_centre": "cx",
            },
            {
                "timestamp": "2026-10-03T11:00:00Z",
                "driver": "gpu_seconds",
                "quantity": "1",
                "resource_id": "gpu-1",
                "use_case": "etl",
                "cost_centre": "ops",
            },
            {
                "timestamp": "2026-10-05T00:00:00Z",
                "driver": "requests",
                "quantity": "2",
                "use_case": "bot",
                "cost_centre": "cx",
            },
            {
                "timestamp": "2026-10-06T00:00:00Z",
                "driver": "requests",
                "quantity": "1",
                "use_case": "etl",
                "cost_centre": "ops",
            },
        ],
    )
