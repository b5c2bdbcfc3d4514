"""The base of every domain event.

Events are frozen dataclasses whose fields are Avro-friendly simple types (str, int,
bool, float, None and lists of those): they map 1:1 to the records in
``schemas/avro/events/``. Each event names the aggregate it belongs to, the payload
field holding that aggregate's id (the Kafka key) and the topic it is published on.
Times are epoch milliseconds (Avro ``timestamp-millis``), durations are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

FAILOVER_TOPIC = "jetbridge.failover.events"
FLIGHT_TOPIC = "jetbridge.flight.events"
CLUSTER_TOPIC = "jetbridge.cluster.events"


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Something that happened; never mutated, only folded into aggregates."""

    AGGREGATE: ClassVar[str] = ""
    KEY: ClassVar[str] = ""
    TOPIC: ClassVar[str] = ""

    @classmethod
    def event_type(cls) -> str:
        return cls.__name__

    @property
    def aggregate_id(self) -> str:
        value = getattr(self, self.KEY)
        if not isinstance(value, str):  # pragma: no cover - guarded by the catalogue test
            raise TypeError(f"{self.event_type()}.{self.KEY} is not a string")
        return value

    def to_payload(self) -> dict[str, Any]:
        """The Avro payload: field name -> value (lists copied)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), list) else v
            for f in fields(self)
        }


@dataclass(frozen=True, kw_only=True)
class ClusterEvent(DomainEvent):
    AGGREGATE: ClassVar[str] = "Cluster"
    KEY: ClassVar[str] = "cluster_id"
    TOPIC: ClassVar[str] = CLUSTER_TOPIC
    cluster_id: str


@dataclass(frozen=True, kw_only=True)
class DeploymentEvent(DomainEvent):
    AGGREGATE: ClassVar[str] = "Deployment"
    KEY: ClassVar[str] = "deployment_id"
    TOPIC: ClassVar[str] = CLUSTER_TOPIC
    deployment_id: str


@dataclass(frozen=True, kw_only=True)
class RequestEvent(DomainEvent):
    AGGREGATE: ClassVar[str] = "FailoverRequest"
    KEY: ClassVar[str] = "request_id"
    TOPIC: ClassVar[str] = FAILOVER_TOPIC
    request_id: str


@dataclass(frozen=True, kw_only=True)
class MissionEvent(DomainEvent):
    AGGREGATE: ClassVar[str] = "Mission"
    KEY: ClassVar[str] = "mission_id"
    TOPIC: ClassVar[str] = FAILOVER_TOPIC
    mission_id: str


@dataclass(frozen=True, kw_only=True)
class FlightEvent(DomainEvent):
    """Navigator's decisions about a flight (published on the failover topic)."""

    AGGREGATE: ClassVar[str] = "Flight"
    KEY: ClassVar[str] = "flight_id"
    TOPIC: ClassVar[str] = FAILOVER_TOPIC
    flight_id: str


@dataclass(frozen=True, kw_only=True)
class FlightOutcome(FlightEvent):
    """What the data plane reports about a flight (Dispatcher, Pilot).

    Outcomes are facts that already happened elsewhere; Navigator records them in its own
    log in the order it consumed them, so a Flight always folds one total order.
    """

    TOPIC: ClassVar[str] = FLIGHT_TOPIC
