"""The Mission aggregate: moving one Deployment, carried by two flights.

CREATED -> RUNNING -> SUCCEEDED | FAILED, and CREATED -> CANCELLED for a mission that
never started (operator cancel or blast-radius halt). A started mission is never
abandoned: once it may have fenced the database it must end one way or the other.
Its one way out to CANCELLED is ``SUPERSEDED``: a Forced request took its request
over and plans a mission of its own for the Deployment (:mod:`superseding`).
The source cleanup of a Forced mission is a separate small machine
(NOT_NEEDED -> PENDING -> COMPLETED | FAILED) so it cannot hold the outcome back.
"""

from __future__ import annotations

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.aggregate import Aggregate
from jetbridge.navigator.domain.statemachine import TransitionTable
from jetbridge.navigator.domain.vocabulary import CleanupStatus, FailoverMode, MissionStatus

M, C = MissionStatus, CleanupStatus
# The only reason a started mission may be cancelled for: see the module docstring.
SUPERSEDED = "SUPERSEDED"
MISSION = TransitionTable[MissionStatus](
    "Mission",
    {
        M.CREATED: frozenset({M.RUNNING, M.CANCELLED}),
        M.RUNNING: frozenset({M.SUCCEEDED, M.FAILED, M.CANCELLED}),
        M.SUCCEEDED: frozenset(),
        M.FAILED: frozenset(),
        M.CANCELLED: frozenset(),
    },
)
CLEANUP = TransitionTable[CleanupStatus](
    "Mission.cleanup",
    {
        C.NOT_NEEDED: frozenset({C.PENDING}),
        C.PENDING: frozenset({C.COMPLETED, C.FAILED}),
        C.COMPLETED: frozenset(),
        C.FAILED: frozenset(),
    },
)


class Mission(Aggregate):
    NAME = "Mission"
    CREATED_BY = ev.MissionCreated

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.status = M.CREATED
        self.cleanup = C.NOT_NEEDED
        self.request_id = ""
        self.deployment_id = ""
        self.source_cluster_id = ""
        self.destination_cluster_id = ""
        self.mode = FailoverMode.CONTROLLED
        self.priority = 0
        self.fencing_epoch = 0
        self.source_flight_id = ""
        self.destination_flight_id = ""
        self.created_at = 0
        self.started_at: int | None = None
        self.ended_at: int | None = None
        self.reason_code = ""
        self.reason = ""
        # Ended without success: FAILED, whether its fence took effect; CANCELLED (only
        # SUPERSEDED can be, after it started), True when its fence may have run.
        self.fenced_when_failed: bool | None = None
        self.tasks_still_running_after_drain: int | None = None

    @property
    def mission_id(self) -> str:
        return self.id

    @property
    def terminal(self) -> bool:
        return MISSION.is_terminal(self.status)

    def state_name(self) -> str:
        return f"{self.status.value}/{self.cleanup.value}"

    def _move(self, to: MissionStatus, event: ev.DomainEvent) -> None:
        MISSION.check(self.id, self.status, to, event.event_type())
        self.status = to

    def _cleanup(self, to: CleanupStatus, event: ev.DomainEvent) -> None:
        if self.status is not M.SUCCEEDED:
            raise self._illegal(event)
        CLEANUP.check(self.id, self.cleanup, to, event.event_type())
        self.cleanup = to

    def _when(self, event: ev.DomainEvent) -> None:
        match event:
            case ev.MissionCreated():
                mode = FailoverMode(event.mode)
                self.request_id = event.request_id
                self.deployment_id = event.deployment_id
                self.source_cluster_id = event.source_cluster_id
                self.destination_cluster_id = event.destination_cluster_id
                self.mode = mode
                self.priority = event.priority
                self.fencing_epoch = event.fencing_epoch
                self.source_flight_id = event.source_flight_id
                self.destination_flight_id = event.destination_flight_id
                self.created_at = event.created_at
            case ev.MissionStarted():
                self._move(M.RUNNING, event)
                self.started_at = event.started_at
            case ev.MissionSucceeded():
                self._move(M.SUCCEEDED, event)
                self.ended_at = event.succeeded_at
                self.tasks_still_running_after_drain = event.tasks_still_running_after_drain
            case ev.MissionFailed():
                self._move(M.FAILED, event)
                self.ended_at = event.failed_at
                self.reason_code, self.reason = event.reason_code, event.reason
                self.fenced_when_failed = event.fenced
            case ev.MissionCancelled():
                if self.status is M.RUNNING and event.reason_code != SUPERSEDED:
                    raise self._illegal(event)
                self._move(M.CANCELLED, event)
                self.ended_at = event.cancelled_at
                self.reason_code, self.reason = event.reason_code, event.reason
                if event.fence_may_have_run:  # else unknown, as for any cancel before v2
                    self.fenced_when_failed = True
            case ev.SourceCleanupPending():
                self._cleanup(C.PENDING, event)
            case ev.SourceCleanupCompleted():
                self._cleanup(C.COMPLETED, event)
            case ev.SourceCleanupFailed():
                self._cleanup(C.FAILED, event)
                self.reason_code, self.reason = event.reason_code, event.reason
            case _:
                raise self._illegal(event)
