"""The saga of one Mission as pure decisions: given the state, what happens next.

:func:`advance_mission` looks at a mission, its two flights and its Deployment, and
returns the events that follow now (clear the next steps, retry, time out, fence,
succeed, fail, clean up). It derives everything from *state*, never from "the event
that just arrived", so deciding again on the same state yields nothing new: a Navigator
restarted from the log never repeats a decision. It works on copies, one event at a
time, until nothing more follows; the events it returns replay to the state it saw.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain import plans
from jetbridge.navigator.domain.activity import DataPlaneActivity
from jetbridge.navigator.domain.deployment import Deployment
from jetbridge.navigator.domain.errors import DomainError
from jetbridge.navigator.domain.flight import Flight, Step
from jetbridge.navigator.domain.lost_cluster import CLUSTER_LOST
from jetbridge.navigator.domain.mission import SUPERSEDED, Mission
from jetbridge.navigator.domain.policy import MS, RetryPolicy
from jetbridge.navigator.domain.vocabulary import (
    CleanupStatus,
    FlightKind,
    FlightStatus,
    MissionStatus,
    StepName,
    StepStatus,
)

MAX_EVENTS_PER_DECISION = 64
FENCING_EPOCH_MISMATCH = "FENCING_EPOCH_MISMATCH"


class DecisionDidNotSettle(DomainError):
    """The saga kept producing events: a bug in the decision rules, never normal."""


@dataclass(frozen=True)
class MissionContext:
    mission: Mission
    source: Flight
    destination: Flight
    deployment: Deployment
    retry: RetryPolicy
    source_reachable: bool
    destination_reachable: bool = True
    source_lost: bool = False  # declared lost by an admin (lost_cluster)
    source_activity: DataPlaneActivity | None = None
    destination_activity: DataPlaneActivity | None = None

    def flight(self, kind: FlightKind) -> Flight:
        return self.source if kind is FlightKind.SOURCE else self.destination

    def activity(self, flight: Flight) -> DataPlaneActivity | None:
        if flight.kind is FlightKind.SOURCE:
            return self.source_activity
        return self.destination_activity

    def reachable(self, flight: Flight) -> bool:
        if flight.kind is FlightKind.SOURCE:
            return self.source_reachable
        return self.destination_reachable


def advance_mission(ctx: MissionContext, now: int) -> list[ev.DomainEvent]:
    """Every event that follows from the mission's current state at time ``now``."""
    work = replace(
        ctx,
        mission=ctx.mission.clone(),
        source=ctx.source.clone(),
        destination=ctx.destination.clone(),
        deployment=ctx.deployment.clone(),
    )
    out: list[ev.DomainEvent] = []
    for _ in range(MAX_EVENTS_PER_DECISION):
        event = _next(work, now)
        if event is None:
            return out
        for aggregate in (work.mission, work.source, work.destination, work.deployment):
            if event.AGGREGATE == aggregate.NAME and event.aggregate_id == aggregate.id:
                aggregate.apply(event)
        out.append(event)
    raise DecisionDidNotSettle(f"mission {ctx.mission.id!r} did not settle: {out[-4:]}")


def _next(w: MissionContext, now: int) -> ev.DomainEvent | None:
    m = w.mission
    if m.status is MissionStatus.CREATED:
        return None
    if m.status in (MissionStatus.FAILED, MissionStatus.CANCELLED):
        return _wind_down(w, now)
    flights = (w.destination, w.source)
    for f in flights:
        event = _failed_step(w, f, now) or _deadline(w, f, now)
        if event is not None:
            return event
    event = _fencing(w, now)
    if event is not None:
        return event
    for f in flights:
        if f.status is FlightStatus.ACTIVE and f.current() is None:
            return ev.FlightSucceeded(flight_id=f.id, succeeded_at=now)
    event = _outcome(w, now) if m.status is MissionStatus.RUNNING else _after_success(w, now)
    if event is not None:
        return event
    for f in flights:
        event = _clear(w, f, now, not_before=now)
        if event is not None:
            return event
    return None


def _is_cleanup(f: Flight, step: StepName) -> bool:
    return plans.spec(f.mode, f.kind, step).cleanup


def _clearable(w: MissionContext, f: Flight) -> list[str]:
    """The longest run of next steps whose prerequisites hold now."""
    cur = f.current()
    if cur is None or f.terminal or f.in_flight():
        return []
    run: list[str] = []
    for s in f.steps[f.steps.index(cur) :]:
        if s.status not in (StepStatus.PLANNED, StepStatus.FAILED):
            break
        spec = plans.spec(f.mode, f.kind, s.name)
        if any(not w.flight(kind).succeeded(step) for kind, step in spec.after):
            break
        if spec.cleanup and w.mission.cleanup is not CleanupStatus.PENDING:
            break
        if spec.needs_reachable_cluster and not w.reachable(f):
            break
        run.append(s.name.value)
    return run


