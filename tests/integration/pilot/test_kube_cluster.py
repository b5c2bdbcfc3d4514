"""The cluster contract on the Kubernetes adapter, against the local data planes
(deploy/local/kube: real apiserver, controller-manager, kwok, ESO stand-in, moto store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from jetbridge.pilot.service_layer.ports import ClusterPort
from tests.unit.pilot.cluster_contract import ClusterContract

from .kube import kube_pair


class TestKubernetesCluster(ClusterContract):
    @pytest.fixture
    async def pair(self, kube_stack: Any) -> AsyncIterator[tuple[ClusterPort, ClusterPort]]:
        self.store = kube_stack.cluster_secret_store
        async with kube_pair(kube_stack) as clusters:
            yield clusters
