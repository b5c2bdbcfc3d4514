"""The services' event loop: uvloop unless JETBRIDGE_EVENT_LOOP says otherwise."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from jetbridge.common.runtime import EVENT_LOOP_ENV, loop_factory, run


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_uvloop_by_default_and_the_standard_loop_on_request() -> None:
    assert run(_loop_type(), {}) is uvloop.Loop
    assert run(_loop_type(), {EVENT_LOOP_ENV: "uvloop"}) is uvloop.Loop
    assert issubclass(run(_loop_type(), {EVENT_LOOP_ENV: "asyncio"}), asyncio.BaseEventLoop)
    assert loop_factory({EVENT_LOOP_ENV: "asyncio"}) is None


def test_an_unknown_loop_is_refused_by_name_and_nothing_runs() -> None:
    ran = []

    async def main() -> None:
        ran.append(True)

    with pytest.raises(ValueError, match="JETBRIDGE_EVENT_LOOP='trio': expected one of uvloop"):
        run(main(), {EVENT_LOOP_ENV: "trio"})
    assert ran == []
