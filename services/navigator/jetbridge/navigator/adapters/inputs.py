"""The Navigator's input partitions: its fixed topics plus every data plane's reports.

The Navigator assigns partitions itself (no consumer group: it needs them all). Its
fixed inputs are the commands, the control plane's flight reports (the Dispatcher's)
and the cluster facts. Each data plane publishes on a topic of its own
(``jetbridge.flight.events.<cluster-id>``, created with the cluster's ACLs before the
cluster is registered). One rule decides which are read: the topic of each cluster
the Navigator knows as registered. At the start (:meth:`InputPartitions.assign`) those
are the clusters recovered from the event store; then :meth:`InputPartitions.follow`
adds the topic of each cluster registered since, without losing its place on the
others. Both ask the broker about the named topics alone, and ``follow`` not at all
while every registered cluster's topic is followed: a shared broker's metadata (every
topic and partition it holds) is never fetched. A topic of an unregistered cluster is
not read, whatever it holds; once its cluster registers, it is read from its start.

Where a record came from is the topic's business: :func:`reporter` names the cluster
for records of a reports topic, and the service checks them (``domain.origin``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.cluster import ClusterMetadata
from aiokafka.errors import KafkaError

from jetbridge.common import topics

log = logging.getLogger(__name__)

FIXED_INPUTS = (topics.COMMANDS, topics.FLIGHT_EVENTS, topics.CLUSTER_EVENTS)
Positions = Mapping[tuple[str, int], int]


class InputPartitions:
    def __init__(self, consumer: AIOKafkaConsumer, prefix: str) -> None:
        self._consumer = consumer
        self._prefix = prefix
        self.assigned: set[TopicPartition] = set()

    def reporter(self, topic: str) -> str | None:
        """The data plane whose reports topic ``topic`` is (None: a control-plane topic)."""
        return topics.reporting_cluster(topic, self._prefix)

    async def assign(self, stored: Positions, clusters: Iterable[str]) -> None:
        """The fixed inputs and the reports topics of ``clusters`` (those registered),
        each partition from its stored position or from its start. A cluster whose
        topic does not exist yet is left to :meth:`follow`."""
        partitions = await self._fixed_partitions(attempts=20)
        partitions |= await self._partitions_of(self._reports_topics(clusters))
        self._consumer.assign(sorted(partitions))
        await self._seek(partitions, stored)
        self.assigned = partitions

    async def follow(
        self, clusters: Iterable[str], stored: Callable[[], Awaitable[Positions]]
    ) -> set[str]:
        """Add the reports topics of ``clusters`` not followed yet; returns the clusters
        newly followed. ``stored`` (the saved positions) is read only when one is found.

        A topic the broker does not know yet (or a broker that does not answer now) is
        asked for again next time, so the decision loop is not held up: the partitions
        already assigned go on being read meanwhile, and none is dropped."""
        followed = {tp.topic for tp in self.assigned}
        wanted = [t for t in self._reports_topics(clusters) if t not in followed]
        if not wanted:
            return set()
        try:
            new = await self._partitions_of(wanted)
        except KafkaError as error:
            log.warning("could not look for new reports topics: %s", error)
            return set()
        if not new:
            return set()
        # assign() starts every partition afresh: keep the place reached on the others
        # (the position of the next record the loop will be given).
        reached = {tp: await self._consumer.position(tp) for tp in self.assigned}
        partitions = self.assigned | new
        self._consumer.assign(sorted(partitions))
        for tp, offset in reached.items():
            self._consumer.seek(tp, offset)
        await self._seek(new, await stored())
        self.assigned = partitions
        clusters = {c for tp in new if (c := self.reporter(tp.topic)) is not None}
        log.info("following the reports of %s", ", ".join(sorted(clusters)))
        return clusters

    async def _seek(self, partitions: set[TopicPartition], stored: Positions) -> None:
        """Stored positions, else the start: one reset for all of those (a reset each,
        awaited in turn, took seconds per new topic on a freshly created one)."""
        fresh = []
        for tp in sorted(partitions):
            if (tp.topic, tp.partition) in stored:
                self._consumer.seek(tp, stored[(tp.topic, tp.partition)])
            else:
                fresh.append(tp)
        if fresh:
            await self._consumer.seek_to_beginning(*fresh)

    async def _partitions_of(self, names: list[str]) -> set[TopicPartition]:
        """The partitions of the named topics that exist, from one metadata request
        naming them (the broker must not create topics on request: the stack and the
        charts set ``auto.create.topics.enable=false``)."""
        if not names:  # an empty list would ask for every topic on the broker
            return set()
        client = self._consumer._client
        metadata = ClusterMetadata(metadata_max_age_ms=client._metadata_max_age_ms)
        if not await client._metadata_update(metadata, names):
            raise KafkaError(f"no broker answered a metadata request for {names}")
        return {
            TopicPartition(topic, p)
            for topic in names
            for p in metadata.partitions_for_topic(topic) or ()
        }

    def _reports_topics(self, clusters: Iterable[str]) -> list[str]:
        return sorted({self._prefix + topics.reports_topic(c) for c in clusters})

    async def _fixed_partitions(self, attempts: int) -> set[TopicPartition]:
        fixed = [self._prefix + t for t in FIXED_INPUTS]
        for attempt in range(attempts):  # a topic just created may be missing from one answer
            try:
                partitions = await self._partitions_of(fixed)
            except KafkaError:  # no broker answered this time
                partitions = set()
            missing = [t for t in fixed if t not in {tp.topic for tp in partitions}]
            if not missing:
                return partitions
            await asyncio.sleep(0.1 * attempt)
        raise KafkaError(f"topics {missing} do not exist: run the stack (make stack-up)")
