"""Commands leave on ``jetbridge.commands`` through the shared idempotent publisher."""

from __future__ import annotations

import contextlib

from aiokafka.errors import KafkaError

from jetbridge.common.events import EventRecord
from jetbridge.common.kafka import EventPublisher
from jetbridge.console.service_layer.ports import CommandsUnavailable


class KafkaCommandSender:
    def __init__(self, bootstrap_servers: str, *, topic_prefix: str = "") -> None:
        self._bootstrap = bootstrap_servers
        self._prefix = topic_prefix
        self._publisher: EventPublisher | None = None

    async def start(self) -> None:
        """aiokafka clients need a running loop: created here, not in ``__init__``."""
        publisher = EventPublisher(self._bootstrap, client_id="console", topic_prefix=self._prefix)
        try:
            await publisher.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await publisher.stop()  # a failed start may hold a half-open client
            raise
        self._publisher = publisher  # only once connected: until then, send refuses

    async def stop(self) -> None:
        if self._publisher is not None:
            await self._publisher.stop()
            self._publisher = None

    async def send(self, command: EventRecord) -> None:
        """Returns once the broker acknowledged it (acks=all): the command is durable."""
        if self._publisher is None:
            raise CommandsUnavailable("the Console has not reached Kafka yet; nothing was sent")
        try:
            await self._publisher.publish(command)
        except KafkaError as error:
            # Unacknowledged is not unwritten: say so, and how to retry safely.
            raise CommandsUnavailable(
                f"Kafka did not acknowledge the command ({type(error).__name__}); it may "
                "have been written all the same. Sending it again is safe: the Navigator "
                "decides a repeat once (a failover start: with the same request_id)"
            ) from error
