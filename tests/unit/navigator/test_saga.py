"""The saga per Mission, in both modes, driven by a scripted data plane."""

from __future__ import annotations

import dataclasses

import pytest

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import RequestFailover
from jetbridge.navigator.domain.errors import IllegalEvent
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.flight import Flight
from jetbridge.navigator.domain.mission_saga import FENCING_EPOCH_MISMATCH
from jetbridge.navigator.domain.policy import FailoverPolicy, RetryPolicy
from jetbridge.navigator.domain.vocabulary import (
    CleanupStatus,
    FailoverMode,
    Health,
    MissionStatus,
    RequestStatus,
    StepName,
    StepStatus,
)
from tests.unit.navigator.builders import cluster_events, deployment, health
from tests.unit.navigator.sim import Simulation

CONTROLLED, FORCED = FailoverMode.CONTROLLED, FailoverMode.FORCED


def world(n: int = 3) -> Simulation:
    events = cluster_events("a") + cluster_events("b")
    events += [deployment(f"d{i}", "a", priority=i) for i in range(n)]
    return Simulation(events)


def request(sim: Simulation, mode: FailoverMode, policy: FailoverPolicy | None = None) -> None:
    sim.command(RequestFailover("r1", "a", "b", mode, "alice", policy=policy or FailoverPolicy()))


def position(sim: Simulation, predicate: object) -> int:
    for i, e in enumerate(sim.log):
        if predicate(e):  # type: ignore[operator]
            return i
    raise AssertionError("no such event")


def step_event(kind: str, dep: str, step: StepName, cls: type[ev.DomainEvent]):  # type: ignore[no-untyped-def]
    flight = f"r1/{dep}/{kind}"

    def match(e: ev.DomainEvent) -> bool:
        if not isinstance(e, cls) or getattr(e, "flight_id", None) != flight:
            return False
        if isinstance(e, ev.FlightStepsCleared):
            return step.value in e.steps
        if isinstance(e, ev.FlightStepStarted | ev.FlightStepSucceeded):
            return e.step == step.value
        return True

    return match


def test_controlled_orders_prepare_drain_fence_up_then_delete() -> None:
    sim = world(1)
    request(sim, CONTROLLED)
    sim.run()
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED
    started = lambda kind, step: position(  # noqa: E731
        sim, step_event(kind, "d0", step, ev.FlightStepStarted)
    )
    drained = position(sim, step_event("source", "d0", StepName.DRAIN_TASKS, ev.DrainCompleted))
    fenced = position(sim, lambda e: isinstance(e, ev.FencingCompleted))
    ready = position(
        sim, step_event("destination", "d0", StepName.WAIT_READY, ev.FlightStepSucceeded)
    )
    prepared = position(
        sim,
        step_event("destination", "d0", StepName.APPLY_EXTERNAL_SECRETS, ev.FlightStepSucceeded),
    )
    # The destination is prepared before the source stops scheduling: the source is
    # touched only once the destination can take the Deployment.
    assert started("destination", StepName.CREATE_NAMESPACE) < prepared
    assert prepared < position(
        sim, step_event("source", "d0", StepName.STOP_SCHEDULING, ev.FlightStepsCleared)
    )
    assert started("source", StepName.STOP_SCHEDULING) < drained < fenced
    assert drained < started("destination", StepName.FENCE_DATABASE) < fenced
    assert fenced < started("destination", StepName.UPSERT_DEPLOYMENT) < ready
    assert ready < started("source", StepName.DELETE_DEPLOYMENT)
    # DELETE is not even cleared before the destination is Ready.
    assert ready < position(
        sim, step_event("source", "d0", StepName.DELETE_DEPLOYMENT, ev.FlightStepsCleared)
    )


def test_controlled_fence_is_never_cleared_before_drain_even_if_destination_is_fast() -> None:
    sim = world(1)
    sim.fail("d0", "SOURCE", StepName.DRAIN_TASKS, "hang")  # the drain takes its time
    request(sim, CONTROLLED)
    for _ in range(20):
        sim.record(sim.fleet.react(sim.now))
        sim.data_plane()
        sim.now += 1_000
    dst = sim.fleet.flights["r1/d0/destination"]
    assert dst.succeeded(StepName.APPLY_EXTERNAL_SECRETS)
    assert dst.step(StepName.FENCE_DATABASE).attempts == 0  # waiting for the drain
    sim.unhang("d0", "SOURCE", StepName.DRAIN_TASKS)
    sim.run()
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED


def test_controlled_drain_timeout_proceeds_and_records_tasks_still_running() -> None:
    sim = world(1)
    sim.fail("d0", "SOURCE", StepName.DRAIN_TASKS, "drain_timeout:4")
    request(sim, CONTROLLED)
    sim.run()
    (succeeded,) = sim.of_type(ev.MissionSucceeded)
    assert isinstance(succeeded, ev.MissionSucceeded)
    assert succeeded.tasks_still_running_after_drain == 4
    assert sim.fleet.missions["r1/d0"].tasks_still_running_after_drain == 4


