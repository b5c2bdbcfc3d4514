"""Registrations (whom to link to) folded from ClusterRegistered / ClusterDeregistered."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CLUSTER_URI_PREFIX = "spiffe://jetbridge/cluster/"


@dataclass(frozen=True, slots=True)
class Registration:
    cluster_id: str
    endpoint: str
    certificate_identity: str

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Registration:
        cluster_id = str(payload["cluster_id"])
        identity = str(payload.get("certificate_identity") or "")
        return cls(
            cluster_id=cluster_id,
            endpoint=str(payload.get("endpoint") or ""),
            certificate_identity=identity or CLUSTER_URI_PREFIX + cluster_id,
        )

    @property
    def linkable(self) -> bool:
        """A registration without an endpoint (e.g. written before v1 had one) is skipped."""
        return bool(self.endpoint)


Partition = tuple[str, int]


class ClusterLog:
    """What the cluster event log says, per partition: registrations, last health, digest.

    Fed by replaying the partitions this replica owns; a cluster belongs to the
    partition its events are keyed to, so owning the partition means owning the cluster.
    """

    def __init__(self) -> None:
        self.registrations: dict[str, Registration] = {}
        self.partition_of: dict[str, Partition] = {}
        self.last_health: dict[str, str] = {}
        self.last_digest: dict[str, str] = {}

    def apply(self, event_type: str, payload: Mapping[str, Any], partition: Partition) -> None:
        cluster_id = payload.get("cluster_id")
        if not isinstance(cluster_id, str):
            return
        if event_type == "ClusterRegistered":
            self.registrations[cluster_id] = Registration.from_payload(payload)
            self.partition_of[cluster_id] = partition
        elif event_type == "ClusterDeregistered":
            self.registrations.pop(cluster_id, None)
        elif event_type == "ClusterHealthChanged":
            self.last_health[cluster_id] = str(payload["current"])
        elif event_type == "ClusterFactsChanged" and payload.get("facts_digest"):
            self.last_digest[cluster_id] = str(payload["facts_digest"])

    def in_partitions(self, partitions: set[Partition]) -> dict[str, Registration]:
        return {
            cluster_id: registration
            for cluster_id, registration in self.registrations.items()
            if self.partition_of.get(cluster_id) in partitions
        }

    def forget(self, partitions: set[Partition]) -> None:
        """Drop what we knew about partitions we no longer own (a later owner replays)."""
        for cluster_id in [c for c, p in self.partition_of.items() if p in partitions]:
            self.registrations.pop(cluster_id, None)
            self.partition_of.pop(cluster_id, None)
            self.last_health.pop(cluster_id, None)
            self.last_digest.pop(cluster_id, None)
