"""How pages show numbers and short tables: exact amounts keep every digit and drop only
trailing zeros beyond the minor unit; sorting and searching a table never fails on a blank."""

from __future__ import annotations

from decimal import Decimal

from apportion.charts import horizontal_bars
from apportion.web.render import ENVIRONMENT
from apportion.web.tables import Table

exact = ENVIRONMENT.filters["exact"]
money = ENVIRONMENT.filters["money"]


def test_exact_amounts_keep_their_digits_and_the_minor_unit() -> None:
    assert exact("6145.000000000000000000", "USD") == "6,145.00"
    assert exact("1042.170280556476413336", "USD") == "1,042.170280556476413336"
    assert exact("-0.5", "JPY") == "-0.5"
    assert exact("12", "JPY") == "12"
    assert exact("10.000000000000") == "10"
    assert exact("6724.632000000000") == "6,724.632"
    assert exact(None, "USD") == exact("", "USD") == ""


def test_statement_money_is_shown_at_the_minor_unit_without_rounding_again() -> None:
    assert money("76.01", "USD") == "76.01"
    assert money(Decimal("1234567.5"), "USD") == "1,234,567.50"
    assert money("0", "USD") == "0.00"


def test_a_table_sorts_numbers_as_numbers_and_blanks_last_both_ways() -> None:
    rows = [
        {"name": "b", "amount": "9.50"},
        {"name": "a", "amount": "10.01"},
        {"name": "c", "amount": None},
    ]
    up = Table(rows, columns=("name", "amount"), numeric=("amount",), sort="amount")
    assert [r["name"] for r in up.shown] == ["b", "a", "c"]
    down = Table(
        rows, columns=("name", "amount"), numeric=("amount",), sort="amount", descending=True
    )
    assert [r["name"] for r in down.shown] == ["a", "b", "c"]
    assert down.next_order("amount") is False and up.next_order("amount") is True
    searched = Table(rows, columns=("name", "amount"), search="10.0")
    assert [r["name"] for r in searched.shown] == ["a"]
    unknown = Table(rows, columns=("name",), sort="DROP TABLE")
    assert unknown.sort == "" and len(unknown.shown) == 3


def test_a_chart_label_with_a_control_character_still_draws() -> None:
    drawn = horizontal_bars("USD by cost centre", ["te\x0bam", "ops"], [Decimal(3), Decimal(1)])
    assert "<svg" in drawn and "te\ufffdam" in drawn and "<script" not in drawn
