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


def _namespaces(kubeconfig: Path) -> set[str]:
    """Every namespace's name (the Cluster port lists within a namespace only)."""
    api = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))  # type: ignore[no-untyped-call]
    try:
        return {str(n.metadata.name) for n in api.list_namespace().items if n.metadata}
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
        try:
            for cluster in (east, west):
                left = await asyncio.to_thread(_namespaces, kubeconfigs[cluster.name])
                made = left - before[cluster.name]
                for namespace in sorted(n for n in made if n.startswith(DEPLOYMENT_NAMESPACES)):
                    await cluster.delete("Namespace", None, namespace)
        finally:
            await east.close()
            await west.close()
