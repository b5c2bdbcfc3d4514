"""The keyed consumer on the real broker: per-key order, keys side by side, contiguous
commits, dead letters and repeats as in the serial consumer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict

from aiokafka import AIOKafkaConsumer, TopicPartition

from jetbridge.common.events import EventCodec, EventRecord, SchemaRegistry, new_event
from jetbridge.common.kafka import ConsumedRecord, EventPublisher
from jetbridge.common.kafka.keyed import KeyedEventConsumer, _DrainOnRevoke
from tests.integration.kafka_tools import create_topic, read_all, wired_consumer
from tests.polling import eventually, until

CODEC = EventCodec(SchemaRegistry())


def _event(cluster: str, n: int) -> EventRecord:
    """An event of aggregate ``cluster``; ``reason`` carries its place in the key's order."""
    return new_event(
        "ClusterHealthChanged",
        {"cluster_id": cluster, "previous": "HEALTHY", "current": "DEGRADED", "reason": str(n)},
        aggregate_type="Cluster",
        aggregate_id=cluster,
        producer="test",
        schema_version=1,
    )


def _consumer(
    bootstrap: str,
    publisher: EventPublisher,
    topic: str,
    dlq: str,
    handler: object,
    group: str | None = None,
    **kw: object,
) -> KeyedEventConsumer:
    group = group or f"keyed-{uuid.uuid4().hex[:8]}"
    return wired_consumer(
        KeyedEventConsumer,
        bootstrap,
        publisher,
        CODEC,
        topic=topic,
        dlq=dlq,
        group=group,
        handler=handler,
        **kw,
    )


async def _committed(bootstrap: str, group: str, partition: TopicPartition) -> int | None:
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await probe.start()
    try:
        return await probe.committed(partition)  # type: ignore[no-any-return]
    finally:
        await probe.stop()


async def _until_committed(
    bootstrap: str, group: str, partition: TopicPartition, offset: int, timeout_s: float = 30.0
) -> None:
    """Poll the group's committed offset until it is ``offset`` (a loaded broker can take
    longer than a fixed sleep to see the consumer's commit)."""

    async def there() -> bool:
        return await _committed(bootstrap, group, partition) == offset

    await eventually(there, f"offset {offset} committed", timeout=timeout_s)


async def test_keys_run_side_by_side_and_each_key_keeps_its_order(kafka_bootstrap: str) -> None:
    topic = await create_topic(kafka_bootstrap, "keyed", partitions=3)
    dlq = await create_topic(kafka_bootstrap, "keyed-dlq", partitions=1)
    seen: dict[str, list[int]] = defaultdict(list)

    async def handler(event: EventRecord, _: ConsumedRecord) -> None:
        await asyncio.sleep(0.01)  # a network call
        seen[event.envelope.aggregate_id].append(int(event.payload["reason"]))

    async with EventPublisher(kafka_bootstrap, client_id="test") as publisher:
        sent = [_event(f"c{k}", n) for n in range(8) for k in range(30)]
        await publisher.publish_many_to(topic, sent)
        await publisher.publish_many_to(topic, sent[:5])  # a relay that published twice
        consumer = _consumer(kafka_bootstrap, publisher, topic, dlq, handler, concurrency=16)
        await consumer.start()
        task = asyncio.create_task(consumer.run())
        await until(lambda: sum(map(len, seen.values())) >= 240, "240 records handled")
        await until(
            lambda: consumer.stats.duplicates >= 5, "the five repeats read"
        )  # the repeats were read
        await asyncio.sleep(0.5)  # and had they been handled, they would land by now
        await consumer.stop()
        await task

    assert {key: order for key, order in seen.items()} == {
        f"c{k}": list(range(8)) for k in range(30)
    }
    assert consumer.stats.duplicates == 5
    assert 2 <= consumer.max_in_flight <= 16


