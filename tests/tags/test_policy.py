"""How tag keys and values fold, and what the policy says about one resource's tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from apportion.config import parse_config
from apportion.config.loader import ConfigError
from apportion.tags import TagPolicy, load_policy
from apportion.tags.policy import UNKNOWN, folded_key


def _policy(text: str = "") -> TagPolicy:
    config = parse_config(text)
    return TagPolicy.from_config(config.tags, config.dimensions, {})


@pytest.mark.parametrize(
    "raw",
    [
        "cost_centre",
        "CostCentre",
        "CostCenter",
        "cost-center",
        "COST_CENTRE",
        "costcentre",
        "user:cost_centre",
        "aws:costCenter",
        "example.com/cost-centre",
        " Cost Centre ",
    ],
)
def test_every_spelling_of_a_key_is_the_dimension(raw: str) -> None:
    assert _policy().dimension_of(raw) == "cost_centre"


@pytest.mark.parametrize("raw", ["cost", "centre", "cost_centre_2", "team", "Name"])
def test_other_keys_are_not_the_dimension(raw: str) -> None:
    assert _policy().dimension_of(raw) != "cost_centre"


def test_a_configured_alias_names_the_dimension_in_any_spelling() -> None:
    policy = _policy("tags:\n  aliases: {cost_centre: [team, owner-unit]}\n")
    assert folded_key("Owner_Unit") == folded_key("owner-unit")
    assert policy.dimension_of("Team") == "cost_centre"
    assert policy.dimension_of("user:OwnerUnit") == "cost_centre"


def test_a_resource_with_every_dimension_passes_and_values_fold_to_the_allowed_spelling() -> None:
    reading = _policy().read(
        {
            "CostCenter": "ML-Platform",
            "use-case": "Fraud  Detection ",
            "Environment": " PRODUCTION",
            "lifecycle_stage": "Active",
        }
    )
    assert reading.violations == ()
    assert reading.values == {
        "cost_centre": "ml-platform",
        "use_case": "fraud detection",  # no catalogue: trimmed, spaces collapsed, lower case
        "environment": "production",
        "lifecycle_stage": "active",
    }
    assert reading.renamed == {
        "CostCenter": "cost_centre",
        "use-case": "use_case",
        "Environment": "environment",
    }


def test_missing_empty_and_invalid_values_are_each_reported() -> None:
    reading = _policy().read({"cost_centre": "  ", "environment": "prod", "use_case": "x"})
    problems = {(v.dimension, v.problem, v.value) for v in reading.violations}
    assert problems == {
        ("cost_centre", "missing", None),
        ("lifecycle_stage", "missing", None),
        ("environment", "invalid", "prod"),
    }


def test_a_value_known_only_when_applied_counts_as_present_and_is_not_checked() -> None:
    reading = _policy().read(
        {"cost_centre": UNKNOWN, "use_case": "a", "environment": UNKNOWN, "lifecycle_stage": "x"}
    )
    assert [(v.dimension, v.problem) for v in reading.violations] == [
        ("lifecycle_stage", "invalid")
    ]
    assert reading.unchecked == ("cost_centre", "environment")


def test_a_later_key_overrides_an_earlier_one_for_the_same_dimension() -> None:
    # provider default tags come first, the resource's own tags after them
    reading = _policy().read({"environment": "production", "Environment": "staging"})
    assert reading.values["environment"] == "staging"


def test_required_dimensions_and_allowed_values_come_from_the_configuration() -> None:
    policy = _policy(
        "tags:\n  required: [cost_centre]\n  allowed: {cost_centre: [ml-platform, research]}\n"
    )
    assert policy.read({"cost_centre": "Research"}).violations == ()
    [violation] = policy.read({"cost_centre": "finance"}).violations
    assert violation.describe() == (
        "cost_centre='finance' not allowed (allowed: ml-platform, research)"
    )


def test_the_catalogue_adds_allowed_values_and_their_spelling(tmp_path: Path) -> None:
    (tmp_path / "catalogue.csv").write_text(
        "dimension,value,owner\n"
        "use_case,fraud-detection,risk@example.com\n"
        "use_case,support-assistant,\n",
        encoding="utf-8",
    )
    config = parse_config("tags:\n  catalogue: catalogue.csv\n")
    policy = load_policy(config, tmp_path)
    reading = policy.read({"use_case": "Fraud Detection"})
    assert reading.values["use_case"] == "fraud-detection"
    assert ("use_case", "invalid") not in {(v.dimension, v.problem) for v in reading.violations}
    [invalid] = [
        v for v in policy.read({"use_case": "chatbot"}).violations if v.problem == "invalid"
    ]
    assert invalid.allowed == ("fraud-detection", "support-assistant")


def test_a_yaml_catalogue_lists_values_with_or_without_owners(tmp_path: Path) -> None:
    (tmp_path / "catalogue.yaml").write_text(
        "cost_centre:\n  - {value: ml-platform, owner: ana@example.com}\n  - research\n",
        encoding="utf-8",
    )
    policy = load_policy(parse_config("tags:\n  catalogue: catalogue.yaml\n"), tmp_path)
    assert policy.allowed["cost_centre"] == ("ml-platform", "research")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tags:\n  required: [team]\n", "tags.required names 'team'"),
        ("tags:\n  aliases: {owner: [team]}\n", "tags.aliases names 'owner'"),
        ("tags:\n  allowed: {environment: []}\n", "list at least one value"),
        ("tags:\n  requried: [use_case]\n", "requried"),
    ],
)
def test_a_policy_that_names_unknown_dimensions_is_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_default_value_rules_do_not_require_their_dimension(tmp_path: Path) -> None:
    # a workspace without environment/lifecycle_stage dimensions still parses
    config = parse_config("dimensions: [cost_centre, use_case]\n")
    policy = load_policy(config, tmp_path)
    assert policy.required == ("cost_centre", "use_case")
    assert policy.read({"cost_centre": "a", "use_case": "b"}).violations == ()
