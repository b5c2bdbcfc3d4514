"""StartFlight / ClearSteps / CancelFlight / GetFlight on top of Flightdeck."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from jetbridge.agent.domain.flights import (
    ClearSteps,
    StartFlight,
    check_id,
    clearance_range,
    conflict,
    first_clearance_range,
    new_flight,
)
from jetbridge.common.coalesce import Coalescer
from jetbridge.flightdeck import (
    Admitted,
    Cleared,
    Flight,
    Flightdeck,
    NewFlight,
    StepClearance,
)

log = logging.getLogger(__name__)


class FlightConflict(Exception):
    """The flight id exists with a different mission, side or fencing epoch."""


@dataclass(frozen=True, slots=True)
class Started:
    flight: Flight
    created: bool
    clearance_taken: bool = False  # the clearance sent with the flight is applied


class FlightService:
    def __init__(
        self,
        flightdeck: Flightdeck,
        on_batch: Callable[[str, int], None] = lambda _operation, _items: None,
    ) -> None:
        self._flightdeck = flightdeck
        # The flights and reads of one loop turn go to Flightdeck together.
        self.admissions: Coalescer[NewFlight, Admitted] = Coalescer(
            flightdeck.admit, functools.partial(on_batch, "admit")
        )
        self.reads: Coalescer[str, Flight | None] = Coalescer(
            flightdeck.get_many, functools.partial(on_batch, "get_many")
        )
        self.clearances: Coalescer[StepClearance, Cleared | None] = Coalescer(
            flightdeck.clear_many, functools.partial(on_batch, "clear_many")
        )

    async def start(self, command: StartFlight) -> Started:
        """Enqueue the flight; a repeat of the same flight is a no-op (idempotent).
        Starts arriving together are written together (``Coalescer``).

        A first clearance sent with the flight is checked against its plan before
        anything is written, then applied as ``clear`` would (idempotent by its id): a
        retried call, or a crash between the two writes, applies it once.
        """
        row = new_flight(command)
        steps = first_clearance_range(command)
        admitted = await self.admissions(row)
        flight, created = admitted.flight, admitted.created
        if not created and flight.never_started:
            raise FlightConflict(
                f"flight {command.flight_id} was cancelled before it reached this data plane"
            )
        if not created and (why := conflict(flight, command)):
            raise FlightConflict(f"flight {command.flight_id} exists with {why}")
        log.info(
            "flight %s %s",
            command.flight_id,
            "queued" if created else "already known",
            extra={"flight_id": command.flight_id, "mission_id": command.mission_id},
        )
        if command.clearance is None or steps is None:
            return Started(flight=flight, created=created)
        cleared = await self._apply(command.clearance, *steps)
        if cleared is None:  # gone between the two writes: the Dispatcher sends ClearSteps
            return Started(flight=flight, created=created)
        return Started(flight=cleared.flight, created=created, clearance_taken=True)

    async def clear(self, command: ClearSteps) -> Cleared | None:
        """Record a clearance once (idempotent by its id); None for an unknown flight.

        Raises ``InvalidClearance`` when the steps do not fit the plan.
        """
        flight = await self.reads(command.flight_id)
        if flight is None:
            return None
        if flight.never_started:  # cancelled before it arrived: ignored, as any cancelled
            return Cleared(flight=flight, applied=False)
        return await self._apply(command, *clearance_range(flight, command))

    async def _apply(self, command: ClearSteps, first: int, last: int) -> Cleared | None:
        """Steps ``first..last`` of a checked clearance (None: the flight is unknown)."""
        not_before = (
            datetime.fromtimestamp(command.not_before_ms / 1000, UTC)
            if command.not_before_ms > 0
            else None
        )
        clearance = StepClearance(
            command.flight_id,
            command.clearance_id,
            first,
            last,
            not_before,
            tuple(command.attempts),
        )
        # the range was checked against the plan: no item fails the batch
        cleared = await self.clearances(clearance)
        if cleared is not None:
            log.info(
                "flight %s steps %s %s",
                command.flight_id,
                list(command.steps),
                "cleared" if cleared.applied else "already cleared or finished",
                extra={"flight_id": command.flight_id, "clearance_id": command.clearance_id},
            )
        return cleared

    async def cancel(self, flight_id: str) -> Flight:
        """Cancel the flight, or keep an unknown one from ever starting (a tombstone:
        a StartFlight sent before the cancellation may still be on its way)."""
        check_id("flight_id", flight_id)
        return await self._flightdeck.request_cancel(flight_id)

    async def get(self, flight_id: str) -> Flight | None:
        return await self._flightdeck.get(flight_id)
