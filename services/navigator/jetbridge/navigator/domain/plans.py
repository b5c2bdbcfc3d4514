"""Flight plans: the ordered steps of each flight, per failover mode.

A step may also wait for a step of the *other* flight of its mission (``after``):
that is how the saga orders the two clusters without a central script. Navigator
clears, for each flight, the longest run of next steps whose cross-flight
prerequisites have succeeded; Pilot runs cleared steps in order.

Controlled: the destination prepares (namespace, secrets) first, and only then does
the source stop scheduling and drain, so a destination that cannot take the Deployment
(a secret store out of reach, say) fails the mission while the source still runs it;
the database is fenced only after the drain; the source deletes only after the
destination is Ready. Forced: fence first, then bring the destination up; the source
deletion is cleanup (not needed for the mission to succeed) and waits for the source
to be reachable.
"""

from __future__ import annotations

from dataclasses import dataclass

from jetbridge.navigator.domain.vocabulary import FailoverMode, FlightKind, StepName

SRC, DST = FlightKind.SOURCE, FlightKind.DESTINATION
DRAIN_GRACE_SECONDS = 120


@dataclass(frozen=True)
class StepSpec:
    name: StepName
    after: tuple[tuple[FlightKind, StepName], ...] = ()
    cleanup: bool = False  # not needed for the mission to succeed
    needs_reachable_cluster: bool = False  # cleared only while DP-Link reaches it


PLANS: dict[tuple[FailoverMode, FlightKind], tuple[StepSpec, ...]] = {
    (FailoverMode.CONTROLLED, DST): (
        StepSpec(StepName.CREATE_NAMESPACE),
        StepSpec(StepName.APPLY_EXTERNAL_SECRETS),
        StepSpec(StepName.FENCE_DATABASE, after=((SRC, StepName.DRAIN_TASKS),)),
        StepSpec(StepName.UPSERT_DEPLOYMENT),
        StepSpec(StepName.WAIT_READY),
    ),
    (FailoverMode.CONTROLLED, SRC): (
        StepSpec(StepName.STOP_SCHEDULING, after=((DST, StepName.APPLY_EXTERNAL_SECRETS),)),
        StepSpec(StepName.DRAIN_TASKS),
        StepSpec(StepName.DELETE_DEPLOYMENT, after=((DST, StepName.WAIT_READY),)),
    ),
    (FailoverMode.FORCED, DST): (
        StepSpec(StepName.FENCE_DATABASE),
        StepSpec(StepName.CREATE_NAMESPACE),
        StepSpec(StepName.APPLY_EXTERNAL_SECRETS),
        StepSpec(StepName.UPSERT_DEPLOYMENT),
        StepSpec(StepName.WAIT_READY),
    ),
    (FailoverMode.FORCED, SRC): (
        StepSpec(
            StepName.DELETE_DEPLOYMENT,
            after=((DST, StepName.WAIT_READY),),
            cleanup=True,
            needs_reachable_cluster=True,
        ),
    ),
}

# Seconds a started step may run before Navigator counts the attempt as failed.
STEP_DEADLINE_SECONDS: dict[StepName, int] = {
    StepName.CREATE_NAMESPACE: 60,
    StepName.APPLY_EXTERNAL_SECRETS: 300,
    StepName.FENCE_DATABASE: 120,
    StepName.UPSERT_DEPLOYMENT: 300,
    StepName.WAIT_READY: 900,
    StepName.STOP_SCHEDULING: 120,
    StepName.DELETE_DEPLOYMENT: 300,
}


def plan(mode: FailoverMode, kind: FlightKind) -> tuple[StepSpec, ...]:
    return PLANS[(mode, kind)]


def spec(mode: FailoverMode, kind: FlightKind, step: StepName) -> StepSpec:
    for candidate in PLANS[(mode, kind)]:
        if candidate.name is step:
            return candidate
    raise KeyError(f"{step} is not in the {mode}/{kind} plan")


def deadline_seconds(step: StepName, drain_timeout_seconds: int) -> int:
    """The drain waits up to its timeout by design, so it gets the timeout plus grace."""
    if step is StepName.DRAIN_TASKS:
        return drain_timeout_seconds + DRAIN_GRACE_SECONDS
    return STEP_DEADLINE_SECONDS[step]


def mission_id(request_id: str, deployment_id: str) -> str:
    """Deterministic ids: replaying a decision yields the same ids, never duplicates."""
    return f"{request_id}/{deployment_id}"


def flight_id(mission: str, kind: FlightKind) -> str:
    return f"{mission}/{kind.value.lower()}"
