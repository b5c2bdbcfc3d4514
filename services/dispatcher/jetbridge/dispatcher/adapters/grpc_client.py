"""StartFlight, ClearSteps and CancelFlight over mTLS, one cached channel per
(endpoint, expected identity).

StartFlight and ClearSteps go in batches (``batching``): each item under the CLIENT span
its unary call would have had, its trace context in the item. An agent that does not
know the batch calls (UNIMPLEMENTED) is called one flight at a time from then on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from jetbridge.common.dataplane_api import pb2, pb2_grpc
from jetbridge.common.grpc_mtls import secure_channel
from jetbridge.common.grpc_tracing import TracingClientInterceptor, client_span, end_client_span
from jetbridge.common.tls import TlsFiles
from jetbridge.dispatcher.adapters.batching import BatchCallError, BatchLane
from jetbridge.dispatcher.domain.model import Clearance, Endpoint, PlannedFlight
from jetbridge.dispatcher.service_layer.ports import DispatchError

log = logging.getLogger(__name__)
SERVICE = "/jetbridge.dataplane.v1.DataPlane/"
START_FLIGHT, CLEAR_STEPS = SERVICE + "StartFlight", SERVICE + "ClearSteps"

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


def clear_request(clearance: Clearance) -> Any:
    return pb2.ClearStepsRequest(
        flight_id=clearance.flight_id,
        steps=list(clearance.steps),
        not_before_ms=clearance.not_before_ms,
        clearance_id=clearance.clearance_id,
        cleared_at_ms=clearance.cleared_at_ms,
        attempts=list(clearance.attempts),
    )


def _trace(carrier: dict[str, str]) -> Any:
    return pb2.TraceContext(
        traceparent=carrier.get("traceparent", ""), tracestate=carrier.get("tracestate", "")
    )


class GrpcDataPlaneClient:
    def __init__(
        self,
        tls: TlsFiles,
        *,
        batches: bool = True,
        on_batch: Callable[[str, int], None] | None = None,
    ) -> None:
        self._tls = tls
        self._on_batch = on_batch
        self._channels: dict[Endpoint, grpc.aio.Channel] = {}
        self._batches = batches
        self._lanes: dict[tuple[Endpoint, str], BatchLane[Any, Any]] = {}
        self.one_at_a_time: set[Endpoint] = set()  # agents without the batch calls
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
        if self._batched(endpoint):
            try:
                item = await self._batch_item(
                    endpoint, "StartFlights", START_FLIGHT, start_request(flight), timeout
                )
                return bool(item.created)
            except BatchCallError as error:
                self._maybe_one_at_a_time(endpoint, error)
        try:
            response = await self._stub(endpoint).StartFlight(
                start_request(flight), timeout=timeout
            )
        except grpc.aio.AioRpcError as error:
            raise DispatchError(error.code().name, error.details() or "") from error
        return bool(response.created)

    async def clear_steps(self, endpoint: Endpoint, clearance: Clearance, timeout: float) -> bool:  # noqa: ASYNC109
        self.calls += 1
        if self._batched(endpoint):
            try:
                item = await self._batch_item(
                    endpoint, "ClearStepsBatch", CLEAR_STEPS, clear_request(clearance), timeout
                )
                return bool(item.applied)
            except BatchCallError as error:
                self._maybe_one_at_a_time(endpoint, error)
        try:
            response = await self._stub(endpoint).ClearSteps(
                clear_request(clearance), timeout=timeout
            )
        except grpc.aio.AioRpcError as error:
            raise DispatchError(error.code().name, error.details() or "") from error
        return bool(response.applied)

    def _batched(self, endpoint: Endpoint) -> bool:
        return self._batches and endpoint not in self.one_at_a_time

    def _maybe_one_at_a_time(self, endpoint: Endpoint, error: BatchCallError) -> None:
        """An agent without the batch calls: call it one at a time; any other failure of
        the batch call is this item's failure."""
        if error.code != "UNIMPLEMENTED":
            raise DispatchError(error.code, error.message) from error
        log.warning("the agent at %s has no batch calls: one call per flight", endpoint.address)
        self.one_at_a_time.add(endpoint)

    async def _batch_item(
        self,
        endpoint: Endpoint,
        rpc: str,
        method: str,
        request: Any,
        timeout: float,  # noqa: ASYNC109
    ) -> Any:
        """The item's response, under the CLIENT span of its would-be unary call.

        Raises DispatchError with the item's status, or BatchCallError when the batch
        call itself failed."""
        with client_span(method) as (span, carrier):
            items = {"StartFlights": pb2.StartFlightItem, "ClearStepsBatch": pb2.ClearStepsItem}
            item = items[rpc](request=request, trace=_trace(carrier))
            try:
                result = await self._lane(endpoint, rpc).call(item, timeout)
            except DispatchError as error:
                end_client_span(span, error.code)
                raise
            end_client_span(span, result.status.code)
            if result.status.code != "OK":
                raise DispatchError(result.status.code, result.status.message)
            return result.response

    def _lane(self, endpoint: Endpoint, rpc: str) -> BatchLane[Any, Any]:
        lane = self._lanes.get((endpoint, rpc))
        if lane is None:
            requests = {
                "StartFlights": pb2.StartFlightsRequest,
                "ClearStepsBatch": pb2.ClearStepsBatchRequest,
            }

            async def send(items: Sequence[Any], timeout: float) -> Sequence[Any]:  # noqa: ASYNC109
                call = getattr(self._stub(endpoint), rpc)
                try:
                    response = await call(requests[rpc](items=items), timeout=timeout)
                except grpc.aio.AioRpcError as error:
                    raise BatchCallError(error.code().name, error.details() or "") from error
                if self._on_batch is not None:
                    self._on_batch(rpc, len(items))
                return list(response.results)

            lane = self._lanes[(endpoint, rpc)] = BatchLane(send)
        return lane

    def batch_sizes(self) -> dict[str, tuple[int, int]]:
        """(batch calls, items sent in them) per RPC, for the metrics and benchmarks."""
        out: dict[str, tuple[int, int]] = {}
        for (_, rpc), lane in self._lanes.items():
            calls, items = out.get(rpc, (0, 0))
            out[rpc] = (calls + lane.calls, items + lane.items)
        return out

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
