"""Blast radius, one writer, cancellation and failback at the domain level."""

from __future__ import annotations

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import CancelFailover, RequestFailover
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.policy import BlastRadius, FailoverPolicy, RetryPolicy
from jetbridge.navigator.domain.reasons import Code
from jetbridge.navigator.domain.vocabulary import (
    FailoverMode,
    Health,
    MissionStatus,
    RequestStatus,
    StepName,
)
from tests.unit.navigator.builders import cluster_events, deployment, health
from tests.unit.navigator.sim import Simulation

PRIORITIES = {"d0": 5, "d1": 50, "d2": 10, "d3": 50, "d4": 1, "d5": 20}


def world() -> Simulation:
    events = cluster_events("a") + cluster_events("b") + cluster_events("c")
    events += [deployment(d, "a", priority=p) for d, p in PRIORITIES.items()]
    return Simulation(events)


def policy(limit: int = 0, ratio: float = 1.0, attempts: int = 1) -> FailoverPolicy:
    return FailoverPolicy(
        retry=RetryPolicy(max_attempts=attempts),
        blast_radius=BlastRadius(max_concurrent_missions=limit, halt_failure_ratio=ratio),
    )


def started_order(sim: Simulation) -> list[str]:
    return [e.mission_id for e in sim.log if isinstance(e, ev.MissionStarted)]


def max_running(sim: Simulation) -> int:
    running, peak = set(), 0
    for e in sim.log:
        if isinstance(e, ev.MissionStarted):
            running.add(e.mission_id)
        elif isinstance(e, ev.MissionSucceeded | ev.MissionFailed):
            running.discard(e.mission_id)
        peak = max(peak, len(running))
    return peak


def test_missions_start_in_priority_order_within_the_concurrency_limit() -> None:
    sim = world()
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op", policy=policy(2)))
    sim.run()
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED
    assert started_order(sim) == [f"r1/{d}" for d in ("d1", "d3", "d5", "d2", "d0", "d4")]
    assert max_running(sim) == 2


def test_no_limit_starts_everything_at_once() -> None:
    sim = world()
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.FORCED, "op"))
    sim.run()
    assert max_running(sim) == 6


def test_halts_new_missions_once_the_failed_share_is_reached() -> None:
    sim = world()
    for d in ("d1", "d3"):  # the two first to start fail for good
        sim.fail(d, "DESTINATION", StepName.CREATE_NAMESPACE, "permanent")
    sim.command(
        RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op", policy=policy(2, 0.3))
    )
    sim.run()
    (halt,) = sim.of_type(ev.MissionsHalted)
    assert isinstance(halt, ev.MissionsHalted)
    assert (halt.failed_count, halt.mission_count) == (2, 6)
    statuses = {m.deployment_id: m.status for m in sim.fleet.missions.values()}
    assert statuses == {
        "d1": MissionStatus.FAILED,
        "d3": MissionStatus.FAILED,
        **{d: MissionStatus.CANCELLED for d in ("d5", "d2", "d0", "d4")},
    }
    (failed,) = sim.of_type(ev.FailoverFailed)
    assert isinstance(failed, ev.FailoverFailed)
    assert failed.failed_mission_ids == ["r1/d1", "r1/d3"]
    assert failed.failed_reason_codes == ["CREATE_NAMESPACE_ERROR"] * 2
    assert len(failed.cancelled_mission_ids) == 4
    # Nothing was fenced or moved for the cancelled ones.
    assert all(sim.fleet.deployments[d].cluster_id == "a" for d in PRIORITIES)


def test_below_the_ratio_the_request_runs_on_and_partial_success_stays_visible() -> None:
    sim = world()
    sim.fail("d2", "DESTINATION", StepName.UPSERT_DEPLOYMENT, "permanent")
    sim.command(
        RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op", policy=policy(2, 0.5))
    )
    sim.run()
    assert not sim.of_type(ev.MissionsHalted)
    (failed,) = sim.of_type(ev.FailoverFailed)
    assert isinstance(failed, ev.FailoverFailed)
    assert failed.failed_mission_ids == ["r1/d2"]
    assert len(failed.succeeded_mission_ids) == 5
    assert sim.fleet.deployments["d2"].cluster_id == "a"
    assert sim.fleet.deployments["d1"].cluster_id == "b"


