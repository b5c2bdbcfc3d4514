"""Append events, where they are published and consumer positions in ONE transaction.

This is what makes an event-sourced service safe to SIGKILL at any instant:
- the events it folded, where each must be published (the store is its own outbox:
  ``relay.EventStoreRelay`` publishes them) and where its input continues are
  committed together or not at all;
- on restart it replays its own store (the exact order it folded) and continues each
  input partition from the stored position: nothing is decided twice, nothing lost;
- a writer epoch fences an old writer that lost its turn (a paused process, a
  partition): its appends fail with ``WriterFenced`` instead of forking the history.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from jetbridge.common.audit.chain import LedgerChain, Link
from jetbridge.common.events.codec import EventCodec
from jetbridge.common.events.envelope import EventRecord
from jetbridge.common.kafka.headers import event_headers
from jetbridge.common.sql import PgConnection, load_migrations, load_queries, migrate_postgresql

log = logging.getLogger(__name__)
_HERE = Path(__file__).resolve().parent
MIGRATIONS = load_migrations(_HERE / "migrations" / "postgresql")
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
    return await migrate_postgresql(conn, MIGRATIONS, ledger="jetbridge_event_store_migrations")


@dataclass(frozen=True)
class Appended:
    stored: int  # events newly stored (repeats by event id are skipped)
    published: int  # stored decisions the relay will publish on their own topic


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
        self._topic_prefix = topic_prefix  # isolated sandboxes on one broker (tests)
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
        """Store ``events`` (those in ``publish`` to be published) and move ``positions``,
        atomically.

        With ``ledger_topic``, every newly stored event is also published on that topic
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
            publish_ids = {e.event_id for e in publish}
            routes = [self._topics(e, publish_ids, ledger_topic) for e in events]
            fresh = await self._insert(conn, events, values, links, routes)
            if len(fresh) < len(events) and links:
                ledger = [e for e in events if e.event_id in fresh]
                chain, links = await self._relink(conn, ledger, values)
            if positions:
                topics, partitions, offsets = zip(
                    *((t, p, o) for (t, p), o in positions.items()), strict=True
                )
                await conn.execute(
                    _Q["save_position"], consumer, list(topics), list(partitions), list(offsets)
                )
        if chain is not None:
            self.chain = chain  # stored: the heads move on (a failed append moves none)
        return Appended(stored=len(fresh), published=len(publish_ids & fresh))

    def _topics(
        self, event: EventRecord, publish_ids: set[str], ledger_topic: str | None
    ) -> list[str]:
        """Where the relay publishes ``event``: its own topic when it is a decision to
        publish, and the ledger when it is not on it already."""
        topics = []
        if event.event_id in publish_ids:
            topics.append(self._topic_prefix + self.codec.schema_for(event).topic)
        if ledger_topic is not None and ledger_topic not in topics:
            topics.append(ledger_topic)
        return topics

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
                [link.prev for link in links.values()],
                [link.link for link in links.values()],
            )
        return chain, links

    async def _insert(
        self,
        conn: PgConnection,
        events: Sequence[EventRecord],
        values: Mapping[str, bytes],
        links: Mapping[str, Link],
        routes: Sequence[Sequence[str]],
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
            [link.prev if link else None for link in chained],
            [link.link if link else None for link in chained],
            [",".join(topics) if topics else None for topics in routes],
            [
                self.codec.key_of(e) if topics else None
                for e, topics in zip(events, routes, strict=True)
            ],
            [
                _headers_json(e) if topics else None
                for e, topics in zip(events, routes, strict=True)
            ],
        )
        return {str(r["event_id"]) for r in inserted}

    async def positions(self, consumer: str) -> dict[Position, int]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_Q["positions"], consumer)
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    async def read_all(self, after: int = 0, batch: int = 5000) -> AsyncIterator[EventRecord]:
        """Every stored event after position ``after``, in the order it was folded."""
        while True:
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(_Q["read_from"], after, batch)
            for row in rows:
                yield self.codec.decode(row["record"])
            if len(rows) < batch:
                return
            after = rows[-1]["position"]

    # -- snapshots: a writer's state as of a position (0004_snapshots.sql) ------------
    async def last_position(self) -> int:
        """The position of the newest stored event (0: none). With one writer, right
        after its append this is the last event its state has folded."""
        async with self._pool.acquire() as conn:
            return int(await conn.fetchval(_Q["last_position"]))

    async def save_snapshot(self, kind: str, position: int, state: bytes) -> None:
        """Keep ``state`` as of ``position``, signed with the ledger key (none: refused,
        as a state nothing can verify must not be loaded later)."""
        key = self._snapshot_key()
        async with self._pool.acquire() as conn, conn.transaction():
            mac = _snapshot_mac(key, kind, position, state)
            await conn.execute(_Q["save_snapshot"], self._writer, kind, position, state, mac)
            await conn.execute(_Q["prune_snapshots"], self._writer, kind)

    async def latest_snapshot(self, kind: str) -> tuple[int, bytes] | None:
        """The newest state of ``kind`` and its position, if its signature verifies (a
        state that does not is reported and skipped: the caller folds everything).
        Without the ledger key nothing can be verified, so nothing is read."""
        if self._chain_key is None:
            return None
        key = self._chain_key
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_Q["latest_snapshot"], self._writer, kind)
        if row is None:
            return None
        position, state = int(row["position"]), bytes(row["state"])
        if not hmac.compare_digest(_snapshot_mac(key, kind, position, state), bytes(row["mac"])):
            log.error("snapshot at %d of %s does not verify: ignored", position, kind)
            return None
        return position, state

    def _snapshot_key(self) -> bytes:
        if self._chain_key is None:
            raise RuntimeError("snapshots need the ledger key (chain_key) to be signed")
        return self._chain_key


def _snapshot_mac(key: bytes, kind: str, position: int, state: bytes) -> bytes:
    message = f"{kind}\n{position}\n".encode() + state
    return hmac.new(key, message, hashlib.sha256).digest()


def _headers_json(event: EventRecord) -> str:
    """The record's Kafka headers as stored (the chain's are added by the relay)."""
    return json.dumps([[k, v.decode()] for k, v in event_headers(event)])
