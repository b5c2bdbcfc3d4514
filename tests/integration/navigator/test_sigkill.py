"""The Navigator as a real process: SIGKILLed at random moments, and two at once.

``python -m jetbridge.navigator`` runs against the sandbox (its own topics) and the
test's database, with the scripted data planes answering flights. During a Controlled
failover of 50 Deployments it is killed with SIGKILL several times at random moments
(seeded: the seed is printed; ``JETBRIDGE_SIGKILL_SEED`` replays a run) and restarted.
Then: the request ends SUCCEEDED; no decision was taken twice (in the store and in the
ledger, after dropping repeated event ids); every stored event reached the ledger; and
the store replays to the same fleet as the ledger folds to. A second Navigator started
beside a first one fences it: the older one stops with ``WriterFenced``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from jetbridge.common import topics
from jetbridge.common.events import EventCodec, EventRecord, SchemaRegistry, new_event
from jetbridge.common.eventstore import PostgresEventStore, count_unpublished
from jetbridge.common.kafka import EventPublisher
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.vocabulary import MissionStatus, RequestStatus
from jetbridge.navigator.projections.fold import LedgerDecoder, LedgerFold
from tests.integration.kafka_tools import create_sandbox
from tests.integration.navigator.scripted_planes import ScriptedPlanes, now_ms
from tests.unit.navigator.builders import cluster_events, deployment

REGISTRY = SchemaRegistry()
MAPPER = EventMapper(REGISTRY, producer="test")
DEPLOYMENTS = 50
KILLS = 4
# Decisions the domain takes once per aggregate (per mission for Deployment events).
ONCE = {
    "FailoverRequested",
    "FailoverStarted",
    "FailoverSucceeded",
    "MissionCreated",
    "MissionStarted",
    "MissionSucceeded",
    "FlightPlanned",
    "FlightSucceeded",
    "DeploymentFenced",
    "DeploymentRelocated",
}


class Navigator:
    """One ``python -m jetbridge.navigator`` process, its output in a file."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str) -> None:
        self.log = log_dir / f"{name}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jetbridge.navigator"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class Sandbox:
    def __init__(self, dsn: str, bootstrap: str, prefix: str, log_dir: Path) -> None:
        self.dsn, self.bootstrap, self.prefix, self.log_dir = dsn, bootstrap, prefix, log_dir
        self.env = {
            **os.environ,
            "JETBRIDGE_NAVIGATOR_DSN": dsn,
            "JETBRIDGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "JETBRIDGE_TOPIC_PREFIX": prefix,
            "JETBRIDGE_NAVIGATOR_TICK_MS": "100",
            "JETBRIDGE_LEDGER_KEY": "sigkill-test-ledger-key-0123",
            "PYTHONUNBUFFERED": "1",
        }
        self.started = 0
        self.navigators: list[Navigator] = []  # every one started, killed at teardown

    def start(self) -> Navigator:
        self.started += 1
        nav = Navigator(self.env, self.log_dir, f"navigator-{self.started}")
        self.navigators.append(nav)
        return nav

    def kill_all(self) -> None:
        """A failed test must not leave a Navigator running (one did, for an hour)."""
        for nav in self.navigators:
            nav.kill()

    async def scalar(self, sql: str, *args: object) -> object:
        conn = await asyncpg.connect(self.dsn)
        try:
            return await conn.fetchval(sql, *args)
        except asyncpg.UndefinedTableError:
            return None  # the Navigator has not migrated yet
        finally:
            await conn.close()

    async def unpublished(self) -> int | None:
        conn = await asyncpg.connect(self.dsn)
        try:
            return await count_unpublished(conn)
        except asyncpg.UndefinedTableError:
            return None  # the Navigator has not migrated yet
        finally:
            await conn.close()

    async def stored(self, event_type: str, aggregate_id: str | None = None) -> int:
        found = await self.scalar(
            'SELECT count(*) FROM "jetbridge_event_store" WHERE "event_type" = $1'
            ' AND ($2::text IS NULL OR "aggregate_id" = $2)',
            event_type,
            aggregate_id,
        )
        return int(found or 0)

    async def until(
        self, what: str, check: object, *procs: Navigator, timeout_s: float = 120
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not await check():  # type: ignore[operator]
            for p in procs:
                assert p.proc.poll() is None, f"navigator exited:\n{p.output()[-3000:]}"
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out waiting for {what}\n{await self.story(procs)}")
            await asyncio.sleep(0.05)

    async def story(self, procs: tuple[Navigator, ...]) -> str:
        """What a timeout needs to be understood: the last stored events, the logs."""
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch(
                'SELECT "event_type", "aggregate_id" FROM "jetbridge_event_store"'
                ' ORDER BY "position" DESC LIMIT 15'
            )
        finally:
            await conn.close()
        last = "\n".join(f"  {r['event_type']} {r['aggregate_id']}" for r in reversed(rows))
        logs = "\n".join(f"--- {p.log.name}\n{p.output()[-2500:]}" for p in procs)
        return f"last stored events:\n{last}\n{logs}"


@pytest.fixture
async def sandbox(
    pg_database: str, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[tuple[Sandbox, EventPublisher, ScriptedPlanes]]:
    prefix = await create_sandbox(kafka_bootstrap, ("east", "west"))
    planes = ScriptedPlanes(kafka_bootstrap, prefix, MAPPER)
    stop = asyncio.Event()
    task = asyncio.create_task(planes.run(stop), name="scripted planes")
    publisher = EventPublisher(kafka_bootstrap, client_id="test", topic_prefix=prefix)
    await publisher.start()
    box = Sandbox(pg_database, kafka_bootstrap, prefix, tmp_path)
    try:
        yield box, publisher, planes
    finally:
        box.kill_all()
        stop.set()
        await publisher.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=15)


async def publish_facts(publisher: EventPublisher, ids: list[str]) -> None:
    start = now_ms() - 60_000
    domain = [e for c in ("east", "west") for e in cluster_events(c, at=start)]
    domain += [deployment(d, "east", created_at=start + 1_000) for d in ids]
    await publisher.publish_many(
        [
            MAPPER.to_record(
                e, correlation_id=e.aggregate_id, caused_by=None, actor=None, occurred_at_ms=start
            )
            for e in domain
        ]
    )


def request_command(request_id: str, limit: int) -> EventRecord:
    return new_event(
        "RequestFailover",
        {
            "request_id": request_id,
            "source_cluster_id": "east",
            "destination_cluster_id": "west",
            "mode": "CONTROLLED",
            "drain_timeout_seconds": 60,
            "max_concurrent_missions": limit,
        },
        aggregate_type="Command",
        aggregate_id=request_id,
        producer="test-console",
        schema_version=1,
        actor="alice@example.com",
    )


async def read_ledger(bootstrap: str, topic: str) -> list[tuple[int, int, bytes]]:
    """Every record of the ledger up to its end now: (partition, offset, value)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        while not consumer.partitions_for_topic(topic):
            await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        out: list[tuple[int, int, bytes]] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                out += [(tp.partition, r.offset, r.value or b"") for r in records]
    finally:
        await consumer.stop()
    return out


def decisions_taken_once(events: list[ev.DomainEvent]) -> None:
    """Each once-only decision appears at most once per aggregate (per mission)."""
    counts = Counter(
        (
            e.event_type(),
            e.aggregate_id,
            getattr(e, "mission_id", "") if e.AGGREGATE == "Deployment" else "",
        )
        for e in events
        if e.event_type() in ONCE
    )
    twice = {key: n for key, n in counts.items() if n > 1}
    assert not twice, f"decisions taken more than once: {list(twice.items())[:5]}"


async def test_sigkill_at_random_moments_resumes_without_a_duplicate_decision(
    sandbox: tuple[Sandbox, EventPublisher, ScriptedPlanes],
) -> None:
    box, publisher, planes = sandbox
    seed = int(os.environ.get("JETBRIDGE_SIGKILL_SEED", random.randrange(2**32)))
    print(f"\nSIGKILL seed: {seed} (JETBRIDGE_SIGKILL_SEED={seed} replays these moments)")
    rng = random.Random(seed)
    ids = [f"dep-{i:03d}" for i in range(DEPLOYMENTS)]
    request_id = f"req-{uuid.uuid4().hex[:8]}"

    await publish_facts(publisher, ids)
    nav = box.start()
    await box.until("the facts to be folded", lambda: _folded_facts(box), nav)
    await publisher.publish(request_command(request_id, limit=5))
    kills: list[str] = []
    # Kill moments are drawn in progress (missions started), not in wall time: a faster
    # Navigator must not finish the failover before the test has killed it KILLS times.
    targets = sorted(rng.sample(range(1, DEPLOYMENTS - 5), KILLS))
    for target in targets:

        async def reached(target: int = target) -> bool:
            return await box.stored("MissionStarted") >= target

        await box.until(f"{target} missions to start", reached, nav)
        # ...then a random moment inside the work that follows (writes, outbox, acks).
        await asyncio.sleep(rng.uniform(0.0, 0.2))
        if await box.stored("FailoverSucceeded", request_id):
            break
        stored = await _count(box)
        started = await box.stored("MissionStarted")
        nav.kill()
        kills.append(f"after {stored} stored events, {started} missions started")
        nav = box.start()
    print("killed: " + "; ".join(kills))
    assert len(kills) >= 2, "the failover ended before the Navigator could be killed twice"

    async def succeeded() -> bool:
        return await box.stored("FailoverSucceeded", request_id) == 1

    await box.until("the request to succeed", succeeded, nav)

    async def drained() -> bool:
        return await box.unpublished() == 0

    await box.until("the relay to publish all", drained, nav)
    nav.kill()

    # The store: one history, no decision twice, replays to a finished fleet.
    pool = await asyncpg.create_pool(box.dsn, min_size=1, max_size=2)
    try:
        store = PostgresEventStore(pool, writer="navigator", holder="test")
        records = [r async for r in store.read_all()]
    finally:
        await pool.close()
    domain = [MAPPER.to_domain(r) for r in records if MAPPER.is_domain_event(r)]
    decisions_taken_once(domain)
    replayed = Fleet.replay(domain)
    request = replayed.requests[request_id]
    assert request.status is RequestStatus.SUCCEEDED
    missions = [replayed.missions[m] for m in request.mission_ids]
    assert len(missions) == DEPLOYMENTS
    assert all(m.status is MissionStatus.SUCCEEDED for m in missions)

    # The ledger: after dropping repeated ids it holds exactly the stored events, no
    # decision twice, and it folds to the very fleet the store replays to.
    ledger = await read_ledger(box.bootstrap, box.prefix + topics.FAILOVER_EVENTS)
    codec, decoder, fold = EventCodec(REGISTRY), LedgerDecoder(REGISTRY), LedgerFold()
    ids_in_ledger = [codec.decode(value).event_id for _, _, value in ledger]
    assert set(ids_in_ledger) == {r.event_id for r in records}
    for partition, offset, value in sorted(ledger):
        decoded = decoder.decode(value)
        if decoded is not None:
            fold.fold(decoded[0], decoded[1], ("ledger", partition, offset))
    assert fold.refused == 0
    unique = {}
    for _, _, value in ledger:
        decoded = decoder.decode(value)
        if decoded is not None:
            unique.setdefault(decoded[0], decoded[1])
    decisions_taken_once(list(unique.values()))
    assert fold.fleet == replayed
    print(
        f"ledger: {len(ledger)} records, {len(ledger) - len(set(ids_in_ledger))} repeats dropped;"
        f" store: {len(records)} events; planes ignored {planes.repeats} repeated decisions"
    )


async def test_a_second_navigator_fences_the_first(
    sandbox: tuple[Sandbox, EventPublisher, ScriptedPlanes],
) -> None:
    box, publisher, _ = sandbox
    await publish_facts(publisher, ["dep-a", "dep-b"])
    first = box.start()
    await box.until("the facts to be folded", lambda: _folded_facts(box, 2), first)
    second = box.start()
    await box.until("the second writer epoch", lambda: _epoch_at_least(box, 2), first, second)
    await asyncio.sleep(1.0)  # the second one has recovered and consumes too
    # A new fact: both fold it, only the newer writer may append it.
    late = deployment("dep-late", "east", created_at=now_ms())
    await publisher.publish(
        MAPPER.to_record(
            late, correlation_id="dep-late", caused_by=None, actor=None, occurred_at_ms=now_ms()
        )
    )
    deadline = time.monotonic() + 60
    while first.proc.poll() is None:
        assert time.monotonic() < deadline, "the fenced Navigator kept running"
        await asyncio.sleep(0.1)
    assert first.proc.returncode != 0
    assert "WriterFenced" in first.output()
    await box.until("the newer writer to store the fact", lambda: _has_late(box), second)
    assert second.proc.poll() is None, second.output()[-2000:]
    second.kill()
    assert await box.stored("DeploymentCreated", "dep-late") == 1


async def _folded_facts(box: Sandbox, deployments: int = DEPLOYMENTS) -> bool:
    return (
        await box.stored("DeploymentCreated") == deployments
        and await box.stored("ClusterHealthChanged") == 2
    )


async def _count(box: Sandbox) -> int:
    return int(str(await box.scalar('SELECT count(*) FROM "jetbridge_event_store"') or 0))


async def _epoch_at_least(box: Sandbox, epoch: int) -> bool:
    found = await box.scalar(
        'SELECT "epoch" FROM "jetbridge_writers" WHERE "name" = $1', "navigator"
    )
    return found is not None and int(str(found)) >= epoch


async def _has_late(box: Sandbox) -> bool:
    return await box.stored("DeploymentCreated", "dep-late") == 1
