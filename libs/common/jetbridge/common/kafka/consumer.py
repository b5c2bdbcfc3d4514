"""Consumer base: decode, drop repeats, handle, commit; poison records to dead letters.

Guarantees, in order of importance:
- an offset is committed only after every record before it was handled (or
  dead-lettered): nothing is lost on a crash, some records may come again;
- repeats (same event id) are dropped before the handler sees them;
- a record that cannot be decoded, or whose handler keeps failing, goes to the
  dead-letter topic with the reason and consumption goes on;
- on rebalance the partition is not revoked in the middle of a batch: the listener
  waits for the batch in hand to be handled and committed;
- ``stop()`` finishes the batch in hand, commits, and leaves the group.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from jetbridge.common.events.codec import EventCodec
from jetbridge.common.events.envelope import EventRecord
from jetbridge.common.events.errors import EventCodecError
from jetbridge.common.kafka.deadletter import ConsumedRecord, DeadLetterPublisher
from jetbridge.common.kafka.dedupe import DedupeStore, InMemoryDedupe
from jetbridge.common.kafka.headers import unwanted
from jetbridge.common.kafka.security import kafka_security
from jetbridge.common.logs import correlation_scope

log = logging.getLogger(__name__)

Handler = Callable[[EventRecord, ConsumedRecord], Awaitable[None]]


@dataclass
class ConsumerStats:
    handled: int = 0
    skipped: int = 0  # event types the consumer does not handle, never decoded
    duplicates: int = 0
    dead_lettered: int = 0
    handler_retries: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


class _WaitForBatch(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        async with self._lock:  # the batch in hand is handled and committed first
            pass

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        return None


class EventConsumer:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        topics: Sequence[str],
        handler: Handler,
        dead_letters: DeadLetterPublisher,
        codec: EventCodec | None = None,
        dedupe: DedupeStore | None = None,
        max_batch: int = 500,
        handler_attempts: int = 3,
        retry_backoff_s: float = 0.05,
        wanted: frozenset[str] | None = None,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        # Event types the handler acts on (None: all). Others are committed without
        # being decoded: the Dispatcher acts on 4 of the ledger's ~30 events per Deployment.
        self.wanted = wanted
        self.codec = codec or EventCodec()
        self.dedupe = dedupe or InMemoryDedupe()
        self.stats = ConsumerStats()
        self._handler = handler
        self._dead_letters = dead_letters
        self._topics = list(topics)
        self._max_batch = max_batch
        self._attempts = handler_attempts
        self._backoff = retry_backoff_s
        self._batch_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            **(kafka_security() if security is None else security),
        )

    @property
    def kafka(self) -> AIOKafkaConsumer:
        """The underlying client, for read-only probes (lag sampling)."""
        return self._consumer

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.subscribe(self._topics, listener=_WaitForBatch(self._batch_lock))

    async def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Consume until ``stop()``; then commit what was handled and leave the group."""
        try:
            while not self._stopping.is_set():
                batches = await self._consumer.getmany(timeout_ms=200, max_records=self._max_batch)
                if batches:
                    async with self._batch_lock:
                        await self._handle_batches(batches)
        finally:
            await self._consumer.stop()

    async def _handle_batches(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for partition, records in batches.items():
            for record in records:
                await self._handle_one(consumed_record(record))
                offsets[partition] = record.offset + 1
        await self._consumer.commit(offsets)

    async def _handle_one(self, record: ConsumedRecord) -> None:
        if unwanted(record.headers, self.wanted):
            self.stats.skipped += 1
            return
        try:
            event = self.codec.decode(record.value or b"")
        except EventCodecError as error:
            await self._dead_letter(record, error.reason, str(error))
            return
        await self._handle_event(event, record)

    async def _handle_event(self, event: EventRecord, record: ConsumedRecord) -> None:
        """Drop a repeat, else handle with retries; a handler that keeps failing sends
        the record to the dead letters."""
        if await self.dedupe.seen(event.event_id):
            self.stats.duplicates += 1
            return
        with correlation_scope(event.envelope.correlation_id):
            for attempt in range(1, self._attempts + 1):
                try:
                    await self._handler(event, record)
                    break
                except Exception as error:
                    if attempt == self._attempts:
                        log.exception("handler gave up on %s", event.event_type)
                        await self._dead_letter(record, "HANDLER_FAILED", repr(error))
                        return
                    self.stats.handler_retries += 1
                    await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        await self.dedupe.remember(event.event_id)
        self.stats.handled += 1

    async def _dead_letter(self, record: ConsumedRecord, reason: str, detail: str) -> None:
        log.warning(
            "dead-lettering %s[%d]@%d: %s",
            record.topic,
            record.partition,
            record.offset,
            reason,
            extra={"reason": reason},
        )
        await self._dead_letters.send(record, reason=reason, detail=detail)
        self.stats.dead_lettered += 1
        self.stats.by_reason[reason] = self.stats.by_reason.get(reason, 0) + 1


def consumed_record(record: ConsumerRecord) -> ConsumedRecord:
    return ConsumedRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
        timestamp_ms=record.timestamp,
    )
