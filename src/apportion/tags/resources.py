"""The taggable resources an infrastructure file would create, with the tags they would get.

Four inputs, told apart by content rather than by file name:

- a Terraform plan (``terraform show -json plan``): resources being created or updated whose
  schema has ``tags`` or ``labels``; the provider's ``default_tags`` / ``default_labels`` are
  merged in (the plan's ``tags_all`` / ``terraform_labels`` where it has them);
- Kubernetes manifests (one or many YAML documents, ``kind: List`` too): workloads, with the
  workload's labels and its pod template's labels (the template's win);
- a CloudFormation template (JSON or YAML with ``!Ref`` and friends): ``Properties.Tags`` as a
  list of ``Key``/``Value`` or as a map; a resource of a type known to take tags but without
  them is checked too (and fails);
- a plain JSON list of ``{"address", "type", "tags"}`` objects, for anything else.

A tag value that is only known when applied (a Terraform unknown, a CloudFormation function)
is :data:`UNKNOWN`: the key counts as present, its value is not checked.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apportion.schema import columns as col
from apportion.tags.documents import DocumentError, read_documents
from apportion.tags.policy import UNKNOWN

Tags = dict[str, object]


@dataclass(frozen=True)
class Resource:
    file: str
    address: str  # aws_instance.gpu[0], Deployment/ml/inference, Resources.GpuNode, ...
    kind: str  # the resource type: aws_instance, Deployment, AWS::EC2::Instance
    tags: Tags


@dataclass
class Found:
    """What one file holds: resources to check, and what was left out and why."""

    file: str
    format: str
    resources: list[Resource] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> how many

    def notes(self) -> list[str]:
        return [f"{self.file}: skipped {n} {reason}" for reason, n in sorted(self.skipped.items())]


def read_resources(path: Path) -> Found:
    documents = read_documents(path)
    name = str(path)
    first = documents[0] if documents else None
    if isinstance(first, dict) and ("resource_changes" in first or "planned_values" in first):
        return _terraform(name, first)
    if isinstance(first, dict) and _is_cloudformation(first):
        return _cloudformation(name, first)
    if all(isinstance(d, dict) and "kind" in d and "apiVersion" in d for d in documents):
        return _kubernetes(name, documents)
    items = _plain_items(first) if len(documents) == 1 else None
    if items is not None:
        return _plain(name, items)
    raise DocumentError(
        f"{name}: not a Terraform plan (terraform show -json), Kubernetes manifests, a "
        "CloudFormation template or a JSON list of resources with tags"
    )


# -- Terraform ---------------------------------------------------------------------------------
_TAG_ATTRIBUTES = (
    ("tags", "tags_all", "default_tags"),
    ("labels", "terraform_labels", "default_labels"),
)
_INDEX = re.compile(r"\[[^\]]*\]")


def _terraform(name: str, plan: dict[str, Any]) -> Found:
    found = Found(name, "terraform plan")
    defaults = _provider_defaults(plan)
    keys = _provider_keys(plan)
    changes = plan.get("resource_changes", [])  # a plan that changes nothing may omit it
    if not isinstance(changes, list):
        raise DocumentError(f"{name}: resource_changes is not a list")
    for change in changes:
        if not isinstance(change, dict) or change.get("mode") != "managed":
            continue
        body = change.get("change") or {}
        actions = set(body.get("actions") or [])
        if not actions & {"create", "update"}:
            found.skipped["resources not created or updated"] += 1
            continue
        after = body.get("after") or {}
        unknown = body.get("after_unknown") or {}
        address = str(change.get("address", "?"))
        kind = str(change.get("type", "?"))
        attributes = next((a for a in _TAG_ATTRIBUTES if a[0] in after or a[0] in unknown), None)
        if attributes is None:
            found.skipped[f"untaggable resources ({kind})"] += 1
            continue
        attribute, merged, default = attributes
        if unknown.get(attribute) is True and unknown.get(merged) in (True, None):
            found.skipped["resources whose tags are only known when applied"] += 1
            continue
        provider = keys.get(_INDEX.sub("", address)) or str(change.get("provider_name", ""))
        tags: Tags = dict(defaults.get(provider, {}).get(default, {}))
        for source in (attribute, merged):
            tags.update(_known(after.get(source)))
            tags.update({k: UNKNOWN for k, v in _mapping(unknown.get(source)).items() if v})
        found.resources.append(Resource(name, address, kind, tags))
    return found


def _provider_defaults(plan: dict[str, Any]) -> dict[str, dict[str, Tags]]:
    """Provider key (``aws``, ``aws.west``) and full name, when only one configuration has it,
    -> its default tags (``default_tags``) and labels (``default_labels``)."""
    configs = _mapping(_mapping(plan.get("configuration")).get("provider_config"))
    found: dict[str, dict[str, Tags]] = {}
    by_full_name: dict[str, list[dict[str, Tags]]] = {}
    for key, config in configs.items():
        expressions = _mapping(_mapping(config).get("expressions"))
        blocks = expressions.get("default_tags")
        block = blocks[0] if isinstance(blocks, list) and blocks else {}
        defaults = {
            "default_tags": _expression(_mapping(block).get("tags")),
            "default_labels": _expression(expressions.get("default_labels")),
        }
        found[key] = defaults
        by_full_name.setdefault(str(_mapping(config).get("full_name", "")), []).append(defaults)
    for full_name, candidates in by_full_name.items():
        if len(candidates) == 1:
            found[full_name] = candidates[0]
    return found


def _expression(expression: Any) -> Tags:
    """A constant map from the configuration; a reference (known only when applied) is
    empty here: the plan's tags_all then carries what the provider merged, if it knows."""
    value = _mapping(expression).get("constant_value")
    return _known(value)


