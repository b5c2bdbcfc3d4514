"""The projector on a real broker and PostgreSQL: resume, repeats, rebuild.

A ledger is written to a sandbox topic the way the Navigator's relay writes it (keyed
by aggregate id), including a republished batch (the same event ids again, as a relay
killed between publish and mark produces). A projector applies the first half and
stops; a new one warms up from the ledger, resumes at the stored positions and
applies the rest. The repeats change nothing, the fold equals the domain's replay,
and a rebuild into an empty schema has the same checksum in every table.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from jetbridge.common import topics
from jetbridge.common.events import EventCodec, EventRecord, SchemaRegistry
from jetbridge.common.kafka import EventPublisher
from jetbridge.common.kafka.deadletter import DeadLetterPublisher
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.domain.commands import RequestFailover
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.vocabulary import FailoverMode, RequestStatus, StepName
from jetbridge.navigator.projections.projector import Projector
from jetbridge.navigator.projections.store import ReadModelStore
from tests.integration.kafka_tools import create_sandbox, read_all
from tests.unit.navigator.builders import cluster_events, deployment
from tests.unit.navigator.sim import Simulation

MAPPER = EventMapper(SchemaRegistry(), producer="test")


def ledger() -> tuple[list[EventRecord], Fleet]:
    events = cluster_events("a") + cluster_events("b")
    events += [deployment(f"d{i}", "a", priority=i) for i in range(12)]
    # An Avro long: the read model once stored priorities as integer, and this one
    # failed the projector's batch for ever (the read model froze).
    events += [deployment("d-big", "a", priority=2**40)]
    sim = Simulation(events)
    sim.fail("d3", "DESTINATION", StepName.CREATE_NAMESPACE, "transient")
    sim.command(RequestFailover("r1", "a", "b", FailoverMode.CONTROLLED, "alice"))
    sim.run()
    assert sim.fleet.requests["r1"].status is RequestStatus.SUCCEEDED
    records = [
        MAPPER.to_record(e, correlation_id="r1", caused_by=None, actor=None, occurred_at_ms=0)
        for e in sim.log
    ]
    return records, sim.fleet


async def run_until_caught_up(projector: Projector, total: int) -> None:
    """Run the live projector until its committed positions cover ``total`` records."""
    stop = asyncio.Event()
    task = asyncio.create_task(projector.run(stop))
    deadline = time.monotonic() + 60
    try:
        while not (projector.ready.is_set() and sum(projector.positions.values()) >= total):
            if task.done():
                task.result()
            assert time.monotonic() < deadline, "projector did not catch up"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=15)


async def test_resume_after_a_stop_drops_repeats_and_equals_a_rebuild(
    pg_database: str, kafka_bootstrap: str
) -> None:
    records, expected = ledger()
    half = len(records) // 2
    republished = records[half - 40 : half]  # a relay's batch, published twice
    first, second = records[:half] + republished, records[half:] + records[-25:]
    topic = (await create_sandbox(kafka_bootstrap)) + topics.FAILOVER_EVENTS
    publisher = EventPublisher(kafka_bootstrap, client_id="test", codec=EventCodec())
    await publisher.start()
    live = await ReadModelStore.open(pg_database, "live")
    try:
        await publisher.publish_many_to(topic, first)
        await run_until_caught_up(Projector(live, kafka_bootstrap, topic, poll_ms=50), len(first))
        assert sum((await live.positions()).values()) == len(first)
        partial = await live.checksums()
        assert partial["flights"][0] > 0

        await publisher.publish_many_to(topic, second)
        resumed = Projector(live, kafka_bootstrap, topic, poll_ms=50)
        await run_until_caught_up(resumed, len(first) + len(second))
        # Warm-up re-folded the first half from the ledger; only the rest was applied.
        assert sum((await live.positions()).values()) == len(first) + len(second)
        assert resumed.fold.repeats == len(republished) + 25
        assert resumed.fold.refused == 0
        assert resumed.fold.fleet == expected  # the domain's own fold, event by event

        rebuilt_store = await ReadModelStore.open(pg_database, "rebuilt")
        try:
            report = await Projector(rebuilt_store, kafka_bootstrap, topic).rebuild()
            (row,) = await rebuilt_store.fetch("request_progress", "r1")
        finally:
            await rebuilt_store.close()
        assert report.events == len(first) + len(second)
        assert report.repeats == len(republished) + 25
        assert report.checksums == await live.checksums()
        assert report.checksums["missions"][0] == 13
        assert report.checksums["flight_steps"][0] == 13 * 8
        assert row["status"] == "SUCCEEDED" and row["missions_succeeded"] == 13
        assert row["last_topic"] == topic
    finally:
        await live.close()
        await publisher.stop()


async def test_a_rebuild_refuses_a_schema_that_is_not_empty(
    pg_database: str, kafka_bootstrap: str
) -> None:
    records, _ = ledger()
    topic = (await create_sandbox(kafka_bootstrap)) + topics.FAILOVER_EVENTS
    async with EventPublisher(kafka_bootstrap, client_id="test") as publisher:
        await publisher.publish_many_to(topic, records[:50])
    store = await ReadModelStore.open(pg_database, "once")
    try:
        await Projector(store, kafka_bootstrap, topic).rebuild()
        try:
            await Projector(store, kafka_bootstrap, topic).rebuild()
        except RuntimeError as error:
            assert "not empty" in str(error)
        else:
            raise AssertionError("a second rebuild into the same schema was accepted")
    finally:
        await store.close()


async def test_an_undecodable_ledger_record_is_dead_lettered_once_and_the_rest_applied(
    pg_database: str, kafka_bootstrap: str
) -> None:
    records, expected = ledger()
    prefix = await create_sandbox(kafka_bootstrap)
    topic, dead_topic = prefix + topics.FAILOVER_EVENTS, prefix + topics.DEAD_LETTER
    garbage = b"\xc3\x01" + b"\x00" * 8 + b"no schema has this fingerprint"
    publisher = EventPublisher(kafka_bootstrap, client_id="test", codec=EventCodec())
    await publisher.start()
    live = await ReadModelStore.open(pg_database, "poisoned")
    try:
        await publisher.publish_many_to(topic, records[:100])
        where = await publisher.send_raw(topic, b"poison", garbage, [])
        await publisher.publish_many_to(topic, records[100:])
        dead = DeadLetterPublisher(publisher, consumer_group="projections", topic=dead_topic)
        first = Projector(live, kafka_bootstrap, topic, poll_ms=50, dead_letters=dead)
        await run_until_caught_up(first, len(records) + 1)
        assert first.fold.fleet == expected  # everything else applied
        assert first.report.undecodable == 1
        # a restart warms up past it again: counted, not dead-lettered a second time
        again = Projector(live, kafka_bootstrap, topic, poll_ms=50, dead_letters=dead)
        await run_until_caught_up(again, len(records) + 1)
        assert again.report.undecodable == 1
    finally:
        await live.close()
        await publisher.stop()
    (letter,) = await read_all(kafka_bootstrap, dead_topic, expected=1, timeout_s=20)
    headers = {k: v.decode() for k, v in letter.headers}
    assert letter.value == garbage
    assert headers["dlq.consumer_group"] == "projections"
    assert headers["dlq.reason"] == "undecodable"
    assert (headers["dlq.source_topic"], int(headers["dlq.source_partition"])) == (topic, where[0])
    assert int(headers["dlq.source_offset"]) == where[1]


async def test_a_projector_that_lost_its_lock_session_cannot_write(pg_database: str) -> None:
    """The lock session of one projector is cut (a network blip, a restarted pooler);
    another takes the lock and writes. The first must not write one more row: before,
    it wrote on through its pool's other connections, beside the new writer."""
    old = await ReadModelStore.open(pg_database, "fenced")
    new = await ReadModelStore.open(pg_database, "fenced")
    try:
        assert await old.take_lock(wait=False)
        assert old._lock is not None
        pid = old._lock.get_server_pid()
        async with new.pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
        deadline = time.monotonic() + 10
        while not await new.take_lock(wait=False):  # the server released the old lock
            assert time.monotonic() < deadline, "the old lock was never released"
            await asyncio.sleep(0.05)
        await new.write({}, {("ledger", 0): 7})
        with pytest.raises((asyncpg.PostgresConnectionError, asyncpg.InterfaceError)):
            await old.write({}, {("ledger", 0): 3})  # refused: its session is gone
        assert await new.positions() == {("ledger", 0): 7}
        # And a store that never took the lock is refused by name.
        try:
            await ReadModelStore(new.pool, "fenced").write({}, {("ledger", 0): 1})
        except RuntimeError as error:
            assert "needs its writer lock" in str(error)
        else:
            raise AssertionError("a write without the lock was accepted")
        assert await new.positions() == {("ledger", 0): 7}
    finally:
        with contextlib.suppress(Exception):
            await old.close()
        await new.close()


