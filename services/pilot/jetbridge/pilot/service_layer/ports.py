"""What the Pilot's steps need from the world: a cluster, the database, a clock.

``ClusterPort`` is deliberately object-shaped (apply/get/list/delete/scale of
Kubernetes-shaped manifests): the steps hold the logic, an adapter only moves objects,
so the in-memory twin and the Kubernetes adapter pass one contract suite. Adapters
raise ``StepFailure`` (transient ``CLUSTER_UNAVAILABLE`` for timeouts and 5xx,
permanent ``CLUSTER_REFUSED`` for a rejected object), and ``ObjectChanged`` when a
conditional delete finds the object changed since it was read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Protocol

from jetbridge.pilot.domain.airflow import Manifest
from jetbridge.pilot.domain.steps import Fenced


class ObjectChanged(Exception):
    """A conditional write or delete refused: the object changed since the version it
    was given (Kubernetes answers 409 to a failed precondition), or was deleted or kept
    changing while its fields were handed over. The caller reads it again."""


class Changes(Protocol):
    """What wakes a wait: changes to the objects it watches, from when it was opened."""

    @property
    def live(self) -> bool:
        """A watch is open: ``wait`` returns on a change (else the caller polls)."""
        ...

    async def wait(self, at_most_s: float) -> bool:
        """Until something watched changed since the last ``wait`` returned (or since
        this was opened): True; or ``at_most_s`` seconds without a change: False."""
        ...

    def close(self) -> None: ...


class Unwatched:
    """``Changes`` for a cluster that cannot watch: never live, a wait is a sleep."""

    live = False

    async def wait(self, at_most_s: float) -> bool:
        await asyncio.sleep(at_most_s)
        return False

    def close(self) -> None:
        pass


class ClusterPort(Protocol):
    name: str

    def changes(self, watched: Iterable[tuple[str, str]]) -> Changes:
        """Notice changes to objects of each (kind, namespace) from now on (for
        ``Namespace``, the namespace of that name). A wake-up only: a wait re-reads
        what it waits for after waking."""
        ...

    async def apply(self, manifest: Manifest, *, if_version: str | None = None) -> None:
        """Create the object or bring the existing one to this spec (idempotent). With
        ``if_version`` (a ``metadata.resourceVersion`` read before), write only the
        object as read: raise ``ObjectChanged`` if it was written since. One deleted
        since is made again, as an apiserver's server-side apply does (the contract
        test found it so): guard a creation with :meth:`create`."""
        ...

    async def create(self, manifest: Manifest, *, for_apply: bool = False) -> bool:
        """Create the object only if none of that name exists: False when one did (it
        is left as it is). For values made once, such as a generated key: two Pilots
        that both found it missing must not each write their own. ``for_apply``: the
        object is written with :meth:`apply` from then on, so what the create wrote is
        owned as an apply's (a later apply that leaves a field out removes it)."""
        ...

    async def get(self, kind: str, namespace: str | None, name: str) -> Manifest | None: ...

    async def list(
        self, kind: str, namespace: str, labels: Mapping[str, str]
    ) -> list[Manifest]: ...

    async def delete(
        self, kind: str, namespace: str | None, name: str, *, if_version: str | None = None
    ) -> bool:
        """Start deleting; False when it was already gone. With ``if_version`` (a
        ``metadata.resourceVersion`` read before), delete only the object as read:
        raise ``ObjectChanged`` if it was written since."""
        ...

    async def scale(self, namespace: str, name: str, replicas: int) -> bool:
        """Set a Deployment's replicas; False when the Deployment does not exist."""
        ...

    async def may(self, verb: str, kind: str, namespace: str) -> bool:
        """Whether this client may ``verb`` objects of ``kind`` in ``namespace`` now (a
        SelfSubjectAccessReview: what the authorizer decides, once a new binding
        reached it)."""
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

    async def check_writable(self) -> None:
        """Raise a transient ``DATABASE_READ_ONLY`` failure, naming why, when the server
        cannot be written (a replica not yet promoted)."""
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
