"""Run a service's main coroutine on the event loop it is configured for.

Every service spends most of its CPU in event-loop callbacks: Kafka fetches and
produces, PostgreSQL round trips, gRPC calls. uvloop runs the same asyncio program on
libuv, with the loop's own work (ready handles, selector, socket transports) in C
instead of Python; docs/benchmarks.md has what it changed end to end. It is the
default. ``JETBRIDGE_EVENT_LOOP=asyncio`` selects the standard library's loop, to
compare, or should a library misbehave on uvloop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from jetbridge.common.health import heartbeat

EVENT_LOOP_ENV = "JETBRIDGE_EVENT_LOOP"
LOOPS = ("uvloop", "asyncio")
T = TypeVar("T")


def loop_factory(
    env: Mapping[str, str] | None = None,
) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the configured loop (None: the standard library's)."""
    choice = (os.environ if env is None else env).get(EVENT_LOOP_ENV, "uvloop")
    if choice == "asyncio":
        return None
    if choice == "uvloop":
        import uvloop  # noqa: PLC0415 - only when chosen

        return uvloop.new_event_loop
    raise ValueError(f"{EVENT_LOOP_ENV}={choice!r}: expected one of {', '.join(LOOPS)}")


def run(main: Coroutine[Any, Any, T], env: Mapping[str, str] | None = None) -> T:
    """``asyncio.run(main)`` on the configured loop, with the process's heartbeat
    beside it (what ``/livez`` reads: ``jetbridge.common.health``)."""
    try:
        factory = loop_factory(env)
    except ValueError:
        main.close()  # it never runs: no "never awaited" warning for it
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_with_heartbeat(main))


async def _with_heartbeat(main: Coroutine[Any, Any, T]) -> T:
    beat = asyncio.create_task(heartbeat(), name="heartbeat")
    try:
        return await main
    finally:
        beat.cancel()
