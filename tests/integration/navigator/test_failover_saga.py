"""The Navigator on real Kafka + PostgreSQL, with scripted data planes answering flights.

Done-when of the Navigator issue: Controlled and Forced failovers of 50 Deployments
reach SUCCEEDED, a failback of the same Deployments succeeds, one failing Deployment
yields FAILED with the others SUCCEEDED, and a Navigator rebuilt from its store equals
the live one. The projector runs beside the Navigator: it folds the Navigator's very
fleet from the ledger, and the read model rebuilt from the ledger equals the live one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from jetbridge.common import topics
from jetbridge.common.events import EventRecord, SchemaRegistry, new_event
from jetbridge.common.eventstore import PostgresEventStore
from jetbridge.common.kafka import EventPublisher
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.domain.vocabulary import MissionStatus, RequestStatus
from jetbridge.navigator.entrypoints import app as navigator_app
from jetbridge.navigator.entrypoints.app import NavigatorApp, NavigatorSettings
from jetbridge.navigator.service_layer import snapshots
from jetbridge.navigator.service_layer.navigator import NavigatorService
from tests.integration.kafka_tools import create_sandbox
from tests.integration.navigator.read_model import LiveReadModel
from tests.integration.navigator.scripted_planes import ScriptedPlanes, now_ms
from tests.unit.navigator.builders import cluster_events, deployment

REGISTRY = SchemaRegistry()
DEPLOYMENTS = 50
LEDGER_KEY = "test-ledger-key-0123456789"
CLUSTERS = ("east", "west", "north", "south")  # each with its reports topic


@dataclass
class World:
    app: NavigatorApp
    publisher: EventPublisher
    planes: ScriptedPlanes
    mapper: EventMapper
    tasks: tuple[asyncio.Task[None], ...]
    read_model: LiveReadModel

    @property
    def service(self) -> NavigatorService:
        assert self.app.service is not None
        return self.app.service

    async def until(self, what: str, check: Callable[[], bool], timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            for task in self.tasks:  # a crashed Navigator or data plane fails the test now
                if task.done():
                    task.result()
                    raise AssertionError(f"{task.get_name()} stopped while waiting for {what}")
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.05)

    async def facts(self, cluster_ids: list[str], deployment_ids: list[str]) -> None:
        start = now_ms() - 60_000
        domain = [e for c in cluster_ids for e in cluster_events(c, at=start)]
        domain += [deployment(d, cluster_ids[0], created_at=start + 1_000) for d in deployment_ids]
        await self.publisher.publish_many(
            [
                self.mapper.to_record(
                    e,
                    correlation_id=e.aggregate_id,
                    caused_by=None,
                    actor=None,
                    occurred_at_ms=start,
                )
                for e in domain
            ]
        )
        fleet = self.service.fleet
        await self.until(
            "the facts to be folded",
            lambda: (
                len(fleet.deployments) == len(deployment_ids)
                and all(c in fleet.clusters and fleet.clusters[c].reachable for c in cluster_ids)
            ),
        )

    async def stop_and_fold_the_store(self) -> NavigatorService:
        """Stop the Navigator, then fold its whole store in a new one (no ledger key:
        no snapshot is read)."""
        await self.app.stop()
        await asyncio.wait_for(self.tasks[0], timeout=15)
        pool = await asyncpg.create_pool(self.app.settings.navigator_dsn, min_size=1, max_size=2)
        try:
            full = NavigatorService(
                PostgresEventStore(pool, writer="navigator", holder="test"),
                self.mapper,
                self.service.clock_ms,
            )
            await full.recover()
        finally:
            await pool.close()
        return full

    async def request(self, source: str, destination: str, mode: str) -> str:
        request_id = f"req-{uuid.uuid4().hex[:8]}"
        command = new_event(
            "RequestFailover",
            {
                "request_id": request_id,
                "source_cluster_id": source,
                "destination_cluster_id": destination,
                "mode": mode,
                "drain_timeout_seconds": 60,
                "max_concurrent_missions": 20,
            },
            aggregate_type="Command",
            aggregate_id=request_id,
            producer="test-console",
            schema_version=1,
            actor="alice@example.com",
        )
        await self.publisher.publish(command)
        return request_id

    async def finished(self, request_id: str) -> RequestStatus:
        requests = self.service.fleet.requests
        terminal = {RequestStatus.SUCCEEDED, RequestStatus.FAILED, RequestStatus.REJECTED}
        await self.until(
            f"request {request_id} to end",
            lambda: request_id in requests and requests[request_id].status in terminal,
        )
        return requests[request_id].status


@pytest.fixture
async def world(
    pg_database: str, kafka_bootstrap: str, request: pytest.FixtureRequest
) -> AsyncIterator[World]:
    prefix = await create_sandbox(kafka_bootstrap, CLUSTERS)
    settings = NavigatorSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        navigator_dsn=pg_database,
        navigator_tick_ms=100,
        topic_prefix=prefix,
        ledger_key=LEDGER_KEY,
        **getattr(request, "param", {}),  # type: ignore[arg-type]
    )
    app = NavigatorApp(settings)
    mapper = EventMapper(REGISTRY, producer="test")
    planes = ScriptedPlanes(kafka_bootstrap, prefix, mapper)
    stop = asyncio.Event()
    app_task = asyncio.create_task(app.run(), name="navigator")
    planes_task = asyncio.create_task(planes.run(stop), name="scripted planes")
    publisher = EventPublisher(kafka_bootstrap, client_id="test", topic_prefix=prefix)
    await publisher.start()
    deadline = time.monotonic() + 30
    while app.service is None:
        assert not app_task.done(), app_task.exception()
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    try:
        read_model = LiveReadModel(pg_database, kafka_bootstrap, prefix)
        await read_model.start()
        yield World(app, publisher, planes, mapper, (app_task, planes_task), read_model)
    finally:
        stop.set()
        with contextlib.suppress(UnboundLocalError):
            await read_model.close()
        await app.stop()
        await publisher.stop()
        for task in (app_task, planes_task):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=15)


async def test_controlled_then_forced_failback_of_50_deployments(world: World) -> None:
    ids = [f"dep-{i:03d}" for i in range(DEPLOYMENTS)]
    await world.facts(["east", "west"], ids)

    started = time.monotonic()
    there = await world.request("east", "west", "CONTROLLED")
    assert await world.finished(there) is RequestStatus.SUCCEEDED
    controlled_s = time.monotonic() - started
    fleet = world.service.fleet
    assert {fleet.deployments[d].cluster_id for d in ids} == {"west"}

    started = time.monotonic()
    back = await world.request("west", "east", "FORCED")
    assert await world.finished(back) is RequestStatus.SUCCEEDED
    forced_s = time.monotonic() - started
    assert {fleet.deployments[d].cluster_id for d in ids} == {"east"}
    # Every mission of both requests succeeded, each fenced with a newer epoch.
    missions = [m for m in fleet.missions.values() if m.request_id in (there, back)]
    assert len(missions) == 2 * DEPLOYMENTS
    assert all(m.status is MissionStatus.SUCCEEDED for m in missions)
    epochs = {(m.request_id, m.fencing_epoch) for m in missions}
    assert {e for r, e in epochs if r == there} == {1}
    assert {e for r, e in epochs if r == back} == {2}
    print(f"controlled 50: {controlled_s:.1f}s, forced failback 50: {forced_s:.1f}s")
    await world.read_model.folded(fleet)  # the projector agrees with the Navigator

    # A Navigator rebuilt from the store decides from exactly the same state.
    await world.app.stop()  # quiesce: nothing is appended while we compare
    await asyncio.wait_for(world.tasks[0], timeout=15)
    pool = await asyncpg.create_pool(world.app.settings.navigator_dsn, min_size=1, max_size=2)
    try:
        store = PostgresEventStore(pool, writer="navigator", holder="test")
        rebuilt = NavigatorService(store, world.mapper, world.service.clock_ms)
        await rebuilt.recover()
    finally:
        await pool.close()
    for table in ("clusters", "deployments", "requests", "missions", "flights"):
        live, replayed = getattr(fleet, table), getattr(rebuilt.fleet, table)
        differing = [k for k in live if k not in replayed or vars(live[k]) != vars(replayed[k])]
        assert not differing, f"{table} differ after replay: {differing[:3]}"
    assert rebuilt.fleet == fleet

    # The read model rebuilt from the ledger equals the live one, table by table.
    sums = await world.read_model.rebuild_equals_live()
    assert sums["missions"][0] == 2 * DEPLOYMENTS and sums["flights"][0] == 4 * DEPLOYMENTS
    assert world.read_model.store is not None
    for request_id in (there, back):
        (row,) = await world.read_model.store.fetch("request_progress", request_id)
        assert row["status"] == "SUCCEEDED" and row["requested_by"] == "alice@example.com"
        assert row["missions_succeeded"] == row["missions_total"] == DEPLOYMENTS
        assert row["ended_at"] >= row["started_at"] >= row["requested_at"]


@pytest.mark.parametrize("world", [{"navigator_snapshot_every": 300}], indirect=True)
async def test_a_restarted_navigator_starts_from_its_snapshot_and_goes_on(world: World) -> None:
    """A snapshot is taken once 300 events were stored and no input waits; the next
    Navigator on the same database folds only what came after it, holds the same fleet
    as a full fold of the store, and carries the failback through."""
    ids = [f"dep-{i:03d}" for i in range(20)]
    await world.facts(["east", "west"], ids)
    there = await world.request("east", "west", "CONTROLLED")
    assert await world.finished(there) is RequestStatus.SUCCEEDED
    dsn = world.app.settings.navigator_dsn
    # Some 500 events stored: below 300 since the last snapshot means one was taken.
    await world.until("a snapshot", lambda: world.service.stored_since_snapshot < 300)
    await world.app.stop()
    await asyncio.wait_for(world.tasks[0], timeout=15)
    conn = await asyncpg.connect(dsn)
    try:
        taken = await conn.fetchrow(
            'SELECT "position", "kind" FROM "jetbridge_snapshots" ORDER BY "position" DESC'
        )
        stored = await conn.fetchval('SELECT count(*) FROM "jetbridge_event_store"')
    finally:
        await conn.close()
    assert taken is not None and taken["kind"] == snapshots.KIND
    assert stored >= taken["position"] >= 300
    again = NavigatorApp(world.app.settings)
    task = asyncio.create_task(again.run(), name="navigator (restarted)")
    world.app, world.tasks = again, (task, *world.tasks[1:])
    await world.until("the restarted Navigator to decide", lambda: again.deciding)
    assert world.service.recovered_from == taken["position"]

    back = await world.request("west", "east", "FORCED")
    assert await world.finished(back) is RequestStatus.SUCCEEDED
    fleet = world.service.fleet
    assert {fleet.deployments[d].cluster_id for d in ids} == {"east"}
    full = await world.stop_and_fold_the_store()
    assert full.recovered_from == 0 and full.fleet == fleet


async def test_postgresql_cutting_the_navigators_sessions_ends_a_life_not_the_navigator(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mid-failover, PostgreSQL ends every session of the Navigator's database (what a
    restart or an administrator does) while an append holds one: the append fails as
    it would then, the life ends, and the next one recovers from the store and carries
    the failover through. Nothing is stored twice, and the fleet is the store's."""
    ids = [f"dep-{i:03d}" for i in range(20)]
    await world.facts(["east", "west"], ids)
    dsn = world.app.settings.navigator_dsn
    real_append = PostgresEventStore.append
    armed, cut = asyncio.Event(), asyncio.Event()

    async def append(self: PostgresEventStore, *args: object, **kwargs: object) -> object:
        if armed.is_set() and not cut.is_set():
            cut.set()
            async with self._pool.acquire() as conn:
                admin = await asyncpg.connect(dsn)
                try:
                    await admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                finally:
                    await admin.close()
                await conn.fetchval("SELECT 1")  # the server ended this session: raises
            raise AssertionError("the terminated session still answered")
        return await real_append(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(PostgresEventStore, "append", append)
    there = await world.request("east", "west", "CONTROLLED")
    await world.until(
        "missions to run",
        lambda: any(
            m.status is MissionStatus.RUNNING for m in world.service.fleet.missions.values()
        ),
    )
    armed.set()
    await world.until(
        "a second life to decide", lambda: world.app.lives == 2 and world.app.deciding
    )
    assert cut.is_set()
    assert await world.finished(there) is RequestStatus.SUCCEEDED
    assert world.app.lives == 2
    fleet = world.service.fleet
    assert {fleet.deployments[d].cluster_id for d in ids} == {"west"}
    assert (await world.stop_and_fold_the_store()).fleet == fleet


async def test_a_deployment_created_on_the_source_mid_failover_moves_too(world: World) -> None:
    ids = [f"dep-{i:03d}" for i in range(5)]
    await world.facts(["east", "west"], ids)
    world.planes.holding = True  # the data planes answer nothing yet
    request_id = await world.request("east", "west", "CONTROLLED")
    fleet = world.service.fleet
    await world.until(
        "the request to start",
        lambda: (
            request_id in fleet.requests
            and fleet.requests[request_id].status is RequestStatus.IN_PROGRESS
        ),
    )
    late = deployment("late-000", "east", created_at=now_ms())
    await world.publisher.publish(
        world.mapper.to_record(
            late, correlation_id="late-000", caused_by=None, actor=None, occurred_at_ms=now_ms()
        )
    )
    await world.until(
        "the late Deployment to join",
        lambda: f"{request_id}/late-000" in fleet.requests[request_id].mission_ids,
    )
    world.planes.holding = False
    assert await world.finished(request_id) is RequestStatus.SUCCEEDED
    assert {fleet.deployments[d].cluster_id for d in [*ids, "late-000"]} == {"west"}
    await world.read_model.folded(fleet)
    await world.app.stop()
    await asyncio.wait_for(world.tasks[0], timeout=15)
    await world.read_model.rebuild_equals_live()
    assert world.read_model.store is not None
    (row,) = await world.read_model.store.fetch("request_progress", request_id)
    assert row["status"] == "SUCCEEDED"
    assert row["missions_succeeded"] == row["missions_total"] == 6


async def test_one_failing_deployment_fails_the_request_and_the_rest_succeed(
    world: World,
) -> None:
    ids = [f"dep-{i:03d}" for i in range(DEPLOYMENTS)]
    world.planes.fail_permanently.add(("dep-007", "DESTINATION", "UPSERT_DEPLOYMENT"))
    await world.facts(["north", "south"], ids)
    request_id = await world.request("north", "south", "CONTROLLED")
    assert await world.finished(request_id) is RequestStatus.FAILED
    missions = {
        m.deployment_id: m
        for m in world.service.fleet.missions.values()
        if m.request_id == request_id
    }
    assert missions["dep-007"].status is MissionStatus.FAILED
    assert all(m.status is MissionStatus.SUCCEEDED for d, m in missions.items() if d != "dep-007")
    await world.read_model.folded(world.service.fleet)
    await world.app.stop()  # a still ledger: rebuild and compare
    await asyncio.wait_for(world.tasks[0], timeout=15)
    await world.read_model.rebuild_equals_live()
    assert world.read_model.store is not None
    (row,) = await world.read_model.store.fetch("request_progress", request_id)
    assert row["status"] == "FAILED"
    assert (row["missions_succeeded"], row["missions_failed"]) == (DEPLOYMENTS - 1, 1)
    assert row["failed_missions"].count("IMAGE_NOT_FOUND") == 1


async def test_a_refused_command_is_an_event_and_changes_nothing(world: World) -> None:
    cancel: EventRecord = new_event(
        "CancelFailover",
        {"request_id": "no-such-request"},
        aggregate_type="Command",
        aggregate_id="no-such-request",
        producer="test-console",
        schema_version=1,
        actor="bob",
    )
    await world.publisher.publish(cancel)
    store = world.service.store

    async def refusals() -> list[EventRecord]:
        return [e async for e in store.read_all() if e.event_type == "CommandRefused"]

    deadline = time.monotonic() + 30
    while not (found := await refusals()):
        assert time.monotonic() < deadline, "no CommandRefused recorded"
        await asyncio.sleep(0.1)
    assert found[0].payload["reason_code"] == "UNKNOWN_REQUEST"
    assert found[0].envelope.causation_id == cancel.event_id
    assert found[0].envelope.actor == "bob"
    assert world.service.fleet.requests == {}


async def test_a_data_plane_cannot_report_for_another_clusters_flights(world: World) -> None:
    """East also reports each of West's flights failed, on its own topic: the
    Navigator refuses each of those, and the failover succeeds on West's reports."""
    ids = [f"dep-{i:03d}" for i in range(10)]
    world.planes.impostor = "east"
    await world.facts(["east", "west"], ids)
    request_id = await world.request("east", "west", "FORCED")
    assert await world.finished(request_id) is RequestStatus.SUCCEEDED
    missions = [m for m in world.service.fleet.missions.values() if m.request_id == request_id]
    assert len(missions) == len(ids)
    assert all(m.status is MissionStatus.SUCCEEDED for m in missions)
    assert world.planes.forged > 0
    await world.until(
        "every forgery refused", lambda: world.service.misattributed == world.planes.forged
    )


async def test_a_reports_topic_is_read_once_its_cluster_registers_a_command_there_refused(
    world: World, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After the next periodic look (within 5 s), none for an hour: what follows the
    # registration below is the registration itself.
    monkeypatch.setattr(navigator_app, "FOLLOW_NEW_REPORTS_EVERY_S", 3600.0)
    prefix = world.app.settings.topic_prefix
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        spec = topics.reports_topic_spec("late")
        await admin.create_topics([NewTopic(prefix + spec.name, spec.partitions, 1)])
    finally:
        await admin.close()
    command = new_event(
        "RequestFailover",
        {
            "request_id": "req-from-a-data-plane",
            "source_cluster_id": "east",
            "destination_cluster_id": "late",
            "mode": "FORCED",
            "drain_timeout_seconds": 60,
            "max_concurrent_missions": 20,
        },
        aggregate_type="Command",
        aggregate_id="req-from-a-data-plane",
        producer="late",
        schema_version=1,
    )
    await world.publisher.publish_many_to(prefix + topics.reports_topic("late"), [command])
    # A cluster nobody registered: its topic is not read at all.
    await asyncio.sleep(6)  # past the Navigator's look for new reports topics (every 5 s)
    assert world.service.misattributed == 0
    # Registered: its topic is followed from its start once the registration is folded,
    # and the command there refused (a data plane reports; it does not command).
    await world.facts(["late"], [])
    await world.until("the command refused", lambda: world.service.misattributed == 1, 10)
    assert "req-from-a-data-plane" not in world.service.fleet.requests
