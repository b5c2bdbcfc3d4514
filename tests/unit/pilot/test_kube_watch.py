"""adapters/kube_watch.py: a watch event wakes the waits of its object's namespace only."""

from __future__ import annotations

import asyncio

import pytest

from jetbridge.common.watch_stream import ExpiredWatch
from jetbridge.pilot.adapters.kube_watch import KindWatch, Waiter


def event(kind: str, name: str, namespace: str | None, version: str) -> dict[str, object]:
    meta = {"name": name, "resourceVersion": version}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"type": kind, "object": {"metadata": meta}}


async def woken(*waiters: Waiter) -> list[bool]:
    await asyncio.sleep(0)  # the thread-safe wake-ups land on the next loop turn
    return [w.event.is_set() for w in waiters]


async def test_an_event_wakes_the_waiters_of_its_namespace_only() -> None:
    watch = KindWatch(None, "Deployment", "dp-test")  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    here, also_here, elsewhere = Waiter(loop), Waiter(loop), Waiter(loop)
    watch.add("ns-a", here)
    watch.add("ns-a", also_here)
    watch.add("ns-b", elsewhere)
    assert watch.handle(event("MODIFIED", "scheduler", "ns-a", "41")) == "41"
    assert await woken(here, also_here, elsewhere) == [True, True, False]

    here.event.clear()
    watch.remove("ns-a", here)
    watch.handle(event("DELETED", "worker", "ns-a", "42"))
    assert await woken(here) == [False]


async def test_a_namespace_event_is_for_the_namespace_of_that_name() -> None:
    watch = KindWatch(None, "Namespace", "dp-test")  # type: ignore[arg-type]
    waiter = Waiter(asyncio.get_running_loop())
    watch.add("airflow-1", waiter)
    watch.handle(event("MODIFIED", "airflow-2", None, "7"))
    assert await woken(waiter) == [False]
    watch.handle(event("DELETED", "airflow-1", None, "8"))
    assert await woken(waiter) == [True]


async def test_a_bookmark_moves_the_version_and_wakes_nobody() -> None:
    watch = KindWatch(None, "ExternalSecret", "dp-test")  # type: ignore[arg-type]
    waiter = Waiter(asyncio.get_running_loop())
    watch.add("ns", waiter)
    assert watch.handle({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "90"}}})
    assert await woken(waiter) == [False]
    watch.notify(None)  # a restarted watch may have missed events: everyone re-checks
    assert await woken(waiter) == [True]


def test_a_compacted_history_and_other_errors_are_told_apart() -> None:
    watch = KindWatch(None, "PushSecret", "dp-test")  # type: ignore[arg-type]
    with pytest.raises(ExpiredWatch):
        watch.handle({"type": "ERROR", "object": {"code": 410, "message": "too old"}})
    with pytest.raises(ValueError, match="watch error: boom"):
        watch.handle({"type": "ERROR", "object": {"code": 500, "message": "boom"}})


def test_a_waiter_whose_loop_has_closed_does_not_stop_the_watch() -> None:
    watch = KindWatch(None, "Deployment", "dp-test")  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    gone = Waiter(loop)
    loop.close()
    watch.add("ns", gone)
    assert watch.handle(event("MODIFIED", "worker", "ns", "5")) == "5"  # no RuntimeError
