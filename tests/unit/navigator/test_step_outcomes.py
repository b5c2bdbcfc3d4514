"""A step outcome that says its own start (v2) folds exactly as the start and the outcome.

A Pilot publishes FlightStepStarted on its own only for a step still running after its
report delay; a quicker step's outcome carries ``started_at`` instead.
"""

from __future__ import annotations

import dataclasses

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.flight import Flight
from jetbridge.navigator.domain.vocabulary import StepName, StepStatus

FID = "r1/d1/destination"
PLAN = ["CREATE_NAMESPACE", "APPLY_EXTERNAL_SECRETS", "FENCE_DATABASE"]


def cleared(through: int) -> list[ev.DomainEvent]:
    return [
        ev.FlightPlanned(
            flight_id=FID,
            mission_id="m1",
            request_id="r1",
            deployment_id="d1",
            kind="DESTINATION",
            cluster_id="dp-west",
            mode="FORCED",
            fencing_epoch=3,
            drain_timeout_seconds=60,
            image="airflow:2",
            planned_at=1_000,
            steps=PLAN,
            step_deadline_seconds=[60] * len(PLAN),
        ),
        ev.FlightStepsCleared(
            flight_id=FID, cleared_at=1_001, not_before=1_001, steps=PLAN[:through]
        ),
        ev.FlightDispatched(flight_id=FID, dispatched_at=1_002, steps=PLAN[:through]),
    ]


def test_one_outcome_with_its_start_equals_the_start_then_the_outcome() -> None:
    pair = [
        ev.FlightStepStarted(flight_id=FID, step="CREATE_NAMESPACE", attempt=1, started_at=1_010),
        ev.FlightStepSucceeded(
            flight_id=FID, step="CREATE_NAMESPACE", attempt=1, succeeded_at=1_015
        ),
    ]
    single = [
        ev.FlightStepSucceeded(
            flight_id=FID, step="CREATE_NAMESPACE", attempt=1, succeeded_at=1_015, started_at=1_010
        )
    ]
    by_pair = Flight.fold(FID, cleared(2) + pair)
    by_single = Flight.fold(FID, cleared(2) + single)
    # The same flight, one event fewer (the aggregate's version counts events).
    assert (by_single.steps, by_single.status, by_single.last_progress_at) == (
        by_pair.steps,
        by_pair.status,
        by_pair.last_progress_at,
    )
    assert by_single.version == by_pair.version - 1
    step = by_single.step(StepName.CREATE_NAMESPACE)
    assert (step.status, step.started_at, step.ended_at) == (StepStatus.SUCCEEDED, 1_010, 1_015)
    assert by_single.last_progress_at == 1_015


def test_a_reported_start_is_kept_when_the_outcome_says_one_too() -> None:
    start = ev.FlightStepStarted(
        flight_id=FID, step="CREATE_NAMESPACE", attempt=1, started_at=1_010
    )
    outcome = ev.FlightStepSucceeded(
        flight_id=FID,
        step="CREATE_NAMESPACE",
        attempt=1,
        succeeded_at=1_020,
        started_at=1_012,  # a redelivered v2 outcome after a reclaim, say
    )
    flight = Flight.fold(FID, [*cleared(1), start, outcome])
    step = flight.step(StepName.CREATE_NAMESPACE)
    assert (step.status, step.started_at) == (StepStatus.SUCCEEDED, 1_010)


def test_an_outcome_of_another_attempt_changes_nothing_even_with_its_start() -> None:
    before = Flight.fold(FID, cleared(1))
    after = before.clone()
    after.apply(
        ev.FlightStepSucceeded(
            flight_id=FID, step="CREATE_NAMESPACE", attempt=2, succeeded_at=1_020, started_at=1_010
        )
    )
    assert after.steps == before.steps and after.ignored_outcomes == before.ignored_outcomes + 1


def test_the_fence_and_a_failure_say_their_start_the_same_way() -> None:
    fenced = Flight.fold(
        FID,
        cleared(3)
        + [
            ev.FlightStepSucceeded(
                flight_id=FID, step=name, attempt=1, succeeded_at=1_010 + i, started_at=1_010
            )
            for i, name in enumerate(PLAN[:2])
        ]
        + [
            ev.FencingCompleted(
                flight_id=FID,
                mission_id="m1",
                deployment_id="d1",
                epoch=3,
                attempt=1,
                fenced_at=1_030,
                started_at=1_020,
            )
        ],
    )
    fence = fenced.step(StepName.FENCE_DATABASE)
    assert (fence.status, fence.started_at, fenced.fenced_epoch) == (StepStatus.SUCCEEDED, 1_020, 3)
    failure = ev.FlightStepFailed(
        flight_id=FID,
        step="CREATE_NAMESPACE",
        attempt=1,
        error_code="CLUSTER_REFUSED",
        error="quota",
        transient=True,
        failed_at=1_011,
        started_at=1_010,
    )
    failed = Flight.fold(FID, [*cleared(1), failure])
    step = failed.step(StepName.CREATE_NAMESPACE)
    assert (step.status, step.started_at, step.ended_at) == (StepStatus.FAILED, 1_010, 1_011)


def test_a_late_dispatch_result_of_an_earlier_attempt_does_not_touch_the_retry() -> None:
    """Attempt 1's delivery failed, attempt 2 was cleared; a second, late report about
    attempt 1 (a slow Dispatcher) must not fail attempt 2 nor say it was delivered."""
    plan = cleared(1)[:1]
    first = ev.FlightStepsCleared(
        flight_id=FID, cleared_at=1_001, not_before=1_001, steps=PLAN[:1], attempts=[1]
    )
    lost = ev.FlightDispatchFailed(
        flight_id=FID,
        error_code="UNAVAILABLE",
        error="agent away",
        transient=True,
        failed_at=1_010,
        steps=PLAN[:1],
        step_attempts=[1],
    )
    retry = ev.FlightStepsCleared(
        flight_id=FID, cleared_at=1_020, not_before=1_020, steps=PLAN[:1], attempts=[2]
    )
    flight = Flight.fold(FID, [*plan, first, lost, retry])
    assert flight.step("CREATE_NAMESPACE").status is StepStatus.CLEARED
    late_failure = dataclasses.replace(lost, failed_at=1_030)
    late_delivery = ev.FlightDispatched(
        flight_id=FID, dispatched_at=1_031, steps=PLAN[:1], step_attempts=[1]
    )
    start_failed = dataclasses.replace(lost, step_attempts=[0])  # a StartFlight's report
    for late in (late_failure, late_delivery, start_failed):
        flight = Flight.fold(FID, [*plan, first, lost, retry, late])
        step = flight.step("CREATE_NAMESPACE")
        assert (step.status, step.attempts, flight.dispatched_at) == (StepStatus.CLEARED, 2, None)
    # The report of attempt 2 itself does apply; so does a v1 one that names no attempt.
    for now in ([2], []):
        ok = ev.FlightDispatched(
            flight_id=FID, dispatched_at=1_040, steps=PLAN[:1], step_attempts=now
        )
        assert Flight.fold(FID, [*plan, first, lost, retry, ok]).dispatched_at == 1_040