def test_operator_cancel_lets_running_missions_finish_and_starts_no_more() -> None:
    sim = world()
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op", policy=policy(1)))
    sim.record(sim.fleet.react(sim.now))
    sim.data_plane()
    sim.command(CancelFailover("r1", "bob"))
    assert sim.fleet.requests["r1"].status is RequestStatus.IN_PROGRESS  # d1 still running
    sim.run()
    req = sim.fleet.requests["r1"]
    assert req.status is RequestStatus.CANCELLED
    (cancelled,) = sim.of_type(ev.FailoverCancelled)
    assert isinstance(cancelled, ev.FailoverCancelled)
    assert cancelled.succeeded_mission_ids == ["r1/d1"]
    assert len(cancelled.cancelled_mission_ids) == 5


def test_a_cancel_too_late_to_cancel_any_mission_leaves_the_request_to_succeed() -> None:
    """Every mission had started when the cancel came: it cancelled nothing, every
    Deployment moved, so the request SUCCEEDS (the spec ends a request SUCCEEDED or
    FAILED once its missions complete); the ask stays on the log."""
    sim = world()
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op"))
    sim.record(sim.fleet.react(sim.now))  # no limit: every mission starts
    sim.command(CancelFailover("r1", "bob"))
    sim.run()
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED
    assert not sim.of_type(ev.FailoverCancelled) and not sim.of_type(ev.MissionCancelled)
    assert len(sim.of_type(ev.FailoverCancelRequested)) == 1
    assert {d.cluster_id for d in sim.fleet.deployments.values()} == {"b"}


def test_one_writer_refuses_a_second_request_on_the_same_clusters() -> None:
    sim = world()
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op"))
    same_dest = sim.command(RequestFailover("r2", "c", "b", FailoverMode.CONTROLLED, "op"))
    same_src = sim.command(RequestFailover("r3", "a", "c", FailoverMode.CONTROLLED, "op"))
    assert isinstance(same_dest[-1], ev.FailoverRejected)
    assert Code.DESTINATION_HAS_PENDING_FAILOVER in same_dest[-1].reason_codes
    assert isinstance(same_src[-1], ev.FailoverRejected)
    assert Code.SOURCE_FAILOVER_IN_PROGRESS in same_src[-1].reason_codes
    # Deciding a known request again yields nothing: no duplicate decision on restart.
    assert sim.fleet.decide(RequestFailover("r1", "a", "b", FailoverMode.FORCED, "x"), 0) == []
    sim.run()
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED
    assert sim.fleet.requests["r2"].status is RequestStatus.REJECTED
    # Once r1 ended, the clusters are free again.
    again = sim.command(RequestFailover("r4", "c", "a", FailoverMode.CONTROLLED, "op"))
    assert not any(isinstance(e, ev.FailoverRejected) for e in again)


def test_failback_moves_the_same_deployments_back() -> None:
    sim = world()
    sim.command(RequestFailover("out", "a", "b", FailoverMode.FORCED, "op"))
    sim.run()
    assert {d.cluster_id for d in sim.fleet.deployments.values()} == {"b"}
    back = sim.command(RequestFailover("back", "b", "a", FailoverMode.CONTROLLED, "op"))
    assert len(back) == 1, back  # accepted: relocated Deployments stay eligible
    assert isinstance(back[0], ev.FailoverRequested)
    assert sorted(back[0].deployment_ids) == sorted(PRIORITIES)
    sim.run()
    assert sim.fleet.requests["back"].status is RequestStatus.SUCCEEDED
    assert {d.cluster_id for d in sim.fleet.deployments.values()} == {"a"}
    assert {d.fencing_epoch for d in sim.fleet.deployments.values()} == {2}
    assert {d.writer_cluster_id for d in sim.fleet.deployments.values()} == {"a"}
    # The first request's missions stay as they were; replay agrees with the live state.
    assert sim.fleet.requests["out"].status is RequestStatus.SUCCEEDED
    assert Fleet.replay(sim.log) == sim.fleet
    assert sim.fleet.react(sim.now) == []


