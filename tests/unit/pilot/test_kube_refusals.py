"""What a refused Kubernetes request reports: never a Secret's data.

A refusal's body may quote the request (an admission webhook echoing the object); the
Pilot's error goes into step outcomes, Kafka records and the Console's event list.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from jetbridge.pilot.adapters.kube_cluster import KubernetesCluster, status_outline
from jetbridge.pilot.domain.steps import ErrorCode, StepFailure

VALUE = "hunter2-Secret-Value"
REFUSAL = json.dumps(
    {
        "kind": "Status",
        "status": "Failure",
        "reason": "Invalid",
        "message": f'admission webhook "policy" denied the request: data.password={VALUE}',
        "details": {"causes": [{"field": "data[password]", "message": f"value {VALUE}"}]},
    }
)


def refused(body: str, status: int = 422) -> ApiException:
    error = ApiException(status=status, reason="Unprocessable Entity")
    error.body = body
    return error


def call_refused(kind: str, body: str) -> StepFailure:
    cluster = KubernetesCluster("dp-test", Path("/nonexistent/kubeconfig"))

    def refuse() -> None:
        raise refused(body)

    async def go() -> StepFailure:
        with pytest.raises(StepFailure) as failure:
            await cluster._call(f"apply {kind} ns/x", refuse, sensitive=kind == "Secret")
        return failure.value

    return asyncio.run(go())


def test_a_refused_secret_reports_the_reason_and_fields_not_the_values() -> None:
    failure = call_refused("Secret", REFUSAL)
    assert failure.code is ErrorCode.CLUSTER_REFUSED
    assert VALUE not in failure.message
    assert "reason Invalid" in failure.message and "data[password]" in failure.message


def test_another_kinds_refusal_keeps_the_servers_words() -> None:
    failure = call_refused("Deployment", REFUSAL)
    assert "admission webhook" in failure.message


@pytest.mark.parametrize("body", ["not json " + VALUE, json.dumps([VALUE]), ""])
def test_a_body_that_is_not_a_status_is_not_shown(body: str) -> None:
    assert VALUE not in status_outline(body)
