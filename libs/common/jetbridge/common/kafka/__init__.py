"""Kafka adapters shared by the services: publisher, consumer base, dead letters."""

from jetbridge.common.kafka.consumer import EventConsumer
from jetbridge.common.kafka.deadletter import ConsumedRecord, DeadLetterPublisher
from jetbridge.common.kafka.dedupe import DedupeStore, InMemoryDedupe
from jetbridge.common.kafka.producer import EventPublisher

__all__ = [
    "ConsumedRecord",
    "DeadLetterPublisher",
    "DedupeStore",
    "EventConsumer",
    "EventPublisher",
    "InMemoryDedupe",
]
