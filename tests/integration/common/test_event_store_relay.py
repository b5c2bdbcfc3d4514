"""The event store's relay on real PostgreSQL and Kafka: SIGKILL of the relay loses
nothing, a lost session ends only that session, an old outbox is handed over."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from jetbridge.common.events import EventCodec, EventRecord, new_event
from jetbridge.common.eventstore import (
    EventStoreRelay,
    PostgresEventStore,
    count_unpublished,
    migrate_event_store,
)
from jetbridge.common.eventstore.postgres import MIGRATIONS
from jetbridge.common.eventstore.relay import records_of
from jetbridge.common.kafka import EventPublisher, InMemoryDedupe
from jetbridge.common.kafka.headers import header_value
from jetbridge.common.sql import migrate_postgresql
from tests.integration.kafka_tools import create_topic, read_all

RELAY = Path(__file__).with_name("relay_process.py")
ROOT = Path(__file__).resolve().parents[3]


def _health_event(i: int) -> EventRecord:
    return new_event(
        "ClusterHealthChanged",
        {"cluster_id": f"c{i % 7}", "previous": "HEALTHY", "current": "DEGRADED", "reason": str(i)},
        aggregate_type="Cluster",
        aggregate_id=f"c{i % 7}",
        producer="test",
        schema_version=1,
    )


async def _fill(dsn: str, topic: str, count: int, per_tx: int = 100) -> list[str]:
    """``count`` events stored as facts, each to be published on ``topic`` (the ledger)."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    ids: list[str] = []
    try:
        async with pool.acquire() as conn:
            await migrate_event_store(conn)
        store = PostgresEventStore(pool, writer="test", holder="fill")
        await store.take_writer_epoch()
        for start in range(0, count, per_tx):
            events = [_health_event(i) for i in range(start, min(count, start + per_tx))]
            await store.append(events, ledger_topic=topic)
            ids.extend(e.event_id for e in events)
    finally:
        await pool.close()
    return ids


