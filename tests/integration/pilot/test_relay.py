"""The Pilot's Flightdeck relay on real PostgreSQL, MariaDB and Kafka: what it publishes
reaches the broker (the reports on the cluster's own topic), and the published rows
are then pruned, never the pending ones; finished flights are pruned too, never a
running one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from jetbridge.common.kafka import EventPublisher
from jetbridge.common.topics import FLIGHT_EVENTS, reports_topic
from jetbridge.flightdeck import Flightdeck, OutboxEvent, Outcome, open_flightdeck
from jetbridge.pilot.service_layer.relay import FlightdeckRelay
from tests.integration.flightdeck.contract import flight
from tests.integration.flightdeck.dbs import mysql_database, postgres_database
from tests.integration.kafka_tools import create_topic, private_prefix, read_all

pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgres_dsn", "mysql_dsn"], ids=["postgresql", "mariadb"])
async def deck(request: pytest.FixtureRequest) -> AsyncIterator[Flightdeck]:
    server = request.getfixturevalue(request.param)
    database = postgres_database if request.param == "postgres_dsn" else mysql_database
    async with database(server, "pilot_relay") as dsn:
        store = await open_flightdeck(dsn)
        try:
            yield store
        finally:
            await store.close()


async def _pending(deck: Flightdeck) -> int:
    return len(await deck.outbox_pending(1000))


async def test_the_relay_publishes_then_prunes_what_it_published(
    deck: Flightdeck, kafka_bootstrap: str
) -> None:
    topic = await create_topic(kafka_bootstrap, "pilot-relay")
    await deck.enqueue_many([flight(1), flight(2)])
    claim, running = await deck.claim("pilot-1", 2, 30)
    events = [OutboxEvent("ignored", f"report {i}".encode(), key=b"flt-1") for i in range(6)]
    await deck.record_step_result(claim, 0, {"ok": True}, events)
    await deck.complete(claim, Outcome.SUCCEEDED)
    async with EventPublisher(kafka_bootstrap, client_id="test-pilot-relay") as publisher:
        relay = FlightdeckRelay(
            deck,
            publisher,
            topic=topic,
            poll_interval_s=0.05,
            keep_published_s=0,
            keep_finished_s=0,
            prune_every_s=0.05,
        )
        task = asyncio.create_task(relay.run())
        try:
            deadline = time.monotonic() + 15
            while relay.pruned < len(events) or relay.pruned_flights < 1:
                assert time.monotonic() < deadline, f"pruned {relay.pruned} of {len(events)}"
                await asyncio.sleep(0.05)
        finally:
            await relay.stop()
            await asyncio.wait_for(task, timeout=10)
    assert relay.published == len(events) and await _pending(deck) == 0
    assert await deck.prune_published(0, 100) == 0  # nothing left at all
    assert relay.pruned_flights == 1 and await deck.get(claim.flight_id) is None
    assert await deck.get(running.flight_id) is not None  # still running: kept
    records = await read_all(kafka_bootstrap, topic, expected=len(events))
    assert sorted(r.value for r in records) == sorted(e.payload for e in events)


async def test_reports_go_to_the_clusters_own_topic(deck: Flightdeck, kafka_bootstrap: str) -> None:
    prefix = private_prefix("relay")
    own = prefix + reports_topic("dp-east")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(own, 1, 1)])
    finally:
        await admin.close()
    await deck.enqueue_many([flight(1)])
    (claim,) = await deck.claim("pilot-1", 1, 30)
    # rows keep the schema's topic (rows written before an upgrade too): routed at publish
    events = [OutboxEvent(FLIGHT_EVENTS, f"report {i}".encode(), key=b"flt-1") for i in range(3)]
    await deck.record_step_result(claim, 0, {"ok": True}, events)
    async with EventPublisher(kafka_bootstrap, client_id="test-pilot-relay") as publisher:
        relay = FlightdeckRelay(deck, publisher, topic_prefix=prefix, cluster_id="dp-east")
        assert await relay.relay_once() == len(events)
    records = await read_all(kafka_bootstrap, own, expected=len(events))
    assert [r.value for r in records] == [e.payload for e in events]  # in outbox order
