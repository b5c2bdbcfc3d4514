"""What one step attempt sees: the flight, its parameters, the ports and its deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jetbridge.flightdeck.models import Flight
from jetbridge.pilot.domain.airflow import DeploymentSpec
from jetbridge.pilot.domain.steps import ErrorCode, StepFailure, transient
from jetbridge.pilot.service_layer.ports import (
    Clock,
    ClusterPort,
    DatabaseFencer,
    TaskInstances,
    Unwatched,
)


@dataclass(frozen=True)
class PilotConfig:
    """The installation's facts a step needs (no secrets)."""

    secret_store: str = "jetbridge-store"
    poll_interval_s: float = 0.5  # the most often a wait re-reads (and how often unwatched)
    # A watched wait re-reads on a change, or after this long without one (a missed
    # event must not stall it; adapters/kube_watch.py)
    watch_fallback_s: float = 5.0
    default_deadline_s: float = 300.0
    quota_cpu: str = "8"
    quota_memory: str = "16Gi"
    # The customer created the login roles and chose their passwords (read from the
    # store at provisioning, never generated): docs/database-fencing.md.
    customer_users: bool = False
    # Secrets are granted per namespace (Helm pilot.rbac.secretsPerNamespace): the
    # ClusterRole CREATE_NAMESPACE binds there, for this ServiceAccount ("ns/name").
    # Empty: the Pilot may already touch Secrets everywhere (the local stack's admin).
    secrets_role: str = ""
    service_account: str = ""
    # This cluster's credentials for the installation's registry, a
    # kubernetes.io/dockerconfigjson Secret ("ns/name"): copied into each namespace the
    # Pilot makes and named by its pods. Empty: the nodes pull on their own.
    image_pull_secret: str = ""


@dataclass(frozen=True)
class Ports:
    cluster: ClusterPort
    fencer: DatabaseFencer
    tasks: TaskInstances
    clock: Clock
    # (step, cause) before each re-check of a wait: "change" (a watch woke it),
    # "fallback" (watched, nothing changed for watch_fallback_s) or "poll" (unwatched)
    on_recheck: Callable[[str, str], None] = lambda step, cause: None


@dataclass
class Unmet:
    """What the wait in progress found wrong at its last check. The hard deadline can
    cut the final re-check short (a slow API server); the runner then reports this,
    the step's own error, rather than a bare DEADLINE_EXCEEDED."""

    failure: StepFailure | None = None


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
    unmet: Unmet = field(default_factory=Unmet)
    # Wall ms when this step's first attempt started (reports.first_start); 0: unknown
    first_started_ms: int = 0

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
        watch: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Re-check until true; at the deadline raise a transient failure that says what
        was still wrong the last time (e.g. the store's own error message).

        ``watch`` names the (kind, namespace) whose changes can make ``check`` true:
        while the cluster watches them, the next check waits for a change (or
        ``watch_fallback_s``) instead of the next ``poll_interval_s``, never coming
        sooner than ``poll_interval_s`` after the last one began."""
        end = self.deadline if until is None else until
        clock, config = self.ports.clock, self.config
        changes = self.cluster.changes(watch) if watch else Unwatched()
        try:  # opened before the first check: a change during it is not missed
            while True:
                began = clock.monotonic()
                ok, why = await check()
                if ok:
                    self.unmet.failure = None
                    return
                self.unmet.failure = transient(code, f"{what}: {why}")
                left = end - clock.monotonic()
                if left <= 0:
                    raise self.unmet.failure
                if not changes.live:
                    await asyncio.sleep(min(config.poll_interval_s, left))
                    self.ports.on_recheck(self.step, "poll")
                    continue
                woken = await changes.wait(min(config.watch_fallback_s, left))
                gap = began + config.poll_interval_s - clock.monotonic()
                if gap > 0:
                    await asyncio.sleep(min(gap, max(0.0, end - clock.monotonic())))
                self.ports.on_recheck(self.step, "change" if woken else "fallback")
        finally:
            changes.close()


def failure_text(error: BaseException) -> str:
    if isinstance(error, StepFailure):
        return error.message
    return f"{type(error).__name__}: {error}"
