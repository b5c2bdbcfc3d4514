"""Where every asyncio task waits, printed when a test is about to hit its timeout.

pytest-timeout prints the threads' stacks, and in an asyncio test those say only that
the loop is in ``select()``. This plugin prints, a few seconds before the timeout, each
pending task of every loop with the chain of coroutines it is awaiting (the CI hang of
2026-12-05 was found with exactly this: a revocation callback awaiting a link task).
The report goes to the test's captured stderr, so it is in the CI log of the failure.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

import pytest

EARLY_S = 5.0  # before pytest-timeout's own report, while the loop is still there


def awaited_chain(task: asyncio.Task[Any]) -> list[str]:
    """``file:line in function`` for each coroutine from the task down to what it waits on."""
    lines, coroutine = [], task.get_coro()
    while coroutine is not None:
        frame = getattr(coroutine, "cr_frame", None) or getattr(coroutine, "ag_frame", None)
        if frame is not None:
            code = frame.f_code
            lines.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        coroutine = getattr(coroutine, "cr_await", None) or getattr(coroutine, "ag_await", None)
    return lines


def pending_tasks() -> list[asyncio.Task[Any]]:
    """Every pending task of every loop (Python 3.11 keeps them in one weak set)."""
    every = getattr(asyncio.tasks, "_all_tasks", ())
    for _ in range(100):  # the set may change while another thread iterates it
        try:
            return [t for t in list(every) if not t.done()]
        except RuntimeError:
            continue
    return []


def report(out: TextIO) -> None:
    tasks = pending_tasks()
    print(f"\n+++ {len(tasks)} pending asyncio tasks, each with what it awaits +++", file=out)
    for task in sorted(tasks, key=lambda t: t.get_name()):
        state = "cancelling" if task.cancelling() else "pending"
        print(f"--- {task.get_name()} ({state})", file=out)
        for line in awaited_chain(task):
            print(f"    {line}", file=out)
    out.flush()


def _timeout_of(item: pytest.Item) -> float:
    """pytest-timeout's limit for the item: its marker, else --timeout, else the ini."""
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    given = item.config.getoption("timeout", None)
    return float(given if given is not None else item.config.getini("timeout") or 0)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """From set-up on, as pytest-timeout counts (its default is not ``func_only``)."""
    timeout = _timeout_of(item)
    timer = None
    if timeout > EARLY_S:
        timer = threading.Timer(timeout - EARLY_S, report, args=(sys.stderr,))
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
