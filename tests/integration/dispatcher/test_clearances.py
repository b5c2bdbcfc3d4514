"""The Dispatcher hands Navigator's clearances and cancellations to a real agent (real
broker, loopback mTLS, Flightdeck on PostgreSQL)."""

from __future__ import annotations

import time
from pathlib import Path

import grpc

from jetbridge.common.events import EventCodec, EventRecord, new_event
from jetbridge.dispatcher.entrypoints.app import DispatcherApp
from jetbridge.flightdeck import FlightState
from tests.integration.dplink.helpers import publish, registered, wait_until
from tests.integration.kafka_tools import create_topic, read_all
from tests.integration.planes import flightdeck_on, make_tls, unique_cluster

from .test_dispatcher import FailFirstStartFlights, _agent, planned, settings

CODEC = EventCodec()


def flight_event(
    event_type: str, flight_id: str, version: int = 1, **payload: object
) -> EventRecord:
    return new_event(
        event_type,
        {"flight_id": flight_id, **payload},
        aggregate_type="Flight",
        aggregate_id=flight_id,
        producer="test",
        schema_version=version,
    )


def cleared(flight_id: str, *steps: str, attempts: list[int] | None = None) -> EventRecord:
    """A v1 clearance (Flightdeck counts the attempts), or a v2 one that numbers them."""
    now = int(time.time() * 1000)
    numbered = {} if attempts is None else {"attempts": attempts, "version": 2}
    return flight_event(
        "FlightStepsCleared",
        flight_id,
        cleared_at=now,
        not_before=now,
        steps=list(steps),
        **numbered,  # type: ignore[arg-type]
    )


async def test_clearances_reach_flightdeck_once_and_cancel_stops_the_flight(
    kafka_bootstrap: str, postgres_dsn: str, tmp_path: Path
) -> None:
    cluster = unique_cluster()
    tls = make_tls(tmp_path, cluster)
    work = await create_topic(kafka_bootstrap, "dispatcher-work", partitions=3)
    outcomes = await create_topic(kafka_bootstrap, "dispatcher-outcomes", partitions=3)
    # The first StartFlight is refused: Navigator's retry clearance hands the flight over.
    refuse_once = FailFirstStartFlights(1, grpc.StatusCode.FAILED_PRECONDITION)
    async with flightdeck_on(postgres_dsn) as deck:
        agent = await _agent(cluster, tls.cluster(cluster), deck, refuse_once)
        lost, kept = planned(cluster, "m-lost"), planned(cluster, "m-kept")
        lost_id, kept_id = lost.payload["flight_id"], kept.payload["flight_id"]
        # A flight the agent does not have when its second step is cleared (its
        # Flightdeck lost it): the ClearSteps finds none and starts it with the clearance.
        gone = planned(cluster, "m-gone")
        gone_id = gone.payload["flight_id"]
        # Numbered as Navigator counts: attempt 1 of the namespace was never delivered.
        first = cleared(kept_id, "CREATE_NAMESPACE", "APPLY_EXTERNAL_SECRETS", attempts=[2, 1])
        await publish(
            kafka_bootstrap,
            work,
            registered(cluster, f"127.0.0.1:{agent.port}"),
            lost,
            cleared(lost_id, "CREATE_NAMESPACE", attempts=[1]),
        )
        app = DispatcherApp(settings(kafka_bootstrap, work, outcomes, tls.root))
        await app.start()
        stats = app.consumer.stats
        try:
            await wait_until(
                lambda: stats.handled + stats.skipped >= 3, 30, "the lost flight refused"
            )
            await publish(
                kafka_bootstrap,
                work,
                cleared(lost_id, "CREATE_NAMESPACE", attempts=[2]),
                kept,
                first,
                first,  # a repeat: the consumer drops it, the agent would apply it once
                gone,
                cleared(gone_id, "APPLY_EXTERNAL_SECRETS", attempts=[1]),
            )
            await wait_until(
                lambda: stats.handled + stats.skipped + stats.duplicates >= 9,
                30,
                "the flights and their clearances handled",
            )
            # Cancelled once dispatched: a flight already ended on the log when its plan
            # is read would not be dispatched at all (test_dispatcher).
            await publish(
                kafka_bootstrap,
                work,
                flight_event("FlightCancelled", kept_id, reason="mission FAILED", cancelled_at=1),
            )
            await wait_until(
                lambda: stats.handled + stats.skipped + stats.duplicates >= 10,
                30,
                "all records handled",
            )
            stored = {fid: await deck.get(fid) for fid in (lost_id, kept_id, gone_id)}
        finally:
            await app.stop()
            await agent.stop(None)

    lost_row, kept_row, gone_row = stored[lost_id], stored[kept_id], stored[gone_id]
    assert lost_row is not None and kept_row is not None and gone_row is not None
    assert (lost_row.state, lost_row.cleared_through, lost_row.step_attempts) == (
        FlightState.QUEUED,
        0,
        {0: 2},
    )
    assert kept_row.step_attempts == {0: 2, 1: 1}  # the clearance's numbers, not a count
    assert (gone_row.state, gone_row.cleared_through, gone_row.step_attempts) == (
        FlightState.QUEUED,
        1,
        {1: 1},
    )
    assert kept_row.state is FlightState.CANCELLED  # queued: cancelled at once
    assert list(app.dispatcher.cancelled) == [kept_id]

    events = [CODEC.decode(r.value) for r in await read_all(kafka_bootstrap, outcomes, expected=4)]
    by_flight: dict[str, list[tuple[str, list[str], bool | None, list[int]]]] = {}
    for e in events:
        by_flight.setdefault(e.payload["flight_id"], []).append(
            (
                e.event_type,
                list(e.payload["steps"]),
                e.payload.get("created"),
                e.payload["step_attempts"],
            )
        )
    # The plans sent nothing: each flight went over with its first clearance.
    assert by_flight[lost_id] == [
        ("FlightDispatchFailed", ["CREATE_NAMESPACE"], None, [1]),
        ("FlightDispatched", ["CREATE_NAMESPACE"], True, [2]),
    ]
    assert by_flight[kept_id] == [
        ("FlightDispatched", ["CREATE_NAMESPACE", "APPLY_EXTERNAL_SECRETS"], True, [2, 1]),
    ]
    assert by_flight[gone_id] == [("FlightDispatched", ["APPLY_EXTERNAL_SECRETS"], True, [1])]
