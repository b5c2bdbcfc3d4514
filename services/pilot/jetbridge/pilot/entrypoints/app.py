"""The Pilot assembled: Flightdeck, one cluster, the fencer, the relay, the claim loop."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka.errors import KafkaError

from jetbridge.common.backoff import Backoff
from jetbridge.common.health import HEALTH, Health
from jetbridge.common.kafka import EventPublisher
from jetbridge.common.metrics import batch_observer
from jetbridge.common.reachable import until_reachable
from jetbridge.common.sql.dsn import is_mysql_dsn
from jetbridge.fencing.domain import Fencer, OwnershipModel
from jetbridge.flightdeck import Flightdeck, open_when_reachable
from jetbridge.pilot.adapters.clock import SystemClock
from jetbridge.pilot.adapters.database import LibFencer
from jetbridge.pilot.adapters.events import AvroEventEncoder
from jetbridge.pilot.adapters.kube_cluster import KubernetesCluster
from jetbridge.pilot.adapters.memory_cluster import InMemoryCluster, directory_secret_store
from jetbridge.pilot.adapters.metrics import FLIGHTDECK_BATCH_ITEMS, StepMetrics, WaitMetrics
from jetbridge.pilot.adapters.task_instances import TaskInstanceReader, open_task_instances
from jetbridge.pilot.entrypoints.settings import PilotSettings
from jetbridge.pilot.service_layer.context import PilotConfig, Ports
from jetbridge.pilot.service_layer.pilot import Pilot
from jetbridge.pilot.service_layer.ports import ClusterPort
from jetbridge.pilot.service_layer.relay import FlightdeckRelay
from jetbridge.pilot.service_layer.runner import FlightRunner
from jetbridge.pilot.service_layer.shared_writes import SharedWrites

CONNECT_BACKOFF = Backoff(base=0.5, cap=10.0)  # between two attempts to reach Kafka


def _kafka_unreachable(error: BaseException) -> bool:
    """Any Kafka or socket error is waited out: the Pilot needs Kafka only to report."""
    return isinstance(error, KafkaError | OSError)


def make_fencer(
    admin_dsn: str, state_database: str = "jetbridge_fencing", pool_size: int = 8
) -> Fencer:
    if is_mysql_dsn(admin_dsn):
        from jetbridge.fencing.mysql import MySQLFencer  # noqa: PLC0415 - optional driver

        return MySQLFencer(admin_dsn, state_database=state_database)
    from jetbridge.fencing.postgres import PostgresFencer  # noqa: PLC0415

    return PostgresFencer(admin_dsn, state_database=state_database, pool_size=pool_size)


def make_cluster(settings: PilotSettings) -> ClusterPort:
    """The cluster adapter the settings name (``cluster_adapter``)."""
    if settings.cluster_adapter == "memory":
        store_dir = settings.memory_secret_store_dir
        store = directory_secret_store(store_dir) if store_dir is not None else None
        return InMemoryCluster(settings.cluster_name, store)
    assert settings.kubeconfig is not None  # the settings' validator
    return KubernetesCluster(settings.cluster_name, settings.kubeconfig)


class PilotApp:
    def __init__(
        self,
        settings: PilotSettings,
        *,
        cluster: ClusterPort | None = None,
        health: Health = HEALTH,
    ) -> None:
        self.settings = settings
        self._owns_cluster = cluster is None  # a cluster passed in is closed by its owner
        self.cluster = cluster or make_cluster(settings)
        self.deck: Flightdeck | None = None
        self.pilot: Pilot | None = None
        self.relay: FlightdeckRelay | None = None
        self.publisher: EventPublisher | None = None
        self.fencer: Fencer | None = None
        self.task_instances: TaskInstanceReader | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._reporting: asyncio.Task[None] | None = None  # connects, then relays
        health.require("claiming", self.waiting_to_claim)

    def waiting_to_claim(self) -> str | None:
        """Readiness: Flightdeck is open (migrated) and the claim loop runs. Kafka is
        not asked: a Pilot runs flights while the broker is away (its reports wait)."""
        return None if self.pilot is not None else "opening Flightdeck"

    async def start(self) -> None:
        s = self.settings
        customer = s.database_users == "customer"  # who made the login roles
        self.deck = deck = await open_when_reachable(s.flightdeck_dsn)  # not ready meanwhile
        self.fencer = make_fencer(
            s.database_admin_dsn, s.fencing_state_database, s.fencing_pool_size
        )
        fencer = LibFencer(
            self.fencer,
            side=s.database_side,
            server_url=s.database_admin_dsn,
            prefix=s.database_prefix,
            ownership=OwnershipModel.CUSTOMER_MANAGED if customer else OwnershipModel.APC_MANAGED,
        )
        tasks = self.task_instances = open_task_instances(
            s.task_instances_dsn or s.database_admin_dsn, prefix=s.database_prefix
        )
        config = PilotConfig(
            secret_store=s.secret_store,
            poll_interval_s=s.poll_interval_s,
            default_deadline_s=s.default_deadline_s,
            customer_users=customer,
            secrets_role=s.secrets_role,
            service_account=s.service_account,
            image_pull_secret=s.image_pull_secret,
        )
        runner = FlightRunner(
            deck,
            Ports(self.cluster, fencer, tasks, SystemClock(), WaitMetrics(s.cluster_name)),
            AvroEventEncoder(),
            config,
            lease_seconds=s.lease_seconds,
            on_step=StepMetrics(s.cluster_name),
            start_report_after_s=s.start_report_after_s,
            writes=SharedWrites(deck, batch_observer(FLIGHTDECK_BATCH_ITEMS, s.cluster_name)),
        )
        self.pilot = Pilot(
            deck, runner, owner=s.owner, max_flights=s.max_flights, lease_seconds=s.lease_seconds
        )
        self._tasks.append(asyncio.create_task(self.pilot.run(), name="pilot"))
        if s.kafka_bootstrap_servers:
            reporting = self._report(deck, s.kafka_bootstrap_servers)
            self._reporting = asyncio.create_task(reporting, name="relay")
            self._tasks.append(self._reporting)

    async def _report(self, deck: Flightdeck, bootstrap: str) -> None:
        """Connect to Kafka, then relay Flightdeck's outbox to it.

        A Pilot needs Kafka only to report: it claims and runs flights while the broker
        is away, and its reports wait in the outbox. Before, it connected in ``start``,
        so a Pilot started during a broker outage exited, and exited again at each
        restart (chaos seed 704: four times in 20 s); under Kubernetes its crash-loop
        back-off could outlast the outage by minutes, and no flight of its cluster ran.
        """
        s = self.settings
        publisher = await self._connect(bootstrap)
        self.publisher = publisher
        self.relay = FlightdeckRelay(
            deck,
            publisher,
            topic_prefix=s.topic_prefix,
            cluster_id=s.cluster_name,
            topic=s.topic_override,
            keep_published_s=s.outbox_keep_s,
            keep_finished_s=s.flights_keep_s,
        )
        await self.relay.run()

    async def _connect(self, bootstrap: str) -> EventPublisher:
        """A started publisher, trying again (a fresh client each time) until one starts;
        flights run meanwhile and their reports wait in the outbox."""
        started: list[EventPublisher] = []

        async def attempt() -> None:
            publisher = EventPublisher(bootstrap, client_id=self.settings.owner)
            try:
                await publisher.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await publisher.stop()
                raise
            started.append(publisher)

        await until_reachable(attempt, "Kafka", _kafka_unreachable, backoff=CONNECT_BACKOFF)
        return started[-1]

    async def stop(self) -> None:
        if self.pilot is not None:
            await self.pilot.stop()
        if self.relay is not None:
            await self.relay.stop()
        elif self._reporting is not None:  # still connecting to Kafka: nothing to flush
            self._reporting.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.publisher is not None:
            await self.publisher.stop()
        close = getattr(self.cluster, "close", None) if self._owns_cluster else None
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
        if self.task_instances is not None:
            await self.task_instances.close()
        if self.fencer is not None:
            await self.fencer.close()
        if self.deck is not None:
            await self.deck.close()
