"""A cancelled request's started missions finish, through the Dispatcher too.

The Navigator cancels a request's missions that have not started and lets the started
ones finish; it ends the request once every mission is terminal, and clears a Forced
mission's source clean-up later, when the unreachable source comes back. The
Dispatcher once skipped every clearance of a cancelled request: that clean-up never
reached the source, whose old copy of the Deployment stayed for good. The Navigator's
own decisions (its pure simulation) feed the Dispatcher's state here.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from jetbridge.common.events.envelope import new_event
from jetbridge.dispatcher.domain.model import DispatchState
from jetbridge.dispatcher.service_layer.dispatch import Dispatcher
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import CancelFailover, RequestFailover
from jetbridge.navigator.domain.policy import BlastRadius, FailoverPolicy
from jetbridge.navigator.domain.vocabulary import CleanupStatus, FailoverMode, Health
from tests.unit.navigator.builders import cluster_events, deployment, health
from tests.unit.navigator.sim import Simulation

from .test_dispatch_ended import NoView, Published, RecordingClient


def _payload(event: ev.DomainEvent) -> dict[str, Any]:
    return {
        k: v.value if isinstance(v, enum.Enum) else v for k, v in dataclasses.asdict(event).items()
    }


async def test_the_source_clean_up_of_a_cancelled_requests_mission_is_dispatched() -> None:
    world = cluster_events("a") + cluster_events("b")
    world += [deployment("d0", "a", priority=2), deployment("d1", "a", priority=1)]
    sim = Simulation(world)
    sim.record([health("a", Health.HEALTHY, Health.UNREACHABLE)])
    one_at_a_time = FailoverPolicy(blast_radius=BlastRadius(max_concurrent_missions=1))
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.FORCED, "alice", policy=one_at_a_time))
    sim.record(sim.fleet.react(sim.now))  # d0's mission starts, d1's waits
    sim.now += 1000
    sim.command(CancelFailover("r1", "bob"))  # cancels d1's; d0's finishes
    sim.run()
    (end,) = sim.of_type(ev.FailoverCancelled)
    assert (end.succeeded_mission_ids, end.cancelled_mission_ids) == (["r1/d0"], ["r1/d1"])
    assert sim.fleet.missions["r1/d0"].cleanup is CleanupStatus.PENDING
    before = len(sim.log)
    sim.record([health("a", Health.UNREACHABLE, Health.HEALTHY)])  # the source is back
    sim.run()
    (cleanup,) = [
        e
        for e in sim.log[before:]
        if isinstance(e, ev.FlightStepsCleared) and e.flight_id == "r1/d0/source"
    ]
    assert cleanup.steps == ["DELETE_DEPLOYMENT"]

    state = DispatchState()
    state.apply("ClusterRegistered", {"cluster_id": "a", "endpoint": "east:443"})
    for event in sim.log[: sim.log.index(cleanup)]:
        state.apply(event.event_type(), _payload(event))
    client, published = RecordingClient(), Published()
    dispatcher = Dispatcher(client, state, NoView(), published)
    record = new_event(
        "FlightStepsCleared",
        _payload(cleanup),
        aggregate_type="Flight",
        aggregate_id=cleanup.flight_id,
        producer="navigator",
        schema_version=2,
    )
    await dispatcher.handle(record)
    assert [(call, address, flight) for call, address, flight in client.calls] == [
        ("start", "east:443", "r1/d0/source")  # its first clearance: handed over with it
    ], client.calls
    assert [e.event_type for e in published.events] == ["FlightDispatched"]
