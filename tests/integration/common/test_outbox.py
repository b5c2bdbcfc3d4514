"""The outbox on real PostgreSQL and Kafka: SIGKILL of the relay loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from jetbridge.common.events import EventCodec, EventRecord, new_event
from jetbridge.common.kafka import EventPublisher, InMemoryDedupe
from jetbridge.common.kafka.headers import header_value
from jetbridge.common.outbox import OutboxRelay, OutboxWriter, migrate_outbox
from jetbridge.common.outbox.postgres import count_pending, prune_published
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
    writer = OutboxWriter()
    conn = await asyncpg.connect(dsn)
    ids: list[str] = []
    try:
        await migrate_outbox(conn)
        for start in range(0, count, per_tx):
            events = [_health_event(i) for i in range(start, min(count, start + per_tx))]
            async with conn.transaction():
                await writer.add(conn, events, topic=topic)
            ids.extend(e.event_id for e in events)
    finally:
        await conn.close()
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
    topic = await create_topic(kafka_bootstrap, "outbox")
    ids = await _fill(pg_database, topic, 1000)
    marker = tmp_path / "published.txt"

    # Three times: let the relay publish a batch, then SIGKILL it before it marks.
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
        while await count_pending(conn) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await count_pending(conn) == 0, "relay did not drain the outbox"
    finally:
        await conn.close()
        relay.send_signal(signal.SIGTERM)
        relay.wait(timeout=10)

    records = await read_all(kafka_bootstrap, topic, expected=len(ids))
    # Each killed batch was on Kafka but not marked: it went out again (at-least-once).
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
        while await count_pending(conn) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await count_pending(conn) == 0, "the relay did not drain the outbox"
    finally:
        await conn.close()


async def test_relay_outlives_a_lost_database_session(
    pg_database: str, kafka_bootstrap: str
) -> None:
    """PostgreSQL restarting under the relay ends its session (here: its backend is
    terminated). The relay connects again and publishes what is written after; it used
    to end, and the Navigator's later events stayed unpublished (chaos seed 1011)."""
    topic = await create_topic(kafka_bootstrap, "outbox-session")
    before = await _fill(pg_database, topic, 20)
    async with EventPublisher(kafka_bootstrap, client_id="test-relay") as publisher:
        relay = OutboxRelay(pg_database, publisher, poll_interval_s=0.1)
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


async def test_add_refuses_to_run_outside_a_transaction(pg_database: str) -> None:
    conn = await asyncpg.connect(pg_database)
    try:
        await migrate_outbox(conn)
        try:
            await OutboxWriter().add(conn, [_health_event(1)])
        except RuntimeError as error:
            assert "transaction" in str(error)
        else:
            raise AssertionError("add() outside a transaction must be refused")
    finally:
        await conn.close()


async def test_rolled_back_transaction_leaves_no_event_and_ids_are_idempotent(
    pg_database: str,
) -> None:
    conn = await asyncpg.connect(pg_database)
    writer = OutboxWriter()
    try:
        await migrate_outbox(conn)
        assert await migrate_outbox(conn) == []  # second run applies nothing
        event = _health_event(1)
        try:
            async with conn.transaction():
                await writer.add(conn, [event])
                raise RuntimeError("the state change failed")
        except RuntimeError:
            pass
        assert await count_pending(conn) == 0
        async with conn.transaction():
            await writer.add(conn, [event])
        async with conn.transaction():
            await writer.add(conn, [event])  # same event id again: no second row
        assert await count_pending(conn) == 1
    finally:
        await conn.close()


async def test_pruning_deletes_only_rows_published_long_enough_ago(pg_database: str) -> None:
    await _fill(pg_database, "prune-topic", 30)
    conn = await asyncpg.connect(pg_database)
    try:  # rows 1-10 published two days ago, 11-20 just now, 21-30 not yet
        await conn.execute(
            "UPDATE jetbridge_outbox SET published_at = now() - interval '2 days'"
            " WHERE position <= 10"
        )
        await conn.execute(
            "UPDATE jetbridge_outbox SET published_at = now() WHERE position BETWEEN 11 AND 20"
        )
        assert await prune_published(conn, 86_400, limit=4) == 4  # oldest first
        assert await prune_published(conn, 86_400, limit=100) == 6
        assert await prune_published(conn, 86_400, limit=100) == 0
        left = [r["position"] for r in await conn.fetch("SELECT position FROM jetbridge_outbox")]
        assert sorted(left) == list(range(11, 31))
        assert await count_pending(conn) == 10
    finally:
        await conn.close()


async def test_the_relay_prunes_what_it_published(pg_database: str, kafka_bootstrap: str) -> None:
    topic = await create_topic(kafka_bootstrap, "outbox-prune")
    ids = await _fill(pg_database, topic, 25)
    async with EventPublisher(kafka_bootstrap, client_id="test-relay") as publisher:
        relay = OutboxRelay(
            pg_database, publisher, poll_interval_s=0.1, keep_published_s=0, prune_every_s=0.1
        )
        task = asyncio.create_task(relay.run())
        try:
            await _until_drained(pg_database)
            conn = await asyncpg.connect(pg_database)
            try:
                deadline = time.monotonic() + 10
                while await conn.fetchval("SELECT count(*) FROM jetbridge_outbox"):
                    assert time.monotonic() < deadline, "published rows were not pruned"
                    await asyncio.sleep(0.05)
            finally:
                await conn.close()
            assert relay.pruned == 25 and relay.published == 25
        finally:
            await relay.stop()
            await asyncio.wait_for(task, timeout=10)
    records = await read_all(kafka_bootstrap, topic, expected=25)
    assert {EventCodec().decode(r.value).event_id for r in records} == set(ids)
