"""Ports of the Dispatcher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from jetbridge.common.events.envelope import EventRecord
from jetbridge.dispatcher.domain.model import Clearance, Endpoint, PlannedFlight


class DispatchError(Exception):
    """A StartFlight that failed with gRPC status ``code`` (a status name)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Started:
    """A StartFlight's answer: the flight was new; the clearance sent with it is applied
    (False from an agent older than the field: the clearance still needs a ClearSteps)."""

    created: bool
    clearance_taken: bool = False


class DataPlaneClient(Protocol):
    async def start_flight(
        self,
        endpoint: Endpoint,
        flight: PlannedFlight,
        timeout: float,  # noqa: ASYNC109
        clearance: Clearance | None = None,
    ) -> Started:
        """StartFlight with a deadline, carrying the flight's first ``clearance`` if
        given. Raises DispatchError."""
        ...

    async def clear_steps(self, endpoint: Endpoint, clearance: Clearance, timeout: float) -> bool:  # noqa: ASYNC109
        """ClearSteps; True when applied (False: a repeat or a finished flight).

        Raises DispatchError (NOT_FOUND: the agent does not know the flight)."""
        ...

    async def cancel_flight(
        self,
        endpoint: Endpoint,
        flight_id: str,
        reason: str,
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        """CancelFlight; raises DispatchError."""
        ...


class StateView(Protocol):
    """The folded state plus a read barrier over the events it is folded from."""

    async def sync(self) -> None: ...


class Outcomes(Protocol):
    async def publish(self, event: EventRecord) -> None: ...
