"""The projector beside the Navigator in a sandbox, and the live == rebuilt check.

``LiveReadModel`` runs the real projector (aiokafka consumer -> PostgreSQL schema
``navigator_read`` of the test's database) on the sandbox ledger while the Navigator
decides. ``check`` waits until the Navigator's relay has published all it stored and
the projector has caught up, then checks that the projector folded the very fleet the
Navigator holds, rebuilds the ledger into a fresh schema and compares the checksums of
every table.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from jetbridge.common import topics
from jetbridge.common.eventstore import count_unpublished
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.projections.projector import Projector
from jetbridge.navigator.projections.store import ReadModelStore
from tests.polling import eventually


async def end_offsets(bootstrap: str, topic: str) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer._client.force_metadata_update()
            found = consumer.partitions_for_topic(topic) or set()
            partitions = [TopicPartition(topic, p) for p in found]
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): o for tp, o in ends.items() if o > 0}


@dataclass
class LiveReadModel:
    dsn: str
    bootstrap: str
    prefix: str
    store: ReadModelStore | None = None
    projector: Projector | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def topic(self) -> str:
        return self.prefix + topics.FAILOVER_EVENTS

    async def start(self) -> None:
        self.store = await ReadModelStore.open(self.dsn, "navigator_read")
        self.projector = Projector(self.store, self.bootstrap, self.topic, poll_ms=50)
        self.task = asyncio.create_task(self.projector.run(self.stop), name="projector")

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, timeout=15)
        if self.store is not None:
            await self.store.close()

    async def caught_up(self) -> bool:
        assert self.task is not None and self.projector is not None
        if self.task.done():
            self.task.result()
            raise AssertionError("the projector stopped")
        ends = await end_offsets(self.bootstrap, self.topic)
        return all(self.projector.positions.get(tp, 0) >= o for tp, o in ends.items())

    async def all_published(self) -> bool:
        conn = await asyncpg.connect(self.dsn)
        try:
            return not await count_unpublished(conn)
        finally:
            await conn.close()

    async def folded(self, live: Fleet) -> None:
        """The projector folded exactly the Navigator's fleet (every folded event is there)."""
        assert self.projector is not None
        projected = self.projector.fold.fleet

        async def same() -> bool:
            return await self.all_published() and await self.caught_up() and projected == live

        await eventually(same, "the projector to fold the Navigator's fleet", every=0.1)

    async def rebuild_equals_live(self) -> dict[str, tuple[int, str]]:
        """Rebuild the (now still) ledger into a fresh schema; every table's checksum matches."""
        assert self.store is not None
        await eventually(self.caught_up, "the projector to catch up", every=0.1)
        schema = f"rebuilt_{uuid.uuid4().hex[:8]}"
        rebuilt = await ReadModelStore.open(self.dsn, schema)
        try:
            report = await Projector(rebuilt, self.bootstrap, self.topic).rebuild()
        finally:
            await rebuilt.close()
        live = await self.store.checksums()
        assert report.refused == 0 and report.undecodable == 0
        assert report.checksums == live, f"rebuilt {report.checksums} != live {live}"
        return live
