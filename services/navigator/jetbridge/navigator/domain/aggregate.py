"""What every event-sourced aggregate shares: keyed events, a version, a fold.

Aggregates are mutable while they fold (``apply`` checks first, then mutates, so an
illegal event leaves the state untouched). Decisions never mutate the aggregates they
are given: they return new events, which the caller applies.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import ClassVar, Self

from jetbridge.navigator.domain.errors import IllegalEvent, UnknownEvent, WrongAggregate
from jetbridge.navigator.domain.events import DomainEvent


class Aggregate:
    """Base: subclasses implement ``_when`` and declare their creation event type."""

    NAME: ClassVar[str] = ""
    CREATED_BY: ClassVar[type[DomainEvent]]

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0

    @classmethod
    def fold(cls, aggregate_id: str, events: Iterable[DomainEvent]) -> Self:
        """Rebuild from the log: the only way state comes into existence."""
        aggregate = cls(aggregate_id)
        for event in events:
            aggregate.apply(event)
        return aggregate

    @property
    def exists(self) -> bool:
        return self.version > 0

    def apply(self, event: DomainEvent) -> None:
        """Check the event against the state machine, then fold it in."""
        if event.AGGREGATE != self.NAME:
            raise UnknownEvent(self.NAME, event.event_type())
        if event.aggregate_id != self.id:
            raise WrongAggregate(self.NAME, self.id, event.event_type(), event.aggregate_id)
        creating = isinstance(event, self.CREATED_BY)
        if creating == self.exists and not (creating and self._recreated_by(event)):
            state = "(absent)" if not self.exists else self.state_name()
            raise IllegalEvent(self.NAME, self.id, state, event.event_type())
        self._when(event)
        self.version += 1

    def _recreated_by(self, event: DomainEvent) -> bool:
        """Whether this existing aggregate may take its creation event again (an update
        in the shape of a creation); none may unless it says so."""
        return False

    def clone(self) -> Self:
        """An independent copy for trial decisions (the sagas clone on every ask).

        Field values are immutable (str, int, enums, tuples, frozen policies) except
        containers, which are deep-copied: a shallow copy plus those is a deep copy at a
        fraction of ``copy.deepcopy``'s cost.
        """
        twin = object.__new__(type(self))
        fields = twin.__dict__
        for name, value in vars(self).items():
            mutable = isinstance(value, (list, dict, set))
            fields[name] = self._copy_container(value) if mutable else value
        return twin

    def _copy_container(self, value: object) -> object:
        return copy.deepcopy(value)

    def state_name(self) -> str:
        raise NotImplementedError

    def _when(self, event: DomainEvent) -> None:
        raise NotImplementedError

    def _illegal(self, event: DomainEvent) -> IllegalEvent:
        return IllegalEvent(self.NAME, self.id, self.state_name(), event.event_type())

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r}, {self.state_name()}, v{self.version})"
