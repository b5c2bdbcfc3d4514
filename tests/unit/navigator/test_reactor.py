"""The service layer's incremental Reactor decides exactly what ``Fleet.react`` decides.

Two fleets receive the same outside events; one reacts with ``Fleet.react`` (the
reference: copy and scan everything), the twin with the Reactor (only what changed or
came due). After every reaction the decided events must be equal, in the same order,
and the two fleets must stay equal. Checked on the whole-fleet Hypothesis machine and
on larger scripted runs (limits, retries, hangs and deadlines, failures, halts,
unreachable clusters, failback).
"""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import RequestFailover
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.policy import BlastRadius, FailoverPolicy, RetryPolicy
from jetbridge.navigator.domain.vocabulary import (
    CleanupStatus,
    FailoverMode,
    Health,
    RequestStatus,
    StepName,
)
from jetbridge.navigator.service_layer.reactor import Reactor
from tests.unit.navigator.builders import cluster_events, deployment, health
from tests.unit.navigator.sim import Simulation
from tests.unit.navigator.test_fleet_stateful import OUTCOMES, FleetMachine


class TwinMachine(FleetMachine):
    """The whole-fleet machine, with a Reactor-driven twin checked at every reaction."""

    twin: Fleet
    reactor: Reactor

    def record(self, events: list[ev.DomainEvent]) -> None:
        if not hasattr(self, "twin"):
            self.twin = Fleet()
            self.reactor = Reactor(self.twin)
        super().record(events)
        if events is not getattr(self, "_reacted", None):
            for e in events:
                self.reactor.apply(e)

    def reaction(self) -> None:
        expected = self.fleet.react(self.now)
        got = self.reactor.react(self.now)
        assert got == expected
        self._reacted = expected
        self.record(expected)

    @rule()
    def react(self) -> None:
        self.reaction()
        assert self.fleet.react(self.now) == []
        assert self.reactor.react(self.now) == []

    @rule(data=st.data())
    def data_plane_answers_all(self, data: st.DataObject) -> None:
        for fid in self._active_flights():
            outcome = data.draw(st.sampled_from(["ok"] * 8 + OUTCOMES))
            if outcome not in ("silent", "duplicate"):
                self.answer(fid, outcome)
        self.reaction()

    @invariant()
    def twin_equals_live(self) -> None:
        if hasattr(self, "twin"):
            assert self.twin == self.fleet


TestReactorTwin = TwinMachine.TestCase
TestReactorTwin.settings = settings(max_examples=40, stateful_step_count=80, deadline=None)


class TwinSimulation(Simulation):
    """The scripted data plane, reacting through both paths and comparing."""

    def __init__(self, events: Iterable[ev.DomainEvent], slots: int | None = None) -> None:
        self.twin = Fleet()
        self.reactor = Reactor(self.twin)
        self.reactions = 0
        super().__init__(events, slots=slots)

    def record(self, events: Iterable[ev.DomainEvent]) -> list[ev.DomainEvent]:
        recorded = super().record(events)
        for e in recorded:
            self.reactor.apply(e)
        return recorded

    def run(self, max_rounds: int = 20_000, tick_ms: int = 1_000, settle: bool = True) -> None:
        """``settle=False``: stop after ``max_rounds`` (to add outside events mid-run)."""
        for _ in range(max_rounds):
            expected = self.fleet.react(self.now)
            got = self.reactor.react(self.now)
            assert got == expected, f"at {self.now}: {got[:3]} != {expected[:3]}"
            for e in expected:
                self.fleet.apply(e)
                self.log.append(e)
            self.reactions += 1
            progressed = bool(expected) | bool(self.data_plane())
            if progressed:
                self.now += tick_ms
                continue
            wake = self.next_wakeup()
            if wake is None:
                assert self.twin == self.fleet
                return
            self.now = max(self.now + tick_ms, wake)
        if settle:
            raise AssertionError("simulation did not settle")


def world(n: int, slots: int | None = None) -> TwinSimulation:
    events = cluster_events("a") + cluster_events("b") + cluster_events("c")
    events += [deployment(f"d{i:02d}", "a", priority=i % 7) for i in range(n)]
    return TwinSimulation(events, slots=slots)


def policy(limit: int, ratio: float = 1.0, attempts: int = 3) -> FailoverPolicy:
    return FailoverPolicy(
        retry=RetryPolicy(max_attempts=attempts, backoff_base_seconds=2),
        blast_radius=BlastRadius(max_concurrent_missions=limit, halt_failure_ratio=ratio),
    )


