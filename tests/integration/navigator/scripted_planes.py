"""A scripted stand-in for Dispatcher + Pilot on every data plane, over the real broker.

It reads the Navigator's decisions from ``failover.events`` and answers each
``FlightStepsCleared`` with what a data plane would report on ``flight.events``:
dispatched, then per cleared step started and its outcome (DrainCompleted,
FencingCompleted with the flight's epoch, or FlightStepSucceeded). A script can make a
(Deployment, flight kind, step) fail permanently.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer

from jetbridge.common import topics
from jetbridge.common.events import EventCodec, EventRecord
from jetbridge.common.kafka import EventPublisher
from jetbridge.navigator.adapters.event_mapping import EventMapper
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.vocabulary import StepName


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class ScriptedPlanes:
    bootstrap: str
    prefix: str
    mapper: EventMapper
    fail_permanently: set[tuple[str, str, str]] = field(default_factory=set)
    flights: dict[str, ev.FlightPlanned] = field(default_factory=dict)
    attempts: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    answered: int = 0
    # A relay may publish a batch twice (e.g. a Navigator killed between publish and
    # mark): a data plane acts on each decision once, as Dispatcher does.
    seen: set[str] = field(default_factory=set)
    repeats: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        codec = EventCodec(self.mapper.registry)
        consumer = AIOKafkaConsumer(
            self.prefix + topics.FAILOVER_EVENTS,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
        )
        publisher = EventPublisher(self.bootstrap, client_id="planes", topic_prefix=self.prefix)
        await consumer.start()
        await publisher.start()
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=100)
                answers: list[EventRecord] = []
                for records in batches.values():
                    for record in records:
                        answers += self._answer(codec.decode(record.value))
                if answers:
                    await publisher.publish_many(answers)
        finally:
            await consumer.stop()
            await publisher.stop()

    def _answer(self, record: EventRecord) -> list[EventRecord]:
        if record.event_id in self.seen:
            self.repeats += 1
            return []
        self.seen.add(record.event_id)
        if not self.mapper.is_domain_event(record):
            return []
        event = self.mapper.to_domain(record)
        if isinstance(event, ev.FlightPlanned):
            self.flights[event.flight_id] = event
            return []
        if not isinstance(event, ev.FlightStepsCleared):
            return []
        plan = self.flights[event.flight_id]
        at = now_ms()
        out: list[ev.DomainEvent] = [
            ev.FlightDispatched(flight_id=plan.flight_id, dispatched_at=at, steps=event.steps)
        ]
        for i, step in enumerate(event.steps):
            attempt = event.attempts[i]  # a data plane reports the clearance's numbers
            self.attempts[(plan.flight_id, step)] = attempt
            out.append(
                ev.FlightStepStarted(
                    flight_id=plan.flight_id, step=step, attempt=attempt, started_at=at
                )
            )
            if (plan.deployment_id, plan.kind, step) in self.fail_permanently:
                out.append(
                    ev.FlightStepFailed(
                        flight_id=plan.flight_id,
                        step=step,
                        attempt=attempt,
                        error_code="IMAGE_NOT_FOUND",
                        error=f"image {plan.image} cannot be pulled",
                        transient=False,
                        failed_at=at,
                    )
                )
                break  # a data plane stops at the first failure
            out.append(self._outcome(plan, step, attempt, at))
        self.answered += 1
        return [
            self.mapper.to_record(
                e, correlation_id=plan.request_id, caused_by=record, actor=None, occurred_at_ms=at
            )
            for e in out
        ]

    @staticmethod
    def _outcome(plan: ev.FlightPlanned, step: str, attempt: int, at: int) -> ev.DomainEvent:
        if step == StepName.DRAIN_TASKS.value:
            return ev.DrainCompleted(flight_id=plan.flight_id, attempt=attempt, drained_at=at)
        if step == StepName.FENCE_DATABASE.value:
            return ev.FencingCompleted(
                flight_id=plan.flight_id,
                mission_id=plan.mission_id,
                deployment_id=plan.deployment_id,
                epoch=plan.fencing_epoch,
                attempt=attempt,
                fenced_at=at,
            )
        return ev.FlightStepSucceeded(
            flight_id=plan.flight_id, step=step, attempt=attempt, succeeded_at=at
        )