def _provider_keys(plan: dict[str, Any]) -> dict[str, str]:
    """Root-module resource address -> the key of the provider configuration it uses."""
    root = _mapping(_mapping(plan.get("configuration")).get("root_module"))
    resources = root.get("resources")
    return {
        str(r["address"]): str(r["provider_config_key"])
        for r in (resources if isinstance(resources, list) else [])
        if isinstance(r, dict) and "address" in r and "provider_config_key" in r
    }


# -- Kubernetes --------------------------------------------------------------------------------
# where each workload keeps the pod template its pods are made from
_POD_TEMPLATES: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def _kubernetes(name: str, documents: list[Any]) -> Found:
    found = Found(name, "kubernetes manifests")
    for document in _kubernetes_objects(documents):
        resource = kubernetes_workload(name, document)
        if resource is None:
            found.skipped[f"objects that run no pods ({document.get('kind')})"] += 1
        else:
            found.resources.append(resource)
    return found


def kubernetes_workload(
    name: str, document: Mapping[str, Any], namespace: str | None = None
) -> Resource | None:
    """A workload with its labels merged with its pod template's (the template's win); None
    for an object that runs no pods (a Service, a ConfigMap). ``namespace``: where the object
    goes when it does not say (``kubectl apply -n``, an admission request)."""
    kind = str(document.get("kind"))
    if kind not in _POD_TEMPLATES:
        return None
    metadata = _mapping(document.get("metadata"))
    namespace = metadata.get("namespace") or namespace or "default"
    address = f"{kind}/{namespace}/{metadata.get('name') or metadata.get('generateName', '?')}"
    labels: Tags = _known(metadata.get("labels"))
    template: Any = document
    for step in _POD_TEMPLATES[kind]:
        template = _mapping(template).get(step)
    if _POD_TEMPLATES[kind]:
        labels.update(_known(_mapping(_mapping(template).get("metadata")).get("labels")))
    return Resource(name, address, kind, labels)


def _kubernetes_objects(documents: list[Any]) -> Iterator[dict[str, Any]]:
    for document in documents:
        if document.get("kind") == "List" or str(document.get("kind", "")).endswith("List"):
            yield from (i for i in document.get("items") or [] if isinstance(i, dict))
        else:
            yield document


