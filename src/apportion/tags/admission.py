"""The tag check as a Kubernetes validating admission webhook: an ``AdmissionReview`` (v1) in,
the same object with its ``response`` out. Workloads (Pods, Deployments, Jobs, ...) that break
the tag policy are refused with the missing or invalid keys; anything else is allowed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apportion.errors import UsageError
from apportion.tags.policy import TagPolicy
from apportion.tags.resources import kubernetes_workload

API_VERSION = "admission.k8s.io/v1"


class ReviewError(UsageError):
    """The body is not an AdmissionReview v1 request."""


def answer_admission_review(body: Any, policy: TagPolicy) -> dict[str, Any]:
    request = _request(body)
    allowed, message, warnings = _decide(request, policy)
    response: dict[str, Any] = {"uid": request["uid"], "allowed": allowed}
    if not allowed:
        response["status"] = {"code": 403, "reason": "Forbidden", "message": message}
    if warnings:
        response["warnings"] = warnings
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}


def _request(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping) or body.get("kind") != "AdmissionReview":
        raise ReviewError("expected an AdmissionReview")
    if body.get("apiVersion") != API_VERSION:
        raise ReviewError(f"expected apiVersion {API_VERSION}, got {body.get('apiVersion')!r}")
    request = body.get("request")
    if not isinstance(request, Mapping) or not isinstance(request.get("uid"), str):
        raise ReviewError("an AdmissionReview needs a request with a uid")
    return request


def _decide(request: Mapping[str, Any], policy: TagPolicy) -> tuple[bool, str, list[str]]:
    workload = request.get("object")
    if request.get("operation") not in ("CREATE", "UPDATE") or not isinstance(workload, Mapping):
        return True, "", []  # a DELETE or CONNECT has nothing to tag
    namespace = request.get("namespace")  # the object may leave it to the request
    resource = kubernetes_workload("admission", workload, namespace)
    if resource is None:
        return True, "", []
    reading = policy.read(resource.tags)
    warnings = [f"label {key!r} read as {dimension}" for key, dimension in reading.renamed.items()]
    if not reading.violations:
        return True, "", warnings
    problems = "; ".join(v.describe() for v in reading.violations)
    return False, f"{resource.address} breaks the tag policy: {problems}", warnings
