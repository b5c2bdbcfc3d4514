"""The event store on real PostgreSQL: atomic appends, repeats skipped, old writers fenced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest

from jetbridge.common.audit.chain import GENESIS, LINK_HEADER, compute_link
from jetbridge.common.events import EventCodec, EventRecord, new_event
from jetbridge.common.events.envelope import Envelope
from jetbridge.common.eventstore import (
    PostgresEventStore,
    WriterFenced,
    count_unpublished,
    migrate_event_store,
)
from jetbridge.common.eventstore.relay import records_of
from jetbridge.common.kafka.headers import Headers, header_value

KEY = b"ledger-key-for-tests-0123456789"


def _event(i: int, aggregate_id: str | None = None) -> EventRecord:
    return new_event(
        "ClusterHealthChanged",
        {"cluster_id": f"c{i}", "previous": "HEALTHY", "current": "DEGRADED", "reason": ""},
        aggregate_type="Cluster",
        aggregate_id=aggregate_id or f"c{i}",
        producer="test",
        schema_version=1,
    )


@pytest.fixture
async def pool(pg_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(pg_database, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await migrate_event_store(conn)
    yield pool
    await pool.close()


async def _to_publish(
    pool: asyncpg.Pool, ledger_topic: str
) -> list[tuple[str, str, bytes, Headers]]:
    """(event id, topic, value, headers) of each record the relay has to publish."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            'SELECT * FROM "jetbridge_event_store" WHERE "topics" IS NOT NULL ORDER BY "position"'
        )
    return [
        (header_value(headers, "event_id") or "", topic, value, headers)
        for topic, _, value, headers in records_of(rows, ledger_topic)
    ]


async def test_append_stores_publishes_and_moves_positions_together(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool, writer="navigator", holder="a")
    await store.take_writer_epoch()
    foreign, decided = _event(1), _event(2)
    result = await store.append(
        [foreign, decided], publish=[decided], positions={("t", 0): 11}, consumer="nav"
    )
    assert (result.stored, result.published) == (2, 1)
    again = await store.append(
        [foreign, decided], publish=[decided], positions={("t", 0): 12}, consumer="nav"
    )
    assert (again.stored, again.published) == (0, 0)  # repeats change nothing but positions
    assert await store.positions("nav") == {("t", 0): 12}
    assert [e.event_id async for e in store.read_all()] == [foreign.event_id, decided.event_id]
    async with pool.acquire() as conn:
        assert await count_unpublished(conn) == 1


async def test_an_old_writer_is_fenced_and_appends_nothing(pool: asyncpg.Pool) -> None:
    old = PostgresEventStore(pool, writer="navigator", holder="old")
    new = PostgresEventStore(pool, writer="navigator", holder="new")
    assert await old.take_writer_epoch() == 1
    assert await new.take_writer_epoch() == 2
    with pytest.raises(WriterFenced, match="fenced by epoch 2 held by 'new'"):
        await old.append([_event(1)], publish=[_event(1)], positions={("t", 0): 5}, consumer="n")
    assert [e async for e in new.read_all()] == []
    assert await new.positions("n") == {}
    await new.append([_event(3)])
    assert len([e async for e in new.read_all()]) == 1


async def test_appends_run_one_after_another(pool: asyncpg.Pool) -> None:
    """The relay reads by position, so positions must commit in order: an append waits
    for any other append of its writer still in its transaction (FOR UPDATE on the
    writer's row; with FOR SHARE both ran, and a later position could commit first)."""
    store = PostgresEventStore(pool, writer="w", holder="h")
    await store.take_writer_epoch()
    async with pool.acquire() as other, other.transaction():
        # What an append in progress holds, taken as the old code took it.
        await other.execute('SELECT 1 FROM "jetbridge_writers" WHERE "name" = $1 FOR SHARE', "w")
        waiting = asyncio.create_task(store.append([_event(1)], ledger_topic="ledger"))
        done, _ = await asyncio.wait({waiting}, timeout=0.5)
        assert not done, "an append ran beside another append of its writer"
    assert (await waiting).stored == 1