async def test_a_live_projector_rides_out_its_sessions_being_cut(
    pg_database: str, kafka_bootstrap: str
) -> None:
    """Every session of the projector's database is terminated (what a PostgreSQL
    restart does to it) between two halves of the ledger. The projector must take the
    lock again, warm up afresh and apply the rest: before, its next write raised and
    ended it, and the read model stood still (a chaos run's live model stayed behind
    its rebuild through 20 comparisons)."""
    records, expected = ledger()
    half = len(records) // 2
    topic = (await create_sandbox(kafka_bootstrap)) + topics.FAILOVER_EVENTS
    publisher = EventPublisher(kafka_bootstrap, client_id="test", codec=EventCodec())
    await publisher.start()
    live = await ReadModelStore.open(pg_database, "live")
    stop = asyncio.Event()
    projector = Projector(live, kafka_bootstrap, topic, poll_ms=50)
    task = asyncio.create_task(projector.run(stop))
    try:
        await publisher.publish_many_to(topic, records[:half])
        await _until(lambda: sum(projector.positions.values()) >= half, task)
        admin = await asyncpg.connect(pg_database)
        try:
            cut = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        assert cut >= 1  # the lock's session at least
        await publisher.publish_many_to(topic, records[half:])
        await _until(lambda: sum(projector.positions.values()) >= len(records), task)
        assert projector.lives == 2
        assert projector.fold.fleet == expected
        assert await rebuilt_checksums(pg_database, "rebuilt", kafka_bootstrap, topic) == (
            await live.checksums()
        )
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=15)
        await live.close()
        await publisher.stop()


