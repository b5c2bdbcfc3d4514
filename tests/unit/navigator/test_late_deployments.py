"""A Deployment created on the source while its failover runs is moved too (the spec:
every Deployment on the source is included), or named as the reason the request fails."""

from __future__ import annotations

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import CancelFailover, RequestFailover
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.reasons import Code
from jetbridge.navigator.domain.vocabulary import (
    FailoverMode,
    FlightStatus,
    MissionStatus,
    RequestStatus,
    StepName,
)
from tests.unit.navigator.builders import cluster_events, deployment
from tests.unit.navigator.sim import Simulation


def running(mode: FailoverMode = FailoverMode.CONTROLLED) -> Simulation:
    """r1 moves d0 from a to b; d0's first source step hangs, so r1 is still running."""
    sim = Simulation(cluster_events("a") + cluster_events("b") + [deployment("d0", "a")])
    hung = StepName.STOP_SCHEDULING if mode is FailoverMode.CONTROLLED else StepName.WAIT_READY
    kind = "SOURCE" if mode is FailoverMode.CONTROLLED else "DESTINATION"
    sim.fail("d0", kind, hung, "hang")
    sim.command(RequestFailover("r1", "a", "b", mode, "op"))
    for _ in range(6):
        sim.record(sim.fleet.react(sim.now))
        sim.data_plane()
        sim.now += 1_000
    assert sim.fleet.requests["r1"].status is RequestStatus.IN_PROGRESS
    return sim


def test_a_deployment_created_on_the_source_mid_failover_is_moved_with_it() -> None:
    sim = running()
    sim.record([deployment("late", "a", created_at=sim.now, priority=9)])
    sim.unhang("d0", "SOURCE", StepName.STOP_SCHEDULING)
    sim.run()
    r = sim.fleet.requests["r1"]
    assert r.status is RequestStatus.SUCCEEDED
    assert r.mission_ids == ("r1/d0", "r1/late")
    (extended,) = sim.of_type(ev.FailoverScopeExtended)
    assert isinstance(extended, ev.FailoverScopeExtended)
    assert (extended.deployment_ids, extended.mission_ids) == (["late"], ["r1/late"])
    late = sim.fleet.deployments["late"]
    assert (late.cluster_id, late.writer_cluster_id, late.fencing_epoch) == ("b", "b", 1)
    assert sim.fleet.missions["r1/late"].status is MissionStatus.SUCCEEDED
    (done,) = sim.of_type(ev.FailoverSucceeded)
    assert isinstance(done, ev.FailoverSucceeded) and "r1/late" in done.mission_ids
    assert sim.fleet.react(sim.now) == []  # deciding again adds nothing
    assert Fleet.replay(sim.log) == sim.fleet


def test_one_that_cannot_fail_over_fails_the_request_and_names_why() -> None:
    sim = running(FailoverMode.FORCED)
    sim.record([deployment("gs", "a", created_at=sim.now, mechanism="GIT_SYNC")])
    sim.unhang("d0", "DESTINATION", StepName.WAIT_READY)
    sim.run()
    m = sim.fleet.missions["r1/gs"]
    assert m.status is MissionStatus.CANCELLED
    assert m.reason_code == Code.GIT_SYNC_NOT_SUPPORTED
    assert "Created on the source during the failover" in m.reason and "git-sync" in m.reason
    for kind in ("source", "destination"):
        flight = sim.fleet.flights[f"r1/gs/{kind}"]
        assert flight.status is FlightStatus.CANCELLED
        assert all(s.attempts == 0 for s in flight.steps)  # nothing ran for it
    assert sim.fleet.deployments["gs"].cluster_id == "a"
    (failed,) = sim.of_type(ev.FailoverFailed)
    assert isinstance(failed, ev.FailoverFailed)
    assert failed.succeeded_mission_ids == ["r1/d0"]
    assert failed.cancelled_mission_ids == ["r1/gs"]
    assert sim.fleet.requests["r1"].status is RequestStatus.FAILED


def test_a_request_being_cancelled_or_already_ended_does_not_grow() -> None:
    sim = running()
    sim.command(CancelFailover("r1", "op"))
    sim.record([deployment("late", "a", created_at=sim.now)])
    sim.unhang("d0", "SOURCE", StepName.STOP_SCHEDULING)
    sim.run()
    assert sim.of_type(ev.FailoverScopeExtended) == []
    assert sim.fleet.requests["r1"].mission_ids == ("r1/d0",)
    # After the end, a new Deployment on the old source is just that: nobody moves it.
    sim.record([deployment("after", "a", created_at=sim.now)])
    assert sim.fleet.react(sim.now) == []


def test_a_deployment_elsewhere_does_not_join() -> None:
    sim = running()
    sim.record([deployment("on-b", "b", created_at=sim.now)])
    sim.unhang("d0", "SOURCE", StepName.STOP_SCHEDULING)
    sim.run()
    assert sim.of_type(ev.FailoverScopeExtended) == []
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED
