"""A data plane's records are folded only if it may send them (domain/origin.py), and
the service drops the others before they change anything."""

from __future__ import annotations

import pytest

from jetbridge.navigator.domain.fleet import Fleet
from jetbridge.navigator.domain.flight import Flight
from jetbridge.navigator.domain.origin import DATA_PLANE_REPORTS, Told, report_refusal


def fleet_with_flight(flight_id: str, cluster_id: str) -> Fleet:
    fleet = Fleet()
    flight = Flight(flight_id)
    flight.cluster_id = cluster_id
    fleet.flights[flight_id] = flight
    return fleet


@pytest.mark.parametrize("event_type", sorted(DATA_PLANE_REPORTS))
def test_a_cluster_may_report_on_its_own_flights(event_type: str) -> None:
    fleet = fleet_with_flight("f1", "west")
    assert report_refusal(event_type, {"flight_id": "f1"}, "west", fleet) is None


def test_a_cluster_may_not_report_on_another_clusters_flight() -> None:
    fleet = fleet_with_flight("f1", "west")
    why = report_refusal("FlightStepFailed", {"flight_id": "f1"}, "east", fleet)
    assert why == "flight f1 runs on west, not on east that reported it"


def test_a_flight_the_navigator_never_planned_is_left_to_the_fold() -> None:
    # e.g. the data plane's own provisioning flights: the fold ignores them anyway
    assert report_refusal("FlightClaimed", {"flight_id": "provision/d1"}, "east", Fleet()) is None


@pytest.mark.parametrize(
    "event_type",
    [
        "RequestFailover",
        "CancelFailover",
        "ClusterRegistered",
        "FlightDispatched",
        "MissionSucceeded",
    ],
)
def test_what_only_the_control_plane_sends_is_refused(event_type: str) -> None:
    why = report_refusal(event_type, {"flight_id": "f1"}, "east", fleet_with_flight("f1", "east"))
    assert why == f"{event_type} is not a data plane's report (sent by cluster east)"


def test_the_list_names_what_the_pilot_reports() -> None:
    from jetbridge.pilot.domain.reports import SUCCESSES  # noqa: PLC0415

    assert set(SUCCESSES) <= DATA_PLANE_REPORTS


def planned(flight_id: str = "f1", cluster_id: str = "west") -> Fleet:
    fleet = fleet_with_flight(flight_id, cluster_id)
    flight = fleet.flights[flight_id]
    flight.mission_id, flight.request_id, flight.deployment_id = "r1/d1", "r1", "d1"
    return fleet


GOOD = {"flight_id": "f1", "mission_id": "r1/d1", "deployment_id": "d1"}


def test_a_report_that_describes_its_flight_as_it_is_is_folded() -> None:
    told = Told(aggregate_id="f1", correlation_id="r1")
    assert report_refusal("FencingCompleted", GOOD, "west", planned(), told) is None


@pytest.mark.parametrize(
    ("payload", "told", "why"),
    [
        ({**GOOD, "mission_id": "r9/d9"}, Told("f1", "r1"), "names mission r9/d9, not r1/d1"),
        ({**GOOD, "deployment_id": "d9"}, Told("f1", "r1"), "names Deployment d9, not d1"),
        (GOOD, Told("r9", "r1"), "names aggregate r9, not f1"),
        (GOOD, Told("f1", "r9"), "names request r9, not r1"),
        (GOOD, Told("f1", "r1", actor="alice@example.com"), "names an actor ('alice@"),
    ],
)
def test_a_report_that_misdescribes_its_own_flight_is_refused(
    payload: dict[str, str], told: Told, why: str
) -> None:
    """The ledger copies a report byte for byte, and the Console's audit trail and the
    auditors read these fields: a data plane could otherwise file an entry in another
    request's trail, about another tenant's Deployment, in an operator's name."""
    refused = report_refusal("FencingCompleted", payload, "west", planned(), told)
    assert refused is not None and why in refused, refused
