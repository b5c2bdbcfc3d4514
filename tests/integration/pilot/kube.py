"""The local Kubernetes data planes for the Pilot's tests (``kube_stack`` starts them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from jetbridge.pilot.adapters.kube_cluster import KubernetesCluster

EAST, WEST = "dp-east", "dp-west"


@asynccontextmanager
async def kube_pair(stack: Any) -> AsyncIterator[tuple[KubernetesCluster, KubernetesCluster]]:
    east = KubernetesCluster(EAST, stack.kubeconfigs[EAST])
    west = KubernetesCluster(WEST, stack.kubeconfigs[WEST])
    try:
        yield east, west
    finally:
        await east.close()
        await west.close()
