"""Prometheus metrics: the per-process ``/metrics`` endpoint and Kafka consumer lag.

The same port answers the probes' ``/livez`` and ``/readyz`` (``jetbridge.common.health``).

Each service defines its own ``jetbridge_*`` metrics next to its composition root;
what every consumer shares (lag) is here. The endpoint is off unless
``JETBRIDGE_METRICS_PORT`` is a port number (0 or unset: off), so tests and tools
that import a service never open a port by accident.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from typing import Protocol

from aiokafka import TopicPartition
from prometheus_client import Gauge, Histogram

from jetbridge.common import health

log = logging.getLogger(__name__)
METRICS_PORT_ENV = "JETBRIDGE_METRICS_PORT"
METRICS_HOST_ENV = "JETBRIDGE_METRICS_HOST"

CONSUMER_LAG = Gauge(
    "jetbridge_kafka_consumer_lag",
    "Records on a partition not yet consumed: the broker's high watermark minus the "
    "consumer's position (sampled)",
    ["consumer", "topic", "partition"],
)


def batch_observer(histogram: Histogram, cluster: str) -> Callable[[str, int], None]:
    """``observe(operation, items)`` into ``histogram`` (labels ``cluster``,
    ``operation``): how a service's ``common.coalesce`` batches report their sizes."""

    def observe(operation: str, items: int) -> None:
        histogram.labels(cluster, operation).observe(items)

    return observe


def metrics_port(env: Mapping[str, str] | None = None) -> int:
    """The configured port, 0 when metrics are off (unset, empty or 0)."""
    raw = (os.environ if env is None else env).get(METRICS_PORT_ENV, "").strip()
    return int(raw) if raw else 0


def start_metrics_server(env: Mapping[str, str] | None = None) -> int:
    """Serve ``/metrics``, ``/livez`` and ``/readyz`` on the configured port in a daemon
    thread; returns the port."""
    env = os.environ if env is None else env
    port = metrics_port(env)
    if port:
        health.serve(port, env.get(METRICS_HOST_ENV, "127.0.0.1"))
        log.info("metrics on :%d/metrics, probes on /livez and /readyz", port)
    return port


def lag(highwater: int | None, position: int | None) -> int | None:
    """Records behind; None until the consumer has fetched (no high watermark yet)."""
    if highwater is None or position is None:
        return None
    return max(0, highwater - position)


class LagSource(Protocol):
    """What ``AIOKafkaConsumer`` offers for lag (a protocol: tests pass a fake)."""

    def assignment(self) -> set[TopicPartition]: ...

    def highwater(self, partition: TopicPartition) -> int | None: ...

    async def position(self, partition: TopicPartition) -> int: ...


async def sample_lag(
    consumer: LagSource, name: str, interval_s: float = 1.0, position_timeout_s: float = 1.0
) -> None:
    """Set ``jetbridge_kafka_consumer_lag`` for every assigned partition, forever.

    Partitions no longer assigned (a rebalance) lose their series, so a dashboard
    never shows the lag of a partition another replica now owns.
    """
    shown: set[TopicPartition] = set()
    while True:
        assigned = set(consumer.assignment())
        for tp in shown - assigned:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(name, tp.topic, str(tp.partition))
        shown &= assigned
        for tp in assigned:
            position = await _position(consumer, tp, position_timeout_s)
            if position is None:  # not fetched yet, revoked meanwhile, or slow: next round
                continue
            behind = lag(consumer.highwater(tp), position)
            if behind is not None:
                CONSUMER_LAG.labels(name, tp.topic, str(tp.partition)).set(behind)
                shown.add(tp)
        await asyncio.sleep(interval_s)


async def _position(consumer: LagSource, tp: TopicPartition, timeout_s: float) -> int | None:
    """``consumer.position(tp)``, or None if it fails or takes over ``timeout_s``.

    Never waits for the call to stop: aiokafka's ``position`` retries inside (a leader
    moving: NotLeaderForPartition) and can swallow the cancel ``asyncio.wait_for`` sends
    it, and ``wait_for`` then waits for it to end. That kept a Navigator from stopping
    in a CI run (its test's teardown timed out, and the leftover hung the session's end
    for 300 s). A call left behind is cancelled and ends on its own.
    """
    call = asyncio.ensure_future(consumer.position(tp))
    try:
        done, _ = await asyncio.wait({call}, timeout=timeout_s)
    finally:
        if not call.done():
            call.cancel()
    if not done or call.cancelled() or call.exception() is not None:
        return None
    return call.result()
