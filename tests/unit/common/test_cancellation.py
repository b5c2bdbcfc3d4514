"""raise_if_cancel_requested: a cancel a library swallowed still ends the task."""

from __future__ import annotations

import asyncio

import pytest

from jetbridge.common.cancellation import raise_if_cancel_requested
from tests.unit.swallowing import SwallowingCall, cancel_inside


async def test_a_swallowed_cancel_is_raised_after_the_call() -> None:
    call = SwallowingCall()
    after_call: list[str] = []

    async def caller() -> None:
        await call()
        after_call.append("resumed")  # the cancel is gone: asyncio did not raise it
        raise_if_cancel_requested()
        after_call.append("past the check")

    task = asyncio.create_task(caller())
    await cancel_inside(task, call)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert call.swallowed == 1
    assert after_call == ["resumed"]


async def test_without_a_cancel_request_it_does_nothing() -> None:
    raise_if_cancel_requested()

    async def uncancelled() -> str:
        raise_if_cancel_requested()
        return "ran"

    assert await asyncio.create_task(uncancelled()) == "ran"


async def test_a_cancel_the_task_took_back_is_not_raised() -> None:
    """asyncio.timeout() cancels then uncancels: the count, not a flag, decides."""

    async def timed_out_then_goes_on() -> str:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await asyncio.sleep(1)
        raise_if_cancel_requested()
        return "went on"

    assert await asyncio.create_task(timed_out_then_goes_on()) == "went on"
