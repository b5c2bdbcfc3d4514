"""Which DP-Link replica links to which cluster: Kafka consumer-group ownership.

Choice: every replica joins one consumer group over the topic carrying
``ClusterRegistered`` (``jetbridge.cluster.events``, keyed by cluster id). Kafka assigns
each partition to exactly one live member, and the owner of a partition owns every
cluster keyed to it. When a replica dies or leaves, the group rebalances (at once on a
clean leave, after ``session.timeout.ms`` on a crash) and the partitions move to the
survivors, which replay them from offset 0 to rebuild registrations, last health and
last facts digest, then link. Why this over the alternatives:

- no extra store: the event log already holds the registrations; a PostgreSQL lease
  table would add a database to DP-Link and a renewal loop per cluster;
- no extra topic: registrations and DP-Link's own health/facts events share the
  cluster's partition, so the new owner resumes from the last published health
  (a failover of DP-Link does not emit a spurious UNKNOWN -> HEALTHY);
- rebalances revoke before they assign (eager protocol), so two live members never
  hold a partition at once. A former owner's events can still land after the new
  owner replayed (queued in its sink at the revoke, or from a member cut off from
  Kafka that has not noticed yet): the owner reads its partitions on and adopts such
  an event as the last published state (``HealthMonitor.adopt``), so its next
  transitions put the log right.

Balance is per partition (6 by default), not per cluster: fine for the tens to
thousands of clusters a control plane has, and more partitions spread it finer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import TopicPartition

from jetbridge.common.events.codec import EventCodec
from jetbridge.common.events.envelope import EventRecord
from jetbridge.common.kafka.deadletter import ConsumedRecord
from jetbridge.common.kafka.replay import PartitionReplay
from jetbridge.dplink.domain.health import Health
from jetbridge.dplink.domain.registry import ClusterLog, Partition
from jetbridge.dplink.service_layer.supervisor import LinkSupervisor

log = logging.getLogger(__name__)
_STATE_EVENTS = frozenset({"ClusterHealthChanged", "ClusterFactsChanged"})


class ClusterOwnership:
    def __init__(
        self,
        supervisor: LinkSupervisor,
        *,
        bootstrap_servers: str,
        topics: Sequence[str],
        group_id: str,
        codec: EventCodec | None = None,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
    ) -> None:
        self.log = ClusterLog()
        self._supervisor = supervisor
        self._ready: set[Partition] = set()
        self._lock = asyncio.Lock()
        self.replay = PartitionReplay(
            bootstrap_servers=bootstrap_servers,
            topics=topics,
            handler=self._apply,
            group_id=group_id,
            codec=codec,
            on_ready=self._on_ready,
            on_revoked=self._on_revoked,
            client_id="jetbridge-dplink",
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
        )

    @property
    def owned_partitions(self) -> set[Partition]:
        return set(self._ready)

    async def start(self) -> None:
        await self.replay.start()

    async def run(self) -> None:
        await self.replay.run()

    async def stop(self) -> None:
        await self.replay.stop()

    async def _apply(self, event: EventRecord, record: ConsumedRecord) -> None:
        partition = (record.topic, record.partition)
        before = self.log.registrations.get(str(event.payload.get("cluster_id")))
        self.log.apply(event.event_type, event.payload, partition)
        after = self.log.registrations.get(str(event.payload.get("cluster_id")))
        if partition in self._ready and before != after:  # a live (post-replay) change
            await self._reconcile()
        if partition in self._ready and event.event_type in _STATE_EVENTS:
            self._supervisor.monitor.adopt(event)  # a former owner's, landed late

    async def _on_ready(self, partitions: set[TopicPartition]) -> None:
        self._ready |= {(tp.topic, tp.partition) for tp in partitions}
        log.info("owning partitions %s", sorted(p for _, p in self._ready))
        await self._reconcile()

    async def _on_revoked(self, partitions: set[TopicPartition]) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        self._ready -= gone
        await self._reconcile()
        self.log.forget(gone)

    async def _reconcile(self) -> None:
        async with self._lock:
            await self._supervisor.reconcile(
                self.log.in_partitions(self._ready),
                {c: Health(h) for c, h in self.log.last_health.items()},
                self.log.last_digest,
            )