async def test_a_slow_key_holds_the_commit_but_not_the_other_keys(kafka_bootstrap: str) -> None:
    topic = await create_topic(kafka_bootstrap, "keyed-slow", partitions=1)
    dlq = await create_topic(kafka_bootstrap, "keyed-slow-dlq", partitions=1)
    release = asyncio.Event()
    handled: list[str] = []

    async def handler(event: EventRecord, _: ConsumedRecord) -> None:
        if event.envelope.aggregate_id == "slow":
            await release.wait()
        handled.append(event.envelope.aggregate_id)

    async with EventPublisher(kafka_bootstrap, client_id="test") as publisher:
        # offsets: 0 fast-0, 1 fast-1, 2 slow, 3 garbage (dead letter), 4..9 fast-2..7
        for n in range(2):
            await publisher.send_raw(topic, b"k", CODEC.encode(_event(f"fast-{n}", n)), [])
        await publisher.send_raw(topic, b"k", CODEC.encode(_event("slow", 0)), [])
        await publisher.send_raw(topic, b"k", b"not avro at all", [])
        for n in range(2, 8):
            await publisher.send_raw(topic, b"k", CODEC.encode(_event(f"fast-{n}", n)), [])
        consumer = _consumer(kafka_bootstrap, publisher, topic, dlq, handler)
        group = consumer._consumer._group_id
        await consumer.start()
        task = asyncio.create_task(consumer.run())
        try:
            await until(
                lambda: len(handled) == 8 and consumer.stats.dead_lettered == 1,
                "eight handled and one dead-lettered",
            )
            partition = TopicPartition(topic, 0)
            # The fetch loops commit what they can: up to the unhandled offset 2, then
            # (several loops later) still there.
            await _until_committed(kafka_bootstrap, group, partition, 2)
            await asyncio.sleep(0.5)
            held = await _committed(kafka_bootstrap, group, partition)
            assert "slow" not in handled
            assert held == 2, f"committed past the unhandled offset 2: {held}"
            release.set()
            await until(lambda: "slow" in handled, "the slow key handled")
        finally:
            release.set()
            await consumer.stop()
            await task
        assert await _committed(kafka_bootstrap, group, partition) == 10

    letters = await read_all(kafka_bootstrap, dlq, expected=1)
    assert [r.value for r in letters] == [b"not avro at all"]


async def test_a_restarted_member_starts_at_the_first_unhandled_record(
    kafka_bootstrap: str,
) -> None:
    """The contiguous commit is what a crash resumes from: nothing handled is lost,
    nothing after the gap was committed."""
    topic = await create_topic(kafka_bootstrap, "keyed-restart", partitions=1)
    dlq = await create_topic(kafka_bootstrap, "keyed-restart-dlq", partitions=1)
    stuck = asyncio.Event()
    first: list[str] = []

    async def hangs_on_b(event: EventRecord, _: ConsumedRecord) -> None:
        if event.envelope.aggregate_id == "b":
            stuck.set()
            await asyncio.Event().wait()  # never returns: the process dies here
        first.append(event.envelope.aggregate_id)

    async with EventPublisher(kafka_bootstrap, client_id="test") as publisher:
        for key in ("a", "b", "c", "d"):
            await publisher.send_raw(topic, b"k", CODEC.encode(_event(key, 0)), [])
        consumer = _consumer(kafka_bootstrap, publisher, topic, dlq, hangs_on_b)
        group = consumer._consumer._group_id
        await consumer.start()
        task = asyncio.create_task(consumer.run())
        await until(lambda: stuck.is_set() and len(first) == 3, "the first consumer stuck after 3")
        # a fetch loop commits a (offset 0) and no further, then the crash comes
        await _until_committed(kafka_bootstrap, group, TopicPartition(topic, 0), 1)
        await asyncio.sleep(0.5)
        task.cancel()  # a crash: no drain, no final commit
        await asyncio.gather(task, return_exceptions=True)

        second: list[str] = []

        async def records(event: EventRecord, _: ConsumedRecord) -> None:
            second.append(event.envelope.aggregate_id)

        again = _consumer(kafka_bootstrap, publisher, topic, dlq, records, group=group)
        await again.start()
        task = asyncio.create_task(again.run())
        await until(lambda: len(second) >= 3, "the second consumer to handle 3")
        await asyncio.sleep(0.5)
        await again.stop()
        await task

    assert sorted(first) == ["a", "c", "d"]
    assert sorted(second) == ["b", "c", "d"], "resumed at offset 1 (b), the first unhandled"


