"""What Navigator last heard from each cluster's data plane, across all its flights.

A step the data plane has accepted (``FlightDispatched``) waits in that cluster's
Flightdeck queue until a Pilot slot frees: with a thousand flights and sixteen slots the
wait is minutes, and it grows with the fleet, so no fixed claim timeout fits it. What a
claim timeout must catch is a data plane that stopped working through its queue (a
wedged or dead Pilot), not a long queue. So once a step is accepted its claim clock
runs from the data plane's last sign of work on *any* flight, and not before every step
it has started could still be running by its own deadline (a Pilot whose slots all hold
long drains is busy, not dead). Both only move forward, so a deadline computed earlier
is never later than the current one: a due-time index may fire early, never late.
"""

from __future__ import annotations

from dataclasses import dataclass

from jetbridge.navigator.domain import events as ev
from jetbridge.navigator.domain.flight import Flight
from jetbridge.navigator.domain.policy import MS
from jetbridge.navigator.domain.vocabulary import StepStatus


def reported_at(outcome: ev.FlightOutcome) -> int:
    """The data plane's own time on an outcome (ms)."""
    match outcome:
        case ev.FlightDispatched():
            return outcome.dispatched_at
        case ev.FlightDispatchFailed() | ev.FlightStepFailed():
            return outcome.failed_at
        case ev.FlightStepStarted():
            return outcome.started_at
        case ev.FlightStepSucceeded():
            return outcome.succeeded_at
        case ev.DrainCompleted():
            return outcome.drained_at
        case ev.DrainTimedOut():
            return outcome.timed_out_at
        case ev.FencingCompleted():
            return outcome.fenced_at
    raise TypeError(f"{type(outcome).__name__} carries no report time")


@dataclass
class DataPlaneActivity:
    heard_at: int = 0  # the latest report time of any outcome from this cluster
    busy_until: int = 0  # the latest deadline of any step it has started

    def note(self, outcome: ev.FlightOutcome, flight: Flight) -> None:
        """Fold an outcome already applied to ``flight`` (stale ones count: the data
        plane that sent them is alive)."""
        self.heard_at = max(self.heard_at, reported_at(outcome))
        cur = flight.current()
        if cur is not None and cur.status is StepStatus.RUNNING and cur.started_at is not None:
            self.busy_until = max(self.busy_until, cur.started_at + cur.deadline_seconds * MS)

    def quiet_since(self) -> int:
        """From when on silence means the queue stopped moving."""
        return max(self.heard_at, self.busy_until)
