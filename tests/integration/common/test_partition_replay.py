"""PartitionReplay on the real broker: whole partitions from offset 0 on every
assignment, ``ready`` and ``sync()`` as read barriers, and replicas of one group that
join and leave while the others keep replaying (the churn DP-Link's ownership sees).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaProducer, TopicPartition

from jetbridge.common.events import EventCodec, EventRecord
from jetbridge.common.kafka import ConsumedRecord
from jetbridge.common.kafka.replay import PartitionReplay
from tests.integration.kafka_tools import create_topic, health_event

CODEC = EventCodec()
PARTITIONS = 4


class Replica:
    """One PartitionReplay, what it handled per partition, and what it was told."""

    def __init__(self, bootstrap: str, topic: str, group: str | None) -> None:
        self.handled: Counter[int] = Counter()
        self.ready_calls: list[set[int]] = []
        self.revoked_calls: list[set[int]] = []
        self.replay = PartitionReplay(
            bootstrap_servers=bootstrap,
            topics=[topic],
            handler=self._handle,
            group_id=group,
            on_ready=self._on_ready,
            on_revoked=self._on_revoked,
            session_timeout_ms=6000,
            heartbeat_interval_ms=500,
        )
        self.task: asyncio.Task[None] | None = None

    def _handle(self, _: EventRecord, consumed: ConsumedRecord) -> None:
        self.handled[consumed.partition] += 1

    async def _on_ready(self, tps: set[TopicPartition]) -> None:
        self.ready_calls.append({tp.partition for tp in tps})

    async def _on_revoked(self, tps: set[TopicPartition]) -> None:
        self.revoked_calls.append({tp.partition for tp in tps})

    @property
    def partitions(self) -> set[int]:
        return {tp.partition for tp in self.replay.assigned}

    async def __aenter__(self) -> Replica:
        await self.replay.start()
        self.task = asyncio.create_task(self.replay.run())
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.replay.stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, 30)


async def publish(bootstrap: str, topic: str, per_partition: int) -> None:
    """``per_partition`` events on each partition (placed explicitly, not by key)."""
    async with AIOKafkaProducer(bootstrap_servers=bootstrap) as producer:
        for i in range(per_partition * PARTITIONS):
            value = CODEC.encode(health_event(i))
            await producer.send_and_wait(topic, value=value, partition=i % PARTITIONS)


async def until(check: object, timeout_s: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():  # type: ignore[operator]
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def topic_with(bootstrap: str, per_partition: int) -> AsyncIterator[str]:
    topic = await create_topic(bootstrap, "replay", partitions=PARTITIONS)
    await publish(bootstrap, topic, per_partition)
    yield topic


async def test_without_a_group_every_partition_is_replayed_then_followed(
    kafka_bootstrap: str,
) -> None:
    async with topic_with(kafka_bootstrap, 5) as topic, Replica(kafka_bootstrap, topic, None) as r:
        await asyncio.wait_for(r.replay.ready.wait(), 30)
        assert r.handled == Counter(dict.fromkeys(range(PARTITIONS), 5))
        assert set().union(*r.ready_calls) == set(range(PARTITIONS))
        await publish(kafka_bootstrap, topic, 1)
        await r.replay.sync()  # returns only once the new records are handled
        assert r.handled == Counter(dict.fromkeys(range(PARTITIONS), 6))


async def test_replicas_joining_and_leaving_each_replay_what_they_are_given(
    kafka_bootstrap: str,
) -> None:
    per_partition = 3
    async with topic_with(kafka_bootstrap, per_partition) as topic:
        group = f"replay-{topic}"
        async with Replica(kafka_bootstrap, topic, group) as first:
            await until(
                lambda: first.replay.ready.is_set() and len(first.partitions) == 4, 30, "first"
            )
            for round_ in range(3):  # a second replica joins, then leaves, three times
                async with Replica(kafka_bootstrap, topic, group) as second:
                    await until(
                        lambda: (
                            first.replay.ready.is_set()
                            and second.replay.ready.is_set()
                            and first.partitions | second.partitions == set(range(PARTITIONS))
                            and bool(first.partitions)
                            and bool(second.partitions)
                        ),
                        30,
                        f"round {round_}: split and caught up",
                    )
                    assert not first.partitions & second.partitions
                    # each replayed its partitions from offset 0, whole
                    for p in second.partitions:
                        assert second.handled[p] == per_partition, (p, second.handled)
                await until(
                    lambda: first.replay.ready.is_set() and len(first.partitions) == 4,
                    30,
                    f"round {round_}: first has all again",
                )
                assert second.revoked_calls, "the leaving replica was told what it gave up"
            # every (re)assignment replayed whole partitions: a multiple of per_partition
            assert all(n % per_partition == 0 for n in first.handled.values()), first.handled
            assert set().union(*first.ready_calls) == set(range(PARTITIONS))
