"""Dropping repeated events by id: the other half of at-least-once delivery.

Producers, the outbox relay and rebalances may all deliver an event twice. Handlers
are idempotent anyway; dedupe saves the work and keeps side effects single. A
consumer that writes SQL should use a store in its own database (the id is inserted
in the same transaction as the effect); stateless consumers use the bounded memory.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol


class DedupeStore(Protocol):
    async def seen(self, event_id: str) -> bool: ...

    async def remember(self, event_id: str) -> None: ...


class InMemoryDedupe:
    """The last ``capacity`` event ids, least recently seen forgotten first."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    async def seen(self, event_id: str) -> bool:
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return True
        return False

    async def remember(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    def recent(self, n: int) -> list[str]:
        """The ``n`` ids seen last, oldest first (what a snapshot keeps)."""
        out: list[str] = []
        for event_id in reversed(self._ids):
            if len(out) >= n:
                break
            out.append(event_id)
        return out[::-1]

    def remember_all(self, event_ids: list[str]) -> None:
        """Remember ``event_ids`` in order, as many ``remember`` calls would."""
        for event_id in event_ids:
            self._ids[event_id] = None
            self._ids.move_to_end(event_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
