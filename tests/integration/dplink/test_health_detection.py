"""Real agents over loopback mTLS, a real DP-Link replica, its events on the real broker."""

from __future__ import annotations

import re
import time
from pathlib import Path

from jetbridge.agent.adapters.facts_static import StaticFactsSource
from jetbridge.common.health import Health as Probes
from jetbridge.dplink.domain.health import Health
from jetbridge.dplink.entrypoints.app import DPLink
from jetbridge.dplink.service_layer.monitor import HealthMonitor
from jetbridge.flightdeck import Flightdeck
from tests.integration.dplink.helpers import (
    events_of,
    publish,
    registered,
    settings,
    wait_until,
)
from tests.integration.kafka_tools import create_topic
from tests.integration.planes import make_tls, running_agent, sample_facts, unique_cluster

HEARTBEAT, DEGRADED, UNREACHABLE = 0.1, 0.3, 1.0
SILENCE = re.compile(r"no heartbeat for ([0-9.]+)s")  # a crossing's reason


async def test_stop_and_restart_an_agent(
    kafka_bootstrap: str, deck: Flightdeck, tmp_path: Path
) -> None:
    cluster = unique_cluster()
    tls = make_tls(tmp_path, cluster)
    topic = await create_topic(kafka_bootstrap, "dplink-health")
    facts = StaticFactsSource(sample_facts())
    async with running_agent(
        cluster, tls, deck, heartbeat_interval=HEARTBEAT, facts=facts
    ) as agent:
        await publish(kafka_bootstrap, topic, registered(cluster, agent.endpoint))
        probes = Probes()
        probes.beat()  # the event loop's heartbeat, which runtime.run starts in a service
        app = DPLink(settings(kafka_bootstrap, topic, tls.root), health=probes)
        await app.start()
        try:
            # Not ready until the registrations of its partitions are read.
            assert probes.readiness()[1]["waiting"] == {
                "ownership": "reading the registrations of the clusters it owns"
            }
            monitor = app.monitor

            def health() -> Health | None:
                return monitor.health(cluster) if cluster in monitor.watched() else None

            await wait_until(lambda: health() is Health.HEALTHY, 30, "HEALTHY")
            probes.beat()
            assert probes.readiness()[0]  # owns the cluster, and its link runs
            facts.update(failover_enabled=False)  # one facts change -> one more event
            await wait_until(lambda: app.sink.published >= 3, 10, "facts change published")

            stopped_at = time.time()
            await agent.stop()
            # Waited for at its end: DEGRADED lasts 0.7 s, which a stalled machine could
            # poll past; both crossings are read from their events below.
            unreachable_at = await wait_until(
                lambda: health() is Health.UNREACHABLE, 10, "UNREACHABLE"
            )

            restarted_at = time.time()
            await agent.start()  # same port
            healthy_at = await wait_until(lambda: health() is Health.HEALTHY, 5, "HEALTHY again")
            await app.sink.flush()
        finally:
            await app.stop()

    # Three heartbeats after the reconnect (the first at once): two intervals at least.
    assert 2 * HEARTBEAT <= healthy_at - restarted_at <= 3.0

    health_events = await events_of(kafka_bootstrap, topic, "ClusterHealthChanged", cluster, 4)
    steps = [(e.payload["previous"], e.payload["current"]) for e in health_events]
    assert steps == [
        ("UNKNOWN", "HEALTHY"),
        ("HEALTHY", "DEGRADED"),
        ("DEGRADED", "UNREACHABLE"),
        ("UNREACHABLE", "HEALTHY"),
    ]
    # Each crossing comes after its threshold's silence, never before, and soon after
    # it: the ticker's lateness (one heartbeat's worth on an idle machine; the domain's
    # unit tests pin the thresholds on a simulated clock, and bench/dplink measures the
    # detection times). The bounds leave room for a loaded CI machine.
    silences = {e.payload["current"]: _silence(e.payload["reason"]) for e in health_events[1:3]}
    assert DEGRADED <= silences["DEGRADED"] <= DEGRADED + 1.0, silences
    assert UNREACHABLE <= silences["UNREACHABLE"] <= UNREACHABLE + 1.0, silences
    # Each event says when its crossing happened: after the stop, before it was seen.
    occurred = {e.payload["current"]: e.envelope.occurred_at.timestamp() for e in health_events}
    assert stopped_at <= occurred["DEGRADED"] <= occurred["UNREACHABLE"] <= unreachable_at

    facts_events = await events_of(kafka_bootstrap, topic, "ClusterFactsChanged", cluster, 2)
    assert [e.payload["failover_enabled"] for e in facts_events] == [True, False]
    assert facts_events[0].payload["facts_digest"] != facts_events[1].payload["facts_digest"]
    assert facts_events[0].payload["external_secret_manager_name"] == "aws-secrets-manager"
    assert facts_events[0].payload["database_side"] == "A"  # agent -> DP-Link -> the log


def _silence(reason: str) -> float:
    """The seconds without a heartbeat a crossing's reason names."""
    match = SILENCE.fullmatch(reason)
    assert match, reason
    return float(match[1])


async def test_a_former_owners_late_transition_is_put_right(
    kafka_bootstrap: str, deck: Flightdeck, tmp_path: Path
) -> None:
    """A stale HEALTHY -> UNREACHABLE lands on the partition after this replica owns it
    (as a revoked owner's queued event would): the owner publishes UNREACHABLE ->
    HEALTHY on the next good heartbeats, so the log's last word is the truth again."""
    cluster = unique_cluster()
    tls = make_tls(tmp_path, cluster)
    topic = await create_topic(kafka_bootstrap, "dplink-late")
    async with running_agent(cluster, tls, deck, heartbeat_interval=HEARTBEAT) as agent:
        await publish(kafka_bootstrap, topic, registered(cluster, agent.endpoint))
        app = DPLink(settings(kafka_bootstrap, topic, tls.root))
        await app.start()
        try:
            monitor = app.monitor
            await wait_until(
                lambda: cluster in monitor.watched() and monitor.health(cluster) is Health.HEALTHY,
                30,
                "HEALTHY",
            )
            stale = HealthMonitor._event(
                "ClusterHealthChanged",
                cluster,
                {"cluster_id": cluster, "previous": "HEALTHY", "current": "UNREACHABLE"},
            )
            await publish(kafka_bootstrap, topic, stale)
            await wait_until(lambda: monitor.adopted == 1, 10, "the late event adopted")
            await wait_until(lambda: monitor.health(cluster) is Health.HEALTHY, 5, "HEALTHY")
            await app.sink.flush()
        finally:
            await app.stop()
    health_events = await events_of(kafka_bootstrap, topic, "ClusterHealthChanged", cluster, 3)
    steps = [(e.payload["previous"], e.payload["current"]) for e in health_events]
    assert steps == [
        ("UNKNOWN", "HEALTHY"),
        ("HEALTHY", "UNREACHABLE"),  # the former owner's, late
        ("UNREACHABLE", "HEALTHY"),  # this owner's correction
    ]
