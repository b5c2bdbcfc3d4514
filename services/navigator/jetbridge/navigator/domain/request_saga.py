"""A running request as pure decisions: blast radius, cancellation, the end.

Missions start in the request's order (highest Deployment priority first) while fewer
than ``max_concurrent_missions`` run. Once the failed share of all missions reaches
``halt_failure_ratio`` the request halts: missions not yet started are cancelled,
started ones finish. The request ends when every mission is terminal: SUCCEEDED if all
succeeded, otherwise FAILED naming each failed mission and its reason (or CANCELLED
when the operator asked). A pending source cleanup does not hold it back.
"""

from __future__ import annotations

from collections.abc import Mapping

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.failover_request import FailoverRequest
from jetbridge.navigator.domain.mission import Mission
from jetbridge.navigator.domain.vocabulary import CleanupStatus, MissionStatus, RequestStatus

HALTED = "HALTED"
CANCELLED_BY_OPERATOR = "CANCELLED_BY_OPERATOR"


def advance_request(
    request: FailoverRequest, missions: Mapping[str, Mission], now: int
) -> list[ev.DomainEvent]:
    """Every request-level event that follows now (works on copies)."""
    r = request.clone()
    ms = {mid: missions[mid].clone() for mid in r.mission_ids if mid in missions}
    out: list[ev.DomainEvent] = []
    while (event := _next(r, ms, now)) is not None:
        if isinstance(event, ev.RequestEvent):
            r.apply(event)
        else:
            ms[event.aggregate_id].apply(event)
        out.append(event)
    return out


def _next(r: FailoverRequest, ms: dict[str, Mission], now: int) -> ev.DomainEvent | None:
    if r.status is not RequestStatus.IN_PROGRESS:
        return None
    ordered = [ms[mid] for mid in r.mission_ids if mid in ms]
    waiting = [m for m in ordered if m.status is MissionStatus.CREATED]
    failed = [m for m in ordered if m.status is MissionStatus.FAILED]
    radius = r.policy.blast_radius
    if not r.halted and waiting and radius.should_halt(len(failed), len(ordered)):
        return ev.MissionsHalted(
            request_id=r.id,
            halted_at=now,
            failed_count=len(failed),
            mission_count=len(ordered),
            halt_failure_ratio=radius.halt_failure_ratio,
        )
    if waiting and (r.halted or r.cancel_requested):
        code = CANCELLED_BY_OPERATOR if r.cancel_requested else HALTED
        why = (
            f"cancelled by {r.cancel_requested_by}"
            if r.cancel_requested
            else f"request halted after {len(failed)} of {len(ordered)} missions failed"
        )
        return ev.MissionCancelled(
            mission_id=waiting[0].id, reason_code=code, reason=why, cancelled_at=now
        )
    if waiting:
        running = sum(1 for m in ordered if m.status is MissionStatus.RUNNING)
        slots = radius.free_slots(running)
        if slots is None or slots > 0:
            return ev.MissionStarted(mission_id=waiting[0].id, started_at=now)
        return None
    if any(not m.terminal for m in ordered) or len(ordered) < len(r.mission_ids):
        return None
    return _end(r, ordered, now)


def _end(r: FailoverRequest, ordered: list[Mission], now: int) -> ev.DomainEvent:
    def ids(status: MissionStatus) -> list[str]:
        return [m.id for m in ordered if m.status is status]

    succeeded = ids(MissionStatus.SUCCEEDED)
    if r.cancel_requested:
        return ev.FailoverCancelled(
            request_id=r.id,
            cancelled_by=r.cancel_requested_by or "",
            cancelled_at=now,
            succeeded_mission_ids=succeeded,
            failed_mission_ids=ids(MissionStatus.FAILED),
            cancelled_mission_ids=ids(MissionStatus.CANCELLED),
        )
    if len(succeeded) == len(ordered):
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
    )
