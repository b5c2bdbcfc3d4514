"""An agent's unexpected error ends a unary call UNKNOWN with a masked text."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from jetbridge.agent.adapters.grpc_server import unknown_masked


class Aborted(grpc.aio.AbortError):  # what abort() raises
    pass


class Context:
    """What grpc.aio's ServicerContext.abort does: raise, with the status it sends."""

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise Aborted(code, details)


class Servicer:
    @unknown_masked
    async def GetFlight(self, request: Any, context: Any) -> Any:
        raise RuntimeError("cannot reach mysql://pilot:hunter2@flightdeck:3306/fd")

    @unknown_masked
    async def CancelFlight(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.NOT_FOUND, "no flight f")


async def test_the_status_carries_the_error_masked() -> None:
    with pytest.raises(Aborted) as aborted:
        await Servicer().GetFlight(None, Context())
    code, details = aborted.value.args
    assert code is grpc.StatusCode.UNKNOWN
    assert details == "RuntimeError: cannot reach mysql://pilot:***@flightdeck:3306/fd"


async def test_a_deliberate_abort_passes_through_unchanged() -> None:
    with pytest.raises(Aborted) as aborted:
        await Servicer().CancelFlight(None, Context())
    assert aborted.value.args == (grpc.StatusCode.NOT_FOUND, "no flight f")
