"""A Forced request takes over a Controlled one whose source died mid-way (superseding).

Before, such a Controlled request held the source until every mission had failed (the
drain timeout plus every retry), and the Forced failover the spec names for an
unreachable source was refused all that time (SOURCE_FAILOVER_IN_PROGRESS).
"""

from __future__ import annotations

import pytest

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import RequestFailover
from jetbridge.navigator.domain.eligibility import winding_down
from jetbridge.navigator.domain.errors import IllegalEvent
from jetbridge.navigator.domain.mission import SUPERSEDED
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
from tests.unit.navigator.builders import health
from tests.unit.navigator.sim import Simulation
from tests.unit.navigator.test_blast_radius import accepted, refusal, sided

CONTROLLED, FORCED = FailoverMode.CONTROLLED, FailoverMode.FORCED


def step(sim: Simulation, deployment_id: str, kind: str, name: StepName) -> StepStatus:
    f = next(
        f
        for f in sim.fleet.flights.values()
        if f.deployment_id == deployment_id and f.kind.value == kind and f.request_id == "ctl"
    )
    return f.step(name).status


def advance(sim: Simulation, rounds: int = 40) -> None:
    """React and answer for ``rounds`` seconds, never jumping to a deadline."""
    for _ in range(rounds):
        sim.record(sim.fleet.react(sim.now))
        sim.data_plane()
        sim.now += 1_000


def source_dies_mid_controlled() -> Simulation:
    """Controlled a -> b of d0, d1, d2; a dies with d0 draining (not fenced), d1 fenced,
    Ready on b and being deleted on a, and d2 moved."""
    sim = Simulation(sided({"a": "A", "b": "B", "c": "B"}, "d0", "d1", "d2"))
    sim.fail("d0", "SOURCE", StepName.DRAIN_TASKS, "hang")
    sim.fail("d1", "SOURCE", StepName.DELETE_DEPLOYMENT, "hang")
    accepted(sim.command(RequestFailover("ctl", "a", "b", CONTROLLED, "op")))
    advance(sim)
    assert step(sim, "d0", "SOURCE", StepName.DRAIN_TASKS) is StepStatus.RUNNING
    assert step(sim, "d1", "SOURCE", StepName.DELETE_DEPLOYMENT) is StepStatus.RUNNING
    assert sim.fleet.deployments["d1"].fencing_epoch == 1
    assert sim.fleet.deployments["d0"].fencing_epoch == 0
    assert sim.fleet.deployments["d2"].cluster_id == "b"
    sim.record([health("a", Health.HEALTHY, Health.UNREACHABLE)])
    return sim


def test_a_forced_request_takes_over_and_moves_what_the_controlled_one_left() -> None:
    sim = source_dies_mid_controlled()
    decided = sim.command(RequestFailover("force", "a", "b", FORCED, "oncall"))
    requested, superseded = decided
    assert isinstance(requested, ev.FailoverRequested)
    assert sorted(requested.deployment_ids) == ["d0", "d1"]  # d2 is on b already
    assert (Code.SUPERSEDES_CONTROLLED_FAILOVER.value, "a") in zip(
        requested.warning_codes, requested.warning_subjects, strict=True
    )
    assert superseded == ev.FailoverSuperseded(
        request_id="ctl",
        superseded_by_request_id="force",
        requested_by="oncall",
        superseded_at=sim.now,
    )
    sim.run()  # a stays unreachable

    ctl, force = sim.fleet.requests["ctl"], sim.fleet.requests["force"]
    assert ctl.status is RequestStatus.CANCELLED
    assert force.status is RequestStatus.SUCCEEDED
    by_deployment = {(m.request_id, m.deployment_id): m for m in sim.fleet.missions.values()}
    assert by_deployment["ctl", "d2"].status is MissionStatus.SUCCEEDED
    for d in ("d0", "d1"):
        old = by_deployment["ctl", d]
        assert (old.status, old.reason_code) == (MissionStatus.CANCELLED, SUPERSEDED)
        assert "force" in old.reason
        new = by_deployment["force", d]
        assert new.status is MissionStatus.SUCCEEDED
        assert new.cleanup is CleanupStatus.PENDING  # the delete on a waits for it
        assert sim.fleet.deployments[d].cluster_id == "b"
        assert sim.fleet.deployments[d].writer_cluster_id == "b"
    # d1's fence had been recorded: fenced again one epoch on. d0's was never cleared
    # (its drain still ran): the same epoch, which was never presented.
    assert (
        by_deployment["force", "d1"].fencing_epoch,
        sim.fleet.deployments["d1"].fencing_epoch,
    ) == (2, 2)
    assert (
        by_deployment["force", "d0"].fencing_epoch,
        sim.fleet.deployments["d0"].fencing_epoch,
    ) == (1, 1)
    # Cancelled after its fence, d1's old mission says the fence may have run; d0's
    # never got that far.
    cancelled = {
        sim.fleet.missions[e.mission_id].deployment_id: e.fence_may_have_run
        for e in sim.of_type(ev.MissionCancelled)
        if isinstance(e, ev.MissionCancelled)
    }
    assert cancelled == {"d0": False, "d1": True}
    # The steps left running on a when it died were abandoned at once, not waited for
    # until their deadlines: a is not busy for new requests.
    for d, running in (("d0", StepName.DRAIN_TASKS), ("d1", StepName.DELETE_DEPLOYMENT)):
        old_source = sim.fleet.flights[by_deployment["ctl", d].source_flight_id]
        assert old_source.status is FlightStatus.CANCELLED
        assert old_source.step(running).error_code == "ABANDONED"
    assert not sim.of_type(ev.FlightStepDeadlineExceeded)


