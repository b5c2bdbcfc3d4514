"""The one way services put records on Kafka: idempotent, acks=all, keyed by aggregate."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from jetbridge.common.events.codec import EventCodec
from jetbridge.common.events.envelope import EventRecord
from jetbridge.common.kafka.headers import Headers, event_headers
from jetbridge.common.kafka.security import kafka_security


class EventPublisher:
    """Encodes events with the codec and publishes them to the topic their schema names.

    The producer is idempotent (no duplicates from its own retries) and waits for all
    in-sync replicas (``acks=all``) before a send counts as done.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        codec: EventCodec | None = None,
        linger_ms: int = 5,
        topic_prefix: str = "",
        security: Mapping[str, Any] | None = None,
    ) -> None:
        """``security``: client TLS arguments (default: this process's, kafka_security)."""
        self.codec = codec or EventCodec()
        # Every topic name gets this prefix: isolated sandboxes on one broker (tests).
        self.topic_prefix = topic_prefix
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=linger_ms,
            max_batch_size=1 << 20,
            **(kafka_security() if security is None else security),
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def __aenter__(self) -> EventPublisher:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def publish(self, event: EventRecord) -> tuple[int, int]:
        """Publish one event; returns (partition, offset) once the broker has it."""
        schema = self.codec.schema_for(event)
        metadata = await self._producer.send_and_wait(
            self.topic_prefix + schema.topic,
            value=self.codec.encode(event),
            key=self.codec.key_of(event),
            headers=event_headers(event),
        )
        return metadata.partition, metadata.offset

    async def publish_many(self, events: Iterable[EventRecord]) -> None:
        """Send a batch and wait for every acknowledgement (one round of batching)."""
        await self.send_raw_many(
            (
                self.topic_prefix + self.codec.schema_for(event).topic,
                self.codec.key_of(event),
                self.codec.encode(event),
                event_headers(event),
            )
            for event in events
        )

    async def publish_many_to(self, topic: str, events: Iterable[EventRecord]) -> None:
        """Like ``publish_many`` but to another topic (tests, replays into a sandbox)."""
        await self.send_raw_many(
            (topic, self.codec.key_of(e), self.codec.encode(e), event_headers(e)) for e in events
        )

    async def send_raw(
        self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> tuple[int, int]:
        """Publish already-encoded bytes (the outbox relay and the dead-letter path)."""
        metadata = await self._producer.send_and_wait(
            topic, value=value, key=key, headers=list(headers)
        )
        return metadata.partition, metadata.offset

    async def send_raw_many(
        self, records: Iterable[tuple[str, bytes | None, bytes, Headers]]
    ) -> None:
        futures = [
            await self._producer.send(topic, value=value, key=key, headers=headers)
            for topic, key, value, headers in records
        ]
        await asyncio.gather(*futures)
