"""Rebuild in-memory state by reading whole partitions from offset 0, then follow them.

For state a service keeps in memory from an event log (DP-Link's registrations, the
Dispatcher's endpoints and cancellations), as opposed to work it must do once
(``EventConsumer``, which commits offsets). Nothing is committed here: every
(re)assignment replays the partition, so the state never depends on a checkpoint.

Two modes:

- ``group_id`` set: Kafka's group protocol splits the partitions among replicas, and
  ``on_revoked`` / ``on_ready`` tell the owner when a partition leaves or becomes
  caught up (DP-Link's cluster ownership);
- ``group_id`` None: every partition of the topics is assigned to this process (a
  broadcast table every replica needs whole).

``ready`` is set once every assigned partition has been read up to the end offset it
had when it was assigned: a handler may wait for it before acting on the state.

The rebalance listener only records a new assignment; the seek to offset 0 and the
end-offset read happen in ``run()``'s loop. Awaiting the consumer inside the listener
(as this module once did) makes the group's rebalance wait on calls that may
themselves wait for the group to settle: a replica can hang in a rebalance.
``sync()`` is the stronger read barrier: it returns once everything on the assigned
partitions at the time of the call has been applied (e.g. a cancellation published
before the flight that a handler is about to dispatch).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import IllegalStateError
from aiokafka.structs import ConsumerRecord

from jetbridge.common.events.codec import EventCodec
from jetbridge.common.events.envelope import EventRecord
from jetbridge.common.events.errors import EventCodecError
from jetbridge.common.kafka.deadletter import ConsumedRecord
from jetbridge.common.kafka.headers import unwanted
from jetbridge.common.kafka.security import kafka_security

log = logging.getLogger(__name__)

Handler = Callable[[EventRecord, ConsumedRecord], Awaitable[None] | None]
PartitionsCallback = Callable[[set[TopicPartition]], Awaitable[None]]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, replay: PartitionReplay) -> None:
        self._replay = replay

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._replay._revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._replay._assigned(set(assigned))


class PartitionReplay:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topics: Sequence[str],
        handler: Handler,
        group_id: str | None = None,
        codec: EventCodec | None = None,
        on_ready: PartitionsCallback | None = None,
        on_revoked: PartitionsCallback | None = None,
        client_id: str = "jetbridge-replay",
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        wanted: frozenset[str] | None = None,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.wanted = wanted  # event types the handler folds; others are not decoded
        self.codec = codec or EventCodec()
        self.ready = asyncio.Event()
        self.assigned: set[TopicPartition] = set()
        self._caught_up: set[TopicPartition] = set()
        self._targets: dict[TopicPartition, int] = {}
        self._to_replay: set[TopicPartition] = set()  # assigned, not yet sought to 0
        self._generation = 0  # assignments seen, so a replay start knows it is stale
        self._topics = list(topics)
        self._bootstrap = bootstrap_servers
        self._security = kafka_security() if security is None else security
        self._handler = handler
        self._group_id = group_id
        self._on_ready = on_ready
        self._on_revoked = on_revoked
        self._stopping = asyncio.Event()
        self._progress = asyncio.Condition()
        self._probe: AIOKafkaConsumer | None = None
        self._probe_lock = asyncio.Lock()
        self._sync_calls = 0
        self._last_probe: tuple[int, dict[TopicPartition, int]] | None = None
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            fetch_max_wait_ms=100,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
            **self._security,
        )

    @property
    def kafka(self) -> AIOKafkaConsumer:
        """The underlying client, for read-only probes (lag sampling)."""
        return self._consumer

    async def start(self) -> None:
        """Connect and take the partitions; a start that fails closes the client, so
        the caller may build a new replay and try again (the broker away at start)."""
        try:
            await self._consumer.start()
            if self._group_id is not None:
                self._consumer.subscribe(self._topics, listener=_Listener(self))
                return
            partitions = await self._all_partitions()
        except BaseException:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            raise
        self._consumer.assign(list(partitions))
        self._assigned(partitions)

    async def stop(self) -> None:
        self._stopping.set()

    async def _all_partitions(self) -> set[TopicPartition]:
        """Every partition of the topics (the consumer's own metadata is lazy)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, **self._security)
        await admin.start()
        try:
            described = await admin.describe_topics(self._topics)
        finally:
            await admin.close()
        missing = [d["topic"] for d in described if d["error_code"] != 0]
        if missing:
            raise LookupError(f"topics not found: {missing}")
        return {
            TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
        }

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                if self._to_replay:
                    await self._begin_replay()
                batches = await self._consumer.getmany(timeout_ms=100, max_records=1000)
                for tp, records in batches.items():
                    if tp in self._to_replay or tp not in self.assigned:
                        continue  # read again from offset 0 once the seek is made
                    for record in records:
                        await self._handle(record)
                await self._check_caught_up()
                async with self._progress:
                    self._progress.notify_all()
        finally:
            if self.assigned and self._on_revoked is not None:
                await self._on_revoked(set(self.assigned))
            await self._consumer.stop()
            if self._probe is not None:
                await self._probe.stop()

    async def sync(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a plain bound
        """Wait until every record on the assigned partitions right now has been handled.

        End offsets come from a separate, paused probe consumer: asking the fetching
        consumer itself from another task stalled on its metadata lock under load.
        """
        async with asyncio.timeout(timeout):
            targets = await self._end_offsets_from_now()
            while not await self._reached(targets):
                async with self._progress:
                    await self._progress.wait()

    async def _end_offsets_from_now(self) -> dict[TopicPartition, int]:
        """End offsets read after this call began; concurrent callers share one read.

        A caller that arrives while a read is under way waits for the next one (the
        one under way may have asked the broker before the caller's records were
        written); every caller waiting then shares it: two reads per burst of
        callers, however many there are (the Dispatcher syncs once per dispatch).
        """
        self._sync_calls += 1
        ticket = self._sync_calls
        async with self._probe_lock:
            if self._last_probe is not None and self._last_probe[0] >= ticket:
                return self._last_probe[1]
            covers = self._sync_calls
            assigned = set(self.assigned)
            probe = await self._probe_for(assigned)
            targets = dict(await probe.end_offsets(list(assigned)))
            self._last_probe = (covers, targets)
            return targets

    async def _reached(self, targets: dict[TopicPartition, int]) -> bool:
        for tp, end in targets.items():
            if tp in self._to_replay:
                return False
            if tp in self.assigned and await self._consumer.position(tp) < end:
                return False
        return True

    async def _probe_for(self, partitions: set[TopicPartition]) -> AIOKafkaConsumer:
        if self._probe is None:
            self._probe = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                isolation_level="read_committed",
                **self._security,
            )
            await self._probe.start()
        if self._probe.assignment() != partitions:
            self._probe.assign(list(partitions))
            self._probe.pause(*partitions)
        return self._probe

    async def _handle(self, record: ConsumerRecord) -> None:
        if unwanted(record.headers, self.wanted):
            return
        consumed = ConsumedRecord(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=tuple(record.headers or ()),
            timestamp_ms=record.timestamp,
        )
        try:
            event = self.codec.decode(consumed.value or b"")
        except EventCodecError as error:  # the group consumers dead-letter it, not us
            log.warning("skipping undecodable record %s: %s", consumed.offset, error.reason)
            return
        result = self._handler(event, consumed)
        if inspect.isawaitable(result):
            await result

    def _assigned(self, partitions: set[TopicPartition]) -> None:
        """Record a new assignment (no I/O: called from the rebalance listener)."""
        self._generation += 1
        self.assigned = set(partitions)
        self._to_replay = set(partitions)
        self._caught_up.clear()
        self.ready.clear()
        if not partitions:
            self.ready.set()

    async def _begin_replay(self) -> None:
        """Seek the newly assigned partitions to 0 and note the end offsets to reach."""
        generation, partitions = self._generation, set(self._to_replay)
        try:
            await self._consumer.seek_to_beginning(*partitions)
            ends = await self._consumer.end_offsets(list(partitions))
        except IllegalStateError:  # reassigned meanwhile; the next loop starts afresh
            return
        if generation != self._generation:
            return
        self._targets = dict(ends)
        self._to_replay.clear()
        log.info("replaying %d partitions", len(partitions))

    async def _revoked(self, partitions: set[TopicPartition]) -> None:
        if self._on_revoked is not None and partitions:
            await self._on_revoked(partitions)
        self.assigned -= partitions
        self._caught_up -= partitions
        self._to_replay -= partitions

    async def _check_caught_up(self) -> None:
        generation = self._generation
        newly: set[TopicPartition] = set()
        try:
            for tp in self.assigned - self._caught_up - self._to_replay:
                if await self._consumer.position(tp) >= self._targets.get(tp, 0):
                    newly.add(tp)
        except IllegalStateError:  # revoked while we asked
            return
        if generation != self._generation:
            return  # a newer assignment: its partitions are judged afresh
        if newly:
            self._caught_up |= newly
            if self._on_ready is not None:
                await self._on_ready(newly)
        if self._caught_up >= self.assigned:
            self.ready.set()
