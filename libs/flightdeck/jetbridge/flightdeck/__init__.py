"""Flightdeck: the dp_flights claim store shared by the data-plane agent and the Pilot.

The agent enqueues flights (idempotent by flight id); Pilot replicas claim them with
``SELECT ... FOR UPDATE SKIP LOCKED`` under a lease and a per-flight fencing token, so
a claimer that lost its lease can never overwrite the one that replaced it. Step
results and the events reporting them commit together through ``dp_flight_outbox``.
"""

from .factory import open_flightdeck, open_when_reachable
from .models import (
    Admitted,
    Claim,
    Cleared,
    Completion,
    Flight,
    FlightState,
    LeaseLost,
    NewFlight,
    OutboxEvent,
    Outcome,
    Side,
    StepClearance,
    StepRecord,
    StoredOutboxEvent,
)
from .port import Flightdeck

__all__ = [
    "Admitted",
    "Claim",
    "Cleared",
    "Completion",
    "Flight",
    "FlightState",
    "Flightdeck",
    "LeaseLost",
    "NewFlight",
    "OutboxEvent",
    "Outcome",
    "Side",
    "StepClearance",
    "StepRecord",
    "StoredOutboxEvent",
    "open_flightdeck",
    "open_when_reachable",
]
