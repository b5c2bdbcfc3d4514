"""Ports the agent depends on; adapters implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from jetbridge.agent.domain.facts import CheckResult, ClusterFacts


class FactsSource(Protocol):
    """Where the agent learns its cluster's facts and local checks.

    A static source holds what the install says (values, inventory); the observed one
    (``service_layer.observed_facts``) overlays what the cluster shows, the
    ClusterSecretStore's status. Called once per heartbeat: implementations cache, they
    do not hit the API server every second.
    """

    async def facts(self) -> ClusterFacts: ...

    async def checks(self) -> Sequence[CheckResult]: ...


class SecretStoreReader(Protocol):
    """Reads one ClusterSecretStore object from the cluster's API server."""

    async def read(self, name: str) -> Mapping[str, Any] | None:
        """The object, or None when there is none; raises when the API cannot answer."""
        ...
