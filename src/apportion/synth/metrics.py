"""The demo organisation's business metrics for the month: decisions served per use case
(its requests over the month, give or take a tenth), and what they are worth. Customer-facing
use cases earn revenue and have users paying a feature price; internal ones save cost. A few
are made to sit in the portfolio's corners: a deprecated assistant worth little per decision, a
cheap scorer worth a lot; research and development workloads report decisions only."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from apportion.synth.organisation import Organisation, Period, UseCase

FILE = "business-metrics-{period}.csv"
HEADER = (
    "period",
    "use_case",
    "decisions",
    "unit",
    "users",
    "revenue",
    "cost_saved",
    "quality_score",
    "feature_price",
    "currency",
)
CUSTOMER_FACING = {"customer-service", "retail-banking", "marketing"}
# value per decision, USD, where the demo wants a use case in a particular corner
VALUE_PER_DECISION = {"code-assistant": 0.002, "fraud-scorer": 0.9}


def write_business_metrics(
    out_dir: Path, organisation: Organisation, month: Period, rng: np.random.Generator
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE.format(period=month.label)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for use_case in organisation.use_cases:
            writer.writerow(_row(use_case, month, rng))
    return path


def _row(use_case: UseCase, month: Period, rng: np.random.Generator) -> list[str]:
    decisions = int(use_case.requests * month.days * rng.uniform(0.9, 1.1))
    quality = f"{rng.uniform(0.72, 0.97):.2f}"
    value_each = VALUE_PER_DECISION.get(use_case.name, float(rng.lognormal(-3.0, 1.0)))
    value = f"{decisions * value_each:.2f}"
    revenue = cost_saved = users = price = ""
    if use_case.environment == "production":
        if use_case.cost_centre in CUSTOMER_FACING:
            revenue = value
            users = str(max(1, decisions // int(rng.integers(20, 60))))
            price = f"{rng.choice([3, 5, 8, 12])}.00"
        else:
            cost_saved = value
    return [
        month.label,
        use_case.name,
        str(decisions),
        "requests answered",
        users,
        revenue,
        cost_saved,
        quality,
        price,
        "USD",
    ]
