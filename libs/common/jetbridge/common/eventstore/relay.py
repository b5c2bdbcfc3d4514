"""The relay: publishes what the event store holds to Kafka, in the order stored.

The store is its own outbox (migration 0003): each stored event to publish names its
topics, and one position per database says how far the relay has published. A batch
goes out, then the position moves past it, in the relay's transaction: a relay killed
between the two publishes that batch again on restart, and consumers drop the repeats
by event id (at-least-once). Nothing is lost: the position only ever moves past what
Kafka acknowledged, and positions commit in order (the writer's appends run one after
another, queries.sql ``check_writer_epoch``).

Exactly one relay publishes at a time per database (a session advisory lock), so
records leave in position order and each aggregate's order holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from jetbridge.common.audit.chain import Link
from jetbridge.common.backoff import Backoff
from jetbridge.common.kafka.headers import Headers
from jetbridge.common.sql import PgConnection, load_queries

log = logging.getLogger(__name__)

_Q = load_queries(Path(__file__).resolve().parent / "queries.sql")
RELAY_LOCK_KEY = 0x6A62_0B0C  # "jb" relay: one per database
RELAY = "event_store"  # its row in jetbridge_relay_positions
CHANNEL = "jetbridge_event_store"  # NOTIFY on every append (migration 0003)


class RawBatchSender(Protocol):
    """What the relay needs from a publisher (``EventPublisher`` is one)."""

    async def send_raw_many(
        self, records: Iterable[tuple[str, bytes | None, bytes, Headers]]
    ) -> None: ...


AfterPublish = Callable[[Sequence[int]], Awaitable[None]]


class EventStoreRelay:
    """Publishes stored events in order, then moves its position; wakes on NOTIFY or a
    poll tick."""

    def __init__(
        self,
        dsn: str,
        sender: RawBatchSender,
        *,
        ledger_topic: str | None = None,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        after_publish: AfterPublish | None = None,
    ) -> None:
        self._dsn = dsn
        self._sender = sender
        self._ledger_topic = ledger_topic  # its records carry the chain's headers
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._after_publish = after_publish  # test hook: runs between publishing and moving on
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._backoff = Backoff(0.2, 5.0)
        self._position: int | None = None  # read at a session's start, then kept
        self.published = 0
        self.sessions = 0  # connections that took the relay lock (reconnects show here)

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Relay until stopped. A lost session (PostgreSQL restarted, the backend
        terminated) or a failed send (broker away) ends that session, not the relay: it
        connects again after a backoff, takes the lock again and goes on from the first
        event after its position (a batch sent but not passed goes out again:
        at-least-once).

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
                    "relay session ended (%s: %s); again in %.2fs",
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
            await conn.add_listener(CHANNEL, self._on_notify)
            self._position = None  # the lock's previous holder may have moved it
            self.sessions += 1
            while not self._stopping.is_set():
                if await self.relay_once(conn) == 0:
                    await self._sleep_until_woken(self._poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=5)

    async def relay_once(self, conn: asyncpg.Connection) -> int:
        """Publish one batch and move past it; returns how many events it published."""
        async with conn.transaction():
            if self._position is None:
                self._position = await conn.fetchval(_Q["relay_position"], RELAY) or 0
            rows = await conn.fetch(_Q["to_publish"], self._position, self._batch_size)
            if not rows:
                return 0
            await self._sender.send_raw_many(records_of(rows, self._ledger_topic))
            positions = [row["position"] for row in rows]
            if self._after_publish is not None:
                await self._after_publish(positions)
            await conn.execute(_Q["advance_relay"], RELAY, positions[-1])
        self._position = positions[-1]  # only once committed: a failed batch goes again
        self.published += len(rows)
        return len(rows)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _sleep_until_woken(self, timeout_s: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=timeout_s)


async def count_unpublished(conn: PgConnection) -> int:
    """Stored events the relay has still to publish."""
    return int(await conn.fetchval(_Q["count_unpublished"], RELAY))


def records_of(
    rows: Iterable[Any], ledger_topic: str | None
) -> Iterator[tuple[str, bytes | None, bytes, Headers]]:
    """Each stored event once per topic, in order; on the ledger with its chain link."""
    for row in rows:
        headers = [(k, v.encode()) for k, v in json.loads(row["headers"])]
        for topic in row["topics"]:
            # (a row the 0003 hand-over found without its chain's headers goes unsigned,
            # which auditors report, rather than stopping the relay)
            chained = topic == ledger_topic and row["chain_prev"] is not None
            link = Link(row["chain_seq"], row["chain_prev"], row["chain_link"]) if chained else None
            yield topic, row["key"], row["record"], headers + (link.headers() if link else [])