async def test_read_all_pages_in_fold_order(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool, writer="w", holder="h")
    await store.take_writer_epoch()
    events = [_event(i) for i in range(25)]
    for start in range(0, 25, 10):
        await store.append(events[start : start + 10])
    read = [e.event_id async for e in store.read_all(batch=7)]
    assert read == [e.event_id for e in events]


async def test_ledger_gets_a_copy_of_every_stored_event_once(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool, writer="w", holder="h")
    await store.take_writer_epoch()
    folded, decided = _event(1), _event(2)  # both ClusterHealthChanged: cluster.events
    await store.append(
        [folded, decided], publish=[decided], ledger_topic="jetbridge.cluster.events"
    )
    await store.append([folded], ledger_topic="ledger")  # a repeat adds nothing
    rows = await _to_publish(pool, "jetbridge.cluster.events")
    # decided is already published on the ledger topic: no second copy of it.
    assert sorted((event_id, topic) for event_id, topic, _, _ in rows) == sorted(
        [
            (decided.event_id, "jetbridge.cluster.events"),
            (folded.event_id, "jetbridge.cluster.events"),
        ]
    )


async def test_a_decision_for_another_topic_is_copied_to_the_ledger_too(
    pool: asyncpg.Pool,
) -> None:
    """The Navigator's FailoverEnabled goes to jetbridge.cluster.events, and its ledger
    copy to jetbridge.failover.events. Both records carry the one event id: the copy
    was once dropped by the old outbox table's unique event id, and the ledger's
    readers never saw it (a gap in the aggregate's hash chain for auditors)."""
    store = PostgresEventStore(pool, writer="w", holder="h", chain_key=KEY)
    await store.take_writer_epoch()
    decided = _event(2)  # ClusterHealthChanged: its topic is jetbridge.cluster.events
    result = await store.append([decided], publish=[decided], ledger_topic="ledger")
    assert (result.stored, result.published) == (1, 1)
    again = await store.append([decided], publish=[decided], ledger_topic="ledger")
    assert (again.stored, again.published) == (0, 0)  # a retry adds no third record
    rows = await _to_publish(pool, "ledger")
    by_topic = {topic: headers for _, topic, _, headers in rows}
    assert [topic for _, topic, _, _ in rows] == ["jetbridge.cluster.events", "ledger"]
    assert {event_id for event_id, _, _, _ in rows} == {decided.event_id}
    # Only the ledger's copy carries the chain link.
    assert store.chain is not None
    assert header_value(by_topic["jetbridge.cluster.events"], LINK_HEADER) is None
    assert header_value(by_topic["ledger"], LINK_HEADER) == store.chain.heads["c2"][1]


async def test_a_consumed_fact_is_stored_and_copied_byte_for_byte(pool: asyncpg.Pool) -> None:
    codec = EventCodec()
    fact = new_event(  # written by an older Pilot: v1 of a type that has a v2 now
        "FlightStepSucceeded",
        {"flight_id": "r/d/destination", "step": "WAIT_READY", "attempt": 1, "succeeded_at": 5},
        aggregate_type="Flight",
        aggregate_id="r/d/destination",
        producer="pilot",
        schema_version=1,
    )
    consumed = codec.encode(fact)
    assert consumed != codec.encode(replace(fact, envelope=_latest(fact.envelope, codec)))
    decided = _event(2)
    store = PostgresEventStore(pool, writer="w", holder="h", codec=codec)
    await store.take_writer_epoch()
    await store.append(
        [fact, decided],
        publish=[decided],
        ledger_topic="ledger",
        encoded={fact.event_id: consumed},
    )
    async with pool.acquire() as conn:
        stored = await conn.fetchval(
            'SELECT "record" FROM "jetbridge_event_store" WHERE "event_id" = $1', fact.event_id
        )
    copied = [
        value
        for event_id, _, value, _ in await _to_publish(pool, "ledger")
        if event_id == fact.event_id
    ]
    assert [bytes(stored), *copied] == [consumed, consumed]  # not encoded again, as v2
    assert [e.event_id async for e in store.read_all()] == [fact.event_id, decided.event_id]


