"""Publishes Flightdeck's outbox to Kafka: mark after ack, so at-least-once.

Rows leave in outbox order, and per flight in commit order (one writer per flight at a
time). A relay killed between the broker's ack and the mark re-publishes that batch;
several Pilots' relays may publish the same row: consumers drop repeats by event id,
and the first copy of every event still arrives in order (each relay sends a batch in
outbox order, and a row is only skipped once acknowledged).

Reports go to this cluster's own topic (``jetbridge.flight.events.<cluster>``, which
only this data plane may write): the topic tells the Navigator who sent them. Rows keep
the schema's topic, so rows written before an upgrade are routed the same way.

The relay also keeps Flightdeck's housekeeping: published outbox rows and finished
flights are deleted once past their retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Protocol

from jetbridge.common.topics import FLIGHT_EVENTS, reports_topic
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
        cluster_id: str | None = None,
        topic: str | None = None,
        keep_published_s: float = 86_400.0,
        keep_finished_s: float = 7 * 86_400.0,
        prune_every_s: float = 60.0,
        prune_batch: int = 10_000,
    ) -> None:
        self._deck = deck
        self._sender = sender
        self._batch = batch_size
        self._poll = poll_interval_s
        self._prefix = topic_prefix
        self._topic = topic  # every row to this one topic (sandboxes, tests)
        self._cluster_id = cluster_id  # None: rows to the schema's topic (tests)
        self._stopping = asyncio.Event()
        self.published = 0
        # Published rows are deleted once older than ``keep_published_s``, at most
        # ``prune_batch`` every ``prune_every_s`` (every Pilot's relay may: deleting is
        # idempotent). Without it the table grew by every report ever written. Finished
        # flights likewise, after ``keep_finished_s``: dp_flights had kept every flight.
        self._keep_published_s = keep_published_s
        self._keep_finished_s = keep_finished_s
        self._prune_every_s = prune_every_s
        self._prune_batch = prune_batch
        self._next_prune = 0.0
        self.pruned = 0
        self.pruned_flights = 0

    async def relay_once(self) -> int:
        rows = await self._deck.outbox_pending(self._batch)
        if not rows:
            return 0
        await self._sender.send_raw_many(
            (self._topic or self._prefix + self._route(r.topic), r.key, r.payload, list(r.headers))
            for r in rows
        )
        await self._deck.mark_published([r.event_id for r in rows])
        self.published += len(rows)
        return len(rows)

    def _route(self, topic: str) -> str:
        if self._cluster_id is not None and topic == FLIGHT_EVENTS:
            return reports_topic(self._cluster_id)
        return topic

    async def prune_when_due(self) -> None:
        now = asyncio.get_running_loop().time()
        if now >= self._next_prune:
            self._next_prune = now + self._prune_every_s
            self.pruned += await self._deck.prune_published(
                self._keep_published_s, self._prune_batch
            )
            self.pruned_flights += await self._deck.prune_finished(
                self._keep_finished_s, self._prune_batch
            )

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.prune_when_due()
                sent = await self.relay_once()
            except Exception:  # broker or database blip: nothing was marked, retry
                log.warning("outbox relay failed; retrying", exc_info=True)
                sent = 0
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._poll)

    async def stop(self) -> None:
        self._stopping.set()
