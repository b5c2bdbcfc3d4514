"""The agent reads the ClusterSecretStore's status off a real API server.

The local clusters' store is validated by the ESO stand-in like ESO would; a store
whose credentials reference names no Secret is an invalid provider config; a store
that does not exist is neither valid nor authenticated.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import kubebootstrap
import kubestack
import pytest
from kubernetes import client

from jetbridge.agent.adapters.facts_static import StaticFactsSource
from jetbridge.agent.adapters.secret_store_kube import GROUP, PLURAL, VERSION, KubeSecretStoreReader
from jetbridge.agent.domain.facts import ClusterFacts, SecretStoreStatus
from jetbridge.agent.service_layer.observed_facts import ObservedFactsSource
from tests.integration.kube.conftest import EAST


async def _until(
    observed: ObservedFactsSource, ok: object, seconds: float = 30
) -> SecretStoreStatus:
    """Refresh until ``ok(status)`` (the stand-in validates on its one-second tick)."""
    status = await observed.refresh()
    for _ in range(int(seconds / 0.5)):
        if ok(status):  # type: ignore[operator]
            return status
        await asyncio.sleep(0.5)
        status = await observed.refresh()
    raise AssertionError(f"store status never matched: {status}")


@pytest.fixture
def broken_store(east: client.ApiClient) -> Iterator[str]:
    name = f"jb-broken-{uuid.uuid4().hex[:8]}"
    missing = {"name": "no-such-secret", "namespace": kubebootstrap.ESO_NAMESPACE}
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ClusterSecretStore",
        "metadata": {"name": name},
        "spec": {
            "provider": {
                "aws": {
                    "service": "SecretsManager",
                    "region": "us-east-1",
                    "auth": {
                        "secretRef": {
                            "accessKeyIDSecretRef": {**missing, "key": "id"},
                            "secretAccessKeySecretRef": {**missing, "key": "key"},
                        }
                    },
                }
            }
        },
    }
    api = client.CustomObjectsApi(east)
    api.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)
    try:
        yield name
    finally:
        api.delete_cluster_custom_object(GROUP, VERSION, PLURAL, name)


def _observer(stack: kubestack.KubeStack, store: str) -> ObservedFactsSource:
    reader = KubeSecretStoreReader(stack.kubeconfigs[EAST])
    return ObservedFactsSource(StaticFactsSource(ClusterFacts()), reader, store)


async def test_the_clusters_own_store_is_valid_and_authenticated(
    kube_stack: kubestack.KubeStack,
) -> None:
    observed = _observer(kube_stack, kubebootstrap.STORE_NAME)
    status = await _until(observed, lambda s: s.authenticated)
    assert status.name == kubebootstrap.STORE_NAME and status.ready
    facts = await observed.facts()
    assert facts.cluster_secret_store == status


async def test_a_store_with_a_broken_config_is_invalid(
    kube_stack: kubestack.KubeStack, broken_store: str
) -> None:
    observed = _observer(kube_stack, broken_store)
    status = await _until(observed, lambda s: s.message != "no Ready condition yet")
    assert (status.ready, status.authenticated) == (False, False)
    assert "no-such-secret" in status.message  # the stand-in's reason, as ESO gives one


async def test_a_store_that_does_not_exist_is_reported_missing(
    kube_stack: kubestack.KubeStack,
) -> None:
    observed = _observer(kube_stack, "jb-no-such-store")
    status = await observed.refresh()
    assert status == SecretStoreStatus(
        "jb-no-such-store", False, False, "ClusterSecretStore jb-no-such-store not found"
    )
