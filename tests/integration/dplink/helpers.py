"""DP-Link test helpers: register clusters on a private topic, run a replica, read events."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from jetbridge.common.events import EventCodec, EventRecord, new_event
from jetbridge.common.kafka import EventPublisher
from jetbridge.common.tls import cluster_identity
from jetbridge.dplink.entrypoints.app import DPLink
from jetbridge.dplink.entrypoints.settings import DPLinkSettings
from tests.integration.kafka_tools import read_all

CODEC = EventCodec()


def registered(cluster_id: str, endpoint: str, identity: str | None = None) -> EventRecord:
    return new_event(
        "ClusterRegistered",
        {
            "cluster_id": cluster_id,
            "name": cluster_id,
            "registered_at": int(time.time() * 1000),
            "failover_enabled": True,
            "endpoint": endpoint,
            "certificate_identity": identity or cluster_identity(cluster_id),
        },
        aggregate_type="Cluster",
        aggregate_id=cluster_id,
        producer="test",
        schema_version=1,
    )


async def publish(bootstrap: str, topic: str, *events: EventRecord) -> None:
    async with EventPublisher(bootstrap, client_id="test") as publisher:
        await publisher.publish_many_to(topic, events)


def settings(bootstrap: str, topic: str, tls_dir: Path, **overrides: object) -> DPLinkSettings:
    values: dict[str, object] = {
        "kafka_bootstrap_servers": bootstrap,
        "group_id": f"test-dplink-{uuid.uuid4().hex[:8]}",
        "registration_topic": topic,
        "events_topic": topic,
        "tls_dir": tls_dir,
        "heartbeat_interval_s": 0.1,
        "degraded_after_s": 0.3,
        "unreachable_after_s": 1.0,
        "reconnect_base_s": 0.05,
        "reconnect_cap_s": 0.2,
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 500,
    }
    values.update(overrides)
    return DPLinkSettings(**values)  # type: ignore[arg-type]


async def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll until true; returns the wall time (time.time()) it became true."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.005)
    return time.time()


async def events_of(
    bootstrap: str, topic: str, event_type: str, cluster_id: str, expected: int
) -> list[EventRecord]:
    """The events of one type and cluster on ``topic``, waiting for ``expected`` of them."""
    deadline = time.monotonic() + 20
    while True:
        records = await read_all(bootstrap, topic, expected=1, timeout_s=5)
        events = [CODEC.decode(r.value) for r in records]
        found = [
            e
            for e in events
            if e.event_type == event_type and e.payload.get("cluster_id") == cluster_id
        ]
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def started(app: DPLink) -> DPLink:
    await app.start()
    return app
