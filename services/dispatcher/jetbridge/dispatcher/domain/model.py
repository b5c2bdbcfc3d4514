"""Flights to dispatch, the state that gates them, and the retry rule.

The state (endpoints from ClusterRegistered, cancelled missions and requests, flights
the Navigator has ended) is folded from events every replica reads in full; the
decision for one clearance is a pure function of that state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# UNKNOWN and INTERNAL are the agent failing in a way it did not name (a database
# connection broken mid-restart, seen in chaos seed 519). Every DataPlane RPC is
# idempotent (by flight id, clearance id), so asking again is safe, and the Navigator's
# retry budget bounds it; taking them as permanent failed a Mission per such blip.
TRANSIENT_CODES = frozenset(
    {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "UNKNOWN", "INTERNAL", "ABORTED"}
)
CLUSTER_URI_PREFIX = "spiffe://jetbridge/cluster/"


def is_transient(code: str) -> bool:
    """gRPC statuses worth retrying: the data plane may answer a moment later."""
    return code in TRANSIENT_CODES


@dataclass(frozen=True, slots=True)
class PlannedFlight:
    flight_id: str
    mission_id: str
    request_id: str
    deployment_id: str
    side: str  # SOURCE | DESTINATION (FlightPlanned.kind)
    cluster_id: str
    mode: str  # CONTROLLED | FORCED
    fencing_epoch: int
    drain_timeout_seconds: int
    image: str
    steps: tuple[str, ...]
    step_deadline_seconds: tuple[int, ...]
    # The Deployment's configuration for the destination to apply (FlightPlanned v2):
    # (component, replicas, cpu, memory), checked by the Navigator; () for defaults.
    components: tuple[tuple[str, int, str, str], ...] = ()

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> PlannedFlight:
        return cls(
            flight_id=str(payload["flight_id"]),
            mission_id=str(payload["mission_id"]),
            request_id=str(payload["request_id"]),
            deployment_id=str(payload["deployment_id"]),
            side=str(payload["kind"]),
            cluster_id=str(payload["cluster_id"]),
            mode=str(payload["mode"]),
            fencing_epoch=int(payload["fencing_epoch"]),
            drain_timeout_seconds=int(payload.get("drain_timeout_seconds") or 0),
            image=str(payload.get("image") or ""),
            steps=tuple(str(s) for s in payload.get("steps") or ()),
            step_deadline_seconds=tuple(int(s) for s in payload.get("step_deadline_seconds") or ()),
            components=tuple(
                (str(name), int(replicas), str(cpu), str(memory))
                for name, replicas, cpu, memory in zip(
                    payload.get("component_names") or (),
                    payload.get("component_replicas") or (),
                    payload.get("component_cpu") or (),
                    payload.get("component_memory") or (),
                    strict=True,
                )
            ),
        )

    @classmethod
    def unknown(cls, flight_id: str) -> PlannedFlight:
        """A flight never planned on the log (only its id is known), for reports."""
        return cls(flight_id, "", "", "", "", "", "", 0, 0, "", (), ())


@dataclass(frozen=True, slots=True)
class Clearance:
    """Navigator's FlightStepsCleared, as the agent's ClearSteps carries it.

    ``clearance_id`` is the event id: a redelivered event is the same clearance, which
    the agent applies once.
    """

    clearance_id: str
    flight_id: str
    steps: tuple[str, ...]
    not_before_ms: int
    cleared_at_ms: int
    attempts: tuple[int, ...] = ()  # Navigator's attempt number per step (v2 events)

    @classmethod
    def from_event(cls, event_id: str, payload: Mapping[str, Any]) -> Clearance:
        return cls(
            clearance_id=event_id,
            flight_id=str(payload["flight_id"]),
            steps=tuple(str(s) for s in payload.get("steps") or ()),
            not_before_ms=int(payload.get("not_before") or 0),
            cleared_at_ms=int(payload.get("cleared_at") or 0),
            attempts=tuple(int(a) for a in payload.get("attempts") or ()),
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str
    identity: str


# The Navigator's decisions that end a flight for good (the Flight's terminal states).
ENDED = frozenset({"FlightSucceeded", "FlightFailed", "FlightCancelled"})
# The events DispatchState.apply folds; the state reader decodes no others.
STATE_EVENTS = frozenset(
    {
        "FlightPlanned",
        "ClusterRegistered",
        "ClusterDeregistered",
        "MissionCancelled",
        "FailoverCancelled",
        *ENDED,
    }
)


@dataclass
class DispatchState:
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    # Cancelled missions (MissionCancelled: before they started, or SUPERSEDED after;
    # and those a FailoverCancelled names). Not whole requests: a cancelled request's started
    # missions finish, and a Forced mission's source clean-up is cleared after the
    # request ended (when the source comes back); gating on the request skipped those
    # clearances, leaving the old copy on the source for good.
    cancelled_missions: set[str] = field(default_factory=set)
    # Every live planned flight by id: a clearance or a cancellation names only the
    # flight, the plan says which cluster runs it (and lets a lost StartFlight be
    # re-sent). A flight leaves it when it ends, so the state holds what is in flight,
    # not every plan since the log began.
    planned: dict[str, PlannedFlight] = field(default_factory=dict)
    # Flights the Navigator ended (terminal: no step of theirs runs again), with the
    # cluster that ran them ("" if never planned here), which a CancelFlight needs. A
    # decision of theirs read again (a consumer group reset to an older offset) is not
    # sent: the data plane may have deleted the flight's row, and would run it as new.
    ended: dict[str, str] = field(default_factory=dict)

    def apply(self, event_type: str, payload: Mapping[str, Any]) -> None:
        if event_type == "FlightPlanned":
            flight = PlannedFlight.from_payload(payload)
            self.planned[flight.flight_id] = flight
        elif event_type == "ClusterRegistered" and payload.get("endpoint"):
            cluster_id = str(payload["cluster_id"])
            identity = str(payload.get("certificate_identity") or "")
            self.endpoints[cluster_id] = Endpoint(
                str(payload["endpoint"]), identity or CLUSTER_URI_PREFIX + cluster_id
            )
        elif event_type in ENDED:
            flight_id = str(payload["flight_id"])
            ended = self.planned.pop(flight_id, None)
            self.ended.setdefault(flight_id, ended.cluster_id if ended else "")
        elif event_type == "ClusterDeregistered":
            self.endpoints.pop(str(payload["cluster_id"]), None)
        elif event_type == "MissionCancelled":
            self.cancelled_missions.add(str(payload["mission_id"]))
        elif event_type == "FailoverCancelled":
            self.cancelled_missions.update(str(m) for m in payload.get("cancelled_mission_ids", []))

    def cluster_of(self, flight_id: str) -> str | None:
        """The cluster that runs (or ran) the flight; None if it was never planned."""
        if (flight := self.planned.get(flight_id)) is not None:
            return flight.cluster_id
        return self.ended.get(flight_id) or None

    def cancelled(self, flight: PlannedFlight) -> str | None:
        """Why the flight must not be dispatched (None: it may be)."""
        if flight.flight_id in self.ended:
            return f"flight {flight.flight_id} has ended"
        if flight.mission_id in self.cancelled_missions:
            return f"mission {flight.mission_id} is cancelled"
        return None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_attempts`` StartFlight calls, each bounded by ``call_deadline_s``."""

    max_attempts: int = 6
    call_deadline_s: float = 5.0
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 5.0
    registration_wait_s: float = 10.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.call_deadline_s <= 0:
            raise ValueError("need max_attempts >= 1 and call_deadline_s > 0")
