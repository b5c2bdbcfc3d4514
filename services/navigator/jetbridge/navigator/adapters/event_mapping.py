"""Domain events and commands to and from the wire's ``EventRecord`` (Avro + envelope).

The domain knows nothing of envelopes: this adapter adds who, when, why (correlation
and causation) on the way out, and on the way in rebuilds the frozen dataclass from
the payload, ignoring fields a newer schema added that this domain does not know.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from jetbridge.common.events import EventRecord, SchemaRegistry, new_event
from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.commands import (
    CancelFailover,
    Command,
    DeclareClusterLost,
    DeregisterCluster,
    EnableFailover,
    RegisterCluster,
    RequestFailover,
)
from jetbridge.navigator.domain.events.catalogue import BY_NAME
from jetbridge.navigator.domain.policy import BlastRadius, FailoverPolicy, RetryPolicy
from jetbridge.navigator.domain.vocabulary import FailoverMode

COMMAND_TYPES = frozenset(
    {
        "RequestFailover",
        "CancelFailover",
        "EnableFailover",
        "RegisterCluster",
        "DeregisterCluster",
        "DeclareClusterLost",
    }
)
_FIELDS: dict[str, frozenset[str]] = {
    name: frozenset(f.name for f in dataclasses.fields(cls)) for name, cls in BY_NAME.items()
}


class EventMapper:
    def __init__(self, registry: SchemaRegistry, producer: str) -> None:
        self.registry = registry
        self.producer = producer

    def is_domain_event(self, record: EventRecord) -> bool:
        return record.event_type in BY_NAME

    def is_command(self, record: EventRecord) -> bool:
        return record.event_type in COMMAND_TYPES

    def to_domain(self, record: EventRecord) -> ev.DomainEvent:
        cls = BY_NAME[record.event_type]
        known = _FIELDS[record.event_type]
        return cls(**{k: _plain(v) for k, v in record.payload.items() if k in known})

    def to_record(
        self,
        event: ev.DomainEvent,
        *,
        correlation_id: str,
        caused_by: EventRecord | None,
        actor: str | None,
        occurred_at_ms: int,
    ) -> EventRecord:
        schema = self.registry.latest(event.event_type())
        return new_event(
            event.event_type(),
            event.to_payload(),
            aggregate_type=event.AGGREGATE,
            aggregate_id=event.aggregate_id,
            producer=self.producer,
            schema_version=schema.version,
            correlation_id=correlation_id,
            caused_by=caused_by,
            actor=actor,
            occurred_at=_datetime(occurred_at_ms),
        )

    def to_command(self, record: EventRecord) -> Command:
        """A command record from the console; the actor is the authenticated operator."""
        p = record.payload
        actor = record.envelope.actor or "unknown"
        if record.event_type == "CancelFailover":
            return CancelFailover(request_id=p["request_id"], requested_by=actor)
        if record.event_type == "EnableFailover":
            return EnableFailover(cluster_id=p["cluster_id"], requested_by=actor)
        if record.event_type == "DeregisterCluster":
            return DeregisterCluster(cluster_id=p["cluster_id"], requested_by=actor)
        if record.event_type == "DeclareClusterLost":
            return DeclareClusterLost(
                cluster_id=p["cluster_id"], attestation=p["attestation"], requested_by=actor
            )
        if record.event_type == "RegisterCluster":
            return RegisterCluster(
                cluster_id=p["cluster_id"],
                name=p["name"],
                endpoint=p["endpoint"],
                certificate_identity=p["certificate_identity"],
                failover_enabled=p["failover_enabled"],
                requested_by=actor,
            )
        return RequestFailover(
            request_id=p["request_id"],
            source_cluster_id=p["source_cluster_id"],
            destination_cluster_id=p["destination_cluster_id"],
            mode=FailoverMode(p["mode"]),
            requested_by=actor,
            exclude_ineligible=p["exclude_ineligible"],
            policy=FailoverPolicy(
                drain_timeout_seconds=p["drain_timeout_seconds"],
                retry=RetryPolicy(max_attempts=p["max_attempts"]),
                blast_radius=BlastRadius(
                    max_concurrent_missions=p["max_concurrent_missions"],
                    halt_failure_ratio=p["halt_failure_ratio"],
                ),
            ),
        )


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def _datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
