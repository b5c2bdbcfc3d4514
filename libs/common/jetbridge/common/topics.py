"""The topic list from ``schemas/topics.toml``: names for services, settings for the stack."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache

from jetbridge.common.events.registry import default_schemas_dir

COMMANDS = "jetbridge.commands"
FAILOVER_EVENTS = "jetbridge.failover.events"
FLIGHT_EVENTS = "jetbridge.flight.events"
CLUSTER_EVENTS = "jetbridge.cluster.events"
CLUSTER_SNAPSHOTS = "jetbridge.cluster.snapshots"
DEAD_LETTER = "jetbridge.deadletter"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    purpose: str
    partitions: int
    cleanup_policy: str
    retention_ms: int
    event_log: bool

    def config(self) -> dict[str, str]:
        """Topic-level configs as the broker wants them."""
        return {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}


@lru_cache(maxsize=1)
def topic_specs() -> tuple[TopicSpec, ...]:
    with (default_schemas_dir() / "topics.toml").open("rb") as file:
        raw = tomllib.load(file)["topics"]
    return tuple(
        TopicSpec(
            name=name,
            purpose=spec["purpose"],
            partitions=int(spec["partitions"]),
            cleanup_policy=spec["cleanup_policy"],
            retention_ms=int(spec["retention_ms"]),
            event_log=bool(spec["event_log"]),
        )
        for name, spec in raw.items()
    )


# Each data plane's reports go to a topic of its own, which only that cluster's
# principal may write (jetbridge.common.kafka.acls): the topic names the sender, so
# the Navigator can refuse a cluster's report about another cluster's flight. The
# shared FLIGHT_EVENTS topic stays the control plane's (the Dispatcher's reports).
REPORTS_OF_CLUSTER = FLIGHT_EVENTS + "."


def reports_topic(cluster_id: str) -> str:
    """Where ``cluster_id``'s Pilots publish (before any run prefix)."""
    return REPORTS_OF_CLUSTER + cluster_id


def reporting_cluster(topic: str, prefix: str = "") -> str | None:
    """The cluster whose reports topic ``topic`` is, None for any other topic."""
    start = prefix + REPORTS_OF_CLUSTER
    return topic[len(start) :] or None if topic.startswith(start) else None


def reports_topic_spec(cluster_id: str) -> TopicSpec:
    """A cluster's reports topic, configured as FLIGHT_EVENTS is in topics.toml."""
    shared = next(s for s in topic_specs() if s.name == FLIGHT_EVENTS)
    return TopicSpec(
        name=reports_topic(cluster_id),
        purpose=f"Reports of data plane {cluster_id}: claims, steps, fencing, drain",
        partitions=shared.partitions,
        cleanup_policy=shared.cleanup_policy,
        retention_ms=shared.retention_ms,
        event_log=shared.event_log,
    )
