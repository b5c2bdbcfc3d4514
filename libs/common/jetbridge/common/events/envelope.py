"""The event envelope and the record that pairs it with a payload.

An envelope says who wrote what, about which aggregate, when, and why (correlation
and causation). The payload is a plain mapping matching the event's Avro schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Envelope:
    event_id: str
    event_type: str
    schema_version: int
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    occurred_at: datetime
    correlation_id: str
    producer: str
    causation_id: str | None = None
    actor: str | None = None
    trace_context: Mapping[str, str] = field(default_factory=dict)

    def as_avro(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "schema_version": self.schema_version,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "aggregate_version": self.aggregate_version,
            "occurred_at": self.occurred_at,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "producer": self.producer,
            "actor": self.actor,
            "trace_context": dict(self.trace_context),
        }

    @classmethod
    def from_avro(cls, data: Mapping[str, Any]) -> Envelope:
        return cls(
            event_id=str(data["event_id"]),
            event_type=data["event_type"],
            schema_version=data["schema_version"],
            aggregate_type=data["aggregate_type"],
            aggregate_id=data["aggregate_id"],
            aggregate_version=data["aggregate_version"],
            occurred_at=data["occurred_at"],
            correlation_id=data["correlation_id"],
            causation_id=data.get("causation_id"),
            producer=data["producer"],
            actor=data.get("actor"),
            trace_context=dict(data.get("trace_context") or {}),
        )


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event: its envelope and its payload. ``topic`` and ``key`` come from the schema."""

    envelope: Envelope
    payload: Mapping[str, Any]

    @property
    def event_id(self) -> str:
        return self.envelope.event_id

    @property
    def event_type(self) -> str:
        return self.envelope.event_type


def new_event(
    event_type: str,
    payload: Mapping[str, Any],
    *,
    aggregate_type: str,
    aggregate_id: str,
    producer: str,
    schema_version: int,
    aggregate_version: int = 0,
    correlation_id: str | None = None,
    caused_by: EventRecord | None = None,
    actor: str | None = None,
    occurred_at: datetime | None = None,
    trace_context: Mapping[str, str] | None = None,
) -> EventRecord:
    """Build an event; a follow-up of ``caused_by`` inherits its correlation id."""
    if correlation_id is None:
        correlation_id = caused_by.envelope.correlation_id if caused_by else aggregate_id
    envelope = Envelope(
        event_id=str(uuid.uuid4()),
        event_type=event_type,
        schema_version=schema_version,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        occurred_at=_millis(occurred_at or datetime.now(UTC)),
        correlation_id=correlation_id,
        causation_id=caused_by.envelope.event_id if caused_by else None,
        producer=producer,
        actor=actor,
        trace_context=dict(trace_context or {}),
    )
    return EventRecord(envelope=envelope, payload=dict(payload))


def _millis(moment: datetime) -> datetime:
    """Avro stores milliseconds: truncate now so a round trip compares equal."""
    if moment.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
