"""A whole control plane in one process, on the real broker and PostgreSQL.

A topic sandbox, a real Navigator (``NavigatorApp``), data planes scripted to take
their time (``PacedPlanes``), and a real Console served by uvicorn on a free port:
what the API, CLI and browser tests talk to over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition

from jetbridge.common import topics
from jetbridge.common.events import EventCodec, EventRecord, SchemaRegistry
from jetbridge.common.kafka import EventPublisher
from jetbridge.console.adapters.ledger import DEFAULT_EVENTS_KEPT
from jetbridge.console.entrypoints.app import ConsoleRuntime, ConsoleSettings
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.vocabulary import Health
from jetbridge.navigator.entrypoints.app import NavigatorApp, NavigatorSettings
from tests.integration.console.paced_planes import PacedPlanes
from tests.integration.kafka_tools import create_sandbox
from tests.integration.navigator.scripted_planes import now_ms
from tests.unit.navigator.builders import cluster_events, deployment

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local"))
from ports import free_port

TOKENS = {
    "viewer": "viewer-token-0123456789",
    "operator": "operator-token-0123456789",
    "admin": "admin-token-0123456789",
}
TOKEN_TEXT = "; ".join(f"{role} {role}@example.com {token}" for role, token in TOKENS.items())
REGISTRY = SchemaRegistry()
LEDGER_KEY = "console-test-ledger-key-0123456789"


@dataclass
class ConsoleWorld:
    url: str
    prefix: str
    bootstrap: str
    navigator: NavigatorApp
    runtime: ConsoleRuntime
    planes: PacedPlanes
    publisher: EventPublisher
    mapper: EventMapper
    tasks: tuple[asyncio.Task[None], ...]

    def client(self, role: str | None = None, token: str | None = None) -> httpx.AsyncClient:
        headers = {}
        if role is not None or token is not None:
            headers["Authorization"] = f"Bearer {TOKENS[role] if role else token}"
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)

    async def until(self, what: str, check: Callable[[], bool], timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            for task in self.tasks:
                if task.done():
                    task.result()
                    raise AssertionError(f"{task.get_name()} stopped while waiting for {what}")
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.05)

    async def publish(self, events: list[ev.DomainEvent]) -> None:
        at = now_ms()
        await self.publisher.publish_many(
            [
                self.mapper.to_record(
                    e, correlation_id=e.aggregate_id, caused_by=None, actor=None, occurred_at_ms=at
                )
                for e in events
            ]
        )

    async def seed(
        self,
        source: str,
        destination: str,
        deployments: list[str],
        *,
        others: dict[str, dict[str, object]] | None = None,
    ) -> None:
        """Two eligible clusters, ``deployments`` on the source; ``others`` with overrides."""
        start = now_ms() - 60_000
        events: list[ev.DomainEvent] = []
        for cid in (source, destination):
            events += cluster_events(cid, at=start)
        for cid, overrides in (others or {}).items():
            events += cluster_events(cid, at=start, **overrides)  # type: ignore[arg-type]
        events += [
            deployment(d, source, created_at=start + 1_000, priority=len(deployments) - i)
            for i, d in enumerate(deployments)
        ]
        await self.publish(events)
        fleet = self.runtime.model.fleet
        wanted = [source, destination, *(others or {})]
        await self.until(
            "the console to see the facts",
            lambda: (
                all(d in fleet.deployments for d in deployments)
                and all(
                    c in fleet.clusters and fleet.clusters[c].health is not Health.UNKNOWN
                    for c in wanted
                )
            ),
        )
        navigator = self.navigator.service
        assert navigator is not None
        await self.until(
            "the navigator to fold the facts",
            lambda: all(d in navigator.fleet.deployments for d in deployments),
        )

    async def commands(self, settle_s: float = 1.0) -> list[EventRecord]:
        """Every command on the sandbox's commands topic (after waiting ``settle_s``):
        read up to each partition's end offset, however slowly the broker answers."""
        await asyncio.sleep(settle_s)
        codec = EventCodec(REGISTRY)
        topic = self.prefix + topics.COMMANDS
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=self.bootstrap, group_id=None, auto_offset_reset="earliest"
        )
        await consumer.start()
        out: list[EventRecord] = []
        try:
            deadline = time.monotonic() + 30
            ends: dict[TopicPartition, int] = {}
            while not ends or any([await consumer.position(tp) < ends[tp] for tp in ends]):
                assert time.monotonic() < deadline, "the commands topic was not read to its end"
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    out += [codec.decode(r.value or b"") for r in records]
                if not ends and consumer.assignment():
                    ends = await consumer.end_offsets(list(consumer.assignment()))
        finally:
            await consumer.stop()
        return out


@contextlib.asynccontextmanager
async def console_world(
    postgres_dsn: str,
    kafka_bootstrap: str,
    *,
    step_s: float = 0.05,
    events_kept: int = DEFAULT_EVENTS_KEPT,
) -> AsyncIterator[ConsoleWorld]:
    prefix = await create_sandbox(kafka_bootstrap)
    name = f"test_console_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = urlunsplit(urlsplit(postgres_dsn)._replace(path=f"/{name}"))
    extra = {"ledger_key": LEDGER_KEY} if "ledger_key" in NavigatorSettings.model_fields else {}
    navigator = NavigatorApp(
        NavigatorSettings(
            kafka_bootstrap_servers=kafka_bootstrap,
            navigator_dsn=dsn,
            navigator_tick_ms=100,
            topic_prefix=prefix,
            **extra,  # type: ignore[arg-type]
        )
    )
    mapper = EventMapper(REGISTRY, producer="test")
    planes = PacedPlanes(kafka_bootstrap, prefix, mapper, step_s=step_s)
    runtime = ConsoleRuntime(
        ConsoleSettings(
            kafka_bootstrap_servers=kafka_bootstrap,
            topic_prefix=prefix,
            console_tokens=TOKEN_TEXT,
            console_answer_timeout_s=10.0,
            console_events_kept=events_kept,
        )
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(runtime.app, host="127.0.0.1", port=port, log_level="warning")
    )
    stop = asyncio.Event()
    tasks = (
        asyncio.create_task(navigator.run(), name="navigator"),
        asyncio.create_task(planes.run(stop), name="paced planes"),
        asyncio.create_task(server.serve(), name="console"),
    )
    publisher = EventPublisher(kafka_bootstrap, client_id="test", topic_prefix=prefix)
    await publisher.start()
    world = ConsoleWorld(
        f"http://127.0.0.1:{port}",
        prefix,
        kafka_bootstrap,
        navigator,
        runtime,
        planes,
        publisher,
        mapper,
        tasks,
    )
    try:
        await world.until(
            "the console and navigator to start",
            lambda: server.started and runtime.model.ready and navigator.service is not None,
        )
        yield world
    finally:
        stop.set()
        server.should_exit = True
        await navigator.stop()
        await publisher.stop()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=15)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
