"""The agent's gRPC server: the DataPlane service over mTLS, control plane callers only.

The Link stream is an async generator: one heartbeat at once (so a reconnecting
DP-Link learns the cluster is back without waiting an interval), then one per
interval; a reader task handles the control plane's acks and pings on the side.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from jetbridge.agent.adapters.convert import (
    clear_steps_from_proto,
    flight_to_proto,
    heartbeat_to_proto,
    start_flight_from_proto,
    state_to_proto,
)
from jetbridge.agent.adapters.metrics import START_FLIGHT_CALLS
from jetbridge.agent.domain.flights import (
    InvalidClearance,
    InvalidFlight,
    MisaddressedFlight,
    check_addressee,
)
from jetbridge.agent.service_layer.flights import FlightConflict, FlightService
from jetbridge.agent.service_layer.heartbeats import HeartbeatSource
from jetbridge.agent.service_layer.ports import FactsSource
from jetbridge.common.cancellation import stop_tasks
from jetbridge.common.dataplane_api import method_path, pb2, pb2_grpc
from jetbridge.common.grpc_mtls import RequirePeerIdentity, server_credentials
from jetbridge.common.grpc_tracing import TracingServerInterceptor, server_span
from jetbridge.common.redaction import redact
from jetbridge.common.telemetry import current_trace_context
from jetbridge.common.tls import CONTROL_PLANE_URI, TlsFiles
from jetbridge.flightdeck.availability import store_unavailable

log = logging.getLogger(__name__)
Handler = Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[Any]]
Work = Callable[[Any, Any], Awaitable[Any]]
START_FLIGHT, CLEAR_STEPS = method_path("StartFlight"), method_path("ClearSteps")


class Refused(Exception):
    """A call answered with a gRPC status other than OK (unary: aborted with it).

    The message may quote a driver's exception and reaches the control plane's events:
    credential-shaped parts are masked."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        message = redact(message)
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


def _unavailable(name: str, error: Exception) -> Refused:
    """Flightdeck restarting or unreachable is UNAVAILABLE (the caller retries), never
    UNKNOWN: the Dispatcher takes UNKNOWN as permanent and the Mission would fail."""
    log.warning("%s: Flightdeck unavailable: %r", name, error)
    return Refused(
        grpc.StatusCode.UNAVAILABLE,
        f"Flightdeck unavailable, retry: {type(error).__name__}: {error}",
    )


def refuse_later_when_flightdeck_is_away(method: Work) -> Work:
    """For one call's work (unary or a batch item): Flightdeck away is ``Refused``."""

    @functools.wraps(method)
    async def work(self: Any, request: Any) -> Any:
        try:
            return await method(self, request)
        except Refused:
            raise
        except Exception as error:
            if not store_unavailable(error):
                raise
            raise _unavailable(method.__name__, error) from error

    return work


def retry_later_when_flightdeck_is_away(method: Handler) -> Handler:
    """The same for a unary handler that reads Flightdeck itself (CancelFlight, GetFlight)."""

    @functools.wraps(method)
    async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except Exception as error:
            if not store_unavailable(error):
                raise
            refusal = _unavailable(method.__name__, error)
            await context.abort(refusal.code, refusal.message)

    return handler


def unknown_masked(method: Handler) -> Handler:
    """A unary handler's unexpected error ends the call UNKNOWN with a masked text.

    Left to grpc, the status would carry ``Unexpected <type>: <text>`` whole, and the
    Dispatcher records it in FlightDispatchFailed (Kafka, the Console)."""

    @functools.wraps(method)
    async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception as error:
            log.exception("%s failed", method.__name__)
            await context.abort(grpc.StatusCode.UNKNOWN, redact(f"{type(error).__name__}: {error}"))

    return handler


