"""Events of the Mission aggregate (key ``mission_id``): one Deployment's move."""

from __future__ import annotations

from dataclasses import dataclass

from jetbridge.navigator.domain.events.base import MissionEvent


@dataclass(frozen=True, kw_only=True)
class MissionCreated(MissionEvent):
    request_id: str
    deployment_id: str
    source_cluster_id: str
    destination_cluster_id: str
    mode: str
    priority: int
    fencing_epoch: int
    source_flight_id: str
    destination_flight_id: str
    created_at: int


@dataclass(frozen=True, kw_only=True)
class MissionStarted(MissionEvent):
    started_at: int


@dataclass(frozen=True, kw_only=True)
class MissionSucceeded(MissionEvent):
    """``tasks_still_running_after_drain`` is None when no drain ran (Forced)."""

    succeeded_at: int
    tasks_still_running_after_drain: int | None = None


@dataclass(frozen=True, kw_only=True)
class MissionFailed(MissionEvent):
    """``fenced`` tells the operator which side may write the databases now."""

    reason_code: str
    reason: str
    flight_kind: str
    step: str
    fenced: bool
    failed_at: int


@dataclass(frozen=True, kw_only=True)
class MissionCancelled(MissionEvent):
    """A mission was cancelled: none of its flights may be dispatched any more.

    ``fence_may_have_run`` (v2): its fence had been cleared at least once, so the
    destination's side may connect and a copy may run there. Only a started mission can
    say so, and only a SUPERSEDED one is cancelled after it started."""

    reason_code: str
    reason: str
    cancelled_at: int
    fence_may_have_run: bool = False


@dataclass(frozen=True, kw_only=True)
class SourceCleanupPending(MissionEvent):
    """Forced: the source still holds the Deployment; delete it once reachable."""

    deployment_id: str
    source_cluster_id: str
    pending_at: int


@dataclass(frozen=True, kw_only=True)
class SourceCleanupCompleted(MissionEvent):
    completed_at: int


@dataclass(frozen=True, kw_only=True)
class SourceCleanupFailed(MissionEvent):
    reason_code: str
    reason: str
    failed_at: int
