"""Explicit transition tables shared by every aggregate.

A table lists, for each state, the states it may move to. Terminal states are those
with no way out, derived from the table so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from jetbridge.navigator.domain.errors import IllegalTransition

S = TypeVar("S", bound=StrEnum)


class TransitionTable(Generic[S]):
    """Allowed ``from -> to`` edges of one state machine."""

    def __init__(self, aggregate: str, edges: Mapping[S, frozenset[S]]) -> None:
        self.aggregate = aggregate
        self.edges: dict[S, frozenset[S]] = dict(edges)
        self.terminal: frozenset[S] = frozenset(s for s, out in self.edges.items() if not out)

    def allows(self, from_state: S, to_state: S) -> bool:
        return to_state in self.edges.get(from_state, frozenset())

    def check(self, aggregate_id: str, from_state: S, to_state: S, event: str) -> None:
        """Raise :class:`IllegalTransition` unless ``from_state -> to_state`` is an edge."""
        if not self.allows(from_state, to_state):
            raise IllegalTransition(
                self.aggregate, aggregate_id, from_state.value, to_state.value, event
            )

    def is_terminal(self, state: S) -> bool:
        return state in self.terminal

    def pairs(self) -> frozenset[tuple[S, S]]:
        """Every allowed edge, for tests that check reached transitions."""
        return frozenset((a, b) for a, out in self.edges.items() for b in out)