def test_same_decisions_with_limits_retries_hangs_and_failures() -> None:
    sim = world(30)
    sim.fail("d03", "DESTINATION", StepName.CREATE_NAMESPACE, "transient", "transient")
    sim.fail("d05", "SOURCE", StepName.STOP_SCHEDULING, "hang")  # deadlines fire
    sim.fail("d07", "DESTINATION", StepName.UPSERT_DEPLOYMENT, "permanent")
    sim.fail("d09", "SOURCE", StepName.DRAIN_TASKS, "drain_timeout:3")
    sim.fail("d11", "DESTINATION", StepName.APPLY_EXTERNAL_SECRETS, "dispatch")
    sim.fail("d13", "DESTINATION", StepName.FENCE_DATABASE, "wrong_epoch")
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op", policy=policy(4)))
    sim.run()
    assert sim.fleet.requests["r1"].status is RequestStatus.FAILED
    assert sim.reactions > 50


def test_same_decisions_while_flights_wait_in_a_data_plane_queue() -> None:
    # Two slots per cluster: queued flights' claim deadlines move with other flights'
    # progress, so the due index fires early and must still decide as Fleet.react.
    sim = world(24, slots=2)
    sim.fail("d02", "SOURCE", StepName.DRAIN_TASKS, "hang")
    sim.fail("d04", "DESTINATION", StepName.UPSERT_DEPLOYMENT, "transient")
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op", policy=policy(0)))
    sim.run()
    failed = {m.deployment_id for m in sim.fleet.missions.values() if m.status.value == "FAILED"}
    assert failed == {"d02"}  # its drain hangs through every attempt
    late = sim.of_type(ev.FlightStepDeadlineExceeded)
    assert {e.flight_id for e in late if isinstance(e, ev.FlightStepDeadlineExceeded)} == {
        "r1/d02/source"  # and no flight waiting behind it in the queue timed out
    }


def test_same_decisions_with_a_halt_and_a_forced_failback_to_an_unreachable_source() -> None:
    sim = world(12)
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op", policy=policy(3)))
    sim.run()
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED
    # Forced back from an unreachable source: cleanup waits until the source returns.
    sim.record([health("b", Health.HEALTHY, Health.UNREACHABLE)])
    sim.command(RequestFailover("r2", "b", "a", FailoverMode.FORCED, "op", policy=policy(5)))
    sim.run()
    assert sim.fleet.requests["r2"].status is RequestStatus.SUCCEEDED
    pending = [m for m in sim.fleet.missions.values() if m.cleanup is CleanupStatus.PENDING]
    assert len(pending) == 12
    sim.record([health("b", Health.UNREACHABLE, Health.HEALTHY)])
    sim.run()
    assert all(m.cleanup is CleanupStatus.COMPLETED for m in pending)
    # Then a request that halts after the first failures.
    for i in range(12):
        sim.fail(f"d{i:02d}", "DESTINATION", StepName.CREATE_NAMESPACE, "permanent")
    ratio = policy(2, ratio=0.2, attempts=1)
    sim.command(RequestFailover("r3", "a", "c", FailoverMode.CONTROLLED, "op", policy=ratio))
    sim.run()
    assert sim.fleet.requests["r3"].halted
    assert sim.twin == sim.fleet


def test_same_decisions_when_deployments_appear_on_the_source_mid_failover() -> None:
    sim = world(8)
    sim.fail("d02", "DESTINATION", StepName.UPSERT_DEPLOYMENT, "permanent")
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op", policy=policy(2)))
    # One between the judgment and the start, two while missions run, one elsewhere.
    sim.record([deployment("early", "a", created_at=sim.now)])
    sim.run(max_rounds=6, settle=False)
    sim.record([deployment("late", "a", created_at=sim.now, priority=9)])
    sim.record([deployment("gs", "a", created_at=sim.now, mechanism="GIT_SYNC")])
    sim.record([deployment("on-c", "c", created_at=sim.now)])
    sim.run()
    r = sim.fleet.requests["r1"]
    assert r.status is RequestStatus.FAILED
    assert {"r1/early", "r1/late", "r1/gs"} <= set(r.mission_ids)
    assert "r1/on-c" not in r.mission_ids
    assert sim.fleet.deployments["late"].cluster_id == "b"
    assert sim.fleet.missions["r1/gs"].status.value == "CANCELLED"
    assert sim.twin == sim.fleet


def test_same_decisions_when_a_forced_request_supersedes_a_controlled_one() -> None:
    sim = world(10)
    for i in (1, 4, 7):  # their drains never end: running when the source dies
        sim.fail(f"d{i:02d}", "SOURCE", StepName.DRAIN_TASKS, "hang")
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "op", policy=policy(4)))
    sim.run(max_rounds=12, settle=False)
    sim.record([health("a", Health.HEALTHY, Health.UNREACHABLE)])
    sim.command(RequestFailover("r2", "a", "b", FailoverMode.FORCED, "op", policy=policy(3)))
    sim.run()
    assert sim.fleet.requests["r1"].status is RequestStatus.CANCELLED
    assert sim.fleet.requests["r2"].status is RequestStatus.SUCCEEDED
    assert all(d.cluster_id == "b" for d in sim.fleet.deployments.values())
