"""The Dispatcher assembled: state reader + work consumer + gRPC client + outcomes."""

from __future__ import annotations

import asyncio

from jetbridge.common.events.envelope import EventRecord
from jetbridge.common.health import HEALTH, Health
from jetbridge.common.kafka import DeadLetterPublisher, EventPublisher
from jetbridge.common.kafka.deadletter import ConsumedRecord
from jetbridge.common.kafka.keyed import KeyedEventConsumer
from jetbridge.common.metrics import sample_lag
from jetbridge.common.tls import TlsLayout
from jetbridge.dispatcher.adapters.grpc_client import GrpcDataPlaneClient
from jetbridge.dispatcher.adapters.kafka import PublisherOutcomes, StateReader
from jetbridge.dispatcher.adapters.metrics import observe_batch, observe_dispatch
from jetbridge.dispatcher.domain.model import DispatchState, RetryPolicy
from jetbridge.dispatcher.entrypoints.settings import DispatcherSettings
from jetbridge.dispatcher.service_layer.dispatch import HANDLED, Dispatcher


class DispatcherApp:
    def __init__(self, settings: DispatcherSettings, health: Health = HEALTH) -> None:
        self.settings = settings
        self.state = DispatchState()
        self.reader = StateReader(
            self.state, settings.kafka_bootstrap_servers, settings.state_topics
        )
        self.publisher = EventPublisher(settings.kafka_bootstrap_servers, client_id="dispatcher")
        self.client = GrpcDataPlaneClient(
            TlsLayout(settings.tls_dir).control_plane(),
            batches=settings.batch_calls,
            on_batch=observe_batch,
        )
        self.dispatcher = Dispatcher(
            self.client,
            self.state,
            self.reader,
            PublisherOutcomes(self.publisher, settings.outcomes_topic),
            policy=RetryPolicy(
                max_attempts=settings.max_attempts,
                call_deadline_s=settings.call_deadline_s,
                backoff_base_s=settings.backoff_base_s,
                backoff_cap_s=settings.backoff_cap_s,
                registration_wait_s=settings.registration_wait_s,
            ),
            on_dispatch=observe_dispatch,
        )
        dead_letters = (
            DeadLetterPublisher(self.publisher, consumer_group=settings.group_id)
            if settings.dead_letter_topic is None
            else DeadLetterPublisher(
                self.publisher, consumer_group=settings.group_id, topic=settings.dead_letter_topic
            )
        )
        # Flights are dispatched side by side, each flight's decisions in log order: a
        # dispatch waits on an RPC and an acks=all publish, so one at a time capped the
        # service at 1 / latency (docs/benchmarks.md).
        self.consumer = KeyedEventConsumer(
            concurrency=settings.concurrency,
            wanted=HANDLED,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.group_id,
            topics=[settings.work_topic],
            handler=self._handle,
            dead_letters=dead_letters,
            # A dispatch already retries transient errors itself; one more attempt on
            # an unexpected error, then the record goes to the dead letters.
            handler_attempts=2,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._working = False  # the work consumer started (in the group)
        self._working_task: asyncio.Task[None] | None = None  # waits for the state, then works
        health.require("state", self.waiting_for_state)

    async def _handle(self, event: EventRecord, _: ConsumedRecord) -> None:
        await self.dispatcher.handle(event)

    def waiting_for_state(self) -> str | None:
        """Readiness: nothing is dispatched until the state has read the whole log."""
        return None if self.reader.replay.ready.is_set() else "folding the Navigator's log"

    async def start(self) -> None:
        await self.publisher.start()
        await self.reader.replay.start()
        self._working_task = asyncio.create_task(self._work(), name="dispatcher-work")
        self._tasks = [
            asyncio.create_task(self.reader.replay.run(), name="dispatcher-state"),
            self._working_task,
            asyncio.create_task(
                sample_lag(self.consumer.kafka, self.settings.group_id), name="dispatcher-lag"
            ),
        ]

    async def _work(self) -> None:
        """Join the work group once the state has read the whole log. A replica that
        joined at start took partitions it could not dispatch for as long as its replay
        ran (some 23 s after a hundred failovers of 1,000): their clearances waited,
        where the replicas already caught up would have sent them."""
        await self.reader.replay.ready.wait()
        self._working = True
        await self.consumer.start()
        await self.consumer.run()

    def background_tasks(self) -> list[asyncio.Task[None]]:
        return list(self._tasks)

    async def stop(self) -> None:
        if not self._working and self._working_task is not None:
            self._working_task.cancel()  # still waiting for the state: nothing to hand back
            await self.consumer.kafka.stop()  # never started, closed all the same
        await self.consumer.stop()
        await self.reader.replay.stop()
        if self._tasks:
            self._tasks[-1].cancel()  # the lag sampler runs until cancelled
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.close()
        await self.publisher.stop()
