"""A scripted stand-in for Dispatcher + Pilot on every data plane, over the real broker.

It reads the Navigator's decisions from ``failover.events`` and answers each
``FlightStepsCleared`` as the planes would: dispatched (the Dispatcher, on
``flight.events``), then per cleared step started and its outcome (DrainCompleted,
FencingCompleted with the flight's epoch, or FlightStepSucceeded), on the flight's
cluster's own reports topic. A script can make a (Deployment, flight kind, step) fail
permanently, or name an ``impostor`` cluster that also reports, on its own topic, a
permanent failure of every step of the other clusters' flights.
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
    impostor: str | None = None
    forged: int = 0
    # While set, decisions are read but answered only once it is cleared (a data plane
    # slow to report: the request stays IN_PROGRESS meanwhile).
    holding: bool = False

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
        held: list[EventRecord] = []
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=100)
                held += [codec.decode(r.value) for records in batches.values() for r in records]
                if self.holding:
                    continue
                answers: list[tuple[str, EventRecord]] = []
                for decision in held:
                    answers += self._answer(decision)
                held = []
                by_topic: dict[str, list[EventRecord]] = defaultdict(list)
                for topic, answer in answers:  # each topic keeps the answers' order
                    by_topic[topic].append(answer)
                for topic, records_of_topic in by_topic.items():
                    await publisher.publish_many_to(self.prefix + topic, records_of_topic)
                    if self.impostor is not None and topic == topics.reports_topic(self.impostor):
                        await asyncio.sleep(0.5)  # the forgeries are read before the truth
        finally:
            await consumer.stop()
            await publisher.stop()

    def _answer(self, record: EventRecord) -> list[tuple[str, EventRecord]]:
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
        reports = topics.reports_topic(plan.cluster_id)
        answers = [
            (
                topics.FLIGHT_EVENTS if isinstance(e, ev.FlightDispatched) else reports,
                self._record(e, plan, record, at),
            )
            for e in out
        ]
        if self.impostor is not None and plan.cluster_id != self.impostor:
            answers = self._forgeries(plan, event, at, record) + answers
        return answers

    def _forgeries(
        self, plan: ev.FlightPlanned, cleared: ev.FlightStepsCleared, at: int, cause: EventRecord
    ) -> list[tuple[str, EventRecord]]:
        """What the impostor sends first: the first cleared step started and failed for
        good (folded, it would fail the flight and so the Mission)."""
        assert self.impostor is not None
        step, attempt = cleared.steps[0], cleared.attempts[0]
        forged: list[ev.DomainEvent] = [
            ev.FlightDispatched(flight_id=plan.flight_id, dispatched_at=at, steps=cleared.steps),
            ev.FlightStepStarted(
                flight_id=plan.flight_id, step=step, attempt=attempt, started_at=at
            ),
            ev.FlightStepFailed(
                flight_id=plan.flight_id,
                step=step,
                attempt=attempt,
                error_code="IMAGE_NOT_FOUND",
                error="forged by another cluster",
                transient=False,
                failed_at=at,
            ),
        ]
        self.forged += len(forged)
        topic = topics.reports_topic(self.impostor)
        return [(topic, self._record(e, plan, cause, at)) for e in forged]

    def _record(
        self, event: ev.DomainEvent, plan: ev.FlightPlanned, cause: EventRecord, at: int
    ) -> EventRecord:
        return self.mapper.to_record(
            event, correlation_id=plan.request_id, caused_by=cause, actor=None, occurred_at_ms=at
        )

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
