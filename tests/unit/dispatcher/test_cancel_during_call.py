"""A Dispatcher call cancelled mid-flight ends cancelled, never as a DispatchError.

grpc.aio can lose the caller's cancel and end the call with its own status; without
the check the caller would record a failed dispatch while being stopped.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from jetbridge.dispatcher.adapters.grpc_client import GrpcDataPlaneClient
from jetbridge.dispatcher.domain.model import Endpoint
from jetbridge.dispatcher.service_layer.ports import DispatchError
from tests.unit.swallowing import SwallowingCall, cancel_inside

AGENT = Endpoint("127.0.0.1:9", "spiffe://jetbridge/cluster/c1")


class UnavailableAgent:
    """Each call swallows a cancel, then fails UNAVAILABLE as a refused connection does."""

    def __init__(self) -> None:
        self.call = SwallowingCall()

    def __getattr__(self, rpc: str) -> Any:
        async def unary(request: Any, timeout: float) -> Any:  # noqa: ASYNC109
            await self.call()
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.UNAVAILABLE,
                grpc.aio.Metadata(),
                grpc.aio.Metadata(),
                details=f"{rpc}: failed to connect",
            )

        return unary


def client_of(agent: UnavailableAgent) -> GrpcDataPlaneClient:
    client = GrpcDataPlaneClient(None, batches=False)  # type: ignore[arg-type]  # no channel
    client._stub = lambda endpoint: agent  # type: ignore[method-assign]
    return client


async def test_an_uncancelled_failure_is_a_dispatch_error() -> None:
    agent = UnavailableAgent()
    call = asyncio.create_task(client_of(agent).cancel_flight(AGENT, "f1", "test", 1.0))
    await agent.call.inside.wait()
    agent.call.answer()
    with pytest.raises(DispatchError, match="UNAVAILABLE"):
        await call


async def test_a_cancel_the_rpc_swallowed_still_cancels_the_caller() -> None:
    agent = UnavailableAgent()
    call = asyncio.create_task(client_of(agent).cancel_flight(AGENT, "f1", "test", 1.0))
    await cancel_inside(call, agent.call)
    outcome = await asyncio.gather(call, return_exceptions=True)
    assert agent.call.swallowed == 1
    assert isinstance(outcome[0], asyncio.CancelledError), outcome
