"""Cluster health as a pure state machine: HEALTHY / DEGRADED / UNREACHABLE (UNKNOWN first).

Inputs are observations with the time passed in (``observe_heartbeat``,
``observe_time``); outputs are the new state plus the transitions, as values. No clock,
no I/O: the same history always gives the same answer, which is what the property
tests check.

Rules (thresholds configurable, defaults from the spec):

- silence is the time since the last heartbeat (or since watching began);
- silence >= ``degraded_after`` (3 s) -> DEGRADED; a heartbeat with a failing check
  -> DEGRADED at once;
- silence >= ``unreachable_after`` (10 s) -> UNREACHABLE, always through DEGRADED
  (a single late heartbeat can never jump HEALTHY -> UNREACHABLE);
- back to HEALTHY only after ``recover_heartbeats`` (3) consecutive good heartbeats,
  each no later than ``degraded_after`` after the previous one (hysteresis: one
  heartbeat after a long silence does not make a cluster healthy).

Time is applied before every heartbeat, so the transitions do not depend on how
often the caller ticks: ticking only decides how soon a crossing is noticed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum


class Health(StrEnum):
    UNKNOWN = "UNKNOWN"
    HEALTHY = "HEALTHY"
    DEGRADED = "DEGRADED"
    UNREACHABLE = "UNREACHABLE"


@dataclass(frozen=True, slots=True)
class Thresholds:
    heartbeat_interval: float = 1.0
    degraded_after: float = 3.0
    unreachable_after: float = 10.0
    recover_heartbeats: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.heartbeat_interval <= self.degraded_after < self.unreachable_after:
            raise ValueError(
                "need 0 < heartbeat_interval <= degraded_after < unreachable_after, got "
                f"{self.heartbeat_interval}, {self.degraded_after}, {self.unreachable_after}"
            )
        if self.recover_heartbeats < 1:
            raise ValueError("recover_heartbeats must be >= 1")


@dataclass(frozen=True, slots=True)
class HealthState:
    health: Health
    watch_since: float
    last_heartbeat_at: float | None = None
    good_streak: int = 0

    def silence(self, now: float) -> float:
        """Seconds without a heartbeat (since watching began if none came yet)."""
        since = self.watch_since if self.last_heartbeat_at is None else self.last_heartbeat_at
        return max(0.0, now - since)


@dataclass(frozen=True, slots=True)
class Transition:
    previous: Health
    current: Health
    at: float
    reason: str


Outcome = tuple[HealthState, tuple[Transition, ...]]


def initial(now: float, health: Health = Health.UNKNOWN) -> HealthState:
    """Start watching a cluster; ``health`` is the last state known (e.g. from the log)."""
    return HealthState(health=health, watch_since=now)


def observe_time(state: HealthState, now: float, thresholds: Thresholds) -> Outcome:
    """Apply the passing of time: silence thresholds only."""
    silence = state.silence(now)
    if silence < thresholds.degraded_after:
        return state, ()
    transitions: list[Transition] = []
    health = state.health
    if health in (Health.UNKNOWN, Health.HEALTHY):
        transitions.append(
            Transition(health, Health.DEGRADED, now, f"no heartbeat for {silence:.3f}s")
        )
        health = Health.DEGRADED
    if silence >= thresholds.unreachable_after and health is not Health.UNREACHABLE:
        transitions.append(
            Transition(health, Health.UNREACHABLE, now, f"no heartbeat for {silence:.3f}s")
        )
        health = Health.UNREACHABLE
    if not transitions and state.good_streak == 0:
        return state, ()
    return replace(state, health=health, good_streak=0), tuple(transitions)


def observe_heartbeat(
    state: HealthState,
    now: float,
    thresholds: Thresholds,
    failing_checks: Sequence[str] = (),
) -> Outcome:
    """A heartbeat arrived at ``now``; ``failing_checks`` names the checks that failed."""
    state, before = observe_time(state, now, thresholds)
    late = state.last_heartbeat_at is None or (
        now - state.last_heartbeat_at > thresholds.degraded_after
    )
    streak = 0 if late else state.good_streak
    if failing_checks:
        state = replace(state, last_heartbeat_at=now, good_streak=0)
        if state.health is Health.DEGRADED:
            return state, before
        reason = "check failed: " + ", ".join(sorted(failing_checks))
        return replace(state, health=Health.DEGRADED), (
            *before,
            Transition(state.health, Health.DEGRADED, now, reason),
        )
    streak += 1
    state = replace(state, last_heartbeat_at=now, good_streak=streak)
    if state.health is not Health.HEALTHY and streak >= thresholds.recover_heartbeats:
        reason = f"{streak} consecutive good heartbeats"
        return replace(state, health=Health.HEALTHY), (
            *before,
            Transition(state.health, Health.HEALTHY, now, reason),
        )
    return state, before
