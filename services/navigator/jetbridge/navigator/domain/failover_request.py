"""The FailoverRequest aggregate: one operator request, judged once, then driven.

PENDING -> IN_PROGRESS -> SUCCEEDED | FAILED, plus REJECTED (ineligible, from
PENDING) and CANCELLED (operator, before the end). A cancel while missions run is
first recorded (FailoverCancelRequested) and becomes CANCELLED once none is running:
a mission that already fenced its database must not be abandoned half way. The one
exception: a Controlled request whose source became unreachable may be superseded by a
Forced one (:mod:`superseding`), which takes its Deployments over, fenced or not
(FailoverSuperseded, then CANCELLED).
"""

from __future__ import annotations

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.aggregate import Aggregate
from jetbridge.navigator.domain.policy import BlastRadius, FailoverPolicy, RetryPolicy
from jetbridge.navigator.domain.statemachine import TransitionTable
from jetbridge.navigator.domain.vocabulary import FailoverMode, RequestStatus

S = RequestStatus
REQUEST = TransitionTable[RequestStatus](
    "FailoverRequest",
    {
        S.PENDING: frozenset({S.IN_PROGRESS, S.REJECTED, S.CANCELLED}),
        S.IN_PROGRESS: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED}),
        S.SUCCEEDED: frozenset(),
        S.FAILED: frozenset(),
        S.REJECTED: frozenset(),
        S.CANCELLED: frozenset(),
    },
)
ACTIVE = frozenset({S.PENDING, S.IN_PROGRESS})


class FailoverRequest(Aggregate):
    NAME = "FailoverRequest"
    CREATED_BY = ev.FailoverRequested

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.status = S.PENDING
        self.source_cluster_id = ""
        self.destination_cluster_id = ""
        self.mode = FailoverMode.CONTROLLED
        self.requested_by = ""
        self.requested_at = 0
        self.policy = FailoverPolicy()
        self.exclude_ineligible = False
        self.deployment_ids: tuple[str, ...] = ()
        self.ineligible_deployment_ids: tuple[str, ...] = ()
        self.warning_codes: tuple[str, ...] = ()
        self.rejection_codes: tuple[str, ...] = ()
        self.mission_ids: tuple[str, ...] = ()
        self.halted = False
        self.cancel_requested_by: str | None = None
        self.superseded_by: str | None = None
        self.ended_at: int | None = None
        self.failed_mission_ids: tuple[str, ...] = ()
        self.failed_reasons: tuple[str, ...] = ()

    @property
    def request_id(self) -> str:
        return self.id

    @property
    def active(self) -> bool:
        """Holds its clusters: no other request may use them as source or destination.
        A superseded request holds none: the Forced request that took it over does."""
        return self.exists and self.status in ACTIVE and self.superseded_by is None

    @property
    def terminal(self) -> bool:
        return REQUEST.is_terminal(self.status)

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_requested_by is not None

    def involves(self, cluster_id: str) -> bool:
        return cluster_id in (self.source_cluster_id, self.destination_cluster_id)

    def state_name(self) -> str:
        return self.status.value

    def _move(self, to: RequestStatus, event: ev.DomainEvent) -> None:
        REQUEST.check(self.id, self.status, to, event.event_type())
        self.status = to

    def _when(self, event: ev.DomainEvent) -> None:
        match event:
            case ev.FailoverRequested():
                self._take_request(event)
            case ev.FailoverRejected():
                self._move(S.REJECTED, event)
                self.rejection_codes = tuple(event.reason_codes)
                self.ended_at = event.rejected_at
            case ev.FailoverStarted():
                self._move(S.IN_PROGRESS, event)
                self.mission_ids = tuple(event.mission_ids)
            case ev.FailoverScopeExtended():
                if self.status is not S.IN_PROGRESS:
                    raise self._illegal(event)
                self.deployment_ids += tuple(event.deployment_ids)
                self.mission_ids += tuple(event.mission_ids)
            case ev.MissionsHalted():
                if self.status is not S.IN_PROGRESS or self.halted:
                    raise self._illegal(event)
                self.halted = True
            case ev.FailoverCancelRequested():
                if self.status is not S.IN_PROGRESS or self.cancel_requested:
                    raise self._illegal(event)
                self.cancel_requested_by = event.requested_by
            case ev.FailoverSuperseded():
                if self.status is not S.IN_PROGRESS or self.superseded_by is not None:
                    raise self._illegal(event)
                self.superseded_by = event.superseded_by_request_id
                # A cancel that takes running missions too: the saga cancels them all.
                if self.cancel_requested_by is None:
                    self.cancel_requested_by = event.requested_by
            case ev.FailoverCancelled():
                self._move(S.CANCELLED, event)
                self.cancel_requested_by = event.cancelled_by
                self.ended_at = event.cancelled_at
                self.failed_mission_ids = tuple(event.failed_mission_ids)
            case ev.FailoverSucceeded():
                self._move(S.SUCCEEDED, event)
                self.ended_at = event.succeeded_at
            case ev.FailoverFailed():
                self._move(S.FAILED, event)
                self.ended_at = event.failed_at
                self.failed_mission_ids = tuple(event.failed_mission_ids)
                self.failed_reasons = tuple(event.failed_reasons)
            case _:
                raise self._illegal(event)

    def _take_request(self, event: ev.FailoverRequested) -> None:
        mode = FailoverMode(event.mode)
        policy = FailoverPolicy(
            drain_timeout_seconds=event.drain_timeout_seconds,
            retry=RetryPolicy(
                max_attempts=event.max_attempts,
                backoff_base_seconds=event.backoff_base_seconds,
                backoff_max_seconds=event.backoff_max_seconds,
            ),
            blast_radius=BlastRadius(
                max_concurrent_missions=event.max_concurrent_missions,
                halt_failure_ratio=event.halt_failure_ratio,
            ),
        )
        self.source_cluster_id = event.source_cluster_id
        self.destination_cluster_id = event.destination_cluster_id
        self.mode = mode
        self.policy = policy
        self.requested_by = event.requested_by
        self.requested_at = event.requested_at
        self.exclude_ineligible = event.exclude_ineligible
        self.deployment_ids = tuple(event.deployment_ids)
        self.ineligible_deployment_ids = tuple(dict.fromkeys(event.ineligible_deployment_ids))
        self.warning_codes = tuple(event.warning_codes)
