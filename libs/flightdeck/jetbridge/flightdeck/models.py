"""Value types of the Flightdeck port: what goes in, what a claimer holds, what comes out.

Plain frozen dataclasses so the Pilot's domain can use them without importing a driver.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JSONValue = Any
"""A JSON-serialisable value (kept loose: plans and step results are free-form)."""


class Side(enum.StrEnum):
    SOURCE = "SOURCE"
    DESTINATION = "DESTINATION"


# The steps a plan may name: the data plane's vocabulary (the Pilot's STEPS, the Avro
# StepName enum; tests/unit/agent/test_flights.py checks they agree). The agent refuses
# a flight naming another: a newer control plane's step that this data plane's Pilot
# could neither run nor report.
PLAN_STEPS = frozenset(
    {
        "CREATE_NAMESPACE",
        "APPLY_EXTERNAL_SECRETS",
        "FENCE_DATABASE",
        "UPSERT_DEPLOYMENT",
        "WAIT_READY",
        "STOP_SCHEDULING",
        "DRAIN_TASKS",
        "DELETE_DEPLOYMENT",
    }
)


class FlightState(enum.StrEnum):
    """Life cycle of a row. A claim moves QUEUED -> RUNNING (there is no separate
    CLAIMED state: a claimed flight is running from the store's point of view, and
    ``current_step`` says how far it got)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in (FlightState.SUCCEEDED, FlightState.FAILED, FlightState.CANCELLED)


class Outcome(enum.StrEnum):
    """How a claimer may finish a flight."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class LeaseLost(Exception):
    """The claimer's lease expired or another claimer took the flight over.

    Raised instead of writing: a claimer that sees it must stop touching the flight.
    """

    def __init__(self, flight_id: str, fencing_token: int) -> None:
        super().__init__(f"lease lost on flight {flight_id!r} (fencing token {fencing_token})")
        self.flight_id = flight_id
        self.fencing_token = fencing_token


@dataclass(frozen=True, slots=True)
class NewFlight:
    """A flight as the data-plane agent writes it (StartFlight)."""

    flight_id: str
    mission_id: str
    request_id: str
    deployment_id: str
    side: Side
    mode: str
    plan: Sequence[JSONValue]
    fencing_epoch: int
    # Index of the last step the data plane may run (-1: none yet, wait for ClearSteps);
    # None: the whole plan is cleared (flights no Navigator gates, e.g. provisioning).
    cleared_through: int | None = None
    # W3C traceparent of the StartFlight: the Pilot's spans continue that trace.
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class Flight:
    """A row of ``dp_flights`` as stored."""

    flight_id: str
    mission_id: str
    request_id: str
    deployment_id: str
    side: Side
    mode: str
    plan: list[JSONValue]
    fencing_epoch: int
    state: FlightState
    current_step: int
    step_results: dict[int, JSONValue]
    error: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    attempt: int
    fencing_token: int
    cancel_requested: bool
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    cleared_through: int | None = None
    not_before: datetime | None = None
    step_attempts: dict[int, int] = field(default_factory=dict)
    traceparent: str | None = None

    @property
    def never_started(self) -> bool:
        """A tombstone: cancelled before any StartFlight stored it (``request_cancel``)."""
        return self.state is FlightState.CANCELLED and not self.plan

    def is_cleared(self, step_index: int) -> bool:
        """May the data plane run this step now (ignoring ``not_before``)?"""
        if not 0 <= step_index < len(self.plan):
            return False
        return self.cleared_through is None or step_index <= self.cleared_through

    def attempt_of(self, step_index: int) -> int:
        """The attempt an outcome of this step reports: its clearance count (>= 1)."""
        return max(1, self.step_attempts.get(step_index, 0))


@dataclass(frozen=True, slots=True)
class Admitted:
    """A flight as stored after ``admit``; ``created`` when that call inserted it."""

    flight: Flight
    created: bool


@dataclass(frozen=True, slots=True)
class Claim:
    """What a claimer holds: the flight as claimed plus its fencing token.

    Every write by the claimer names ``fencing_token``; the store refuses it once a
    newer claim exists or the lease has expired.
    """

    flight: Flight
    owner: str
    fencing_token: int
    attempt: int
    lease_expires_at: datetime
    cancel_requested: bool = False

    @property
    def flight_id(self) -> str:
        return self.flight.flight_id


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An event to publish, written in the same transaction as the state it reports."""

    topic: str
    payload: bytes
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True, slots=True)
class StoredOutboxEvent:
    """An outbox row as read back (by the relay that publishes it, or by tests)."""

    seq: int
    event_id: uuid.UUID
    flight_id: str | None
    topic: str
    key: bytes | None
    payload: bytes
    headers: list[tuple[str, bytes]]
    created_at: datetime
    published_at: datetime | None


