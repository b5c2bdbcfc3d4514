"""DP-Link assembled: ownership -> supervisor -> links -> monitor -> sink, plus the ticker."""

from __future__ import annotations

import asyncio

from jetbridge.common.backoff import Backoff
from jetbridge.common.health import HEALTH, Health
from jetbridge.common.kafka.producer import EventPublisher
from jetbridge.common.metrics import sample_lag
from jetbridge.common.tls import TlsLayout
from jetbridge.dplink.adapters.grpc_link import LinkClient
from jetbridge.dplink.adapters.kafka_sink import KafkaEventSink
from jetbridge.dplink.adapters.metrics import LinkMetrics
from jetbridge.dplink.adapters.ownership import ClusterOwnership
from jetbridge.dplink.domain.health import Thresholds
from jetbridge.dplink.domain.registry import Registration
from jetbridge.dplink.entrypoints.settings import DPLinkSettings
from jetbridge.dplink.service_layer.monitor import HealthMonitor
from jetbridge.dplink.service_layer.supervisor import LinkSupervisor


class DPLink:
    def __init__(self, settings: DPLinkSettings, health: Health = HEALTH) -> None:
        self.settings = settings
        self.thresholds = Thresholds(
            heartbeat_interval=settings.heartbeat_interval_s,
            degraded_after=settings.degraded_after_s,
            unreachable_after=settings.unreachable_after_s,
            recover_heartbeats=settings.recover_heartbeats,
        )
        self.publisher = EventPublisher(settings.kafka_bootstrap_servers, client_id="dplink")
        self.sink = KafkaEventSink(self.publisher, settings.events_topic)
        self.monitor = HealthMonitor(self.sink, self.thresholds)
        self.links: dict[str, LinkClient] = {}
        self._tls = TlsLayout(settings.tls_dir).control_plane()
        self._backoff = Backoff(base=settings.reconnect_base_s, cap=settings.reconnect_cap_s)
        self.supervisor = LinkSupervisor(self.monitor, self._run_link)
        self.ownership = ClusterOwnership(
            self.supervisor,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            topics=[settings.registration_topic],
            group_id=settings.group_id,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
        )
        self.metrics = LinkMetrics()
        self._tasks: list[asyncio.Task[None]] = []
        health.require("ownership", self.waiting_for_ownership)

    @property
    def tick_interval(self) -> float:
        """Crossings are noticed within a fifth of a heartbeat (bounded for huge intervals)."""
        return min(self.thresholds.heartbeat_interval / 5, 0.2)

    async def _run_link(self, registration: Registration) -> None:
        client = LinkClient(registration, self._tls, self.monitor, backoff=self._backoff)
        self.links[registration.cluster_id] = client
        try:
            await client.run()
        finally:
            if self.links.get(registration.cluster_id) is client:
                del self.links[registration.cluster_id]

    async def _tick(self) -> None:
        while True:
            self.monitor.tick()
            ages = self.monitor.heartbeat_ages()
            self.metrics.update(ages, {c: self.monitor.health(c) for c in ages})
            await asyncio.sleep(self.tick_interval)

    def waiting_for_ownership(self) -> str | None:
        """Readiness: the registrations of its partitions are read and their links run.

        Until then a replica that joined the group owns clusters it has no link to: a
        rolling update that went on meanwhile could leave clusters unwatched for longer
        than a replay takes."""
        if self.ownership.replay.ready.is_set():
            return None
        return "reading the registrations of the clusters it owns"

    async def start(self) -> None:
        await self.publisher.start()
        self.sink.start()
        await self.ownership.start()
        self._tasks = [
            asyncio.create_task(self.ownership.run(), name="dplink-ownership"),
            asyncio.create_task(self._tick(), name="dplink-ticker"),
            asyncio.create_task(
                sample_lag(self.ownership.replay.kafka, self.settings.group_id),
                name="dplink-lag",
            ),
        ]

    def background_tasks(self) -> list[asyncio.Task[None]]:
        return list(self._tasks)

    async def stop(self) -> None:
        await self.ownership.stop()
        ownership, *endless = self._tasks
        # Leaves the group; revocation stops the links. If it ended on an error, the
        # runner reports that error: stop the rest all the same.
        await asyncio.gather(ownership, return_exceptions=True)
        for task in endless:  # the ticker and the lag sampler
            task.cancel()
        await asyncio.gather(*endless, return_exceptions=True)
        await self.supervisor.stop_all()
        await self.sink.stop()
        await self.publisher.stop()
