"""The ledger is tamper-evident: forged, dropped and edited events are each reported."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from jetbridge.common import topics
from jetbridge.common.audit import LedgerRecord
from jetbridge.common.events import new_event
from jetbridge.common.eventstore import PostgresEventStore
from jetbridge.common.kafka import EventPublisher
from jetbridge.common.topics import topic_specs
from jetbridge.navigator.audit.ledger import read_ledger
from jetbridge.navigator.audit.verify import verify_ledger
from tests.integration.navigator.scripted_planes import now_ms
from tests.integration.navigator.test_failover_saga import LEDGER_KEY, World
from tests.unit.navigator.builders import cluster_events

KEY = LEDGER_KEY.encode()


async def _failover_then_stop(world: World) -> tuple[str, dict[str, tuple[int, str]]]:
    """A finished 10-Deployment failover; returns the ledger topic and the writer's heads."""
    await world.facts(["east", "west"], [f"dep-{i}" for i in range(10)])
    request_id = await world.request("east", "west", "CONTROLLED")
    status = await world.finished(request_id)
    store = world.service.store
    assert isinstance(store, PostgresEventStore)
    # The Navigator folds a batch into its fleet before the store commits it: wait for
    # the request's last event in the store, or the heads may miss that batch (a CI run
    # saw every Deployment's head one short of the ledger).
    last = f"Failover{status.value.title()}"
    for _ in range(100):
        stored = [e async for e in store.read_all() if e.event_type == last]
        if any(e.envelope.aggregate_id == request_id for e in stored):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"{last} of {request_id} never stored")
    heads = await store.chain_heads()
    ledger = world.app.settings.topic_prefix + topics.FAILOVER_EVENTS
    # Wait until the relay has published everything the store holds.
    for _ in range(100):
        read, _ = await verify_ledger(world.app.settings.kafka_bootstrap_servers, ledger, KEY)
        if read >= sum(seq for seq, _ in heads.values()):
            break
        await asyncio.sleep(0.1)
    return ledger, heads


async def _copy(
    bootstrap: str, source: str, target: str, change: dict[int, LedgerRecord | None]
) -> None:
    """Copy a topic record by record into the same partitions, dropping or editing some."""
    partitions = next(s.partitions for s in topic_specs() if s.name == topics.FAILOVER_EVENTS)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(target, partitions, 1)])
    await admin.close()
    async with EventPublisher(bootstrap, client_id="copier") as publisher:
        index = 0
        async for raw in read_ledger(bootstrap, source):
            record = change.get(index, raw.ledger)
            index += 1
            if record is None:
                continue
            await publisher._producer.send_and_wait(  # keep each record's partition
                target,
                value=record.value,
                key=record.key.encode(),
                headers=list(record.headers),
                partition=record.partition,
            )


async def test_verify_reports_forged_dropped_and_edited_events(world: World) -> None:
    bootstrap = world.app.settings.kafka_bootstrap_servers
    ledger, heads = await _failover_then_stop(world)
    read, breaks = await verify_ledger(bootstrap, ledger, KEY, heads)
    assert breaks == [], breaks[:20]
    assert read == sum(seq for seq, _ in heads.values())

    # Dropped and edited: tampered copies of the whole ledger.
    originals = [raw.ledger async for raw in read_ledger(bootstrap, ledger)]
    middle = next(i for i, r in enumerate(originals[1:], 1) if r.key == originals[i - 1].key)
    dropped, edited = ledger + ".dropped", ledger + ".edited"
    await _copy(bootstrap, ledger, dropped, {middle: None})
    await _copy(
        bootstrap, ledger, edited, {middle: _with_value(originals[middle], b"\x00tampered")}
    )
    _, breaks = await verify_ledger(bootstrap, dropped, KEY, heads)
    assert breaks, "a dropped event went unnoticed"
    assert (
        breaks[0].kind in ("GAP", "TRUNCATED") and breaks[0].aggregate_id == originals[middle].key
    )
    _, breaks = await verify_ledger(bootstrap, edited, KEY, heads)
    assert [(b.kind, b.partition, b.offset) for b in breaks] == [
        ("BAD_LINK", originals[middle].partition, originals[middle].offset)
    ]

    # Forged: produced straight onto the live ledger, around the Navigator.
    forged = new_event(
        "FailoverSucceeded",
        {"request_id": "req-forged", "succeeded_at": 0},
        aggregate_type="FailoverRequest",
        aggregate_id="req-forged",
        producer="mallory",
        schema_version=1,
    )
    await world.publisher.publish(forged)
    _, breaks = await verify_ledger(bootstrap, ledger, KEY, heads)
    assert [(b.kind, b.aggregate_id) for b in breaks] == [("UNSIGNED", "req-forged")]


def _with_value(record: LedgerRecord, value: bytes) -> LedgerRecord:
    return LedgerRecord(
        record.partition, record.offset, record.key, record.event_id, value, record.headers
    )


async def test_a_decision_published_on_the_cluster_topic_is_on_the_ledger_too(
    world: World,
) -> None:
    """FailoverEnabled (or its refusal) is the Navigator's decision on an EnableFailover
    command, published on jetbridge.cluster.events. The ledger must carry a copy, linked
    in the cluster's chain: its copy was once dropped (one outbox row per event id), so
    projections and the Console never saw the switch, and auditors found a gap."""
    start = now_ms() - 60_000
    registered = cluster_events("north", at=start, failover_enabled=False)
    await world.publisher.publish_many(
        [
            world.mapper.to_record(
                e, correlation_id="north", caused_by=None, actor=None, occurred_at_ms=start
            )
            for e in registered
        ]
    )
    fleet = world.service.fleet
    await world.until("north to be folded", lambda: "north" in fleet.clusters)
    command = new_event(
        "EnableFailover",
        {"cluster_id": "north"},
        aggregate_type="Command",
        aggregate_id="north",
        producer="test-console",
        schema_version=1,
        actor="alice@example.com",
    )
    await world.publisher.publish(command)
    store = world.service.store
    assert isinstance(store, PostgresEventStore)
    decided: list[str] = []

    async def decision_stored() -> bool:
        decided[:] = [
            e.event_id
            async for e in store.read_all()
            if e.event_type in ("FailoverEnabled", "FailoverEnableRefused")
            and e.envelope.aggregate_id == "north"
        ]
        return bool(decided)

    for _ in range(100):
        if await decision_stored():
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("no FailoverEnabled or FailoverEnableRefused stored for north")
    bootstrap = world.app.settings.kafka_bootstrap_servers
    ledger = world.app.settings.topic_prefix + topics.FAILOVER_EVENTS
    heads = await store.chain_heads()
    for _ in range(100):
        on_ledger = {r.ledger.event_id async for r in read_ledger(bootstrap, ledger)}
        if set(decided) <= on_ledger and len(on_ledger) >= sum(s for s, _ in heads.values()):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"decision {decided} not on the ledger {ledger}")
    _, breaks = await verify_ledger(bootstrap, ledger, KEY, heads)
    assert breaks == [], breaks[:20]
