"""Kafka sides of the Dispatcher: the state every replica folds, and the outcomes sink.

Work (clearances and cancellations) comes through ``EventConsumer`` in one group, so replicas split
it by partition. The state that gates it (endpoints, cancellations) sits on other
partitions, keyed by other aggregates, so every replica reads it whole with a
``PartitionReplay`` without a group, and ``sync()`` gives the dispatch a read barrier.
"""

from __future__ import annotations

from collections.abc import Sequence

from jetbridge.common.events.envelope import EventRecord
from jetbridge.common.kafka.deadletter import ConsumedRecord
from jetbridge.common.kafka.producer import EventPublisher
from jetbridge.common.kafka.replay import PartitionReplay
from jetbridge.dispatcher.domain.model import STATE_EVENTS, DispatchState


class StateReader:
    def __init__(self, state: DispatchState, bootstrap_servers: str, topics: Sequence[str]):
        self.state = state
        self.replay = PartitionReplay(
            bootstrap_servers=bootstrap_servers,
            topics=topics,
            handler=self._apply,
            group_id=None,
            client_id="jetbridge-dispatcher-state",
            wanted=STATE_EVENTS,
        )

    def _apply(self, event: EventRecord, _: ConsumedRecord) -> None:
        self.state.apply(event.event_type, event.payload)

    async def sync(self) -> None:
        await self.replay.ready.wait()
        await self.replay.sync()


class PublisherOutcomes:
    """Publishes to the schema's topic, or to ``topic`` when set (sandboxes, tests)."""

    def __init__(self, publisher: EventPublisher, topic: str | None = None) -> None:
        self._publisher = publisher
        self._topic = topic

    async def publish(self, event: EventRecord) -> None:
        if self._topic is None:
            await self._publisher.publish(event)
        else:
            await self._publisher.publish_many_to(self._topic, [event])
