"""raise_if_cancel_requested: a cancel a library swallowed still ends the task."""

from __future__ import annotations

import asyncio

import pytest

from jetbridge.common.cancellation import raise_if_cancel_requested, stop_tasks
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


async def test_stop_tasks_ends_each_and_keeps_their_errors_quiet() -> None:
    async def fails_when_stopped() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            raise RuntimeError("clean-up failed")

    sleeper = asyncio.create_task(asyncio.sleep(3600))
    failing = asyncio.create_task(fails_when_stopped())
    await asyncio.sleep(0)
    await stop_tasks(sleeper, failing)  # raises neither error
    assert sleeper.cancelled()
    assert isinstance(failing.exception(), RuntimeError)
    await stop_tasks()  # nothing to stop


async def test_stop_tasks_raises_a_cancel_of_its_caller() -> None:
    released = asyncio.Event()

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await released.wait()

    child = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)
    stopping = asyncio.create_task(stop_tasks(child))
    await asyncio.sleep(0.01)
    stopping.cancel()
    done, _ = await asyncio.wait({stopping}, timeout=2)
    released.set()
    await asyncio.wait({child}, timeout=2)
    assert done and stopping.cancelled()
    assert child.cancelled()
