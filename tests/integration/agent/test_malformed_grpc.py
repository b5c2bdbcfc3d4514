"""Malformed gRPC on the agent: bytes that are no protobuf, and well-formed requests with
nonsense in them, each get an error naming the problem; the Link stream DP-Link holds
keeps heartbeating through all of it, and a good StartFlight still lands afterwards."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from jetbridge.common.dataplane_api import pb2, pb2_grpc
from jetbridge.common.grpc_mtls import secure_channel
from jetbridge.common.tls import cluster_identity
from tests.integration.planes import flightdeck_on, make_tls, running_agent, unique_cluster
from tests.polling import until

from .test_agent import _start_request

SERVICE = "/jetbridge.dataplane.v1.DataPlane/"
GARBAGE = (b"\xff\xff\xff\xff", b"\x0a\xff\x01not a message", b"\x0f" * 64)


def _raw(channel: grpc.aio.Channel, method: str) -> grpc.aio.UnaryUnaryMultiCallable:
    return channel.unary_unary(
        SERVICE + method, request_serializer=None, response_deserializer=None
    )


async def test_malformed_requests_get_errors_and_the_link_lives_on(
    postgres_dsn: str, tmp_path: Path
) -> None:
    cluster = unique_cluster()
    tls = make_tls(tmp_path, cluster)
    async with (
        flightdeck_on(postgres_dsn) as deck,
        running_agent(cluster, tls, deck, heartbeat_interval=0.05) as agent,
        secure_channel(agent.endpoint, tls.control_plane(), cluster_identity(cluster)) as ch,
    ):
        stub = pb2_grpc.DataPlaneStub(ch)
        link = stub.Link(_forever())
        beats: list[int] = []

        async def follow() -> None:
            async for message in link:
                if message.WhichOneof("body") == "heartbeat":
                    beats.append(message.heartbeat.seq)

        following = asyncio.create_task(follow())
        await until(lambda: len(beats) >= 2, "two heartbeats", timeout=10)

        # 1. bytes that do not parse as the request message
        methods = ("StartFlight", "ClearSteps", "CancelFlight", "GetFlight")
        for method in (*methods, "StartFlights", "ClearStepsBatch"):
            for garbage in GARBAGE:
                with pytest.raises(grpc.aio.AioRpcError) as bad:
                    await _raw(ch, method)(garbage, timeout=5)
                # grpc.aio answers UNKNOWN with protobuf's own words for it
                assert bad.value.code() is grpc.StatusCode.UNKNOWN, (method, garbage, bad.value)
                assert "Error parsing message" in (bad.value.details() or ""), bad.value

        # 2. well-formed protobuf, nonsense inside: refused with the field named
        nonsense = {
            "flight_id": pb2.StartFlightRequest(
                **{**_fields(_start_request("f-1")), "flight_id": ""}
            ),
            "fencing_epoch": pb2.StartFlightRequest(
                **{**_fields(_start_request("f-2")), "fencing_epoch": 0}
            ),
            "deployment_id": pb2.StartFlightRequest(
                **{**_fields(_start_request("f-3")), "deployment_id": "d" * 500}
            ),
        }
        for field, request in nonsense.items():
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.StartFlight(request, timeout=5)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in (refused.value.details() or ""), refused.value.details()

        # 3. the Link stream went on all along, and the agent still takes good work
        seen = len(beats)
        await until(lambda: len(beats) >= seen + 3, "three more heartbeats", timeout=10)
        assert not following.done()
        started = await stub.StartFlight(_start_request("f-ok"), timeout=5)
        assert started.created
        assert (await deck.get("f-ok")) is not None
        assert beats == list(range(1, len(beats) + 1))  # no heartbeat lost, no gap
        link.cancel()
        following.cancel()


def _fields(message: pb2.StartFlightRequest) -> dict[str, object]:
    return {f.name: v for f, v in message.ListFields()}


async def _forever() -> object:
    while True:  # DP-Link's side: says nothing, keeps the stream open
        await asyncio.sleep(3600)
        yield pb2.ControlMessage()
