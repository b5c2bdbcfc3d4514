"""``run_until_signalled``: a background task that ends on its own stops the service and
ends the run with its error; a signal stops it cleanly (asyncio only, no I/O)."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from jetbridge.common.runner import BackgroundTaskEnded, run_until_signalled


class _Service:
    def __init__(self, work: object) -> None:
        self._work = work
        self._tasks: list[asyncio.Task[None]] = []
        self.stopped = False

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name="work")]  # type: ignore[operator]

    def background_tasks(self) -> list[asyncio.Task[None]]:
        return self._tasks

    async def stop(self) -> None:
        self.stopped = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def test_a_task_that_fails_stops_the_service_with_its_error() -> None:
    async def relay() -> None:
        await asyncio.sleep(0.01)
        raise ConnectionResetError("the database went away")

    service = _Service(relay)
    with pytest.raises(BackgroundTaskEnded, match="work") as caught:
        await asyncio.wait_for(run_until_signalled(service), timeout=5)
    assert isinstance(caught.value.__cause__, ConnectionResetError)
    assert service.stopped


async def test_a_task_that_returns_early_also_stops_the_service() -> None:
    async def loop_that_gave_up() -> None:
        await asyncio.sleep(0.01)

    service = _Service(loop_that_gave_up)
    with pytest.raises(BackgroundTaskEnded):
        await asyncio.wait_for(run_until_signalled(service), timeout=5)
    assert service.stopped


async def test_sigterm_stops_the_service_cleanly() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    service = _Service(forever)
    asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(run_until_signalled(service), timeout=5)
    assert service.stopped
