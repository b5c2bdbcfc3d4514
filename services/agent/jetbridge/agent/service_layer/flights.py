"""StartFlight / CancelFlight / GetFlight on top of Flightdeck."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from jetbridge.agent.domain.flights import StartFlight, conflict, new_flight
from jetbridge.flightdeck import Flight, Flightdeck

log = logging.getLogger(__name__)


class FlightConflict(Exception):
    """The flight id exists with a different mission, side or fencing epoch."""


@dataclass(frozen=True, slots=True)
class Started:
    flight: Flight
    created: bool


class FlightService:
    def __init__(self, flightdeck: Flightdeck) -> None:
        self._flightdeck = flightdeck

    async def start(self, command: StartFlight) -> Started:
        """Enqueue the flight; a repeat of the same flight is a no-op (idempotent)."""
        created = await self._flightdeck.enqueue(new_flight(command))
        flight = await self._flightdeck.get(command.flight_id)
        if flight is None:  # pragma: no cover - enqueue just wrote or found it
            raise RuntimeError(f"flight {command.flight_id} vanished after enqueue")
        if not created and (why := conflict(flight, command)):
            raise FlightConflict(f"flight {command.flight_id} exists with {why}")
        log.info(
            "flight %s %s",
            command.flight_id,
            "queued" if created else "already known",
            extra={"flight_id": command.flight_id, "mission_id": command.mission_id},
        )
        return Started(flight=flight, created=created)

    async def cancel(self, flight_id: str) -> Flight | None:
        return await self._flightdeck.request_cancel(flight_id)

    async def get(self, flight_id: str) -> Flight | None:
        return await self._flightdeck.get(flight_id)