def _latest(envelope: Envelope, codec: EventCodec) -> Envelope:
    return replace(envelope, schema_version=codec.registry.latest(envelope.event_type).version)


async def test_chain_links_skip_repeats_and_a_failed_append_moves_no_head(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool, writer="w", holder="h", chain_key=KEY)
    await store.take_writer_epoch()
    e1, e2, e3, e4 = (_event(i, "c1") for i in range(4))
    await store.append([e1], ledger_topic="ledger")
    await store.append([e1, e2, e3], ledger_topic="ledger")  # e1 repeated: skipped, unlinked
    assert store.chain is not None
    before = dict(store.chain.heads)
    not_an_offset: dict[tuple[str, int], int] = {("t", 0): "x"}  # type: ignore[dict-item]
    with pytest.raises(asyncpg.DataError):  # fails after the links were computed
        await store.append([e4], ledger_topic="ledger", positions=not_an_offset)
    assert store.chain.heads == before == await store.chain_heads()
    await store.append([e4], ledger_topic="ledger")

    async with pool.acquire() as conn:
        rows = await conn.fetch(
            'SELECT "event_id", "chain_seq", "chain_link", "record" FROM "jetbridge_event_store"'
            ' ORDER BY "position"'
        )
    expected = [e.event_id for e in (e1, e2, e3, e4)]
    assert [(str(r["event_id"]), r["chain_seq"]) for r in rows] == list(
        zip(expected, [1, 2, 3, 4], strict=True)
    )
    prev = GENESIS
    for r in rows:
        link = compute_link(
            KEY,
            prev=prev,
            aggregate_id="c1",
            seq=r["chain_seq"],
            event_id=str(r["event_id"]),
            value=bytes(r["record"]),
        )
        assert r["chain_link"] == link, f"event {r['chain_seq']} is not linked to its predecessor"
        prev = link
    assert await store.chain_heads() == {"c1": (4, prev)}


async def test_snapshots_are_signed_pruned_and_read_from_their_position(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool, writer="navigator", holder="t", chain_key=KEY)
    await store.take_writer_epoch()
    await store.append([_event(i) for i in range(5)])
    assert await store.last_position() == 5
    assert await store.latest_snapshot("fleet/v1") is None
    await store.save_snapshot("fleet/v0", 2, b"older code")  # another kind: pruned next
    for position, state in ((3, b"three"), (4, b"four"), (5, b"five")):
        await store.save_snapshot("fleet/v1", position, state)
    await store.save_snapshot("fleet/v1", 5, b"five again")  # the same position: replaced
    assert await store.latest_snapshot("fleet/v1") == (5, b"five again")
    async with pool.acquire() as conn:
        kept = await conn.fetch(
            'SELECT "kind", "position" FROM "jetbridge_snapshots" ORDER BY "position"'
        )
    assert [(r["kind"], r["position"]) for r in kept] == [("fleet/v1", 4), ("fleet/v1", 5)]
    # Folding goes on after the snapshot's position.
    assert [e.payload["cluster_id"] async for e in store.read_all(after=3)] == ["c3", "c4"]

    async with pool.acquire() as conn:  # someone with write access to the database
        await conn.execute(
            """UPDATE "jetbridge_snapshots" SET "state" = 'evil' WHERE "position" = 5"""
        )
    assert await store.latest_snapshot("fleet/v1") is None  # not loaded: it does not verify
    other_key = PostgresEventStore(pool, writer="navigator", holder="t", chain_key=b"x" * 32)
    assert await other_key.latest_snapshot("fleet/v1") is None
    unkeyed = PostgresEventStore(pool, writer="navigator", holder="t")
    assert await unkeyed.latest_snapshot("fleet/v1") is None  # nothing can be verified
    with pytest.raises(RuntimeError, match="ledger key"):
        await unkeyed.save_snapshot("fleet/v1", 5, b"unsigned")
