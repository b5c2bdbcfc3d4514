"""The Console's ports: what it reads, how it sends commands, how it knows who asks."""

from __future__ import annotations

from typing import Protocol

from jetbridge.common.events import EventRecord
from jetbridge.console.domain.audit import AuditEntry, EventFilter
from jetbridge.console.domain.intents import StartIntent
from jetbridge.console.domain.roles import Principal
from jetbridge.console.service_layer.views import (
    ClusterView,
    DeploymentView,
    DestinationsView,
    PlanView,
    Reason,
    RequestDetail,
    RequestSummary,
)


class ReadModel(Protocol):
    """Everything the Console shows. Eventually consistent with the ledger: ``last_seq``
    grows as events are applied and ``wait_beyond`` lets a caller wait for the next."""

    @property
    def ready(self) -> bool: ...

    @property
    def fold_errors(self) -> int: ...

    def last_seq(self) -> int: ...

    def first_seq(self) -> int:
        """The oldest seq whose entry is still served (the Console keeps the newest)."""
        ...

    async def wait_beyond(self, seq: int, timeout_s: float) -> int: ...

    async def clusters(self) -> list[ClusterView]: ...

    async def cluster(self, cluster_id: str) -> ClusterView | None: ...

    async def destinations(self, source_id: str) -> DestinationsView | None: ...

    async def deployments(self, cluster_id: str) -> list[DeploymentView] | None: ...

    async def requests(
        self, *, status: str | None, cluster_id: str | None, limit: int
    ) -> list[RequestSummary]: ...

    async def request(self, request_id: str) -> RequestDetail | None: ...

    async def plan(self, intent: StartIntent, now_ms: int) -> PlanView: ...

    async def events(
        self, where: EventFilter, limit: int, *, newest_first: bool = False
    ) -> list[AuditEntry]: ...

    async def refusal(self, command_id: str) -> Reason | None: ...


class CommandsUnavailable(Exception):
    """The broker did not take the command (away, or not reached yet); the message says
    whether it may have been written all the same."""


class CommandSender(Protocol):
    """Puts a command on ``jetbridge.commands``: the Console's only way to change things.
    Raises :class:`CommandsUnavailable` when the broker does not acknowledge it."""

    async def send(self, command: EventRecord) -> None: ...


class TokenVerifier(Protocol):
    """Bearer token -> who it is (None: not a valid token).

    Static tokens implement it now; an OIDC verifier (JWT signature against the
    issuer's JWKS, role from a claim) plugs in here without touching the API.
    """

    async def verify(self, token: str) -> Principal | None: ...