def test_a_fence_cleared_but_never_recorded_spends_its_epoch() -> None:
    """d0's fence on b was cleared and is still running (its outcome not in) when a
    dies. It may yet land: the Forced mission must not present the same epoch, or a
    late write of the old mission (its fence, its upsert on b) would rank equal with the
    new one's. It fences with the epoch after it; the Deployment records that one."""
    sim = Simulation(sided({"a": "A", "b": "B"}, "d0"))
    sim.fail("d0", "DESTINATION", StepName.FENCE_DATABASE, "hang")
    accepted(sim.command(RequestFailover("ctl", "a", "b", CONTROLLED, "op")))
    advance(sim)
    assert step(sim, "d0", "DESTINATION", StepName.FENCE_DATABASE) is StepStatus.RUNNING
    assert sim.fleet.deployments["d0"].fencing_epoch == 0  # nothing recorded
    assert sim.fleet.spent_epochs == {"d0": 1}
    sim.record([health("a", Health.HEALTHY, Health.UNREACHABLE)])

    sim.unhang("d0", "DESTINATION", StepName.FENCE_DATABASE)  # the new mission's fence runs
    accepted(sim.command(RequestFailover("force", "a", "b", FORCED, "oncall")))
    sim.run()
    force = next(m for m in sim.fleet.missions.values() if m.request_id == "force")
    assert force.status is MissionStatus.SUCCEEDED
    assert force.fencing_epoch == 2
    assert sim.fleet.deployments["d0"].fencing_epoch == 2
    assert sim.fleet.deployments["d0"].writer_cluster_id == "b"


def test_the_dead_source_is_not_held_busy_by_the_steps_it_was_running() -> None:
    sim = source_dies_mid_controlled()
    sim.command(RequestFailover("force", "a", "b", FORCED, "oncall"))
    sim.record(sim.fleet.react(sim.now))  # one round, no clock moves: no deadline passed
    abandoned = [e for e in sim.of_type(ev.FlightCancelled) if isinstance(e, ev.FlightCancelled)]
    assert sorted(e.abandoned_step for e in abandoned if e.abandoned_step) == [
        StepName.DELETE_DEPLOYMENT.value,
        StepName.DRAIN_TASKS.value,
    ]
    assert "a" not in winding_down(sim.fleet.missions, sim.fleet.flights)
    # The abandoned drain's late outcome, once a answers again, changes nothing.
    flight = next(
        f
        for f in sim.fleet.flights.values()
        if f.request_id == "ctl" and f.deployment_id == "d0" and f.kind.value == "SOURCE"
    )
    before = flight.clone()
    attempt = flight.step(StepName.DRAIN_TASKS).attempts
    sim.record([ev.DrainCompleted(flight_id=flight.id, attempt=attempt, drained_at=sim.now)])
    assert flight.status is before.status and flight.ignored_outcomes == before.ignored_outcomes + 1


def test_the_old_copies_are_deleted_once_the_source_is_back() -> None:
    sim = source_dies_mid_controlled()
    sim.command(RequestFailover("force", "a", "b", FORCED, "oncall"))
    sim.run()
    sim.unhang("d1", "SOURCE", StepName.DELETE_DEPLOYMENT)
    sim.record([health("a", Health.UNREACHABLE, Health.HEALTHY)])
    sim.run()
    force = [m for m in sim.fleet.missions.values() if m.request_id == "force"]
    assert {m.cleanup for m in force} == {CleanupStatus.COMPLETED}