def test_forced_fences_first_then_brings_destination_up() -> None:
    sim = world(1)
    request(sim, FORCED)
    sim.run()
    fenced = position(sim, lambda e: isinstance(e, ev.FencingCompleted))
    for step in (StepName.CREATE_NAMESPACE, StepName.UPSERT_DEPLOYMENT, StepName.WAIT_READY):
        assert fenced < position(sim, step_event("destination", "d0", step, ev.FlightStepStarted))
    # Nothing runs on the source before the destination is up.
    ready = position(
        sim, step_event("destination", "d0", StepName.WAIT_READY, ev.FlightStepSucceeded)
    )
    assert ready < position(
        sim, step_event("source", "d0", StepName.DELETE_DEPLOYMENT, ev.FlightStepsCleared)
    )
    assert sim.fleet.deployments["d0"].fencing_epoch == 1
    assert sim.fleet.deployments["d0"].writer_cluster_id == "b"


def test_forced_with_unreachable_source_succeeds_and_cleans_up_when_it_returns() -> None:
    sim = world(2)
    sim.record([health("a", Health.HEALTHY, Health.UNREACHABLE)])
    request(sim, FORCED)
    sim.run()
    req = sim.fleet.requests["r1"]
    assert req.status is RequestStatus.SUCCEEDED  # cleanup does not hold it back
    (done,) = sim.of_type(ev.FailoverSucceeded)
    assert isinstance(done, ev.FailoverSucceeded)
    assert sorted(done.cleanup_pending_mission_ids) == ["r1/d0", "r1/d1"]
    assert all(m.cleanup is CleanupStatus.PENDING for m in sim.fleet.missions.values())
    assert not any(
        isinstance(e, ev.FlightStepsCleared) and e.flight_id.endswith("source") for e in sim.log
    )
    sim.record([health("a", Health.UNREACHABLE, Health.HEALTHY)])
    sim.run()
    assert all(m.cleanup is CleanupStatus.COMPLETED for m in sim.fleet.missions.values())
    assert req.status is RequestStatus.SUCCEEDED


def test_transient_failures_are_retried_with_backoff() -> None:
    sim = world(1)
    sim.fail("d0", "DESTINATION", StepName.UPSERT_DEPLOYMENT, "transient", "transient")
    request(sim, CONTROLLED)
    sim.run()
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED
    retries = [
        e
        for e in sim.of_type(ev.FlightStepsCleared)
        if isinstance(e, ev.FlightStepsCleared) and e.steps[0] == "UPSERT_DEPLOYMENT"
    ]
    assert [r.not_before - r.cleared_at for r in retries] == [2_000, 4_000]  # 2s, then 4s
    assert sim.fleet.flights["r1/d0/destination"].step(StepName.UPSERT_DEPLOYMENT).attempts == 3


def test_dispatch_failure_is_a_transient_failure() -> None:
    sim = world(1)
    sim.fail("d0", "DESTINATION", StepName.CREATE_NAMESPACE, "dispatch")
    request(sim, CONTROLLED)
    sim.run()
    assert len(sim.of_type(ev.FlightDispatchFailed)) == 1
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED


def test_clearances_number_their_attempts_so_a_lost_one_shifts_nothing() -> None:
    # The first clearance's dispatch failed: the data plane never saw attempt 1. It must
    # report the numbers of the clearance it did get (attempt 2), which the flight takes;
    # counting received clearances (1) made every later outcome stale (chaos seed 301).
    sim = world(1)
    sim.fail("d0", "DESTINATION", StepName.CREATE_NAMESPACE, "dispatch")
    request(sim, CONTROLLED)
    sim.run()
    flight = "r1/d0/destination"
    numbered = [
        (e.steps[0], e.attempts[0])
        for e in sim.of_type(ev.FlightStepsCleared)
        if isinstance(e, ev.FlightStepsCleared) and e.flight_id == flight
    ]
    assert numbered[:2] == [("CREATE_NAMESPACE", 1), ("CREATE_NAMESPACE", 2)]
    assert all(
        len(e.attempts) == len(e.steps)
        for e in sim.of_type(ev.FlightStepsCleared)
        if isinstance(e, ev.FlightStepsCleared)
    )
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED


