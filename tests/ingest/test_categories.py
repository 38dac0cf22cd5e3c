"""Default category rules on lines shaped like real provider bills (MISSION R1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apportion.schema import tables as t
from tests.helpers import ingest, make_workspace, write_focus

pytestmark = pytest.mark.usefixtures("engine")

CASES = [
    ({"ProviderName": "OpenAI", "ServiceName": "OpenAI API"}, "foundation_model_api"),
    ({"ProviderName": "AWS", "ServiceName": "Amazon Bedrock"}, "foundation_model_api"),
    (
        {"ServiceCategory": "AI and Machine Learning", "PricingUnit": "1K Tokens"},
        "foundation_model_api",
    ),
    (
        {"ServiceName": "Amazon Elastic Compute Cloud", "ResourceType": "GPU Instance"},
        "self_hosted_compute",
    ),
    (
        {"ChargeDescription": "$32.77 per On Demand Linux p4d.24xlarge Instance Hour"},
        "self_hosted_compute",
    ),
    ({"ProviderName": "Pinecone", "ServiceName": "Pinecone"}, "vector_store"),
    ({"ServiceName": "Amazon SageMaker Feature Store"}, "feature_store"),
    ({"ServiceName": "AWS Glue", "ServiceCategory": "Analytics"}, "data_pipeline"),
    (
        {"ServiceName": "Amazon CloudWatch", "ServiceCategory": "Management and Governance"},
        "observability",
    ),
    ({"ProviderName": "Databricks", "ChargeCategory": "Purchase"}, "platform_licences"),
    ({"ProviderName": "Scale AI", "ServiceSubcategory": "Labelling"}, "personnel"),
    ({"ServiceName": "Red team engagement", "Tags": {"programme": "red-team"}}, "personnel"),
    ({"ServiceName": "Amazon Simple Queue Service"}, "uncategorised"),
]


def test_default_categories(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    base = {
        "ServiceName": "",
        "ServiceCategory": "",
        "ResourceType": "",
        "PricingUnit": "",
        "ChargeDescription": "",
        "ServiceSubcategory": "",
    }
    ingest(ws, write_focus(tmp_path / "b.csv", [{**base, **row} for row, _ in CASES]))
    lines = ws.data.table(t.COST_LINES).order_by(t.ROW_NUMBER)
    found = ws.data.to_arrow(lines.select(t.CATEGORY)).column(0).to_pylist()
    assert found == [category for _, category in CASES]


def test_categories_can_be_replaced_in_config(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path / "ws",
        extra=(
            "categories:\n  - {category: observability, match: \"ServiceName ILIKE '%queue%'\"}\n"
        ),
    )
    ingest(
        ws,
        write_focus(
            tmp_path / "b.csv",
            [{"ServiceName": "Amazon Simple Queue Service"}, {"ServiceName": "OpenAI API"}],
        ),
    )
    lines = ws.data.table(t.COST_LINES).order_by(t.ROW_NUMBER)
    found = ws.data.to_arrow(lines.select(t.CATEGORY)).column(0).to_pylist()
    assert found == ["observability", "uncategorised"]
