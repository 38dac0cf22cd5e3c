"""The README stays true: its configuration parses and the commands it shows exist."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from apportion.cli import app
from apportion.config import ProportionalRule, parse_config
from apportion.tags.derived import Derivation

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
    [policy, _] = [block for block in blocks if block.startswith("tags:")]
    config = parse_config(policy)
    assert config.tags.catalogue == "catalogue.csv"
    assert config.tags.aliases == {"cost_centre": ["team"]}


def test_readme_mapping_tables_and_rules_are_read_as_shown(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    [_, mapping] = [block for block in blocks if block.startswith("tags:")]
    [table] = [
        b for b in re.findall(r"```csv\n(.*?)```", README, flags=re.S) if "SubAccountId" in b
    ]
    (tmp_path / "accounts.csv").write_text(table, encoding="utf-8")
    (tmp_path / "projects.csv").write_text("x_ProjectId,use_case\nproj_1,support-bot\n")
    derivation = Derivation.of_config(parse_config(mapping), tmp_path)
    accounts = derivation.tables[1].rows
    assert [(r.key, r.values, str(r.start), str(r.end)) for r in accounts] == [
        ("111122223333", {"cost_centre": "ml-platform"}, "None", "2026-10-10"),
        ("111122223333", {"cost_centre": "research"}, "2026-10-10", "None"),
        ("444455556666", {"cost_centre": "search", "use_case": "doc-search"}, "None", "None"),
    ]
    names = [rule.name for rule in derivation.rules]
    assert names == ["ml-accounts", "support-bot-key", "fix-typo"]


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


def test_readme_pricing_example_is_a_valid_configuration() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    [pricing] = [block for block in blocks if block.startswith("pricing:")]
    overrides = parse_config(pricing).pricing.overrides
    assert [(o.name, o.discount) for o in overrides] == [
        ("openai-commit", 15),
        ("our-llama", None),
        ("images", None),
    ]


def test_readme_ledger_example_is_a_valid_configuration() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    [ledger_block] = [block for block in blocks if block.startswith("ledger:")]
    ledger = parse_config(ledger_block).ledger
    assert ledger.mode("foundation_model_api", "fraud-ops", "2026-10") == "chargeback"
    assert ledger.mode("foundation_model_api", "research", "2026-11") == "showback"
    assert ledger.mode("self_hosted_compute", "fraud-ops", "2026-12") == "showback"
    assert ledger.mode("self_hosted_compute", "fraud-ops", "2027-01") == "chargeback"
    assert ledger.accounts.expense_for("ml-platform") == "6425"
    assert ledger.accounts.expense_for("fraud-ops") == "6420"


def test_readme_business_metrics_example_loads_as_described(tmp_path: Path) -> None:
    from apportion.engine.tables import BUSINESS_METRICS
    from tests.helpers import ingest, make_workspace

    [example] = [b for b in re.findall(r"```csv\n(.*?)```", README, flags=re.S) if "decisions" in b]
    path = tmp_path / "metrics.csv"
    path.write_text(example, encoding="utf-8")
    workspace = make_workspace(tmp_path / "ws")
    [result] = ingest(workspace, path)
    assert (result.kind, result.rows, result.quarantined) == ("metrics", 2, 0)
    table = workspace.data.table("business_metrics")
    assert set(workspace.data.to_arrow(table).column_names) == set(BUSINESS_METRICS.names)


def test_readme_unit_economics_example_is_a_valid_configuration() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    [block] = [b for b in blocks if b.startswith("unit_economics:")]
    config = parse_config(block).unit_economics
    assert (str(config.high_total), str(config.high_cost_per_decision)) == ("10000", "0.05")


def test_the_readme_python_api_names_what_exists() -> None:
    """Every import in the README's Python examples works, and every ``module.function`` they
    call on an imported module exists (the examples are not run: they need a workspace)."""
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks
    namespace: dict[str, object] = {}
    for block in blocks:
        for line in block.splitlines():
            if line.startswith(("from apportion", "import apportion", "from pathlib")):
                exec(line, namespace)  # an import line of our own README, nothing else
        for module, attribute in re.findall(r"^(\w+)\.(\w+)\(", block, re.M):
            if module in namespace:
                assert hasattr(namespace[module], attribute), f"{module}.{attribute}"


def test_readme_rule_group_example_gives_the_figures_it_quotes(tmp_path: Path) -> None:
    from apportion.ledger.allocation import allocate_period
    from tests.helpers import billed_by, ingest, make_workspace, write_focus

    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    [block] = [textwrap.dedent(b) for b in blocks if "rule_groups:" in b]
    bill = [
        {"BilledCost": "1000", "Tags": {"use_case": "platform"}},
        {"BilledCost": "500", "Tags": {"use_case": "observability"}},
    ]
    quoted = {"reciprocal": ("744.90", "755.10"), "step-down": ("725.00", "775.00")}
    for method, (search, chat) in quoted.items():
        ws = make_workspace(tmp_path / method, block.replace("reciprocal  ", f"{method}  "))
        ingest(ws, write_focus(tmp_path / f"{method}.csv", bill))
        assert allocate_period(ws, "2026-10").published
        found = billed_by(ws, "use_case")
        assert (f"{found['search']:.2f}", f"{found['chat']:.2f}") == (search, chat)


def test_readme_on_zero_example_is_a_valid_configuration() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    [block] = [textwrap.dedent(b) for b in blocks if "on_zero: even" in b]
    config = parse_config(block)
    [rule] = config.rules
    assert config.defaults_of(rule) == {"environment": "production", "lifecycle_stage": "active"}


def test_readme_gpu_cluster_example_is_a_valid_configuration() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    [block] = [textwrap.dedent(b) for b in blocks if "gpu_capacity_hours" in b]
    [rule] = parse_config(block).rules
    assert isinstance(rule, ProportionalRule) and rule.idle is not None
    assert (rule.reservations, rule.idle.capacity, rule.idle.charge) == (
        "gpu_requested_hours",
        "gpu_capacity_hours",
        "keep",
    )


def test_readme_cost_key_example_is_a_valid_configuration() -> None:
    from apportion.config import ActivityRule

    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    [block] = [textwrap.dedent(b) for b in blocks if "cost_of:" in b]
    [rule] = parse_config(block).rules
    assert isinstance(rule, ActivityRule)
    assert (rule.driver, rule.cost_metric) == ("compute_spend", "EffectiveCost")


def test_readme_quantities_example_is_a_valid_configuration() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    [block] = [textwrap.dedent(b) for b in blocks if b.lstrip().startswith("quantities:")]
    found = [(q.name, q.unit, q.window) for q in parse_config(block).quantities]
    assert found == [("energy", "kWh", "day"), ("emissions", "kgCO2e", "month")]
