"""W3C trace context over gRPC metadata: a client and a server interceptor.

The client opens a CLIENT span per unary call and sends its ``traceparent`` in the
metadata; the server continues it with a SERVER span around the handler, so the
handler's own spans and whatever it stores (Flightdeck's ``traceparent``) belong to
the caller's trace. Streams (the Link) are not traced: one span per hours-long
stream says nothing.

A batch call carries many callers' items, each of its own trace: :func:`client_span`
and :func:`server_span` give each item the spans its own unary call would have had
(same names and kinds), its context carried in the item (``TraceContext``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import grpc
from opentelemetry import propagate
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from jetbridge.common.telemetry import tracer

_TRACE_KEYS = ("traceparent", "tracestate")


def _attributes(method: str) -> dict[str, str]:
    service, _, name = method.lstrip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


@contextmanager
def client_span(method: str) -> Iterator[tuple[Span, dict[str, str]]]:
    """The CLIENT span of one call of ``method`` ("/package.Service/Method") and the
    carrier of its context, to send with the call."""
    with tracer().start_as_current_span(
        method.lstrip("/"), kind=SpanKind.CLIENT, attributes=_attributes(method)
    ) as span:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield span, carrier


def end_client_span(span: Span, code: grpc.StatusCode | str) -> None:
    """Record the call's status on its CLIENT span (an error unless OK)."""
    name = code if isinstance(code, str) else code.name
    number = getattr(grpc.StatusCode, name, grpc.StatusCode.UNKNOWN).value[0]
    span.set_attribute("rpc.grpc.status_code", number)
    if name != "OK":
        span.set_status(Status(StatusCode.ERROR, name))


@contextmanager
def server_span(method: str, carrier: Mapping[str, str]) -> Iterator[Span]:
    """The SERVER span of one call of ``method``, continuing the caller's context."""
    with tracer().start_as_current_span(
        method.lstrip("/"),
        context=propagate.extract(dict(carrier)),
        kind=SpanKind.SERVER,
        attributes=_attributes(method),
    ) as span:
        yield span


def _method(details: Any) -> str:
    method = details.method
    return method.decode() if isinstance(method, bytes) else str(method)


class TracingClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(
        self,
        continuation: Callable[[Any, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        method = _method(client_call_details)
        with client_span(method) as (span, carrier):
            metadata = list(client_call_details.metadata or ()) + list(carrier.items())
            details = grpc.aio.ClientCallDetails(
                client_call_details.method,
                client_call_details.timeout,
                grpc.aio.Metadata(*metadata),
                client_call_details.credentials,
                client_call_details.wait_for_ready,
            )
            call = await continuation(details, request)
            end_client_span(span, await call.code())
            return call


class TracingServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = _method(handler_call_details)
        carrier = {
            key: value if isinstance(value, str) else value.decode()
            for key, value in handler_call_details.invocation_metadata or ()
            if key in _TRACE_KEYS
        }
        inner = handler.unary_unary

        async def traced(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with server_span(method, carrier):
                return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            traced,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