@dataclass(frozen=True, slots=True)
class Completion:
    """One entry of a batched ``complete_many``."""

    claim: Claim
    outcome: Outcome
    outbox_events: Sequence[OutboxEvent] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One entry of a batched ``record_many``: a step's result under a claim, with the
    events that report it; ``attempt`` as in ``record_step_result``."""

    claim: Claim
    step_index: int
    result: Mapping[str, JSONValue]
    outbox_events: Sequence[OutboxEvent] = ()
    attempt: int | None = None


@dataclass(frozen=True, slots=True)
class Cleared:
    """What ClearSteps found: the flight afterwards, and whether this clearance was new
    (False: a redelivered clearance, or a flight that failed or was cancelled)."""

    flight: Flight
    applied: bool


@dataclass(frozen=True, slots=True)
class StepClearance:
    """One ClearSteps of a batched ``clear_many``: steps ``first_step..last_step`` of the
    flight may run, not before ``not_before``; ``attempts`` as Navigator numbers them."""

    flight_id: str
    clearance_id: str
    first_step: int
    last_step: int
    not_before: datetime | None = None
    attempts: tuple[int, ...] = ()

    def check(self) -> None:
        check_clearance(self.first_step, self.last_step, self.attempts)


def one_per_flight(flight_ids: Sequence[str]) -> list[list[int]]:
    """Positions of ``flight_ids`` in rounds that name each flight at most once, each
    flight's occurrences in the order given: a statement can change a row only once,
    and a second clearance of a flight must see the first one's effect."""
    rounds: list[list[int]] = []
    seen: dict[str, int] = {}  # flight -> rounds it already appears in
    for position, flight_id in enumerate(flight_ids):
        depth = seen.get(flight_id, 0)
        if depth == len(rounds):
            rounds.append([])
        rounds[depth].append(position)
        seen[flight_id] = depth + 1
    return rounds


def check_clearance(first_step: int, last_step: int, attempts: Sequence[int] = ()) -> None:
    if first_step < 0 or last_step < first_step:
        raise ValueError(f"bad clearance range [{first_step}, {last_step}]")
    if attempts and len(attempts) != last_step - first_step + 1:
        raise ValueError(
            f"clearance of steps [{first_step}, {last_step}] carries {len(attempts)} attempt"
            f" numbers, not {last_step - first_step + 1}"
        )
    if any(a < 1 for a in attempts):
        raise ValueError(f"attempt numbers start at 1: {list(attempts)}")


def next_attempts(
    stored: Mapping[str, Any], first_step: int, last_step: int, attempts: Sequence[int]
) -> dict[str, int]:
    """Each cleared step's attempt: Navigator's number when given, else one more."""
    out = {k: int(v) for k, v in stored.items()}
    for offset, i in enumerate(range(first_step, last_step + 1)):
        out[str(i)] = attempts[offset] if attempts else out.get(str(i), 0) + 1
    return out


def step_attempts_from_json(raw: Mapping[str, JSONValue] | None) -> dict[int, int]:
    return {int(k): int(v) for k, v in (raw or {}).items()}


def step_results_from_json(raw: Mapping[str, JSONValue] | None) -> dict[int, JSONValue]:
    """JSON objects have string keys; steps are ints."""
    return {int(k): v for k, v in (raw or {}).items()}
