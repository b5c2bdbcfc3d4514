"""A step the data plane accepted waits in its queue: late only once the queue stops moving.

The 1,000-Deployment run on the local clusters failed half its missions this way: 500
destination flights queued behind 16 Pilot slots, each waited past the 120 s claim
timeout five times, and Navigator failed them while the Pilot was working flat out.
"""

from __future__ import annotations

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import RequestFailover
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.policy import FailoverPolicy, RetryPolicy
from jetbridge.navigator.domain.vocabulary import (
    FailoverMode,
    MissionStatus,
    RequestStatus,
    StepName,
)
from tests.unit.navigator.builders import cluster_events, deployment
from tests.unit.navigator.sim import Simulation

CLAIM_S = RetryPolicy().claim_timeout_seconds


def world(n: int, slots: int) -> Simulation:
    events = cluster_events("a") + cluster_events("b")
    events += [deployment(f"d{i}", "a", priority=i) for i in range(n)]
    return Simulation(events, slots=slots)


def request(sim: Simulation, mode: FailoverMode) -> None:
    sim.command(RequestFailover("r1", "a", "b", mode, "alice", policy=FailoverPolicy()))


def tick(sim: Simulation, seconds: int) -> None:
    for _ in range(seconds):
        sim.record(sim.fleet.react(sim.now))
        sim.data_plane()
        sim.now += 1_000


def longest_queue_wait_ms(sim: Simulation) -> int:
    """The longest time from a flight's acceptance to its next step start."""
    accepted: dict[str, int] = {}
    longest = 0
    for e in sim.log:
        if isinstance(e, ev.FlightDispatched):
            accepted.setdefault(e.flight_id, e.dispatched_at)
        elif isinstance(e, ev.FlightStepStarted) and e.flight_id in accepted:
            longest = max(longest, e.started_at - accepted.pop(e.flight_id))
    return longest


def test_a_long_queue_on_a_working_data_plane_is_not_a_lost_claim() -> None:
    sim = world(40, slots=1)
    request(sim, FailoverMode.FORCED)
    sim.run()
    assert longest_queue_wait_ms(sim) > 2 * CLAIM_S * 1_000  # the queue really was long
    assert sim.of_type(ev.FlightStepDeadlineExceeded) == []
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED
    assert Fleet.replay(sim.log) == sim.fleet


def test_a_data_plane_that_accepts_but_never_starts_still_times_out() -> None:
    sim = world(1, slots=0)  # the agent answers, no Pilot claims
    request(sim, FailoverMode.FORCED)
    tick(sim, 5)
    dst = sim.fleet.flights["r1/d0/destination"]
    assert dst.dispatched_at is not None
    tick(sim, CLAIM_S)
    late = sim.of_type(ev.FlightStepDeadlineExceeded)
    assert [(e.step, e.attempt) for e in late if isinstance(e, ev.FlightStepDeadlineExceeded)][
        :1
    ] == [(StepName.FENCE_DATABASE.value, 1)]
    sim.run()  # every retry waits in the same dead queue
    assert sim.fleet.missions["r1/d0"].status is MissionStatus.FAILED


def test_a_queue_behind_a_long_running_step_waits_for_that_steps_deadline() -> None:
    sim = world(2, slots=1)
    sim.fail("d0", "SOURCE", StepName.DRAIN_TASKS, "hang")  # holds cluster a's only slot
    request(sim, FailoverMode.CONTROLLED)
    tick(sim, 3 * CLAIM_S)  # silent for longer than a claim timeout, yet busy
    queued = sim.fleet.flights["r1/d1/source"]
    assert queued.dispatched_at is not None and queued.current() is not None
    assert queued.current().attempts == 1  # type: ignore[union-attr]
    assert sim.of_type(ev.FlightStepDeadlineExceeded) == []
    sim.unhang("d0", "SOURCE", StepName.DRAIN_TASKS)
    sim.run()
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED
