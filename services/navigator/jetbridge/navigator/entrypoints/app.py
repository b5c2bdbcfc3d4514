"""Composition root of the Navigator: PostgreSQL store + its relay + Kafka inputs.

The Navigator reads EVERY partition of its input topics itself (no consumer group):
it is the single writer of the failover aggregates and needs the whole picture. A
second Navigator started by mistake takes the writer epoch and the first one's next
append fails with ``WriterFenced``, which stops it; run one replica (a Kubernetes
Deployment with ``replicas: 1`` and ``strategy: Recreate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Coroutine

import asyncpg
from aiokafka import AIOKafkaConsumer
from pydantic import Field
from pydantic_settings import BaseSettings

from jetbridge.common import runtime, topics
from jetbridge.common.backoff import Backoff
from jetbridge.common.cancellation import stop_tasks
from jetbridge.common.events import EventCodec, EventCodecError, default_registry
from jetbridge.common.eventstore import EventStoreRelay, PostgresEventStore, migrate_event_store
from jetbridge.common.health import HEALTH, Health
from jetbridge.common.kafka import DeadLetterPublisher, EventPublisher
from jetbridge.common.kafka.consumer import consumed_record
from jetbridge.common.kafka.security import kafka_security
from jetbridge.common.logs import configure_logging
from jetbridge.common.metrics import sample_lag, start_metrics_server
from jetbridge.common.reachable import wait_for_kafka, wait_for_postgres
from jetbridge.common.settings import DEFAULT_REGISTRY, RegistryHost, env_file_path, service_config
from jetbridge.common.sql.availability import postgres_unavailable
from jetbridge.common.sql.pools import keep_session
from jetbridge.common.telemetry import setup_tracing
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.adapters.inputs import InputPartitions
from jetbridge.navigator.adapters.metrics import MISATTRIBUTED, NavigatorMetrics
from jetbridge.navigator.adapters.tracing import MissionTracer
from jetbridge.navigator.service_layer.navigator import CONSUMER, Input, NavigatorService

log = logging.getLogger(__name__)
FOLLOW_NEW_REPORTS_EVERY_S = 5.0  # again for a registered cluster whose topic was missing
NEW_LIFE_BACKOFF = Backoff(0.2, 10.0)  # before a new life, PostgreSQL having gone away


class NavigatorSettings(BaseSettings):
    model_config = service_config("JETBRIDGE_")

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    navigator_dsn: str = Field(description="PostgreSQL DSN of the Navigator's own database")
    navigator_tick_ms: int = 250
    navigator_batch: int = 1000
    navigator_snapshot_every: int = Field(
        default=50_000,
        ge=0,
        description="take a snapshot of the fleet once this many events were stored "
        "since the last, when no input waits (0: never); a start folds only what came "
        "after the newest (docs/operations.md)",
    )
    topic_prefix: str = Field(default="", description="prefix of every topic name (sandboxes)")
    ledger_key: str = Field(
        min_length=16, description="HMAC key chaining the ledger's records (audit)"
    )
    registry: RegistryHost = DEFAULT_REGISTRY


def clock_ms() -> int:
    return time.time_ns() // 1_000_000


class NavigatorApp:
    def __init__(self, settings: NavigatorSettings, health: Health = HEALTH) -> None:
        self.settings = settings
        self.holder = f"{socket.gethostname()}/{os.getpid()}"
        self._stopping = asyncio.Event()
        self.service: NavigatorService | None = None
        self.deciding = False  # recovered, inputs assigned: the decision loop runs
        self.lives = 0  # 1 + each time PostgreSQL went away under one and it started again
        health.require("decisions", lambda: None if self.deciding else "recovering its store")

    async def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Lives until stopped. PostgreSQL going away under a life (a restart, a
        fail-over of the server: errors ``postgres_unavailable`` names) ends that life,
        not the process: the next waits for the server, takes the writer epoch again and
        recovers from the store, exactly as a restarted process would, so nothing
        decided is lost or decided twice. Before, the process exited and relied on its
        supervisor (chaos seeds 730 and 740), whose crash-loop back-off grows to five
        minutes under Kubernetes when a server flaps. Anything else still ends it."""
        failures = 0
        while True:
            try:
                await self._life()
                return
            except Exception as error:
                if not postgres_unavailable(error):
                    raise
                if self._stopping.is_set():
                    return  # asked to stop: no new life
                failures = 1 if self.deciding else failures + 1  # a life that got going
                self.deciding = False
                delay = NEW_LIFE_BACKOFF.delay(min(failures - 1, 10))
                log.warning(
                    "PostgreSQL went away under this life (%s: %s); a new one in %.2fs",
                    type(error).__name__,
                    error,
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                if self._stopping.is_set():
                    return

    async def _life(self) -> None:
        s = self.settings
        self.lives += 1
        # Not ready meanwhile (``deciding`` is False): no exit, no crash-loop back-off.
        await wait_for_postgres(s.navigator_dsn)
        await wait_for_kafka(s.kafka_bootstrap_servers)
        pool = await asyncpg.create_pool(
            s.navigator_dsn, min_size=1, max_size=4, reset=keep_session
        )
        async with pool.acquire() as conn:
            await migrate_event_store(conn)
        store = PostgresEventStore(
            pool,
            writer="navigator",
            holder=self.holder,
            topic_prefix=s.topic_prefix,
            chain_key=s.ledger_key.encode(),
        )
        await store.take_writer_epoch()
        mapper = EventMapper(default_registry(), producer=f"navigator/{self.holder}")
        service = self.service = NavigatorService(
            store,
            mapper,
            clock_ms,
            ledger_topic=s.topic_prefix + topics.FAILOVER_EVENTS,
            tracer=MissionTracer(),
            registry=s.registry,
        )
        started = time.monotonic()
        folded = await service.recover()
        log.info(
            "recovered %d events after position %d in %.2fs",
            folded,
            service.recovered_from,
            time.monotonic() - started,
        )
        self.metrics = NavigatorMetrics(service.fleet)  # the recovered one (a snapshot's)
        publisher = EventPublisher(
            s.kafka_bootstrap_servers, client_id="navigator", topic_prefix=s.topic_prefix
        )
        await publisher.start()
        relay = EventStoreRelay(
            s.navigator_dsn,
            publisher,
            ledger_topic=s.topic_prefix + topics.FAILOVER_EVENTS,
            poll_interval_s=0.5,
        )
        relay_task = asyncio.create_task(relay.run())
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            # never "latest": its reset on assign() can race the seeks below and skip input
            auto_offset_reset="earliest",
            **kafka_security(),
        )
        await consumer.start()
        lag = asyncio.create_task(sample_lag(consumer, CONSUMER), name="navigator-lag")
        try:
            inputs = InputPartitions(consumer, s.topic_prefix)
            await inputs.assign(await store.positions(CONSUMER), service.fleet.clusters)
            dead = DeadLetterPublisher(
                publisher, consumer_group=CONSUMER, topic=s.topic_prefix + topics.DEAD_LETTER
            )
            loop = self._loop(consumer, inputs, store, service, dead)
            self.deciding = True
            await self._until_either_ends(loop, relay_task)
        finally:
            await stop_tasks(lag)
            await consumer.stop()
            await relay.stop()  # it ends after its current batch; cut short after 5 s
            try:
                await asyncio.wait({relay_task}, timeout=5)
            finally:  # also when we are cancelled meanwhile
                await stop_tasks(relay_task)
            await publisher.stop()
            await pool.close()

    @staticmethod
    async def _until_either_ends(
        loop: Coroutine[object, object, None], relay: asyncio.Task[None]
    ) -> None:
        """Run the decision loop; if the relay ends first, stop with its error.

        A Navigator whose relay is gone would go on deciding while nothing it decides is
        published. Exiting lets the supervisor start it again, relay included.
        """
        loop_task = asyncio.create_task(loop, name="navigator-loop")
        try:
            await asyncio.wait({loop_task, relay}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Also when we are cancelled: asyncio.wait leaves the loop running.
            relay_ended_first = not loop_task.done()
            await stop_tasks(loop_task)
        if relay_ended_first:
            error = relay.exception() if not relay.cancelled() else None
            raise RuntimeError("the event store relay stopped") from error
        await loop_task

    async def _loop(
        self,
        consumer: AIOKafkaConsumer,
        inputs: InputPartitions,
        store: PostgresEventStore,
        service: NavigatorService,
        dead: DeadLetterPublisher,
    ) -> None:
        codec = EventCodec(service.mapper.registry)
        next_tick = next_sample = 0.0
        next_look = time.monotonic() + FOLLOW_NEW_REPORTS_EVERY_S
        registered = len(service.fleet.clusters)
        while not self._stopping.is_set():
            # At once when a cluster registers; again later for a topic not there yet.
            if len(service.fleet.clusters) != registered or time.monotonic() >= next_look:
                await inputs.follow(service.fleet.clusters, lambda: store.positions(CONSUMER))
                registered = len(service.fleet.clusters)
                next_look = time.monotonic() + FOLLOW_NEW_REPORTS_EVERY_S
            batches = await consumer.getmany(
                timeout_ms=self.settings.navigator_tick_ms,
                max_records=self.settings.navigator_batch,
            )
            batch: list[Input] = []
            for tp, records in batches.items():
                reporter = inputs.reporter(tp.topic)
                for r in records:
                    try:
                        event = codec.decode(r.value or b"")
                    except EventCodecError as error:
                        await dead.send(consumed_record(r), reason=error.reason, detail=str(error))
                        continue
                    batch.append(Input(event, r.topic, r.partition, r.offset, r.value, reporter))
            now = time.monotonic()
            if batch or now >= next_tick:
                result = await service.handle(batch)
                next_tick = now + self.settings.navigator_tick_ms / 1000
                self.metrics.observe(result.decided)
                MISATTRIBUTED.inc(result.misattributed)
            if now >= next_sample:
                self.metrics.sample()
                next_sample = now + 1.0
            every = self.settings.navigator_snapshot_every
            if not batch and every and service.stored_since_snapshot >= every:
                await self._snapshot(service)

    @staticmethod
    async def _snapshot(service: NavigatorService) -> None:
        """Between batches and only when no input waited: it pauses deciding (taking
        one after 2 failovers of 1,000 Deployments took 0.19 s, after 6 0.60 s:
        docs/benchmarks.md, "A Navigator's start")."""
        started = time.monotonic()
        position = await service.take_snapshot()
        log.info("snapshot at position %s in %.2fs", position, time.monotonic() - started)


def main() -> None:
    configure_logging("navigator")
    env_file = env_file_path()
    settings = NavigatorSettings(_env_file=env_file if env_file.exists() else None)  # type: ignore[call-arg]
    tracing = setup_tracing("navigator")
    start_metrics_server()
    app = NavigatorApp(settings)
    try:
        runtime.run(app.run())
    finally:
        tracing.shutdown()
