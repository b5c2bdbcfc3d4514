"""Waiting in tests: poll a condition until it holds, with a deadline.

A loaded CI machine delays everything; a test that sleeps a fixed time and then asserts
fails there (README, "Tests that hold on a loaded machine"). Poll instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(
    probe: Callable[[], Awaitable[Any]],
    what: str,
    timeout: float = 60.0,  # noqa: ASYNC109 - a deadline for the polling, not one call
    every: float = 0.2,
) -> Any:
    """Await ``probe()`` every ``every`` seconds until it returns something truthy, and
    return that; after ``timeout`` seconds fail, naming ``what`` and the last answer."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    last: Any = None
    while loop.time() < end:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


async def until(
    condition: Callable[[], object],
    what: str,
    timeout: float = 30.0,  # noqa: ASYNC109 - a deadline for the polling, not one call
    every: float = 0.05,
) -> None:
    """:func:`eventually` for a plain (not awaitable) condition on the test's own
    state, such as what a handler recorded: checked every ``every`` seconds."""

    async def probe() -> object:
        return condition()

    await eventually(probe, what, timeout, every)
