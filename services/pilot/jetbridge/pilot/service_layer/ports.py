"""What the Pilot's steps need from the world: a cluster, the database, a clock.

``ClusterPort`` is deliberately object-shaped (apply/get/list/delete/scale of
Kubernetes-shaped manifests): the steps hold the logic, an adapter only moves objects,
so the in-memory twin and the Kubernetes adapter pass one contract suite. Adapters
raise ``StepFailure`` (transient ``CLUSTER_UNAVAILABLE`` for timeouts and 5xx,
permanent ``CLUSTER_REFUSED`` for a rejected object).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from jetbridge.pilot.domain.airflow import Manifest
from jetbridge.pilot.domain.steps import Fenced


class ClusterPort(Protocol):
    name: str

    async def apply(self, manifest: Manifest) -> None:
        """Create the object or bring the existing one to this spec (idempotent)."""
        ...

    async def get(self, kind: str, namespace: str | None, name: str) -> Manifest | None: ...

    async def list(
        self, kind: str, namespace: str, labels: Mapping[str, str]
    ) -> list[Manifest]: ...

    async def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        """Start deleting; False when it was already gone."""
        ...

    async def scale(self, namespace: str, name: str, replicas: int) -> bool:
        """Set a Deployment's replicas; False when the Deployment does not exist."""
        ...


class DatabaseFencer(Protocol):
    """Per-Deployment database roles (libs/fencing) seen from one cluster's side."""

    side: str  # "A" or "B": the login role this cluster's Deployments use

    async def provision(self, deployment_id: str, passwords: Mapping[str, str]) -> Fenced:
        """Create databases and both roles; only this side may connect (epoch 0)."""
        ...

    async def fence(self, deployment_id: str, epoch: int) -> Fenced:
        """Shut the other side out, let this side in. Raises ``FencingRefusedFailure``."""
        ...

    def connection_url(self, deployment_id: str, side: str, password: str) -> str:
        """The Airflow metadata database URL for one side's login role."""
        ...


class TaskInstances(Protocol):
    async def active(self, deployment_id: str) -> dict[str, int]:
        """Task instances queued, running or deferred, by state, in the Deployment's
        Airflow metadata database. Repeated calls for one Deployment may share a
        session, until ``release``."""
        ...

    async def release(self, deployment_id: str) -> None:
        """The drain of this Deployment is over: let go of whatever ``active`` kept."""
        ...


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall_ms(self) -> int: ...
