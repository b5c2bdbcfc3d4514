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