def test_no_move_onto_a_cluster_of_the_side_whose_cleanup_is_pending() -> None:
    """Three clusters, two sides: a and c fence with side A, b with side B. A Forced
    move a -> b leaves the old copies on the unreachable a until their clean-ups run;
    moving them on to c would fence side A in again, and the copies on a could write
    beside c's. Refused until the clean-ups end, then accepted."""
    events = cluster_events("a", database_side="A") + cluster_events("b", database_side="B")
    events += cluster_events("c", database_side="A")
    events += [deployment(d, "a", priority=p) for d, p in PRIORITIES.items()]
    sim = Simulation(events)
    sim.record([health("a", Health.HEALTHY, Health.UNREACHABLE)])
    sim.command(RequestFailover("out", "a", "b", FailoverMode.FORCED, "op"))
    sim.run()
    assert sim.fleet.requests["out"].status is RequestStatus.SUCCEEDED

    onward = sim.command(RequestFailover("onward", "b", "c", FailoverMode.FORCED, "op"))
    assert isinstance(onward[-1], ev.FailoverRejected), onward
    codes = list(zip(onward[-1].reason_codes, onward[-1].reason_subjects, strict=True))
    blocked = {s for c, s in codes if c == Code.CLEANUP_PENDING_ON_SAME_SIDE}
    assert blocked == set(PRIORITIES), codes
    message = onward[-1].reason_messages[
        onward[-1].reason_codes.index(Code.CLEANUP_PENDING_ON_SAME_SIDE)
    ]
    assert "out/" in message and "on a (side A)" in message, message

    sim.record([health("a", Health.UNREACHABLE, Health.HEALTHY)])
    sim.run()  # the clean-ups on a run and end
    assert all(
        m.cleanup.value == "COMPLETED" for m in sim.fleet.missions.values() if m.request_id == "out"
    )
    again = sim.command(RequestFailover("again", "b", "c", FailoverMode.FORCED, "op"))
    assert not any(isinstance(e, ev.FailoverRejected) for e in again), again


def test_no_failback_onto_a_cluster_whose_cleanup_of_the_same_deployment_is_pending() -> None:
    """A Forced failover's source clean-up deletes the Deployment's namespace on the old
    source once it is reachable again. Moving the Deployment back there before that
    clean-up has ended would let the stale delete remove the Deployment just restored."""
    sim = world()
    sim.record([health("a", Health.HEALTHY, Health.UNREACHABLE)])
    sim.command(RequestFailover("out", "a", "b", FailoverMode.FORCED, "op"))
    sim.run()
    assert sim.fleet.requests["out"].status is RequestStatus.SUCCEEDED
    pending = {m.deployment_id for m in sim.fleet.missions.values() if m.cleanup.value == "PENDING"}
    assert pending == set(PRIORITIES)
    sim.record([health("a", Health.UNREACHABLE, Health.HEALTHY)])  # back, clean-ups not run yet

    back = sim.command(RequestFailover("back", "b", "a", FailoverMode.FORCED, "op"))
    assert isinstance(back[-1], ev.FailoverRejected), back
    blocked = {
        s
        for c, s in zip(back[-1].reason_codes, back[-1].reason_subjects, strict=True)
        if c == Code.CLEANUP_PENDING_ON_DESTINATION
    }
    assert blocked == set(PRIORITIES)
    message = back[-1].reason_messages[
        back[-1].reason_codes.index(Code.CLEANUP_PENDING_ON_DESTINATION)
    ]
    assert "out/" in message and " a " in message, message
    # Another destination is fine: the clean-up on a does not touch c.
    onward = sim.command(RequestFailover("onward", "b", "c", FailoverMode.FORCED, "op"))
    assert not any(isinstance(e, ev.FailoverRejected) for e in onward), onward
    sim.command(CancelFailover("onward", "op"))
    sim.run()  # the clean-ups on a run and end
    assert sim.fleet.requests["out"].status is RequestStatus.SUCCEEDED
    assert all(
        m.cleanup.value == "COMPLETED" for m in sim.fleet.missions.values() if m.request_id == "out"
    )
    again = sim.command(RequestFailover("again", "b", "a", FailoverMode.FORCED, "op"))
    assert not any(isinstance(e, ev.FailoverRejected) for e in again), again


def test_no_move_beside_the_copy_a_failed_mission_left_on_a_cluster_of_the_same_side() -> None:
    """Three clusters, two sides: a fences with side A, b and c with side B. A mission
    a -> b fails after its fence (b's Deployment never got Ready): the copy on b runs
    with side B's credentials, which the fence left able to connect. Moving the
    Deployment on to c would fence side B in again, and b's copy could write beside
    c's. Refused, naming b; a retry onto b itself is accepted (it takes the copy over),
    after which the copy on b is the Deployment itself."""
    sim = Simulation(sided({"a": "A", "b": "B", "c": "B"}, "d0", "d1"))
    sim.fail("d0", "DESTINATION", StepName.WAIT_READY, "permanent")
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op"))
    sim.run()
    (failed,) = [m for m in sim.fleet.missions.values() if m.status is MissionStatus.FAILED]
    assert failed.deployment_id == "d0" and failed.fenced_when_failed
    assert sim.fleet.deployments["d0"].cluster_id == "a"  # recorded on the source

    cmd = RequestFailover("r2", "a", "c", FailoverMode.CONTROLLED, "op")
    message = refusal(sim.command(cmd), Code.FAILED_COPY_ON_SAME_SIDE, "d0")
    assert f"{failed.id} on b (side B)" in message, message

    accepted(sim.command(RequestFailover("r3", "a", "b", FailoverMode.CONTROLLED, "op")))
    sim.run()
    assert sim.fleet.requests["r3"].status is RequestStatus.SUCCEEDED
    assert sim.fleet.deployments["d0"].cluster_id == "b"
    # Settled: moving on from b is an ordinary move (b's copy is the live one).
    accepted(sim.command(RequestFailover("r4", "b", "a", FailoverMode.CONTROLLED, "op")))


