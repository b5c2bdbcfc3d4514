"""The data-plane agent over real loopback mTLS, writing into a real Flightdeck
(PostgreSQL; the first test on MariaDB too, the other dialect a data plane may run)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from jetbridge.common.dataplane_api import pb2, pb2_grpc
from jetbridge.common.grpc_mtls import channel_credentials, secure_channel
from jetbridge.common.sql.dsn import is_mysql_dsn
from jetbridge.common.tls import CONTROL_PLANE_URI, cluster_identity, dns_name
from jetbridge.flightdeck import open_flightdeck
from tests.integration.flightdeck.dbs import (
    mysql_fetch,
    pg_fetch,
)
from tests.integration.planes import (
    flightdeck_on,
    make_tls,
    pg_database,
    running_agent,
    unique_cluster,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "deploy" / "local"))
from ports import free_port


def _start_request(flight_id: str, epoch: int = 7, cluster_id: str = "") -> pb2.StartFlightRequest:
    return pb2.StartFlightRequest(
        cluster_id=cluster_id,
        flight_id=flight_id,
        mission_id="m-1",
        request_id="r-1",
        deployment_id="d-1",
        side=pb2.SIDE_DESTINATION,
        mode=pb2.FAILOVER_MODE_CONTROLLED,
        fencing_epoch=epoch,
        steps=[
            pb2.PlanStep(name="CREATE_NAMESPACE", deadline_seconds=60),
            pb2.PlanStep(name="UPSERT_DEPLOYMENT", deadline_seconds=300),
        ],
        deployment_spec=pb2.DeploymentSpecRef(deployment_id="d-1", image="reg/airflow:1.2.3"),
        drain_timeout_seconds=600,
    )


async def test_start_flight_twice_writes_one_row_and_get_cancel_work(
    flightdeck_dsn: str, tmp_path: Path
) -> None:
    cluster = unique_cluster()
    tls = make_tls(tmp_path, cluster)
    dsn = flightdeck_dsn
    deck = await open_flightdeck(dsn)
    try:
        async with running_agent(cluster, tls, deck) as agent:
            channel = secure_channel(agent.endpoint, tls.control_plane(), cluster_identity(cluster))
            async with channel:
                stub = pb2_grpc.DataPlaneStub(channel)
                first = await stub.StartFlight(_start_request("f-1", 7, cluster), timeout=5)
                second = await stub.StartFlight(_start_request("f-1"), timeout=5)
                assert (first.created, second.created) == (True, False)
                assert second.state == pb2.FLIGHT_STATE_QUEUED

                with pytest.raises(grpc.aio.AioRpcError) as conflict:
                    await stub.StartFlight(_start_request("f-1", epoch=8), timeout=5)
                assert conflict.value.code() == grpc.StatusCode.FAILED_PRECONDITION

                got = (await stub.GetFlight(pb2.GetFlightRequest(flight_id="f-1"))).flight
                assert got.fencing_epoch == 7
                assert list(got.steps) == ["CREATE_NAMESPACE", "UPSERT_DEPLOYMENT"]

                cancelled = await stub.CancelFlight(pb2.CancelFlightRequest(flight_id="f-1"))
                assert cancelled.flight.state == pb2.FLIGHT_STATE_CANCELLED

                with pytest.raises(grpc.aio.AioRpcError) as missing:
                    await stub.GetFlight(pb2.GetFlightRequest(flight_id="nope"))
                assert missing.value.code() == grpc.StatusCode.NOT_FOUND

                # Addressed to another cluster: refused, and nothing is written.
                other = _start_request("f-2", 7, "dp-elsewhere")
                with pytest.raises(grpc.aio.AioRpcError) as misaddressed:
                    await stub.StartFlight(other, timeout=5)
                assert misaddressed.value.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert "'dp-elsewhere'" in (misaddressed.value.details() or "")
                batch = pb2.StartFlightsRequest(items=[pb2.StartFlightItem(request=other)])
                (result,) = (await stub.StartFlights(batch, timeout=5)).results
                assert result.status.code == "FAILED_PRECONDITION"
    finally:
        await deck.close()
    fetch = mysql_fetch if is_mysql_dsn(dsn) else pg_fetch
    rows = await fetch(dsn, "SELECT flight_id, plan FROM dp_flights")
    assert [r["flight_id"] for r in rows] == ["f-1"]
    plan = json.loads(rows[0]["plan"])  # the plan as stored, either dialect's JSON text
    assert [step["name"] for step in plan] == ["CREATE_NAMESPACE", "UPSERT_DEPLOYMENT"]
    assert {step["params"]["deployment_spec"]["image"] for step in plan} == {"reg/airflow:1.2.3"}


async def test_plaintext_and_other_cluster_clients_are_refused(
    postgres_dsn: str, tmp_path: Path
) -> None:
    cluster, other = unique_cluster("a"), unique_cluster("b")
    tls = make_tls(tmp_path, cluster, other)
    async with flightdeck_on(postgres_dsn) as deck, running_agent(cluster, tls, deck) as agent:
        request = pb2.GetFlightRequest(flight_id="x")

        async with grpc.aio.insecure_channel(agent.endpoint) as plaintext:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await pb2_grpc.DataPlaneStub(plaintext).GetFlight(request, timeout=30)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE

        # A TLS client with no certificate of its own fails the handshake too.
        ca, _, _ = tls.control_plane().read()
        anonymous = grpc.aio.secure_channel(
            agent.endpoint,
            grpc.ssl_channel_credentials(root_certificates=ca),
            options=[("grpc.ssl_target_name_override", dns_name(cluster_identity(cluster)))],
        )
        async with anonymous:
            with pytest.raises(grpc.aio.AioRpcError) as no_cert:
                await pb2_grpc.DataPlaneStub(anonymous).GetFlight(request, timeout=30)
            assert no_cert.value.code() == grpc.StatusCode.UNAVAILABLE

        # Another cluster's certificate: signed by the same CA, but not the control plane.
        impostor = grpc.aio.secure_channel(
            agent.endpoint,
            channel_credentials(tls.cluster(other)),
            options=[("grpc.ssl_target_name_override", dns_name(cluster_identity(cluster)))],
        )
        async with impostor:
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await pb2_grpc.DataPlaneStub(impostor).GetFlight(request, timeout=30)
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert cluster_identity(other) in (denied.value.details() or "")
            link = pb2_grpc.DataPlaneStub(impostor).Link(iter(()))
            with pytest.raises(grpc.aio.AioRpcError) as link_denied:
                async for _ in link:
                    pass
            assert link_denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

        # The control plane gets through.
        async with secure_channel(
            agent.endpoint, tls.control_plane(), cluster_identity(cluster)
        ) as good:
            with pytest.raises(grpc.aio.AioRpcError) as not_found:
                await pb2_grpc.DataPlaneStub(good).GetFlight(request, timeout=30)
            assert not_found.value.code() == grpc.StatusCode.NOT_FOUND


async def test_link_streams_heartbeats_with_facts(postgres_dsn: str, tmp_path: Path) -> None:
    cluster = unique_cluster()
    tls = make_tls(tmp_path, cluster)
    async with (
        flightdeck_on(postgres_dsn) as deck,
        running_agent(cluster, tls, deck, heartbeat_interval=0.05) as agent,
    ):
        async with secure_channel(
            agent.endpoint, tls.control_plane(), cluster_identity(cluster)
        ) as channel:
            outgoing: asyncio.Queue[pb2.ControlMessage | None] = asyncio.Queue()

            async def control() -> object:
                while (message := await outgoing.get()) is not None:
                    yield message

            call = pb2_grpc.DataPlaneStub(channel).Link(control())
            beats = []
            async for message in call:
                if message.WhichOneof("body") == "heartbeat":
                    beats.append(message.heartbeat)
                    await outgoing.put(pb2.ControlMessage(ack=pb2.Ack(seq=message.heartbeat.seq)))
                    if len(beats) == 1:
                        await outgoing.put(pb2.ControlMessage(ping=pb2.Ping(nonce=42)))
                elif message.WhichOneof("body") == "pong":
                    assert message.pong.nonce == 42
                if len(beats) >= 5:
                    break
            call.cancel()
        assert agent.server is not None
        acks = agent.server.servicer.acks_received
    assert acks >= 3
    assert [b.seq for b in beats] == [1, 2, 3, 4, 5]
    assert {b.cluster_id for b in beats} == {cluster}
    facts = beats[-1].facts
    assert facts.plane_mode == pb2.PLANE_MODE_DATA
    assert facts.cluster_secret_store.authenticated and facts.failover_enabled
    assert facts.external_secret_manager_name == "aws-secrets-manager"
    assert facts.database_side == "A"
    # Paced by the 50 ms interval: a late beat shortens only the gap after it (the
    # schedule stays put) and never bursts, so three gaps span two intervals at least;
    # the upper bound leaves ten times the schedule for a loaded machine's stalls, and
    # still fails beats at the default 1 s interval (the setting ignored).
    gaps = [(b.sent_at - a.sent_at) for a, b in itertools.pairwise(beats[1:])]
    assert 2 * 50 - 1 <= sum(gaps) <= 1_500 and all(gap > 0 for gap in gaps), gaps


async def _no_control() -> AsyncIterator[pb2.ControlMessage]:
    """A Link caller that sends nothing (the stream stays open while it waits)."""
    await asyncio.Event().wait()
    yield pb2.ControlMessage()  # pragma: no cover - never reached


async def test_agent_process_entry_point_serves_start_flight(
    postgres_dsn: str, tmp_path: Path
) -> None:
    cluster = unique_cluster()
    tls = make_tls(tmp_path, cluster)
    port = free_port()
    async with pg_database(postgres_dsn) as dsn:
        env = {
            **os.environ,
            "JETBRIDGE_AGENT_CLUSTER_ID": cluster,
            "JETBRIDGE_AGENT_LISTEN": f"127.0.0.1:{port}",
            "JETBRIDGE_AGENT_FLIGHTDECK_DSN": dsn,
            "JETBRIDGE_AGENT_TLS_DIR": str(tls.root),
            "JETBRIDGE_AGENT_DATABASE_SIDE": "b",  # the Pilot's side, reported in the facts
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jetbridge.agent", env=env
        )
        try:
            async with secure_channel(
                f"127.0.0.1:{port}", tls.control_plane(), cluster_identity(cluster)
            ) as channel:
                stub = pb2_grpc.DataPlaneStub(channel)
                response = await stub.StartFlight(
                    _start_request("f-proc"), timeout=20, wait_for_ready=True
                )
                assert response.created
                link = stub.Link(_no_control())
                async for message in link:
                    if message.WhichOneof("body") == "heartbeat":
                        assert message.heartbeat.facts.database_side == "B"
                        break
                link.cancel()
        finally:
            process.terminate()
            assert await asyncio.wait_for(process.wait(), 10) == 0
    assert CONTROL_PLANE_URI.startswith("spiffe://")
