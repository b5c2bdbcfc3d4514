"""Declaring a data plane lost: the way out after a regional outage, refused whenever
the cluster might still be there or something would be stranded (lost_cluster)."""

from __future__ import annotations

import pytest

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import (
    DeclareClusterLost,
    DeregisterCluster,
    RequestFailover,
)
from jetbridge.navigator.domain.errors import CommandRefused
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.reasons import Code
from jetbridge.navigator.domain.vocabulary import (
    CleanupStatus,
    FailoverMode,
    FlightStatus,
    Health,
    MissionStatus,
    RequestStatus,
    StepName,
    StepStatus,
)
from tests.unit.navigator.builders import deployment, health
from tests.unit.navigator.sim import Simulation
from tests.unit.navigator.test_blast_radius import accepted, refusal, sided

WHY = "region eu-1 destroyed in INC-4521; nodes terminated by the cloud provider"


def lost(cluster_id: str = "a", attestation: str = WHY) -> DeclareClusterLost:
    return DeclareClusterLost(cluster_id=cluster_id, attestation=attestation, requested_by="root")


def after_forced_move_off_an_unreachable_a() -> Simulation:
    """a and c fence with side A, b with side B; d0 and d1 moved a -> b by a Forced
    failover while a was unreachable: their clean-ups on a wait for it."""
    sim = Simulation(sided({"a": "A", "b": "B", "c": "A"}, "d0", "d1"))
    sim.record([health("a", Health.HEALTHY, Health.UNREACHABLE)])
    sim.command(RequestFailover("out", "a", "b", FailoverMode.FORCED, "op"))
    sim.run()
    assert sim.fleet.requests["out"].status is RequestStatus.SUCCEEDED
    assert {m.cleanup for m in sim.fleet.missions.values()} == {CleanupStatus.PENDING}
    return sim


def test_a_lost_source_is_given_up_and_its_side_can_be_used_again() -> None:
    sim = after_forced_move_off_an_unreachable_a()
    # Before: a's clean-ups hold side A, so nothing may be moved onto c, and a stays.
    onward = sim.command(RequestFailover("onward", "b", "c", FailoverMode.FORCED, "op"))
    refusal(onward, Code.CLEANUP_PENDING_ON_SAME_SIDE, "d0")
    with pytest.raises(CommandRefused, match="CLUSTER_IN_USE"):
        sim.command(DeregisterCluster("a", "root"))

    decided = sim.command(lost())
    assert decided[0] == ev.ClusterDeclaredLost(
        cluster_id="a", declared_by="root", attestation=WHY, declared_at=sim.now
    )
    assert decided[-1] == ev.ClusterDeregistered(cluster_id="a", deregistered_at=sim.now)
    ended = decided[1:-1]
    source_flights = {m.source_flight_id for m in sim.fleet.missions.values()}
    assert {e.aggregate_id for e in ended} == source_flights  # every open flight on a
    for e in ended:  # never cleared while a was away: cancelled, saying why
        assert isinstance(e, ev.FlightCancelled), e
        assert "declared lost by root: region eu-1 destroyed" in e.reason
    a = sim.fleet.clusters["a"]
    assert a.lost and not a.registered and a.lost_attestation == WHY

    sim.run()  # the saga ends each clean-up as failed, naming the cause
    for m in sim.fleet.missions.values():
        assert (m.status, m.cleanup, m.reason_code) == (
            MissionStatus.SUCCEEDED,
            CleanupStatus.FAILED,
            "CLUSTER_LOST",
        )
        assert m.reason.startswith("cluster a declared lost by root: region eu-1"), m.reason
    # After: a's old copies hold side A no more; moving on to c is accepted and runs.
    accepted(sim.command(RequestFailover("rebuilt", "b", "c", FailoverMode.FORCED, "op")))
    sim.run()
    assert sim.fleet.requests["rebuilt"].status is RequestStatus.SUCCEEDED
    assert {d.cluster_id for d in sim.fleet.deployments.values()} == {"c"}
    assert sim.fleet.decide(lost(), sim.now) == []  # a repeat
    assert Fleet.replay(sim.log) == sim.fleet