def test_not_while_the_source_is_reachable() -> None:
    sim = source_dies_mid_controlled()
    sim.record([health("a", Health.UNREACHABLE, Health.HEALTHY)])
    decided = sim.command(RequestFailover("force", "a", "b", FORCED, "oncall"))
    refusal(decided, Code.SOURCE_FAILOVER_IN_PROGRESS, "a")
    assert not any(isinstance(e, ev.FailoverSuperseded) for e in decided)
    assert sim.fleet.requests["ctl"].superseded_by is None


def test_only_to_the_same_destination() -> None:
    sim = source_dies_mid_controlled()
    decided = sim.command(RequestFailover("force", "a", "c", FORCED, "oncall"))
    message = refusal(decided, Code.SUPERSEDING_NEEDS_SAME_DESTINATION, "a")
    assert "ctl (destination b)" in message
    refusal(decided, Code.SOURCE_FAILOVER_IN_PROGRESS, "a")
    assert sim.fleet.requests["ctl"].status is RequestStatus.IN_PROGRESS


def test_only_by_a_forced_request() -> None:
    sim = source_dies_mid_controlled()
    decided = sim.command(RequestFailover("again", "a", "b", CONTROLLED, "oncall"))
    refusal(decided, Code.SOURCE_FAILOVER_IN_PROGRESS, "a")
    refusal(decided, Code.SOURCE_UNREACHABLE_FOR_CONTROLLED, "a")


def test_a_forced_request_is_never_superseded() -> None:
    sim = Simulation(sided({"a": "A", "b": "B"}, "d0"))
    sim.record([health("a", Health.HEALTHY, Health.UNREACHABLE)])
    accepted(sim.command(RequestFailover("first", "a", "b", FORCED, "op")))
    decided = sim.command(RequestFailover("second", "a", "b", FORCED, "op"))
    refusal(decided, Code.SOURCE_FAILOVER_IN_PROGRESS, "a")


def test_a_started_mission_is_cancelled_for_no_other_reason() -> None:
    sim = source_dies_mid_controlled()
    running = next(m for m in sim.fleet.missions.values() if m.deployment_id == "d0")
    cancel = ev.MissionCancelled(
        mission_id=running.id, reason_code="HALTED", reason="x", cancelled_at=sim.now
    )
    with pytest.raises(IllegalEvent):
        running.clone().apply(cancel)


def test_a_request_is_superseded_once() -> None:
    sim = source_dies_mid_controlled()
    sim.command(RequestFailover("force", "a", "b", FORCED, "oncall"))
    again = ev.FailoverSuperseded(
        request_id="ctl", superseded_by_request_id="other", requested_by="x", superseded_at=1
    )
    with pytest.raises(IllegalEvent):
        sim.fleet.requests["ctl"].clone().apply(again)


def test_a_copy_left_by_a_superseded_mission_stays_guarded_if_the_takeover_fails() -> None:
    """d1 was fenced to b and runs there when a died; the Forced mission that took it
    over fails at its own fence (Forced fences first). Moving d1 on to c, of b's
    database side, would fence that side in again beside the copy on b: refused, naming
    the old mission, as after a mission that failed after its fence
    (FAILED_COPY_ON_SAME_SIDE)."""
    sim = source_dies_mid_controlled()
    sim.fail("d1", "DESTINATION", StepName.FENCE_DATABASE, "permanent")
    sim.command(RequestFailover("force", "a", "b", FORCED, "oncall"))
    sim.run()
    by_deployment = {(m.request_id, m.deployment_id): m for m in sim.fleet.missions.values()}
    assert by_deployment["force", "d1"].status is MissionStatus.FAILED
    assert by_deployment["force", "d1"].fenced_when_failed is False
    assert sim.fleet.deployments["d1"].cluster_id == "a"  # still recorded on the source
    decided = sim.command(RequestFailover("onward", "a", "c", FORCED, "oncall"))
    message = refusal(decided, Code.FAILED_COPY_ON_SAME_SIDE, "d1")
    assert by_deployment["ctl", "d1"].id in message and "superseded" in message

    # Retried onto b, the copy is taken over; from there it may move on.
    sim.unhang("d1", "DESTINATION", StepName.FENCE_DATABASE)
    accepted(sim.command(RequestFailover("retry", "a", "b", FORCED, "oncall")))
    sim.run()
    assert sim.fleet.requests["retry"].status is RequestStatus.SUCCEEDED
    assert sim.fleet.deployments["d1"].cluster_id == "b"
