"""The cluster contract on the in-memory twin (plus what only the twin can fake)."""

from __future__ import annotations

import pytest

from jetbridge.pilot.adapters.memory_cluster import InMemoryCluster, MemorySecretStore
from jetbridge.pilot.service_layer.ports import ClusterPort

from .cluster_contract import ClusterContract


class TestInMemoryCluster(ClusterContract):
    @pytest.fixture
    def pair(self) -> tuple[ClusterPort, ClusterPort]:
        store = MemorySecretStore()
        return InMemoryCluster("east", store), InMemoryCluster("west", store)
