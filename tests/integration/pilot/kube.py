"""The local Kubernetes data planes for the Pilot's tests (``kube_stack`` starts them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from kubernetes import client, config

from jetbridge.pilot.adapters.kube_cluster import KubernetesCluster

EAST, WEST = "dp-east", "dp-west"
# The namespaces a Deployment lives in (DeploymentSpec.namespace).
DEPLOYMENT_NAMESPACES = "airflow-"


def _api(kubeconfig: Path) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))  # type: ignore[no-untyped-call]


def _namespaces(kubeconfig: Path) -> set[str]:
    api = _api(kubeconfig)
    try:
        return {str(n.metadata.name) for n in api.list_namespace().items if n.metadata}
    finally:
        api.api_client.close()


def _delete_namespaces(kubeconfig: Path, names: set[str]) -> None:
    api = _api(kubeconfig)
    try:
        for name in sorted(names):
            api.delete_namespace(name, propagation_policy="Background")
    finally:
        api.api_client.close()


@asynccontextmanager
async def kube_pair(stack: Any) -> AsyncIterator[tuple[KubernetesCluster, KubernetesCluster]]:
    """Both clusters; the Deployments' namespaces a test leaves on them are deleted
    after it (tests run one at a time). Kept, they piled up across runs, and the
    secrets operator synced their ExternalSecrets every second for good."""
    kubeconfigs = {name: Path(stack.kubeconfigs[name]) for name in (EAST, WEST)}
    before = {
        name: await asyncio.to_thread(_namespaces, path) for name, path in kubeconfigs.items()
    }
    east = KubernetesCluster(EAST, stack.kubeconfigs[EAST])
    west = KubernetesCluster(WEST, stack.kubeconfigs[WEST])
    try:
        yield east, west
    finally:
        await east.close()
        await west.close()
        for name, path in kubeconfigs.items():
            left = await asyncio.to_thread(_namespaces, path)
            made = {n for n in left - before[name] if n.startswith(DEPLOYMENT_NAMESPACES)}
            await asyncio.to_thread(_delete_namespaces, path, made)
