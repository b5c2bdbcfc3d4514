"""Run a service until SIGTERM or SIGINT, then stop it cleanly (one way for all).

A service's background tasks (its consumers, replays, tickers) are watched too: one that
ends on its own, with an error or without, stops the service and ends the process with
that error, so its supervisor (Kubernetes, the demo's runner) starts it again. Before,
such a task could die unobserved while the process looked alive (the Navigator's outbox
relay did, in chaos seed 1011).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from typing import Protocol

log = logging.getLogger(__name__)


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def background_tasks(self) -> Sequence[asyncio.Task[None]]:
        """The tasks that must run as long as the service does (after ``start``)."""
        ...


class BackgroundTaskEnded(RuntimeError):
    """A task the service needs ended before the service was told to stop."""


async def run_until_signalled(service: Service) -> None:
    """Start, wait for SIGTERM/SIGINT (Kubernetes, Ctrl-C) or for a background task to
    end on its own, then stop: in-flight work ends. Raises ``BackgroundTaskEnded`` in the
    second case."""
    await service.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    signalled = asyncio.create_task(stop.wait(), name="stop-signal")
    try:
        watched = {signalled, *service.background_tasks()}
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        ended = [task for task in done if task is not signalled]
        if ended and not stop.is_set():
            task = ended[0]
            error = None if task.cancelled() else task.exception()
            log.error(
                "background task %s ended on its own (%r); stopping the service",
                task.get_name(),
                error,
            )
            raise BackgroundTaskEnded(f"background task {task.get_name()} ended") from error
    finally:
        signalled.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await service.stop()
