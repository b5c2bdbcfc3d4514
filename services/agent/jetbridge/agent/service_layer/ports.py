"""Ports the agent depends on; adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from jetbridge.agent.domain.facts import CheckResult, ClusterFacts


class FactsSource(Protocol):
    """Where the agent learns its cluster's facts and local checks.

    A static in-memory source serves the local stack and tests; the Kubernetes-backed
    one (reading the install values, ESO objects and Deployments) comes with the Pilot.
    Called once per heartbeat: implementations cache, they do not hit the API server
    every second.
    """

    async def facts(self) -> ClusterFacts: ...

    async def checks(self) -> Sequence[CheckResult]: ...
