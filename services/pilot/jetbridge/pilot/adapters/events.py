"""The Pilot's reports as outbox rows: envelope, Avro single-object encoding, headers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from jetbridge.common.events import EventCodec, new_event
from jetbridge.common.kafka.headers import event_headers
from jetbridge.common.telemetry import current_trace_context
from jetbridge.flightdeck import OutboxEvent
from jetbridge.flightdeck.models import Flight
from jetbridge.pilot.domain.reports import Report

PRODUCER = "pilot"


class AvroEventEncoder:
    def __init__(self, codec: EventCodec | None = None, *, producer: str = PRODUCER) -> None:
        self.codec = codec or EventCodec()
        self.producer = producer

    def encode(self, flight: Flight, items: Sequence[Report]) -> list[OutboxEvent]:
        out = []
        for item in items:
            version = self.codec.registry.latest(item.event_type).version
            event = new_event(
                item.event_type,
                item.payload,
                aggregate_type="Flight",
                aggregate_id=flight.flight_id,
                producer=self.producer,
                schema_version=version,
                correlation_id=flight.request_id,
                # the current span (the step's): the Navigator's decisions link to it
                trace_context=current_trace_context(),
            )
            out.append(
                OutboxEvent(
                    topic=self.codec.schema_for(event).topic,
                    payload=self.codec.encode(event),
                    key=self.codec.key_of(event),
                    headers=event_headers(event),
                    event_id=uuid.UUID(event.event_id),
                )
            )
        return out
