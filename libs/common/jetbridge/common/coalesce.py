"""Calls that arrive in one turn of the event loop go to the store together.

Callers running side by side (each under its own span) each await ``coalescer(item)``;
the first item of a turn schedules one flush for the end of that turn, and everything
gathered by then goes in one batch call. A lone call costs what it did alone.

Used by the agent (a StartFlights or ClearStepsBatch call's items reach Flightdeck as
one ``admit``, one ``get_many``, one ``clear_many``) and by the Pilot (the step results
and completions of flights running side by side: ``record_many``, ``complete_many``).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class Coalescer(Generic[In, Out]):
    """``await coalescer(item)``: ``many`` answers one list per turn, in order."""

    def __init__(
        self,
        many: Callable[[Sequence[In]], Awaitable[Sequence[Out]]],
        observe: Callable[[int], None] = lambda _items: None,
    ) -> None:
        self._many = many
        self._observe = observe  # each batch call's size, for a metric
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []
        self._calls: set[asyncio.Task[None]] = set()

    async def __call__(self, item: In) -> Out:
        """The item's answer once ``many`` has answered the turn's items; raises what
        ``many`` raised (every waiter of that call gets the store's error)."""
        return await self.submit(item)

    def submit(self, item: In) -> asyncio.Future[Out]:
        """Join the turn's batch; the future holds the item's answer (what ``__call__``
        awaits). Several items of one caller join the same batch without a task each."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Out] = loop.create_future()
        self._pending.append((item, waiter))
        if len(self._pending) == 1:
            # A fresh context: the call belongs to no one caller's span.
            loop.call_soon(self._flush, context=contextvars.Context())
        return waiter

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        call = asyncio.get_running_loop().create_task(self._call(batch))
        self._calls.add(call)  # held until done: the loop keeps only weak references
        call.add_done_callback(self._calls.discard)

    async def _call(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        self._observe(len(batch))
        try:
            answers = await self._many([item for item, _ in batch])
        except asyncio.CancelledError:  # the service is stopping: so are the callers
            for _, waiter in batch:
                waiter.cancel()
            raise
        except Exception as error:
            for _, waiter in batch:
                if not waiter.done():
                    waiter.set_exception(error)
            return
        for (_, waiter), answer in zip(batch, answers, strict=True):
            if not waiter.done():  # a caller that gave up (its call cancelled) is skipped
                waiter.set_result(answer)
