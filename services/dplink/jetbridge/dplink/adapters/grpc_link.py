"""One persistent Link stream to one data plane, reconnecting with backoff and jitter.

The channel pins the server identity the registration expects (the agent's
certificate must name that cluster), and every heartbeat must carry the registered
cluster id: a data plane cannot speak for another cluster, by certificate or by
payload. A mismatch drops the stream and counts as silence, never as a heartbeat.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from jetbridge.common.backoff import Backoff
from jetbridge.common.cancellation import raise_if_cancel_requested
from jetbridge.common.dataplane_api import pb2, pb2_grpc
from jetbridge.common.grpc_mtls import secure_channel
from jetbridge.common.tls import TlsFiles
from jetbridge.dplink.adapters.convert import canonical_facts, facts_payload, failing_checks
from jetbridge.dplink.domain.registry import Registration
from jetbridge.dplink.service_layer.monitor import HealthMonitor

log = logging.getLogger(__name__)

_CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
)


class IdentityMismatch(Exception):
    """The data plane's heartbeat names another cluster than the one registered."""


class LinkStats:
    def __init__(self) -> None:
        self.connects = 0
        self.failures = 0
        self.identity_mismatches = 0
        self.last_error = ""


class LinkClient:
    def __init__(
        self,
        registration: Registration,
        tls: TlsFiles,
        monitor: HealthMonitor,
        *,
        backoff: Backoff | None = None,
        uniform: Callable[[float, float], float] = random.uniform,
        ack: bool = True,
    ) -> None:
        self.registration = registration
        self.stats = LinkStats()
        self._tls = tls
        self._monitor = monitor
        self._backoff = backoff or Backoff(base=0.2, cap=10.0)
        self._uniform = uniform
        self._ack = ack

    async def run(self) -> None:
        """Link until cancelled: stream, and on any failure wait and reconnect."""
        attempt = 0
        while True:
            try:
                got_heartbeat = await self._stream_once()
            except Exception as error:  # not an RPC failure: TLS files unreadable, a bug
                # The link must outlive it like any other failure: a link task that ended
                # would leave its cluster unheard, and soon UNREACHABLE, for no reason.
                self.stats.failures += 1
                self.stats.last_error = _describe(error)
                log.warning(
                    "link to %s failed unexpectedly; reconnecting",
                    self.registration.cluster_id,
                    exc_info=True,
                )
                got_heartbeat = False
            # grpc.aio may have turned our cancellation into the call's own error.
            raise_if_cancel_requested()
            attempt = 0 if got_heartbeat else attempt + 1
            await asyncio.sleep(self._backoff.delay(attempt, self._uniform))

    async def _stream_once(self) -> bool:
        reg = self.registration
        heard = False
        channel = secure_channel(
            reg.endpoint, self._tls, reg.certificate_identity, _CHANNEL_OPTIONS
        )
        outgoing: asyncio.Queue[Any] = asyncio.Queue()
        try:
            self.stats.connects += 1
            call = pb2_grpc.DataPlaneStub(channel).Link(_drain(outgoing))  # type: ignore[no-untyped-call]
            async for message in call:
                if message.WhichOneof("body") != "heartbeat":
                    continue
                heartbeat = message.heartbeat
                if heartbeat.cluster_id != reg.cluster_id:
                    self.stats.identity_mismatches += 1
                    raise IdentityMismatch(
                        f"endpoint {reg.endpoint} registered as {reg.cluster_id} "
                        f"sent a heartbeat for {heartbeat.cluster_id!r}"
                    )
                heard = True
                self._monitor.heartbeat(
                    reg.cluster_id,
                    failing_checks(heartbeat),
                    canonical_facts(heartbeat),
                    functools.partial(facts_payload, heartbeat),
                )
                if self._ack:
                    outgoing.put_nowait(pb2.ControlMessage(ack=pb2.Ack(seq=heartbeat.seq)))
        except (grpc.aio.AioRpcError, IdentityMismatch) as error:
            self.stats.failures += 1
            self.stats.last_error = _describe(error)
            log.debug("link to %s failed: %s", reg.cluster_id, self.stats.last_error)
            if isinstance(error, IdentityMismatch):
                log.warning("%s", error, extra={"cluster_id": reg.cluster_id})
        finally:
            outgoing.put_nowait(None)
            await channel.close(grace=None)
        return heard


async def _drain(queue: asyncio.Queue[Any]) -> AsyncIterator[Any]:
    while (message := await queue.get()) is not None:
        yield message


def _describe(error: Exception) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        return f"{error.code().name}: {error.details()}"
    return str(error)
