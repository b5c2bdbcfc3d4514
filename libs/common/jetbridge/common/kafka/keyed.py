"""A consumer that handles many keys at once, each key's records one at a time, in order.

Why: ``EventConsumer`` handles one record after the other, so a handler that waits on
the network (the Dispatcher's RPC to a data plane, then its acks=all publish) caps the
service at 1 / latency records a second, and one data plane that answers slowly holds
up every other. Here the records of one key (by default the event's aggregate: one
flight's decisions) keep their log order, while different keys proceed side by side.

What ``EventConsumer`` guarantees still holds (decode, dead letters, repeats dropped by
event id before the handler, handler retries), and:

- an offset is committed only when that record AND every record before it on its
  partition have been handled (contiguous commits), so a crash repeats at most what
  was in flight, and never skips a record;
- at most ``concurrency`` keys are handled at once and at most ``max_pending`` records
  are held in memory: the consumer stops fetching while it is full;
- a revoked partition is given up within ``revoke_grace_s`` (5 s, half the group's 10 s
  rebalance timeout): its records not started yet are dropped (not committed, so the
  next owner handles them), those being handled get the grace to end and are then
  cancelled, and the handled prefix is committed. A member must rejoin within the
  rebalance timeout; one that waited for every fetched record (up to 2,000 dispatches,
  each with its retries) was put out of the group while it still worked, and the
  partition's next owner handled the same records beside it. A handler cancelled half
  way is handled again by the next owner, so its effects must be idempotent (the
  Dispatcher's are: the agent applies a clearance once, by its id);
- an error that escapes a handler (a dead letter that could not be published) stops
  the consumer, and ``run()`` raises it, as the serial consumer's loop does.

Repeats of one event id share its key, so the dedupe check sees the first one done.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from jetbridge.common.events.envelope import EventRecord
from jetbridge.common.events.errors import EventCodecError
from jetbridge.common.kafka.consumer import EventConsumer, consumed_record
from jetbridge.common.kafka.deadletter import ConsumedRecord
from jetbridge.common.kafka.headers import unwanted
from jetbridge.common.logs import correlation_scope

log = logging.getLogger(__name__)

KeyOf = Callable[[EventRecord], str]


def by_aggregate(event: EventRecord) -> str:
    return event.envelope.aggregate_id


@dataclass(slots=True)
class _Job:
    partition: TopicPartition
    record: ConsumedRecord
    event: EventRecord | None  # None: it did not decode, it goes to the dead letters
    error: EventCodecError | None = None
    started: bool = False


@dataclass(slots=True)
class _Progress:
    """Offsets of one partition in fetch order, and which of them are handled."""

    admitted: deque[int] = field(default_factory=deque)
    handled: set[int] = field(default_factory=set)

    def committable(self) -> int | None:
        """The position after the longest handled prefix, if that prefix grew."""
        position = None
        while self.admitted and self.admitted[0] in self.handled:
            offset = self.admitted.popleft()
            self.handled.discard(offset)
            position = offset + 1
        return position


class _DrainOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: KeyedEventConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self._consumer._give_up(set(revoked))
        self._consumer._forget(set(revoked))

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        return None


class KeyedEventConsumer(EventConsumer):
    def __init__(
        self,
        *,
        concurrency: int = 64,
        max_pending: int = 2_000,
        key_of: KeyOf = by_aggregate,
        revoke_grace_s: float = 5.0,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        if concurrency < 1 or max_pending < 1:
            raise ValueError("need concurrency >= 1 and max_pending >= 1")
        self._key_of = key_of
        self._revoke_grace_s = revoke_grace_s
        self._worker_of: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._max_pending = max_pending
        self._held = 0
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._queues: dict[str, deque[_Job]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._progress: dict[TopicPartition, _Progress] = {}
        self._failure: BaseException | None = None
        self.max_in_flight = 0  # most keys handled at the same moment (a gauge for tests)
        self._in_flight = 0

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.subscribe(self._topics, listener=_DrainOnRevoke(self))

    async def run(self) -> None:
        try:
            while not self._stopping.is_set() and self._failure is None:
                await self._wait_for_room()
                batches = await self._consumer.getmany(timeout_ms=200, max_records=self._max_batch)
                for partition, records in batches.items():
                    for record in records:
                        self._admit(partition, record)
                await self._commit_handled()
            if self._failure is None:
                await self._drain_and_commit()
        finally:
            for worker in self._workers:
                worker.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
            await self._consumer.stop()
        if self._failure is not None:
            raise self._failure

    async def _wait_for_room(self) -> None:
        while not self._room.is_set() and self._failure is None and not self._stopping.is_set():
            try:
                async with asyncio.timeout(0.2):
                    await self._room.wait()
            except TimeoutError:
                await self._commit_handled()

    def _admit(self, partition: TopicPartition, raw: ConsumerRecord) -> None:
        record = consumed_record(raw)
        if unwanted(record.headers, self.wanted):  # nothing to do: handled at once
            self.stats.skipped += 1
            progress = self._progress.setdefault(partition, _Progress())
            progress.admitted.append(record.offset)
            progress.handled.add(record.offset)
            return
        try:
            event: EventRecord | None = self.codec.decode(record.value or b"")
            error = None
            key = self._key_of(event)  # type: ignore[arg-type]
        except EventCodecError as codec_error:
            event, error = None, codec_error
            key = f"undecodable:{partition.topic}:{partition.partition}:{record.offset}"
        self._progress.setdefault(partition, _Progress()).admitted.append(record.offset)
        self._held += 1
        self._idle.clear()
        if self._held >= self._max_pending:
            self._room.clear()
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            self._spawn(key, queue)
        queue.append(_Job(partition, record, event, error))

    def _spawn(self, key: str, queue: deque[_Job]) -> None:
        worker = asyncio.create_task(self._work(key, queue), name=f"keyed-{key[:40]}")
        self._workers.add(worker)
        self._worker_of[key] = worker
        worker.add_done_callback(self._workers.discard)

    async def _work(self, key: str, queue: deque[_Job]) -> None:
        try:
            async with self._slots:
                self._in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self._in_flight)
                try:
                    while queue:
                        queue[0].started = True
                        await self._run_job(queue[0])
                        self._handled(queue.popleft())
                finally:
                    self._in_flight -= 1
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # handed to run(), which raises it
            log.exception("keyed consumer stops: %s", key)
            self._failure = self._failure or error
            self._room.set()
            self._idle.set()
        finally:
            if self._queues.get(key) is queue and not queue:
                del self._queues[key]
            if self._worker_of.get(key) is asyncio.current_task():
                del self._worker_of[key]

    async def _run_job(self, job: _Job) -> None:
        if job.event is None:
            assert job.error is not None
            await self._dead_letter(job.record, job.error.reason, str(job.error))
            return
        with correlation_scope(job.event.envelope.correlation_id):
            await self._handle_event(job.event, job.record)

    def _handled(self, job: _Job) -> None:
        progress = self._progress.get(job.partition)
        if progress is not None:
            progress.handled.add(job.record.offset)
        self._let_go(1)

    def _let_go(self, count: int) -> None:
        """``count`` held records are no longer held (handled, or left to another)."""
        self._held -= count
        if self._held < self._max_pending:
            self._room.set()
        if self._held == 0:
            self._idle.set()

    async def _commit_handled(self) -> None:
        offsets = {}
        for partition, progress in self._progress.items():
            position = progress.committable()
            if position is not None:
                offsets[partition] = position
        if offsets:
            await self._consumer.commit(offsets)

    async def _drain_and_commit(self) -> None:
        """Wait until every fetched record is handled, then commit them all."""
        while self._held and self._failure is None:
            await self._idle.wait()
        if self._failure is None:
            await self._commit_handled()

    async def _give_up(self, revoked: set[TopicPartition]) -> None:
        """A rebalance takes ``revoked``: leave what has not started to the next owner,
        let what runs end within the grace, cancel the rest, commit what was handled."""
        for queue in self._queues.values():
            self._keep(queue, lambda j: j.started or j.partition not in revoked)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._revoke_grace_s
        while self._failure is None and (running := self._running_in(revoked)):
            if loop.time() >= deadline:
                log.warning("revoked with %d record(s) still handled: cancelled", len(running))
                await self._cancel(running, revoked)
                break
            await asyncio.sleep(0.02)
        if self._failure is None:
            await self._commit_handled()

    def _running_in(self, partitions: set[TopicPartition]) -> list[str]:
        return [
            k
            for k, q in self._queues.items()
            if q and q[0].started and q[0].partition in partitions
        ]

    async def _cancel(self, keys: list[str], revoked: set[TopicPartition]) -> None:
        """Stop the workers of ``keys``; their revoked records go to the next owner."""
        for key in keys:
            worker, queue = self._worker_of.get(key), self._queues.get(key)
            if worker is not None:
                worker.cancel()
                await asyncio.gather(worker, return_exceptions=True)
            if queue is None:
                continue
            self._keep(queue, lambda j: j.partition not in revoked)
            if queue:  # another partition's (not with keys by aggregate): a new worker
                self._spawn(key, queue)
            elif self._queues.get(key) is queue:
                del self._queues[key]

    def _keep(self, queue: deque[_Job], keep: Callable[[_Job], bool]) -> None:
        """Leave in ``queue`` only the jobs ``keep`` accepts; the rest will not be handled
        here (nor committed here)."""
        kept = [job for job in queue if keep(job)]
        self._let_go(len(queue) - len(kept))
        queue.clear()
        queue.extend(kept)

    def _forget(self, partitions: set[TopicPartition]) -> None:
        for partition in partitions:
            self._progress.pop(partition, None)