def _clear(w: MissionContext, f: Flight, now: int, not_before: int) -> ev.DomainEvent | None:
    run = _clearable(w, f)
    if not run:
        return None
    return ev.FlightStepsCleared(
        flight_id=f.id,
        cleared_at=now,
        not_before=not_before,
        steps=run,
        attempts=[f.step(name).attempts + 1 for name in run],
    )


def _failed_step(w: MissionContext, f: Flight, now: int) -> ev.DomainEvent | None:
    """A failed attempt: retry a transient one with backoff, else fail the flight."""
    cur = f.current()
    if f.status is not FlightStatus.ACTIVE or cur is None or cur.status is not StepStatus.FAILED:
        return None
    if cur.transient and w.retry.may_retry(cur.failures):
        return _clear(w, f, now, not_before=now + w.retry.delay_ms(cur.failures))
    why = "a permanent error" if not cur.transient else f"{cur.failures} attempt(s)"
    return ev.FlightFailed(
        flight_id=f.id,
        step=cur.name.value,
        reason_code=cur.error_code or "STEP_FAILED",
        reason=f"{cur.name.value} on {f.cluster_id} failed after {why}: {cur.error}",
        failed_at=now,
    )


def deadline_at(
    f: Flight, cur: Step, retry: RetryPolicy, activity: DataPlaneActivity | None = None
) -> int | None:
    """When the current step's attempt times out (None: no clock runs for it). A cleared
    step the data plane has accepted waits in its queue: its claim clock also runs from
    the cluster's last sign of work (see :mod:`activity`), so a long queue is not a loss."""
    if cur.status is StepStatus.RUNNING and cur.started_at is not None:
        return cur.started_at + cur.deadline_seconds * MS
    if cur.status is StepStatus.CLEARED:
        since = max(cur.not_before, f.last_progress_at)
        if f.dispatched_at is not None and activity is not None:
            since = max(since, activity.quiet_since())
        return since + retry.claim_timeout_seconds * MS
    return None


def _deadline(w: MissionContext, f: Flight, now: int) -> ev.DomainEvent | None:
    cur = f.current()
    if f.status is not FlightStatus.ACTIVE or cur is None:
        return None
    deadline = deadline_at(f, cur, w.retry, w.activity(f))
    if deadline is None or now < deadline:
        return None
    return ev.FlightStepDeadlineExceeded(
        flight_id=f.id,
        step=cur.name.value,
        attempt=cur.attempts,
        deadline_at=deadline,
        detected_at=now,
    )


def _fencing(w: MissionContext, now: int) -> ev.DomainEvent | None:
    """Record the new writer on the Deployment; refuse a fence with a foreign epoch."""
    m, dst, dep = w.mission, w.destination, w.deployment
    if not dst.succeeded(StepName.FENCE_DATABASE):
        return None
    if dst.fenced_epoch != m.fencing_epoch:
        if dst.status is not FlightStatus.ACTIVE:
            return None
        return ev.FlightFailed(
            flight_id=dst.id,
            step=StepName.FENCE_DATABASE.value,
            reason_code=FENCING_EPOCH_MISMATCH,
            reason=f"fenced with epoch {dst.fenced_epoch}, mission carries {m.fencing_epoch}",
            failed_at=now,
        )
    if dep.active and dep.fencing_epoch < m.fencing_epoch:
        return ev.DeploymentFenced(
            deployment_id=dep.id,
            mission_id=m.id,
            epoch=m.fencing_epoch,
            writer_cluster_id=m.destination_cluster_id,
            fenced_at=now,
        )
    return None


def _outcome(w: MissionContext, now: int) -> ev.DomainEvent | None:
    """A RUNNING mission ends when a needed flight failed or every needed step succeeded."""
    m = w.mission
    for f in (w.destination, w.source):
        if f.status is FlightStatus.FAILED and f.failure is not None:
            step, code, reason = f.failure
            if _is_cleanup(f, StepName(step)):
                continue
            source_delete = f.kind is FlightKind.SOURCE and step == StepName.DELETE_DEPLOYMENT
            if source_delete and _runs_on_destination(w):
                # Controlled: the source's delete failed after the destination came up
                # Ready, fenced. The Deployment runs there now; recorded on the source
                # it would be planned from the wrong cluster by the next failover.
                return _relocated(w, now)
            fenced = w.deployment.fencing_epoch >= m.fencing_epoch
            return ev.MissionFailed(
                mission_id=m.id,
                reason_code=code,
                reason=reason + ("" if fenced else _fence_ran(w)),
                flight_kind=f.kind.value,
                step=step,
                fenced=fenced,
                failed_at=now,
            )
    needed = [s for f in (w.destination, w.source) for s in f.steps if not _is_cleanup(f, s.name)]
    if all(s.status is StepStatus.SUCCEEDED for s in needed):
        if _recorded_on_source(w):
            # Before MissionSucceeded, never after: a later failback moves it back, and a
            # finished mission must not move it again.
            return _relocated(w, now)
        return ev.MissionSucceeded(
            mission_id=m.id,
            succeeded_at=now,
            tasks_still_running_after_drain=w.source.tasks_still_running_after_drain,
        )
    return None


