"""Decisions about a flight the Navigator has ended, with its plan already dropped.

The state keeps live flights only; an ended flight's clearance read again is skipped
(not reported as an unknown flight) and its cancellation still reaches its cluster.
"""

from __future__ import annotations

from typing import Any

from jetbridge.common.events.envelope import EventRecord, new_event
from jetbridge.dispatcher.domain.model import Clearance, DispatchState, Endpoint, PlannedFlight
from jetbridge.dispatcher.service_layer.dispatch import Dispatcher
from jetbridge.dispatcher.service_layer.ports import DispatchError, Started

from .test_model import PAYLOAD


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    async def start_flight(
        self,
        endpoint: Endpoint,
        flight: PlannedFlight,
        timeout: float,  # noqa: ASYNC109
        clearance: Clearance | None = None,
    ) -> Started:
        self.calls.append(("start", endpoint.address, flight.flight_id))
        return Started(created=True, clearance_taken=clearance is not None)

    async def clear_steps(self, endpoint: Endpoint, clearance: Clearance, timeout: float) -> bool:  # noqa: ASYNC109
        self.calls.append(("clear", endpoint.address, clearance.flight_id))
        return True

    async def cancel_flight(
        self,
        endpoint: Endpoint,
        flight_id: str,
        reason: str,
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        self.calls.append(("cancel", endpoint.address, flight_id))


class NoView:
    async def sync(self) -> None:
        return None


class Published:
    def __init__(self) -> None:
        self.events: list[EventRecord] = []

    async def publish(self, event: EventRecord) -> None:
        self.events.append(event)


def decision(event_type: str, payload: dict[str, Any]) -> EventRecord:
    return new_event(
        event_type,
        payload,
        aggregate_type="Flight",
        aggregate_id=str(payload["flight_id"]),
        producer="navigator",
        schema_version=1,
    )


def ended_world() -> tuple[Dispatcher, RecordingClient, Published, DispatchState]:
    state = DispatchState()
    state.apply("ClusterRegistered", {"cluster_id": "c", "endpoint": "h:1"})
    state.apply("FlightPlanned", PAYLOAD)
    state.apply("FlightFailed", {"flight_id": "f"})
    client, published = RecordingClient(), Published()
    return Dispatcher(client, state, NoView(), published), client, published, state


async def test_a_clearance_of_an_ended_flight_is_skipped_not_reported_unknown() -> None:
    dispatcher, client, published, state = ended_world()
    assert "f" not in state.planned
    clearance = {"flight_id": "f", "steps": ["DELETE_DEPLOYMENT"], "cleared_at": 1}
    await dispatcher.handle(decision("FlightStepsCleared", clearance))
    assert (client.calls, published.events, list(dispatcher.skipped)) == ([], [], ["f"])


async def test_the_cancellation_of_an_ended_flight_still_reaches_its_cluster() -> None:
    dispatcher, client, _, _ = ended_world()
    await dispatcher.handle(decision("FlightFailed", {"flight_id": "f", "reason": "boom"}))
    assert client.calls == [("cancel", "h:1", "f")]
    assert list(dispatcher.cancelled) == ["f"]


class RefusingClient(RecordingClient):
    """An agent (an older one, or the unary path) whose status quotes a driver."""

    async def start_flight(
        self,
        endpoint: Endpoint,
        flight: PlannedFlight,
        timeout: float,  # noqa: ASYNC109
        clearance: Clearance | None = None,
    ) -> Started:
        raise DispatchError(
            "FAILED_PRECONDITION",
            "Unexpected <class 'RuntimeError'>: postgresql://pilot:hunter2@db/flightdeck down",
        )


async def test_a_dispatch_failure_quoting_a_credential_is_published_masked() -> None:
    state = DispatchState()
    state.apply("ClusterRegistered", {"cluster_id": "c", "endpoint": "h:1"})
    published = Published()
    state.apply("FlightPlanned", PAYLOAD)
    dispatcher = Dispatcher(RefusingClient(), state, NoView(), published)
    clearance = {"flight_id": "f", "steps": ["DELETE_DEPLOYMENT"], "cleared_at": 1}
    await dispatcher.handle(decision("FlightStepsCleared", clearance))
    (failed,) = published.events
    assert failed.envelope.event_type == "FlightDispatchFailed"
    assert "hunter2" not in failed.payload["error"]
    assert "postgresql://pilot:***@db/flightdeck down" in failed.payload["error"]


class LateView:
    """A state view that cannot catch up with the log (a slow broker, a long log)."""

    async def sync(self) -> None:
        raise TimeoutError


async def test_a_state_that_cannot_catch_up_reports_the_clearance_failed_for_a_retry() -> None:
    """Before, the timeout escaped: the consumer dead-lettered the clearance and the
    Navigator heard nothing until its claim timeout (120 s, and an attempt spent)."""
    state = DispatchState()
    state.apply("ClusterRegistered", {"cluster_id": "c", "endpoint": "h:1"})
    state.apply("FlightPlanned", PAYLOAD)
    client, published = RecordingClient(), Published()
    dispatcher = Dispatcher(client, state, LateView(), published)
    clearance = {"flight_id": "f", "steps": ["DELETE_DEPLOYMENT"], "cleared_at": 1, "attempts": [2]}
    await dispatcher.handle(decision("FlightStepsCleared", clearance))
    assert client.calls == []  # nothing delivered on a state that may miss a cancel
    (failed,) = published.events
    assert failed.envelope.event_type == "FlightDispatchFailed"
    assert (failed.payload["error_code"], failed.payload["transient"]) == ("STATE_BEHIND", True)
    assert (failed.payload["steps"], failed.payload["step_attempts"]) == (
        ["DELETE_DEPLOYMENT"],
        [2],
    )
    # A cancellation still goes out with the state as read so far: cancelling is idempotent.
    await dispatcher.handle(decision("FlightCancelled", {"flight_id": "f", "reason": "stop"}))
    assert client.calls == [("cancel", "h:1", "f")]
