"""Which charge mode a statement line gets: the most specific entry of ledger.modes that applies
in the period (a payer's over everyone's, a named category over *, a later start over an
earlier one), showback when none does, and unallocated for __unallocated__ lines."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from apportion.config import parse_config
from apportion.config.ledger import ChargeMode, LedgerConfig

FMA = "foundation_model_api"


def _ledger(*modes: dict[str, Any]) -> LedgerConfig:
    return LedgerConfig(modes=[ChargeMode(**mode) for mode in modes])


def test_showback_unless_an_entry_applies() -> None:
    assert _ledger().mode(FMA, "cx", "2026-10") == "showback"
    only_fma = _ledger({"category": FMA, "mode": "chargeback", "effective_from": "2026-10"})
    assert only_fma.mode("self_hosted_compute", "cx", "2026-10") == "showback"
    assert only_fma.mode(FMA, "cx", "2026-10") == "chargeback"


def test_nothing_applies_before_its_effective_from() -> None:
    ledger = _ledger({"category": "*", "mode": "chargeback", "effective_from": "2026-10"})
    assert [ledger.mode(FMA, "cx", p) for p in ("2025-12", "2026-09", "2026-10", "2027-01")] == [
        "showback",
        "showback",
        "chargeback",
        "chargeback",
    ]


def test_a_named_category_wins_over_every_category() -> None:
    ledger = _ledger(
        {"category": FMA, "mode": "showback", "effective_from": "2026-01"},
        {"category": "*", "mode": "chargeback", "effective_from": "2026-06"},
    )
    # even though * starts later
    assert ledger.mode(FMA, "cx", "2026-10") == "showback"
    assert ledger.mode("uncategorised", "cx", "2026-10") == "chargeback"
    # before * applies, the named entry still does
    assert ledger.mode(FMA, "cx", "2026-03") == "showback"
    assert ledger.mode("uncategorised", "cx", "2026-03") == "showback"


def test_a_payers_entry_wins_over_everyones() -> None:
    ledger = _ledger(
        {"category": FMA, "mode": "chargeback", "effective_from": "2026-10"},
        # marketing's models stay shown back, whatever the category
        {"category": "*", "mode": "showback", "effective_from": "2026-01", "payer": "marketing"},
    )
    assert ledger.mode(FMA, "marketing", "2026-10") == "showback"
    assert ledger.mode(FMA, "cx", "2026-10") == "chargeback"
    # a payer's named category over the payer's *
    named = _ledger(
        {"category": "*", "mode": "showback", "effective_from": "2026-01", "payer": "cx"},
        {"category": FMA, "mode": "chargeback", "effective_from": "2026-01", "payer": "cx"},
    )
    assert named.mode(FMA, "cx", "2026-10") == "chargeback"
    assert named.mode("uncategorised", "cx", "2026-10") == "showback"
    assert named.mode(FMA, "ops", "2026-10") == "showback"


def test_a_later_start_wins_over_an_earlier_one() -> None:
    ledger = _ledger(
        {"category": FMA, "mode": "showback", "effective_from": "2026-07"},
        {"category": FMA, "mode": "chargeback", "effective_from": "2026-01"},
    )
    assert [ledger.mode(FMA, "cx", p) for p in ("2025-12", "2026-06", "2026-07", "2026-12")] == [
        "showback",
        "chargeback",
        "showback",
        "showback",
    ]


def test_unallocated_lines_are_nobodys_charge() -> None:
    ledger = _ledger(
        {"category": "*", "mode": "chargeback", "effective_from": "2020-01"},
        {"category": "*", "mode": "chargeback", "effective_from": "2020-01", "payer": "x"},
    )
    assert ledger.mode(FMA, "__unallocated__", "2026-10") == "unallocated"
    assert ledger.mode(FMA, "x", "2026-10") == "chargeback"


def test_modes_from_apportion_yaml() -> None:
    config = parse_config(
        "version: 1\nrules: []\nledger:\n  modes:\n"
        "    - {category: foundation_model_api, mode: chargeback, effective_from: 2026-10}\n"
        "    - {category: '*', mode: showback, effective_from: 2026-11, payer: cx}\n",
        source="apportion.yaml",
    )
    assert config.ledger.mode(FMA, "cx", "2026-10") == "chargeback"
    assert config.ledger.mode(FMA, "cx", "2026-11") == "showback"
    assert config.ledger.mode(FMA, "ops", "2026-11") == "chargeback"


@pytest.mark.parametrize("start", ["2026-13", "2026", "October"])
def test_effective_from_is_a_period(start: str) -> None:
    with pytest.raises(ValidationError):
        ChargeMode(category="*", mode="chargeback", effective_from=start)


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValidationError, match="showback"):
        ChargeMode(category="*", mode="invoice", effective_from="2026-10")  # type: ignore[arg-type]


def test_two_modes_for_the_same_category_payer_and_start_are_refused() -> None:
    everyone = {"category": FMA, "effective_from": "2026-10"}
    with pytest.raises(
        ValidationError, match="two modes for foundation_model_api from 2026-10: keep one"
    ):
        _ledger({**everyone, "mode": "chargeback"}, {**everyone, "mode": "showback"})
    cx = {"category": "*", "effective_from": "2026-11", "payer": "cx"}
    with pytest.raises(ValidationError, match=r"two modes for \* for cx from 2026-11: keep one"):
        _ledger({**cx, "mode": "showback"}, {**cx, "mode": "showback"})
    # another payer, another start or another category is another entry
    ledger = _ledger(
        {**everyone, "mode": "chargeback"},
        {**everyone, "mode": "showback", "payer": "cx"},
        {**everyone, "mode": "showback", "effective_from": "2026-11"},
        {**everyone, "mode": "showback", "category": "*"},
    )
    assert [ledger.mode(FMA, "ops", p) for p in ("2026-10", "2026-11")] == [
        "chargeback",
        "showback",
    ]
    assert ledger.mode(FMA, "cx", "2026-10") == "showback"
