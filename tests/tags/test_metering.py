"""The audit's under-metering finding: a shared key's metered tokens against the tokens its
bill says it consumed, priced at the key's own cost per token; worked by hand."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from apportion.periods import Period
from apportion.tags.audit import tag_audit
from apportion.tags.metering import same_unit, under_metered
from tests.helpers import allocate, ingest, make_workspace, write_drivers, write_focus

RULES = """rules:
  - {name: shared-key, match: "ResourceId = 'key-1'", method: proportional, driver: tokens}
  - {name: cluster, match: "ResourceId = 'gpu-1'", method: proportional, driver: gpu_seconds}
"""
OCTOBER = Period.parse("2026-10")


def _tokens(resource: str, use_case: str, quantity: int, driver: str = "tokens") -> dict[str, str]:
    return {
        "timestamp": "2026-10-03T01:00:00Z",
        "driver": driver,
        "quantity": str(quantity),
        "resource_id": resource,
        "use_case": use_case,
    }


def _bill(tmp_path: Path) -> Path:
    line = {"ConsumedUnit": "Tokens", "ConsumedQuantity": "1000"}
    return write_focus(
        tmp_path / "bill.csv",
        [
            {"ResourceId": "key-1", "BilledCost": "12", **line},
            {"ResourceId": "key-1", "BilledCost": "8", **line},
            # a node hour is not a GPU second: never compared
            {"ResourceId": "gpu-1", "BilledCost": "50", "ConsumedUnit": "Hours",
             "ConsumedQuantity": "10"},
        ],
    )  # fmt: skip


@pytest.mark.usefixtures("engine")
def test_a_key_metered_for_a_quarter_of_its_tokens_is_found_with_its_gap(
    tmp_path: Path,
) -> None:
    ws = make_workspace(tmp_path / "ws", RULES)
    drivers = write_drivers(
        tmp_path / "drivers.csv",
        [
            _tokens("key-1", "a", 300),
            _tokens("key-1", "b", 200),
            _tokens("gpu-1", "a", 1, driver="gpu_seconds"),
        ],
    )
    ingest(ws, _bill(tmp_path), drivers)
    allocate(ws)
    [found] = under_metered(ws, OCTOBER) or []
    # 500 of 2,000 tokens metered; the unmetered 1,500 at 20/2,000 a token cost 15
    assert (found.rule, found.resource, found.billed, found.metered) == (
        "shared-key",
        "key-1",
        D(2000),
        D(500),
    )
    assert found.gap == D(15)
    assert found.coverage == D("0.25")
    audit = tag_audit(ws, OCTOBER)
    [finding] = audit.findings["under_metered"]
    assert (finding.subject, finding.cost) == ("resource key-1", D(15))
    assert "500 tokens metered of 2000 billed (25%)" in finding.detail
    # a lower bar lets it pass
    assert under_metered(ws, OCTOBER, coverage=D("0.25")) == []


@pytest.mark.usefixtures("engine")
@pytest.mark.spark_full
def test_a_key_metered_for_most_of_its_tokens_is_not_found(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", RULES)
    drivers = write_drivers(
        tmp_path / "drivers.csv", [_tokens("key-1", "a", 1000), _tokens("key-1", "b", 700)]
    )
    ingest(ws, _bill(tmp_path), drivers)
    allocate(ws)
    assert under_metered(ws, OCTOBER) == []  # 85% covered
    # a key with no metering at all in the period is the whole gap
    ws2 = make_workspace(tmp_path / "ws2", RULES)
    ingest(ws2, _bill(tmp_path))
    allocate(ws2)
    [found] = under_metered(ws2, OCTOBER) or []
    assert (found.metered, found.gap) == (D(0), D(20))


def test_metering_needs_a_published_allocation(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", RULES)
    ingest(ws, _bill(tmp_path))
    assert under_metered(ws, OCTOBER) is None
    audit = tag_audit(ws, OCTOBER)
    assert audit.findings["under_metered"] == []
    assert any("metering not checked" in note for note in audit.notes)


def test_units_match_by_spelling_not_by_guesswork() -> None:
    assert same_unit("tokens", "Tokens")
    assert same_unit("requests", "Request")
    assert same_unit("input_tokens", "Input Tokens")
    assert not same_unit("gpu_seconds", "Hours")
    assert not same_unit("tokens", "1M tokens")
