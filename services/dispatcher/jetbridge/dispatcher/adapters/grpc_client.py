"""StartFlight, ClearSteps and CancelFlight over mTLS, one cached channel per
(endpoint, expected identity)."""

from __future__ import annotations

from typing import Any

import grpc

from jetbridge.common.dataplane_api import pb2, pb2_grpc
from jetbridge.common.grpc_mtls import secure_channel
from jetbridge.common.grpc_tracing import TracingClientInterceptor
from jetbridge.common.tls import TlsFiles
from jetbridge.dispatcher.domain.model import Clearance, Endpoint, PlannedFlight
from jetbridge.dispatcher.service_layer.ports import DispatchError

_SIDES = {"SOURCE": pb2.SIDE_SOURCE, "DESTINATION": pb2.SIDE_DESTINATION}
_MODES = {"CONTROLLED": pb2.FAILOVER_MODE_CONTROLLED, "FORCED": pb2.FAILOVER_MODE_FORCED}


def start_request(flight: PlannedFlight) -> Any:
    deadlines = list(flight.step_deadline_seconds) + [0] * len(flight.steps)
    return pb2.StartFlightRequest(
        flight_id=flight.flight_id,
        mission_id=flight.mission_id,
        request_id=flight.request_id,
        deployment_id=flight.deployment_id,
        side=_SIDES.get(flight.side, pb2.SIDE_UNSPECIFIED),
        mode=_MODES.get(flight.mode, pb2.FAILOVER_MODE_UNSPECIFIED),
        fencing_epoch=flight.fencing_epoch,
        steps=[
            pb2.PlanStep(name=name, deadline_seconds=deadlines[i])
            for i, name in enumerate(flight.steps)
        ],
        deployment_spec=pb2.DeploymentSpecRef(
            deployment_id=flight.deployment_id, image=flight.image
        ),
        drain_timeout_seconds=flight.drain_timeout_seconds,
    )


class GrpcDataPlaneClient:
    def __init__(self, tls: TlsFiles) -> None:
        self._tls = tls
        self._channels: dict[Endpoint, grpc.aio.Channel] = {}
        self.calls = 0

    def _stub(self, endpoint: Endpoint) -> Any:
        channel = self._channels.get(endpoint)
        if channel is None:
            channel = secure_channel(
                endpoint.address,
                self._tls,
                endpoint.identity,
                interceptors=[TracingClientInterceptor()],  # traceparent in the metadata
            )
            self._channels[endpoint] = channel
        return pb2_grpc.DataPlaneStub(channel)  # type: ignore[no-untyped-call]

    async def start_flight(self, endpoint: Endpoint, flight: PlannedFlight, timeout: float) -> bool:  # noqa: ASYNC109
        self.calls += 1
        try:
            response = await self._stub(endpoint).StartFlight(
                start_request(flight), timeout=timeout
            )
        except grpc.aio.AioRpcError as error:
            raise DispatchError(error.code().name, error.details() or "") from error
        return bool(response.created)

    async def clear_steps(self, endpoint: Endpoint, clearance: Clearance, timeout: float) -> bool:  # noqa: ASYNC109
        self.calls += 1
        request = pb2.ClearStepsRequest(
            flight_id=clearance.flight_id,
            steps=list(clearance.steps),
            not_before_ms=clearance.not_before_ms,
            clearance_id=clearance.clearance_id,
            cleared_at_ms=clearance.cleared_at_ms,
            attempts=list(clearance.attempts),
        )
        try:
            response = await self._stub(endpoint).ClearSteps(request, timeout=timeout)
        except grpc.aio.AioRpcError as error:
            raise DispatchError(error.code().name, error.details() or "") from error
        return bool(response.applied)

    async def cancel_flight(
        self,
        endpoint: Endpoint,
        flight_id: str,
        reason: str,
        timeout: float,  # noqa: ASYNC109
    ) -> None:
        self.calls += 1
        request = pb2.CancelFlightRequest(flight_id=flight_id, reason=reason)
        try:
            await self._stub(endpoint).CancelFlight(request, timeout=timeout)
        except grpc.aio.AioRpcError as error:
            raise DispatchError(error.code().name, error.details() or "") from error

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
