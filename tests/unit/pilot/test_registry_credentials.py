"""The cluster's registry credentials, copied into each namespace and named by its pods."""

from __future__ import annotations

import base64

import pytest

from jetbridge.pilot.adapters.memory_cluster import InMemoryCluster, MemorySecretStore
from jetbridge.pilot.domain.airflow import DOCKER_CONFIG, REGISTRY_SECRET
from jetbridge.pilot.domain.steps import ErrorCode, StepFailure

from .test_steps import run

SOURCE = "jetbridge/registry-pull"
CONFIG = base64.b64encode(b'{"auths":{"registry.test":{"auth":"dXNlcjpzM2NyZXQ="}}}').decode()


async def with_credentials(kind: str = DOCKER_CONFIG) -> InMemoryCluster:
    cluster = InMemoryCluster("west", MemorySecretStore())
    await cluster.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "jetbridge"}}
    )
    key = ".dockerconfigjson" if kind == DOCKER_CONFIG else "password"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "registry-pull", "namespace": "jetbridge", "labels": {"a": "b"}},
        "type": kind,
        "data": {key: CONFIG},
    }
    assert await cluster.create(secret)
    return cluster


async def test_the_namespace_gets_a_copy_and_every_pod_names_it() -> None:
    cluster = await with_credentials()
    for _ in range(2):  # a re-run finds the copy made and makes nothing twice
        await run(cluster, "CREATE_NAMESPACE", image_pull_secret=SOURCE)
        await run(cluster, "UPSERT_DEPLOYMENT", image_pull_secret=SOURCE)
    copy = cluster.objects()[f"Secret/airflow-dep-1/{REGISTRY_SECRET}"]
    assert copy["type"] == DOCKER_CONFIG and copy["data"] == {".dockerconfigjson": CONFIG}
    assert "a" not in copy["metadata"]["labels"]  # the Deployment's labels, not the source's
    components = [m for k, m in cluster.objects().items() if k.startswith("Deployment/")]
    assert len(components) == 5
    for component in components:
        pod = component["spec"]["template"]["spec"]
        assert pod["imagePullSecrets"] == [{"name": REGISTRY_SECRET}]
    assert set(cluster.creations.values()) == {1}


async def test_without_the_setting_nothing_is_copied_or_named() -> None:
    cluster = await with_credentials()
    await run(cluster, "CREATE_NAMESPACE")
    await run(cluster, "UPSERT_DEPLOYMENT")
    assert f"Secret/airflow-dep-1/{REGISTRY_SECRET}" not in cluster.objects()
    components = [m for k, m in cluster.objects().items() if k.startswith("Deployment/")]
    assert components and all(
        "imagePullSecrets" not in m["spec"]["template"]["spec"] for m in components
    )


async def test_missing_credentials_fail_the_step_by_name_until_they_are_made() -> None:
    cluster = InMemoryCluster("west", MemorySecretStore())
    with pytest.raises(StepFailure) as missing:
        await run(cluster, "CREATE_NAMESPACE", image_pull_secret=SOURCE)
    assert missing.value.code is ErrorCode.REGISTRY_CREDENTIALS_MISSING
    assert missing.value.transient
    assert SOURCE in missing.value.message
    assert "JETBRIDGE_PILOT_IMAGE_PULL_SECRET" in missing.value.message
    assert f"Secret/airflow-dep-1/{REGISTRY_SECRET}" not in cluster.objects()
    made = await with_credentials()
    await run(made, "CREATE_NAMESPACE", image_pull_secret=SOURCE)  # the retry, once made
    assert f"Secret/airflow-dep-1/{REGISTRY_SECRET}" in made.objects()


async def test_credentials_of_another_type_are_refused_without_their_values() -> None:
    cluster = await with_credentials(kind="Opaque")
    with pytest.raises(StepFailure) as refused:
        await run(cluster, "CREATE_NAMESPACE", image_pull_secret=SOURCE)
    assert refused.value.code is ErrorCode.INVALID_CONFIGURATION
    assert not refused.value.transient
    assert SOURCE in refused.value.message and "'Opaque'" in refused.value.message
    assert CONFIG not in refused.value.message
    assert f"Secret/airflow-dep-1/{REGISTRY_SECRET}" not in cluster.objects()
