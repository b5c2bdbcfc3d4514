"""A link stops when asked, even when a library swallowed the cancel (the CI hang).

A DP-Link replica stops links from Kafka's revocation callback; a link that never
ends holds the whole rebalance, and the replica is evicted from its group.
"""

from __future__ import annotations

import asyncio

import pytest

from jetbridge.common.backoff import Backoff
from jetbridge.dplink.adapters.grpc_link import LinkClient
from jetbridge.dplink.domain.health import Thresholds
from jetbridge.dplink.domain.registry import Registration
from jetbridge.dplink.service_layer import supervisor as supervisor_module
from jetbridge.dplink.service_layer.monitor import HealthMonitor
from jetbridge.dplink.service_layer.supervisor import LinkSupervisor
from tests.unit.dplink.test_monitor import Sink
from tests.unit.swallowing import SwallowingCall, cancel_inside

REGISTRATION = Registration("c1", "127.0.0.1:9", "spiffe://jetbridge/cluster/c1")


def monitor() -> HealthMonitor:
    return HealthMonitor(Sink(), Thresholds(1.0, 3.0, 10.0, 1))


class RefusedLink(LinkClient):
    """Every stream attempt fails at once; its grpc call swallows a cancel."""

    def __init__(self) -> None:
        super().__init__(
            REGISTRATION,
            None,  # type: ignore[arg-type]  # no channel is made
            monitor(),
            backoff=Backoff(base=0.001, cap=0.001),
        )
        self.call = SwallowingCall()
        self.attempts = 0
        self.give_up = False  # ends a runaway link so a failing test does not hang

    async def _stream_once(self) -> bool:
        if self.give_up:
            raise asyncio.CancelledError
        self.attempts += 1
        await self.call()
        self.call.inside.clear()
        return False  # UNAVAILABLE, as the real call then ends


async def test_a_link_whose_rpc_swallowed_the_cancel_still_ends() -> None:
    link = RefusedLink()
    task = asyncio.create_task(link.run())
    await cancel_inside(task, link.call)
    done, _ = await asyncio.wait({task}, timeout=2)
    link.give_up = True
    assert done, f"the link went on after its cancel: {link.attempts} attempts"
    assert task.cancelled()
    assert link.call.swallowed == 1


async def test_the_supervisor_cancels_again_a_link_that_ignored_its_cancel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(supervisor_module, "RECANCEL_AFTER_S", 0.05, raising=False)
    cancels_seen = 0

    async def stubborn(_: Registration) -> None:
        nonlocal cancels_seen
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancels_seen += 1
                if cancels_seen == 2:
                    raise
                asyncio.current_task().uncancel()  # type: ignore[union-attr]  # lost for good

    links = LinkSupervisor(monitor(), stubborn)
    await links.reconcile({"c1": REGISTRATION})
    await asyncio.sleep(0)
    stopping = asyncio.create_task(links.reconcile({}))
    done, _ = await asyncio.wait({stopping}, timeout=2)
    assert done, "the supervisor is still waiting for a link that ignored its cancel"
    assert links.owned() == set()
    assert cancels_seen == 2


async def test_stopping_a_link_does_not_swallow_the_callers_own_cancel() -> None:
    link_stopped = asyncio.Event()

    async def slow_to_stop(_: Registration) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await link_stopped.wait()  # a clean-up that takes a while

    links = LinkSupervisor(monitor(), slow_to_stop)
    await links.reconcile({"c1": REGISTRATION})
    await asyncio.sleep(0)
    (link,) = [t for t in asyncio.all_tasks() if t.get_name() == "link-c1"]
    stopping = asyncio.create_task(links.stop_all())
    await asyncio.sleep(0.01)
    stopping.cancel()
    done, _ = await asyncio.wait({stopping}, timeout=2)
    link_stopped.set()
    assert done, "the caller's cancel was swallowed while the link stopped"
    assert stopping.cancelled()
    await asyncio.wait({link}, timeout=1)
    assert link.cancelled()
