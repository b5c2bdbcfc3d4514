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

from jetbridge.common.audit.chain import LedgerChain, Link
from jetbridge.common.events.codec import EventCodec
from jetbridge.common.events.envelope import EventRecord
from jetbridge.common.outbox import OutboxWriter
from jetbridge.common.outbox.postgres import OutboxRow
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
        chain_key: bytes | None = None,
    ) -> None:
        self._pool = pool
        # Ledger records are chained per aggregate (jetbridge.common.audit.chain).
        self._chain_key = chain_key
        self.chain: LedgerChain | None = None
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
            if self._chain_key is not None:
                self.chain = LedgerChain(self._chain_key, await self._heads(conn))
        return self.epoch

    async def chain_heads(self) -> dict[str, tuple[int, str]]:
        """Every aggregate's last chain link as stored (what the ledger must end with)."""
        async with self._pool.acquire() as conn:
            return await self._heads(conn)

    @staticmethod
    async def _heads(conn: PgConnection) -> dict[str, tuple[int, str]]:
        rows = await conn.fetch(_Q["chain_heads"])
        return {r["aggregate_id"]: (int(r["chain_seq"]), r["chain_link"]) for r in rows}

    async def append(
        self,
        events: Sequence[EventRecord],
        *,
        publish: Sequence[EventRecord] = (),
        positions: Mapping[Position, int] | None = None,
        consumer: str = "",
        ledger_topic: str | None = None,
        encoded: Mapping[str, bytes] | None = None,
    ) -> Appended:
        """Store ``events``, queue ``publish`` for Kafka and move ``positions``, atomically.

        With ``ledger_topic``, every newly stored event is also queued for that topic
        (unless it is published there anyway): readers of the ledger see everything
        this writer folded, each aggregate's events in the order it folded them.
        ``encoded`` gives events already in their stored form (by event id: facts as
        they were consumed, byte for byte), which are then not encoded again.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_Q["check_writer_epoch"], self._writer)
            if row is None or row["epoch"] != self.epoch:
                current = 0 if row is None else int(row["epoch"])
                holder = "" if row is None else str(row["holder"])
                raise WriterFenced(self._writer, self.epoch, current, holder)
            given = encoded or {}
            values = {e.event_id: given.get(e.event_id) or self.codec.encode(e) for e in events}
            chain, links = self._link(events if ledger_topic else [], values)
            fresh = await self._insert(conn, events, values, links)
            to_publish = [e for e in publish if e.event_id in fresh]
            if len(fresh) < len(events) and links:
                ledger = [e for e in events if e.event_id in fresh]
                chain, links = await self._relink(conn, ledger, values)
            rows = self._outbox_rows(
                events=events,
                fresh=fresh,
                to_publish=to_publish,
                ledger_topic=ledger_topic,
                values=values,
                links=links,
            )
            await self._outbox.add_rows(conn, rows)
            if positions:
                topics, partitions, offsets = zip(
                    *((t, p, o) for (t, p), o in positions.items()), strict=True
                )
                await conn.execute(
                    _Q["save_position"], consumer, list(topics), list(partitions), list(offsets)
                )
        if chain is not None:
            self.chain = chain  # stored: the heads move on (a failed append moves none)
        return Appended(stored=len(fresh), published=len(to_publish))

    def _outbox_rows(
        self,
        *,
        events: Sequence[EventRecord],
        fresh: set[str],
        to_publish: Sequence[EventRecord],
        ledger_topic: str | None,
        values: Mapping[str, bytes],
        links: Mapping[str, Link],
    ) -> list[OutboxRow]:
        """Rows in the order the events were stored: the ledger's chains stay in sequence."""
        publish_ids = {e.event_id for e in to_publish}
        rows: list[OutboxRow] = []
        for e in [*events, *(p for p in to_publish if p.event_id not in values)]:
            if e.event_id not in fresh and e.event_id in values:
                continue
            link = links.get(e.event_id)
            value = values.get(e.event_id)
            topic = self._outbox.topic_of(e)
            chain = link.headers() if link is not None else []
            if e.event_id in publish_ids:
                on_ledger = topic == ledger_topic
                rows.append(
                    self._outbox.row(e, value=value, extra_headers=chain if on_ledger else [])
                )
            if (
                ledger_topic is not None
                and e.event_id in fresh
                and (e.event_id not in publish_ids or topic != ledger_topic)
            ):
                rows.append(
                    self._outbox.row(e, topic=ledger_topic, value=value, extra_headers=chain)
                )
        return rows

    def _link(
        self, events: Sequence[EventRecord], values: Mapping[str, bytes]
    ) -> tuple[LedgerChain | None, dict[str, Link]]:
        """Link ``events`` in order, on a fork of the chain, as if every one were new."""
        if self.chain is None or not events:
            return None, {}
        chain = self.chain.fork()
        links = {
            e.event_id: chain.next(e.envelope.aggregate_id, e.event_id, values[e.event_id])
            for e in events
        }
        return chain, links

    async def _relink(
        self, conn: PgConnection, fresh: Sequence[EventRecord], values: Mapping[str, bytes]
    ) -> tuple[LedgerChain | None, dict[str, Link]]:
        """An append skipped repeats: link only the new events again, and store that."""
        chain, links = self._link(fresh, values)
        if links:
            await conn.execute(
                _Q["set_chain_links"],
                list(links),
                [link.seq for link in links.values()],
                [link.link for link in links.values()],
            )
        return chain, links

    async def _insert(
        self,
        conn: PgConnection,
        events: Sequence[EventRecord],
        values: Mapping[str, bytes],
        links: Mapping[str, Link],
    ) -> set[str]:
        if not events:
            return set()
        chained = [links.get(e.event_id) for e in events]
        inserted = await conn.fetch(
            _Q["append_events"],
            [e.event_id for e in events],
            [e.event_type for e in events],
            [e.envelope.aggregate_id for e in events],
            [e.envelope.correlation_id for e in events],
            [e.envelope.occurred_at for e in events],
            [values[e.event_id] for e in events],
            [link.seq if link else None for link in chained],
            [link.link if link else None for link in chained],
        )
        return {str(r["event_id"]) for r in inserted}

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
