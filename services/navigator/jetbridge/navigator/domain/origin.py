"""Who may report what: a data plane speaks only for the flights on its own cluster.

Each data plane publishes its reports on its own topic (``jetbridge.flight.events.
<cluster-id>``, which only that cluster's principal may write: docs/operations.md,
"Kafka ACLs"), so the topic a report arrived on names the cluster that sent it. A
report read there is folded only if it is a kind a data plane sends and, when it is
about a flight this Navigator planned, that flight runs on the same cluster. Anything
else (a command, a cluster's registration, another cluster's flight) changes nothing.

The shared ``jetbridge.flight.events`` topic is the control plane's own (the
Dispatcher's dispatch reports); its records carry no cluster origin and are not
checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def report_refusal(
    event_type: str, payload: Mapping[str, Any], reporter: str, fleet: Fleet
) -> str | None:
    """Why ``reporter``'s record may not be folded, or None if it may."""
    if event_type not in DATA_PLANE_REPORTS:
        return f"{event_type} is not a data plane's report (sent by cluster {reporter})"
    flight_id = str(payload.get("flight_id", ""))
    flight = fleet.flights.get(flight_id)
    if flight is not None and flight.cluster_id != reporter:
        return f"flight {flight_id} runs on {flight.cluster_id}, not on {reporter} that reported it"
    return None
