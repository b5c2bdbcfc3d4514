"""A flight reaches its data plane with its first clearance, in one StartFlight.

The FlightPlanned before it is folded into the state and sends nothing; a later
clearance is a ClearSteps; an agent that lost the flight, or one too old to take a
clearance with a flight, still ends up with both.
"""

from __future__ import annotations

from typing import Any

from jetbridge.dispatcher.domain.model import Clearance, DispatchState, Endpoint, PlannedFlight
from jetbridge.dispatcher.service_layer.dispatch import Dispatcher
from jetbridge.dispatcher.service_layer.ports import DispatchError, Started

from .test_dispatch_ended import NoView, Published, decision
from .test_model import PAYLOAD

PLAN = PAYLOAD | {"kind": "DESTINATION", "steps": ["FENCE_DATABASE", "CREATE_NAMESPACE"]}


class Agent:
    """Records each call with the steps of the clearance it carried."""

    def __init__(self, *, takes_clearances: bool = True, knows: bool = True) -> None:
        self.takes_clearances = takes_clearances
        self.knows = knows  # the flight: False as after a lost Flightdeck
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    async def start_flight(
        self,
        endpoint: Endpoint,
        flight: PlannedFlight,
        timeout: float,  # noqa: ASYNC109
        clearance: Clearance | None = None,
    ) -> Started:
        self.calls.append(("start", clearance.steps if clearance else ()))
        created, self.knows = not self.knows, True
        return Started(created, clearance_taken=self.takes_clearances and clearance is not None)

    async def clear_steps(self, endpoint: Endpoint, clearance: Clearance, timeout: float) -> bool:  # noqa: ASYNC109
        self.calls.append(("clear", clearance.steps))
        if not self.knows:
            raise DispatchError("NOT_FOUND", "no flight f")
        return True

    async def cancel_flight(
        self,
        endpoint: Endpoint,
        flight_id: str,
        reason: str,
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        self.calls.append(("cancel", ()))


def world(agent: Agent) -> tuple[Dispatcher, Published]:
    state = DispatchState()
    state.apply("ClusterRegistered", {"cluster_id": "c", "endpoint": "h:1"})
    published = Published()
    return Dispatcher(agent, state, NoView(), published), published


async def plan_then_clear(
    dispatcher: Dispatcher, steps: list[str], attempts: list[int]
) -> dict[str, Any]:
    planned = decision("FlightPlanned", PLAN)
    dispatcher._state.apply("FlightPlanned", planned.payload)  # the state reader's fold
    await dispatcher.handle(planned)
    cleared = {"flight_id": "f", "steps": steps, "cleared_at": 1, "attempts": attempts}
    await dispatcher.handle(decision("FlightStepsCleared", cleared))
    return cleared


async def test_the_plan_sends_nothing_and_the_first_clearance_goes_with_the_flight() -> None:
    agent = Agent(knows=False)
    dispatcher, published = world(agent)
    await plan_then_clear(dispatcher, ["FENCE_DATABASE", "CREATE_NAMESPACE"], [1, 1])
    assert agent.calls == [("start", ("FENCE_DATABASE", "CREATE_NAMESPACE"))]
    (report,) = published.events
    assert report.envelope.event_type == "FlightDispatched"
    assert report.payload["steps"] == ["FENCE_DATABASE", "CREATE_NAMESPACE"]
    assert report.payload["step_attempts"] == [1, 1]
    assert report.payload["created"] is True


async def test_an_agent_older_than_the_field_gets_the_clearance_as_clear_steps() -> None:
    agent = Agent(takes_clearances=False, knows=False)
    dispatcher, published = world(agent)
    await plan_then_clear(dispatcher, ["FENCE_DATABASE"], [1])
    assert agent.calls == [("start", ("FENCE_DATABASE",)), ("clear", ("FENCE_DATABASE",))]
    assert [e.envelope.event_type for e in published.events] == ["FlightDispatched"]


async def test_a_later_clearance_is_clear_steps_and_a_lost_flight_is_started_with_it() -> None:
    agent = Agent(knows=True)
    dispatcher, published = world(agent)
    await plan_then_clear(dispatcher, ["CREATE_NAMESPACE"], [1])
    assert agent.calls == [("clear", ("CREATE_NAMESPACE",))]
    agent.knows = False
    cleared = {"flight_id": "f", "steps": ["CREATE_NAMESPACE"], "cleared_at": 2, "attempts": [2]}
    await dispatcher.handle(decision("FlightStepsCleared", cleared))
    assert agent.calls[1:] == [("clear", ("CREATE_NAMESPACE",)), ("start", ("CREATE_NAMESPACE",))]
    assert [e.payload["created"] for e in published.events] == [False, True]