def test_a_v1_clearance_without_numbers_counts_one_more_and_bad_numbers_are_refused() -> None:
    sim = world(1)
    request(sim, CONTROLLED)
    sim.run()
    [planned] = [
        e
        for e in sim.of_type(ev.FlightPlanned)
        if isinstance(e, ev.FlightPlanned) and e.flight_id == "r1/d0/destination"
    ]
    f = Flight.fold(planned.flight_id, [planned])
    first = f.steps[0]
    v1 = ev.FlightStepsCleared(
        flight_id=f.id, cleared_at=sim.now, not_before=sim.now, steps=[first.name.value]
    )
    for bad in ([0], [1, 1]):  # not after the last attempt; not one per step
        with pytest.raises(IllegalEvent):
            f.clone().apply(dataclasses.replace(v1, attempts=bad))
    f.apply(v1)
    assert first.attempts == 1


def test_exhausted_retries_fail_the_mission_with_the_reason() -> None:
    sim = world(2)
    sim.fail("d1", "DESTINATION", StepName.WAIT_READY, *["transient"] * 3)
    policy = FailoverPolicy(retry=RetryPolicy(max_attempts=3))
    request(sim, CONTROLLED, policy)
    sim.run()
    failed = sim.fleet.missions["r1/d1"]
    assert failed.status is MissionStatus.FAILED
    assert failed.reason_code == "WAIT_READY_ERROR"
    assert "WAIT_READY on b failed after 3 attempt(s)" in failed.reason
    assert failed.fenced_when_failed is True  # the operator learns the DB moved
    # The source was never deleted: DELETE waits for a Ready destination.
    src = sim.fleet.flights["r1/d1/source"]
    assert src.step(StepName.DELETE_DEPLOYMENT).attempts == 0
    assert sim.fleet.deployments["d1"].cluster_id == "a"
    assert sim.fleet.missions["r1/d0"].status is MissionStatus.SUCCEEDED
    req = sim.fleet.requests["r1"]
    assert req.status is RequestStatus.FAILED
    assert req.failed_mission_ids == ("r1/d1",)


def test_a_failed_source_delete_after_a_ready_destination_records_where_it_runs() -> None:
    """Controlled: the source's DELETE_DEPLOYMENT fails for good after the destination
    came up Ready and fenced. The mission fails (its leftovers need an operator), but
    the Deployment runs on the destination and is recorded there."""
    sim = world(2)
    sim.fail("d1", "SOURCE", StepName.DELETE_DEPLOYMENT, "permanent")
    request(sim, CONTROLLED)
    sim.run()
    failed = sim.fleet.missions["r1/d1"]
    assert failed.status is MissionStatus.FAILED
    assert "DELETE_DEPLOYMENT on a failed" in failed.reason and failed.fenced_when_failed
    assert sim.fleet.flights["r1/d1/destination"].status.value == "SUCCEEDED"
    dep = sim.fleet.deployments["d1"]
    assert (dep.cluster_id, dep.fencing_epoch) == ("b", failed.fencing_epoch)
    relocated = [e for e in sim.of_type(ev.DeploymentRelocated) if e.aggregate_id == "d1"]
    assert len(relocated) == 1
    assert sim.fleet.requests["r1"].status is RequestStatus.FAILED
    # Deciding again on the same state adds nothing.
    assert sim.fleet.react(sim.now) == []


def test_permanent_failure_fails_at_once_and_winds_the_other_flight_down() -> None:
    sim = world(1)
    sim.fail("d0", "DESTINATION", StepName.APPLY_EXTERNAL_SECRETS, "permanent")
    request(sim, CONTROLLED)
    sim.run()
    m = sim.fleet.missions["r1/d0"]
    assert m.status is MissionStatus.FAILED
    assert m.fenced_when_failed is False
    assert sim.fleet.flights["r1/d0/destination"].step("APPLY_EXTERNAL_SECRETS").attempts == 1
    source = sim.fleet.flights["r1/d0/source"]
    assert source.status.value == "CANCELLED"
    # The source never stopped scheduling: the Deployment still runs where it ran.
    assert all(s.attempts == 0 for s in source.steps)
    assert not any(
        isinstance(e, ev.FlightStepsCleared) and e.flight_id == source.id for e in sim.log
    )
    assert sim.fleet.deployments["d0"].fencing_epoch == 0


def test_a_failed_fence_says_it_may_have_shut_both_sides_out() -> None:
    """``fenced=False`` alone would read as "the source still writes": a fence that ran
    may have revoked the source's credentials before it failed."""
    sim = world(1)
    sim.fail("d0", "DESTINATION", StepName.FENCE_DATABASE, "permanent")
    request(sim, FORCED)
    sim.run()
    m = sim.fleet.missions["r1/d0"]
    assert m.status is MissionStatus.FAILED and m.fenced_when_failed is False
    assert "fence for epoch 1 ran (1 attempt(s)) and may have revoked" in m.reason
    assert "fences again, with the next epoch (2: this one may have been used)" in m.reason
    # ... as a new request does: its mission fences with epoch 2 (the failed attempt's
    # epoch 1 may have been presented to the database), and succeeds.
    sim.command(RequestFailover("r2", "a", "b", FORCED, "op"))
    sim.run()
    again = sim.fleet.missions["r2/d0"]
    assert again.fencing_epoch == 2 and again.status is MissionStatus.SUCCEEDED
    assert sim.fleet.deployments["d0"].fencing_epoch == 2
    # A mission that failed before any fence ran says nothing of the kind.
    sim = world(1)
    sim.fail("d0", "DESTINATION", StepName.APPLY_EXTERNAL_SECRETS, "permanent")
    request(sim, CONTROLLED)
    sim.run()
    assert "fence" not in sim.fleet.missions["r1/d0"].reason


