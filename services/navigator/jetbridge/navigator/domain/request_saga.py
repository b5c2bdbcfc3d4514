"""A running request as pure decisions: blast radius, cancellation, the end.

Missions start in the request's order (highest Deployment priority first) while fewer
than ``max_concurrent_missions`` run. Once the failed share of all missions reaches
``halt_failure_ratio`` the request halts: missions not yet started are cancelled,
started ones finish. The request ends when every mission is terminal: SUCCEEDED if all
succeeded and none was excluded as ineligible, otherwise FAILED naming each failed
mission and its reason and each excluded Deployment (or CANCELLED
when the operator's cancel did cancel a mission; one that came too late to cancel any
leaves the request to end as its missions did). A pending source cleanup does not hold it back.
A superseded request (:mod:`superseding`) cancels every mission not ended, started
ones too, and ends CANCELLED.
"""

from __future__ import annotations

from collections.abc import Mapping

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.failover_request import FailoverRequest
from jetbridge.navigator.domain.flight import Flight
from jetbridge.navigator.domain.mission import SUPERSEDED, Mission
from jetbridge.navigator.domain.vocabulary import (
    CleanupStatus,
    MissionStatus,
    RequestStatus,
)

HALTED = "HALTED"
CANCELLED_BY_OPERATOR = "CANCELLED_BY_OPERATOR"


def advance_request(
    request: FailoverRequest,
    missions: Mapping[str, Mission],
    now: int,
    flights: Mapping[str, Flight] | None = None,
) -> list[ev.DomainEvent]:
    """Every request-level event that follows now (works on copies).

    A mission is copied only when a decision changes it (copy on write): a request of
    1,000 missions asked after one of them moved copies none, not 1,000. ``flights``
    say whether a superseded mission's fence may have run (read only then).
    """
    r = request.clone()
    ms = {mid: missions[mid] for mid in r.mission_ids if mid in missions}
    copied: set[str] = set()
    out: list[ev.DomainEvent] = []
    while events := _next(r, ms, now, flights or {}):
        for event in events:
            if isinstance(event, ev.RequestEvent):
                r.apply(event)
            else:
                mid = event.aggregate_id
                if mid not in copied:
                    ms[mid] = ms[mid].clone()
                    copied.add(mid)
                ms[mid].apply(event)
            out.append(event)
    return out


def _next(
    r: FailoverRequest, ms: dict[str, Mission], now: int, flights: Mapping[str, Flight]
) -> list[ev.DomainEvent]:
    """The next decisions, in order: one, or a run of the same kind (starting or
    cancelling every waiting mission that may go), which one at a time would rescan
    all missions per decision."""
    if r.status is not RequestStatus.IN_PROGRESS:
        return []
    ordered = [ms[mid] for mid in r.mission_ids if mid in ms]
    if r.superseded_by is not None and (live := [m for m in ordered if not m.terminal]):
        why = f"superseded by Forced failover {r.superseded_by}, which moves the Deployment"
        return [
            ev.MissionCancelled(
                mission_id=m.id,
                reason_code=SUPERSEDED,
                reason=why,
                cancelled_at=now,
                fence_may_have_run=_fence_cleared(m, flights),
            )
            for m in live
        ]
    waiting = [m for m in ordered if m.status is MissionStatus.CREATED]
    failed = [m for m in ordered if m.status is MissionStatus.FAILED]
    radius = r.policy.blast_radius
    if not r.halted and waiting and radius.should_halt(len(failed), len(ordered)):
        halted = ev.MissionsHalted(
            request_id=r.id,
            halted_at=now,
            failed_count=len(failed),
            mission_count=len(ordered),
            halt_failure_ratio=radius.halt_failure_ratio,
        )
        return [halted]
    if waiting and (r.halted or r.cancel_requested):
        code = CANCELLED_BY_OPERATOR if r.cancel_requested else HALTED
        why = (
            f"cancelled by {r.cancel_requested_by}"
            if r.cancel_requested
            else f"request halted after {len(failed)} of {len(ordered)} missions failed"
        )
        return [
            ev.MissionCancelled(mission_id=m.id, reason_code=code, reason=why, cancelled_at=now)
            for m in waiting
        ]
    if waiting:
        running = sum(1 for m in ordered if m.status is MissionStatus.RUNNING)
        slots = radius.free_slots(running)
        starting = waiting if slots is None else waiting[: max(0, slots)]
        return [ev.MissionStarted(mission_id=m.id, started_at=now) for m in starting]
    if any(not m.terminal for m in ordered) or len(ordered) < len(r.mission_ids):
        return []
    return [_end(r, ordered, now)]


def _fence_cleared(m: Mission, flights: Mapping[str, Flight]) -> bool:
    """The mission's fence was cleared at least once: it may have run, even if no
    outcome says so yet (one may be in the same batch as the superseding command), so
    its destination's side may connect and a copy may run there."""
    f = flights.get(m.destination_flight_id)
    return f is not None and f.fence_attempts() > 0


def _end(r: FailoverRequest, ordered: list[Mission], now: int) -> ev.DomainEvent:
    def ids(status: MissionStatus) -> list[str]:
        return [m.id for m in ordered if m.status is status]

    succeeded = ids(MissionStatus.SUCCEEDED)
    # A cancel that came when every mission had started cancelled nothing: the request
    # ends as its missions did (the ask stays on the log, FailoverCancelRequested). Only
    # missions the cancel (or a superseding request) cancelled count: ones halted after
    # failures, or a late Deployment's cancelled as ineligible, end the request FAILED
    # with its reasons, as they would have without the cancel.
    if r.cancel_requested and any(
        m.status is MissionStatus.CANCELLED and m.reason_code in (CANCELLED_BY_OPERATOR, SUPERSEDED)
        for m in ordered
    ):
        return ev.FailoverCancelled(
            request_id=r.id,
            cancelled_by=r.cancel_requested_by or "",
            cancelled_at=now,
            succeeded_mission_ids=succeeded,
            failed_mission_ids=ids(MissionStatus.FAILED),
            cancelled_mission_ids=ids(MissionStatus.CANCELLED),
        )
    # Excluded as ineligible (the operator's exclude_ineligible), a Deployment stayed on
    # the source: the spec's failover is a full-cluster operation, so SUCCEEDED would
    # read as the cluster evacuated while it still holds Deployments.
    excluded = list(r.ineligible_deployment_ids)
    if len(succeeded) == len(ordered) and not excluded:
        return ev.FailoverSucceeded(
            request_id=r.id,
            succeeded_at=now,
            mission_ids=succeeded,
            cleanup_pending_mission_ids=[
                m.id for m in ordered if m.cleanup is CleanupStatus.PENDING
            ],
        )
    failed = [m for m in ordered if m.status is MissionStatus.FAILED]
    return ev.FailoverFailed(
        request_id=r.id,
        failed_at=now,
        succeeded_mission_ids=succeeded,
        failed_mission_ids=[m.id for m in failed],
        failed_reason_codes=[m.reason_code for m in failed],
        failed_reasons=[m.reason for m in failed],
        cancelled_mission_ids=ids(MissionStatus.CANCELLED),
        excluded_deployment_ids=excluded,
    )
