"""The Dispatcher on the real broker, handing flights to real agents over loopback mTLS."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from jetbridge.agent.adapters.facts_static import StaticFactsSource
from jetbridge.agent.adapters.grpc_server import AgentServer, DataPlaneServicer
from jetbridge.agent.service_layer.flights import FlightService
from jetbridge.common.events import EventCodec, EventRecord, new_event
from jetbridge.common.health import Health
from jetbridge.dispatcher.entrypoints.app import DispatcherApp
from jetbridge.dispatcher.entrypoints.settings import DispatcherSettings
from jetbridge.flightdeck import Flightdeck
from tests.integration.dplink.helpers import publish, registered, wait_until
from tests.integration.kafka_tools import create_topic, read_all
from tests.integration.planes import flightdeck_on, make_tls, sample_facts, unique_cluster

CODEC = EventCodec()


def settings(
    kafka_bootstrap: str, work: str, outcomes: str, tls_root: Path, **tuning: Any
) -> DispatcherSettings:
    """A Dispatcher of its own group on a sandbox work topic (its state read there too),
    its outcomes and dead letters on another."""
    return DispatcherSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        group_id=f"test-dispatcher-{uuid.uuid4().hex[:8]}",
        work_topic=work,
        state_topics=(work,),
        outcomes_topic=outcomes,
        dead_letter_topic=outcomes,
        tls_dir=tls_root,
        **tuning,
    )


def planned(cluster_id: str, mission_id: str, request_id: str = "r-1") -> EventRecord:
    flight_id = f"f-{uuid.uuid4().hex[:8]}"
    return new_event(
        "FlightPlanned",
        {
            "flight_id": flight_id,
            "mission_id": mission_id,
            "request_id": request_id,
            "deployment_id": f"d-{mission_id}",
            "kind": "DESTINATION",
            "cluster_id": cluster_id,
            "mode": "CONTROLLED",
            "fencing_epoch": 3,
            "drain_timeout_seconds": 600,
            "image": "registry.example.com/airflow:1.2.3",
            "planned_at": int(time.time() * 1000),
            "steps": ["CREATE_NAMESPACE", "APPLY_EXTERNAL_SECRETS", "UPSERT_DEPLOYMENT"],
            "step_deadline_seconds": [60, 120, 600],
        },
        aggregate_type="Flight",
        aggregate_id=flight_id,
        producer="test",
        schema_version=1,
    )


def first_cleared(plan: EventRecord) -> EventRecord:
    """Navigator's first clearance of a planned flight: what hands it to the plane."""
    flight_id = str(plan.payload["flight_id"])
    now = int(time.time() * 1000)
    return new_event(
        "FlightStepsCleared",
        {
            "flight_id": flight_id,
            "cleared_at": now,
            "not_before": now,
            "steps": ["CREATE_NAMESPACE"],
            "attempts": [1],
        },
        aggregate_type="Flight",
        aggregate_id=flight_id,
        producer="test",
        schema_version=2,
    )


def with_clearance(*plans: EventRecord) -> list[EventRecord]:
    return [record for plan in plans for record in (plan, first_cleared(plan))]


def cancelled_mission(mission_id: str) -> EventRecord:
    return new_event(
        "MissionCancelled",
        {
            "mission_id": mission_id,
            "reason_code": "OPERATOR",
            "reason": "cancelled by test",
            "cancelled_at": int(time.time() * 1000),
        },
        aggregate_type="Mission",
        aggregate_id=mission_id,
        producer="test",
        schema_version=1,
    )


def cancelled_request(request_id: str, *cancelled_missions: str) -> EventRecord:
    """The request's end after a cancel: the missions it cancelled are gated (its
    started ones finish, so a request's cancel alone gates nothing)."""
    return new_event(
        "FailoverCancelled",
        {
            "request_id": request_id,
            "cancelled_by": "test",
            "cancelled_at": int(time.time() * 1000),
            "cancelled_mission_ids": list(cancelled_missions),
        },
        aggregate_type="FailoverRequest",
        aggregate_id=request_id,
        producer="test",
        schema_version=1,
    )


def succeeded(flight: EventRecord) -> EventRecord:
    flight_id = str(flight.payload["flight_id"])
    return new_event(
        "FlightSucceeded",
        {"flight_id": flight_id, "succeeded_at": int(time.time() * 1000)},
        aggregate_type="Flight",
        aggregate_id=flight_id,
        producer="test",
        schema_version=1,
    )


