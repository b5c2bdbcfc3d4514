"""What one step attempt sees: the flight, its parameters, the ports and its deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jetbridge.flightdeck.models import Flight
from jetbridge.pilot.domain.airflow import DeploymentSpec
from jetbridge.pilot.domain.steps import ErrorCode, StepFailure, transient
from jetbridge.pilot.service_layer.ports import Clock, ClusterPort, DatabaseFencer, TaskInstances


@dataclass(frozen=True)
class PilotConfig:
    """The installation's facts a step needs (no secrets)."""

    secret_store: str = "jetbridge-store"
    poll_interval_s: float = 0.5
    default_deadline_s: float = 300.0
    quota_cpu: str = "8"
    quota_memory: str = "16Gi"
    # The customer created the login roles and chose their passwords (read from the
    # store at provisioning, never generated): docs/database-fencing.md.
    customer_users: bool = False


@dataclass(frozen=True)
class Ports:
    cluster: ClusterPort
    fencer: DatabaseFencer
    tasks: TaskInstances
    clock: Clock


@dataclass(frozen=True)
class StepContext:
    flight: Flight
    step: str
    attempt: int
    params: Mapping[str, Any]
    spec: DeploymentSpec
    config: PilotConfig
    ports: Ports
    deadline: float  # monotonic time this attempt must end by

    @property
    def cluster(self) -> ClusterPort:
        return self.ports.cluster

    @property
    def db_side(self) -> str:
        return self.ports.fencer.side

    def remaining(self) -> float:
        return self.deadline - self.ports.clock.monotonic()

    async def poll(
        self,
        check: Callable[[], Awaitable[tuple[bool, str]]],
        code: ErrorCode,
        what: str,
        *,
        until: float | None = None,
    ) -> None:
        """Re-check until true; at the deadline raise a transient failure that says what
        was still wrong the last time (e.g. the store's own error message)."""
        end = self.deadline if until is None else until
        while True:
            ok, why = await check()
            if ok:
                return
            left = end - self.ports.clock.monotonic()
            if left <= 0:
                raise transient(code, f"{what}: {why}")
            await asyncio.sleep(min(self.config.poll_interval_s, left))


def failure_text(error: BaseException) -> str:
    if isinstance(error, StepFailure):
        return error.message
    return f"{type(error).__name__}: {error}"
