"""StartFlight, ClearSteps and CancelFlight over mTLS, one cached channel per
(endpoint, expected identity).

StartFlight and ClearSteps go in batches (``batching``): each item under the CLIENT span
its unary call would have had, its trace context in the item. An agent that does not
know the batch calls (UNIMPLEMENTED) is called one flight at a time from then on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from jetbridge.common.cancellation import raise_if_cancel_requested
from jetbridge.common.dataplane_api import method_path, pb2, pb2_grpc
from jetbridge.common.grpc_mtls import secure_channel
from jetbridge.common.grpc_tracing import TracingClientInterceptor, client_span, end_client_span
from jetbridge.common.tls import TlsFiles
from jetbridge.dispatcher.adapters.batching import BatchCallError, BatchLane
from jetbridge.dispatcher.domain.model import Clearance, Endpoint, PlannedFlight
from jetbridge.dispatcher.service_layer.ports import DispatchError, Started

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Rpc:
    """A unary call and the batch call that carries it."""

    unary: str  # method name, e.g. "StartFlight"
    batch: str  # "StartFlights"
    item: Any  # the batch's item message
    request: Any  # the batch's request message


START = _Rpc("StartFlight", "StartFlights", pb2.StartFlightItem, pb2.StartFlightsRequest)
CLEAR = _Rpc("ClearSteps", "ClearStepsBatch", pb2.ClearStepsItem, pb2.ClearStepsBatchRequest)

_SIDES = {"SOURCE": pb2.SIDE_SOURCE, "DESTINATION": pb2.SIDE_DESTINATION}
_MODES = {"CONTROLLED": pb2.FAILOVER_MODE_CONTROLLED, "FORCED": pb2.FAILOVER_MODE_FORCED}


def start_request(flight: PlannedFlight, clearance: Clearance | None = None) -> Any:
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
            deployment_id=flight.deployment_id,
            image=flight.image,
            components=[
                pb2.ComponentSpec(name=name, replicas=replicas, cpu=cpu, memory=memory)
                for name, replicas, cpu, memory in flight.components
            ],
        ),
        drain_timeout_seconds=flight.drain_timeout_seconds,
        cluster_id=flight.cluster_id,
        clearance=clear_request(clearance) if clearance is not None else None,
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

    async def start_flight(
        self,
        endpoint: Endpoint,
        flight: PlannedFlight,
        timeout: float,  # noqa: ASYNC109
        clearance: Clearance | None = None,
    ) -> Started:
        response = await self._call(endpoint, START, start_request(flight, clearance), timeout)
        return Started(bool(response.created), bool(response.clearance_taken))

    async def clear_steps(self, endpoint: Endpoint, clearance: Clearance, timeout: float) -> bool:  # noqa: ASYNC109
        response = await self._call(endpoint, CLEAR, clear_request(clearance), timeout)
        return bool(response.applied)

    async def _call(self, endpoint: Endpoint, rpc: _Rpc, request: Any, timeout: float) -> Any:  # noqa: ASYNC109
        """The unary call's response, through a batch call unless the agent has none.

        Raises DispatchError with the call's (or the item's) status."""
        self.calls += 1
        if self._batches and endpoint not in self.one_at_a_time:
            try:
                return await self._batch_item(endpoint, rpc, request, timeout)
            except BatchCallError as error:
                if error.code != "UNIMPLEMENTED":  # the call failed: so did this item
                    raise DispatchError(error.code, error.message) from error
                log.warning(
                    "the agent at %s has no batch calls: one call per flight", endpoint.address
                )
                self.one_at_a_time.add(endpoint)
        try:
            return await getattr(self._stub(endpoint), rpc.unary)(request, timeout=timeout)
        except grpc.aio.AioRpcError as error:
            raise_if_cancel_requested()  # grpc may turn our cancel into the call's error
            raise DispatchError(error.code().name, error.details() or "") from error

    async def _batch_item(
        self,
        endpoint: Endpoint,
        rpc: _Rpc,
        request: Any,
        timeout: float,  # noqa: ASYNC109
    ) -> Any:
        """The item's response, under the CLIENT span of its would-be unary call.

        Raises DispatchError with the item's status, or BatchCallError when the batch
        call itself failed."""
        with client_span(method_path(rpc.unary)) as (span, carrier):
            item = rpc.item(request=request, trace=_trace(carrier))
            try:
                result = await self._lane(endpoint, rpc).call(item, timeout)
            except DispatchError as error:
                end_client_span(span, error.code)
                raise
            end_client_span(span, result.status.code)
            if result.status.code != "OK":
                raise DispatchError(result.status.code, result.status.message)
            return result.response

    def _lane(self, endpoint: Endpoint, rpc: _Rpc) -> BatchLane[Any, Any]:
        lane = self._lanes.get((endpoint, rpc.batch))
        if lane is None:

            async def send(items: Sequence[Any], timeout: float) -> Sequence[Any]:  # noqa: ASYNC109
                call = getattr(self._stub(endpoint), rpc.batch)
                try:
                    response = await call(rpc.request(items=items), timeout=timeout)
                except grpc.aio.AioRpcError as error:
                    raise_if_cancel_requested()
                    raise BatchCallError(error.code().name, error.details() or "") from error
                if self._on_batch is not None:
                    self._on_batch(rpc.batch, len(items))
                return list(response.results)

            lane = self._lanes[(endpoint, rpc.batch)] = BatchLane(send)
        return lane

    def batch_sizes(self) -> dict[str, tuple[int, int]]:
        """(batch calls, items sent in them) per batch RPC since this client began."""
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
            raise_if_cancel_requested()  # grpc may turn our cancel into the call's error
            raise DispatchError(error.code().name, error.details() or "") from error

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
