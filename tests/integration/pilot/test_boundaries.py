"""Cancellation at a step boundary, and two Pilots sharing one Flightdeck, on the real
local clusters with a PostgreSQL Flightdeck."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from jetbridge.common.health import Health
from jetbridge.flightdeck import FlightState
from jetbridge.navigator.domain.vocabulary import FailoverMode
from jetbridge.pilot.domain.reports import start_of
from jetbridge.pilot.entrypoints.app import PilotApp
from tests.integration.forwarder import forward, refused_address

from .harness import failover_pair, provisioning, tag, wait_final
from .servers import POSTGRESQL, Server
from .test_crash import outbox
from .test_failover import pilots, provision, world


async def test_a_cancelled_flight_stops_at_the_next_step_boundary(
    kube_stack: Any, postgres_dsn: str, kafka_bootstrap: str
) -> None:
    run = tag()
    async with world(kube_stack, Server(POSTGRESQL, postgres_dsn), kafka_bootstrap) as w, pilots(w):
        await provision(w, [f"{run}-c"])
        _, dst = failover_pair(f"req-{run}", f"{run}-c", FailoverMode.FORCED, 1, 5)
        await w.west.deck.enqueue(dst)
        await w.west.deck.clear_steps(dst.flight_id, "c1", 0, len(dst.plan) - 1)
        for _ in range(400):  # the second step (APPLY_EXTERNAL_SECRETS) has started
            events = await outbox(w.west.dsn)
            if sum(start_of(e.event_type, e.payload) is not None for e in events) >= 2:
                break
            await asyncio.sleep(0.02)
        flagged = await w.west.deck.request_cancel(dst.flight_id)
        assert flagged is not None and flagged.state is FlightState.RUNNING  # mid-step
        (final,) = await wait_final(w.west.deck, [dst.flight_id], 60)
        events = await outbox(w.west.dsn)
    assert final.state is FlightState.CANCELLED
    assert final.error == "cancelled at a step boundary"
    assert 2 <= final.current_step < len(dst.plan)  # the running step finished, no more
    started = [s for e in events if (s := start_of(e.event_type, e.payload)) is not None]
    ended = [e for e in events if e.event_type in ("FlightStepSucceeded", "FencingCompleted")]
    assert len(started) == len(ended) == final.current_step  # nothing started after it


async def test_two_pilots_on_one_flightdeck_never_run_a_flight_twice(
    kube_stack: Any, postgres_dsn: str, kafka_bootstrap: str
) -> None:
    run = tag()
    deployments = [f"{run}-p{i}" for i in range(6)]
    async with world(kube_stack, Server(POSTGRESQL, postgres_dsn), kafka_bootstrap) as w:
        apps = [
            PilotApp(
                w.settings(
                    w.east, "A", owner=f"pilot-{n}", max_flights=2, kafka_bootstrap_servers=None
                ),
                cluster=w.east.cluster,
            )
            for n in (1, 2)
        ]
        for app in apps:
            await app.start()
        try:
            await w.east.deck.enqueue_many([provisioning(d) for d in deployments])
            loop = asyncio.get_running_loop()
            started = loop.time()
            done = await wait_final(w.east.deck, [f"provision/{d}" for d in deployments], 240)
            took = loop.time() - started
            peaks = [app.pilot.peak_parallel for app in apps if app.pilot]
        finally:
            for app in apps:
                await app.stop()
        events = await outbox(w.east.dsn)
    assert [f.state for f in done] == [FlightState.SUCCEEDED] * len(deployments)
    owners = Counter(e.payload["owner"] for e in events if e.event_type == "FlightClaimed")
    assert set(owners) == {"pilot-1", "pilot-2"}  # both worked
    assert sum(owners.values()) == len(deployments)  # each flight claimed exactly once
    runs = Counter(
        (e.payload["flight_id"], start[0])
        for e in events
        if (start := start_of(e.event_type, e.payload)) is not None
    )
    assert set(runs.values()) == {1} and len(runs) == 5 * len(deployments)
    assert max(peaks) == 2  # bounded by max_flights
    print(f"\n{len(deployments)} provisionings by 2 Pilots (2 slots each): {took:.1f}s")


async def test_a_pilot_started_while_kafka_is_away_runs_flights_and_reports_later(
    kube_stack: Any, postgres_dsn: str, kafka_bootstrap: str
) -> None:
    """The Pilot needs Kafka only to report. Started with its broker unreachable (the
    bootstrap address refuses connections), it must still claim and run a flight, its
    reports waiting in Flightdeck's outbox, then publish them once the broker answers
    (here: a forwarder starts listening on the bootstrap address). Before, ``start``
    raised and the process exited."""
    run = tag()
    _, port = refused_address()
    async with world(kube_stack, Server(POSTGRESQL, postgres_dsn), kafka_bootstrap) as w:
        away = f"127.0.0.1:{port}"
        probes = Health()
        probes.beat()  # the event loop's heartbeat, which runtime.run starts in a service
        app = PilotApp(
            w.settings(w.east, "A", kafka_bootstrap_servers=away),
            cluster=w.east.cluster,
            health=probes,
        )
        assert probes.readiness()[1]["waiting"] == {"claiming": "opening Flightdeck"}
        await app.start()  # returns: no broker needed to start
        assert probes.readiness()[0]  # ready: it claims, though Kafka is away
        forwarder: asyncio.Server | None = None
        try:
            await w.east.deck.enqueue_many([provisioning(f"{run}-k")])
            (done,) = await wait_final(w.east.deck, [f"provision/{run}-k"], 120)
            assert done.state is FlightState.SUCCEEDED
            assert await w.east.deck.outbox_pending(1000)  # the reports wait
            assert app.relay is None  # still connecting
            forwarder = await forward(port, kafka_bootstrap)
            for _ in range(300):  # the backoff between attempts is at most 10 s
                if app.relay is not None and not await w.east.deck.outbox_pending(1000):
                    break
                await asyncio.sleep(0.1)
            assert app.relay is not None and app.relay.published > 0
            assert await w.east.deck.outbox_pending(1000) == []
        finally:
            await asyncio.wait_for(app.stop(), 30)
            if forwarder is not None:
                forwarder.close()
