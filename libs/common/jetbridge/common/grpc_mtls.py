"""gRPC over mTLS between the planes: credentials, the expected-peer check, the identity gate.

Two checks beyond "the CA signed it":

- servers (the agent) admit only callers whose certificate carries an allowed identity
  (:class:`RequirePeerIdentity`, a server interceptor reading the TLS auth context);
- clients (DP-Link, the Dispatcher) pin the server's identity with the target-name
  override (:func:`secure_channel`), so a data plane holding another cluster's
  certificate fails the handshake instead of answering for the cluster we meant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from typing import Any

import grpc

from jetbridge.common.tls import TlsFiles, dns_name

_TARGET_NAME_OVERRIDE = "grpc.ssl_target_name_override"
_IDENTITY_KEYS = ("peer_spiffe_id", "peer_uri", "x509_subject_alternative_name")


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """A server that demands a client certificate signed by our CA."""
    ca, cert, key = files.read()
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=True
    )


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    ca, cert, key = files.read()
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


def secure_channel(
    target: str,
    files: TlsFiles,
    expected_server_identity: str,
    options: Sequence[tuple[str, Any]] = (),
    interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
) -> grpc.aio.Channel:
    """A channel that only talks to a server presenting ``expected_server_identity``."""
    return grpc.aio.secure_channel(
        target,
        channel_credentials(files),
        options=[(_TARGET_NAME_OVERRIDE, dns_name(expected_server_identity)), *options],
        interceptors=interceptors,
    )


def peer_identities(context: grpc.aio.ServicerContext) -> set[str]:
    """Identity URIs of the authenticated peer (empty for plaintext or no client cert)."""
    auth = context.auth_context() or {}
    found: set[str] = set()
    for key in _IDENTITY_KEYS:
        for value in auth.get(key, ()):
            text = value.decode() if isinstance(value, bytes) else str(value)
            if text.startswith("spiffe://"):
                found.add(text)
    return found


class RequirePeerIdentity(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuses (PERMISSION_DENIED) every call whose peer is not one of ``allowed``.

    ``intercept_service`` does not see the TLS context, so it wraps the method
    handler and checks inside, before the servicer runs.
    """

    def __init__(self, allowed: Collection[str]) -> None:
        self._allowed = frozenset(allowed)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        return _wrap(handler, self._check)

    async def _check(self, context: grpc.aio.ServicerContext) -> None:
        identities = peer_identities(context)
        if not identities & self._allowed:
            shown = ", ".join(sorted(identities)) or "no client certificate identity"
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, f"peer not allowed here ({shown})"
            )


Check = Callable[[grpc.aio.ServicerContext], Awaitable[None]]


def _wrap(handler: grpc.RpcMethodHandler, check: Check) -> grpc.RpcMethodHandler:
    common = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        inner_uu = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await check(context)
            return await inner_uu(request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, **common)
    if handler.stream_stream:
        inner_ss = handler.stream_stream

        async def stream_stream(
            requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            await check(context)
            async for response in inner_ss(requests, context):
                yield response

        return grpc.stream_stream_rpc_method_handler(stream_stream, **common)
    if handler.unary_stream:
        inner_us = handler.unary_stream

        async def unary_stream(
            request: Any, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            await check(context)
            async for response in inner_us(request, context):
                yield response

        return grpc.unary_stream_rpc_method_handler(unary_stream, **common)
    inner_su = handler.stream_unary

    async def stream_unary(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
        await check(context)
        return await inner_su(requests, context)

    return grpc.stream_unary_rpc_method_handler(stream_unary, **common)