def test_hung_step_hits_its_deadline_and_is_retried() -> None:
    sim = world(1)
    sim.fail("d0", "DESTINATION", StepName.CREATE_NAMESPACE, "hang")
    request(sim, CONTROLLED)
    for _ in range(5):
        sim.record(sim.fleet.react(sim.now))
        sim.data_plane()
    sim.unhang("d0", "DESTINATION", StepName.CREATE_NAMESPACE)
    sim.now += 61_000  # CREATE_NAMESPACE has 60 s
    sim.run()
    (late,) = sim.of_type(ev.FlightStepDeadlineExceeded)
    assert isinstance(late, ev.FlightStepDeadlineExceeded)
    assert late.step == "CREATE_NAMESPACE" and late.attempt == 1
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED


def test_fence_with_a_foreign_epoch_fails_the_mission() -> None:
    sim = world(1)
    sim.fail("d0", "DESTINATION", StepName.FENCE_DATABASE, "wrong_epoch")
    request(sim, FORCED)
    sim.run()
    m = sim.fleet.missions["r1/d0"]
    assert m.status is MissionStatus.FAILED and m.reason_code == FENCING_EPOCH_MISMATCH
    assert sim.fleet.deployments["d0"].fencing_epoch == 0


def test_late_and_duplicate_outcomes_change_nothing() -> None:
    sim = world(1)
    request(sim, FORCED)
    sim.run()
    before = sim.fleet.clone()
    dup = next(e for e in sim.log if isinstance(e, ev.FlightStepSucceeded))
    sim.record([dup])
    flight = sim.fleet.flights[dup.flight_id]
    assert flight.ignored_outcomes == 1
    assert sim.fleet.react(sim.now) == []
    flight.ignored_outcomes, flight.version = 0, flight.version - 1
    assert sim.fleet == before


def test_replay_equals_live_and_deciding_again_adds_nothing() -> None:
    sim = world(3)
    sim.fail("d1", "DESTINATION", StepName.UPSERT_DEPLOYMENT, "transient")
    sim.fail("d2", "SOURCE", StepName.DRAIN_TASKS, "drain_timeout:2")
    request(sim, CONTROLLED)
    sim.run()
    assert Fleet.replay(sim.log) == sim.fleet
    assert sim.fleet.react(sim.now + 10**9) == []


@pytest.mark.parametrize("mode", list(FailoverMode))
def test_epochs_are_monotonic_per_deployment(mode: FailoverMode) -> None:
    sim = world(1)
    request(sim, mode)
    sim.run()
    sim.command(RequestFailover("r2", "b", "a", mode, "alice"))
    sim.run()
    created = [e for e in sim.log if isinstance(e, ev.MissionCreated)]
    assert [e.fencing_epoch for e in created] == [1, 2]
    fenced = [e.epoch for e in sim.log if isinstance(e, ev.DeploymentFenced)]
    assert fenced == [1, 2]


@pytest.mark.parametrize("mode", [FORCED, CONTROLLED])
def test_retries_of_a_step_spend_none_of_the_budget_of_the_steps_cleared_with_it(
    mode: FailoverMode,
) -> None:
    """The fence is cleared together with the steps after it (one run), and each of its
    retries clears them again. UPSERT_DEPLOYMENT, which never ran meanwhile, still has
    its own three tries: its first failure is retried, not the end of the flight (the
    Deployment would be left fenced to a destination that never came up)."""
    sim = world(1)
    sim.fail("d0", "DESTINATION", StepName.FENCE_DATABASE, "transient", "transient")
    sim.fail("d0", "DESTINATION", StepName.UPSERT_DEPLOYMENT, "transient", "transient")
    request(sim, mode, FailoverPolicy(retry=RetryPolicy(max_attempts=3)))
    sim.run()
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED
    upsert = sim.fleet.flights["r1/d0/destination"].step(StepName.UPSERT_DEPLOYMENT)
    assert upsert.failures == 2 and upsert.status is StepStatus.SUCCEEDED
    fence = sim.fleet.flights["r1/d0/destination"].step(StepName.FENCE_DATABASE)
    assert fence.failures == 2
    assert upsert.attempts > 3  # cleared with each of the fence's retries too
