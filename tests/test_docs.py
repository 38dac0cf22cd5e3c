"""The README stays true: its configuration parses and the commands it shows exist."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from apportion.cli import app
from apportion.config import parse_config

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_rules_example_is_a_valid_configuration() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    full = [block for block in blocks if block.startswith("dimensions:")]
    assert full, "the README should show a complete rules example"
    for block in full:
        config = parse_config(block)
        assert {rule.method for rule in config.rules} == {
            "direct",
            "proportional",
            "activity",
            "even",
            "fixed",
        }


def test_readme_tag_policy_example_is_a_valid_configuration() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    [policy] = [block for block in blocks if block.startswith("tags:")]
    config = parse_config(policy)
    assert config.tags.catalogue == "catalogue.csv"
    assert config.tags.aliases == {"cost_centre": ["team"]}


def test_every_command_in_the_readme_exists() -> None:
    commands = set(
        re.findall(r"^apportion (?:--workspace \S+ )?([a-z]+(?: [a-z]+)?)", README, flags=re.M)
    )
    assert commands
    runner = CliRunner()
    for command in commands:
        words = command.split()
        result = runner.invoke(app, [*words, "--help"])
        if result.exit_code != 0:  # "init acme": the second word is an argument
            result = runner.invoke(app, [words[0], "--help"])
        assert result.exit_code == 0, (command, result.output)
