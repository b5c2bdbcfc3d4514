"""HealthMonitor with a fake clock and an in-memory sink: events only on change."""

from __future__ import annotations

from jetbridge.common.events import EventCodec, EventRecord
from jetbridge.dplink.domain.facts import facts_digest
from jetbridge.dplink.domain.health import Health, Thresholds
from jetbridge.dplink.domain.registry import ClusterLog, Registration
from jetbridge.dplink.service_layer.monitor import SCHEMA_VERSIONS, HealthMonitor

CODEC = EventCodec()

WRITER = SCHEMA_VERSIONS["ClusterFactsChanged"]  # the version DP-Link writes


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Sink:
    def __init__(self) -> None:
        self.events: list[EventRecord] = []

    def emit(self, event: EventRecord) -> None:
        CODEC.encode(event)  # every emitted event fits its schema
        self.events.append(event)


def _facts(version: str) -> dict[str, object]:
    return {
        "observed_at": 1,
        "jetbridge_version": version,
        "plane_mode": "DATA",
        "external_secrets_enabled": True,
        "external_secret_manager_name": "aws",
        "cluster_secret_store_valid": True,
        "cluster_secret_store_authenticated": True,
        "log_sink_configured": True,
        "database_endpoint_status": "PRIMARY",
        "deployment_ids": ["d1"],
        "deployments": [
            {"deployment_id": "d1", "deploy_mechanism": "IMAGE", "created_at": 5, "image": "i"}
        ],
    }


def test_health_events_on_transitions_and_facts_events_on_change_only() -> None:
    clock, sink = Clock(), Sink()
    monitor = HealthMonitor(sink, Thresholds(), clock)
    monitor.watch("c1")
    for i, version in enumerate(["1", "1", "1", "2", "2"]):
        clock.now = float(i)
        monitor.heartbeat("c1", [], version.encode(), lambda v=version: _facts(v))
        monitor.tick()
    clock.now = 7.5
    monitor.tick()
    monitor.tick()
    types = [
        (e.event_type, e.payload.get("current") or e.payload.get("jetbridge_version"))
        for e in sink.events
    ]
    assert types == [
        ("ClusterFactsChanged", "1"),
        ("ClusterHealthChanged", "HEALTHY"),
        ("ClusterFactsChanged", "2"),
        ("ClusterHealthChanged", "DEGRADED"),
    ]
    assert sink.events[0].payload["facts_digest"] == facts_digest(b"1", WRITER)
    assert monitor.health("c1") is Health.DEGRADED


def test_a_new_owner_resumes_from_the_logged_health_and_digest() -> None:
    clock, sink = Clock(), Sink()
    monitor = HealthMonitor(sink, Thresholds(), clock)
    monitor.watch("c1", Health.HEALTHY, facts_digest(b"same", WRITER))
    for i in range(3):
        clock.now = float(i)
        monitor.heartbeat("c1", [], b"same", lambda: _facts("x"))
    assert sink.events == []  # no spurious UNKNOWN -> HEALTHY, no repeated facts


def test_facts_logged_by_an_older_writer_version_are_published_once_more() -> None:
    """An upgraded agent's new field sat in the old DP-Link's digest unseen: the new
    writer's digest differs, so the facts go out once in its version, then not again."""
    clock, sink = Clock(), Sink()
    monitor = HealthMonitor(sink, Thresholds(), clock)
    monitor.watch("c1", Health.HEALTHY, facts_digest(b"same", WRITER - 1))  # an older writer
    for i in range(3):
        clock.now = float(i)
        monitor.heartbeat("c1", [], b"same", lambda: _facts("x"))
    (facts,) = sink.events
    assert (facts.event_type, facts.envelope.schema_version) == ("ClusterFactsChanged", WRITER)
    assert facts.payload["facts_digest"] == facts_digest(b"same", WRITER)
    assert facts_digest(b"same", WRITER) != facts_digest(b"same", WRITER - 1)


def test_cluster_log_folds_registrations_per_partition() -> None:
    log = ClusterLog()
    log.apply("ClusterRegistered", {"cluster_id": "a", "endpoint": "h:1"}, ("t", 0))
    log.apply("ClusterRegistered", {"cluster_id": "b", "endpoint": "h:2"}, ("t", 1))
    log.apply("ClusterHealthChanged", {"cluster_id": "a", "current": "DEGRADED"}, ("t", 0))
    log.apply("ClusterDeregistered", {"cluster_id": "b"}, ("t", 1))
    assert log.in_partitions({("t", 0), ("t", 1)}) == {
        "a": Registration("a", "h:1", "spiffe://jetbridge/cluster/a")
    }
    assert log.last_health == {"a": "DEGRADED"}
    log.forget({("t", 0)})
    assert log.registrations == {} and log.last_health == {}


def _foreign(event_type: str, payload: dict[str, object]) -> EventRecord:
    """An event as another DP-Link replica writes it."""
    return HealthMonitor._event(event_type, "c1", {"cluster_id": "c1", **payload})


def test_a_former_owners_late_transition_is_taken_as_the_last_state_and_corrected() -> None:
    """The old owner's HEALTHY -> UNREACHABLE was still in its sink when its partitions
    moved, and lands after this owner replayed: readers now believe UNREACHABLE while
    heartbeats flow. Taken as the last state, three good heartbeats publish it right."""
    clock, sink = Clock(), Sink()
    monitor = HealthMonitor(sink, Thresholds(), clock)
    monitor.watch("c1", Health.HEALTHY, facts_digest(b"now", WRITER))
    late = _foreign("ClusterHealthChanged", {"previous": "HEALTHY", "current": "UNREACHABLE"})
    monitor.adopt(late)
    assert monitor.health("c1") is Health.UNREACHABLE and monitor.adopted == 1
    for i in range(3):
        clock.now = float(i)
        monitor.heartbeat("c1", [], b"now", lambda: _facts("x"))
    ((kind, previous, current),) = [
        (e.event_type, e.payload["previous"], e.payload["current"]) for e in sink.events
    ]
    assert (kind, previous, current) == ("ClusterHealthChanged", "UNREACHABLE", "HEALTHY")
    # Its own events, read back from the log, are never taken for a former owner's.
    monitor.adopt(sink.events[0])
    assert monitor.adopted == 1 and monitor.health("c1") is Health.HEALTHY


def test_a_former_owners_late_facts_are_replaced_by_the_current_ones() -> None:
    clock, sink = Clock(), Sink()
    monitor = HealthMonitor(sink, Thresholds(), clock)
    monitor.watch("c1", Health.HEALTHY, facts_digest(b"now", WRITER))
    monitor.adopt(_foreign("ClusterFactsChanged", {**_facts("old"), "facts_digest": "stale"}))
    monitor.heartbeat("c1", [], b"now", lambda: _facts("now"))
    (facts,) = sink.events
    assert facts.event_type == "ClusterFactsChanged"
    assert facts.payload["facts_digest"] == facts_digest(b"now", WRITER)
    # A late event about a cluster this replica does not watch changes nothing.
    other = _foreign("ClusterHealthChanged", {"previous": "HEALTHY", "current": "DEGRADED"})
    monitor.unwatch("c1")
    monitor.adopt(other)
    assert monitor.adopted == 1
