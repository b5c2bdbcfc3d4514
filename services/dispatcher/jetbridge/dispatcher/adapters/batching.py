"""Calls to one data plane that wait together go as one batch call.

The Dispatcher handles up to 64 flight decisions at once (the keyed consumer), each
with its own span, retries and outcome event. Each used to be its own gRPC call, and at
a failover's rate the calls' fixed cost (TLS records, HTTP/2 frames, gRPC's dispatch on
both sides) was most of the agents' CPU. Now a call joins the queue of its data plane
and RPC; one sender per queue sends everything waiting as one batch call and, once it is
answered, the next: batches grow with the load, and a lone call goes at once (nothing
waits for company).

An item's deadline is the caller's: an item that waited in the queue past its own is
failed DEADLINE_EXCEEDED without being sent, as a unary call would have timed out. The
batch call's deadline is its latest item's: with the earliest, one item that had waited
behind a slow call cut every fresh item's time to what it had left, and they failed
far inside their own deadlines, spending retries (each call is idempotent, so an item
answered after its own deadline is answered all the same).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from jetbridge.dispatcher.service_layer.ports import DispatchError

MAX_ITEMS = 128  # per call: a few hundred kB at most, well under gRPC's 4 MB limit
Item = TypeVar("Item")
Result = TypeVar("Result")


class BatchCallError(DispatchError):
    """The batch call itself failed (every item in it fails with this status)."""


@dataclass(slots=True)
class _Waiting(Generic[Item, Result]):
    item: Item
    deadline: float  # loop time
    answer: asyncio.Future[Result]


class BatchLane(Generic[Item, Result]):
    """One queue and its sender: ``send(items, timeout)`` answers every item in order,
    or raises ``BatchCallError`` for the whole call."""

    def __init__(
        self,
        send: Callable[[Sequence[Item], float], Awaitable[Sequence[Result]]],
        *,
        max_items: int = MAX_ITEMS,
    ) -> None:
        self._send = send
        self._max_items = max_items
        self._queue: list[_Waiting[Item, Result]] = []
        self._sender: asyncio.Task[None] | None = None
        self.calls = 0  # batch calls sent
        self.items = 0  # items sent in them

    async def call(self, item: Item, timeout: float) -> Result:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        waiting = _Waiting[Item, Result](item, loop.time() + timeout, loop.create_future())
        self._queue.append(waiting)
        if self._sender is None or self._sender.done():
            # A context of its own: the batch call belongs to no caller's trace.
            self._sender = asyncio.create_task(
                self._drain(), name="dispatch-batch", context=contextvars.Context()
            )
        return await waiting.answer

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max_items], self._queue[self._max_items :]
            await self._send_one(batch)

    async def _send_one(self, batch: list[_Waiting[Item, Result]]) -> None:
        now = asyncio.get_running_loop().time()
        live = []
        for waiting in batch:
            if waiting.answer.done():  # its caller gave up (cancelled)
                continue
            if waiting.deadline <= now:
                waiting.answer.set_exception(
                    DispatchError("DEADLINE_EXCEEDED", "waited past its deadline to be sent")
                )
                continue
            live.append(waiting)
        if not live:
            return
        self.calls += 1
        self.items += len(live)
        try:
            results = await self._send([w.item for w in live], max(w.deadline for w in live) - now)
            if len(results) != len(live):
                raise BatchCallError(
                    "INTERNAL", f"{len(results)} answers to a call of {len(live)} items"
                )
        except BatchCallError as error:
            for waiting in live:
                _settle(waiting, error=BatchCallError(error.code, error.message))
        except Exception as error:  # never lose an answer: the callers would hang
            for waiting in live:
                _settle(waiting, error=BatchCallError("UNKNOWN", repr(error)))
        else:
            for waiting, result in zip(live, results, strict=True):
                _settle(waiting, result=result)


def _settle(
    waiting: _Waiting[Any, Any], *, result: Any = None, error: Exception | None = None
) -> None:
    if waiting.answer.done():
        return
    if error is not None:
        waiting.answer.set_exception(error)
    else:
        waiting.answer.set_result(result)
