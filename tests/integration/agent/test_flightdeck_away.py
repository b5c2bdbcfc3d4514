"""The agent says UNAVAILABLE, not UNKNOWN, while its Flightdeck is away, and recovers.

Flightdeck is a real PostgreSQL database reached through a TCP relay the test owns:
cutting the relay (every connection reset, new ones refused) is what a database
restart or a network partition looks like to the agent. The Dispatcher retries
UNAVAILABLE and takes UNKNOWN as permanent, so answering UNKNOWN here failed Missions
in a chaos run (seed 402) when PostgreSQL restarted under a clearance.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import grpc
import pytest

from jetbridge.common.dataplane_api import pb2, pb2_grpc
from jetbridge.common.grpc_mtls import secure_channel
from jetbridge.common.tls import cluster_identity
from jetbridge.flightdeck import open_flightdeck
from tests.integration.agent.test_clear_steps import _clear, _start
from tests.integration.planes import make_tls, pg_database, running_agent, unique_cluster


class Relay:
    """A TCP relay to PostgreSQL that can be cut (connections reset) and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        await self._server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        self._writers -= {writer, up_writer}


@contextlib.asynccontextmanager
async def relayed(dsn: str) -> AsyncIterator[tuple[Relay, str]]:
    parts = urlsplit(dsn)
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.open()
    netloc = parts.netloc.rsplit("@", 1)
    credentials = netloc[0] + "@" if len(netloc) == 2 else ""
    yield relay, urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{relay.port}"))
    with contextlib.suppress(Exception):
        await relay.cut()


async def test_flightdeck_away_is_unavailable_and_the_agent_recovers(
    postgres_dsn: str, tmp_path: Path
) -> None:
    cluster = unique_cluster()
    tls = make_tls(tmp_path, cluster)
    async with pg_database(postgres_dsn) as direct, relayed(direct) as (relay, dsn):
        deck = await open_flightdeck(dsn)
        try:
            async with (
                running_agent(cluster, tls, deck) as agent,
                secure_channel(
                    agent.endpoint, tls.control_plane(), cluster_identity(cluster)
                ) as channel,
            ):
                stub = pb2_grpc.DataPlaneStub(channel)
                await stub.StartFlight(_start("f-1"), timeout=10)
                await relay.cut()
                for call in (
                    stub.ClearSteps(_clear("f-1", "c1", "STOP_SCHEDULING"), timeout=10),
                    stub.GetFlight(pb2.GetFlightRequest(flight_id="f-1"), timeout=10),
                    stub.StartFlight(_start("f-2"), timeout=10),
                ):
                    with pytest.raises(grpc.aio.AioRpcError) as away:
                        await call
                    assert away.value.code() == grpc.StatusCode.UNAVAILABLE, away.value
                    assert "Flightdeck unavailable" in (away.value.details() or "")
                # in a batch call, each item says so (the call itself is answered)
                batch = await stub.StartFlights(
                    pb2.StartFlightsRequest(items=[pb2.StartFlightItem(request=_start("f-2"))]),
                    timeout=10,
                )
                assert [r.status.code for r in batch.results] == ["UNAVAILABLE"]
                assert "Flightdeck unavailable" in batch.results[0].status.message
                await relay.open()  # the database is back on the same address
                cleared = await stub.ClearSteps(_clear("f-1", "c1", "STOP_SCHEDULING"), timeout=10)
                assert cleared.applied
                started = await stub.StartFlight(_start("f-2"), timeout=10)
                assert started.created  # the refused start changed nothing
        finally:
            await deck.close()
