"""The tag check as a Kubernetes validating admission webhook: AdmissionReview v1 in and out,
over HTTP as the API server sends it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from apportion.api.admission import admission_app
from apportion.config import parse_config
from apportion.tags import load_policy

REVIEW = json.loads((Path(__file__).parent / "fixtures" / "admission-review.json").read_text())


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(admission_app(load_policy(parse_config(""), tmp_path)))


def _with_object(**changes: Any) -> dict[str, Any]:
    review = copy.deepcopy(REVIEW)
    review["request"].update(changes)
    return review


def test_a_workload_missing_a_dimension_is_refused_with_the_reason(client: TestClient) -> None:
    answer = client.post("/validate", json=REVIEW)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["apiVersion"], body["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    response = body["response"]
    assert response["uid"] == REVIEW["request"]["uid"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    # the namespace comes from the request: the object leaves it out
    assert response["status"]["message"] == (
        "Deployment/ml/llm-gateway breaks the tag policy: lifecycle_stage missing"
    )
    assert response["warnings"] == ["label 'CostCenter' read as cost_centre"]


def test_a_workload_that_satisfies_the_policy_is_allowed(client: TestClient) -> None:
    review = copy.deepcopy(REVIEW)
    review["request"]["object"]["spec"]["template"]["metadata"]["labels"]["lifecycle_stage"] = (
        "active"
    )
    response = client.post("/validate", json=review).json()["response"]
    assert response["allowed"] is True
    assert "status" not in response


def test_objects_that_run_no_pods_and_deletes_are_allowed(client: TestClient) -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "gw"}}
    assert client.post("/validate", json=_with_object(object=service)).json()["response"]["allowed"]
    delete = _with_object(operation="DELETE", object=None, oldObject=REVIEW["request"]["object"])
    assert client.post("/validate", json=delete).json()["response"]["allowed"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (json.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}), 400),
        (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}), 400),
        (json.dumps({"kind": "Pod"}), 400),
    ],
)
def test_a_malformed_review_is_a_client_error(
    client: TestClient, body: bytes | str, status: int
) -> None:
    answer = client.post("/validate", content=body)
    assert answer.status_code == status
    assert answer.json()["detail"]


def test_an_oversized_review_is_refused(client: TestClient) -> None:
    answer = client.post("/validate", content=b" " * (3 * 1024 * 1024 + 1))
    assert answer.status_code == 413


def test_health_probe(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
