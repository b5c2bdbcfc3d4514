"""Publishes Flightdeck's outbox to Kafka: mark after ack, so at-least-once.

Rows leave in outbox order, and per flight in commit order (one writer per flight at a
time). A relay killed between the broker's ack and the mark re-publishes that batch;
several Pilots' relays may publish the same row: consumers drop repeats by event id,
and the first copy of every event still arrives in order (each relay sends a batch in
outbox order, and a row is only skipped once acknowledged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Protocol

from jetbridge.flightdeck import Flightdeck

log = logging.getLogger(__name__)
Headers = list[tuple[str, bytes]]


class RawSender(Protocol):
    async def send_raw_many(
        self, records: Iterable[tuple[str, bytes | None, bytes, Headers]]
    ) -> None: ...


class FlightdeckRelay:
    def __init__(
        self,
        deck: Flightdeck,
        sender: RawSender,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 0.2,
        topic_prefix: str = "",
        topic: str | None = None,
    ) -> None:
        self._deck = deck
        self._sender = sender
        self._batch = batch_size
        self._poll = poll_interval_s
        self._prefix = topic_prefix
        self._topic = topic  # every row to this one topic (sandboxes, tests)
        self._stopping = asyncio.Event()
        self.published = 0

    async def relay_once(self) -> int:
        rows = await self._deck.outbox_pending(self._batch)
        if not rows:
            return 0
        await self._sender.send_raw_many(
            (self._topic or self._prefix + r.topic, r.key, r.payload, list(r.headers)) for r in rows
        )
        await self._deck.mark_published([r.event_id for r in rows])
        self.published += len(rows)
        return len(rows)

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self.relay_once()
            except Exception:  # broker or database blip: nothing was marked, retry
                log.warning("outbox relay failed; retrying", exc_info=True)
                sent = 0
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._poll)

    async def stop(self) -> None:
        self._stopping.set()
