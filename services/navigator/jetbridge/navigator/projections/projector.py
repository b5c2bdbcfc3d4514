"""The projector: ledger partitions in, read-model rows out, effectively once.

Live: it takes the schema's writer lock, folds the ledger from the beginning up to the
stored positions WITHOUT writing (the aggregates are kept in memory, so they must be
warmed up first), then applies each batch and stores the positions it reached in the
same transaction. A lost database session (a restarted server, a cut connection) ends
that life, not the projector: it takes the lock again and warms up afresh. Rebuild: an
empty schema, the ledger from the beginning up to its end offsets at start, batches
written while the next ones are folded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from jetbridge.common.backoff import Backoff
from jetbridge.common.events import SchemaRegistry, default_registry
from jetbridge.common.kafka.consumer import consumed_record
from jetbridge.common.kafka.deadletter import DeadLetterPublisher
from jetbridge.common.kafka.security import kafka_security
from jetbridge.common.metrics import sample_lag
from jetbridge.common.sql.availability import postgres_unavailable
from jetbridge.navigator.projections.fold import LedgerDecoder, LedgerFold
from jetbridge.navigator.projections.store import ReadModelStore

log = logging.getLogger(__name__)
Offsets = dict[TopicPartition, int]
RELOCK_BACKOFF = Backoff(base=0.5, cap=10.0)  # before a new life, after a lost session


@dataclass
class Report:
    events: int = 0  # ledger records read
    applied: int = 0
    repeats: int = 0
    refused: int = 0
    undecodable: int = 0
    rows: int = 0
    seconds: float = 0.0
    checksums: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class Projector:
    def __init__(
        self,
        store: ReadModelStore,
        bootstrap: str,
        topic: str,
        *,
        registry: SchemaRegistry | None = None,
        batch: int = 5000,
        poll_ms: int = 200,
        linger_ms: int = 0,
        dead_letters: DeadLetterPublisher | None = None,
        backoff: Backoff = RELOCK_BACKOFF,
    ) -> None:
        self.store = store
        self.backoff = backoff
        self.lives = 0  # sessions begun; more than one means the database went away
        # Live only: a record no reader knows goes to the dead-letter topic once, when
        # first met (warm-up and rebuilds meet it again and only count it).
        self.dead_letters = dead_letters
        self._undecodable: list[tuple[ConsumerRecord, str]] = []
        self.bootstrap = bootstrap
        self.topic = topic
        self.decoder = LedgerDecoder(registry or default_registry())
        self.fold = LedgerFold()
        self.batch = batch
        self.poll_ms = poll_ms
        # Live: after a fetch that returned records, keep fetching for up to this long
        # (or ``batch`` records) before writing. An aggregate changed several times in
        # that window is written once, and one transaction carries the lot; the read
        # model lags by at most this much more.
        self.linger_s = linger_ms / 1000
        self.report = Report()
        self.positions: dict[tuple[str, int], int] = {}  # as committed
        self.ready = asyncio.Event()  # warmed up, applying live

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=8 << 20,
            fetch_max_bytes=64 << 20,
            **kafka_security(),
        )

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        for _ in range(50):
            found = consumer.partitions_for_topic(self.topic)
            if found:
                return [TopicPartition(self.topic, p) for p in sorted(found)]
            await consumer._client.force_metadata_update()
        raise RuntimeError(f"topic {self.topic} does not exist")

    # -- live -----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Project live until ``stop``, riding out PostgreSQL going away.

        When the lock's session is lost, another projector may have taken the lock and
        moved the positions since, so the next life starts as a new process would: it
        waits for the lock, reads the positions and warms a fresh fold up to them.
        Before, the first write after a PostgreSQL restart ended the projector, and the
        read model stood still until something started it again (chaos seed 7 in CI:
        that write came after the failover's end, when the run restarted no exits).
        """
        failures = 0
        while not stop.is_set():
            try:
                await self._live(stop)
                return
            except Exception as error:
                if not postgres_unavailable(error):
                    raise
                failures = 0 if self.ready.is_set() else failures + 1  # a life that got going
                delay = self.backoff.delay(min(failures, 10))
                log.warning(
                    "read model session lost (%s: %s); warming up again in %.2fs",
                    type(error).__name__,
                    error,
                    delay,
                )
                self._forget()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    def _forget(self) -> None:
        """Drop what a life folded: the next one rebuilds it from the ledger."""
        self.ready.clear()
        self.fold = LedgerFold()
        self._undecodable.clear()
        self.positions = {}

    async def _live(self, stop: asyncio.Event) -> None:
        await self.store.take_lock()
        self.lives += 1
        stored = await self.store.positions()
        self.positions = dict(stored)
        consumer = self._consumer()
        await consumer.start()
        lag: asyncio.Task[None] | None = None
        try:
            partitions = await self._partitions(consumer)
            consumer.assign(partitions)
            until = {tp: stored.get((tp.topic, tp.partition), 0) for tp in partitions}
            started = time.monotonic()
            async for records in self._read(consumer, partitions, until):
                self._fold(records)
            self.fold.take_rows()  # already in the read model
            self._undecodable.clear()  # met in an earlier life, dead-lettered then
            log.info(
                "warmed up on %d events in %.2fs", self.fold.applied, time.monotonic() - started
            )
            for tp in partitions:
                if (tp.topic, tp.partition) in stored:
                    consumer.seek(tp, until[tp])
                else:
                    await consumer.seek_to_beginning(tp)
            self.ready.set()
            lag = asyncio.create_task(sample_lag(consumer, "projections"), name="projections-lag")
            while not stop.is_set():
                records = await self._gather(consumer, stop)
                if records:
                    positions = self._fold(records)
                    await self._dead_letter()  # before the positions move past them
                    self.report.rows += await self.store.write(self.fold.take_rows(), positions)
                    self.positions.update(positions)
        finally:
            if lag is not None:
                lag.cancel()
            await consumer.stop()
            await self.store.release_lock()

    async def _gather(
        self, consumer: AIOKafkaConsumer, stop: asyncio.Event
    ) -> list[ConsumerRecord]:
        """One fetch's records, then more until ``linger_s`` after it or ``batch`` in all.

        Records of one partition stay in offset order: each fetch returns the ones
        after the last."""
        batches = await consumer.getmany(timeout_ms=self.poll_ms, max_records=self.batch)
        records = [r for rs in batches.values() for r in rs]
        if not records or self.linger_s <= 0:
            return records
        until = time.monotonic() + self.linger_s
        while len(records) < self.batch and not stop.is_set():
            left = until - time.monotonic()
            if left <= 0:
                break
            batches = await consumer.getmany(
                timeout_ms=max(1, int(left * 1000)), max_records=self.batch - len(records)
            )
            records += [r for rs in batches.values() for r in rs]
        return records

    async def _dead_letter(self) -> None:
        undecodable, self._undecodable = self._undecodable, []
        if self.dead_letters is None:
            return
        for record, error in undecodable:
            await self.dead_letters.send(
                consumed_record(record), reason="undecodable", detail=error
            )

    # -- rebuild --------------------------------------------------------------------
    async def rebuild(self) -> Report:
        """Replay the whole ledger (up to its end now) into an empty read model."""
        if not await self.store.is_empty():
            raise RuntimeError(
                f"schema {self.store.schema!r} is not empty: rebuild needs an empty one"
            )
        if not await self.store.take_lock(wait=False):
            raise RuntimeError(f"another projector writes schema {self.store.schema!r}")
        consumer = self._consumer()
        await consumer.start()
        started = time.perf_counter()
        writing: asyncio.Task[int] | None = None
        try:
            partitions = await self._partitions(consumer)
            consumer.assign(partitions)
            end = await consumer.end_offsets(partitions)
            async for records in self._read(consumer, partitions, end):
                positions = self._fold(records)
                rows = self.fold.take_rows()
                if writing is not None:  # PostgreSQL writes one batch while we fold the next
                    self.report.rows += await writing
                writing = asyncio.create_task(self.store.write(rows, positions))
            if writing is not None:
                self.report.rows += await writing
        finally:
            await consumer.stop()
            await self.store.release_lock()
        self.report.seconds = time.perf_counter() - started
        self.report.checksums = await self.store.checksums()
        return self.report

    # -- shared ---------------------------------------------------------------------
    async def _read(
        self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition], until: Offsets
    ) -> AsyncIterator[list[ConsumerRecord]]:
        """Records from the beginning of each partition up to ``until`` (exclusive)."""
        start = await consumer.beginning_offsets(partitions)
        left = {tp for tp in partitions if start[tp] < until[tp]}
        for tp in partitions:
            if tp in left:
                consumer.seek(tp, start[tp])
            else:
                consumer.pause(tp)
        while left:
            batches = await consumer.getmany(*left, timeout_ms=self.poll_ms, max_records=self.batch)
            out: list[ConsumerRecord] = []
            for tp, records in batches.items():
                out += [r for r in records if r.offset < until[tp]]
            for tp in list(left):
                if await consumer.position(tp) >= until[tp]:
                    left.discard(tp)
                    consumer.pause(tp)
            if out:
                yield out
        consumer.resume(*partitions)

    def _fold(self, records: list[ConsumerRecord]) -> dict[tuple[str, int], int]:
        """Fold a batch; returns the next offset of every partition it came from."""
        positions: dict[tuple[str, int], int] = {}
        decode, fold, report = self.decoder.decode, self.fold, self.report
        for r in records:
            positions[(r.topic, r.partition)] = r.offset + 1
            report.events += 1
            try:
                decoded = decode(r.value or b"")
            except Exception as error:  # a record no reader knows: skipped, counted
                report.undecodable += 1
                log.error(
                    "undecodable ledger record %s/%d@%d: %r", r.topic, r.partition, r.offset, error
                )
                self._undecodable.append((r, repr(error)))
                continue
            if decoded is not None:
                fold.fold(decoded[0], decoded[1], (r.topic, r.partition, r.offset))
        report.applied, report.repeats, report.refused = fold.applied, fold.repeats, fold.refused
        return positions