class FailFirstStartFlights(grpc.aio.ServerInterceptor):
    """Makes the agent answer the first ``n`` StartFlight calls (unary or batch) with
    ``code``."""

    def __init__(self, n: int, code: grpc.StatusCode) -> None:
        self.remaining = n
        self.code = code

    async def intercept_service(
        self, continuation: Callable[[Any], Awaitable[Any]], details: Any
    ) -> Any:
        if details.method.endswith(("/StartFlight", "/StartFlights")) and self.remaining > 0:
            self.remaining -= 1
            code = self.code

            async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await context.abort(code, "injected transient failure")

            handler = await continuation(details)
            return grpc.unary_unary_rpc_method_handler(
                refuse,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return await continuation(details)


async def _agent(
    cluster_id: str, tls_files: Any, deck: Flightdeck, interceptor: grpc.aio.ServerInterceptor
) -> AgentServer:
    servicer = DataPlaneServicer(
        cluster_id, FlightService(deck), StaticFactsSource(sample_facts()), 1.0
    )
    server = AgentServer(
        servicer,
        tls_files,
        server_factory=lambda interceptors: grpc.aio.server(
            interceptors=[interceptor, *interceptors]
        ),
    )
    await server.start()
    return server


@pytest.mark.parametrize("batch_calls", [True, False], ids=["batch-calls", "unary-calls"])
async def test_retries_a_transient_failure_and_never_dispatches_cancelled_or_ended_flights(
    kafka_bootstrap: str, postgres_dsn: str, tmp_path: Path, batch_calls: bool
) -> None:
    cluster = unique_cluster()
    tls = make_tls(tmp_path, cluster)
    work = await create_topic(kafka_bootstrap, "dispatcher-work", partitions=3)
    outcomes = await create_topic(kafka_bootstrap, "dispatcher-outcomes", partitions=3)
    injected = FailFirstStartFlights(2, grpc.StatusCode.UNAVAILABLE)
    async with flightdeck_on(postgres_dsn) as deck:
        agent = await _agent(cluster, tls.cluster(cluster), deck, injected)
        endpoint = f"127.0.0.1:{agent.port}"
        go, stop_mission, stop_request, ended = (
            planned(cluster, "m-go"),
            planned(cluster, "m-stop"),
            planned(cluster, "m-other", request_id="r-stop"),
            planned(cluster, "m-done"),
        )
        # Cancellations are on the log before the flights they stop.
        await publish(
            kafka_bootstrap,
            work,
            registered(cluster, endpoint),
            cancelled_mission("m-stop"),
            cancelled_request("r-stop", "m-other"),
        )
        go_cleared = first_cleared(go)
        await publish(
            kafka_bootstrap,
            work,
            *with_clearance(stop_mission),
            go,
            go_cleared,
            *with_clearance(stop_request),
        )
        # A flight the Navigator already ended, its decisions read again (a consumer group
        # reset): the data plane may have pruned its row and would run it anew.
        await publish(kafka_bootstrap, work, *with_clearance(ended), succeeded(ended))
        app = DispatcherApp(
            settings(
                kafka_bootstrap,
                work,
                outcomes,
                tls.root,
                backoff_base_s=0.05,
                backoff_cap_s=0.2,
                batch_calls=batch_calls,
            )
        )
        await app.start()
        try:
            # three setup events, three flights cleared, the ended flight's three records
            await wait_until(
                lambda: app.consumer.stats.handled + app.consumer.stats.skipped >= 12,
                30,
                "all twelve records handled",
            )
            stored = {
                f.payload["flight_id"]: await deck.get(f.payload["flight_id"])
                for f in (go, stop_mission, stop_request, ended)
            }
        finally:
            await app.stop()
            await agent.stop(None)

    records = await read_all(kafka_bootstrap, outcomes, expected=1)
    events = [CODEC.decode(r.value) for r in records]
    assert [e.event_type for e in events] == ["FlightDispatched"]
    dispatched = events[0]
    assert dispatched.payload["flight_id"] == go.payload["flight_id"]
    assert dispatched.payload["attempts"] == 3 and dispatched.payload["created"] is True
    assert dispatched.envelope.causation_id == go_cleared.event_id
    assert injected.remaining == 0
    assert stored[go.payload["flight_id"]] is not None
    assert stored[go.payload["flight_id"]].fencing_epoch == 3
    assert stored[stop_mission.payload["flight_id"]] is None
    assert stored[stop_request.payload["flight_id"]] is None
    assert stored[ended.payload["flight_id"]] is None
    assert set(app.dispatcher.skipped) == {
        stop_mission.payload["flight_id"],
        stop_request.payload["flight_id"],
        ended.payload["flight_id"],
    }


async def test_a_permanent_refusal_and_an_unknown_cluster_are_reported(
    kafka_bootstrap: str, postgres_dsn: str, tmp_path: Path
) -> None:
    cluster = unique_cluster()
    tls = make_tls(tmp_path, cluster)
    work = await create_topic(kafka_bootstrap, "dispatcher-work", partitions=3)
    outcomes = await create_topic(kafka_bootstrap, "dispatcher-outcomes", partitions=3)
    refuse_all = FailFirstStartFlights(100, grpc.StatusCode.FAILED_PRECONDITION)
    async with flightdeck_on(postgres_dsn) as deck:
        agent = await _agent(cluster, tls.cluster(cluster), deck, refuse_all)
        refused, orphan = planned(cluster, "m-1"), planned("nowhere", "m-2")
        await publish(kafka_bootstrap, work, registered(cluster, f"127.0.0.1:{agent.port}"))
        await publish(kafka_bootstrap, work, *with_clearance(refused, orphan))
        app = DispatcherApp(
            settings(kafka_bootstrap, work, outcomes, tls.root, registration_wait_s=0.3)
        )
        await app.start()
        try:
            await wait_until(
                lambda: app.consumer.stats.handled + app.consumer.stats.skipped >= 5,
                30,
                "all five records handled",
            )
        finally:
            await app.stop()
            await agent.stop(None)
    events = {
        e.payload["flight_id"]: e
        for e in (
            CODEC.decode(r.value) for r in await read_all(kafka_bootstrap, outcomes, expected=2)
        )
    }
    assert {e.event_type for e in events.values()} == {"FlightDispatchFailed"}
    first = events[refused.payload["flight_id"]].payload
    assert (first["error_code"], first["transient"], first["attempts"]) == (
        "FAILED_PRECONDITION",
        False,
        1,
    )
    second = events[orphan.payload["flight_id"]].payload
    assert (second["error_code"], second["transient"]) == ("UNKNOWN_CLUSTER", True)


async def test_a_replica_joins_its_work_group_only_once_its_state_read_the_log(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Until its state has read the whole log a Dispatcher is not ready and is not in
    the work group: a replica that joined at start took partitions it could not
    dispatch for as long as its replay ran. The replay is held on its first record."""
    cluster = unique_cluster()
    tls = make_tls(tmp_path, cluster)
    work = await create_topic(kafka_bootstrap, "dispatcher-work", partitions=3)
    await publish(kafka_bootstrap, work, registered(cluster, "127.0.0.1:1"))

    health = Health()

    def app_held(gate: asyncio.Event, reached: asyncio.Event) -> DispatcherApp:
        app = DispatcherApp(
            settings(kafka_bootstrap, work, work, tls.root),
            health,
        )
        fold = app.reader.replay._handler

        async def held(event: EventRecord, consumed: Any) -> None:
            reached.set()
            await gate.wait()
            fold(event, consumed)

        app.reader.replay._handler = held
        return app

    gate, reached = asyncio.Event(), asyncio.Event()
    app = app_held(gate, reached)
    health.beat()
    await app.start()
    try:
        await asyncio.wait_for(reached.wait(), 30)
        assert app.consumer.kafka.subscription() == set()  # not even subscribed
        ready, body = health.readiness()
        assert not ready and body["waiting"] == {"state": "folding the Navigator's log"}
        gate.set()
        await wait_until(lambda: bool(app.consumer.kafka.assignment()), 30, "joined the group")
        health.beat()
        ready, body = health.readiness()
        assert ready, body
    finally:
        gate.set()  # a replay held on a record could not stop
        await app.stop()

    # Stopped while still folding: it ends without ever joining, though its replay
    # finishes its record (released only once the stop has begun).
    gate, reached = asyncio.Event(), asyncio.Event()
    still = app_held(gate, reached)
    await still.start()
    await asyncio.wait_for(reached.wait(), 30)
    stopping = asyncio.create_task(still.stop())
    await asyncio.sleep(0)  # the stop has cancelled the work task
    gate.set()
    await asyncio.wait_for(stopping, 15)
    assert still.consumer.kafka.subscription() == set()
