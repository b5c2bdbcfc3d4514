"""StartFlights that arrive together are written together: one Flightdeck round trip.

A StartFlights batch runs its items side by side, each under its own span, and each
item's admission waits here until the event loop's current turn ends; every admission
gathered by then goes to ``Flightdeck.admit`` at once. Unary StartFlight calls that
land in the same turn share the write too; a lone call costs one round trip on
PostgreSQL (an insert and a read before this).
"""

from __future__ import annotations

import asyncio
import contextvars

from jetbridge.flightdeck import Admitted, Flightdeck, NewFlight

Waiting = tuple[NewFlight, "asyncio.Future[Admitted]"]


class Admissions:
    def __init__(self, flightdeck: Flightdeck) -> None:
        self._flightdeck = flightdeck
        self._pending: list[Waiting] = []
        self._writes: set[asyncio.Task[None]] = set()
        self.writes = 0  # admit calls made: what a test or a debugger looks at

    async def admit(self, flight: NewFlight) -> Admitted:
        """The flight as stored once written with the others of this turn; raises what
        the write raised (each waiter gets the store's error)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Admitted] = loop.create_future()
        self._pending.append((flight, waiter))
        if len(self._pending) == 1:
            # A fresh context: the write belongs to no one caller's span.
            loop.call_soon(self._flush, context=contextvars.Context())
        return await waiter

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        write = asyncio.get_running_loop().create_task(self._write(batch))
        self._writes.add(write)  # held until done: the loop keeps only weak references
        write.add_done_callback(self._writes.discard)

    async def _write(self, batch: list[Waiting]) -> None:
        self.writes += 1
        try:
            admitted = await self._flightdeck.admit([flight for flight, _ in batch])
        except asyncio.CancelledError:  # the agent is stopping: so are the callers
            for _, waiter in batch:
                waiter.cancel()
            raise
        except Exception as error:
            for _, waiter in batch:
                if not waiter.done():
                    waiter.set_exception(error)
            return
        for (_, waiter), answer in zip(batch, admitted, strict=True):
            if not waiter.done():  # a caller that gave up (its call cancelled) is skipped
                waiter.set_result(answer)
