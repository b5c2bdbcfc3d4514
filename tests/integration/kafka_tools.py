"""Small helpers for integration tests on the real broker: private topics, draining."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import ConsumerRecord

from jetbridge.common.events import EventCodec, EventRecord, new_event
from jetbridge.common.kafka import DeadLetterPublisher, EventConsumer, EventPublisher
from jetbridge.common.kafka.enrol import create_topics, reports_topics
from jetbridge.common.topics import topic_specs

ConsumerT = TypeVar("ConsumerT")
# Every topic name and prefix the tests made, deleted when the session ends
# (conftest.py): a broker that kept them grew by hundreds of topics a run, and a
# metadata request or a topic creation costs more with each.
MADE_TOPICS: list[str] = []
MADE_PREFIXES: list[str] = []


def private_prefix(kind: str) -> str:
    """A fresh topic prefix of the test's own, deleted with the session's topics."""
    prefix = f"test.{kind}-{uuid.uuid4().hex[:8]}."
    MADE_PREFIXES.append(prefix)
    return prefix


async def delete_made_topics(bootstrap: str) -> int:
    """Delete the topics the tests made; returns how many went."""
    if not (MADE_TOPICS or MADE_PREFIXES):
        return 0
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        made, prefixes = set(MADE_TOPICS), tuple(MADE_PREFIXES)
        names = [t for t in await admin.list_topics() if t in made or t.startswith(prefixes)]
        for start in range(0, len(names), 100):
            await admin.delete_topics(names[start : start + 100])
    finally:
        await admin.close()
    return len(names)


def wired_consumer(
    cls: type[ConsumerT],
    bootstrap: str,
    publisher: EventPublisher,
    codec: EventCodec,
    *,
    topic: str,
    dlq: str,
    group: str,
    handler: Any,
    **options: Any,
) -> ConsumerT:
    """An EventConsumer (or KeyedEventConsumer) on one topic, dead letters to ``dlq``,
    retries 10 ms apart so a test of failures does not wait for the real backoff."""
    return cls(
        bootstrap_servers=bootstrap,
        group_id=group,
        topics=[topic],
        handler=handler,
        dead_letters=DeadLetterPublisher(publisher, consumer_group=group, topic=dlq),
        codec=codec,
        retry_backoff_s=0.01,
        **options,
    )


async def create_topic(bootstrap: str, prefix: str, partitions: int = 3) -> str:
    """A topic of the test's own, so tests never read or pollute the event logs."""
    name = f"test.{prefix}.{uuid.uuid4().hex[:10]}"
    MADE_TOPICS.append(name)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def read_all(
    bootstrap: str, topic: str, *, expected: int, timeout_s: float = 30.0
) -> list[ConsumerRecord]:
    """Every record of ``topic`` from the start, once ``expected`` have arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
        if len(records) >= expected:
            # Anything more that is already there counts too (e.g. unexpected repeats).
            await asyncio.sleep(0.3)
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def create_sandbox(bootstrap: str, clusters: Sequence[str] = ()) -> str:
    """Every topic of topics.toml under a fresh prefix, and the reports topic of each of
    ``clusters``: a private copy of the event bus."""
    prefix = f"sandbox{uuid.uuid4().hex[:8]}."
    MADE_PREFIXES.append(prefix)
    specs = [*topic_specs(), *reports_topics(clusters)]
    await create_topics(bootstrap, prefix, specs, security={})
    return prefix


def health_event(i: int) -> EventRecord:
    """A small valid event (cluster ``c<i>`` became unreachable), for round trips."""
    return new_event(
        "ClusterHealthChanged",
        {"cluster_id": f"c{i}", "previous": "HEALTHY", "current": "UNREACHABLE", "reason": ""},
        aggregate_type="Cluster",
        aggregate_id=f"c{i}",
        producer="test",
        schema_version=1,
    )


async def consume_until(
    consumer: EventConsumer, done: Callable[[], bool], timeout_s: float = 30
) -> None:
    task = asyncio.create_task(consumer.run())
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline and not task.done():
        await asyncio.sleep(0.05)
    await consumer.stop()
    await task
    assert done(), f"consumer stopped early: {consumer.stats}"
