"""`apportion tags check` over real-shaped infrastructure files: a Terraform plan, Kubernetes
manifests, a CloudFormation template and a plain resource list, each written to its documented
format; and bad input, refused with one clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apportion.cli import app
from apportion.config import parse_config
from apportion.tags import CheckResult, DocumentError, check_files, documents, load_policy

FIXTURES = Path(__file__).parent / "fixtures"


def _check(*names: str, config: str = "") -> CheckResult:
    policy = load_policy(parse_config(config), FIXTURES)
    return check_files([FIXTURES / name for name in names], policy)


def _problems(result: CheckResult) -> dict[str, list[str]]:
    return {
        f.resource.address: [v.describe() for v in f.reading.violations] for f in result.verdicts
    }


def test_terraform_plan_merges_provider_default_tags_and_skips_what_is_not_created() -> None:
    result = _check("terraform-plan.json")
    assert _problems(result) == {
        # tags_all carries the provider's default_tags
        "aws_instance.gpu_node[0]": [],
        # tags_all unknown: default_tags merged from the provider configuration; the
        # resource's own Environment overrides the default and is not an allowed value
        "aws_sagemaker_endpoint.chat": [
            "use_case missing",
            "environment='prod' not allowed (allowed: production, staging, development, research)",
        ],
        # in a module; cost_centre is known only when applied, so present but unchecked
        "module.vectors.aws_opensearch_domain.this": [],
        # Google labels with the provider's default_labels
        "google_compute_instance.trainer": [],
    }
    [opensearch] = [f for f in result.verdicts if "opensearch" in f.resource.address]
    assert opensearch.reading.unchecked == ("cost_centre",)
    notes = result.notes()
    assert any("skipped 1 resources not created or updated" in n for n in notes)
    assert any("untaggable resources (aws_iam_role_policy_attachment)" in n for n in notes)
    assert "tag key 'use-case' read as use_case" in notes
    assert not result.passed


def test_kubernetes_workloads_use_their_own_and_their_pod_templates_labels() -> None:
    result = _check("kubernetes.yaml")
    assert _problems(result) == {
        # domain-prefixed key on the Deployment, the rest on its pod template
        "Deployment/ml/fraud-scorer": [],
        "CronJob/ml/nightly-finetune": [
            "lifecycle_stage missing",
            "environment='qa' not allowed (allowed: production, staging, development, research)",
        ],
        "Pod/default/notebook-ana": [
            "cost_centre missing",
            "use_case missing",
            "environment missing",
            "lifecycle_stage missing",
        ],
    }
    notes = result.notes()
    assert any("objects that run no pods (Service)" in n for n in notes)
    assert any("objects that run no pods (Namespace)" in n for n in notes)


def test_cloudformation_reads_tag_lists_maps_and_functions_and_flags_untagged_types() -> None:
    result = _check("cloudformation.yaml")
    assert _problems(result) == {
        "Resources.AssistantModel": [],  # environment is !Ref Env: present, unchecked
        "Resources.AssistantEndpointConfig": [
            "cost_centre missing",
            "use_case missing",
            "environment missing",
            "lifecycle_stage missing",
        ],
        "Resources.BatchCompute": [
            "lifecycle_stage='sunset' not allowed (allowed: active, deprecated, sunsetting)"
        ],
    }
    assert any("types not known to take tags (AWS::IAM::Role)" in n for n in result.notes())


def test_a_plain_list_of_resources_is_checked_too() -> None:
    result = _check("resources.json")
    assert _problems(result) == {
        "openai/project/proj_fraud": [],
        "anthropic/workspace/wrkspc_support": ["environment missing", "lifecycle_stage missing"],
    }


def test_a_plan_that_changes_nothing_passes(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    plan = {"format_version": "1.2", "planned_values": {"root_module": {}}}
    path.write_text(json.dumps(plan), encoding="utf-8")
    result = check_files([path], load_policy(parse_config(""), tmp_path))
    assert (result.passed, result.verdicts) == (True, [])


def test_a_resource_that_satisfies_a_narrower_policy_passes() -> None:
    result = _check("resources.json", config="tags:\n  required: [cost_centre, use_case]\n")
    assert result.passed


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "plan.json",
            '{"format_version": "1.2", "resource_changes": [',
            "not valid JSON at line 1",
        ),
        ("plan.json", "", "the file is empty"),
        ("pods.yaml", "kind: Pod\nmetadata: [unclosed\n", "not valid YAML at line 3"),
        ("pods.yaml", "kind: Pod\n\tmetadata: {}\n", "not valid YAML at line 2"),
        ("other.json", '{"hello": "world"}', "not a Terraform plan"),
        ("plan.json", '{"planned_values": {}, "resource_changes": {}}', "is not a list"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("list.json", '[{"address": "x", "tags": ["a"]}]', "tags must be a mapping"),
    ],
)
def test_bad_input_is_one_clear_error_naming_the_file(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DocumentError, match=message) as raised:
        check_files([path], load_policy(parse_config(""), tmp_path))
    assert str(path) in str(raised.value)


def test_a_yaml_bomb_is_never_expanded(tmp_path: Path) -> None:
    # "billion laughs": 9^10 strings if expanded; aliases stay shared references, and labels
    # that are not a mapping of text are no labels
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 11)]
    manifest = "\n".join(
        ["apiVersion: v1", "kind: Pod", "x:"]
        + [f"  {line}" for line in lines]
        + ["metadata:", "  name: bomb", "  labels: *a10"]
    )
    path = tmp_path / "bomb.yaml"
    path.write_text(manifest + "\n", encoding="utf-8")
    result = check_files([path], load_policy(parse_config(""), tmp_path))
    [finding] = result.verdicts
    assert [v.dimension for v in finding.reading.violations] == [
        "cost_centre",
        "use_case",
        "environment",
        "lifecycle_stage",
    ]


def test_a_document_with_too_many_aliases_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "aliases.yaml"
    refs = ", ".join(["*x"] * (documents.MAX_ALIASES + 1))
    path.write_text(f"apiVersion: v1\nkind: Pod\nx: &x [1]\ny: [{refs}]\n", encoding="utf-8")
    with pytest.raises(DocumentError, match="YAML aliases; refused as a possible YAML bomb"):
        check_files([path], load_policy(parse_config(""), tmp_path))


def test_a_file_over_the_size_bound_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents, "MAX_BYTES", 1_000)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"resource_changes": [], "pad": "x" * 2_000}), encoding="utf-8")
    with pytest.raises(DocumentError, match="more than the 1,000 a file may have"):
        check_files([path], load_policy(parse_config(""), tmp_path))


def test_the_command_exits_1_and_lists_offenders_0_when_all_pass_2_on_bad_input(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    failing = runner.invoke(
        app, ["--workspace", str(tmp_path), "tags", "check", str(FIXTURES / "kubernetes.yaml")]
    )
    assert failing.exit_code == 1, failing.output
    assert "Pod/default/notebook-ana" in failing.output
    assert "3 taggable resources checked: 2 fail" in failing.output

    policy = tmp_path / "policy.yaml"
    policy.write_text("tags:\n  required: [cost_centre, use_case]\n", encoding="utf-8")
    passing = runner.invoke(
        app, ["tags", "check", "--config", str(policy), str(FIXTURES / "resources.json")]
    )
    assert passing.exit_code == 0, passing.output
    assert "2 taggable resources checked: all pass" in passing.output

    as_json = runner.invoke(
        app, ["tags", "check", "-c", str(policy), "-f", "json", str(FIXTURES / "resources.json")]
    )
    payload = json.loads(as_json.stdout)
    assert (payload["passed"], payload["checked"], payload["failed"]) == (True, 2, 0)

    bad = tmp_path / "broken.json"
    bad.write_text("{", encoding="utf-8")
    refused = runner.invoke(app, ["tags", "check", str(bad), str(FIXTURES / "resources.json")])
    assert refused.exit_code == 2
    assert "not valid JSON" in refused.output


def test_the_workspace_policy_applies_when_there_is_one(tmp_path: Path) -> None:
    (tmp_path / "apportion.yaml").write_text(
        "tags:\n  required: [cost_centre]\n  allowed: {cost_centre: [risk]}\n", encoding="utf-8"
    )
    result = CliRunner().invoke(
        app, ["--workspace", str(tmp_path), "tags", "check", str(FIXTURES / "resources.json")]
    )
    assert result.exit_code == 1
    assert "cost_centre='customer-care' not allowed (allowed: risk)" in result.output
