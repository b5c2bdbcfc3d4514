"""Ports the agent depends on; adapters implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from jetbridge.agent.domain.facts import CheckResult, ClusterFacts


class FactsSource(Protocol):
    """Where the agent learns its cluster's facts and local checks.

    A static source holds what the install says (values); the observed ones overlay
    what the cluster shows: its inventory (``service_layer.observed_inventory``) and
    the ClusterSecretStore's status (``service_layer.observed_facts``). Called once per
    heartbeat: implementations cache, they do not hit the API server every second.
    """

    async def facts(self) -> ClusterFacts: ...

    async def checks(self) -> Sequence[CheckResult]: ...


class SecretStoreReader(Protocol):
    """Reads one ClusterSecretStore object from the cluster's API server."""

    async def read(self, name: str) -> Mapping[str, Any] | None:
        """The object, or None when there is none; raises when the API cannot answer."""
        ...


class InventoryReader(Protocol):
    """Lists the cluster's Airflow namespaces (those the Pilot labels) and the Airflow
    schedulers of any namespace (domain.inventory.SCHEDULER_SELECTOR)."""

    async def namespaces(self) -> list[Mapping[str, Any]]:
        """Every labelled namespace as the API server returns it; raises when it cannot
        answer."""
        ...

    async def schedulers(self) -> list[Mapping[str, Any]]:
        """Every Deployment labelled as an Airflow scheduler, in any namespace; raises
        when the API server cannot answer."""
        ...