def test_no_move_beside_the_old_copy_a_failed_source_cleanup_left() -> None:
    """Three clusters, two sides: a and c fence with side A, b with side B. A Forced
    move a -> b succeeds, then its source clean-up on a fails for good: the old copy on
    a still runs, its side A credentials refused only while side B holds the database.
    Moving on to c would fence side A in again beside it. Refused, naming a; failing
    back onto a itself is accepted (it takes the old copy over)."""
    sim = Simulation(sided({"a": "A", "b": "B", "c": "A"}, "d0"))
    sim.fail("d0", "SOURCE", StepName.DELETE_DEPLOYMENT, "permanent")
    sim.command(RequestFailover("out", "a", "b", FailoverMode.FORCED, "op"))
    sim.run()
    (mission,) = sim.fleet.missions.values()
    assert mission.status is MissionStatus.SUCCEEDED and mission.cleanup.value == "FAILED"

    cmd = RequestFailover("onward", "b", "c", FailoverMode.FORCED, "op")
    message = refusal(sim.command(cmd), Code.CLEANUP_FAILED_ON_SAME_SIDE, "d0")
    assert f"{mission.id} on a (side A)" in message, message

    accepted(sim.command(RequestFailover("back", "b", "a", FailoverMode.CONTROLLED, "op")))
    sim.run()
    assert sim.fleet.requests["back"].status is RequestStatus.SUCCEEDED
    accepted(sim.command(RequestFailover("again", "a", "b", FailoverMode.CONTROLLED, "op")))


def refusal(decided: list[ev.DomainEvent], code: Code, subject: str) -> str:
    """The message of ``code`` for ``subject`` in the rejection ``decided`` ends with."""
    rejected = decided[-1]
    assert isinstance(rejected, ev.FailoverRejected), decided
    codes = list(zip(rejected.reason_codes, rejected.reason_subjects, strict=True))
    assert (code, subject) in codes, codes
    return rejected.reason_messages[codes.index((code, subject))]


def accepted(decided: list[ev.DomainEvent]) -> None:
    assert not any(isinstance(e, ev.FailoverRejected) for e in decided), decided


def sided(sides: dict[str, str], *deployments: str) -> list[ev.DomainEvent]:
    """Clusters with their database sides, and ``deployments`` on the first one."""
    events = [e for c, side in sides.items() for e in cluster_events(c, database_side=side)]
    first = next(iter(sides))
    return events + [deployment(d, first, priority=i) for i, d in enumerate(deployments)]


def test_a_cancel_after_a_halt_cancelled_nothing_and_the_request_fails_with_its_reasons() -> None:
    """A failure halted the request (its waiting missions cancelled as HALTED), then the
    operator cancelled, which found nothing waiting. The request ends FAILED, naming the
    failure, as it would have without the cancel; not CANCELLED."""
    sim = world()
    sim.fail("d1", "DESTINATION", StepName.CREATE_NAMESPACE, "permanent")
    sim.command(
        RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op", policy=policy(2, 0.1))
    )
    for _ in range(10):
        sim.record(sim.fleet.react(sim.now))
        if sim.fleet.requests["r1"].halted:
            break
        sim.data_plane()
    assert sim.fleet.requests["r1"].halted
    running = [m for m in sim.fleet.missions.values() if m.status is MissionStatus.RUNNING]
    assert [m.id for m in running] == ["r1/d3"]  # it finishes after the cancel
    sim.command(CancelFailover("r1", "bob"))
    sim.run()
    req = sim.fleet.requests["r1"]
    assert req.status is RequestStatus.FAILED
    assert not sim.of_type(ev.FailoverCancelled)
    (failed,) = sim.of_type(ev.FailoverFailed)
    assert isinstance(failed, ev.FailoverFailed)
    assert failed.failed_mission_ids == ["r1/d1"]
    assert failed.succeeded_mission_ids == ["r1/d3"]
    assert len(failed.cancelled_mission_ids) == 4
