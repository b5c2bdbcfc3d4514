"""Honour a cancellation that a library swallowed.

When a task is cancelled while it awaits another task, asyncio passes the cancel on to
the awaited task; if that one catches it and ends normally, the outer task resumes as
if nothing happened. grpc.aio calls do exactly that with their internal preparation
task: a cancel landing while a stream is being set up ends the call with its own
status (UNAVAILABLE when the data plane is away), so the caller sees an RPC error, not
``CancelledError``. A retry loop then runs on though its owner asked it to stop. That
hung a DP-Link replica in a Kafka rebalance: it was waiting for a link task that would
never end (about 1 cancel in 500 against a refused port, reproduced on this machine).

Python counts the cancel requests a task has not yet acted on (``Task.cancelling``);
a loop that catches library errors calls :func:`raise_if_cancel_requested` after
each attempt so a swallowed cancel still ends it.

:func:`stop_tasks` is the other half: stopping child tasks without swallowing a cancel
of the caller itself, as ``suppress(CancelledError): await task`` does.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


def raise_if_cancel_requested() -> None:
    """Raise ``CancelledError`` if the current task was asked to stop and still runs."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def stop_tasks(*tasks: asyncio.Future[Any], recancel_every: float | None = None) -> None:
    """Cancel ``tasks`` and wait until each has ended; their errors count as retrieved
    (a caller that needs one reads ``task.exception()``). A cancel of the caller while
    it waits is raised here, not lost.

    ``recancel_every``: cancel again, with a warning, each time that many seconds pass
    with a task still running: the backstop for a library that swallows a cancel where
    nothing calls :func:`raise_if_cancel_requested`."""
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=recancel_every)
        for task in pending:
            log.warning("%s still running %.0f s after its cancel: again", task, recancel_every)
    for task in tasks:
        if not task.cancelled():
            task.exception()
