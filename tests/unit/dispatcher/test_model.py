from __future__ import annotations

from jetbridge.common.backoff import Backoff
from jetbridge.dispatcher.domain.model import (
    Clearance,
    DispatchState,
    PlannedFlight,
    is_transient,
)

PAYLOAD = {
    "flight_id": "f",
    "mission_id": "m",
    "request_id": "r",
    "deployment_id": "d",
    "kind": "SOURCE",
    "cluster_id": "c",
    "mode": "FORCED",
    "fencing_epoch": 2,
    "drain_timeout_seconds": 0,
    "image": "i",
    "planned_at": 0,
    "steps": ["DELETE_DEPLOYMENT"],
}


def test_transient_codes() -> None:
    retried = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "UNKNOWN", "INTERNAL")
    assert all(is_transient(c) for c in (*retried, "ABORTED"))
    refused = ("FAILED_PRECONDITION", "INVALID_ARGUMENT", "PERMISSION_DENIED", "UNIMPLEMENTED")
    assert not any(is_transient(c) for c in (*refused, "UNAUTHENTICATED", "UNKNOWN_CLUSTER"))


def test_state_gates_cancelled_missions_not_their_whole_request() -> None:
    """A cancelled request's started missions finish (their later clearances, and a
    Forced mission's source clean-up cleared after the request ended, must go out);
    only the missions it cancelled are gated."""
    state = DispatchState()
    flight = PlannedFlight.from_payload(PAYLOAD)
    assert state.cancelled(flight) is None
    state.apply("FailoverCancelled", {"request_id": "r", "cancelled_mission_ids": []})
    assert state.cancelled(flight) is None  # its mission was started: it finishes
    state.apply("FailoverCancelled", {"request_id": "r", "cancelled_mission_ids": ["m"]})
    assert "mission m" in (state.cancelled(flight) or "")
    other = DispatchState()
    other.apply("MissionCancelled", {"mission_id": "m"})
    assert "mission m" in (other.cancelled(flight) or "")


def test_a_flight_the_navigator_ended_is_never_dispatched_again() -> None:
    for ended_by in ("FlightSucceeded", "FlightFailed", "FlightCancelled"):
        state = DispatchState()
        state.apply("FlightPlanned", PAYLOAD)
        flight = state.planned["f"]
        assert state.cancelled(flight) is None
        state.apply(ended_by, {"flight_id": "f"})
        assert state.cancelled(flight) == "flight f has ended", ended_by
        # Its plan is dropped (the state holds live flights only); a CancelFlight still
        # finds the cluster.
        assert "f" not in state.planned and state.cluster_of("f") == "c"
        state.apply(ended_by, {"flight_id": "f"})  # read again: still known
        assert state.cluster_of("f") == "c"


def test_an_end_of_a_flight_never_planned_here_is_remembered_without_a_cluster() -> None:
    state = DispatchState()
    state.apply("FlightCancelled", {"flight_id": "g"})
    assert state.cluster_of("g") is None and "g" in state.ended
    assert state.cancelled(PlannedFlight.unknown("g")) == "flight g has ended"


def test_endpoints_follow_registrations() -> None:
    state = DispatchState()
    state.apply("ClusterRegistered", {"cluster_id": "c", "endpoint": "h:1"})
    assert state.endpoints["c"].identity == "spiffe://jetbridge/cluster/c"
    state.apply("ClusterDeregistered", {"cluster_id": "c"})
    assert state.endpoints == {}


def test_backoff_is_capped_full_jitter() -> None:
    backoff = Backoff(base=0.1, cap=1.0)
    assert [backoff.ceiling(a) for a in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert backoff.delay(3, lambda lo, hi: hi) == 0.8
    assert backoff.delay(3, lambda lo, hi: lo) == 0.0


def test_planned_flights_are_folded_and_clearances_keep_their_event_id() -> None:
    state = DispatchState()
    state.apply("FlightPlanned", PAYLOAD)
    assert state.planned["f"].cluster_id == "c"
    clearance = Clearance.from_event(
        "ev-1", {"flight_id": "f", "steps": ["DELETE_DEPLOYMENT"], "not_before": 5, "cleared_at": 4}
    )
    assert clearance == Clearance("ev-1", "f", ("DELETE_DEPLOYMENT",), 5, 4)
    assert PlannedFlight.unknown("x").flight_id == "x"


def test_the_state_reader_decodes_every_event_type_the_state_folds() -> None:
    """STATE_EVENTS lets the reader skip records undecoded: a type apply() folds but
    STATE_EVENTS forgets would silently never reach the state. Every version of every
    schema, with generated payloads: only the listed types change the state."""
    from fastavro.utils import generate_many  # noqa: PLC0415

    from jetbridge.common.events import SchemaRegistry  # noqa: PLC0415
    from jetbridge.dispatcher.domain.model import STATE_EVENTS  # noqa: PLC0415

    registry = SchemaRegistry()
    changed_by: set[str] = set()
    for event_type in registry.event_types():
        for schema in registry.versions(event_type):
            for datum in generate_many(schema.parsed, 5):
                state = DispatchState()
                before = repr(state)
                state.apply(event_type, datum)
                if repr(state) != before:
                    changed_by.add(event_type)
    assert changed_by <= STATE_EVENTS
    assert changed_by == STATE_EVENTS - {"ClusterDeregistered"}  # removes only: none to remove


def test_a_start_flight_names_the_cluster_it_is_addressed_to() -> None:
    """The agent refuses a flight addressed to another cluster; this is what it checks."""
    from jetbridge.dispatcher.adapters.grpc_client import start_request  # noqa: PLC0415

    flight = PlannedFlight.from_payload(PAYLOAD)
    request = start_request(flight)
    assert flight.cluster_id and request.cluster_id == flight.cluster_id
    assert request.flight_id == flight.flight_id
