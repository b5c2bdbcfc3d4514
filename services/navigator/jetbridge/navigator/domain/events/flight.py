"""Events of the Flight aggregate (key ``flight_id``).

Navigator decides (plan, clearances, deadlines, end); the data plane reports outcomes.
Outcomes carry the ``attempt`` they belong to: a late report of an older attempt is
recorded but changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jetbridge.navigator.domain.events.base import FlightEvent, FlightOutcome


@dataclass(frozen=True, kw_only=True)
class FlightPlanned(FlightEvent):
    mission_id: str
    request_id: str
    deployment_id: str
    kind: str
    cluster_id: str
    mode: str
    fencing_epoch: int
    drain_timeout_seconds: int
    image: str
    planned_at: int
    steps: list[str] = field(default_factory=list)
    step_deadline_seconds: list[int] = field(default_factory=list)
    # v2: the Deployment's configuration when the flight was planned, for the
    # destination to apply (``domain.configuration``); empty: the data plane's defaults.
    component_names: list[str] = field(default_factory=list)
    component_replicas: list[int] = field(default_factory=list)
    component_cpu: list[str] = field(default_factory=list)
    component_memory: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class FlightStepsCleared(FlightEvent):
    """Navigator allows the data plane to run ``steps`` in order, not before ``not_before``."""

    cleared_at: int
    not_before: int
    steps: list[str] = field(default_factory=list)
    # Each step's attempt number, which its outcomes must name (v2). Empty in a v1
    # record: each step's attempt is one more than before.
    attempts: list[int] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class FlightStepDeadlineExceeded(FlightEvent):
    """No outcome arrived in time; counted as a transient failure of the attempt."""

    step: str
    attempt: int
    deadline_at: int
    detected_at: int


@dataclass(frozen=True, kw_only=True)
class FlightSucceeded(FlightEvent):
    succeeded_at: int


@dataclass(frozen=True, kw_only=True)
class FlightFailed(FlightEvent):
    step: str
    reason_code: str
    reason: str
    failed_at: int


@dataclass(frozen=True, kw_only=True)
class FlightCancelled(FlightEvent):
    """No step of the flight runs again. ``abandoned_step`` (v2): the step it left
    running on a cluster out of reach, of a SUPERSEDED mission (mission_saga's
    wind-down): recorded as failed, its late outcome ignored."""

    reason: str
    cancelled_at: int
    abandoned_step: str = ""


@dataclass(frozen=True, kw_only=True)
class FlightDispatched(FlightOutcome):
    dispatched_at: int
    steps: list[str] = field(default_factory=list)
    # v2: the attempt of each step the delivered clearance named ([]: unknown, v1)
    step_attempts: list[int] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class FlightDispatchFailed(FlightOutcome):
    error_code: str
    error: str
    transient: bool
    failed_at: int
    steps: list[str] = field(default_factory=list)
    step_attempts: list[int] = field(default_factory=list)  # v2, as FlightDispatched


@dataclass(frozen=True, kw_only=True)
class FlightStepStarted(FlightOutcome):
    step: str
    attempt: int
    started_at: int


@dataclass(frozen=True, kw_only=True)
class FlightStepSucceeded(FlightOutcome):
    step: str
    attempt: int
    succeeded_at: int
    # v2, on every step outcome: when the attempt started, if its FlightStepStarted was
    # never published on its own (a step quicker than the Pilot's report delay, so one
    # record says both). None: the start was reported before.
    started_at: int | None = None


@dataclass(frozen=True, kw_only=True)
class FlightStepFailed(FlightOutcome):
    step: str
    attempt: int
    error_code: str
    error: str
    transient: bool
    failed_at: int
    started_at: int | None = None  # v2: see FlightStepSucceeded


@dataclass(frozen=True, kw_only=True)
class DrainCompleted(FlightOutcome):
    """The DRAIN_TASKS step ended with no task left running."""

    attempt: int
    drained_at: int
    started_at: int | None = None  # v2: see FlightStepSucceeded


@dataclass(frozen=True, kw_only=True)
class DrainTimedOut(FlightOutcome):
    """The drain timeout passed; the flight proceeds, recording what still ran."""

    attempt: int
    tasks_still_running: int
    timed_out_at: int
    started_at: int | None = None  # v2: see FlightStepSucceeded


@dataclass(frozen=True, kw_only=True)
class FencingCompleted(FlightOutcome):
    """The FENCE_DATABASE step: only the destination's role may connect now."""

    mission_id: str
    deployment_id: str
    epoch: int
    active_role: str = ""
    fenced_role: str = ""
    sessions_terminated: int = 0
    attempt: int = 1
    fenced_at: int = 0
    started_at: int | None = None  # v2: see FlightStepSucceeded
