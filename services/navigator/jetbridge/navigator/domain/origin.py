"""Who may report what: a data plane speaks only for the flights on its own cluster.

Each data plane publishes its reports on its own topic (``jetbridge.flight.events.
<cluster-id>``, which only that cluster's principal may write: docs/operations.md,
"Kafka ACLs"), so the topic a report arrived on names the cluster that sent it. A
report read there is folded only if it is a kind a data plane sends and, when it is
about a flight this Navigator planned, that flight runs on the same cluster. Anything
else (a command, a cluster's registration, another cluster's flight) changes nothing.

A report about such a flight must also describe it as it is: its envelope's aggregate
is the flight, its correlation the flight's request, it names no actor (a data plane
acts for no person), and the mission and Deployment in its payload are the flight's.
The Navigator copies the report byte for byte onto its ledger, where the Console's
audit trail and the auditors read those fields: a data plane could otherwise place an
entry in another request's trail, about another tenant's Deployment, in an operator's
name.

The shared ``jetbridge.flight.events`` topic is the control plane's own (the
Dispatcher's dispatch reports); its records carry no cluster origin and are not
checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jetbridge.navigator.domain.fleet import Fleet

# What a Pilot publishes (jetbridge.pilot.domain.reports); the Navigator folds the
# outcomes among them and ignores the rest (claims, refusals of a fence).
DATA_PLANE_REPORTS = frozenset(
    {
        "FlightClaimed",
        "FlightStepStarted",
        "FlightStepSucceeded",
        "FlightStepFailed",
        "FencingCompleted",
        "FencingRefused",
        "DrainCompleted",
        "DrainTimedOut",
    }
)


@dataclass(frozen=True)
class Told:
    """What a report's envelope says about it (the fields auditors read)."""

    aggregate_id: str
    correlation_id: str
    actor: str | None = None


def report_refusal(
    event_type: str,
    payload: Mapping[str, Any],
    reporter: str,
    fleet: Fleet,
    told: Told | None = None,
) -> str | None:
    """Why ``reporter``'s record may not be folded, or None if it may."""
    if event_type not in DATA_PLANE_REPORTS:
        return f"{event_type} is not a data plane's report (sent by cluster {reporter})"
    flight_id = str(payload.get("flight_id", ""))
    flight = fleet.flights.get(flight_id)
    if flight is None:
        return None  # not the Navigator's flight: the fold ignores it, nothing is copied
    if flight.cluster_id != reporter:
        return f"flight {flight_id} runs on {flight.cluster_id}, not on {reporter} that reported it"
    claims = {
        "mission": (payload.get("mission_id"), flight.mission_id),
        "Deployment": (payload.get("deployment_id"), flight.deployment_id),
    }
    if told is not None:
        claims["aggregate"] = (told.aggregate_id, flight_id)
        claims["request"] = (told.correlation_id, flight.request_id)
        if told.actor:
            return f"a report of {reporter} names an actor ({told.actor!r}): data planes have none"
    for what, (said, known) in claims.items():
        if said and known and str(said) != known:
            return f"a report of {reporter} on flight {flight_id} names {what} {said}, not {known}"
    return None