# -- CloudFormation ----------------------------------------------------------------------------
# types that take tags, most relevant to AI spend: one of them without Tags fails the check
TAGGABLE_CLOUDFORMATION = frozenset(
    {
        "AWS::AutoScaling::AutoScalingGroup",
        "AWS::Batch::ComputeEnvironment",
        "AWS::Batch::JobQueue",
        "AWS::Bedrock::Agent",
        "AWS::Bedrock::KnowledgeBase",
        "AWS::DynamoDB::Table",
        "AWS::EC2::Instance",
        "AWS::EC2::Volume",
        "AWS::ECS::Cluster",
        "AWS::ECS::Service",
        "AWS::ECS::TaskDefinition",
        "AWS::EKS::Cluster",
        "AWS::EKS::Nodegroup",
        "AWS::EMR::Cluster",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::Glue::Job",
        "AWS::Kinesis::Stream",
        "AWS::Lambda::Function",
        "AWS::OpenSearchService::Domain",
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::Redshift::Cluster",
        "AWS::S3::Bucket",
        "AWS::SageMaker::Domain",
        "AWS::SageMaker::Endpoint",
        "AWS::SageMaker::EndpointConfig",
        "AWS::SageMaker::FeatureGroup",
        "AWS::SageMaker::InferenceComponent",
        "AWS::SageMaker::Model",
        "AWS::SageMaker::NotebookInstance",
        "AWS::SageMaker::Pipeline",
        "AWS::Serverless::Function",
        "AWS::StepFunctions::StateMachine",
    }
)


def _is_cloudformation(document: dict[str, Any]) -> bool:
    if "AWSTemplateFormatVersion" in document:
        return True
    resources = document.get("Resources")
    return isinstance(resources, dict) and all(
        isinstance(r, dict) and "Type" in r for r in resources.values()
    )


def _cloudformation(name: str, template: dict[str, Any]) -> Found:
    found = Found(name, "cloudformation template")
    for logical_id, resource in _mapping(template.get("Resources")).items():
        kind = str(_mapping(resource).get("Type", "?"))
        properties = _mapping(_mapping(resource).get("Properties"))
        declared = properties.get(col.TAGS)
        if declared is None and kind not in TAGGABLE_CLOUDFORMATION:
            found.skipped[f"resources of types not known to take tags ({kind})"] += 1
            continue
        tags: Tags
        if isinstance(declared, list):  # [{Key: ..., Value: ...}]
            tags = {
                str(item["Key"]): _value(item.get("Value"))
                for item in declared
                if isinstance(item, dict) and isinstance(item.get("Key"), str)
            }
        else:
            tags = {str(k): _value(v) for k, v in _mapping(declared).items()}
        found.resources.append(Resource(name, f"Resources.{logical_id}", kind, tags))
    return found


# -- a plain list ------------------------------------------------------------------------------
def _plain_items(document: Any) -> list[dict[str, Any]] | None:
    """The resources of a plain list (bare, or under "resources"), if that is what it is."""
    items = document.get("resources") if isinstance(document, dict) else document
    if isinstance(items, list) and all(isinstance(i, dict) for i in items):
        return items
    return None


def _plain(name: str, items: list[dict[str, Any]]) -> Found:
    found = Found(name, "resource list")
    for index, item in enumerate(items):
        address = item.get("address") or item.get("id") or item.get("name") or f"[{index}]"
        tags = item.get("tags", item.get("labels"))
        if tags is not None and not isinstance(tags, dict):
            raise DocumentError(f"{name}: resource {address}: tags must be a mapping of text")
        found.resources.append(
            Resource(name, str(address), str(item.get("type", "")), _known(tags))
        )
    return found


# -- values ------------------------------------------------------------------------------------
def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _known(tags: Any) -> Tags:
    return {str(k): _value(v) for k, v in _mapping(tags).items()}


def _value(value: Any) -> object:
    if isinstance(value, dict | list):  # an Intrinsic too
        return UNKNOWN  # a function of the deployment (!Ref Env, {"Fn::Sub": ...})
    if value is None:
        return None
    return str(value) if not isinstance(value, bool) else str(value).lower()
