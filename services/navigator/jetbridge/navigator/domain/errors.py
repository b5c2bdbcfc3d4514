"""Typed domain errors: a caller can tell a refused command from a corrupt log."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class IllegalTransition(DomainError):
    """An event asked an aggregate to move along an edge its table does not have."""

    def __init__(
        self, aggregate: str, aggregate_id: str, from_state: str, to_state: str, event: str
    ) -> None:
        self.aggregate = aggregate
        self.aggregate_id = aggregate_id
        self.from_state = from_state
        self.to_state = to_state
        self.event = event
        super().__init__(
            f"{aggregate} {aggregate_id!r}: illegal transition {from_state} -> {to_state} "
            f"(event {event})"
        )


class WrongAggregate(DomainError):
    """An event keyed by another aggregate id was applied here (a routing bug)."""

    def __init__(self, aggregate: str, expected_id: str, event: str, got_id: str) -> None:
        self.aggregate = aggregate
        self.expected_id = expected_id
        self.got_id = got_id
        super().__init__(f"{aggregate} {expected_id!r} cannot apply {event} keyed by {got_id!r}")


class UnknownEvent(DomainError):
    """The aggregate does not handle this event type."""

    def __init__(self, aggregate: str, event: str) -> None:
        super().__init__(f"{aggregate} has no handler for {event}")


class UnknownStep(DomainError):
    """An outcome names a step the flight's plan does not contain."""

    def __init__(self, flight_id: str, step: str) -> None:
        super().__init__(f"flight {flight_id!r} has no step {step}")


class CommandRefused(DomainError):
    """A command cannot be decided at all (as opposed to a recorded rejection event)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class UnknownAggregate(DomainError):
    """A decision needs an aggregate the state does not hold."""

    def __init__(self, aggregate: str, aggregate_id: str) -> None:
        super().__init__(f"no {aggregate} {aggregate_id!r}")


class IllegalEvent(IllegalTransition):
    """The event is not allowed in the aggregate's current state (no edge to check)."""

    def __init__(self, aggregate: str, aggregate_id: str, state: str, event: str) -> None:
        super().__init__(aggregate, aggregate_id, state, state, event)
        self.args = (f"{aggregate} {aggregate_id!r}: {event} is not allowed in state {state}",)
