"""The Flight aggregate: one cluster's half of a mission, as an ordered step plan.

Two machines: the flight (PLANNED -> ACTIVE -> SUCCEEDED | FAILED, or CANCELLED) and
each step (PLANNED -> CLEARED -> RUNNING -> SUCCEEDED; a failed attempt is FAILED
until Navigator clears a retry). Navigator's own events are checked strictly: a wrong
one is a bug and raises. Data-plane outcomes are facts: one that no longer matches
(an older attempt, a cancelled flight) is recorded in ``ignored_outcomes`` and changes
nothing else, so late or duplicated reports can never corrupt the state.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.aggregate import Aggregate
from jetbridge.navigator.domain.errors import UnknownStep
from jetbridge.navigator.domain.statemachine import TransitionTable
from jetbridge.navigator.domain.vocabulary import (
    FailoverMode,
    FlightKind,
    FlightStatus,
    StepName,
    StepStatus,
)

F, T = FlightStatus, StepStatus
FLIGHT = TransitionTable[FlightStatus](
    "Flight",
    {
        F.PLANNED: frozenset({F.ACTIVE, F.CANCELLED}),
        F.ACTIVE: frozenset({F.SUCCEEDED, F.FAILED, F.CANCELLED}),
        F.SUCCEEDED: frozenset(),
        F.FAILED: frozenset(),
        F.CANCELLED: frozenset(),
    },
)
STEP = TransitionTable[StepStatus](
    "FlightStep",
    {
        T.PLANNED: frozenset({T.CLEARED}),
        T.CLEARED: frozenset({T.RUNNING, T.FAILED, T.PLANNED}),
        T.RUNNING: frozenset({T.SUCCEEDED, T.FAILED}),
        T.FAILED: frozenset({T.CLEARED}),
        T.SUCCEEDED: frozenset(),
    },
)
ABANDONED = "ABANDONED"  # left running on a cluster out of reach (FlightCancelled v2)
DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"


@dataclass
class Step:
    name: StepName
    deadline_seconds: int
    status: StepStatus = StepStatus.PLANNED
    attempts: int = 0  # clearances so far; outcomes name the attempt they belong to
    # Attempts of this step that failed: what the retry budget counts. Not ``attempts``:
    # the steps cleared together with an earlier one are cleared again with each of its
    # retries, so a step that never ran could have spent the whole budget.
    failures: int = 0
    not_before: int = 0
    started_at: int | None = None
    ended_at: int | None = None
    error_code: str = ""
    error: str = ""
    transient: bool = False


class Flight(Aggregate):
    NAME = "Flight"
    CREATED_BY = ev.FlightPlanned

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.status = FlightStatus.PLANNED
        self.mission_id = ""
        self.request_id = ""
        self.deployment_id = ""
        self.kind = FlightKind.SOURCE
        self.cluster_id = ""
        self.mode = FailoverMode.CONTROLLED
        self.fencing_epoch = 0
        self.drain_timeout_seconds = 0
        self.image = ""
        self.steps: list[Step] = []
        self.last_progress_at = 0
        self.dispatched_at: int | None = None
        self.fenced_epoch: int | None = None
        self.tasks_still_running_after_drain: int | None = None
        self.failure: tuple[str, str, str] | None = None  # step, code, reason
        self.cancel_reason = ""
        self.ignored_outcomes = 0

    @property
    def flight_id(self) -> str:
        return self.id

    @property
    def terminal(self) -> bool:
        return FLIGHT.is_terminal(self.status)

    def state_name(self) -> str:
        return self.status.value

    def _copy_container(self, value: object) -> object:
        if value is self.steps:  # Steps hold only immutable values: copy each one
            return [copy.copy(s) for s in self.steps]
        return super()._copy_container(value)

    def step(self, name: StepName | str) -> Step:
        for candidate in self.steps:
            if candidate.name == name:
                return candidate
        raise UnknownStep(self.id, str(name))

    def has_step(self, name: StepName) -> bool:
        return any(s.name is name for s in self.steps)

    def fence_attempts(self) -> int:
        """How often this flight's fence was cleared to run (0: it has none, or it never
        ran). A fence that ran, even one that failed or whose outcome is not in yet,
        may have revoked the old side's credentials (database-fencing.md)."""
        return sum(s.attempts for s in self.steps if s.name is StepName.FENCE_DATABASE)

    def succeeded(self, name: StepName) -> bool:
        return self.has_step(name) and self.step(name).status is StepStatus.SUCCEEDED

    def current(self) -> Step | None:
        """The first step not yet succeeded: the only one that can be acted on."""
        return next((s for s in self.steps if s.status is not StepStatus.SUCCEEDED), None)

    def in_flight(self) -> bool:
        """Some step is cleared or running: wait for the data plane before clearing more."""
        return any(s.status in (StepStatus.CLEARED, StepStatus.RUNNING) for s in self.steps)

    def _when(self, event: ev.DomainEvent) -> None:
        if isinstance(event, ev.FlightOutcome):
            if not self._outcome(event):
                self.ignored_outcomes += 1
            return
        match event:
            case ev.FlightPlanned():
                self._take_plan(event)
            case ev.FlightStepsCleared():
                self._clear(event)
            case ev.FlightStepDeadlineExceeded():
                cur = self.current()
                if (
                    self.status is not F.ACTIVE
                    or cur is None
                    or cur.name != event.step
                    or cur.attempts != event.attempt
                    or cur.status not in (T.CLEARED, T.RUNNING)
                ):
                    raise self._illegal(event)
                self._fail(cur, DEADLINE_EXCEEDED, "no outcome before the deadline", True)
                self.last_progress_at = max(self.last_progress_at, event.detected_at)
            case ev.FlightSucceeded():
                if any(s.status is not T.SUCCEEDED for s in self.steps):
                    raise self._illegal(event)
                self._move(F.SUCCEEDED, event)
            case ev.FlightFailed():
                self._move(F.FAILED, event)
                self.failure = (event.step, event.reason_code, event.reason)
            case ev.FlightCancelled():
                for s in self.steps:
                    if s.status is not T.RUNNING:
                        continue
                    if s.name != event.abandoned_step:
                        raise self._illegal(event)
                    self._fail(s, ABANDONED, f"abandoned: {event.reason}", False)
                self._move(F.CANCELLED, event)
                self.cancel_reason = event.reason
            case _:
                raise self._illegal(event)

    def _move(self, to: FlightStatus, event: ev.DomainEvent) -> None:
        FLIGHT.check(self.id, self.status, to, event.event_type())
        self.status = to

    def _take_plan(self, event: ev.FlightPlanned) -> None:
        names = [StepName(s) for s in event.steps]
        if len(names) != len(event.step_deadline_seconds) or not names:
            raise self._illegal(event)
        self.mission_id = event.mission_id
        self.request_id = event.request_id
        self.deployment_id = event.deployment_id
        self.kind = FlightKind(event.kind)
        self.cluster_id = event.cluster_id
        self.mode = FailoverMode(event.mode)
        self.fencing_epoch = event.fencing_epoch
        self.drain_timeout_seconds = event.drain_timeout_seconds
        self.image = event.image
        self.steps = [Step(n, d) for n, d in zip(names, event.step_deadline_seconds, strict=True)]
        self.last_progress_at = event.planned_at

    def _clear(self, event: ev.FlightStepsCleared) -> None:
        """Only the next contiguous steps, and only when nothing is in flight."""
        first = self.current()
        if first is None or not event.steps or self.in_flight() or self.terminal:
            raise self._illegal(event)
        start = self.steps.index(first)
        chosen = self.steps[start : start + len(event.steps)]
        if [s.name.value for s in chosen] != list(event.steps):
            raise self._illegal(event)
        numbers = event.attempts or [s.attempts + 1 for s in chosen]  # v1: one more
        if len(numbers) != len(chosen) or any(
            n <= s.attempts for n, s in zip(numbers, chosen, strict=False)
        ):
            raise self._illegal(event)
        for s in chosen:
            STEP.check(self.id, s.status, T.CLEARED, f"{event.event_type()}[{s.name}]")
        if self.status is F.PLANNED:
            self._move(F.ACTIVE, event)
        for s, number in zip(chosen, numbers, strict=True):
            s.status = T.CLEARED
            s.attempts = number
            s.not_before = event.not_before
            s.started_at = None
        self.dispatched_at = None
        self.last_progress_at = max(self.last_progress_at, event.cleared_at)

    def _fail(self, step: Step, code: str, error: str, transient: bool) -> None:
        step.status = T.FAILED
        step.failures += 1
        step.error_code, step.error, step.transient = code, error, transient
        for later in self.steps[self.steps.index(step) + 1 :]:
            if later.status is T.CLEARED:  # the data plane stops at the first failure
                later.status = T.PLANNED

    def _running(self, name: str, attempt: int, started_at: int | None = None) -> Step | None:
        """The step this outcome ends, if it is running this attempt. An outcome that
        carries ``started_at`` (v2) also says the attempt started: it first folds as the
        FlightStepStarted the Pilot did not publish on its own."""
        if started_at is not None:
            self._start(name, attempt, started_at)
        if self.status is not F.ACTIVE or not self.has_step(StepName(name)):
            return None
        s = self.step(name)
        return s if s.status is T.RUNNING and s.attempts == attempt else None

    def _start(self, name: str, attempt: int, started_at: int) -> bool:
        cur = self.current()
        if self.status is not F.ACTIVE or cur is None or cur.name != name:
            return False
        if cur.status is not T.CLEARED or cur.attempts != attempt:
            return False
        cur.status, cur.started_at = T.RUNNING, started_at
        self.last_progress_at = max(self.last_progress_at, started_at)
        return True

    def _outcome(self, event: ev.FlightOutcome) -> bool:
        """Fold a data-plane fact; False when it is stale and changes nothing."""
        match event:
            case ev.FlightDispatched() | ev.FlightDispatchFailed():
                cur = self.current()
                if self.status is not F.ACTIVE or cur is None or cur.status is not T.CLEARED:
                    return False
                if not event.steps or event.steps[0] != cur.name:
                    return False
                if event.step_attempts and event.step_attempts[0] != cur.attempts:
                    return False  # the delivery of an earlier attempt's clearance, late
                if isinstance(event, ev.FlightDispatched):
                    self.dispatched_at = event.dispatched_at
                else:
                    self._fail(cur, event.error_code, event.error, event.transient)
                    self.last_progress_at = max(self.last_progress_at, event.failed_at)
                return True
            case ev.FlightStepStarted():
                return self._start(event.step, event.attempt, event.started_at)
            case ev.FlightStepFailed():
                step = self._running(event.step, event.attempt, event.started_at)
                if step is None:
                    return False
                self._fail(step, event.error_code, event.error, event.transient)
                step.ended_at = event.failed_at
                self.last_progress_at = max(self.last_progress_at, event.failed_at)
                return True
            case ev.FlightStepSucceeded():
                if event.step in (StepName.DRAIN_TASKS, StepName.FENCE_DATABASE):
                    return False  # these end with their own, richer outcome events
                step = self._running(event.step, event.attempt, event.started_at)
                return self._succeed(step, event.succeeded_at)
            case ev.DrainCompleted():
                step = self._running(StepName.DRAIN_TASKS, event.attempt, event.started_at)
                if step is not None:
                    self.tasks_still_running_after_drain = 0
                return self._succeed(step, event.drained_at)
            case ev.DrainTimedOut():
                step = self._running(StepName.DRAIN_TASKS, event.attempt, event.started_at)
                if step is not None:
                    self.tasks_still_running_after_drain = event.tasks_still_running
                return self._succeed(step, event.timed_out_at)
            case ev.FencingCompleted():
                step = self._running(StepName.FENCE_DATABASE, event.attempt, event.started_at)
                if step is None:
                    return False
                self.fenced_epoch = event.epoch
                return self._succeed(step, event.fenced_at)
        return False

    def _succeed(self, step: Step | None, at: int) -> bool:
        if step is None:
            return False
        step.status, step.ended_at = T.SUCCEEDED, at
        self.last_progress_at = max(self.last_progress_at, at)
        return True
