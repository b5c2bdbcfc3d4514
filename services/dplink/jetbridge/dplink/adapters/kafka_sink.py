"""Publishes DP-Link's events in emit order, batched, off the links' hot path."""

from __future__ import annotations

import asyncio
import logging

from jetbridge.common.cancellation import stop_tasks
from jetbridge.common.events.envelope import EventRecord
from jetbridge.common.kafka.producer import EventPublisher

log = logging.getLogger(__name__)


class KafkaEventSink:
    """``emit`` queues; one task publishes batches (``publish_many`` waits for acks).

    ``topic`` overrides the schema's topic (tests and sandboxes); None in production.
    """

    def __init__(self, publisher: EventPublisher, topic: str | None = None) -> None:
        self._publisher = publisher
        self._topic = topic
        self._queue: asyncio.Queue[EventRecord] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def emit(self, event: EventRecord) -> None:
        self._queue.put_nowait(event)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dplink-sink")

    async def flush(self) -> None:
        """Wait until everything emitted so far is on the broker."""
        await self._queue.join()

    async def stop(self) -> None:
        await self.flush()
        if self._task is not None:
            await stop_tasks(self._task)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < 500:
                batch.append(self._queue.get_nowait())
            while True:
                try:
                    if self._topic is None:
                        await self._publisher.publish_many(batch)
                    else:
                        await self._publisher.publish_many_to(self._topic, batch)
                    break
                except Exception:  # the broker is away: keep the order, retry
                    log.exception("publishing %d events failed; retrying", len(batch))
                    await asyncio.sleep(1.0)
            self.published += len(batch)
            for _ in batch:
                self._queue.task_done()
