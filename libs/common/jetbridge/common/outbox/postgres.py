"""The outbox writer (inside the caller's transaction) and its relay to Kafka.

Delivery is at-least-once: the relay marks rows published only after Kafka
acknowledged them, so a relay killed between the two republishes that batch on
restart, and consumers drop the repeats by event id. Nothing is lost: a row is only
ever marked after its acknowledgement.

Exactly one relay publishes at a time per database (a session advisory lock), so
rows leave in ``position`` order and per-aggregate order holds: each aggregate has
one writer, whose transactions commit one after the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

import asyncpg

from jetbridge.common.backoff import Backoff
from jetbridge.common.events.codec import EventCodec
from jetbridge.common.events.envelope import EventRecord
from jetbridge.common.kafka.headers import Headers, event_headers
from jetbridge.common.sql import PgConnection, load_migrations, load_queries, migrate_postgresql

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
OUTBOX_MIGRATIONS = load_migrations(_HERE / "migrations" / "postgresql")
_Q = load_queries(_HERE / "queries.sql")
RELAY_LOCK_KEY = 0x6A62_0B0C  # "jb" outbox: one relay per database


async def migrate_outbox(conn: PgConnection) -> list[int]:
    return await migrate_postgresql(conn, OUTBOX_MIGRATIONS, ledger="jetbridge_outbox_migrations")


# event id, topic, key, value, headers as JSON
OutboxRow = tuple[str, str, bytes | None, bytes, str]


class OutboxWriter:
    """Adds events to the outbox on the caller's connection, inside its transaction."""

    def __init__(self, codec: EventCodec | None = None, *, topic_prefix: str = "") -> None:
        self.codec = codec or EventCodec()
        self.topic_prefix = topic_prefix  # isolated sandboxes on one broker (tests)

    def topic_of(self, event: EventRecord) -> str:
        return self.topic_prefix + self.codec.schema_for(event).topic

    def row(
        self,
        event: EventRecord,
        *,
        topic: str | None = None,
        value: bytes | None = None,
        extra_headers: Sequence[tuple[str, bytes]] = (),
    ) -> OutboxRow:
        """One outbox row; pass ``value`` when the caller already encoded the event."""
        return (
            event.event_id,
            topic or self.topic_of(event),
            self.codec.key_of(event),
            value if value is not None else self.codec.encode(event),
            json.dumps([[k, v.decode()] for k, v in [*event_headers(event), *extra_headers]]),
        )

    async def add(
        self, conn: PgConnection, events: Iterable[EventRecord], *, topic: str | None = None
    ) -> None:
        """Encode and insert; an event id already there is left as it was (idempotent)."""
        await self.add_rows(conn, [self.row(event, topic=topic) for event in events])

    async def add_rows(self, conn: PgConnection, rows: Sequence[OutboxRow]) -> None:
        if not conn.is_in_transaction():
            raise RuntimeError("OutboxWriter.add must run inside the caller's transaction")
        if rows:
            await conn.execute(
                _Q["insert_event"], *(list(column) for column in zip(*rows, strict=True))
            )


class RawBatchSender(Protocol):
    """What the relay needs from a publisher (``EventPublisher`` is one)."""

    async def send_raw_many(
        self, records: Iterable[tuple[str, bytes | None, bytes, Headers]]
    ) -> None: ...


AfterPublish = Callable[[Sequence[int]], Awaitable[None]]


class OutboxRelay:
    """Publishes pending rows in order, then marks them; wakes on NOTIFY or a poll tick."""

    def __init__(
        self,
        dsn: str,
        sender: RawBatchSender,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        after_publish: AfterPublish | None = None,
        keep_published_s: float = 86_400.0,
        prune_every_s: float = 60.0,
        prune_batch: int = 10_000,
    ) -> None:
        self._dsn = dsn
        self._sender = sender
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        # Published rows are deleted once older than ``keep_published_s`` (by the relay
        # holding the lock, at most ``prune_batch`` every ``prune_every_s``): without it
        # the table grew by every event ever written.
        self._keep_published_s = keep_published_s
        self._prune_every_s = prune_every_s
        self._prune_batch = prune_batch
        self._next_prune = 0.0
        self.pruned = 0
        self._after_publish = after_publish  # test hook: runs between publish and mark
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._backoff = Backoff(0.2, 5.0)
        self.published = 0
        self.sessions = 0  # connections that took the relay lock (reconnects show here)

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Relay until stopped. A lost session (PostgreSQL restarted, the backend
        terminated) or a failed send (broker away) ends that session, not the relay: it
        connects again after a backoff, takes the lock again and goes on from the first
        unmarked row (a batch sent but not marked goes out again: at-least-once).

        Before, the first such error ended ``run``: the Navigator went on deciding while
        its events piled up unpublished (chaos seed 1011: 164 rows, cleanups PENDING).
        """
        failures = 0
        while not self._stopping.is_set():
            sessions = self.sessions
            try:
                await self._session()
            except Exception as err:
                failures = 1 if self.sessions > sessions else failures + 1
                delay = self._backoff.delay(min(failures - 1, 10))
                log.warning(
                    "outbox relay session ended (%s: %s); again in %.2fs",
                    type(err).__name__,
                    err,
                    delay,
                )
                await self._sleep_until_woken(delay)
            else:
                return

    async def _session(self) -> None:
        """One connection: hold the relay lock and publish until stopped."""
        conn: asyncpg.Connection = await asyncpg.connect(self._dsn, timeout=10)
        try:
            # Standby relays wait here until the leader's session ends.
            await conn.execute("SELECT pg_advisory_lock($1)", RELAY_LOCK_KEY)
            await conn.add_listener("jetbridge_outbox", self._on_notify)
            self.sessions += 1
            while not self._stopping.is_set():
                await self._prune_when_due(conn)
                if await self.relay_once(conn) == 0:
                    await self._sleep_until_woken(self._poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=5)

    async def relay_once(self, conn: asyncpg.Connection) -> int:
        """Publish and mark one batch; returns how many rows it published."""
        async with conn.transaction():
            rows = await conn.fetch(_Q["pending_batch"], self._batch_size)
            if not rows:
                return 0
            await self._sender.send_raw_many(
                (
                    row["topic"],
                    row["key"],
                    row["value"],
                    [(k, v.encode()) for k, v in json.loads(row["headers"])],
                )
                for row in rows
            )
            positions = [row["position"] for row in rows]
            if self._after_publish is not None:
                await self._after_publish(positions)
            await conn.execute(_Q["mark_published"], positions)
        self.published += len(rows)
        return len(rows)

    async def _prune_when_due(self, conn: PgConnection) -> None:
        now = asyncio.get_running_loop().time()
        if now >= self._next_prune:
            self._next_prune = now + self._prune_every_s
            self.pruned += await prune_published(conn, self._keep_published_s, self._prune_batch)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _sleep_until_woken(self, timeout_s: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=timeout_s)


async def prune_published(conn: PgConnection, keep_published_s: float, limit: int) -> int:
    """Delete at most ``limit`` rows published more than ``keep_published_s`` ago; never
    a row not yet published. Returns how many went."""
    status = await conn.execute(_Q["prune_published"], keep_published_s, limit)
    return int(status.split()[-1])  # "DELETE n"


async def count_pending(conn: PgConnection) -> int:
    return int(await conn.fetchval(_Q["count_pending"]))