async def test_a_lingering_projector_writes_a_burst_together_and_still_equals_a_rebuild(
    pg_database: str, kafka_bootstrap: str
) -> None:
    """The ledger arrives in eight parts 0.1 s apart, as a failover's events do. A
    projector lingering 4 s after a fetch writes them in one or two transactions (the
    parts take well under 4 s to publish, even on a loaded machine); one that does not
    linger, fed each part once the previous one is written, writes each aggregate's
    row again. Both read models equal a rebuild, and the lingering fold equals the
    domain's."""
    records, expected = ledger()
    size = -(-len(records) // 8)
    parts = [records[i : i + size] for i in range(0, len(records), size)]
    writes: dict[int, list[int]] = {}
    for linger_ms in (4000, 0):
        topic = (await create_sandbox(kafka_bootstrap)) + topics.FAILOVER_EVENTS
        publisher = EventPublisher(kafka_bootstrap, client_id="test", codec=EventCodec())
        await publisher.start()
        live = await ReadModelStore.open(pg_database, f"linger_{linger_ms}")
        writes[linger_ms] = counted = []
        real_write = live.write

        async def counting_write(
            tables: Any, positions: Any, real_write: Any = real_write, counted: list[int] = counted
        ) -> int:
            counted.append(sum(len(rows) for rows in tables.values()))
            return int(await real_write(tables, positions))

        live.write = counting_write  # type: ignore[method-assign]
        projector = Projector(live, kafka_bootstrap, topic, poll_ms=50, linger_ms=linger_ms)
        stop = asyncio.Event()
        task = asyncio.create_task(projector.run(stop))
        try:
            await _until(projector.ready.is_set, task)
            published = 0
            for part in parts:
                await publisher.publish_many_to(topic, part)
                published += len(part)
                if linger_ms:
                    await asyncio.sleep(0.1)
                else:  # each part projected before the next: one write each at least
                    await _until(
                        lambda p=projector, n=published: sum(p.positions.values()) >= n, task
                    )
            await _until(lambda p=projector: sum(p.positions.values()) >= len(records), task)
            if linger_ms:
                assert projector.fold.fleet == expected
            rebuilt = await rebuilt_checksums(
                pg_database, f"rebuilt_{linger_ms}", kafka_bootstrap, topic
            )
            assert rebuilt == await live.checksums()
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=15)
            await live.close()
            await publisher.stop()
    assert 1 <= len(writes[4000]) <= 2, writes
    assert len(writes[0]) >= len(parts) > len(writes[4000]), writes
    assert sum(writes[0]) > sum(writes[4000]), writes  # rows written again and again


async def rebuilt_checksums(
    pg_database: str, schema: str, kafka_bootstrap: str, topic: str
) -> dict[str, tuple[int, str]]:
    """The checksums of the ledger rebuilt into a new schema: what a live one must equal."""
    rebuilt = await ReadModelStore.open(pg_database, schema)
    try:
        return (await Projector(rebuilt, kafka_bootstrap, topic).rebuild()).checksums
    finally:
        await rebuilt.close()


async def _until(done: Callable[[], bool], task: asyncio.Task[None], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if task.done():
            task.result()
            raise AssertionError("the projector ended")
        assert time.monotonic() < deadline, "the projector did not catch up"
        await asyncio.sleep(0.05)