def _fence_ran(w: MissionContext) -> str:
    """What ``fenced=False`` does not say: a fence that ran and failed may have revoked
    the old side before it could grant the new one (database-fencing.md, step 1 of 3)."""
    attempts = w.destination.fence_attempts()
    if attempts == 0:
        return ""
    return (
        f" The fence for epoch {w.mission.fencing_epoch} ran ({attempts} attempt(s))"
        " and may have revoked the source's database credentials before it failed, so"
        " neither side may be able to connect: a new failover of it fences again, with the"
        f" next epoch ({w.mission.fencing_epoch + 1}: this one may have been used), and"
        " finishes what this one began."
    )


def _recorded_on_source(w: MissionContext) -> bool:
    dep = w.deployment
    return dep.active and dep.cluster_id == w.mission.source_cluster_id


def _runs_on_destination(w: MissionContext) -> bool:
    """Every destination step succeeded and the databases are fenced to it, while the
    Deployment is still recorded on the source."""
    return (
        w.destination.status is FlightStatus.SUCCEEDED
        and w.deployment.fencing_epoch >= w.mission.fencing_epoch
        and _recorded_on_source(w)
    )


def _relocated(w: MissionContext, now: int) -> ev.DeploymentRelocated:
    m = w.mission
    return ev.DeploymentRelocated(
        deployment_id=w.deployment.id,
        mission_id=m.id,
        from_cluster_id=m.source_cluster_id,
        to_cluster_id=m.destination_cluster_id,
        relocated_at=now,
    )


def _after_success(w: MissionContext, now: int) -> ev.DomainEvent | None:
    """Track (and finish) the source cleanup of a succeeded mission, if it has one."""
    m, src = w.mission, w.source
    has_cleanup = any(_is_cleanup(src, s.name) for s in src.steps)
    if m.cleanup is CleanupStatus.NOT_NEEDED and has_cleanup:
        return ev.SourceCleanupPending(
            mission_id=m.id,
            deployment_id=m.deployment_id,
            source_cluster_id=m.source_cluster_id,
            pending_at=now,
        )
    if m.cleanup is CleanupStatus.PENDING:
        if src.status is FlightStatus.SUCCEEDED:
            return ev.SourceCleanupCompleted(mission_id=m.id, completed_at=now)
        if src.status in (FlightStatus.FAILED, FlightStatus.CANCELLED):
            cancelled = ("", "CLEANUP_CANCELLED", src.cancel_reason or "cleanup cancelled")
            if w.source_lost:
                cancelled = ("", CLUSTER_LOST, src.cancel_reason)
            _, code, reason = src.failure or cancelled
            return ev.SourceCleanupFailed(
                mission_id=m.id, reason_code=code, reason=reason, failed_at=now
            )
    return None


def _wind_down(w: MissionContext, now: int) -> ev.DomainEvent | None:
    """A failed or cancelled mission: let running steps end, cancel everything else.

    Except a step of a SUPERSEDED mission on a cluster out of reach: its end would only
    come at its deadline (a drain's: the drain timeout plus 120 s), keeping the cluster
    busy (``eligibility.winding_down``) for that long. Nothing waits on it: the Forced
    mission's fence refuses what it would write, and its clean-up deletes what it
    leaves, so the flight is cancelled at once, naming the step (``abandoned_step``)."""
    for f in (w.destination, w.source):
        if f.terminal:
            continue
        cur = f.current()
        if _abandoned(w, f):
            return ev.FlightCancelled(
                flight_id=f.id,
                reason=f"mission {w.mission.status.value} ({w.mission.reason_code}); "
                f"{f.cluster_id} is out of reach",
                cancelled_at=now,
                abandoned_step=cur.name.value if cur is not None else "",
            )
        if cur is not None and cur.status is StepStatus.RUNNING:
            event = _deadline(w, f, now)
            if event is not None:
                return event
            continue
        return ev.FlightCancelled(
            flight_id=f.id, reason=f"mission {w.mission.status.value}", cancelled_at=now
        )
    return None


def _abandoned(w: MissionContext, f: Flight) -> bool:
    """A running step of a SUPERSEDED mission's flight whose cluster is out of reach."""
    cur = f.current()
    return (
        w.mission.reason_code == SUPERSEDED
        and cur is not None
        and cur.status is StepStatus.RUNNING
        and not w.reachable(f)
    )
