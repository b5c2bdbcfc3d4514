"""ClearSteps over real loopback mTLS into a real Flightdeck (PostgreSQL and MariaDB): a
started flight is not claimable until cleared, a redelivered clearance is a no-op, a bad
one is refused, and CancelFlight of a flight parked between clearances is final at once."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from jetbridge.common.dataplane_api import pb2, pb2_grpc
from jetbridge.common.grpc_mtls import secure_channel
from jetbridge.common.tls import cluster_identity
from jetbridge.flightdeck import open_flightdeck
from tests.integration.planes import make_tls, running_agent, unique_cluster

STEPS = ("STOP_SCHEDULING", "DRAIN_TASKS", "DELETE_DEPLOYMENT")


def _start(flight_id: str) -> pb2.StartFlightRequest:
    return pb2.StartFlightRequest(
        flight_id=flight_id,
        mission_id="m-1",
        request_id="r-1",
        deployment_id="d-1",
        side=pb2.SIDE_SOURCE,
        mode=pb2.FAILOVER_MODE_CONTROLLED,
        fencing_epoch=3,
        steps=[pb2.PlanStep(name=s, deadline_seconds=60) for s in STEPS],
        deployment_spec=pb2.DeploymentSpecRef(deployment_id="d-1", image="reg/airflow:1"),
        drain_timeout_seconds=30,
    )


def _clear(flight_id: str, clearance_id: str, *steps: str, not_before_ms: int = 0) -> object:
    return pb2.ClearStepsRequest(
        flight_id=flight_id,
        steps=list(steps),
        clearance_id=clearance_id,
        not_before_ms=not_before_ms,
        cleared_at_ms=int(time.time() * 1000),
    )


async def test_clear_steps_gates_claims_and_is_idempotent(
    flightdeck_dsn: str, tmp_path: Path
) -> None:
    cluster = unique_cluster()
    tls = make_tls(tmp_path, cluster)
    deck = await open_flightdeck(flightdeck_dsn)
    try:
        async with (
            running_agent(cluster, tls, deck) as agent,
            secure_channel(
                agent.endpoint, tls.control_plane(), cluster_identity(cluster)
            ) as channel,
        ):
            stub = pb2_grpc.DataPlaneStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await stub.ClearSteps(_clear("f-1", "c0", "STOP_SCHEDULING"), timeout=5)
            assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

            await stub.StartFlight(_start("f-1"), timeout=5)
            assert await deck.claim("pilot", 10, 30) == []  # started, not cleared

            first = await stub.ClearSteps(
                _clear("f-1", "c1", "STOP_SCHEDULING", "DRAIN_TASKS"), timeout=5
            )
            assert first.applied and first.flight.cleared_steps == 2
            repeat = await stub.ClearSteps(
                _clear("f-1", "c1", "STOP_SCHEDULING", "DRAIN_TASKS"), timeout=5
            )
            assert not repeat.applied

            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await stub.ClearSteps(
                    _clear("f-1", "c2", "DRAIN_TASKS", "STOP_SCHEDULING"), timeout=5
                )
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT

            (claim,) = await deck.claim("pilot", 10, 30)
            assert claim.flight.step_attempts == {0: 1, 1: 1}  # the redelivery counted once
            for step in (0, 1):
                claim = await deck.record_step_result(claim, step, {"ok": True}, attempt=1)
            await deck.release(claim)
            assert await deck.claim("pilot", 10, 30) == []  # parked: DELETE not cleared yet

            cancelled = await stub.CancelFlight(pb2.CancelFlightRequest(flight_id="f-1"), timeout=5)
            assert cancelled.flight.state == pb2.FLIGHT_STATE_CANCELLED
            late = await stub.ClearSteps(_clear("f-1", "c3", "DELETE_DEPLOYMENT"), timeout=5)
            assert not late.applied and late.flight.state == pb2.FLIGHT_STATE_CANCELLED
            assert await deck.claim("pilot", 10, 30) == []
    finally:
        await deck.close()
