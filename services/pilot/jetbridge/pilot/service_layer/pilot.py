"""The Pilot's claim loop: as many flights in flight as it has slots, each in its own task.

It claims only as many flights as it has free slots (a bounded number of concurrent
flights per process), sleeps on Flightdeck's wake-up (NOTIFY on PostgreSQL, polling on
MySQL) or until a slot frees, and reclaims expired leases of dead Pilots through the
same claim. Several Pilots on one Flightdeck split the work: SKIP LOCKED claims, leases
and fencing tokens guarantee one writer per flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from jetbridge.common.cancellation import stop_tasks
from jetbridge.flightdeck import Claim, Flightdeck
from jetbridge.pilot.service_layer.runner import FlightRunner

log = logging.getLogger(__name__)


class Pilot:
    def __init__(
        self,
        deck: Flightdeck,
        runner: FlightRunner,
        *,
        owner: str,
        max_flights: int = 16,
        lease_seconds: float = 30.0,
        idle_wait_s: float = 1.0,
    ) -> None:
        if max_flights < 1:
            raise ValueError("max_flights must be >= 1")
        self.owner = owner
        self._deck = deck
        self._runner = runner
        self._max = max_flights
        self._lease = lease_seconds
        self._idle_wait = idle_wait_s
        self._running: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        self._stopping = asyncio.Event()
        self.claimed = 0
        self.peak_parallel = 0

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                free = self._max - len(self._running)
                claims: list[Claim] = []
                if free > 0:
                    try:
                        claims = await self._deck.claim(self.owner, free, self._lease)
                    except Exception:
                        log.warning("claim failed; retrying", exc_info=True)
                        await self._pause(self._idle_wait)
                        continue
                for claim in claims:
                    self._spawn(claim)
                if not claims:
                    await self._wait(free > 0)
        finally:
            await self._drain()

    def _spawn(self, claim: Claim) -> None:
        self.claimed += 1
        task = asyncio.create_task(self._fly(claim), name=f"flight:{claim.flight_id}")
        self._running.add(task)
        self.peak_parallel = max(self.peak_parallel, len(self._running))
        task.add_done_callback(self._done)

    async def _fly(self, claim: Claim) -> None:
        try:
            await self._runner.run(claim)
        except Exception:  # the lease will expire and another claim retries the flight
            log.exception("flight %s stopped on an error", claim.flight_id)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._slot_freed.set()

    async def _wait(self, have_slots: bool) -> None:
        """Until work may exist (a free slot and a wake-up) or a slot frees."""
        self._slot_freed.clear()
        waits: list[asyncio.Future[object]] = [
            asyncio.ensure_future(self._slot_freed.wait()),
            asyncio.ensure_future(self._stopping.wait()),
        ]
        if have_slots:
            waits.append(asyncio.ensure_future(self._deck.wait_for_work(self._idle_wait)))
        else:
            waits.append(asyncio.ensure_future(asyncio.sleep(self._idle_wait)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await stop_tasks(*waits)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def stop(self) -> None:
        self._stopping.set()

    async def _drain(self) -> None:
        """On stop, abandon running flights: their leases expire and others resume them
        (a step is re-run, never half-recorded)."""
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