def test_a_flight_running_on_the_lost_cluster_is_failed() -> None:
    """A flight cleared before the cluster went silent (its step claimed, no outcome
    since) is failed with CLUSTER_LOST at that step, and its clean-up ends so."""
    sim = Simulation(sided({"a": "A", "b": "B", "c": "A"}, "d0"))
    sim.fail("d0", "SOURCE", StepName.DELETE_DEPLOYMENT, "hang")
    sim.command(RequestFailover("out", "a", "b", FailoverMode.FORCED, "op"))
    for _ in range(100):  # one second at a time, up to the clean-up's step hanging on a
        sim.record(sim.fleet.react(sim.now))
        sim.data_plane()
        sim.now += 1_000
        missions = list(sim.fleet.missions.values())
        if missions and missions[0].cleanup is CleanupStatus.PENDING:
            source = sim.fleet.flights[missions[0].source_flight_id]
            if (step := source.current()) is not None and step.status is StepStatus.RUNNING:
                break
    (mission,) = sim.fleet.missions.values()
    assert mission.cleanup is CleanupStatus.PENDING
    assert sim.fleet.flights[mission.source_flight_id].status is FlightStatus.ACTIVE
    sim.record([health("a", Health.HEALTHY, Health.UNREACHABLE)])
    decided = sim.command(lost())
    (failed,) = [e for e in decided if isinstance(e, ev.FlightFailed)]
    assert (failed.flight_id, failed.step, failed.reason_code) == (
        mission.source_flight_id,
        StepName.DELETE_DEPLOYMENT.value,
        "CLUSTER_LOST",
    )
    sim.run()
    assert (mission.cleanup, mission.reason_code) == (CleanupStatus.FAILED, "CLUSTER_LOST")
    accepted(sim.command(RequestFailover("rebuilt", "b", "c", FailoverMode.FORCED, "op")))


def test_a_cluster_that_answers_heartbeats_is_not_lost() -> None:
    sim = after_forced_move_off_an_unreachable_a()
    for now in (Health.HEALTHY, Health.DEGRADED):
        previous = sim.fleet.clusters["a"].health
        sim.record([health("a", previous, now)])
        with pytest.raises(CommandRefused, match=f"CLUSTER_REACHABLE: cluster 'a' is {now}"):
            sim.fleet.decide(lost(), sim.now)


def test_nothing_is_stranded_by_a_declaration() -> None:
    sim = Simulation(sided({"a": "A", "b": "B"}, "d0", "d1"))
    sim.record([health("a", Health.HEALTHY, Health.UNREACHABLE)])
    with pytest.raises(
        CommandRefused, match=r"holds 2 Deployment\(s\) that can fail over, e.g. 'd0'"
    ):
        sim.fleet.decide(lost(), sim.now)
    sim.command(RequestFailover("out", "a", "b", FailoverMode.FORCED, "op"))
    sim.record([health("b", Health.HEALTHY, Health.UNREACHABLE)])  # b goes silent too
    with pytest.raises(CommandRefused, match="CLUSTER_IN_USE: cluster 'b' is named by failover"):
        sim.fleet.decide(lost("b"), sim.now)


@pytest.mark.parametrize(
    ("attestation", "rule"),
    [("", "10-2000 characters"), ("gone", "10-2000 characters"), ("x" * 2001, "10-2000")],
)
def test_an_attestation_must_say_why(attestation: str, rule: str) -> None:
    sim = after_forced_move_off_an_unreachable_a()
    with pytest.raises(CommandRefused, match=f"INVALID_DECLARATION: attestation: {rule}"):
        sim.fleet.decide(lost(attestation=attestation), sim.now)
    assert not sim.fleet.clusters["a"].lost


def test_unknown_and_plainly_deregistered_clusters_are_refused() -> None:
    with pytest.raises(CommandRefused, match="CLUSTER_NOT_REGISTERED: cluster 'x'"):
        Fleet().decide(lost("x"), 0)
    sim = Simulation(sided({"a": "A", "b": "B"}))
    sim.command(DeregisterCluster("a", "root"))
    with pytest.raises(CommandRefused, match="CLUSTER_DEREGISTERED"):
        sim.fleet.decide(lost(), sim.now)


def test_deployments_that_could_never_fail_over_are_lost_with_the_cluster() -> None:
    """A git-sync Deployment cannot fail over (the spec's limitation), so it could never
    leave: refusing would keep the cluster registered for good. The declaration records
    it deleted, lost with the cluster; an image-based one is still refused."""
    sim = Simulation(sided({"a": "A", "b": "B"}))
    sim.record([deployment("git", "a", mechanism="GIT_SYNC"), deployment("img", "a")])
    sim.record([health("a", Health.HEALTHY, Health.UNREACHABLE)])
    with pytest.raises(
        CommandRefused, match=r"holds 1 Deployment\(s\) that can fail over, e.g. 'img'"
    ):
        sim.fleet.decide(lost(), sim.now)
    sim.command(
        RequestFailover("out", "a", "b", FailoverMode.FORCED, "op", exclude_ineligible=True)
    )
    sim.run()
    assert sim.fleet.deployments["img"].cluster_id == "b"
    assert sim.fleet.deployments["git"].active  # still recorded on a
    decided = sim.command(lost())
    assert ev.DeploymentDeleted(deployment_id="git", deleted_at=sim.now) in decided
    assert not sim.fleet.deployments["git"].active and sim.fleet.deployments["img"].active
    assert Fleet.replay(sim.log) == sim.fleet
