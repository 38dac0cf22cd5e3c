"""apportion.yaml validation: unknown keys, bad rules and forbidden expressions are errors that
name the rule and the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from apportion.config import ConfigError, parse_config
from apportion.config.categories import CATEGORIES
from apportion.config.models import FixedRule
from apportion.workspace import Workspace, default_config_text


def test_default_config_is_valid_and_has_every_category() -> None:
    config = parse_config(default_config_text())
    assert config.dimensions == ["cost_centre", "use_case", "environment", "lifecycle_stage"]
    assert [rule.name for rule in config.rules] == ["tagged-spend"]
    assert {rule.category for rule in config.categories} == set(CATEGORIES)


def test_default_configs_commented_ledger_section_is_valid_when_uncommented() -> None:
    text = default_config_text()
    commented = text[text.index("# ledger:") :].splitlines()
    ledger = "\n".join(line.removeprefix("# ") for line in commented if line.startswith("# "))
    config = parse_config(ledger)
    assert config.ledger.mode("foundation_model_api", "fraud-ops", "2026-10") == "chargeback"
    assert config.ledger.mode("foundation_model_api", "research", "2026-10") == "showback"
    assert config.ledger.accounts.expense_for("ml-platform") == "6405"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "ledger:\n  payer: team\n",
            r"ledger.payer is 'team', which is not one of the dimensions",
        ),
        (
            "ledger:\n  modes:\n"
            "    - {category: gpus, mode: chargeback, effective_from: 2026-10}\n",
            r"ledger.modes names the category 'gpus'",
        ),
        (
            "ledger:\n  modes:\n    - {category: '*', mode: chargeback, effective_from: 2026-1}\n",
            r"not a month written as YYYY-MM",
        ),
        (
            "ledger:\n  modes:\n    - {category: '*', mode: invoice, effective_from: '2026-10'}\n",
            r"showback.*chargeback",
        ),
        (
            "ledger:\n  modes:\n"
            "    - {category: '*', mode: chargeback, effective_from: 2026-10, payer: cx}\n"
            "    - {category: '*', mode: showback, effective_from: 2026-10, payer: cx}\n",
            r"ledger\.modes: .*two modes for \* for cx from 2026-10: keep one",
        ),
        (
            "rules:\n  - {name: gpu, match: \"ResourceId = 'x'\", method: proportional}\n",
            r"rules\[0\] \(gpu\)\.driver: Field required",
        ),
        (
            "rules:\n  - {name: gpu, match: \"lower(ServiceName) = 'x'\", method: direct}\n",
            r"rules\[0\] \(gpu\)\.match: .*function call",
        ),
        (
            'rules:\n  - {name: sub, match: "ResourceId IN (SELECT 1)", method: direct}\n',
            r"rules\[0\] \(sub\)\.match",
        ),
        (
            "rules:\n  - {name: f, match: \"ResourceId = 'x'\", method: fixed,"
            " shares: {use_case: {a: 60, b: 30}}}\n",
            r"rules\[0\] \(f\)\.shares: .*sum to 100",
        ),
        (
            "rules:\n  - {name: e, match: \"ResourceId = 'x'\", method: even,"
            " targets: {team: [a]}}\n",
            r"allocates to 'team'",
        ),
        (
            "rules:\n  - {name: d, match: \"ResourceId = 'x'\", method: direct, driver: x}\n",
            r"rules\[0\] \(d\)\.driver: Extra inputs are not permitted",
        ),
        ("rules:\n  - {name: d, match: \"a = 'x'\", method: magic}\n", r"rules\[0\] \(d\)"),
        (
            "rules:\n  - {name: typo, match: \"ServiseName = 'x'\", method: direct}\n",
            r"rule 'typo': unknown column 'ServiseName'",
        ),
        ("enigne: {}\n", r"enigne: Extra inputs are not permitted"),
        ("default_currency: XXQ\n", r"default_currency: .*ISO 4217"),
        ("rules: [\n", r"not valid YAML"),
        (
            "rules:\n  - {name: a, match: \"ResourceId = 'x'\", method: direct}\n"
            "  - {name: a, match: \"ResourceId = 'y'\", method: direct}\n",
            r"'a' is defined twice",
        ),
    ],
)
def test_invalid_configs_name_the_rule_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_environment_overrides_the_control_plane(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPORTION_CONTROL_PLANE", "sqlite:///elsewhere.sqlite")
    assert parse_config("version: 1\n").control_plane == "sqlite:///elsewhere.sqlite"


def test_init_writes_the_commented_default_and_refuses_to_overwrite(tmp_path: Path) -> None:
    Workspace.create(tmp_path).close()
    assert "# Allocation rules, in order" in (tmp_path / "apportion.yaml").read_text()
    assert (tmp_path / "apportion.duckdb").exists() and (tmp_path / "apportion.sqlite").exists()
    with pytest.raises(ValueError, match="already exists"):
        Workspace.create(tmp_path)


PRICED = """\
pricing:
  overrides:
    - {name: negotiated, provider: openai, model: gpt-4.1, unit_prices: {input: PRICE}}
"""

THIRDS = """\
rules:
  - name: split
    match: "ResourceId = 'x'"
    method: fixed
    shares: SHARES
"""


def test_a_unit_price_is_read_from_its_text_not_through_a_float() -> None:
    config = parse_config(PRICED.replace("PRICE", "0.30000000000000000001"))
    assert config.pricing.overrides[0].unit_prices == {"input": Decimal("0.30000000000000000001")}


@pytest.mark.parametrize(
    "shares",
    [
        "{use_case: {a: 33.333333333333333333, b: 66.666666666666666667}}",
        "[{use_case: a, share: 33.333333333333333333},"
        " {use_case: b, share: 66.666666666666666667}]",
    ],
)
def test_fixed_shares_that_sum_to_exactly_100_in_their_text_are_accepted(shares: str) -> None:
    rule = parse_config(THIRDS.replace("SHARES", shares)).rules[0]
    assert isinstance(rule, FixedRule)
    assert [share for _, share in rule.target_weights()] == [
        Decimal("33.333333333333333333"),
        Decimal("66.666666666666666667"),
    ]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (PRICED.replace("PRICE", ".inf"), r"pricing\.overrides\[0\] \(negotiated\)\.unit_prices"),
        (PRICED.replace("PRICE", "-.Inf"), r"pricing\.overrides\[0\] \(negotiated\)\.unit_prices"),
        (THIRDS.replace("SHARES", "{use_case: {a: .nan, b: 100}}"), r"rules\[0\] \(split\)"),
        (
            THIRDS.replace("SHARES", "[{use_case: a, share: .nan}, {use_case: b, share: 100}]"),
            r"rules\[0\] \(split\)",
        ),
    ],
)
def test_infinite_or_nan_money_in_yaml_is_refused_naming_the_key(text: str, where: str) -> None:
    with pytest.raises(ConfigError, match=where + r".*finite number"):
        parse_config(text)


def test_settings_that_are_not_money_still_load_from_yaml_floats() -> None:
    config = parse_config(
        "engine: {type: spark, conf: {spark.memory.fraction: 0.6}}\nanomalies: {sensitivity: 3.5}\n"
    )
    assert config.engine.spark_conf == {"spark.memory.fraction": "0.6"}
    assert config.anomalies.sensitivity == Decimal("3.5")
