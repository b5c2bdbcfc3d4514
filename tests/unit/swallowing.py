"""A call that loses its caller's cancel the way grpc.aio does (unit-test stand-in).

grpc.aio's calls await an internal task that catches ``CancelledError`` and ends
normally; a cancel landing then is passed on to that task and lost, and the call goes
on to end with its own status. ``SwallowingCall`` reproduces exactly that shape:
``inside`` is set once the caller is parked on the inner task, the moment a test
cancels it.
"""

from __future__ import annotations

import asyncio


class SwallowingCall:
    def __init__(self) -> None:
        self.inside = asyncio.Event()
        self.swallowed = 0
        self._answer = asyncio.Event()

    def answer(self) -> None:
        """End the call on its own (no cancel): the peer's answer arrived."""
        self._answer.set()

    async def __call__(self) -> None:
        await asyncio.create_task(self._preparation())

    async def _preparation(self) -> None:
        self.inside.set()
        try:
            await self._answer.wait()
        except asyncio.CancelledError:
            self.swallowed += 1  # and end normally, as grpc's _prepare_rpc does


async def cancel_inside(task: asyncio.Task[object], call: SwallowingCall) -> None:
    """Cancel ``task`` while it waits inside ``call``."""
    await asyncio.wait_for(call.inside.wait(), 5)
    task.cancel()
