"""Events on the real broker: round trips, poison records, dedupe, commits, tracing."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import Awaitable, Callable

from fastavro import schemaless_writer
from fastavro.utils import generate_many
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from jetbridge.common.events import EventCodec, EventRecord, SchemaRegistry
from jetbridge.common.events.codec import MAGIC
from jetbridge.common.kafka import (
    ConsumedRecord,
    EventConsumer,
    EventPublisher,
)
from jetbridge.common.kafka.headers import event_headers, header_value
from jetbridge.common.telemetry import configure_tracing, consumer_span
from tests.integration.kafka_tools import (
    consume_until,
    create_topic,
    health_event,
    read_all,
    wired_consumer,
)

REGISTRY = SchemaRegistry()
CODEC = EventCodec(REGISTRY)


def _consumer(
    bootstrap: str,
    publisher: EventPublisher,
    topic: str,
    dlq: str,
    group: str,
    handler: Callable[[EventRecord, ConsumedRecord], Awaitable[None]],
) -> EventConsumer:
    return wired_consumer(
        EventConsumer,
        bootstrap,
        publisher,
        CODEC,
        topic=topic,
        dlq=dlq,
        group=group,
        handler=handler,
    )


async def test_every_schema_version_round_trips_through_the_broker(kafka_bootstrap: str) -> None:
    topic = await create_topic(kafka_bootstrap, "roundtrip")
    sent: dict[str, dict[str, object]] = {}
    async with EventPublisher(kafka_bootstrap, client_id="test") as publisher:
        for event_type in REGISTRY.event_types():
            for schema in REGISTRY.versions(event_type):
                for datum in generate_many(schema.parsed, 3):
                    buffer = io.BytesIO(MAGIC + schema.fingerprint)
                    buffer.seek(0, io.SEEK_END)
                    schemaless_writer(buffer, schema.parsed, datum)
                    await publisher.send_raw(topic, b"k", buffer.getvalue(), [])
                    sent[str(uuid.UUID(str(datum["envelope"]["event_id"])))] = datum
    records = await read_all(kafka_bootstrap, topic, expected=len(sent))
    assert len(records) == len(sent)
    for record in records:
        event = CODEC.decode(record.value)
        original = sent[event.event_id]
        assert event.envelope.event_type == original["envelope"]["event_type"]  # type: ignore[index]
        for field, value in event.payload.items():
            if field in original:
                assert value == original[field]


async def test_poison_records_go_to_dead_letters_and_consumption_goes_on(
    kafka_bootstrap: str,
) -> None:
    topic = await create_topic(kafka_bootstrap, "poison", partitions=1)
    dlq = await create_topic(kafka_bootstrap, "dlq", partitions=1)
    handled: list[str] = []

    async def handler(event: EventRecord, _: ConsumedRecord) -> None:
        if event.payload["cluster_id"] == "c3":
            raise RuntimeError("this handler cannot cope with c3")
        handled.append(event.payload["cluster_id"])

    async with EventPublisher(kafka_bootstrap, client_id="test") as publisher:
        await publisher.send_raw(topic, b"c1", CODEC.encode(health_event(1)), [])
        await publisher.send_raw(topic, b"x", b"not avro at all", [("event_id", b"?")])
        await publisher.send_raw(topic, b"y", MAGIC + b"\x01" * 8 + b"\x02", [])
        await publisher.send_raw(topic, b"c3", CODEC.encode(health_event(3)), [])
        await publisher.send_raw(topic, b"c2", CODEC.encode(health_event(2)), [])
        consumer = _consumer(kafka_bootstrap, publisher, topic, dlq, "poison-test", handler)
        await consumer.start()
        await consume_until(consumer, lambda: len(handled) == 2)

    assert handled == ["c1", "c2"]
    assert consumer.stats.by_reason == {
        "MALFORMED_RECORD": 1,
        "UNKNOWN_SCHEMA_FINGERPRINT": 1,
        "HANDLER_FAILED": 1,
    }
    dead = await read_all(kafka_bootstrap, dlq, expected=3)
    reasons = [header_value(r.headers, "dlq.reason") for r in dead]
    assert reasons == ["MALFORMED_RECORD", "UNKNOWN_SCHEMA_FINGERPRINT", "HANDLER_FAILED"]
    assert [header_value(r.headers, "dlq.source_offset") for r in dead] == ["1", "2", "3"]
    assert dead[0].value == b"not avro at all"  # kept unchanged for inspection
    assert all(header_value(r.headers, "dlq.source_topic") == topic for r in dead)


async def test_repeats_are_dropped_and_commits_survive_a_restart(kafka_bootstrap: str) -> None:
    topic = await create_topic(kafka_bootstrap, "dedupe")
    dlq = await create_topic(kafka_bootstrap, "dlq")
    events = [health_event(i) for i in range(200)]
    handled: list[str] = []

    async def handler(event: EventRecord, _: ConsumedRecord) -> None:
        handled.append(event.event_id)

    async with EventPublisher(kafka_bootstrap, client_id="test") as publisher:
        await publisher.publish_many_to(topic, events)
        await publisher.publish_many_to(topic, events[:50])  # a producer-side repeat
        first = _consumer(kafka_bootstrap, publisher, topic, dlq, "dedupe-test", handler)
        await first.start()
        await consume_until(first, lambda: first.stats.handled + first.stats.duplicates == 250)
        assert sorted(handled) == sorted(e.event_id for e in events)
        assert first.stats.duplicates == 50

        # A second member of the group after a clean stop starts where the first committed.
        await publisher.publish_many_to(topic, [health_event(1000)])
        second = _consumer(kafka_bootstrap, publisher, topic, dlq, "dedupe-test", handler)
        await second.start()
        await consume_until(second, lambda: second.stats.handled == 1)
    assert len(handled) == 201
    assert second.stats.duplicates == 0


async def test_trace_context_crosses_the_broker(kafka_bootstrap: str) -> None:
    exporter = InMemorySpanExporter()
    configure_tracing("test", exporter)
    topic = await create_topic(kafka_bootstrap, "trace", partitions=1)
    tracer = trace.get_tracer("test")
    async with EventPublisher(kafka_bootstrap, client_id="test") as publisher:
        with tracer.start_as_current_span("produce") as producing:
            event = health_event(7)
            await publisher.send_raw(topic, b"k", CODEC.encode(event), event_headers(event))
            trace_id = producing.get_span_context().trace_id
    [record] = await read_all(kafka_bootstrap, topic, expected=1)
    consumed = ConsumedRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers),
        timestamp_ms=record.timestamp,
    )
    with consumer_span(consumed, "handle") as span:
        assert span.get_span_context().trace_id == trace_id
    assert (
        header_value(
            record.headers,
            "traceparent",
        )
        is not None
    )


async def test_a_rebalance_in_mid_stream_loses_nothing_and_repeats_nothing(
    kafka_bootstrap: str,
) -> None:
    topic = await create_topic(kafka_bootstrap, "rebalance", partitions=6)
    dlq = await create_topic(kafka_bootstrap, "dlq")
    events = [health_event(i) for i in range(3000)]
    seen_by: dict[str, list[str]] = {"a": [], "b": []}
    # The first member is slow (3,000 events take it 30 s or more) so the second one's
    # join, which lands on the first's next heartbeat (3 s), always comes mid-stream: with
    # both at 1 ms the first could finish every event before the rebalance on a quiet
    # machine, and the second saw nothing (a CI failure).
    pace = {"a": 0.01, "b": 0.001}

    def collector(name: str) -> Callable[[EventRecord, ConsumedRecord], Awaitable[None]]:
        async def handler(event: EventRecord, _: ConsumedRecord) -> None:
            seen_by[name].append(event.event_id)
            await asyncio.sleep(pace[name])

        return handler

    async with EventPublisher(kafka_bootstrap, client_id="test") as publisher:
        await publisher.publish_many_to(topic, events)
        first = _consumer(kafka_bootstrap, publisher, topic, dlq, "rebalance", collector("a"))
        second = _consumer(kafka_bootstrap, publisher, topic, dlq, "rebalance", collector("b"))
        await first.start()
        first_task = asyncio.create_task(first.run())
        deadline = time.monotonic() + 120
        while len(seen_by["a"]) < 300:
            assert time.monotonic() < deadline, "the first consumer handled too little"
            await asyncio.sleep(0.01)
        await second.start()  # joins: partitions move from the first to the second
        second_task = asyncio.create_task(second.run())
        while len(seen_by["b"]) < 300:
            assert time.monotonic() < deadline, (
                f"the second consumer never got partitions (the first handled"
                f" {len(seen_by['a'])} of {len(events)})"
            )
            await asyncio.sleep(0.01)
        await first.stop()  # leaves: its partitions move to the second
        await first_task
        deadline = time.monotonic() + 120
        while len(set(seen_by["a"]) | set(seen_by["b"])) < len(events):
            assert time.monotonic() < deadline, "events were lost in the rebalances"
            await asyncio.sleep(0.05)
        await second.stop()
        await second_task

    handled = seen_by["a"] + seen_by["b"]
    assert set(handled) == {e.event_id for e in events}
    assert len(handled) == len(events), f"{len(handled) - len(events)} events handled twice"
