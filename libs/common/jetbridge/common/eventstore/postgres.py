"""Append decisions, outbox rows and consumer positions in ONE transaction.

This is what makes an event-sourced service safe to SIGKILL at any instant:
- the events it folded, the events it must publish (outbox) and where its input
  continues are committed together or not at all;
- on restart it replays its own store (the exact order it folded) and continues each
  input partition from the stored position: nothing is decided twice, nothing lost;
- a writer epoch fences an old writer that lost its turn (a paused process, a
  partition): its appends fail with ``WriterFenced`` instead of forking the history.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from jetbridge.common.events.codec import EventCodec
from jetbridge.common.events.envelope import EventRecord
from jetbridge.common.outbox import OutboxWriter
from jetbridge.common.sql import PgConnection, load_migrations, load_queries, migrate_postgresql

_HERE = Path(__file__).resolve().parent
_MIGRATIONS = load_migrations(_HERE / "migrations" / "postgresql")
_Q = load_queries(_HERE / "queries.sql")

Position = tuple[str, int]  # (topic, partition)


class WriterFenced(Exception):
    """Another writer took a newer epoch: this one must stop deciding."""

    def __init__(self, name: str, mine: int, current: int, holder: str) -> None:
        super().__init__(
            f"writer {name!r} epoch {mine} was fenced by epoch {current} held by {holder!r}"
        )
        self.current = current


async def migrate_event_store(conn: PgConnection) -> list[int]:
    return await migrate_postgresql(conn, _MIGRATIONS, ledger="jetbridge_event_store_migrations")


@dataclass(frozen=True)
class Appended:
    stored: int  # events newly stored (repeats by event id are skipped)
    published: int  # events queued in the outbox


class PostgresEventStore:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        writer: str,
        holder: str,
        codec: EventCodec | None = None,
        topic_prefix: str = "",
    ) -> None:
        self._pool = pool
        self._writer = writer
        self._holder = holder
        self.codec = codec or EventCodec()
        self._outbox = OutboxWriter(self.codec, topic_prefix=topic_prefix)
        self.epoch = 0

    async def take_writer_epoch(self) -> int:
        """Become the writer; any previous writer's next append is refused."""
        async with self._pool.acquire() as conn:
            self.epoch = int(
                await conn.fetchval(_Q["take_writer_epoch"], self._writer, self._holder)
            )
        return self.epoch

    async def append(
        self,
        events: Sequence[EventRecord],
        *,
        publish: Sequence[EventRecord] = (),
        positions: Mapping[Position, int] | None = None,
        consumer: str = "",
        ledger_topic: str | None = None,
    ) -> Appended:
        """Store ``events``, queue ``publish`` for Kafka and move ``positions``, atomically.

        With ``ledger_topic``, every newly stored event is also queued for that topic
        (unless it is published there anyway): readers of the ledger see everything
        this writer folded, each aggregate's events in the order it folded them.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_Q["check_writer_epoch"], self._writer)
            if row is None or row["epoch"] != self.epoch:
                current = 0 if row is None else int(row["epoch"])
                holder = "" if row is None else str(row["holder"])
                raise WriterFenced(self._writer, self.epoch, current, holder)
            stored = await self._insert(conn, events)
            fresh = {str(r["event_id"]) for r in stored}
            to_publish = [e for e in publish if e.event_id in fresh]
            await self._outbox.add(conn, to_publish)
            if ledger_topic is not None:
                published_there = {
                    e.event_id for e in to_publish if self._outbox.topic_of(e) == ledger_topic
                }
                copies = [e for e in events if e.event_id in fresh - published_there]
                await self._outbox.add(conn, copies, topic=ledger_topic)
            if positions:
                topics, partitions, offsets = zip(
                    *((t, p, o) for (t, p), o in positions.items()), strict=True
                )
                await conn.execute(
                    _Q["save_position"], consumer, list(topics), list(partitions), list(offsets)
                )
        return Appended(stored=len(fresh), published=len(to_publish))

    async def _insert(
        self, conn: PgConnection, events: Sequence[EventRecord]
    ) -> list[asyncpg.Record]:
        if not events:
            return []
        return list(
            await conn.fetch(
                _Q["append_events"],
                [e.event_id for e in events],
                [e.event_type for e in events],
                [e.envelope.aggregate_id for e in events],
                [e.envelope.correlation_id for e in events],
                [e.envelope.occurred_at for e in events],
                [self.codec.encode(e) for e in events],
            )
        )

    async def positions(self, consumer: str) -> dict[Position, int]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_Q["positions"], consumer)
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    async def read_all(self, batch: int = 5000) -> AsyncIterator[EventRecord]:
        """Every stored event in the order it was folded."""
        after = 0
        while True:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(_Q["read_from"], after, batch)
            for row in rows:
                yield self.codec.decode(row["record"])
            if len(rows) < batch:
                return
            after = rows[-1]["position"]
