"""Wait, at start, for the broker and the database a service cannot start without.

A control-plane service whose Kafka or PostgreSQL was away when it started used to
exit at its first connection. Its supervisor started it again, but under Kubernetes
the crash-loop back-off doubles up to five minutes, so after an outage of a few
minutes a service could stay down for minutes more: the Pilot's case in chaos seed
704, fixed for the Pilot alone on 2026-12-07. Waiting in the process keeps the
back-off ours (capped at 10 s) and the probes honest: the service is live (its event
loop runs) but not ready (its readiness checks are not met yet).

Only "away" errors are waited out (refused, reset, timed out, the server starting up);
anything else, a wrong password for instance, ends the service at once, as before.
aiokafka reports any failed bootstrap as one connection error, a refused TLS handshake
included: Kafka's are all waited out, each try logged, and readiness says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from aiokafka.errors import KafkaConnectionError

from jetbridge.common.backoff import Backoff
from jetbridge.common.kafka.producer import EventPublisher
from jetbridge.common.sql.availability import postgres_unavailable

log = logging.getLogger(__name__)
BACKOFF = Backoff(base=0.5, cap=10.0)


async def until_reachable(
    attempt: Callable[[], Awaitable[None]],
    what: str,
    away: Callable[[BaseException], bool],
    *,
    backoff: Backoff = BACKOFF,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Run ``attempt`` until it succeeds, sleeping between tries while ``away`` says the
    error is a service being away; returns how many tries failed."""
    failures = 0
    while True:
        try:
            await attempt()
        except Exception as error:
            if not away(error):
                raise
            delay = backoff.delay(min(failures, 10))
            log.warning(
                "%s is away (%s: %s); again in %.1fs", what, type(error).__name__, error, delay
            )
            failures += 1
            await sleep(delay)
        else:
            if failures:
                log.info("%s answered after %d failed attempts", what, failures)
            return failures


def kafka_away(error: BaseException) -> bool:
    return isinstance(error, KafkaConnectionError | OSError)


async def wait_for_kafka(bootstrap_servers: str, *, backoff: Backoff = BACKOFF) -> int:
    """Until a client (with this process's TLS settings) reaches the broker."""

    async def connect() -> None:
        publisher = EventPublisher(bootstrap_servers, client_id="jetbridge-reachable")
        try:
            await publisher.start()
        finally:
            with contextlib.suppress(Exception):
                await publisher.stop()

    return await until_reachable(connect, "Kafka", kafka_away, backoff=backoff)


async def wait_for_postgres(dsn: str, *, backoff: Backoff = BACKOFF) -> int:
    """Until a session of ``dsn`` opens."""

    async def connect() -> None:
        conn = await asyncpg.connect(dsn, timeout=10)
        await conn.close()

    return await until_reachable(connect, "PostgreSQL", postgres_unavailable, backoff=backoff)