def _start_relay(dsn: str, bootstrap: str, marker: Path, pause_s: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(RELAY), dsn, bootstrap, "50", str(marker), str(pause_s)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def _wait_for_lines(marker: Path, lines: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if marker.exists() and len(marker.read_text().splitlines()) >= lines:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"relay did not publish {lines} batches in {timeout_s}s")


async def test_relay_killed_between_publish_and_mark_loses_nothing(
    pg_database: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = await create_topic(kafka_bootstrap, "relay")
    ids = await _fill(pg_database, topic, 1000)
    marker = tmp_path / "published.txt"

    # Three times: let the relay publish a batch, then SIGKILL it before it moves on.
    kills = 0
    for _ in range(3):
        relay = _start_relay(pg_database, kafka_bootstrap, marker, pause_s=5.0)
        await _wait_for_lines(marker, kills + 1)
        relay.send_signal(signal.SIGKILL)
        relay.wait()
        kills += 1

    # Then a relay with no pause, killed at an arbitrary moment, and a last one to finish.
    relay = _start_relay(pg_database, kafka_bootstrap, marker, pause_s=0)
    await asyncio.sleep(0.4)
    relay.send_signal(signal.SIGKILL)
    relay.wait()
    relay = _start_relay(pg_database, kafka_bootstrap, marker, pause_s=0)
    conn = await asyncpg.connect(pg_database)
    try:
        deadline = time.monotonic() + 60
        while await count_unpublished(conn) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await count_unpublished(conn) == 0, "the relay did not publish everything"
    finally:
        await conn.close()
        relay.send_signal(signal.SIGTERM)
        relay.wait(timeout=10)

    records = await read_all(kafka_bootstrap, topic, expected=len(ids))
    # Each killed batch was on Kafka but not passed: it went out again (at-least-once).
    assert len(records) >= len(ids) + 3 * 50
    codec = EventCodec()
    dedupe = InMemoryDedupe()
    delivered: list[str] = []
    for record in records:
        event = codec.decode(record.value)
        assert header_value(record.headers, "event_id") == event.event_id
        if not await dedupe.seen(event.event_id):
            await dedupe.remember(event.event_id)
            delivered.append(event.event_id)
    assert sorted(delivered) == sorted(ids)  # every event, once, after dedupe


async def _until_drained(dsn: str, timeout_s: float = 30) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout_s
        while await count_unpublished(conn) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await count_unpublished(conn) == 0, "the relay did not publish everything"
    finally:
        await conn.close()


async def test_relay_outlives_a_lost_database_session(
    pg_database: str, kafka_bootstrap: str
) -> None:
    """PostgreSQL restarting under the relay ends its session (here: its backend is
    terminated). The relay connects again and publishes what is written after; it used
    to end, and the Navigator's later events stayed unpublished (chaos seed 1011)."""
    topic = await create_topic(kafka_bootstrap, "relay-session")
    before = await _fill(pg_database, topic, 20)
    async with EventPublisher(kafka_bootstrap, client_id="test-relay") as publisher:
        relay = EventStoreRelay(pg_database, publisher, poll_interval_s=0.1)
        task = asyncio.create_task(relay.run())
        try:
            await _until_drained(pg_database)
            admin = await asyncpg.connect(pg_database)
            try:
                terminated = await admin.fetchval(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            finally:
                await admin.close()
            assert terminated == 1  # the relay's session, the only other one
            after = await _fill(pg_database, topic, 20)
            await _until_drained(pg_database)
            assert not task.done() and relay.sessions == 2
        finally:
            await relay.stop()
            await asyncio.wait_for(task, timeout=10)
    records = await read_all(kafka_bootstrap, topic, expected=40)
    codec = EventCodec()
    assert {codec.decode(r.value).event_id for r in records} == set(before + after)


async def test_migration_hands_an_old_outbox_over_to_the_relay(pg_database: str) -> None:
    """A database written by the Navigator before the store became its own outbox: the
    events the old relay had not published yet go out from the store, with the topics,
    key and headers their outbox rows had (the chain's headers rebuilt by the relay)."""
    first, pending, copied = _health_event(1), _health_event(2), _health_event(3)
    conn = await asyncpg.connect(pg_database)
    try:
        await migrate_postgresql(conn, MIGRATIONS[:2], ledger="jetbridge_event_store_migrations")
        await conn.execute(OLD_OUTBOX)
        store_rows = [(first, 1), (pending, 2), (copied, 3)]
        for position, (event, seq) in enumerate(store_rows, start=1):
            await conn.execute(
                'INSERT INTO "jetbridge_event_store" ("position", "event_id", "event_type",'
                ' "aggregate_id", "correlation_id", "occurred_at", "record", "chain_seq",'
                ' "chain_link") VALUES ($1, $2, $3, $4, $5, now(), $6, $7, $8)',
                position,
                event.event_id,
                event.event_type,
                event.envelope.aggregate_id,
                event.envelope.correlation_id,
                f"value{seq}".encode(),
                seq,
                f"link{seq}",
            )
        await conn.execute(
            'INSERT INTO "jetbridge_writers" ("name", "epoch", "holder") VALUES ($1, 4, $2)',
            "navigator",
            "old",
        )

        def chain(seq: int) -> list[list[str]]:
            return [
                ["chain.seq", str(seq)],
                ["chain.prev", f"link{seq - 1}"],
                ["chain.link", f"link{seq}"],
            ]

        outbox = [  # (event, topic, published, extra headers)
            (first, "ledger", True, chain(1)),
            (pending, "ledger", False, chain(2)),
            (copied, "jetbridge.cluster.events", True, []),
            (copied, "ledger", False, chain(3)),
        ]
        for event, topic, published, extra in outbox:
            headers = [["event_id", event.event_id], *extra]
            await conn.execute(
                'INSERT INTO "jetbridge_outbox" ("event_id", "topic", "key", "value", "headers",'
                ' "published_at") VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END)',
                event.event_id,
                topic,
                b"key",
                b"v",
                json.dumps(headers),
                published,
            )

        assert await migrate_event_store(conn) == [3, 4]  # 4: snapshots, unrelated
        # The relay starts just before the first event with an unpublished row.
        assert await conn.fetchval('SELECT "position" FROM "jetbridge_relay_positions"') == 1
        assert await count_unpublished(conn) == 2
        rows = await conn.fetch(
            'SELECT * FROM "jetbridge_event_store" WHERE "position" > 1 ORDER BY "position"'
        )
        records = [(t, k, bytes(v), h) for t, k, v, h in records_of(rows, "ledger")]
        assert [(t, h) for t, _, _, h in records] == [
            ("ledger", [("event_id", pending.event_id.encode()), *_pairs(chain(2))]),
            ("jetbridge.cluster.events", [("event_id", copied.event_id.encode())]),
            ("ledger", [("event_id", copied.event_id.encode()), *_pairs(chain(3))]),
        ]
        assert {(k, v) for _, k, v, _ in records} == {(b"key", b"value2"), (b"key", b"value3")}
        # A writer still on the old code is fenced: its epoch is no longer the newest.
        assert await conn.fetchval('SELECT "epoch" FROM "jetbridge_writers"') == 5
        assert await migrate_event_store(conn) == []  # applied once
    finally:
        await conn.close()


def _pairs(headers: list[list[str]]) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in headers]


# The Navigator's outbox table as its last migration (outbox 0002) left it.
OLD_OUTBOX = """
CREATE TABLE "jetbridge_outbox" (
    "position" bigserial PRIMARY KEY,
    "event_id" uuid NOT NULL,
    "topic" text NOT NULL,
    "key" bytea,
    "value" bytea NOT NULL,
    "headers" jsonb NOT NULL DEFAULT '[]'::jsonb,
    "created_at" timestamptz NOT NULL DEFAULT now(),
    "published_at" timestamptz
);
CREATE UNIQUE INDEX "jetbridge_outbox_event_topic" ON "jetbridge_outbox" ("event_id", "topic");
"""
