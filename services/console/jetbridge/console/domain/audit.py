"""The audit trail: one entry per ledger event, and the filters operators use on it.

Entries are numbered in the order this Console read them (``seq``); the live stream
and ``events --follow`` resume from a ``seq``. Each entry names the request, the
Deployment and the clusters it concerns, so one filter serves every view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CLUSTER_FIELDS = (
    "cluster_id",
    "source_cluster_id",
    "destination_cluster_id",
    "writer_cluster_id",
    "from_cluster_id",
    "to_cluster_id",
)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    event_id: str
    event_type: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: int  # epoch ms
    actor: str | None
    producer: str
    causation_id: str | None
    request_id: str | None
    deployment_id: str | None
    cluster_ids: tuple[str, ...]
    partition: int
    offset: int
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventFilter:
    request_id: str | None = None
    deployment_id: str | None = None
    cluster_id: str | None = None
    event_types: frozenset[str] = frozenset()
    since_ms: int | None = None
    until_ms: int | None = None
    after_seq: int = 0
    before_seq: int | None = None

    def matches(self, e: AuditEntry) -> bool:
        return (
            e.seq > self.after_seq
            and (self.before_seq is None or e.seq < self.before_seq)
            and (self.request_id is None or e.request_id == self.request_id)
            and (self.deployment_id is None or e.deployment_id == self.deployment_id)
            and (self.cluster_id is None or self.cluster_id in e.cluster_ids)
            and (not self.event_types or e.event_type in self.event_types)
            and (self.since_ms is None or e.occurred_at >= self.since_ms)
            and (self.until_ms is None or e.occurred_at < self.until_ms)
        )


def clusters_named(payload: Mapping[str, Any]) -> list[str]:
    """Cluster ids a payload names directly, in field order, without repeats."""
    found: list[str] = []
    for name in CLUSTER_FIELDS:
        value = payload.get(name)
        if isinstance(value, str) and value and value not in found:
            found.append(value)
    return found
