"""What a Pilot does next with a claimed flight, decided from the stored flight alone.

The stored flight (step index, clearance, cancel flag) is the whole truth: a Pilot
that reclaims a flight after a crash decides exactly as the one that died would have,
and re-runs the step that had not been recorded (steps are idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jetbridge.flightdeck.models import Flight
from jetbridge.pilot.domain.steps import StepName


@dataclass(frozen=True)
class RunStep:
    index: int
    name: str
    attempt: int
    deadline_seconds: int
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return self.name in StepName.__members__


@dataclass(frozen=True)
class Release:
    """No cleared step is due: hand the flight back until Navigator clears more."""

    reason: str


@dataclass(frozen=True)
class Complete:
    """Every step of the plan ran."""


@dataclass(frozen=True)
class Cancel:
    """Cancellation was requested: stop here, at a step boundary."""


Action = RunStep | Release | Complete | Cancel


def step_entry(flight: Flight, index: int) -> tuple[str, int, Mapping[str, Any]]:
    """(name, deadline seconds, params) of a plan entry; tolerant of bare names."""
    entry = flight.plan[index]
    if isinstance(entry, Mapping):
        params = entry.get("params")
        return (
            str(entry.get("name", "")),
            int(entry.get("deadline_seconds") or 0),
            params if isinstance(params, Mapping) else {},
        )
    return str(entry), 0, {}


def next_action(flight: Flight, now: datetime, granted_at: datetime | None = None) -> Action:
    """``now`` is this Pilot's clock; ``granted_at`` the database's when it granted the
    claim. The claim itself only takes a flight whose ``not_before`` has passed on the
    database's clock, so a step is due by the later of the two: a Pilot whose clock
    runs behind the database's would otherwise release each flight it was just given,
    to be claimed again at once, until its clock caught up."""
    if flight.cancel_requested:
        return Cancel()
    index = flight.current_step
    if index >= len(flight.plan):
        return Complete()
    if not flight.is_cleared(index):
        return Release(f"step {index} is not cleared")
    if granted_at is not None and granted_at > now:
        now = granted_at
    if flight.not_before is not None and flight.not_before > now:
        return Release(f"step {index} is cleared for {flight.not_before.isoformat()}")
    name, deadline, params = step_entry(flight, index)
    return RunStep(index, name, flight.attempt_of(index), deadline, params)
