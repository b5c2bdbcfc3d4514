"""Scripted data planes that take their time: each step runs ``step_s`` seconds.

``ScriptedPlanes`` answers a clearance at once; a person (or a browser test) watching
a failover needs to see steps run, so this one reports each step started, waits, then
reports its outcome, per flight concurrently. Failures are scripted the same way.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer

from jetbridge.common import topics
from jetbridge.common.events import EventCodec, EventRecord
from jetbridge.common.kafka import EventPublisher
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.domain import events as ev
from tests.integration.navigator.scripted_planes import ScriptedPlanes, now_ms


@dataclass
class PacedPlanes:
    bootstrap: str
    prefix: str
    mapper: EventMapper
    step_s: float = 0.3
    fail_permanently: set[tuple[str, str, str]] = field(default_factory=set)
    # (Deployment, flight kind, step) that starts and never ends: its cluster went silent.
    hang: set[tuple[str, str, str]] = field(default_factory=set)
    flights: dict[str, ev.FlightPlanned] = field(default_factory=dict)
    _work: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, stop: asyncio.Event) -> None:
        codec = EventCodec(self.mapper.registry)
        consumer = AIOKafkaConsumer(
            self.prefix + topics.FAILOVER_EVENTS,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
        )
        publisher = EventPublisher(self.bootstrap, client_id="paced", topic_prefix=self.prefix)
        await consumer.start()
        await publisher.start()
        try:
            while not stop.is_set():
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    for record in records:
                        self._take(codec.decode(record.value or b""), publisher)
        finally:
            for task in self._work:
                task.cancel()
            await asyncio.gather(*self._work, return_exceptions=True)
            await consumer.stop()
            await publisher.stop()

    def _take(self, record: EventRecord, publisher: EventPublisher) -> None:
        if not self.mapper.is_domain_event(record):
            return
        event = self.mapper.to_domain(record)
        if isinstance(event, ev.FlightPlanned):
            self.flights[event.flight_id] = event
        elif isinstance(event, ev.FlightStepsCleared):
            task = asyncio.create_task(self._fly(event, record, publisher))
            self._work.add(task)
            task.add_done_callback(self._work.discard)

    async def _fly(
        self, cleared: ev.FlightStepsCleared, cause: EventRecord, publisher: EventPublisher
    ) -> None:
        plan = self.flights[cleared.flight_id]

        async def say(event: ev.DomainEvent) -> None:
            record = self.mapper.to_record(
                event,
                correlation_id=plan.request_id,
                caused_by=cause,
                actor=None,
                occurred_at_ms=now_ms(),
            )
            await publisher.publish(record)

        await say(
            ev.FlightDispatched(
                flight_id=plan.flight_id, dispatched_at=now_ms(), steps=cleared.steps
            )
        )
        for i, step in enumerate(cleared.steps):
            attempt = cleared.attempts[i]  # a data plane reports the clearance's numbers
            await say(
                ev.FlightStepStarted(
                    flight_id=plan.flight_id, step=step, attempt=attempt, started_at=now_ms()
                )
            )
            await asyncio.sleep(self.step_s)
            if (plan.deployment_id, plan.kind, step) in self.hang:
                return
            if (plan.deployment_id, plan.kind, step) in self.fail_permanently:
                await say(
                    ev.FlightStepFailed(
                        flight_id=plan.flight_id,
                        step=step,
                        attempt=attempt,
                        error_code="IMAGE_NOT_FOUND",
                        error=f"image {plan.image} cannot be pulled",
                        transient=False,
                        failed_at=now_ms(),
                    )
                )
                return
            await say(ScriptedPlanes._outcome(plan, step, attempt, now_ms()))
