"""The Navigator's decision loop and its event store relay end together, whichever way it stops."""

from __future__ import annotations

import asyncio

import pytest

from jetbridge.navigator.entrypoints.app import NavigatorApp


async def _forever(ran: list[str], name: str) -> None:
    ran.append(name)
    await asyncio.Event().wait()


async def test_a_stopped_navigator_stops_its_decision_loop() -> None:
    """asyncio.wait leaves its tasks running when its caller is cancelled: the loop
    then went on deciding while the relay and the consumer were being closed."""
    ran: list[str] = []
    relay = asyncio.create_task(_forever(ran, "relay"))
    loop = _forever(ran, "loop")
    runner = asyncio.create_task(NavigatorApp._until_either_ends(loop, relay))
    while len(ran) < 2:
        await asyncio.sleep(0)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    loops = [t for t in asyncio.all_tasks() if t.get_name() == "navigator-loop"]
    assert loops == []  # ended: no longer a task of this event loop
    relay.cancel()


async def test_a_relay_that_ends_first_stops_the_loop_and_says_why() -> None:
    ran: list[str] = []

    async def failing_relay() -> None:
        raise OSError("broker away")

    relay = asyncio.create_task(failing_relay())
    with pytest.raises(RuntimeError, match="the event store relay stopped") as raised:
        await NavigatorApp._until_either_ends(_forever(ran, "loop"), relay)
    assert isinstance(raised.value.__cause__, OSError)
    assert [t for t in asyncio.all_tasks() if t.get_name() == "navigator-loop"] == []


async def test_a_loop_error_comes_out_as_itself() -> None:
    ran: list[str] = []

    async def broken_loop() -> None:
        raise ValueError("bad fold")

    relay = asyncio.create_task(_forever(ran, "relay"))
    with pytest.raises(ValueError, match="bad fold"):
        await NavigatorApp._until_either_ends(broken_loop(), relay)
    relay.cancel()