class DataPlaneServicer(pb2_grpc.DataPlaneServicer):
    def __init__(
        self,
        cluster_id: str,
        flights: FlightService,
        facts: FactsSource,
        heartbeat_interval: float = 1.0,
    ) -> None:
        self.cluster_id = cluster_id
        self._flights = flights
        self._facts = facts
        self._interval = heartbeat_interval
        self.links_open = 0
        self.acks_received = 0

    @unknown_masked
    async def StartFlight(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await self._start(request)
        except Refused as refusal:
            await context.abort(refusal.code, refusal.message)

    @unknown_masked
    async def ClearSteps(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await self._clear(request)
        except Refused as refusal:
            await context.abort(refusal.code, refusal.message)

    async def StartFlights(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        """Each item as its own StartFlight, side by side, in its own trace."""
        results = await asyncio.gather(
            *(self._item(START_FLIGHT, item, self._start) for item in request.items)
        )
        return pb2.StartFlightsResponse(
            results=[pb2.StartFlightResult(status=status, response=r) for status, r in results]
        )

    async def ClearStepsBatch(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        """Each item as its own ClearSteps, side by side, in its own trace."""
        results = await asyncio.gather(
            *(self._item(CLEAR_STEPS, item, self._clear) for item in request.items)
        )
        return pb2.ClearStepsBatchResponse(
            results=[pb2.ClearStepsResult(status=status, response=r) for status, r in results]
        )

    @staticmethod
    async def _item(
        method: str, item: Any, handle: Callable[[Any], Awaitable[Any]]
    ) -> tuple[Any, Any]:
        """(status, response) of one batch item, under the SERVER span its unary call
        would have had; never raises (one item's failure is its own)."""
        carrier = {"traceparent": item.trace.traceparent, "tracestate": item.trace.tracestate}
        with server_span(method, {k: v for k, v in carrier.items() if v}) as span:
            try:
                response = await handle(item.request)
            except Refused as refusal:
                code, message = refusal.code, refusal.message
            except Exception as error:  # a unary call would end UNKNOWN: so does the item
                log.exception("%s of %s failed", method, item.request.flight_id)
                code = grpc.StatusCode.UNKNOWN
                message = redact(f"{type(error).__name__}: {error}")
            else:
                return pb2.ItemStatus(code="OK"), response
            span.set_status(Status(StatusCode.ERROR, code.name))
            return pb2.ItemStatus(code=code.name, message=message), None

    @refuse_later_when_flightdeck_is_away
    async def _start(self, request: Any) -> Any:
        span = trace.get_current_span()
        span.set_attributes(
            {"jetbridge.flight.id": request.flight_id, "jetbridge.mission.id": request.mission_id}
        )
        try:
            command = start_flight_from_proto(request)
            check_addressee(command, self.cluster_id)
            # The Pilot continues this call's trace from the Flightdeck row.
            traceparent = current_trace_context().get("traceparent")
            started = await self._flights.start(replace(command, traceparent=traceparent))
        except (InvalidFlight, InvalidClearance) as error:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from error
        except FlightConflict as error:
            raise Refused(grpc.StatusCode.FAILED_PRECONDITION, str(error)) from error
        except MisaddressedFlight as error:
            log.warning("refused a misaddressed flight: %s", error)
            raise Refused(grpc.StatusCode.FAILED_PRECONDITION, str(error)) from error
        span.set_attribute("jetbridge.flight.created", started.created)
        START_FLIGHT_CALLS.labels(self.cluster_id, str(started.created).lower()).inc()
        return pb2.StartFlightResponse(
            flight_id=started.flight.flight_id,
            created=started.created,
            state=state_to_proto(started.flight.state),
            clearance_taken=started.clearance_taken,
        )

    @refuse_later_when_flightdeck_is_away
    async def _clear(self, request: Any) -> Any:
        try:
            cleared = await self._flights.clear(clear_steps_from_proto(request))
        except InvalidClearance as error:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from error
        if cleared is None:
            raise Refused(grpc.StatusCode.NOT_FOUND, f"no flight {request.flight_id}")
        return pb2.ClearStepsResponse(
            flight=flight_to_proto(cleared.flight), applied=cleared.applied
        )

    @unknown_masked
    @retry_later_when_flightdeck_is_away
    async def CancelFlight(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            flight = await self._flights.cancel(request.flight_id)
        except InvalidFlight as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            raise  # abort() raised already
        return pb2.CancelFlightResponse(flight=flight_to_proto(flight))

    @unknown_masked
    @retry_later_when_flightdeck_is_away
    async def GetFlight(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        flight = await self._flights.get(request.flight_id)
        if flight is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no flight {request.flight_id}")
        assert flight is not None  # abort() raised otherwise
        return pb2.GetFlightResponse(flight=flight_to_proto(flight))

    async def Link(
        self, requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        beats = HeartbeatSource(self.cluster_id, self._facts)
        pongs: asyncio.Queue[Any] = asyncio.Queue()
        reader = asyncio.create_task(self._read_control(requests, pongs))
        self.links_open += 1
        try:
            next_beat = time.monotonic()
            while not reader.done():
                timeout = max(0.0, next_beat - time.monotonic())
                with contextlib.suppress(TimeoutError):
                    yield await asyncio.wait_for(pongs.get(), timeout)
                    continue
                yield heartbeat_to_proto(await beats.next())
                next_beat += self._interval
                if next_beat < time.monotonic():  # we fell behind: do not burst
                    next_beat = time.monotonic() + self._interval
        finally:
            self.links_open -= 1
            await stop_tasks(reader)

    async def _read_control(self, requests: AsyncIterator[Any], pongs: asyncio.Queue[Any]) -> None:
        async for message in requests:
            kind = message.WhichOneof("body")
            if kind == "ack":
                self.acks_received += 1
            elif kind == "ping":
                now_ms = time.time_ns() // 1_000_000
                await pongs.put(
                    pb2.DataPlaneMessage(pong=pb2.Pong(nonce=message.ping.nonce, sent_at=now_ms))
                )


class AgentServer:
    """Owns the grpc.aio server; ``start`` binds and returns the port."""

    def __init__(
        self,
        servicer: DataPlaneServicer,
        tls: TlsFiles,
        listen: str = "127.0.0.1:0",
        allowed_peers: tuple[str, ...] = (CONTROL_PLANE_URI,),
        server_factory: Callable[..., grpc.aio.Server] = grpc.aio.server,
    ) -> None:
        self.servicer = servicer
        self._tls = tls
        self._listen = listen
        self._server = server_factory(
            interceptors=[TracingServerInterceptor(), RequirePeerIdentity(allowed_peers)]
        )
        pb2_grpc.add_DataPlaneServicer_to_server(servicer, self._server)  # type: ignore[no-untyped-call]
        self.port = 0

    async def start(self) -> int:
        self.port = self._server.add_secure_port(self._listen, server_credentials(self._tls))
        if self.port == 0:
            raise OSError(f"could not bind {self._listen}")
        await self._server.start()
        log.info("agent serving", extra={"cluster_id": self.servicer.cluster_id, "port": self.port})
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        await self._server.stop(grace)

    async def wait(self) -> None:
        await self._server.wait_for_termination()