async def test_unwanted_types_are_committed_undecoded_and_garbage_still_dead_lettered(
    kafka_bootstrap: str,
) -> None:
    topic = await create_topic(kafka_bootstrap, "keyed-wanted", partitions=1)
    dlq = await create_topic(kafka_bootstrap, "keyed-wanted-dlq", partitions=1)
    handled: list[str] = []

    async def handler(event: EventRecord, _: ConsumedRecord) -> None:
        handled.append(event.event_type)

    registered = new_event(
        "ClusterRegistered",
        {
            "cluster_id": "c",
            "name": "c",
            "registered_at": 0,
            "failover_enabled": True,
            "endpoint": "127.0.0.1:1",
            "certificate_identity": "",
        },
        aggregate_type="Cluster",
        aggregate_id="c",
        producer="test",
        schema_version=1,
    )
    async with EventPublisher(kafka_bootstrap, client_id="test") as publisher:
        await publisher.publish_many_to(topic, [_event("c", n) for n in range(3)])
        await publisher.publish_many_to(topic, [registered])
        # garbage claiming a skipped type is skipped; garbage with no header is not
        await publisher.send_raw(topic, b"k", b"junk", [("event_type", b"ClusterHealthChanged")])
        await publisher.send_raw(topic, b"k", b"junk without headers", [])
        consumer = _consumer(
            kafka_bootstrap,
            publisher,
            topic,
            dlq,
            handler,
            wanted=frozenset({"ClusterRegistered"}),
        )
        group = consumer._consumer._group_id
        await consumer.start()
        task = asyncio.create_task(consumer.run())
        await until(lambda: handled and consumer.stats.dead_lettered == 1, "one dead-lettered")
        await consumer.stop()
        await task
        assert await _committed(kafka_bootstrap, group, TopicPartition(topic, 0)) == 6

    assert handled == ["ClusterRegistered"]
    assert consumer.stats.skipped == 4
    letters = await read_all(kafka_bootstrap, dlq, expected=1)
    assert [r.value for r in letters] == [b"junk without headers"]


async def test_a_revoked_partition_is_given_up_within_the_grace(kafka_bootstrap: str) -> None:
    """A member must rejoin within the group's rebalance timeout (10 s): one that
    waited for every fetched record was put out of the group while it still worked, and
    the partition's next owner handled the same records beside it. Now: what has not
    started is left to the next owner, what runs gets the grace, then is cancelled."""
    topic = await create_topic(kafka_bootstrap, "keyed-revoke", partitions=1)
    dlq = await create_topic(kafka_bootstrap, "keyed-revoke-dlq", partitions=1)
    stuck, cancelled = asyncio.Event(), asyncio.Event()
    first: list[str] = []

    async def hangs_on_b(event: EventRecord, _: ConsumedRecord) -> None:
        if event.envelope.aggregate_id == "b":
            stuck.set()
            try:
                await asyncio.Event().wait()  # a dispatch retrying a silent data plane
            finally:
                cancelled.set()
        first.append(f"{event.envelope.aggregate_id}{event.payload['reason']}")

    async with EventPublisher(kafka_bootstrap, client_id="test") as publisher:
        for key, n in (("a", 0), ("b", 0), ("b", 1), ("c", 0)):
            await publisher.send_raw(topic, b"k", CODEC.encode(_event(key, n)), [])
        consumer = _consumer(kafka_bootstrap, publisher, topic, dlq, hangs_on_b, revoke_grace_s=0.5)
        group = consumer._consumer._group_id
        await consumer.start()
        task = asyncio.create_task(consumer.run())
        await until(
            lambda: stuck.is_set() and sorted(first) == ["a0", "c0"],
            "the first consumer stuck on a0, c0",
        )
        partition = TopicPartition(topic, 0)
        started = time.monotonic()
        await _DrainOnRevoke(consumer).on_partitions_revoked([partition])  # a rebalance
        gave_up_s = time.monotonic() - started
        assert cancelled.is_set() and 0.4 <= gave_up_s < 3
        assert await _committed(kafka_bootstrap, group, partition) == 1  # a0 handled only
        assert consumer._held == 0 and not consumer._queues
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

        second: list[str] = []

        async def records(event: EventRecord, _: ConsumedRecord) -> None:
            second.append(f"{event.envelope.aggregate_id}{event.payload['reason']}")

        again = _consumer(kafka_bootstrap, publisher, topic, dlq, records, group=group)
        await again.start()
        task = asyncio.create_task(again.run())
        await until(lambda: len(second) >= 3, "the second consumer to handle 3")
        await again.stop()
        await task
    # The next owner starts at b0: the cancelled record, the one queued behind it (in
    # its key's order), and c0 again (handled, but after the gap: never committed).
    assert sorted(second) == ["b0", "b1", "c0"] and second.index("b0") < second.index("b1")
